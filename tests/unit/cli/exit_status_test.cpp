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

}  // namespace
}  // namespace kemu::cli
