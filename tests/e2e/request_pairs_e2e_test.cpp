// The request-probe bug pairs (samples/bugs/requests): kemu's unknown-request
// probe, which runs after the scenario on a copy of the machine, finds each
// buggy driver's mistake in the exported routine that holds it; the fixed
// twins produce no finding. The probe leaves the run it copied untouched.
#include <gtest/gtest.h>

#include <algorithm>
#include <ostream>
#include <set>
#include <string>
#include <utility>

#include "e2e/bug_pair.h"
#include "report/json_report.h"
#include "report/text_report.h"

namespace {

using kemu::harness::RunResult;
using kemu::harness::Session;
using kemu::harness::SessionOptions;
using kemu::e2e::check_ids;
using kemu::e2e::finding_value;
using kemu::e2e::run_bug_pair;
using kemu::verifier::Finding;

// What every pair's run keeps: its own steps (the probe's requests are not
// steps), every expect held, a clean stop and DriverUnload called.
void expect_undisturbed(const RunResult& r, size_t steps) {
  EXPECT_EQ(r.steps.size(), steps);
  for (const auto& st : r.steps) EXPECT_TRUE(st.expect_ok) << st.op;
  EXPECT_EQ(r.stop.reason, kemu::harness::StopReason::Completed) << r.stop.message;
  EXPECT_TRUE(r.unload.called);
  EXPECT_TRUE(r.unload.devices_left.empty());
  EXPECT_TRUE(r.probe.ran);
}

class RequestPairs : public ::testing::TestWithParam<std::string> {};

TEST_P(RequestPairs, TheFixedTwinHasNoFinding) {
  RunResult r = run_bug_pair("requests", GetParam(), "fixed");
  for (const auto& f : r.findings)
    ADD_FAILURE() << f.check << " at " << f.location.symbol << ": " << f.message;
  EXPECT_EQ(r.stop.reason, kemu::harness::StopReason::Completed) << r.stop.message;
  for (const auto& st : r.steps) EXPECT_TRUE(st.expect_ok) << st.op;
  EXPECT_TRUE(r.probe.ran);
  EXPECT_GT(r.probe.requests, 0u);
}

INSTANTIATE_TEST_SUITE_P(Samples, RequestPairs,
                         ::testing::Values("unhandled_success", "masked_ioctl", "use_after_cleanup",
                                           "insecure_open"));

// The IOCTL switch's default keeps STATUS_SUCCESS, and the routine installed
// for every other major function completes a volume query with success:
// one finding in each routine, at its IofCompleteRequest call.
TEST(RequestPairs, UnknownCodesAndUnsupportedRequestsAnsweredWithSuccess) {
  RunResult r = run_bug_pair("requests", "unhandled_success", "bug");
  expect_undisturbed(r, 4);
  EXPECT_EQ(check_ids(r), std::set<std::string>{"irp.unhandled-success"});
  ASSERT_EQ(r.findings.size(), 2u);
  const Finding& control = r.findings[0];
  EXPECT_EQ(control.location.module, "unhandled_success_bug.sys");
  EXPECT_EQ(control.location.symbol, "DispatchDeviceControl");
  EXPECT_NE(control.location.instruction.find("call"), std::string::npos)
      << control.location.instruction;
  EXPECT_EQ(control.context.major, "IRP_MJ_DEVICE_CONTROL");
  ASSERT_TRUE(control.context.ioctl.has_value());
  EXPECT_EQ(*control.context.ioctl,
            0x00223FFCu);  // CTL_CODE(FILE_DEVICE_UNKNOWN, 0xFFF, METHOD_BUFFERED, FILE_ANY_ACCESS)
  EXPECT_EQ(finding_value(control, "ioctl"), "0x00223ffc");
  EXPECT_EQ(finding_value(control, "status"), "0x00000000");
  EXPECT_EQ(finding_value(control, "information"), "0x0");
  EXPECT_EQ(finding_value(control, "dispatch").rfind("unhandled_success_bug.sys+0x", 0), 0u)
      << finding_value(control, "dispatch");
  EXPECT_EQ(control.count, 1u);
  const Finding& other = r.findings[1];
  EXPECT_EQ(other.location.symbol, "DispatchOther");
  EXPECT_EQ(other.context.major, "IRP_MJ_QUERY_VOLUME_INFORMATION");
  EXPECT_EQ(finding_value(other, "major"), "0xa");
  EXPECT_EQ(finding_value(other, "status"), "0x00000000");
  // 1 open, 4 unknown codes, 2 file-system requests, 2 scenario codes each
  // re-sent and varied twice, the close and the request after CLEANUP.
  EXPECT_EQ(r.probe.requests, 15u);
}

// Only the function number is compared: the reset code with another device
// type reaches the reset handler and is answered as the original.
TEST(RequestPairs, AMaskedControlCodeIsAnsweredLikeTheOriginal) {
  RunResult r = run_bug_pair("requests", "masked_ioctl", "bug");
  expect_undisturbed(r, 5);
  EXPECT_EQ(check_ids(r), std::set<std::string>{"irp.ioctl-code-masked"});
  ASSERT_EQ(r.findings.size(), 1u);
  const Finding& f = r.findings[0];
  EXPECT_EQ(f.location.symbol, "DispatchDeviceControl");
  EXPECT_EQ(f.context.major, "IRP_MJ_DEVICE_CONTROL");
  EXPECT_EQ(finding_value(f, "ioctl"), "0xc000b044");
  EXPECT_EQ(finding_value(f, "original_ioctl"), "0x8000b044");
  EXPECT_EQ(finding_value(f, "status"), "0x00000000");
  EXPECT_EQ(finding_value(f, "information"), "0x0");
  // The scenario's own reads saw the counter the scenario left: 1, then 2.
  EXPECT_EQ(r.steps[2].output_hex, "01000000");
  EXPECT_EQ(r.steps[3].output_hex, "02000000");
}

// The session block freed in CLEANUP is written by SessionAdd when a request
// that referenced the file object before the close arrives after CLEANUP.
TEST(RequestPairs, PerFileStateFreedInCleanupIsUsedByALaterRequest) {
  RunResult r = run_bug_pair("requests", "use_after_cleanup", "bug");
  expect_undisturbed(r, 4);
  EXPECT_EQ(check_ids(r), std::set<std::string>{"irp.use-after-cleanup"});
  ASSERT_EQ(r.findings.size(), 1u);
  const Finding& f = r.findings[0];
  EXPECT_EQ(f.location.module, "use_after_cleanup_bug.sys");
  EXPECT_EQ(f.location.symbol, "SessionAdd");
  EXPECT_EQ(f.context.major, "IRP_MJ_DEVICE_CONTROL");
  ASSERT_TRUE(f.context.ioctl.has_value());
  EXPECT_EQ(*f.context.ioctl, 0x80003080u);
  EXPECT_EQ(finding_value(f, "block_size"), "0xc");
  EXPECT_EQ(finding_value(f, "tag"), "0x7165524b");  // 'qeRK'
  EXPECT_EQ(finding_value(f, "freed_by"), "ExFreePoolWithTag");
  EXPECT_EQ(finding_value(f, "freed_at").rfind("use_after_cleanup_bug.sys+0x", 0), 0u)
      << finding_value(f, "freed_at");
  EXPECT_EQ(finding_value(f, "block"), finding_value(f, "address"));  // session->requests, the block's first field
  EXPECT_EQ(f.count, 1u);
}

// An administrators-only device without FILE_DEVICE_SECURE_OPEN: a standard
// user, refused \Device\KemuReq, opens \Device\KemuReq\kemu-probe.
TEST(RequestPairs, ANamespaceOpenPassesTheAdministratorsOnlyDescriptor) {
  RunResult r = run_bug_pair("requests", "insecure_open", "bug");
  expect_undisturbed(r, 3);
  EXPECT_EQ(check_ids(r), std::set<std::string>{"irp.insecure-open"});
  ASSERT_EQ(r.findings.size(), 1u);
  const Finding& f = r.findings[0];
  EXPECT_EQ(f.location.symbol, "CreateControlDevice");
  EXPECT_NE(f.location.instruction.find("call"), std::string::npos) << f.location.instruction;
  EXPECT_EQ(f.context.major, "IRP_MJ_CREATE");
  EXPECT_EQ(f.context.process, "client.exe");
  EXPECT_EQ(finding_value(f, "path"), "\\Device\\KemuReq\\kemu-probe");
  EXPECT_EQ(finding_value(f, "desired_access"), "0xc0000000");
  EXPECT_EQ(finding_value(f, "device_open_status"), "0xc0000022");
  EXPECT_EQ(finding_value(f, "characteristics"), "0x00000000");
}

// The probe is a check like any other: with its ids disabled nothing is sent.
TEST(RequestPairs, DisablingItsChecksTurnsTheProbeOff) {
  SessionOptions o;
  o.disabled_checks = {"irp.unhandled-success", "irp.ioctl-code-masked", "irp.insecure-open",
                       "irp.use-after-cleanup"};
  RunResult r = run_bug_pair("requests", "unhandled_success", "bug", o);
  EXPECT_FALSE(r.probe.ran);
  EXPECT_EQ(r.probe.requests, 0u);
  EXPECT_TRUE(r.findings.empty());
  // One id on: only its part runs (here the namespace open has no device to try).
  SessionOptions only;
  only.enabled_checks = {"irp.insecure-open"};
  RunResult o2 = run_bug_pair("requests", "unhandled_success", "bug", only);
  EXPECT_TRUE(o2.probe.ran);
  EXPECT_TRUE(o2.findings.empty());
}

// The reports say the probe ran and how many requests it sent; without
// its checks the JSON has no "probe" key.
TEST(RequestPairs, TheReportsSayWhatTheProbeSent) {
  RunResult r = run_bug_pair("requests", "unhandled_success", "fixed");
  EXPECT_NE(kemu::report::render_json(r, false).find("\"probe\":{\"requests\":15}"),
            std::string::npos);
  EXPECT_NE(kemu::report::render_text(r, false).find(
                "\nprobe          15 requests sent on a copy of the machine"),
            std::string::npos);
  SessionOptions o;
  o.disabled_checks = {"irp.unhandled-success", "irp.ioctl-code-masked", "irp.insecure-open",
                       "irp.use-after-cleanup"};
  RunResult off = run_bug_pair("requests", "unhandled_success", "fixed", o);
  EXPECT_EQ(kemu::report::render_json(off, false).find("\"probe\""), std::string::npos);
  EXPECT_EQ(kemu::report::render_text(off, false).find("\nprobe "), std::string::npos);
  // hello.sys handles no IRP_MJ_CREATE and its device is FILE_DEVICE_SECURE_OPEN: nothing to send.
  Session hello;
  RunResult h = hello.run(kemu::e2e::sample("hello"));
  EXPECT_TRUE(h.probe.ran);
  EXPECT_EQ(h.probe.requests, 0u);
  EXPECT_NE(kemu::report::render_text(h, false).find(
                "\nprobe          nothing to send (the run opened no device)\n"),
            std::string::npos);
}

}  // namespace
