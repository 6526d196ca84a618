// End-to-end: samples/locks (spin locks, queued spin locks, critical and
// guarded regions, fast and guarded mutexes with real contention, executive
// resources, lookaside lists, interlocked lists) prints exactly the lines its
// README states, and locks_recursive.sys ends in a deadlock stop naming the lock.
#include <iterator>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "e2e/e2e_paths.h"
#include "harness/run_result.h"
#include "harness/session.h"
#include "report/json_report.h"

namespace kemu::e2e {
namespace {

using harness::RunResult;
using harness::Session;
using harness::StopReason;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;

RunResult run_sample(const std::string& name) {
  Session session;
  return session.run(sample(name));
}

// samples/locks/README.md, line by line.
const char* const kLocksOutput[] = {
    "locks: spin lock irql 2 (old 0) held 1, released irql 0 free 1, dpc trace qhdx",
    "locks: at dpc level irql 2 try held 0 try free 1 test held 0 test free 1, for dpc irql 2 (old "
    "0) then 0",
    "locks: queued spin lock irql 2 held 1 try 0, released irql 0 free 1; at dpc level held 1 irql "
    "2 free 1",
    "locks: apcs disabled 0, critical 1 (all 0), guarded all 1, left 0 0, at apc level all 1",
    "locks: fast mutex trace AWRGwDTJ, thread irql 1 owner 1, try while held 0, irql 1 then 0, "
    "count while contended 4",
    "locks: guarded mutex all apcs disabled 1 irql 0, try held 0, after 0, try free 1, apcs after "
    "0",
    "locks: resource trace xWrSwBXJ, try shared 0, exclusive 0, shared count 1, exclusive waiters "
    "1 "
    "shared waiters 0, thread exclusive 1",
    "locks: resource recursion 2 then 3, converted exclusive 0 shared 3, starve 1, critical region "
    "apcs 1 "
    "exclusive 1, after 0, delete 0x00000000",
    "locks: lookaside same entry 1, depth 1, allocates 2 misses 1, type 512, depth limit 4",
    "locks: paged lookaside allocate calls 5 free calls 1 then 5; lookaside ex 0x00000000 same "
    "entry 1 "
    "depth after flush 0",
    "locks: lists insert - a a, order cab, remove c a b -, push - 1 pop 2 1 -, ulong 5->12, "
    "large 0xffffffff->0x100000000, lock free 1, slist push - 1 depth 2 pop 2 flush 1 depth 0 pop "
    "-",
    "locks: done",
    "locks: unload",
};

TEST(E2eLocks, EveryGroupBehavesAsOnWindows) {
  RunResult r = run_sample("locks");
  SCOPED_TRACE(report::render_json(r));
  EXPECT_EQ(r.stop.reason, StopReason::Completed);
  ASSERT_TRUE(r.driver_entry_status.has_value());
  EXPECT_EQ(*r.driver_entry_status, 0u);
  EXPECT_THAT(r.unimplemented, IsEmpty());
  ASSERT_EQ(r.debug_output.size(), std::size(kLocksOutput));
  for (size_t i = 0; i < std::size(kLocksOutput); ++i)
    EXPECT_EQ(r.debug_output[i], kLocksOutput[i]) << i;
  // Both contending threads ended; nothing is left queued.
  EXPECT_TRUE(r.unload.called);
  EXPECT_THAT(r.unload.threads_left, IsEmpty());
  EXPECT_THAT(r.unload.dpcs_left, IsEmpty());
}

// The fast mutex section: the thread takes the mutex (A) and waits holding it;
// DriverEntry (W) blocks in ExAcquireFastMutex until the thread releases (R),
// then holds it (G) while the thread blocks in its own ExAcquireFastMutex (w,
// a suspended wait), and releases it after its delay (D): the thread gets it
// (T) and ends before DriverEntry joins it (J).
TEST(E2eLocks, FastMutexContentionOrder) {
  RunResult r = run_sample("locks");
  SCOPED_TRACE(report::render_json(r));
  ASSERT_GE(r.debug_output.size(), 5u);
  EXPECT_THAT(r.debug_output[4], HasSubstr("trace AWRGwDTJ"));
}

// The resource section: exclusive owner thread (x), DriverEntry waits shared
// (W) until the release (r) hands it shared access (S); the thread then waits
// exclusively (w) behind DriverEntry's shared hold (B: one exclusive waiter)
// and is handed the resource on release (X) before the join (J).
TEST(E2eLocks, ResourceContentionOrder) {
  RunResult r = run_sample("locks");
  SCOPED_TRACE(report::render_json(r));
  ASSERT_GE(r.debug_output.size(), 7u);
  EXPECT_THAT(r.debug_output[6], HasSubstr("trace xWrSwBXJ"));
  EXPECT_THAT(r.debug_output[6],
              HasSubstr("exclusive waiters 1 shared waiters 0, thread exclusive 1"));
}

TEST(E2eLocks, RunsAreDeterministic) {
  RunResult a = run_sample("locks");
  RunResult b = run_sample("locks");
  EXPECT_EQ(a.debug_output, b.debug_output);
  EXPECT_EQ(a.stats.instructions, b.stats.instructions);
}

TEST(E2eLocks, RecursiveSpinLockStopsWithDeadlockNamingTheLock) {
  RunResult r = run_sample("locks_recursive");
  SCOPED_TRACE(report::render_json(r));
  EXPECT_EQ(r.stop.reason, StopReason::Deadlock);
  EXPECT_FALSE(r.driver_entry_status.has_value());
  EXPECT_THAT(r.debug_output, ElementsAre("locks: acquiring the same spin lock again"));
  EXPECT_THAT(r.stop.message,
              HasSubstr("KeAcquireSpinLockRaiseToDpc called from locks_recursive.sys"));
  EXPECT_THAT(r.stop.message,
              MatchesRegex(".*spin lock at 0x[0-9a-f]+ \\(locks_recursive\\.sys\\+0x[0-9a-f]+\\) "
                           "is already held.*"));
  EXPECT_FALSE(r.stop.bugcheck.has_value());
}

}  // namespace
}  // namespace kemu::e2e
