// End-to-end: the client drives samples/methods through NtDeviceIoControlFile.
#include <cstring>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "e2e_paths.h"
#include "harness/session.h"

namespace {

using kemu::harness::Session;

constexpr uint32_t kBufferedUpper = 0x80002000;
constexpr uint32_t kNeitherUpper = 0x80002007;
constexpr uint32_t kNeedsWrite = 0x8000A008;
constexpr uint32_t kInfo = 0x8000200C;
constexpr uint32_t kOutDirectUpper = 0x80002012;
constexpr uint32_t kInDirectSum = 0x80002015;
constexpr uint32_t kNeitherStoreUlong = 0x8000201B;
constexpr uint32_t kNeitherUnguarded = 0x8000201F;
constexpr uint32_t kInDirectRecord = 0x80002021;
constexpr uint32_t kOutDirectRecord = 0x80002026;
constexpr uint32_t kLastDirect = 0x80002028;
constexpr uint32_t kGenericRead = 0x80000000, kGenericWrite = 0x40000000;

struct MethodsInfo {
  uint32_t requestor_mode, previous_mode;
  uint64_t process_id;
  uint32_t creates, cleanups, closes, input_length, output_length, pad;
  uint64_t system_buffer;
  uint32_t system_buffer_is_kernel, pattern_byte;
};
static_assert(sizeof(MethodsInfo) == 56);

// samples/methods DIRECT_INFO: the MDL of the last IN/OUT_DIRECT "record" request.
struct DirectInfo {
  uint32_t requests, mdl_present, byte_count, byte_offset, mdl_flags, mdl_size;
  uint64_t start_va, virtual_address, system_buffer;
  uint32_t in_len, out_len, process_is_current, pad;
};
static_assert(sizeof(DirectInfo) == 64);

// MDL flags the I/O manager's MmProbeAndLockPages leaves (wdm.h).
constexpr uint32_t kMdlPagesLocked = 0x2, kMdlAllocatedFixedSize = 0x8, kMdlWriteOperation = 0x80;

std::vector<uint8_t> bytes(const char* s) { return std::vector<uint8_t>(s, s + std::strlen(s)); }

class E2eMethods : public ::testing::Test {
 protected:
  void SetUp() override {
    session_.load(kemu::e2e::sample("methods"));
    ASSERT_EQ(session_.driver_entry(), 0u);
    auto o = session_.open("\\\\.\\KemuMethods", kGenericRead | kGenericWrite);
    ASSERT_EQ(o.status, 0u);
    handle_ = o.handle;
  }

  MethodsInfo info(uint64_t handle, std::vector<uint8_t> input = {}) {
    Session::IoctlRequest rq;
    rq.handle = handle;
    rq.code = kInfo;
    rq.input = std::move(input);
    rq.output_length = sizeof(MethodsInfo);
    auto r = session_.ioctl(rq);
    EXPECT_EQ(r.status, 0u);
    EXPECT_EQ(r.information, sizeof(MethodsInfo));
    MethodsInfo mi{};
    if (r.output.size() == sizeof(mi)) std::memcpy(&mi, r.output.data(), sizeof(mi));
    return mi;
  }

  // Sends an IN/OUT_DIRECT "record" request and returns what the driver saw.
  DirectInfo record_direct(uint32_t code, uint32_t output_length, Session::Placement placement,
                           std::vector<uint8_t> input = {}, uint64_t* output_address = nullptr,
                           uint32_t* status = nullptr) {
    Session::IoctlRequest rq;
    rq.handle = handle_;
    rq.code = code;
    rq.input = std::move(input);
    rq.output_length = output_length;
    rq.output_placement = placement;
    auto r = session_.ioctl(rq);
    if (output_address) *output_address = r.output_address;
    if (status) *status = r.status.value_or(0xFFFFFFFF);
    else EXPECT_EQ(r.status, 0u);
    Session::IoctlRequest last;
    last.handle = handle_;
    last.code = kLastDirect;
    last.output_length = sizeof(DirectInfo);
    auto l = session_.ioctl(last);
    EXPECT_EQ(l.status, 0u);
    DirectInfo di{};
    if (l.output.size() == sizeof(di)) std::memcpy(&di, l.output.data(), sizeof(di));
    return di;
  }

