// End-to-end through the C++ API: each sample driver (samples/*/README.md)
// runs in a fresh kemu::harness::Session and the RunResult must say exactly
// what the sample's README states.
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e/e2e_paths.h"
#include "harness/run_result.h"
#include "harness/session.h"
#include "report/json_report.h"

namespace kemu::e2e {
namespace {

using harness::RunResult;
using harness::Session;
using harness::SessionOptions;
using harness::StopReason;
using harness::UnimplementedPolicy;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;
using ::testing::Not;
using ::testing::StartsWith;

constexpr uint32_t kStatusSuccess = 0x00000000;
constexpr uint64_t kPreferredBase = 0x180000000;            // the samples' link-time ImageBase
constexpr uint64_t kSystemRangeStart = 0xFFFF800000000000;  // semantics.md §1

// Runs one sample with `options` in its own Session and returns a copy of the result.
RunResult run_sample(const std::string& name, SessionOptions options = {}) {
  Session session(options);
  return session.run(sample(name));
}

// Why a failing assertion on a run failed: the whole JSON report.
std::string describe(const RunResult& r) {
  return report::render_json(r);
}

// ---------------------------------------------------------------- hello

TEST(E2eHello, DriverEntrySucceedsAndCreatesDeviceAndLink) {
  RunResult r = run_sample("hello");
  SCOPED_TRACE(describe(r));
  EXPECT_EQ(r.stop.reason, StopReason::Completed);
  ASSERT_TRUE(r.driver_entry_status.has_value());
  EXPECT_EQ(*r.driver_entry_status, kStatusSuccess);

  ASSERT_EQ(r.devices.size(), 1u);
  EXPECT_EQ(r.devices[0].name, "\\Device\\KemuHello");
  EXPECT_THAT(r.devices[0].links, ElementsAre("\\??\\KemuHello"));
  EXPECT_EQ(r.devices[0].characteristics, 0x100u);  // FILE_DEVICE_SECURE_OPEN
  EXPECT_EQ(r.devices[0].device_type, 0x22u);       // FILE_DEVICE_UNKNOWN

  EXPECT_THAT(r.unimplemented, IsEmpty());
}

TEST(E2eHello, DebugOutputFormattedAsWindowsWould) {
  RunResult r = run_sample("hello");
  SCOPED_TRACE(describe(r));
  ASSERT_EQ(r.debug_output.size(), 5u);
  EXPECT_EQ(r.debug_output[0],
            "hello: DriverEntry "
            "registry=\\Registry\\Machine\\System\\CurrentControlSet\\Services\\hello");
  // %p: 16 uppercase hex digits, no 0x.
  EXPECT_THAT(r.debug_output[1], MatchesRegex("hello: DriverObject=[0-9A-F]{16}"));
  // %ws, %s, %x, %d through DbgPrintEx (recorded whatever the component and level).
  EXPECT_EQ(r.debug_output[2], "hello: wide narrow x=beef d=42 neg=-7");
  // %wZ twice.
  EXPECT_EQ(r.debug_output[3], "hello: created \\??\\KemuHello -> \\Device\\KemuHello");
  EXPECT_EQ(r.debug_output[4], "hello: unload (IoDeleteSymbolicLink 0x00000000)");
}

TEST(E2eHello, DriverObjectPrintedIsAKernelAddress) {
  RunResult r = run_sample("hello");
  ASSERT_GE(r.debug_output.size(), 2u);
  const std::string prefix = "hello: DriverObject=";
  ASSERT_THAT(r.debug_output[1], StartsWith(prefix));
  uint64_t driver_object = std::stoull(r.debug_output[1].substr(prefix.size()), nullptr, 16);
  EXPECT_GE(driver_object, kSystemRangeStart);
}

TEST(E2eHello, UnloadCalledAndNothingLeft) {
  RunResult r = run_sample("hello");
  SCOPED_TRACE(describe(r));
  EXPECT_TRUE(r.unload.has_unload_routine);
  EXPECT_TRUE(r.unload.called);
  EXPECT_THAT(r.unload.devices_left, IsEmpty());
  EXPECT_THAT(r.unload.links_left, IsEmpty());
}

TEST(E2eHello, DriverInfoDescribesTheMappedImage) {
  RunResult r = run_sample("hello");
  EXPECT_EQ(r.driver.path, sample("hello"));
  EXPECT_THAT(r.driver.sha256, MatchesRegex("[0-9a-f]{64}"));
  EXPECT_GE(r.driver.image_base, kSystemRangeStart);
  EXPECT_GT(r.driver.image_size, 0u);
  EXPECT_GT(r.driver.entry, r.driver.image_base);
  EXPECT_LT(r.driver.entry, r.driver.image_base + r.driver.image_size);
  EXPECT_GT(r.stats.instructions, 0u);
  EXPECT_GT(r.stats.api_calls, 0u);
}

TEST(E2eHello, StepByStepApiMatchesRun) {
  Session session;
  session.load(sample("hello"));
  std::optional<NtStatus> status = session.driver_entry();
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(*status, kStatusSuccess);
  EXPECT_FALSE(session.stopped());
  // After DriverEntry the device exists and DriverUnload has not run yet.
  {
    const RunResult& mid = session.result();
    ASSERT_EQ(mid.devices.size(), 1u);
    EXPECT_EQ(mid.devices[0].name, "\\Device\\KemuHello");
    EXPECT_FALSE(mid.unload.called);
    EXPECT_EQ(mid.debug_output.size(), 4u);
  }
  session.unload();
  const RunResult& r = session.result();
  EXPECT_TRUE(r.unload.called);
  EXPECT_THAT(r.unload.devices_left, IsEmpty());
  EXPECT_THAT(r.unload.links_left, IsEmpty());
  EXPECT_EQ(r.stop.reason, StopReason::Completed);
  EXPECT_EQ(r.debug_output.size(), 5u);
}

// Two runs of the same driver: identical reports except the wall clock.
TEST(E2eHello, RunsAreDeterministic) {
  auto report_without_wall_ms = [] {
    RunResult r = run_sample("hello");
    nlohmann::json j = nlohmann::json::parse(report::render_json(r));
    EXPECT_TRUE(j["stats"].contains("wall_ms"));
    j["stats"].erase("wall_ms");
    return j;
  };
  nlohmann::json first = report_without_wall_ms();
  nlohmann::json second = report_without_wall_ms();
  EXPECT_EQ(first, second) << "first:\n" << first.dump(2) << "\nsecond:\n" << second.dump(2);
}

// ---------------------------------------------------------------- unimplemented

TEST(E2eUnimplemented, FailPolicyReturnsNotImplementedAndCarriesOn) {
  RunResult r = run_sample("unimplemented");
  SCOPED_TRACE(describe(r));
  EXPECT_EQ(r.stop.reason, StopReason::Completed);
  ASSERT_TRUE(r.driver_entry_status.has_value());
  EXPECT_EQ(*r.driver_entry_status, kStatusSuccess);
  EXPECT_THAT(r.debug_output, ElementsAre("IoReportResourceForDetection returned 0xc0000002",
                                          "after unimplemented call"));
  ASSERT_EQ(r.unimplemented.size(), 1u);
  EXPECT_EQ(r.unimplemented[0].api, "ntoskrnl.exe!IoReportResourceForDetection");
  EXPECT_EQ(r.unimplemented[0].calls, 1u);
  EXPECT_FALSE(r.unimplemented[0].unknown_export);
  EXPECT_THAT(r.devices, IsEmpty());
}

TEST(E2eUnimplemented, StopPolicyEndsTheRunAtTheCall) {
  SessionOptions options;
  options.unimplemented = UnimplementedPolicy::Stop;
  RunResult r = run_sample("unimplemented", options);
  SCOPED_TRACE(describe(r));
  EXPECT_EQ(r.stop.reason, StopReason::Unimplemented);
  EXPECT_THAT(r.stop.message, ::testing::HasSubstr("IoReportResourceForDetection"));
  EXPECT_FALSE(r.driver_entry_status.has_value());
  EXPECT_THAT(r.debug_output, Not(::testing::Contains("after unimplemented call")));
  // The README: the run ends at the call, so neither line appears.
  EXPECT_THAT(r.debug_output, IsEmpty());
}

// ---------------------------------------------------------------- unknownimport

TEST(E2eUnknownImport, LenientLoadBindsAThunkListedAsUnimplemented) {
  RunResult r = run_sample("unknownimport");
  SCOPED_TRACE(describe(r));
  EXPECT_EQ(r.stop.reason, StopReason::Completed);
  ASSERT_TRUE(r.driver_entry_status.has_value());
  EXPECT_EQ(*r.driver_entry_status, kStatusSuccess);
  // The prototype is unknown, so the thunk returns 0.
  EXPECT_THAT(r.debug_output, ElementsAre("unknownimport: KemuNoSuchExport returned 0x00000000"));
  ASSERT_EQ(r.unimplemented.size(), 1u);
  EXPECT_EQ(r.unimplemented[0].api, "ntoskrnl.exe!KemuNoSuchExport");
  EXPECT_EQ(r.unimplemented[0].calls, 1u);
  EXPECT_TRUE(r.unimplemented[0].unknown_export);
}

TEST(E2eUnknownImport, StrictImportsRefusesTheLoad) {
  SessionOptions options;
  options.strict_imports = true;
  Session session(options);
  try {
    session.load(sample("unknownimport"));
    FAIL() << "load with strict_imports accepted an unknown import";
  } catch (const harness::SessionError& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("KemuNoSuchExport"));
  }
}

// ---------------------------------------------------------------- spin

TEST(E2eSpin, InstructionLimitStopsTheEndlessLoop) {
  SessionOptions options;
  options.max_instructions = 5'000'000;
  RunResult r = run_sample("spin", options);
  SCOPED_TRACE(describe(r));
  EXPECT_EQ(r.stop.reason, StopReason::InstructionLimit);
  EXPECT_FALSE(r.driver_entry_status.has_value());
  EXPECT_THAT(r.debug_output, ElementsAre("spin: entering endless loop"));
  EXPECT_GE(r.stats.instructions, 4'000'000u);
}

TEST(E2eSpin, TimeoutStopsTheEndlessLoop) {
  SessionOptions options;
  options.max_instructions = std::numeric_limits<uint64_t>::max() / 2;
  options.timeout_seconds = 1.0;
  RunResult r = run_sample("spin", options);
  SCOPED_TRACE(describe(r));
  EXPECT_EQ(r.stop.reason, StopReason::Timeout);
  EXPECT_FALSE(r.driver_entry_status.has_value());
  EXPECT_THAT(r.debug_output, ElementsAre("spin: entering endless loop"));
}

// ---------------------------------------------------------------- reloc

TEST(E2eReloc, RelocatedAwayFromThePreferredBase) {
  RunResult r = run_sample("reloc");
  SCOPED_TRACE(describe(r));
  EXPECT_EQ(r.stop.reason, StopReason::Completed);
  ASSERT_TRUE(r.driver_entry_status.has_value());
  EXPECT_EQ(*r.driver_entry_status, kStatusSuccess);
  EXPECT_NE(r.driver.image_base, kPreferredBase);
  EXPECT_GE(r.driver.image_base, kSystemRangeStart);
  EXPECT_THAT(
      r.debug_output,
      ElementsAre("reloc: 4 of 4 pointers inside the image", "reloc: first function called",
                  "reloc: second function called", "reloc: string \"kemu relocated string\""));
}

// ---------------------------------------------------------------- dataexports

TEST(E2eDataExports, ValuesMatchWindows10x64) {
  RunResult r = run_sample("dataexports");
  SCOPED_TRACE(describe(r));
  EXPECT_EQ(r.stop.reason, StopReason::Completed);
  ASSERT_TRUE(r.driver_entry_status.has_value());
  EXPECT_EQ(*r.driver_entry_status, kStatusSuccess);
  EXPECT_THAT(r.unimplemented, IsEmpty());
  const std::string ptr = "[0-9A-F]{16}";
  // semantics.md §1 (address space) and the README: build 19045, KUSER_SHARED_DATA 10.0.
  EXPECT_THAT(r.debug_output,
              ElementsAre("dataexports: MmUserProbeAddress=00007FFFFFFF0000",
                          "dataexports: MmHighestUserAddress=00007FFFFFFEFFFF",
                          "dataexports: MmSystemRangeStart=FFFF800000000000",
                          MatchesRegex("dataexports: NtBuildNumber=[0-9a-f]{4}4a65"),
                          MatchesRegex("dataexports: KeNumberProcessors=[1-9][0-9]*"),
                          MatchesRegex("dataexports: PsInitialSystemProcess=" + ptr),
                          MatchesRegex("dataexports: IoFileObjectType=" + ptr),
                          MatchesRegex("dataexports: PsProcessType=" + ptr),
                          "dataexports: KdDebuggerNotPresent=1 KdDebuggerEnabled=0",
                          "dataexports: SharedUserData version 10.0 build 19045",
                          MatchesRegex(
                              "dataexports: KeQuerySystemTime=0x[0-9a-f]+ KeQueryTickCount=[0-9]+"),
                          "dataexports: 0 mismatches"));
  // The three object pointers are non-NULL kernel addresses.
  for (size_t i : {5u, 6u, 7u}) {
    ASSERT_LT(i, r.debug_output.size());
    const std::string& line = r.debug_output[i];
    uint64_t value = std::stoull(line.substr(line.find('=') + 1), nullptr, 16);
    EXPECT_GE(value, kSystemRangeStart) << line;
  }
}

// ---------------------------------------------------------------- irql

TEST(E2eIrql, InlineCr8AccessIsEmulated) {
  RunResult r = run_sample("irql");
  SCOPED_TRACE(describe(r));
  EXPECT_EQ(r.stop.reason, StopReason::Completed);
  ASSERT_TRUE(r.driver_entry_status.has_value());
  EXPECT_EQ(*r.driver_entry_status, kStatusSuccess);
  EXPECT_THAT(r.debug_output,
              ElementsAre("irql: start 0", "irql: raised 2 (old 0)", "irql: lowered 0",
                          "irql: raised to dpc 2 (old 0)", "irql: end 0"));
}

// ---------------------------------------------------------------- compute

TEST(E2eCompute, PrintsTheHostComputedResult) {
  constexpr uint64_t kIterations = 10'000'000;
  RunResult r = run_sample("compute");
  SCOPED_TRACE(describe(r));
  EXPECT_EQ(r.stop.reason, StopReason::Completed);
  ASSERT_TRUE(r.driver_entry_status.has_value());
  EXPECT_EQ(*r.driver_entry_status, kStatusSuccess);
  EXPECT_THAT(r.debug_output,
              ElementsAre("compute: 10000000 iterations result 0x27ca18df4ddeca1b"));
  EXPECT_GT(r.stats.instructions, kIterations);
}

}  // namespace
}  // namespace kemu::e2e
