// End-to-end: samples/stack — a filter attached above a lower device,
// kernel-built IRPs (IoBuildDeviceIoControlRequest for the four methods,
// IoBuild*FsdRequest), IoCancelIrp with a plain cancel routine and the
// cancel spin lock, cancel-safe queues, NtCancelIoFile from the client and
// the cancellation of the client thread's IRPs when it ends.
#include <cstring>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "e2e_paths.h"
#include "harness/scenario.h"
#include "harness/session.h"

namespace {

using kemu::harness::RunResult;
using kemu::harness::Session;
using kemu::harness::StepResult;
using kemu::harness::StopReason;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

constexpr uint32_t kQueueA = 0x80002040, kCompleteA = 0x80002044, kCompleteALater = 0x80002048;
constexpr uint32_t kQueueB = 0x8000204C, kRemoveB = 0x80002050, kPendPlain = 0x80002080;
constexpr uint32_t kStartIo = 0x800020C0, kStartIoNext = 0x800020C4;
constexpr uint32_t kFilterInfo = 0x80002400, kFilterMethods = 0x80002404, kFilterFsd = 0x80002408,
                   kFilterCancel = 0x8000240C;
constexpr uint32_t kStatusSuccess = 0, kStatusPending = 0x103, kStatusCancelled = 0xC0000120,
                   kStatusDeviceBusy = 0x80000011;
// IRP flags.
constexpr uint64_t kIrpBufferedIo = 0x10, kIrpDeallocateBuffer = 0x20, kIrpInputOperation = 0x40;

// The lines DriverEntry logs: a kernel-mode open by name (IoGetDeviceObjectPointer:
// CREATE and CLEANUP at once, CLOSE when the file object is dereferenced — by
// then through the filter), the attach, then IoAttachDevice of a second filter
// (its open goes through the first filter; the CLOSE of its file object
// reaches the second filter, already on top), detached and deleted again.
const std::vector<std::string> kDriverEntryLines = {
    "stack: shutdown registration 0x00000000",
    "stack: lower CREATE, requestor 0",
    "stack: lower CLEANUP, requestor 0",
    "stack: IoGetDeviceObjectPointer 0x00000000, top is lower 1, file names lower 1",
    "stack: attach 0x00000000, attached to lower 1, stack sizes 2 and 1",
    "stack: filter CLOSE, requestor 0",
    "stack: lower CLOSE, requestor 0",
    "stack: filter CREATE, requestor 0",
    "stack: lower CREATE, requestor 0",
    "stack: filter CLEANUP, requestor 0",
    "stack: lower CLEANUP, requestor 0",
    "stack: filter2 CLOSE, requestor 0",
    "stack: filter CLOSE, requestor 0",
    "stack: lower CLOSE, requestor 0",
    "stack: IoAttachDevice 0x00000000, attached to filter 1, stack size 3, top is filter2 1",
    "stack: filter2 gone, top is filter 1, 3 devices listed",
    "stack: queues of types 2 and 3",
};

// DriverUnload: the lower device, deleted while the filter is still attached
// above it, stays in the driver's list until the filter detaches.
const std::vector<std::string> kUnloadLines = {
    "stack: lower deleted, 3 devices listed",
    "stack: filter detached, 2 devices listed",
    "stack: unloaded, 0 devices listed",
};

std::vector<uint64_t> values(const std::vector<uint8_t>& bytes) {
  std::vector<uint64_t> out(bytes.size() / 8);
  if (!out.empty()) std::memcpy(out.data(), bytes.data(), out.size() * 8);
  return out;
}

uint64_t text8(const char* s) {
  uint64_t v = 0;
  std::memcpy(&v, s, 8);
  return v;
}

// The debug output from index `from` on.
std::vector<std::string> lines_from(const RunResult& r, size_t from) {
  return std::vector<std::string>(
      r.debug_output.begin() + static_cast<long>(std::min(from, r.debug_output.size())),
      r.debug_output.end());
}

class E2eStack : public ::testing::Test {
 protected:
  void SetUp() override {
    session_.load(kemu::e2e::sample("stack"));
    ASSERT_EQ(session_.driver_entry(), 0u);
    auto o = session_.open("\\\\.\\KemuStack", 0xC0000000);
    ASSERT_EQ(o.status, 0u);
    handle_ = o.handle;
  }

  Session::IoctlOutcome ioctl(uint32_t code, uint32_t output_length = 0) {
    Session::IoctlRequest rq;
    rq.handle = handle_;
    rq.code = code;
    rq.output_length = output_length;
    return session_.ioctl(rq);
  }

