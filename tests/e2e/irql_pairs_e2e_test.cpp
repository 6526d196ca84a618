// The IRQL bug pairs (samples/bugs/irql): each buggy driver produces exactly
// the findings whose condition holds, located in the exported routine that
// holds the mistake, with the IRQL values involved; its fixed twin produces
// no finding at all.
#include <gtest/gtest.h>

#include <algorithm>
#include <ostream>
#include <set>
#include <string>

#include "e2e/bug_pair.h"

namespace {

using kemu::harness::RunResult;
using kemu::e2e::check_ids;
using kemu::e2e::finding_value;
using kemu::e2e::findings_of;
using kemu::e2e::run_bug_pair;
using kemu::verifier::Finding;

struct Pair {
  std::string name;
  std::set<std::string> checks;  // what the buggy driver must produce
  std::string routine;           // where the mistake is (the exported routine)
  size_t findings = 0;           // how many findings, crash.bugcheck included
  std::string major = "IRP_MJ_DEVICE_CONTROL";  // the request being served (none for a work item)
};

KEMU_PRINT_PAIR_BY(Pair, name)

class IrqlPairs : public ::testing::TestWithParam<Pair> {};

TEST_P(IrqlPairs, TheBuggyDriverIsReportedWhereTheMistakeIs) {
  const Pair& p = GetParam();
  RunResult r = run_bug_pair("irql", p.name, "bug");
  EXPECT_EQ(check_ids(r), p.checks);
  EXPECT_EQ(r.findings.size(), p.findings);
  for (const auto& f : r.findings) {
    if (f.check == "crash.bugcheck") continue;
    EXPECT_EQ(f.count, 1u) << f.check;
    EXPECT_EQ(f.location.module, p.name + "_bug.sys") << f.check;
    EXPECT_EQ(f.location.symbol, p.routine) << f.check;
    EXPECT_EQ(f.context.major, p.major) << f.check;
    EXPECT_FALSE(f.message.empty()) << f.check;
    EXPECT_FALSE(f.title.empty()) << f.check;
  }
}

TEST_P(IrqlPairs, TheFixedTwinHasNoFinding) {
  const Pair& p = GetParam();
  RunResult r = run_bug_pair("irql", p.name, "fixed");
  for (const auto& f : r.findings) ADD_FAILURE() << f.check << ": " << f.message;
  EXPECT_EQ(r.stop.reason, kemu::harness::StopReason::Completed) << r.stop.message;
  for (const auto& st : r.steps) EXPECT_TRUE(st.expect_ok) << st.op;
}

INSTANTIATE_TEST_SUITE_P(
    Samples, IrqlPairs,
    ::testing::Values(
        // ZwClose, ZwCreateFile and DbgPrint("%ws") under a spin lock: three calls above PASSIVE_LEVEL.
        Pair{"zw_at_dispatch", {"irql.api-level"}, "RotateLog", 3},
        // The error path returns with the spin lock held; the system call
        // returns to user mode at DISPATCH_LEVEL: bugcheck 0x4A.
        Pair{"spinlock_leak", {"irql.unbalanced", "crash.bugcheck"}, "UpdateFilter", 2},
        // A PAGE-section routine entered, and paged pool read, under a spin lock.
        Pair{"paged_at_dispatch", {"irql.paged-at-dispatch"}, "LookupValue", 2},
        // A work routine returns with its spin lock held: the worker thread bugchecks 0xE1.
        Pair{"work_item_lock", {"irql.unbalanced", "crash.bugcheck"}, "FlushStatistics", 2, ""},
        // A DPC returns with the lock it took at DPC level: the IRQL is right, the lock is not
        // released; Windows notices only when the lock is next taken (it spins forever).
        Pair{"dpc_lock", {"irql.unbalanced"}, "DrainQueue", 1}),
    [](const ::testing::TestParamInfo<Pair>& info) { return info.param.name; });

// Each call names the routine, the IRQL it was made at and its documented maximum.
TEST(IrqlPairs, ZwCallsAtDispatchCarryTheRoutineAndBothIrqls) {
  RunResult r = run_bug_pair("irql", "zw_at_dispatch", "bug");
  EXPECT_EQ(r.stop.reason, kemu::harness::StopReason::Completed) << r.stop.message;
  std::set<std::string> routines;
  for (const Finding* f : findings_of(r, "irql.api-level")) {
    routines.insert(finding_value(*f, "routine"));
    EXPECT_EQ(finding_value(*f, "irql"), "DISPATCH_LEVEL (2)");
    EXPECT_EQ(finding_value(*f, "max_irql"), "PASSIVE_LEVEL (0)");
    EXPECT_EQ(f->context.irql, 2);
    EXPECT_NE(f->location.instruction.find("call"), std::string::npos) << f->location.instruction;
  }
  EXPECT_EQ(routines, (std::set<std::string>{"ZwClose", "ZwCreateFile", "DbgPrint"}));
  // Windows without Verifier does not stop at the calls: the rotation worked.
  ASSERT_GE(r.steps.size(), 2u);
  EXPECT_TRUE(r.steps[1].expect_ok);
}

// The leaked lock is reported at the call that took it; the client's system
// call returning at DISPATCH_LEVEL is IRQL_GT_ZERO_AT_SYSTEM_SERVICE.
TEST(IrqlPairs, ASpinLockLeftHeldIsUnbalancedAndBugchecks0x4A) {
  RunResult r = run_bug_pair("irql", "spinlock_leak", "bug");
  auto found = findings_of(r, "irql.unbalanced");
  ASSERT_EQ(found.size(), 1u);
  const Finding& f = *found[0];
  EXPECT_EQ(finding_value(f, "acquired_by"), "KeAcquireSpinLockRaiseToDpc");
  EXPECT_EQ(finding_value(f, "irql_at_entry"), "PASSIVE_LEVEL (0)");
  EXPECT_EQ(finding_value(f, "irql_at_return"), "DISPATCH_LEVEL (2)");
  EXPECT_EQ(finding_value(f, "routine"), "spinlock_leak_bug.sys!BugDeviceControl");
  EXPECT_NE(f.location.instruction.find("call"), std::string::npos) << f.location.instruction;
  ASSERT_TRUE(r.stop.bugcheck.has_value());
  EXPECT_EQ(r.stop.bugcheck->code, 0x4Au);
  EXPECT_EQ(r.stop.bugcheck->params[1], 2u);  // the IRQL
  EXPECT_NE(r.stop.bugcheck->params[0], 0u);  // NtDeviceIoControlFile
  ASSERT_GE(r.steps.size(), 3u);
  EXPECT_TRUE(r.steps[1].expect_ok);
  ASSERT_TRUE(r.steps[2].status.has_value());
  EXPECT_EQ(*r.steps[2].status, 0xC000000Du);  // STATUS_INVALID_PARAMETER, then the crash
}

// The work routine's shortcut keeps the lock: found at the acquiring call;
// the system worker thread then stops the machine with 0xE1 (P1 the routine,
// P2 the IRQL it returned at). The first flush, with a sample pending, went through.
TEST(IrqlPairs, AWorkRoutineReturningAtDispatchBugchecks0xE1) {
  RunResult r = run_bug_pair("irql", "work_item_lock", "bug");
  auto found = findings_of(r, "irql.unbalanced");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(finding_value(*found[0], "routine"), "work_item_lock_bug.sys!FlushStatistics");
  EXPECT_EQ(finding_value(*found[0], "irql_at_return"), "DISPATCH_LEVEL (2)");
  EXPECT_NE(found[0]->message.find("work item routine"), std::string::npos);
  ASSERT_TRUE(r.stop.bugcheck.has_value());
  EXPECT_EQ(r.stop.bugcheck->code, 0xE1u);
  // P1 is FlushStatistics: its entry lies just before the acquiring call.
  uint64_t acquire = r.driver.image_base + found[0]->location.offset;
  EXPECT_LT(r.stop.bugcheck->params[0], acquire);
  EXPECT_LT(acquire - r.stop.bugcheck->params[0], 0x40u);
  EXPECT_EQ(r.stop.bugcheck->params[1], 2u);
  ASSERT_GE(r.steps.size(), 5u);
  EXPECT_TRUE(r.steps[3].expect_ok);
}

// Code and data: the PAGE routine's entry and its read of the paged table.
TEST(IrqlPairs, PageableCodeAndPagedPoolAtDispatchAreBothSeen) {
  RunResult r = run_bug_pair("irql", "paged_at_dispatch", "bug");
  EXPECT_EQ(r.stop.reason, kemu::harness::StopReason::Completed) << r.stop.message;
  auto found = findings_of(r, "irql.paged-at-dispatch");
  ASSERT_EQ(found.size(), 2u);
  bool code = false, data = false;
  for (const Finding* f : found) {
    EXPECT_EQ(finding_value(*f, "irql"), "DISPATCH_LEVEL (2)");
    if (f->message.find("PAGE section") != std::string::npos) code = true;
    if (f->message.find("pageable memory") != std::string::npos) data = true;
  }
  EXPECT_TRUE(code);
  EXPECT_TRUE(data);
  ASSERT_GE(r.steps.size(), 2u);
  EXPECT_EQ(r.steps[1].output_hex, "2c010000");  // 300: the lookup still worked
}

}  // namespace
