// The buffer bug pairs (samples/bugs/buffers): each buggy driver produces
// exactly the findings whose condition holds, located at the offending
// instruction of the exported routine that holds the mistake; its fixed twin
// produces no finding at all.
#include <gtest/gtest.h>

#include <algorithm>
#include <ostream>
#include <set>
#include <string>

#include "e2e/bug_pair.h"

namespace {

using kemu::harness::RunResult;
using kemu::e2e::check_ids;
using kemu::e2e::find_finding;
using kemu::e2e::run_bug_pair;

struct Pair {
  std::string name;
  std::set<std::string> checks;  // what the buggy driver must produce
  std::string routine;           // where the mistake is (the exported routine)
  std::string instruction;       // what the offending instruction does (a fault's read, a write)
};

KEMU_PRINT_PAIR_BY(Pair, name)

class BufferPairs : public ::testing::TestWithParam<Pair> {};

TEST_P(BufferPairs, TheBuggyDriverIsReportedWhereTheMistakeIs) {
  const Pair& p = GetParam();
  RunResult r = run_bug_pair("buffers", p.name, "bug");
  EXPECT_EQ(check_ids(r), p.checks);
  for (const auto& f : r.findings) {
    if (f.check == "crash.bugcheck") continue;
    EXPECT_EQ(f.count, 1u) << f.check;
    EXPECT_EQ(f.location.module, p.name + "_bug.sys") << f.check;
    EXPECT_EQ(f.location.symbol, p.routine) << f.check;
    EXPECT_NE(f.location.instruction.find(p.instruction), std::string::npos)
        << f.check << ": " << f.location.instruction;
    EXPECT_EQ(f.context.major, "IRP_MJ_DEVICE_CONTROL") << f.check;
    EXPECT_FALSE(f.message.empty()) << f.check;
    EXPECT_FALSE(f.title.empty()) << f.check;
  }
}

TEST_P(BufferPairs, TheFixedTwinHasNoFinding) {
  const Pair& p = GetParam();
  RunResult r = run_bug_pair("buffers", p.name, "fixed");
  for (const auto& f : r.findings) ADD_FAILURE() << f.check << ": " << f.message;
  EXPECT_EQ(r.stop.reason, kemu::harness::StopReason::Completed) << r.stop.message;
  for (const auto& st : r.steps) EXPECT_TRUE(st.expect_ok) << st.op;
}

INSTANTIATE_TEST_SUITE_P(
    Samples, BufferPairs,
    ::testing::Values(
        // MmGetSystemAddressForMdlSafe(NULL) reads NULL->MdlFlags: the fault bugchecks 0x3B.
        Pair{"null_mdl", {"buffer.null-mdl", "crash.bugcheck"}, "CopyVersion", "0xa]"},
        Pair{"write_read_locked",
             {"buffer.write-read-locked"},
             "WriteVersionToCaller",
             "mov dword ptr ["},
        // A 4-byte input read as an 8-byte record: the read runs into the system buffer's slack.
        Pair{"input_overread", {"buffer.input-overread"}, "ApplySettings", "mov"},
        // The NUL of a 7-character name copied (memcpy) into a 7-byte system buffer.
        Pair{"output_overflow", {"buffer.output-overflow"}, "CopyDeviceName", "call"},
        // A 4-byte METHOD_NEITHER input at a page's end read as an 8-byte record:
        // the read faults on the guard page, inside the driver's __try.
        Pair{"neither_overread", {"buffer.input-overread"}, "ReadCallerSettings", "mov"},
        // The NUL of a 7-character name copied through the mapping of a 7-byte MDL.
        Pair{"mdl_overflow", {"buffer.output-overflow"}, "CopyDeviceNameToMdl", "call"},
        // The I/O manager's MDL of a METHOD_IN_DIRECT request, locked for IoReadAccess, written.
        Pair{"in_direct_write", {"buffer.write-read-locked"}, "SendCallerData", "mov byte ptr ["}),
    [](const ::testing::TestParamInfo<Pair>& info) { return info.param.name; });

// The NULL MDL ends as Windows ends it: the driver's read of MdlFlags at
// address 0xA is an access violation nobody handles in a system service,
// SYSTEM_SERVICE_EXCEPTION (0x3B) at the same instruction; the first
// request, with an output buffer, went through.
TEST(BufferPairs, NullMdlFaultsAtMdlFlagsAndBugchecks0x3B) {
  RunResult r = run_bug_pair("buffers", "null_mdl", "bug");
  ASSERT_TRUE(r.stop.bugcheck.has_value());
  EXPECT_EQ(r.stop.bugcheck->code, 0x3Bu);
  EXPECT_EQ(r.stop.bugcheck->params[0], 0xC0000005u);
  const kemu::verifier::Finding* f = find_finding(r, "buffer.null-mdl");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(r.stop.bugcheck->params[1], r.driver.image_base + f->location.offset)
      << "P2 is the faulting instruction's address";
  EXPECT_EQ(r.stop.bugcheck->offset, f->location.offset);
  ASSERT_GE(r.steps.size(), 2u);
  EXPECT_TRUE(r.steps[1].expect_ok);
  EXPECT_EQ(r.steps[1].output_hex, "6b656d75");  // "kemu"
}

// The write goes through, as on Windows: the caller gets the version.
TEST(BufferPairs, AWriteThroughAReadLockedMappingStillReachesTheCaller) {
  RunResult r = run_bug_pair("buffers", "write_read_locked", "bug");
  EXPECT_EQ(r.stop.reason, kemu::harness::StopReason::Completed) << r.stop.message;
  ASSERT_GE(r.steps.size(), 2u);
  EXPECT_TRUE(r.steps[1].expect_ok);
  EXPECT_EQ(r.steps[1].output_hex, "02000100");  // 0x00010002
  const kemu::verifier::Finding* f = find_finding(r, "buffer.write-read-locked");
  ASSERT_NE(f, nullptr);
  EXPECT_NE(std::find(f->values.begin(), f->values.end(),
                      std::pair<std::string, std::string>{"operation", "IoReadAccess"}),
            f->values.end());
  EXPECT_NE(std::find(f->values.begin(), f->values.end(),
                      std::pair<std::string, std::string>{"size", "4"}),
            f->values.end());
}

// The overread of a page_end METHOD_NEITHER input faults on the guard page;
// the driver's own __except turns it into the request's status, as on Windows.
TEST(BufferPairs, ANeitherOverreadFaultsIntoTheDriversExceptHandler) {
  RunResult r = run_bug_pair("buffers", "neither_overread", "bug");
  EXPECT_EQ(r.stop.reason, kemu::harness::StopReason::Completed) << r.stop.message;
  ASSERT_GE(r.steps.size(), 3u);
  ASSERT_TRUE(r.steps[2].status.has_value());
  EXPECT_EQ(*r.steps[2].status, 0xC0000005u);
  const kemu::verifier::Finding* f = find_finding(r, "buffer.input-overread");
  ASSERT_NE(f, nullptr);
  EXPECT_NE(std::find(f->values.begin(), f->values.end(),
                      std::pair<std::string, std::string>{"offset", "0x4"}),
            f->values.end());
  EXPECT_NE(std::find(f->values.begin(), f->values.end(),
                      std::pair<std::string, std::string>{"input_buffer_length", "4"}),
            f->values.end());
}

}  // namespace