  const StepResult& step(size_t i) { return session_.result().steps.at(i); }
  size_t lines() { return session_.result().debug_output.size(); }

  Session session_;
  uint64_t handle_ = 0;
};

TEST_F(E2eStack, DriverEntryOpensByNameAttachesAndDetachesInWindowsOrder) {
  const RunResult& r = session_.result();
  ASSERT_GE(r.debug_output.size(), kDriverEntryLines.size() + 2);
  EXPECT_EQ(std::vector<std::string>(r.debug_output.begin(),
                                     r.debug_output.begin() + kDriverEntryLines.size()),
            kDriverEntryLines);
  // The client's open of the lower device's name reaches the filter first.
  EXPECT_THAT(lines_from(r, kDriverEntryLines.size()),
              ElementsAre("stack: filter CREATE, requestor 1", "stack: lower CREATE, requestor 1"));
}

TEST_F(E2eStack, FilterSeesTheStackAndTheRequestor) {
  auto out = ioctl(kFilterInfo, 22 * 8);
  ASSERT_EQ(out.status, kStatusSuccess);
  EXPECT_EQ(out.information, 22u * 8);
  EXPECT_THAT(values(out.output),
              ElementsAreArray(std::vector<uint64_t>{
                  2,                // filter->StackSize = lower's + 1
                  1,                // lower->StackSize
                  1,                // lower->AttachedDevice == filter
                  1,                // IoGetAttachedDeviceReference(lower) == filter
                  1,                // IoGetDeviceAttachmentBaseRef(filter) == lower
                  1,                // IoGetLowerDeviceObject(filter) == lower (AttachedTo)
                  1,                // IoGetLowerDeviceObject(lower) == NULL
                  1,                // IoGetRelatedDeviceObject(FileObject) == filter
                  1,                // FileObject->DeviceObject == lower (the named device)
                  0x1234,           // IoGetRequestorProcessId: client.exe
                  1,                // IoGetRequestorProcess == PsGetCurrentProcess
                  0,                // IoIs32bitProcess: the client is a 64-bit process
                  1,                // IoThreadToProcess(Irp->Tail.Overlay.Thread) == current
                  1,      0, 1, 0,  // IoIsWdmVersionAvailable 6.0, 6.1, 1.30, 7.0
                  1,                // DO_SHUTDOWN_REGISTERED
                  1,                // RequestorMode UserMode
                  2,      2,        // StackCount, CurrentLocation at the filter
                  3,                // devices listed: lower, direct, filter
              }));
}

TEST_F(E2eStack, IoBuildDeviceIoControlRequestLaysOutEachMethodForTheLowerDevice) {
  auto out = ioctl(kFilterMethods, 4 * 19 * 8);
  ASSERT_EQ(out.status, kStatusSuccess);
  ASSERT_EQ(out.information, 4u * 19 * 8);
  std::vector<uint64_t> v = values(out.output);
  auto method = [&](int m) {
    return std::vector<uint64_t>(v.begin() + m * 19, v.begin() + (m + 1) * 19);
  };
  for (int m = 0; m < 4; ++m) {
    SCOPED_TRACE(m);
    std::vector<uint64_t> r = method(m);
    uint64_t input = r[17], output = r[18];
    EXPECT_GE(input, 0xFFFF800000000000ull);  // the filter's kernel stack buffers
    EXPECT_EQ(r[0], kStatusSuccess);
    EXPECT_EQ(r[3], static_cast<uint64_t>(m));  // the method the lower dispatch saw
    EXPECT_EQ(r[4], 0u);                        // Irp->RequestorMode: KernelMode
    EXPECT_EQ(r[7], 8u);                        // InputBufferLength
    EXPECT_EQ(r[8], 16u);                       // OutputBufferLength
    EXPECT_EQ(r[15], 1u);                       // Tail.Overlay.Thread: the builder's thread
    if (m == 0) {
      // BUFFERED: a kernel system buffer; the output copied back (Information bytes).
      EXPECT_EQ(r[1], 8u);
      EXPECT_EQ(r[2], text8("ABCDEFGH"));
      EXPECT_THAT(std::vector<uint64_t>(r.begin() + 5, r.begin() + 15),
                  ElementsAreArray(std::vector<uint64_t>{
                      1, 1, 8, 16, 0, 0, 0, output, 0,
                      kIrpBufferedIo | kIrpDeallocateBuffer | kIrpInputOperation}));
      EXPECT_EQ(r[16], 0u);
    } else if (m == 3) {
      // NEITHER: the caller's pointers, no system buffer, no MDL.
      EXPECT_EQ(r[1], 8u);
      EXPECT_EQ(r[2], text8("ABCDEFGH"));
      EXPECT_THAT(std::vector<uint64_t>(r.begin() + 5, r.begin() + 15),
                  ElementsAreArray(std::vector<uint64_t>{0, 0, 8, 16, 0, 0, 0, output, input, 0}));
    } else {
      // IN_DIRECT / OUT_DIRECT: the input in a system buffer, the output in an
      // MDL locked for the transfer (16 bytes at the buffer's page offset).
      EXPECT_THAT(std::vector<uint64_t>(r.begin() + 5, r.begin() + 15),
                  ElementsAreArray(std::vector<uint64_t>{1, 1, 8, 16, 1, 16, output & 0xFFF, 0, 0,
                                                         kIrpBufferedIo | kIrpDeallocateBuffer}));
      EXPECT_EQ(r[16], 1u);  // MDL_PAGES_LOCKED
      if (m == 1) {
        // IN_DIRECT: the driver read the "output" buffer ("0123456789ABCDEF" sums to 930).
        EXPECT_EQ(r[1], 930u);
        EXPECT_EQ(r[2], text8("01234567"));
      } else {
        EXPECT_EQ(r[1], 8u);
        EXPECT_EQ(r[2], text8("ABCDEFGH"));
      }
    }
  }
}

TEST_F(E2eStack, FsdRequestsFollowTheTargetDevicesFlags) {
  auto out = ioctl(kFilterFsd, (5 * 14 + 2) * 8);
  ASSERT_EQ(out.status, kStatusSuccess);
  std::vector<uint64_t> v = values(out.output);
  ASSERT_EQ(v.size(), 5u * 14 + 2);
  uint64_t wbuf = v[70], rbuf = v[71];
  auto op = [&](int i) {
    return std::vector<uint64_t>(v.begin() + i * 14, v.begin() + (i + 1) * 14);
  };
  // IoCallDriver status, IO_STATUS_BLOCK, first 8 buffer bytes, then what the
  // lower dispatch saw: major, RequestorMode, SystemBuffer, UserBuffer, MDL,
  // MDL byte count, Length, ByteOffset, Irp->Flags, Thread == current.
  // Buffered write: the data copied into a system buffer.
  EXPECT_THAT(
      op(0), ElementsAreArray(std::vector<uint64_t>{0, 0, 8, text8("STACKFSD"), 4, 0, 1, 0, 0, 0, 8,
                                                    4, kIrpBufferedIo | kIrpDeallocateBuffer, 1}));
  // Buffered read: copied back to the caller's buffer (UserBuffer) at completion.
  EXPECT_THAT(op(1), ElementsAreArray(std::vector<uint64_t>{
                         0, 0, 16, text8("kemuSTAC"), 3, 0, 1, rbuf, 0, 0, 16, 0,
                         kIrpBufferedIo | kIrpDeallocateBuffer | kIrpInputOperation, 1}));
  // DO_DIRECT_IO: an MDL of the caller's buffer, no system buffer.
  EXPECT_THAT(op(2), ElementsAreArray(std::vector<uint64_t>{0, 0, 8, text8("STACKFSD"), 4, 0, 0, 0,
                                                            1, 8, 8, 4, 0, 1}));
  EXPECT_THAT(op(3), ElementsAreArray(std::vector<uint64_t>{0, 0, 16, text8("kemuSTAC"), 3, 0, 0, 0,
                                                            1, 16, 16, 0, 0, 1}));
  // The asynchronous flush: its completion routine frees the IRP and stops
  // completion, so its IO_STATUS_BLOCK is never written.
  EXPECT_THAT(op(4), ElementsAreArray(std::vector<uint64_t>{
                         0, 0x0BADF00D, 0xF00D, text8("........"), 9, 0, 0, 0, 0, 0, 0, 0, 0, 1}));
  EXPECT_GE(wbuf, 0xFFFF800000000000ull);  // the filter's kernel stack buffers
  EXPECT_GE(rbuf, 0xFFFF800000000000ull);
  EXPECT_THAT(lines_from(session_.result(), kDriverEntryLines.size() + 2),
              ElementsAre("stack: async flush completes with 0x00000000; the builder frees it"));
  // The stores changed: a client read through the stack sees the written bytes.
  auto read = session_.read(handle_, 16, 0);
  EXPECT_EQ(read.status, kStatusSuccess);
  EXPECT_EQ(std::string(read.output.begin(), read.output.end()), "kemuSTACKFSDtore");
}

TEST_F(E2eStack, IoCancelIrpCallsTheCancelRoutineWithTheLockAndReportsNoRoutine) {
  size_t before = lines();
  auto out = ioctl(kFilterCancel, 8 * 8);
  ASSERT_EQ(out.status, kStatusSuccess);
  EXPECT_THAT(values(out.output), ElementsAreArray(std::vector<uint64_t>{
                                      kStatusPending,  // IoCallDriver of the PEND_PLAIN it built
                                      1,               // IoCancelIrp: the cancel routine was called
                                      kStatusCancelled,  // its IO_STATUS_BLOCK
                                      0,
                                      0,  // IoCancelIrp of an IRP without a cancel routine: FALSE
                                      1,  // ... and Irp->Cancel is set anyway
                                      2,  // the routine ran at DISPATCH_LEVEL
                                      0,  // Irp->CancelIrql: the IRQL IoCancelIrp was called at
                                  }));
  EXPECT_THAT(
      lines_from(session_.result(), before),
      ElementsAre(
          "stack: plain cancel routine at irql 2, CancelIrql 0, Cancel 1, device is lower"));
}

TEST_F(E2eStack, QueuedRequestsCompleteLaterAndTheirStepsTakeTheFinalStatus) {
  size_t first = session_.result().steps.size();
  size_t before = lines();
  auto a1 = ioctl(kQueueA, 8);
  EXPECT_TRUE(a1.pending);
  EXPECT_FALSE(a1.status.has_value());
  auto a2 = ioctl(kQueueA, 8);
  EXPECT_TRUE(a2.pending);
  EXPECT_TRUE(step(first).pending);
  // IoCsqRemoveNextIrp in the dispatch routine: the oldest queued IRP completes.
  EXPECT_EQ(ioctl(kCompleteA).status, kStatusSuccess);
  EXPECT_FALSE(step(first).pending);
  EXPECT_EQ(step(first).status, kStatusSuccess);
  EXPECT_EQ(step(first).information, 8u);
  EXPECT_EQ(step(first).output_hex, "0100000000000000");  // copied back into the client's buffer
  EXPECT_TRUE(step(first + 1).pending);
  // A work item removes the next one (copy-back in the client's context).
  EXPECT_EQ(ioctl(kCompleteALater).status, kStatusSuccess);
  EXPECT_TRUE(step(first + 1).pending);
  session_.run_pending();
  EXPECT_EQ(step(first + 1).status, kStatusSuccess);
  EXPECT_EQ(step(first + 1).output_hex, "0200000000000000");
  // Queue B (IoCsqInsertIrpEx): one slot; the driver's refusal is the status.
  EXPECT_TRUE(ioctl(kQueueB, 8).pending);
  auto busy = ioctl(kQueueB, 8);
  EXPECT_EQ(busy.status, kStatusDeviceBusy);
  // IoCsqRemoveIrp by the IO_CSQ_IRP_CONTEXT of the IRP that was inserted.
  EXPECT_EQ(ioctl(kRemoveB).status, kStatusSuccess);
  EXPECT_EQ(step(first + 5).status, kStatusSuccess);
  EXPECT_EQ(step(first + 5).output_hex, "0300000000000000");
  EXPECT_EQ(step(first + 6).status, kStatusDeviceBusy);
  EXPECT_THAT(
      lines_from(session_.result(), before),
      ElementsAre(
          "stack: queue A takes IRP 1", "stack: queue A takes IRP 2",
          "stack: completes queued IRP 1",
          "stack: filter completion 0x00000000, information 8, cancel 0, device is filter",
          "stack: filter completion 0x00000000, information 0, cancel 0, device is filter",
          "stack: filter completion 0x00000000, information 0, cancel 0, device is filter",
          "stack: work item removes an IRP", "stack: completes queued IRP 2",
          "stack: filter completion 0x00000000, information 8, cancel 0, device is filter",
          "stack: queue B insert of IRP 3: 0x00000000, insert context 0000000000000B0B, "
          "context type 1 names it 1",
          "stack: queue B insert of IRP 4: 0x80000011, insert context 0000000000000B0B, "
          "context type 1 names it 1",
          "stack: filter completion 0x80000011, information 0, cancel 0, device is filter",
          "stack: IoCsqRemoveIrp gives the IRP, context Irp now 0000000000000000",
          "stack: completes queued IRP 3",
          "stack: filter completion 0x00000000, information 8, cancel 0, device is filter",
          "stack: filter completion 0x00000000, information 0, cancel 0, device is filter"));
}

TEST_F(E2eStack, ClientCancelCancelsItsRequestsNewestFirstAndThreadEndCancelsTheRest) {
  size_t first = session_.result().steps.size();
  size_t before = lines();
  EXPECT_TRUE(ioctl(kQueueA, 8).pending);  // IRP 1
  EXPECT_TRUE(ioctl(kQueueB, 8).pending);  // IRP 2
  EXPECT_TRUE(ioctl(kPendPlain).pending);  // IRP 3
  EXPECT_EQ(session_.cancel(handle_), kStatusSuccess);
  for (size_t i = first; i < first + 3; ++i) {
    SCOPED_TRACE(i);
    EXPECT_FALSE(step(i).pending);
    EXPECT_EQ(step(i).status, kStatusCancelled);
    EXPECT_EQ(step(i).information, 0u);
  }
  EXPECT_EQ(step(first + 3).op, "cancel");
  EXPECT_EQ(step(first + 3).status, kStatusSuccess);
  // NtCancelIoFile cancels at APC_LEVEL (CancelIrql 1), newest first; the
  // CSQ's own cancel routine hands each IRP to CsqCompleteCanceledIrp.
  EXPECT_THAT(
      lines_from(session_.result(), before),
      ElementsAre(
          "stack: queue A takes IRP 1",
          "stack: queue B insert of IRP 2: 0x00000000, insert context 0000000000000B0B, "
          "context type 1 names it 1",
          "stack: plain cancel routine at irql 2, CancelIrql 1, Cancel 1, device is lower",
          "stack: filter completion 0xc0000120, information 0, cancel 1, device is filter",
          "stack: csq B completes cancelled IRP 2 at irql 1",
          "stack: filter completion 0xc0000120, information 0, cancel 1, device is filter",
          "stack: csq A completes cancelled IRP 1 at irql 1",
          "stack: filter completion 0xc0000120, information 0, cancel 1, device is filter"));
  // The queue B context lost its IRP to the cancel routine.
  before = lines();
  EXPECT_EQ(ioctl(kRemoveB).status, 0xC0000225u);  // STATUS_NOT_FOUND

  // Left pending when the client's thread ends (before the unload): cancelled as IoCancelThreadIo
  // does.
  size_t later = session_.result().steps.size();
  EXPECT_TRUE(ioctl(kQueueA, 8).pending);  // IRP 4
  EXPECT_TRUE(ioctl(kPendPlain).pending);  // IRP 5
  EXPECT_EQ(session_.close(handle_), kStatusSuccess);
  session_.unload();
  const RunResult& r = session_.result();
  EXPECT_EQ(r.steps.at(later).status, kStatusCancelled);
  EXPECT_EQ(r.steps.at(later + 1).status, kStatusCancelled);
  EXPECT_FALSE(r.steps.at(later).pending);
  // The close's CLEANUP comes at once; CLOSE only when the last IRP holding
  // the file object completes.
  std::vector<std::string> expected = {
      "stack: IoCsqRemoveIrp gives NULL, context Irp now 0000000000000000",
      "stack: filter completion 0xc0000225, information 0, cancel 0, device is filter",
      "stack: queue A takes IRP 4",
      "stack: filter CLEANUP, requestor 0",
      "stack: lower CLEANUP, requestor 0",
      "stack: plain cancel routine at irql 2, CancelIrql 1, Cancel 1, device is lower",
      "stack: filter completion 0xc0000120, information 0, cancel 1, device is filter",
      "stack: csq A completes cancelled IRP 4 at irql 1",
      "stack: filter completion 0xc0000120, information 0, cancel 1, device is filter",
      "stack: filter CLOSE, requestor 0",
      "stack: lower CLOSE, requestor 0",
  };
  expected.insert(expected.end(), kUnloadLines.begin(), kUnloadLines.end());
  EXPECT_EQ(lines_from(r, before), expected);
  EXPECT_EQ(r.stop.reason, StopReason::Completed) << r.stop.message;
  EXPECT_TRUE(r.unload.devices_left.empty());
  EXPECT_TRUE(r.unload.links_left.empty());
}

TEST_F(E2eStack, StartIoSerialisesTheDeviceQueueAndItsCancelRoutineTakesQueuedOrCurrentIrps) {
  size_t first = session_.result().steps.size();
  size_t before = lines();
  // IoStartPacket: the idle device starts IRP 1 at once; 2 and 3 wait in the device queue.
  EXPECT_TRUE(ioctl(kStartIo, 8).pending);
  EXPECT_TRUE(ioctl(kStartIo, 8).pending);
  EXPECT_TRUE(ioctl(kStartIo, 8).pending);
  // The current IRP completes; IoStartNextPacket starts the next one.
  EXPECT_EQ(ioctl(kStartIoNext).status, kStatusSuccess);
  EXPECT_EQ(step(first).status, kStatusSuccess);
  EXPECT_EQ(step(first).output_hex, "0100000000000000");
  // The client cancels: IRP 3 (newest) is still queued, IRP 2 is current.
  EXPECT_EQ(session_.cancel(handle_), kStatusSuccess);
  EXPECT_EQ(step(first + 1).status, kStatusCancelled);
  EXPECT_EQ(step(first + 2).status, kStatusCancelled);
  // The device went idle: the next packet starts at once.
  EXPECT_TRUE(ioctl(kStartIo, 8).pending);
  EXPECT_THAT(lines_from(session_.result(), before),
              ElementsAre("stack: StartIo IRP 1 at irql 2, CurrentIrp is it 1",
                          "stack: completes queued IRP 1",
                          "stack: filter completion 0x00000000, information 8, cancel 0, device is filter",
                          "stack: StartIo IRP 2 at irql 2, CurrentIrp is it 1",
                          "stack: filter completion 0x00000000, information 0, cancel 0, device is filter",
                          "stack: StartIo cancel of queued IRP 3, removed 1",
                          "stack: filter completion 0xc0000120, information 0, cancel 1, device is filter",
                          "stack: StartIo cancel of the current IRP 2",
                          "stack: filter completion 0xc0000120, information 0, cancel 1, device is filter",
                          "stack: StartIo IRP 4 at irql 2, CurrentIrp is it 1"));
  session_.unload();
  EXPECT_EQ(session_.result().steps.at(first + 5).status, kStatusCancelled);
}

TEST(E2eStackScenario, DemoScenarioHoldsEveryExpectation) {
  Session session;
  auto scenario =
      kemu::harness::parse_scenario(std::string(KEMU_SOURCE_DIR) + "/samples/stack/demo.yaml");
  const RunResult& r = kemu::harness::run_scenario(session, kemu::e2e::sample("stack"), scenario);
  EXPECT_EQ(r.stop.reason, StopReason::Completed) << r.stop.message;
  ASSERT_EQ(r.steps.size(), 12u);
  std::vector<std::string> ops;
  std::vector<uint32_t> statuses;
  for (const StepResult& s : r.steps) {
    ops.push_back(s.op);
    statuses.push_back(s.status.value_or(0xFFFFFFFF));
    EXPECT_TRUE(s.expect_ok) << s.op;
    EXPECT_FALSE(s.pending) << s.op;
  }
  EXPECT_THAT(ops, ElementsAre("open", "ioctl", "ioctl", "ioctl", "ioctl", "run_pending", "ioctl",
                               "ioctl", "cancel", "ioctl", "close", "unload"));
  EXPECT_THAT(statuses, ElementsAre(0u, 0u, 0u, 0u, 0u, 0u, kStatusCancelled, kStatusCancelled, 0u,
                                    kStatusCancelled, 0u, 0u));
  EXPECT_EQ(r.steps[1].output_hex, "0100000000000000");
  EXPECT_EQ(r.steps[3].output_hex, "0200000000000000");
}

TEST(E2eStackScenario, ACancelStepNamesItsHandle) {
  // A scenario whose cancel step has no handle is refused before the driver runs.
  std::string path = ::testing::TempDir() + "/stack-bad-cancel.yaml";
  {
    FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("steps:\n  - cancel: { expect: { status: STATUS_SUCCESS } }\n", f);
    std::fclose(f);
  }
  try {
    kemu::harness::parse_scenario(path);
    FAIL() << "accepted a cancel step without a handle";
  } catch (const kemu::harness::ScenarioError& e) {
    EXPECT_EQ(std::string(e.what()), path + ":2: missing 'handle'");
  }
}

}  // namespace