  Session session_;
  uint64_t handle_ = 0;
};

TEST_F(E2eMethods, BufferedCopiesInformationBytesBack) {
  Session::IoctlRequest rq;
  rq.handle = handle_;
  rq.code = kBufferedUpper;
  rq.input = bytes("hello");
  rq.output = bytes("zzzzzzzz");
  rq.output_length = 8;
  auto r = session_.ioctl(rq);
  ASSERT_EQ(r.status, 0u);
  EXPECT_EQ(r.information, 5u);
  // Exactly Information bytes come back; the rest of the caller's buffer is untouched.
  EXPECT_EQ(std::string(r.output.begin(), r.output.end()), "HELLOzzz");
  EXPECT_LT(r.input_address, 0x7FFFFFFF0000ull);
}

TEST_F(E2eMethods, DispatchRunsInTheClientWithUserModeRequestor) {
  MethodsInfo mi = info(handle_, {1, 2, 3, 4});
  EXPECT_EQ(mi.requestor_mode, 1u);  // Irp->RequestorMode: UserMode
  EXPECT_EQ(mi.previous_mode, 1u);   // ExGetPreviousMode(): UserMode
  EXPECT_EQ(mi.process_id, 0x1234u);  // the client process is current
  EXPECT_EQ(mi.creates, 1u);
  EXPECT_EQ(mi.input_length, 4u);
  EXPECT_EQ(mi.output_length, sizeof(MethodsInfo));
  // METHOD_BUFFERED: a kernel buffer of max(in, out); past the input, not initialised.
  EXPECT_EQ(mi.system_buffer_is_kernel, 1u);
  EXPECT_EQ(mi.pattern_byte, 0xCDu);
}

TEST_F(E2eMethods, WriteAccessIoctlOnAReadOnlyHandleIsDeniedBeforeTheDriver) {
  auto ro = session_.open("\\\\.\\KemuMethods", kGenericRead);
  ASSERT_EQ(ro.status, 0u);
  Session::IoctlRequest rq;
  rq.handle = ro.handle;
  rq.code = kNeedsWrite;
  EXPECT_EQ(session_.ioctl(rq).status, 0xC0000022u);  // STATUS_ACCESS_DENIED
  rq.handle = handle_;
  EXPECT_EQ(session_.ioctl(rq).status, 0u);
}

TEST_F(E2eMethods, NeitherPassesTheCallersPointers) {
  Session::IoctlRequest rq;
  rq.handle = handle_;
  rq.code = kNeitherUpper;
  rq.input = bytes("abc");
  rq.output_length = 3;
  auto r = session_.ioctl(rq);
  ASSERT_EQ(r.status, 0u);
  EXPECT_EQ(std::string(r.output.begin(), r.output.end()), "ABC");
}

TEST_F(E2eMethods, CleanupOnLastHandleCloseOnLastReference) {
  auto second = session_.open("\\Device\\KemuMethods");
  ASSERT_EQ(second.status, 0u);
  EXPECT_EQ(session_.close(second.handle), 0u);
  MethodsInfo mi = info(handle_);
  EXPECT_EQ(mi.creates, 2u);
  EXPECT_EQ(mi.cleanups, 1u);
  EXPECT_EQ(mi.closes, 1u);
}

TEST_F(E2eMethods, OutDirectWritesTheCallersPagesThroughTheMdl) {
  Session::IoctlRequest rq;
  rq.handle = handle_;
  rq.code = kOutDirectUpper;
  rq.input = bytes("direct");
  rq.output_length = 6;
  rq.output_placement = Session::Placement::PageEnd;  // the MDL ends on the last byte of a page
  auto r = session_.ioctl(rq);
  ASSERT_EQ(r.status, 0u);
  EXPECT_EQ(r.information, 6u);
  EXPECT_EQ(std::string(r.output.begin(), r.output.end()), "DIRECT");
}

TEST_F(E2eMethods, ZeroLengthDirectOutputHasNoMdl) {
  Session::IoctlRequest rq;
  rq.handle = handle_;
  rq.code = kOutDirectUpper;
  rq.input = bytes("x");
  EXPECT_EQ(session_.ioctl(rq).status, 0xC000000Du);  // the driver saw MdlAddress == NULL
}

TEST_F(E2eMethods, InDirectReadsTheCallersBytesThroughTheMdl) {
  Session::IoctlRequest rq;
  rq.handle = handle_;
  rq.code = kInDirectSum;
  rq.output = {1, 2, 3, 250};
  rq.output_length = 4;
  auto r = session_.ioctl(rq);
  ASSERT_EQ(r.status, 0u);
  EXPECT_EQ(r.information, 256u);
}

// The MDL describes the caller's output buffer exactly: StartVa is its page,
// ByteOffset its offset in that page, ByteCount the output length, Size the
// MDL header plus one PFN per page spanned; the pages are locked for read
// (IN_DIRECT) or write (OUT_DIRECT) in the client process.
TEST_F(E2eMethods, DirectMdlDescribesAMisalignedOutputBuffer) {
  uint64_t out = 0;
  DirectInfo di = record_direct(kOutDirectRecord, 0x1000, Session::Placement::Misaligned, bytes("in"), &out);
  ASSERT_EQ(di.mdl_present, 1u);
  EXPECT_EQ(out & 0xFFF, 1u);
  EXPECT_EQ(di.byte_count, 0x1000u);
  EXPECT_EQ(di.byte_offset, 1u);
  EXPECT_EQ(di.start_va, out & ~0xFFFull);
  EXPECT_EQ(di.virtual_address, out);
  EXPECT_EQ(di.mdl_size, 0x30u + 2 * 8);  // one byte into a second page
  EXPECT_EQ(di.mdl_flags, kMdlPagesLocked | kMdlAllocatedFixedSize | kMdlWriteOperation);
  EXPECT_EQ(di.process_is_current, 1u);
  EXPECT_EQ(di.in_len, 2u);
  EXPECT_EQ(di.out_len, 0x1000u);
  EXPECT_GE(di.system_buffer, 0xFFFF800000000000ull);  // the input in a kernel system buffer
}

TEST_F(E2eMethods, DirectMdlOfAPageEndBuffer) {
  uint64_t out = 0;
  DirectInfo di = record_direct(kOutDirectRecord, 6, Session::Placement::PageEnd, {}, &out);
  ASSERT_EQ(di.mdl_present, 1u);
  EXPECT_EQ(di.byte_count, 6u);
  EXPECT_EQ(di.byte_offset, 0xFFAu);  // the 6 bytes end on the last byte of the page
  EXPECT_EQ(di.virtual_address, out);
  EXPECT_EQ(di.mdl_size, 0x30u + 8);
  EXPECT_EQ(di.system_buffer, 0u);  // no input: no system buffer
}

TEST_F(E2eMethods, InDirectLocksForReadOutDirectForWrite) {
  DirectInfo in = record_direct(kInDirectRecord, 16, Session::Placement::Normal);
  ASSERT_EQ(in.mdl_present, 1u);
  EXPECT_EQ(in.byte_offset, 0u);
  EXPECT_EQ(in.mdl_flags, kMdlPagesLocked | kMdlAllocatedFixedSize);  // IoReadAccess: no MDL_WRITE_OPERATION
  DirectInfo out = record_direct(kOutDirectRecord, 16, Session::Placement::Normal);
  EXPECT_EQ(out.mdl_flags, kMdlPagesLocked | kMdlAllocatedFixedSize | kMdlWriteOperation);
  EXPECT_EQ(out.requests, 2u);
  // A read-only page can be locked for read, not for write: the OUT_DIRECT
  // probe fails before any IRP reaches the driver.
  DirectInfo ro = record_direct(kInDirectRecord, 16, Session::Placement::ReadOnly);
  EXPECT_EQ(ro.requests, 3u);
  EXPECT_EQ(ro.mdl_present, 1u);
  uint32_t status = 0;
  DirectInfo denied = record_direct(kOutDirectRecord, 16, Session::Placement::ReadOnly, {}, nullptr, &status);
  EXPECT_EQ(status, 0xC0000005u);  // STATUS_ACCESS_VIOLATION
  EXPECT_EQ(denied.requests, 3u);  // the driver was not called
}

TEST_F(E2eMethods, ZeroLengthDirectOutputsHaveNoMdlForEitherMethod) {
  DirectInfo in = record_direct(kInDirectRecord, 0, Session::Placement::Normal, bytes("abc"));
  EXPECT_EQ(in.requests, 1u);
  EXPECT_EQ(in.mdl_present, 0u);
  EXPECT_EQ(in.in_len, 3u);
  EXPECT_NE(in.system_buffer, 0u);
  DirectInfo out = record_direct(kOutDirectRecord, 0, Session::Placement::Normal);
  EXPECT_EQ(out.requests, 2u);
  EXPECT_EQ(out.mdl_present, 0u);
  EXPECT_EQ(out.system_buffer, 0u);
}

TEST_F(E2eMethods, DirectIoWithAnUnmappedBufferFailsTheProbe) {
  Session::IoctlRequest rq;
  rq.handle = handle_;
  rq.code = kOutDirectUpper;
  rq.input = bytes("abc");
  rq.output_length = 3;
  rq.output_placement = Session::Placement::Unmapped;
  EXPECT_EQ(session_.ioctl(rq).status, 0xC0000005u);  // MmProbeAndLockPages fails: STATUS_ACCESS_VIOLATION
}

TEST_F(E2eMethods, BufferedReadsAndWritesShareTheFilePosition) {
  // A synchronous handle without an offset reads and writes at the file position.
  auto r1 = session_.read(handle_, 4);
  ASSERT_EQ(r1.status, 0u);
  EXPECT_EQ(std::string(r1.output.begin(), r1.output.end()), "kemu");
  auto r2 = session_.read(handle_, 4);
  EXPECT_EQ(std::string(r2.output.begin(), r2.output.end()), "-met");
  auto w = session_.write(handle_, bytes("XY"), 0);  // an explicit offset
  ASSERT_EQ(w.status, 0u);
  EXPECT_EQ(w.information, 2u);
  auto r3 = session_.read(handle_, 64, 0);
  EXPECT_EQ(std::string(r3.output.begin(), r3.output.end()), "XYmu-methods");
  auto eof = session_.read(handle_, 4, 100);
  EXPECT_EQ(eof.status, 0xC000000Du);  // STATUS_INVALID_PARAMETER from the driver
}

// Two handles to one file object (NtDuplicateObject): IRP_MJ_CLEANUP only
// when the last handle closes, IRP_MJ_CLOSE when the last reference goes.
TEST_F(E2eMethods, CleanupAndCloseWaitForTheLastOfTwoHandles) {
  auto first = session_.open("\\Device\\KemuMethods");
  ASSERT_EQ(first.status, 0u);
  auto second = session_.duplicate(first.handle, 2 /* DUPLICATE_SAME_ACCESS */);
  ASSERT_EQ(second.status, 0u);
  EXPECT_NE(second.handle, first.handle);
  EXPECT_EQ(session_.close(first.handle), 0u);
  MethodsInfo mi = info(handle_);
  EXPECT_EQ(mi.creates, 2u);   // one IRP_MJ_CREATE per file object, not per handle
  EXPECT_EQ(mi.cleanups, 0u);  // a handle to the file object is still open
  EXPECT_EQ(mi.closes, 0u);
  EXPECT_EQ(session_.close(second.handle), 0u);
  mi = info(handle_);
  EXPECT_EQ(mi.cleanups, 1u);
  EXPECT_EQ(mi.closes, 1u);
}

// Duplicating a file handle asks only for rights the source has, unless SAME_ACCESS.
TEST_F(E2eMethods, DuplicatingAFileHandleForMoreAccessIsDenied) {
  auto ro = session_.open("\\\\.\\KemuMethods", kGenericRead);
  ASSERT_EQ(ro.status, 0u);
  EXPECT_EQ(session_.duplicate(ro.handle, 0, kGenericWrite).status, 0xC0000022u);
  // DUPLICATE_CLOSE_SOURCE closes the source even when the duplication fails.
  EXPECT_EQ(session_.duplicate(ro.handle, 1, kGenericWrite).status, 0xC0000022u);
  EXPECT_EQ(session_.close(ro.handle), 0xC0000008u);
}

TEST_F(E2eMethods, AReadOnlyHandleCannotWrite) {
  auto ro = session_.open("\\\\.\\KemuMethods", kGenericRead);
  ASSERT_EQ(ro.status, 0u);
  EXPECT_EQ(session_.write(ro.handle, bytes("no")).status, 0xC0000022u);
}

// METHOD_NEITHER with ProbeForWrite(UserBuffer, 4, sizeof(ULONG)) and the
// store in __try, run with every placement of the output buffer: the status
// Windows gives through the driver's own __except.
struct PlacementCase {
  Session::Placement placement;
  uint32_t status;
};

class E2eMethodsPlacement : public E2eMethods, public ::testing::WithParamInterface<PlacementCase> {};

TEST_P(E2eMethodsPlacement, NeitherProbeAndStoreGivesTheWindowsStatus) {
  Session::IoctlRequest rq;
  rq.handle = handle_;
  rq.code = kNeitherStoreUlong;
  rq.output_length = 4;
  rq.output_placement = GetParam().placement;
  auto r = session_.ioctl(rq);
  EXPECT_EQ(r.status, GetParam().status);
  EXPECT_FALSE(session_.stopped());
}

INSTANTIATE_TEST_SUITE_P(
    EveryPlacement, E2eMethodsPlacement,
    ::testing::Values(
        PlacementCase{Session::Placement::Normal, 0x00000000},
        PlacementCase{Session::Placement::PageEnd, 0x00000000},
        // ProbeForWrite touches the page: NULL and unmapped pages fault.
        PlacementCase{Session::Placement::Null, 0xC0000005},
        PlacementCase{Session::Placement::Unmapped, 0xC0000005},
        // Beyond MmUserProbeAddress: the probe raises STATUS_ACCESS_VIOLATION.
        PlacementCase{Session::Placement::Kernel, 0xC0000005},
        PlacementCase{Session::Placement::KernelUnmapped, 0xC0000005},
        // ProbeForWrite rewrites a byte of each page: a read-only page faults.
        PlacementCase{Session::Placement::ReadOnly, 0xC0000005},
        // Not aligned to sizeof(ULONG): STATUS_DATATYPE_MISALIGNMENT.
        PlacementCase{Session::Placement::Misaligned, 0x80000002}));

TEST_F(E2eMethods, AnUnhandledExceptionInADispatchRoutineIsBugcheck0x3B) {
  Session::IoctlRequest rq;
  rq.handle = handle_;
  rq.code = kNeitherUnguarded;
  rq.output_length = 4;
  rq.output_placement = Session::Placement::Unmapped;
  session_.ioctl(rq);
  ASSERT_TRUE(session_.stopped());
  const auto& r = session_.result();
  ASSERT_TRUE(r.stop.bugcheck.has_value());
  // SYSTEM_SERVICE_EXCEPTION: P1 = STATUS_ACCESS_VIOLATION, in the client's system call.
  EXPECT_EQ(r.stop.bugcheck->code, 0x3Bu);
  EXPECT_EQ(r.stop.bugcheck->params[0], 0xC0000005u);
  // IOCTL_NEITHER_UNGUARDED has the bugs on purpose (no probe, no __try): the
  // verifier names the store to the caller's pointer before the crash.
  std::multiset<std::string> checks;
  for (const auto& f : r.findings) {
    checks.insert(f.check);
    EXPECT_EQ(f.context.process, "client.exe") << f.check;
  }
  EXPECT_EQ(checks, (std::multiset<std::string>{"crash.bugcheck", "probe.missing", "probe.outside-try"}));
}

}  // namespace
