// End-to-end: the probe.* sample pairs of samples/bugs/probes, each run with
// its scenario. The buggy driver produces exactly the expected check ids, at
// the expected functions (exported by the samples, so the report names
// them); its fixed twin produces no finding at all.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "e2e/bug_pair.h"
#include "emulator/types.h"

namespace {

using kemu::harness::RunResult;

using Place = std::pair<std::string, std::string>;  // check id, function

struct PairCase {
  std::string pair;              // samples/bugs/probes/<pair>.c, <pair>.yaml
  std::set<Place> bug_findings;  // every (check, function) the bug build must produce, nothing else
  std::vector<uint32_t> ioctls;  // the control codes the findings' requests carry
};

KEMU_PRINT_PAIR_BY(PairCase, pair)

// The probes pairs' samples are named probes_<pair>_<twin>.
RunResult run(const std::string& pair, const std::string& twin) {
  return kemu::e2e::run_bug_pair("probes", pair, twin, {}, "probes_");
}

std::string describe(const RunResult& r) {
  std::string out;
  for (const auto& f : r.findings)
    out += f.check + " at " + f.location.module + "!" + f.location.symbol + " (" +
           f.location.instruction + "): " + f.message + "\n";
  return out;
}

class ProbePairs : public ::testing::TestWithParam<PairCase> {};

TEST_P(ProbePairs, TheBugBuildHasExactlyTheExpectedFindings) {
  const PairCase& c = GetParam();
  RunResult r = run(c.pair, "bug");
  EXPECT_EQ(r.stop.reason, kemu::harness::StopReason::Completed) << r.stop.message;
  std::set<Place> seen;
  for (const auto& f : r.findings) {
    seen.insert({f.check, f.location.symbol});
    EXPECT_EQ(f.location.module, "probes_" + c.pair + "_bug.sys") << f.check;
    EXPECT_NE(f.location.offset, 0u) << f.check;
    EXPECT_FALSE(f.location.instruction.empty()) << f.check;
    EXPECT_EQ(f.severity, "error") << f.check;
    EXPECT_GE(f.count, 1u);
    EXPECT_FALSE(f.message.empty());
    EXPECT_EQ(f.context.process, "client.exe");
    EXPECT_EQ(f.context.major, "IRP_MJ_DEVICE_CONTROL");
    ASSERT_TRUE(f.context.ioctl.has_value());
    EXPECT_NE(std::find(c.ioctls.begin(), c.ioctls.end(), *f.context.ioctl), c.ioctls.end())
        << f.check;
  }
  EXPECT_EQ(seen, c.bug_findings) << describe(r);
}

TEST_P(ProbePairs, TheFixedBuildHasNoFinding) {
  const PairCase& c = GetParam();
  RunResult r = run(c.pair, "fixed");
  EXPECT_EQ(r.stop.reason, kemu::harness::StopReason::Completed) << r.stop.message;
  EXPECT_TRUE(r.findings.empty()) << describe(r);
}

TEST_P(ProbePairs, BothBuildsAnswerTheScenarioAsItExpects) {
  const PairCase& c = GetParam();
  for (const char* twin : {"bug", "fixed"}) {
    RunResult r = run(c.pair, twin);
    for (const auto& st : r.steps) EXPECT_TRUE(st.expect_ok) << twin << " " << st.op;
  }
}

INSTANTIATE_TEST_SUITE_P(
    SamplesBugsProbes, ProbePairs,
    ::testing::Values(
        // METHOD_NEITHER without a probe: the two reads of the input, the write of the sum.
        PairCase{"missing", {{"probe.missing", "add_values"}}, {0x80002403}},
        // Probes and copy with no __try: the two probe calls and the copy's accesses.
        PairCase{"outside_try",
                 {{"probe.outside-try", "probe_and_copy"}, {"probe.outside-try", "copy_record"}},
                 {0x80002407}},
        // Length checked by validate_message, read again by store_message.
        PairCase{"double_fetch", {{"probe.double-fetch", "store_message"}}, {0x8000240B}},
        // Irp->UserBuffer on a kernel page, written without a probe.
        PairCase{
            "kernel_address", {{"probe.kernel-address-accepted", "write_version"}}, {0x8000240F}},
        // The pointer inside the buffered request, copied through with RtlCopyMemory.
        PairCase{"embedded_pointer",
                 {{"probe.missing", "fetch_data"}, {"probe.embedded-pointer", "fetch_data"}},
                 {0x80002410}},
        // Irp->UserBuffer handed to ZwQueryValueKey; the caller's name as ZwOpenKey's ObjectName
        // buffer.
        PairCase{"user_pointer_to_zw",
                 {{"probe.user-pointer-to-zw", "query_version"},
                  {"probe.user-pointer-to-zw", "open_subkey"}},
                 {0x80002417, 0x80002423}},
        // IoBuildDeviceIoControlRequest over, and IoAllocateIrp carrying, the caller's buffer.
        PairCase{"kernel_irp_user_buffer",
                 {{"probe.kernel-irp-user-buffer", "read_lower"},
                  {"probe.kernel-irp-user-buffer", "size_lower"}},
                 {0x8000241B, 0x8000241F}}),
    [](const ::testing::TestParamInfo<PairCase>& info) { return info.param.pair; });

// The findings' values name what was wrong.
TEST(ProbePairDetails, TheDoubleFetchNamesTheFirstRead) {
  RunResult r = run("double_fetch", "bug");
  ASSERT_EQ(r.findings.size(), 1u) << describe(r);
  const auto& v = r.findings[0].values;
  auto value = [&](const std::string& key) {
    for (const auto& [k, val] : v)
      if (k == key) return val;
    return std::string();
  };
  EXPECT_EQ(value("first_read"), "probes_double_fetch_bug.sys!validate_message");
  EXPECT_EQ(value("size"), "4");
  EXPECT_EQ(value("access"), "read");
}

TEST(ProbePairDetails, TheKernelAddressIsTheClientsKernelPageAndOnlyTheFixedBuildRefusesIt) {
  {
    RunResult r = run("kernel_address", "bug");
    ASSERT_EQ(r.findings.size(), 1u) << describe(r);
    const auto& v = r.findings[0].values;
    ASSERT_FALSE(v.empty());
    EXPECT_EQ(v[0].first, "address");
    uint64_t address = std::stoull(v[0].second, nullptr, 16);
    EXPECT_GE(address, kemu::layout::kClientKernelBuffers);
    EXPECT_LT(address, kemu::layout::kClientKernelBuffersEnd);
    ASSERT_EQ(r.steps.size(), 4u);
    EXPECT_EQ(r.steps[1].status, std::optional<uint32_t>(0x00000000));
    EXPECT_EQ(r.steps[1].output_hex, "02000100")
        << "the driver's version, written into the kernel page";
  }
  {
    RunResult r = run("kernel_address", "fixed");
    ASSERT_EQ(r.steps.size(), 4u);
    EXPECT_EQ(r.steps[1].status, std::optional<uint32_t>(0xC0000005));  // ProbeForWrite raised
    EXPECT_EQ(r.steps[1].output_hex, "00000000");
  }
}

TEST(ProbePairDetails, TheEmbeddedPointerIsTheClientsBuffer) {
  RunResult r = run("embedded_pointer", "bug");
  ASSERT_EQ(r.steps.size(), 5u);
  EXPECT_EQ(r.steps[1].op, "buffer");
  const std::string src = r.steps[1].target;  // the buffer's address
  bool found = false;
  for (const auto& f : r.findings) {
    if (f.check != "probe.embedded-pointer") continue;
    found = true;
    for (const auto& [k, val] : f.values) {
      if (k == "pointer" || k == "address") {
        EXPECT_EQ(val, src) << k;
      } else if (k == "routine") {
        EXPECT_EQ(val, "memcpy");
      }
    }
  }
  EXPECT_TRUE(found) << describe(r);
  EXPECT_EQ(r.debug_output, (std::vector<std::string>{"embedded: 8 bytes fetched"}));
}

}  // namespace
