// The handle bug pairs (samples/bugs/handles): each buggy driver produces
// exactly the findings whose condition holds, located in the exported routine
// that holds the mistake; its fixed twin produces no finding at all.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "e2e/e2e_paths.h"
#include "harness/scenario.h"
#include "harness/session.h"

namespace {

using kemu::harness::RunResult;
using kemu::harness::Session;

struct Pair {
  std::string name;
  std::set<std::string> checks;  // what the buggy driver must produce
  std::string routine;           // where the mistake is (the exported routine)
};

RunResult run_pair(const std::string& name, const std::string& variant) {
  auto sc = kemu::harness::parse_scenario(std::string(KEMU_SOURCE_DIR) + "/samples/bugs/handles/" + name + ".yaml");
  Session s;
  kemu::harness::run_scenario(s, kemu::e2e::sample(name + "_" + variant), sc);
  return s.result();
}

class HandlePairs : public ::testing::TestWithParam<Pair> {};

TEST_P(HandlePairs, TheBuggyDriverIsReportedWhereTheMistakeIs) {
  const Pair& p = GetParam();
  RunResult r = run_pair(p.name, "bug");
  std::set<std::string> checks;
  for (const auto& f : r.findings) checks.insert(f.check);
  EXPECT_EQ(checks, p.checks);
  for (const auto& f : r.findings) {
    if (f.check == "crash.bugcheck") continue;
    EXPECT_EQ(f.location.module, p.name + "_bug.sys") << f.check;
    EXPECT_EQ(f.location.symbol, p.routine) << f.check;
    EXPECT_NE(f.location.instruction.find("call"), std::string::npos) << f.check << ": " << f.location.instruction;
    EXPECT_FALSE(f.message.empty()) << f.check;
    EXPECT_FALSE(f.title.empty()) << f.check;
  }
}

TEST_P(HandlePairs, TheFixedTwinHasNoFinding) {
  const Pair& p = GetParam();
  RunResult r = run_pair(p.name, "fixed");
  for (const auto& f : r.findings) ADD_FAILURE() << f.check << ": " << f.message;
  EXPECT_EQ(r.stop.reason, kemu::harness::StopReason::Completed) << r.stop.message;
  for (const auto& st : r.steps) EXPECT_TRUE(st.expect_ok) << st.op;
}

INSTANTIATE_TEST_SUITE_P(
    Samples, HandlePairs,
    ::testing::Values(
        Pair{"user_handle_kernel_mode", {"handle.user-handle-kernel-mode"}, "SignalCallerEvent"},
        Pair{"no_object_type", {"handle.no-object-type"}, "SignalCallerEvent"},
        Pair{"no_access_check", {"handle.no-access-check"}, "SignalCallerEvent"},
        // The client closes the driver's handle mid-request; the driver's ZwClose then bugchecks 0x93.
        Pair{"private_handle", {"handle.not-kernel-handle", "handle.invalid", "crash.bugcheck"}, "PulseWorkEvent"},
        Pair{"user_handle_to_zw", {"handle.user-handle-to-zw"}, "SetCallerEvent"},
        Pair{"kernel_handle_user_mode", {"handle.kernel-handle-user-mode"}, "SignalOwnEvent"},
        Pair{"handle_leak", {"handle.leak"}, "OpenServiceKey"},
        Pair{"force_access_check", {"handle.force-access-check-missing"}, "OpenCallerNamedKey"}),
    [](const ::testing::TestParamInfo<Pair>& info) { return info.param.name; });

// The private-handle bug ends as Windows would end it: ZwClose of the handle
// the client closed is INVALID_KERNEL_HANDLE (0x93) with P1 = the handle.
TEST(HandlePairs, PrivateHandleClosedByTheClientBugchecks0x93) {
  RunResult r = run_pair("private_handle", "bug");
  ASSERT_TRUE(r.stop.bugcheck.has_value());
  EXPECT_EQ(r.stop.bugcheck->code, 0x93u);
  EXPECT_EQ(r.stop.bugcheck->params[0], 0x8u);
}

}  // namespace
