// The IRP bug pairs (samples/bugs/irps): each buggy driver produces exactly
// the findings whose condition holds, located in the exported routine with
// the mistake (the dispatch routine's entry for what is judged when it
// returns, the driver's call for IoCompleteRequest and IoCallDriver); its
// fixed twin produces no finding at all.
#include <gtest/gtest.h>

#include <cstdio>
#include <ostream>
#include <set>
#include <string>
#include <utility>

#include "e2e/bug_pair.h"

namespace {

using kemu::harness::RunResult;
using kemu::e2e::check_ids;
using kemu::e2e::find_finding;
using kemu::e2e::finding_value;
using kemu::e2e::run_bug_pair;

struct Pair {
  std::string name;
  std::set<std::string> checks;  // what the buggy driver must produce
  std::string routine;           // where the mistake is (the exported routine)
  std::string instruction;       // the located instruction ("call" for a kernel routine call)
  std::string major;   // the request context ("" when no client request is being dispatched)
  uint64_t count = 1;  // how many times the scenario meets it
};

KEMU_PRINT_PAIR_BY(Pair, name)

std::string fmt_hex(uint64_t v) {
  char buf[32];
  snprintf(buf, sizeof buf, "%#llx", static_cast<unsigned long long>(v));
  return buf;
}

class IrpPairs : public ::testing::TestWithParam<Pair> {};

TEST_P(IrpPairs, TheBuggyDriverIsReportedWhereTheMistakeIs) {
  const Pair& p = GetParam();
  RunResult r = run_bug_pair("irps", p.name, "bug");
  EXPECT_EQ(check_ids(r), p.checks);
  for (const auto& f : r.findings) {
    if (f.check == "crash.bugcheck") continue;
    EXPECT_EQ(f.count, p.count) << f.check;
    EXPECT_EQ(f.location.module, p.name + "_bug.sys") << f.check;
    EXPECT_EQ(f.location.symbol, p.routine) << f.check;
    EXPECT_NE(f.location.instruction.find(p.instruction), std::string::npos)
        << f.check << ": " << f.location.instruction;
    EXPECT_EQ(f.context.major, p.major) << f.check;
    EXPECT_FALSE(f.message.empty()) << f.check;
    EXPECT_FALSE(f.title.empty()) << f.check;
  }
}

TEST_P(IrpPairs, TheFixedTwinHasNoFinding) {
  const Pair& p = GetParam();
  RunResult r = run_bug_pair("irps", p.name, "fixed");
  for (const auto& f : r.findings) ADD_FAILURE() << f.check << ": " << f.message;
  EXPECT_EQ(r.stop.reason, kemu::harness::StopReason::Completed) << r.stop.message;
  for (const auto& st : r.steps) EXPECT_TRUE(st.expect_ok) << st.op;
}

INSTANTIATE_TEST_SUITE_P(
    Samples, IrpPairs,
    ::testing::Values(
        // The second IoCompleteRequest of a short request: bug check 0x44.
        Pair{"double_completion",
             {"irp.double-completion", "crash.bugcheck"},
             "DispatchDeviceControl",
             "call",
             "IRP_MJ_DEVICE_CONTROL"},
        // The short request's early return: never completed.
        Pair{"lost", {"irp.lost"}, "DispatchDeviceControl", "", "IRP_MJ_DEVICE_CONTROL"},
        // Completed with STATUS_BUFFER_TOO_SMALL, returned STATUS_SUCCESS.
        Pair{"status_mismatch",
             {"irp.status-mismatch"},
             "DispatchDeviceControl",
             "",
             "IRP_MJ_DEVICE_CONTROL"},
        // Queued to a work item and STATUS_PENDING returned, never marked.
        Pair{"pending_unmarked",
             {"irp.pending-mismatch"},
             "DispatchDeviceControl",
             "",
             "IRP_MJ_DEVICE_CONTROL",
             2},
        // Marked on entry, then answered at once with STATUS_SUCCESS.
        Pair{"marked_not_pending",
             {"irp.pending-mismatch"},
             "DispatchDeviceControl",
             "",
             "IRP_MJ_DEVICE_CONTROL"},
        // The work item completes the waiting IRP with its cancel routine set
        // (after the dispatch routine returned: no request is being dispatched).
        Pair{"cancel_routine_set", {"irp.bad-completion-status"}, "SignalEvent", "call", "", 2},
        // Completed with STATUS_PENDING (at IoCompleteRequest) and STATUS_PENDING
        // returned without IoMarkIrpPending (at the routine).
        Pair{"pending_status",
             {"irp.bad-completion-status", "irp.pending-mismatch"},
             "DispatchDeviceControl",
             "",
             "IRP_MJ_DEVICE_CONTROL"},
        // The filter copies the whole stack location of the driver's own ping IRP.
        Pair{"stack_copy", {"irp.stack-copy"}, "FilterForward", "call", "IRP_MJ_DEVICE_CONTROL"}),
    [](const ::testing::TestParamInfo<Pair>& info) { return info.param.name; });

// The second IoCompleteRequest meets the freed IRP (Type cleared by
// IoFreeIrp): MULTIPLE_IRP_COMPLETE_REQUESTS with P1 = the IRP, at that call.
TEST(IrpPairs, DoubleCompletionBugchecks0x44AtTheSecondCompletion) {
  RunResult r = run_bug_pair("irps", "double_completion", "bug");
  ASSERT_TRUE(r.stop.bugcheck.has_value());
  EXPECT_EQ(r.stop.bugcheck->code, 0x44u);
  const kemu::verifier::Finding* f = find_finding(r, "irp.double-completion");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(finding_value(*f, "irp"), fmt_hex(r.stop.bugcheck->params[0]));
  EXPECT_EQ(r.stop.bugcheck->offset, f->location.offset);
  EXPECT_EQ(
      finding_value(*f, "first_completion").rfind("double_completion_bug.sys!ValidateLevelRequest+", 0), 0u)
      << finding_value(*f, "first_completion");
  ASSERT_EQ(r.steps.size(), 3u);
  EXPECT_TRUE(r.steps[1].expect_ok);  // the well-formed request went through
  EXPECT_FALSE(r.steps[1].never_returned);
  EXPECT_TRUE(r.steps[2].never_returned);  // the short request: the system stopped inside it
  const kemu::verifier::Finding* crash = find_finding(r, "crash.bugcheck");
  ASSERT_NE(crash, nullptr);
  EXPECT_EQ(crash->message,
            "Windows would stop with bug check 0x00000044 here. Bug check 0x44 MULTIPLE_IRP_COMPLETE_REQUESTS "
            "means a driver completed an IRP that had already been completed.");
}

// The short request is never completed: its step never gets a status and
// the finding carries what the routine returned.
TEST(IrpPairs, ALostRequestStaysPendingForItsCaller) {
  RunResult r = run_bug_pair("irps", "lost", "bug");
  EXPECT_EQ(r.stop.reason, kemu::harness::StopReason::Completed) << r.stop.message;
  ASSERT_GE(r.steps.size(), 3u);
  EXPECT_TRUE(r.steps[2].pending);
  EXPECT_FALSE(r.steps[2].status.has_value());
  const kemu::verifier::Finding* f = find_finding(r, "irp.lost");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(finding_value(*f, "returned_status"), "0xc0000023");
  EXPECT_EQ(finding_value(*f, "ioctl"), "0x80002c00");
  EXPECT_EQ(finding_value(*f, "major"), "IRP_MJ_DEVICE_CONTROL");
  EXPECT_EQ(finding_value(*f, "stack_control"), "0x0");
}

// The caller sees the returned STATUS_SUCCESS, as on Windows; the IRP said
// STATUS_BUFFER_TOO_SMALL.
TEST(IrpPairs, AStatusMismatchReturnsTheRoutinesStatusToTheCaller) {
  RunResult r = run_bug_pair("irps", "status_mismatch", "bug");
  ASSERT_GE(r.steps.size(), 3u);
  ASSERT_TRUE(r.steps[2].status.has_value());
  EXPECT_EQ(*r.steps[2].status, 0u);
  const kemu::verifier::Finding* f = find_finding(r, "irp.status-mismatch");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(finding_value(*f, "returned_status"), "0x0");
  EXPECT_EQ(finding_value(*f, "io_status"), "0xc0000023");
  EXPECT_EQ(finding_value(*f, "information"), "0x0");
}

// Both mistakes of irp.pending-mismatch: STATUS_PENDING with Control 0, and
// SL_PENDING_RETURNED with STATUS_SUCCESS; the requests still finish.
TEST(IrpPairs, PendingMismatchesCarryTheReturnedStatusAndTheControlByte) {
  RunResult unmarked = run_bug_pair("irps", "pending_unmarked", "bug");
  const kemu::verifier::Finding* f = find_finding(unmarked, "irp.pending-mismatch");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(finding_value(*f, "returned_status"), "0x103");
  EXPECT_EQ(finding_value(*f, "stack_control"), "0x0");
  EXPECT_EQ(finding_value(*f, "ioctl"), "0x80002c04");
  ASSERT_GE(unmarked.steps.size(), 3u);
  EXPECT_EQ(unmarked.steps[1].output_hex, "01000000");
  EXPECT_EQ(unmarked.steps[2].output_hex, "02000000");

  RunResult marked = run_bug_pair("irps", "marked_not_pending", "bug");
  f = find_finding(marked, "irp.pending-mismatch");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(finding_value(*f, "returned_status"), "0x0");
  EXPECT_EQ(finding_value(*f, "stack_control"), "0x1");
  EXPECT_EQ(finding_value(*f, "io_status"), "0x0");
  EXPECT_EQ(finding_value(*f, "information"), "0x4");
  ASSERT_GE(marked.steps.size(), 3u);
  EXPECT_EQ(marked.steps[1].output_hex, "00010000");  // waited for
  EXPECT_EQ(marked.steps[2].output_hex, "01010000");  // answered at once
}

// Completed from the work item, after the dispatch routine returned: the
// finding names the request through its values.
TEST(IrpPairs, ACompletionWithTheCancelRoutineSetNamesTheRequest) {
  RunResult r = run_bug_pair("irps", "cancel_routine_set", "bug");
  const kemu::verifier::Finding* f = find_finding(r, "irp.bad-completion-status");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(finding_value(*f, "major"), "IRP_MJ_DEVICE_CONTROL");
  EXPECT_EQ(finding_value(*f, "ioctl"), "0x80002c0c");
  EXPECT_EQ(finding_value(*f, "io_status"), "0x0");
  EXPECT_NE(finding_value(*f, "cancel_routine"), "<none>");
  EXPECT_NE(finding_value(*f, "cancel_routine"), "0x0");
}

// The caller of the synchronous call receives STATUS_PENDING as the outcome.
TEST(IrpPairs, ACompletionWithStatusPendingReachesTheCaller) {
  RunResult r = run_bug_pair("irps", "pending_status", "bug");
  ASSERT_GE(r.steps.size(), 3u);
  ASSERT_TRUE(r.steps[1].status.has_value());
  EXPECT_EQ(*r.steps[1].status, 0x103u);
  EXPECT_FALSE(r.steps[1].pending);
  const kemu::verifier::Finding* f = find_finding(r, "irp.bad-completion-status");
  ASSERT_NE(f, nullptr);
  EXPECT_NE(f->location.instruction.find("call"), std::string::npos) << f->location.instruction;
  EXPECT_EQ(finding_value(*f, "io_status"), "0x103");
  EXPECT_EQ(finding_value(*f, "ioctl"), "0x80002c18");
  f = find_finding(r, "irp.pending-mismatch");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(finding_value(*f, "returned_status"), "0x103");
  EXPECT_EQ(finding_value(*f, "io_status"), "0x103");
  EXPECT_EQ(finding_value(*f, "stack_control"), "0x0");
}

// With the whole location copied, PingDone runs for the lower device's
// completion (its DeviceObject is the filter: level 2); fixed, at its own (1).
TEST(IrpPairs, ACopiedCompletionRoutineRunsAtTheLowerLevel) {
  RunResult bug = run_bug_pair("irps", "stack_copy", "bug");
  ASSERT_GE(bug.steps.size(), 2u);
  EXPECT_EQ(bug.steps[1].output_hex, "02000000");
  const kemu::verifier::Finding* f = find_finding(bug, "irp.stack-copy");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->severity, "warning");
  EXPECT_EQ(finding_value(*f, "next_control"), "0xe0");  // SL_INVOKE_ON_SUCCESS | ERROR | CANCEL, copied
  EXPECT_NE(finding_value(*f, "completion_routine"), "<none>");
  RunResult fixed = run_bug_pair("irps", "stack_copy", "fixed");
  ASSERT_GE(fixed.steps.size(), 2u);
  EXPECT_EQ(fixed.steps[1].output_hex, "01000000");
}

// "return IoCallDriver(...)" compiled as a jmp leaves no call instruction:
// the finding goes to the dispatch routine the IRP is in.
TEST(IrpPairs, AStackCopyPassedOnByATailCallIsLocatedAtTheDispatchRoutine) {
  auto sc = kemu::harness::parse_scenario(std::string(KEMU_SOURCE_DIR) +
                                          "/samples/bugs/irps/stack_copy.yaml");
  kemu::harness::Session s;
  kemu::harness::run_scenario(s, kemu::e2e::sample("stack_copy_tail_bug"), sc);
  RunResult r = s.result();
  ASSERT_EQ(r.findings.size(), 1u);
  const kemu::verifier::Finding& f = r.findings[0];
  EXPECT_EQ(f.check, "irp.stack-copy");
  EXPECT_EQ(f.location.module, "stack_copy_tail_bug.sys");
  EXPECT_EQ(f.location.symbol, "StackDispatch");
  ASSERT_GE(r.steps.size(), 2u);
  EXPECT_EQ(r.steps[1].output_hex, "02000000");
}

}  // namespace
