// The bug pairs of samples/bugs/handles, output and lengths: each buggy driver produces
// exactly the findings whose condition holds, located in the exported routine
// that holds the mistake; its fixed twin produces no finding at all.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "e2e/bug_pair.h"

namespace {

using kemu::harness::RunResult;
using kemu::e2e::run_bug_pair;

struct Pair {
  std::string topic;  // samples/bugs/<topic>
  std::string name;
  std::set<std::string> checks;  // what the buggy driver must produce
  std::string routine;           // where the mistake is (the exported routine)
};

using kemu::e2e::check_ids;


class BugPairs : public ::testing::TestWithParam<Pair> {};

TEST_P(BugPairs, TheBuggyDriverIsReportedWhereTheMistakeIs) {
  const Pair& p = GetParam();
  RunResult r = run_bug_pair(p.topic, p.name, "bug");
  EXPECT_EQ(check_ids(r), p.checks);
  for (const auto& f : r.findings) {
    if (f.check == "crash.bugcheck") continue;
    EXPECT_EQ(f.location.module, p.name + "_bug.sys") << f.check;
    EXPECT_EQ(f.location.symbol, p.routine) << f.check;
    EXPECT_NE(f.location.instruction.find("call"), std::string::npos) << f.check << ": " << f.location.instruction;
    EXPECT_FALSE(f.message.empty()) << f.check;
    EXPECT_FALSE(f.title.empty()) << f.check;
  }
}

TEST_P(BugPairs, TheFixedTwinHasNoFinding) {
  const Pair& p = GetParam();
  RunResult r = run_bug_pair(p.topic, p.name, "fixed");
  for (const auto& f : r.findings) ADD_FAILURE() << f.check << ": " << f.message;
  EXPECT_EQ(r.stop.reason, kemu::harness::StopReason::Completed) << r.stop.message;
  for (const auto& st : r.steps) EXPECT_TRUE(st.expect_ok) << st.op;
}

INSTANTIATE_TEST_SUITE_P(
    Samples, BugPairs,
    ::testing::Values(
        Pair{"handles", "user_handle_kernel_mode", {"handle.user-handle-kernel-mode"}, "SignalCallerEvent"},
        Pair{"handles", "no_object_type", {"handle.no-object-type"}, "SignalCallerEvent"},
        Pair{"handles", "no_access_check", {"handle.no-access-check"}, "SignalCallerEvent"},
        // The client closes the driver's handle mid-request; the driver's ZwClose then bugchecks 0x93.
        Pair{"handles", "private_handle", {"handle.not-kernel-handle", "handle.invalid", "crash.bugcheck"}, "PulseWorkEvent"},
        Pair{"handles", "user_handle_to_zw", {"handle.user-handle-to-zw"}, "SetCallerEvent"},
        Pair{"handles", "kernel_handle_user_mode", {"handle.kernel-handle-user-mode"}, "SignalOwnEvent"},
        Pair{"handles", "handle_leak", {"handle.leak"}, "OpenServiceKey"},
        Pair{"handles", "reference_leak", {"handle.leak"}, "SignalUnlessDryRun"},
        // The ZwDuplicateObject's kernel handle is never closed.
        Pair{"handles", "duplicate_leak", {"handle.leak"}, "ShareChangedEvent"},
        Pair{"handles", "force_access_check", {"handle.force-access-check-missing"}, "OpenCallerNamedKey"},
        // Completion-time checks point at the IoCompleteRequest of the dispatch routine.
        Pair{"output", "information_too_large", {"buffer.information-too-large"}, "BugDeviceControl"},
        // 7 padding bytes and the reserved field: 15 bytes never written.
        Pair{"output", "uninitialized_output", {"buffer.uninitialized-output"}, "BugDeviceControl"},
        // A wrapped ULONG size check lets a 4 GiB copy through: it reads past the input and faults.
        Pair{"lengths", "sum_overflow", {"buffer.length-overflow", "buffer.input-overread", "crash.bugcheck"},
             "StoreBlob"},
        Pair{"lengths", "product_overflow", {"buffer.length-overflow", "buffer.input-overread", "crash.bugcheck"},
             "StoreEntries"}),
    [](const ::testing::TestParamInfo<Pair>& info) { return info.param.name; });

// The private-handle bug ends as Windows would end it: ZwClose of the handle
// the client closed is INVALID_KERNEL_HANDLE (0x93) with P1 = the handle.
TEST(BugPairs, PrivateHandleClosedByTheClientBugchecks0x93) {
  RunResult r = run_bug_pair("handles", "private_handle", "bug");
  ASSERT_TRUE(r.stop.bugcheck.has_value());
  EXPECT_EQ(r.stop.bugcheck->code, 0x93u);
  EXPECT_EQ(r.stop.bugcheck->params[0], 0x8u);
}

TEST(BugPairs, UninitializedOutputCountsTheBytesTheDriverNeverWrote) {
  RunResult r = run_bug_pair("output", "uninitialized_output", "bug");
  ASSERT_EQ(r.findings.size(), 1u);
  std::map<std::string, std::string> values(r.findings[0].values.begin(), r.findings[0].values.end());
  EXPECT_EQ(values["uninitialized_bytes"], "15");
  EXPECT_EQ(values["first_offset"], "0x1");
}

}  // namespace
