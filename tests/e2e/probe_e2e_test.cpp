// End-to-end: probing user buffers and MDLs (samples/probe), checked against
// semantics.md §4 and Microsoft's pages for ProbeForRead, ProbeForWrite,
// IoAllocateMdl, MmBuildMdlForNonPagedPool, MmProbeAndLockPages,
// MmMapLockedPagesSpecifyCache and MmGetSystemAddressForMdlSafe.
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "e2e_paths.h"
#include "harness/session.h"
#include "report/json_report.h"

namespace {

using kemu::harness::RunResult;
using kemu::harness::Session;
using kemu::harness::StopReason;
using ::testing::ElementsAreArray;
using ::testing::IsEmpty;
using ::testing::Not;

// README: the lines probe.sys prints, in order.
const std::vector<std::string> kProbeLines = {
    // Length 0: nothing checked, not even a misaligned kernel address.
    "probe: length 0 raised nothing",
    // STATUS_DATATYPE_MISALIGNMENT for 0x10002 with Alignment 4.
    "probe: misaligned 0x80000002",
    // Past MmUserProbeAddress: STATUS_ACCESS_VIOLATION as a write to
    // MmUserProbeAddress itself (ExceptionInformation = {1, 0x7FFFFFFF0000}).
    "probe: crossing MmUserProbeAddress 0xc0000005 access 1 address 0x7fffffff0000",
    "probe: kernel buffer 0xc0000005 access 1 address 0x7fffffff0000",
    // ProbeForWrite reads then rewrites a byte of each page: the unmapped
    // page faults on the read, at its address.
    "probe: write of an unmapped page 0xc0000005 access 0 address 0x10000",
    // ProbeForRead touches no page.
    "probe: read of an unmapped page raised nothing",
    // IoAllocateMdl (fixed size 0x8) + MmBuildMdlForNonPagedPool (0x4):
    // MmGetSystemAddressForMdlSafe is MappedSystemVa, the buffer.
    "probe: pool mdl flags 0xc bytes 64 system address is the buffer: yes",
    // Locked for reading (0x2), mapped (0x1) at a new address with the same
    // byte offset over the same bytes and "physical" pages; the inline
    // MmGetSystemAddressForMdlSafe then returns MappedSystemVa.
    "probe: read lock flags 0xa mapped flags 0xb new address yes same offset yes same bytes yes "
    "same physical "
    "yes safe yes",
    "probe: read unmapped flags 0xa", "probe: read unlocked flags 0x8",
    // IoModifyAccess adds MDL_WRITE_OPERATION (0x80); writes through the
    // mapping reach the buffer.
    "probe: modify lock flags 0x8a mapped flags 0x8b new address yes same offset yes same bytes "
    "yes same "
    "physical yes safe yes",
    "probe: modify unmapped flags 0x8a", "probe: modify unlocked flags 0x88",
    // UserMode: unmapped user pages and kernel buffers are refused with
    // ExRaiseStatus(STATUS_ACCESS_VIOLATION) (no parameters); the MDL stays unlocked.
    "probe: user lock of an unmapped page 0xc0000005 parameters 0 flags 0x8",
    "probe: user lock of a kernel buffer 0xc0000005", "probe: done"};

TEST(E2eProbe, ProbesAndMdlsBehaveAsWindowsDocuments) {
  Session session;
  const RunResult& r = session.run(kemu::e2e::sample("probe"));
  SCOPED_TRACE(kemu::report::render_json(r));
  EXPECT_EQ(r.stop.reason, StopReason::Completed) << r.stop.message;
  EXPECT_FALSE(r.stop.bugcheck.has_value());
  ASSERT_TRUE(r.driver_entry_status.has_value());
  EXPECT_EQ(*r.driver_entry_status, 0u);
  EXPECT_THAT(r.debug_output, ElementsAreArray(kProbeLines));
  EXPECT_THAT(r.unimplemented, IsEmpty());
}

// As on Windows without Verifier, the system mapping of pages locked for
// IoReadAccess is writable: the write goes through and the run completes
// (reporting it is the verifier's buffer.write-read-locked check).
TEST(E2eProbe, WriteThroughReadLockedMappingGoesThroughAsOnWindows) {
  Session session;
  const RunResult& r = session.run(kemu::e2e::sample("probe_write_read_locked"));
  SCOPED_TRACE(kemu::report::render_json(r));
  std::vector<std::string> expected = kProbeLines;
  expected.push_back("probe: writing through a read-locked mapping");
  expected.push_back("probe: survived the write");
  EXPECT_THAT(r.debug_output, ElementsAreArray(expected));
  EXPECT_EQ(r.stop.reason, StopReason::Completed);
  // The verifier reports the write at the driver's store, outside any request.
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].check, "buffer.write-read-locked");
  EXPECT_EQ(r.findings[0].location.module, "probe_write_read_locked.sys");
  EXPECT_NE(r.findings[0].location.instruction.find("mov byte ptr ["), std::string::npos)
      << r.findings[0].location.instruction;
  EXPECT_EQ(r.findings[0].context.major, "");
}

}  // namespace
