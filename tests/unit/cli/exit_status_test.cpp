#include "cli/exit_status.h"

#include <gtest/gtest.h>

namespace kemu::cli {
namespace {

int status_for(harness::StopReason reason) {
  harness::RunResult r;
  r.stop.reason = reason;
  return exit_status(r);
}

TEST(ExitStatus, FollowsTheContract) {
  using harness::StopReason;
  EXPECT_EQ(status_for(StopReason::Completed), 0);
  EXPECT_EQ(status_for(StopReason::Bugcheck), 1);
  EXPECT_EQ(status_for(StopReason::Timeout), 1);
  EXPECT_EQ(status_for(StopReason::InstructionLimit), 1);
  EXPECT_EQ(status_for(StopReason::Deadlock), 1);
  EXPECT_EQ(status_for(StopReason::Unimplemented), 1);
  EXPECT_EQ(status_for(StopReason::Error), 2);
}

TEST(ExitStatus, UnimplementedCallsUnderFailPolicyAreNotAProblemByThemselves) {
  harness::RunResult r;
  r.unimplemented.push_back({"ntoskrnl.exe!FooBar", 1, false});
  EXPECT_EQ(exit_status(r), 0);
}

// cli.md: any finding is exit 1, whatever its severity.
TEST(ExitStatus, AnyFindingIsOne) {
  for (const char* severity : {"error", "warning", "note"}) {
    harness::RunResult r;
    harness::Finding f;
    f.check = "handle.no-access-check";
    f.severity = severity;
    r.findings.push_back(f);
    EXPECT_EQ(exit_status(r), 1) << severity;
  }
}

// A bugcheck stays exit 1 when crash.bugcheck was disabled (no finding left):
// the stop reason alone makes the run a problem.
TEST(ExitStatus, ABugcheckWithoutItsFindingIsStillOne) {
  harness::RunResult r;
  r.stop.reason = harness::StopReason::Bugcheck;
  EXPECT_TRUE(r.findings.empty());
  EXPECT_EQ(exit_status(r), 1);
}

// kemu failing mid-run is "could not run", findings or not.
TEST(ExitStatus, AnInternalErrorIsTwoEvenWithFindings) {
  harness::RunResult r;
  r.stop.reason = harness::StopReason::Error;
  r.findings.push_back(harness::Finding{});
  EXPECT_EQ(exit_status(r), 2);
}

}  // namespace
}  // namespace kemu::cli
