// The pool and unload bug pairs (samples/bugs/pool, samples/bugs/unload):
// each buggy driver produces exactly the findings whose condition holds,
// located in the exported routine that holds the mistake, with the values
// checks.md asks for; its fixed twin produces no finding at all. Also the
// low-resources simulation (--fail-alloc / --fail-alloc-rate) as the run's
// report shows it.
#include <gtest/gtest.h>

#include <map>
#include <vector>
#include <ostream>
#include <set>
#include <string>

#include "e2e/bug_pair.h"
#include "verifier/finding.h"

namespace {

using kemu::harness::RunResult;
using kemu::e2e::check_ids;
using kemu::e2e::find_finding;
using kemu::e2e::finding_value;
using kemu::e2e::run_bug_pair;
using kemu::harness::SessionOptions;
using kemu::harness::StopReason;

struct Pair {
  std::string dir;   // samples/bugs/<dir>
  std::string name;
  std::set<std::string> checks;  // what the buggy driver must produce
  std::string routine;           // where the mistake is (the exported routine)
  uint32_t bugcheck = 0;         // the bugcheck plain Windows raises (0: none)
};

KEMU_PRINT_PAIR_BY(Pair, name)

class PoolPairs : public ::testing::TestWithParam<Pair> {};

TEST_P(PoolPairs, TheBuggyDriverIsReportedWhereTheMistakeIs) {
  const Pair& p = GetParam();
  RunResult r = run_bug_pair(p.dir, p.name, "bug");
  EXPECT_EQ(check_ids(r), p.checks);
  for (const auto& f : r.findings) {
    if (f.check == "crash.bugcheck") continue;
    EXPECT_EQ(f.location.module, p.name + "_bug.sys") << f.check;
    EXPECT_EQ(f.location.symbol, p.routine) << f.check;
    EXPECT_FALSE(f.message.empty()) << f.check;
    EXPECT_FALSE(f.title.empty()) << f.check;
  }
  if (p.bugcheck) {
    EXPECT_EQ(r.stop.reason, StopReason::Bugcheck) << r.stop.message;
    ASSERT_TRUE(r.stop.bugcheck.has_value());
    EXPECT_EQ(r.stop.bugcheck->code, p.bugcheck);
  } else {
    EXPECT_EQ(r.stop.reason, StopReason::Completed) << r.stop.message;
  }
}

TEST_P(PoolPairs, TheFixedTwinHasNoFinding) {
  const Pair& p = GetParam();
  RunResult r = run_bug_pair(p.dir, p.name, "fixed");
  for (const auto& f : r.findings) ADD_FAILURE() << f.check << ": " << f.message;
  EXPECT_EQ(r.stop.reason, StopReason::Completed) << r.stop.message;
  for (const auto& st : r.steps) EXPECT_TRUE(st.expect_ok) << st.op;
}

INSTANTIATE_TEST_SUITE_P(
    Samples, PoolPairs,
    ::testing::Values(
        // Two labels never freed: one finding at the allocation, counted twice.
        Pair{"pool", "leak", {"pool.leak"}, "RememberLabel", 0},
        // Tag 0 reported; NonPagedPoolMustSucceed bugchecks BAD_POOL_CALLER 0x9A.
        Pair{"pool", "must_succeed", {"pool.must-succeed", "crash.bugcheck"}, "BuildReply", 0xC2},
        // The failed allocation's NULL written through: 0x3B in the dispatch routine.
        Pair{"pool", "null_unchecked", {"pool.null-unchecked", "crash.bugcheck"}, "StoreRecord", 0x3B},
        // The result read from the freed context: reported, and the run goes on.
        Pair{"pool", "use_after_free", {"pool.use-after-free"}, "RunJob", 0},
        // The NUL one byte past a 32-byte block: reported, and the run goes on.
        Pair{"pool", "overrun", {"pool.overrun"}, "SaveName", 0},
        // The error path's second free: BAD_POOL_CALLER 0x07.
        Pair{"pool", "double_free", {"pool.bad-free", "crash.bugcheck"}, "ParseHeader", 0xC2},
        // The payload freed with the header's tag: BAD_POOL_CALLER 0x0A.
        Pair{"pool", "wrong_tag", {"pool.bad-free", "crash.bugcheck"}, "PackRecord", 0xC2},
        // A periodic timer still queued in the image it unmaps: TIMER_OR_DPC_INVALID.
        Pair{"unload", "timer_left", {"unload.leftovers", "crash.bugcheck"}, "StartPolling", 0xC7},
        // A worker thread still waiting on an event in the unmapped image: its timeout faults (0x50).
        Pair{"unload", "thread_left", {"unload.leftovers", "crash.bugcheck"}, "StartWorker", 0x50},
        // The symbolic link outlives the driver: a stale name, no bugcheck.
        Pair{"unload", "link_left", {"unload.leftovers"}, "PublishDevice", 0},
        // The load-image notify routine stays registered: nothing loads an image afterwards here.
        Pair{"unload", "notify_left", {"unload.leftovers"}, "WatchImageLoads", 0}),
    [](const auto& info) { return info.param.name; });

TEST(PoolPairValues, TheLeakNamesBlockSizeTagAndCount) {
  RunResult r = run_bug_pair("pool", "leak", "bug");
  const auto* f = find_finding(r, "pool.leak");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->count, 2u);  // "first" and "second"
  EXPECT_EQ(finding_value(*f, "size"), "10");  // utf16 "first"
  EXPECT_EQ(finding_value(*f, "tag"), "'Labl' (0x6c62614c)");
  EXPECT_EQ(finding_value(*f, "pool_type"), "0x200");
  EXPECT_EQ(finding_value(*f, "allocated_by"), "ExAllocatePoolWithTag");
  EXPECT_NE(f->location.instruction.find("call"), std::string::npos) << f->location.instruction;
}

TEST(PoolPairValues, TheOverrunNamesTheByteOnTheGuardPageAndTheRunGoesOn) {
  RunResult r = run_bug_pair("pool", "overrun", "bug");
  const auto* f = find_finding(r, "pool.overrun");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->count, 2u);  // the 32-byte and the 16-byte names, one store
  EXPECT_EQ(finding_value(*f, "block_size"), "32");
  EXPECT_EQ(finding_value(*f, "offset"), "0x20");
  EXPECT_EQ(finding_value(*f, "access"), "write");
  EXPECT_EQ(finding_value(*f, "tag"), "'Name' (0x656d614e)");
  EXPECT_EQ(finding_value(*f, "allocated_at").rfind("overrun_bug.sys+", 0), 0u);
  EXPECT_NE(f->message.find("the first byte after its end"), std::string::npos) << f->message;
  EXPECT_EQ(f->context.major, "IRP_MJ_DEVICE_CONTROL");
  EXPECT_NE(f->location.instruction.find("mov byte ptr"), std::string::npos) << f->location.instruction;
  // The write went through as on Windows: the request succeeded.
  ASSERT_GE(r.steps.size(), 2u);
  EXPECT_EQ(r.steps[1].status, std::optional<uint32_t>(0));
  // The 20-byte name's NUL in the rounding bytes: found when SaveName frees it.
  std::vector<const kemu::verifier::Finding*> overruns;
  for (const auto& o : r.findings)
    if (o.check == "pool.overrun") overruns.push_back(&o);
  ASSERT_EQ(overruns.size(), 2u);
  const auto& slack = *overruns[1];
  EXPECT_EQ(finding_value(slack, "block_size"), "20");
  EXPECT_EQ(finding_value(slack, "offset"), "0x14");
  EXPECT_NE(slack.message.find("when it was freed here"), std::string::npos) << slack.message;
  EXPECT_NE(slack.location.instruction.find("call"), std::string::npos) << slack.location.instruction;
  EXPECT_EQ(slack.location.symbol, "SaveName");
}

TEST(PoolPairValues, TheUseAfterFreeReadsTheOldBytesAsWindowsWould) {
  RunResult r = run_bug_pair("pool", "use_after_free", "bug");
  const auto* f = find_finding(r, "pool.use-after-free");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(finding_value(*f, "block_size"), "16");
  EXPECT_EQ(finding_value(*f, "offset"), "0x8");  // JOB.Result
  EXPECT_EQ(finding_value(*f, "access"), "read");
  EXPECT_NE(finding_value(*f, "freed_at").find("use_after_free_bug.sys+"), std::string::npos);
  // Freed pool keeps its bytes on Windows: 2 -> 202 (0xCA).
  ASSERT_GE(r.steps.size(), 2u);
  EXPECT_EQ(r.steps[1].output_hex, "ca000000");
}

TEST(PoolPairValues, TheDoubleFreeNamesTheFirstFreeAndWindowsBugchecks0xC2_07) {
  RunResult r = run_bug_pair("pool", "double_free", "bug");
  const auto* f = find_finding(r, "pool.bad-free");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(finding_value(*f, "routine"), "ExFreePoolWithTag");
  EXPECT_EQ(finding_value(*f, "first_freed_at").rfind("double_free_bug.sys+", 0), 0u);
  EXPECT_NE(finding_value(*f, "first_freed_at"), "double_free_bug.sys+" + kemu::verifier::hex(f->location.offset));
  EXPECT_EQ(f->context.ioctl, std::optional<uint32_t>(0x80002C94));
  ASSERT_TRUE(r.stop.bugcheck.has_value());
  EXPECT_EQ(r.stop.bugcheck->params[0], 0x07u);  // BAD_POOL_CALLER: already freed
}

TEST(PoolPairValues, TheWrongTagNamesBothTags) {
  RunResult r = run_bug_pair("pool", "wrong_tag", "bug");
  const auto* f = find_finding(r, "pool.bad-free");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(finding_value(*f, "tag"), "'HdrW' (0x57726448)");
  EXPECT_EQ(finding_value(*f, "allocation_tag"), "'PayW' (0x57796150)");
  ASSERT_TRUE(r.stop.bugcheck.has_value());
  EXPECT_EQ(r.stop.bugcheck->params[0], 0x0Au);
  EXPECT_EQ(r.stop.bugcheck->params[2], 0x57796150u);  // the allocator's tag
  EXPECT_EQ(r.stop.bugcheck->params[3], 0x57726448u);  // the tag given
}

TEST(PoolPairValues, TagZeroAndMustSucceedAreTwoFindingsThenBugcheck0xC2_9A) {
  RunResult r = run_bug_pair("pool", "must_succeed", "bug");
  std::vector<const kemu::verifier::Finding*> found;
  for (const auto& f : r.findings)
    if (f.check == "pool.must-succeed") found.push_back(&f);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(finding_value(*found[0], "tag"), "0x0");
  EXPECT_EQ(finding_value(*found[0], "size"), "64");
  EXPECT_EQ(finding_value(*found[1], "pool_type"), "0x2");
  EXPECT_EQ(finding_value(*found[1], "size"), "8");
  ASSERT_TRUE(r.stop.bugcheck.has_value());
  EXPECT_EQ(r.stop.bugcheck->params[0], 0x9Au);
  EXPECT_EQ(r.stop.bugcheck->params[1], 2u);            // the pool type
  EXPECT_EQ(r.stop.bugcheck->params[2], 8u);            // the size
  EXPECT_EQ(r.stop.bugcheck->params[3], 0x796C7052u);   // 'Rply'
}

TEST(PoolPairValues, TheNullUncheckedFindingNamesTheFailedCall) {
  RunResult r = run_bug_pair("pool", "null_unchecked", "bug");
  const auto* f = find_finding(r, "pool.null-unchecked");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(finding_value(*f, "failed_routine"), "ExAllocatePoolWithTag");
  EXPECT_EQ(finding_value(*f, "failed_call"), "1");
  EXPECT_EQ(finding_value(*f, "address"), "0x0");
  ASSERT_EQ(r.failed_allocations.size(), 1u);
  EXPECT_EQ(r.failed_allocations[0].number, 1u);
  EXPECT_EQ(r.failed_allocations[0].routine, "ExAllocatePoolWithTag");
  EXPECT_EQ(r.failed_allocations[0].module, "null_unchecked_bug.sys");
  EXPECT_EQ(r.failed_allocations[0].symbol, "StoreRecord");
}

TEST(PoolPairValues, WithoutTheSimulationTheUncheckedDriverRunsClean) {
  // The command line wins over the scenario's fail_alloc: a rate of 0 fails nothing.
  SessionOptions o;
  o.fail_alloc_rate = 0.0;
  RunResult r = run_bug_pair("pool", "null_unchecked", "bug", o);
  EXPECT_TRUE(r.findings.empty());
  EXPECT_TRUE(r.failed_allocations.empty());
  EXPECT_EQ(r.stop.reason, StopReason::Completed);
}

TEST(PoolPairValues, ARateOfOneFailsEveryCountedCallAndTheFixedDriverCopes) {
  SessionOptions o;
  o.fail_alloc_rate = 1.0;
  o.seed = 5;
  RunResult r = run_bug_pair("pool", "null_unchecked", "fixed", o);
  EXPECT_TRUE(r.findings.empty());
  ASSERT_EQ(r.failed_allocations.size(), 2u);  // one per request
  EXPECT_EQ(r.failed_allocations[1].number, 2u);
  ASSERT_GE(r.steps.size(), 3u);
  EXPECT_EQ(r.steps[2].status, std::optional<uint32_t>(0xC000009A));  // STATUS_INSUFFICIENT_RESOURCES
}

TEST(PoolPairValues, DisablingTheGuardChecksRestoresThePlainPlacement) {
  SessionOptions o;
  o.disabled_checks = {"pool.overrun", "pool.use-after-free"};
  RunResult r = run_bug_pair("pool", "overrun", "bug", o);
  EXPECT_TRUE(r.findings.empty());
  EXPECT_EQ(r.stop.reason, StopReason::Completed);
}

// A driver allocating in a loop: guarded placement covers the first 1 MiB of
// live blocks, then the normal arenas take over (no early NULL, no findings).
TEST(PoolLoop, GuardedPlacementFallsBackAndTheLoopCompletes) {
  kemu::harness::Session s;
  RunResult r = s.run(kemu::e2e::sample("poolloop"));
  EXPECT_EQ(r.stop.reason, StopReason::Completed) << r.stop.message;
  ASSERT_EQ(r.debug_output.size(), 1u);
  EXPECT_EQ(r.debug_output[0], "poolloop: 100000 blocks");
  EXPECT_TRUE(r.findings.empty());
}

}  // namespace
