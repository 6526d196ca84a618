// IRP core: allocation (IoAllocateIrp, IoInitializeIrp, IoReuseIrp,
// IoFreeIrp), passing down (IofCallDriver) and completion (IofCompleteRequest
// with completion routines and STATUS_MORE_PROCESSING_REQUIRED; the I/O
// manager's own part is io/irp_completion.cpp), the IRPs the I/O manager
// builds for drivers (IoBuildDeviceIoControlRequest, IoBuildSynchronousFsdRequest,
// IoBuildAsynchronousFsdRequest) and who issued a request (IoGetRequestorProcess,
// IoThreadToProcess, ...). The IRP and IO_STACK_LOCATION layouts are the
// DDK's (tests/conformance), so IoGetCurrentIrpStackLocation,
// IoSkipCurrentIrpStackLocation, IoCopyCurrentIrpStackLocationToNext,
// IoSetCompletionRoutine, IoSetCancelRoutine and IoMarkIrpPending work inline
// as in Windows.
#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "emulator/ntstatus.h"
#include "emulator/processor_layout.h"
#include "ntoskrnl-stubs/api/kernel_events.h"
#include "ntoskrnl-stubs/api/registry.h"
#include "ntoskrnl-stubs/io/io_manager.h"
#include "ntoskrnl-stubs/io/irp.h"
#include "ntoskrnl-stubs/ke/scheduler.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/nt_structs.h"
#include "ntoskrnl-stubs/mm/mm.h"

namespace kemu::nt {

using layout::IO_STACK_LOCATION;
using layout::IRP;

namespace {

constexpr uint32_t kIrpTag = 0x20707249;  // 'Irp '
constexpr uint8_t kSlPendingReturned = 0x01;
constexpr uint8_t kSlInvokeOnCancel = 0x20;
constexpr uint8_t kSlInvokeOnSuccess = 0x40;
constexpr uint8_t kSlInvokeOnError = 0x80;
// IRP_MJ_* numbers used here.
constexpr uint8_t kIrpMjDeviceControl = 0x0E;
constexpr uint8_t kIrpMjInternalDeviceControl = 0x0F;

uint64_t irp_size(int8_t stack_size) {
  return sizeof(IRP) +
         static_cast<uint64_t>(std::max<int8_t>(stack_size, 0)) * sizeof(IO_STACK_LOCATION);
}

void initialize_irp(Kernel& k, GuestVa irp, uint16_t size, int8_t stack_size) {
  std::vector<uint8_t> zero(size, 0);
  k.memory().write(irp, zero.data(), zero.size());
  IRP h{};
  h.Type = layout::kIoTypeIrp;
  h.Size = size;
  h.StackCount = stack_size;
  h.CurrentLocation = static_cast<int8_t>(stack_size + 1);
  h.ThreadListEntry = {(irp + offsetof(IRP, ThreadListEntry)).value,
                       (irp + offsetof(IRP, ThreadListEntry)).value};
  // CurrentStackLocation starts one past the last location; IofCallDriver moves it down.
  h.CurrentStackLocation =
      (irp + sizeof(IRP) + static_cast<uint64_t>(stack_size) * sizeof(IO_STACK_LOCATION)).value;
  k.memory().write(irp, h);
}

}  // namespace

void IoInitializeIrp(Kernel& k, GuestVa irp, uint16_t packet_size, int8_t stack_size) {
  initialize_irp(k, irp, packet_size, stack_size);
}

GuestVa IoAllocateIrp(Kernel& k, int8_t stack_size, bool charge_quota) {
  if (stack_size <= 0) return GuestVa{};
  uint64_t size = irp_size(stack_size);
  auto block = k.machine().pool().allocate(size, 0, kIrpTag, k.machine().return_address());
  if (!block) return GuestVa{};
  initialize_irp(k, *block, static_cast<uint16_t>(size), stack_size);
  return *block;
}

void IoReuseIrp(Kernel& k, GuestVa irp, uint32_t status) {
  IRP h = k.memory().read<IRP>(irp);
  uint8_t flags = h.AllocationFlags;
  initialize_irp(k, irp, h.Size, h.StackCount);
  k.memory().write<uint8_t>(irp + offsetof(IRP, AllocationFlags), flags);
  k.memory().write<uint64_t>(irp + offsetof(IRP, IoStatus), status);
}

void IoFreeIrp(Kernel& k, GuestVa irp) {
  emu::Machine& m = k.machine();
  if (k.memory().read<int16_t>(irp) != layout::kIoTypeIrp) {
    // Not an IRP: Windows' IoFreeIrp bugchecks (MULTIPLE_IRP_COMPLETE_REQUESTS-style corruption).
    m.bugcheck(0x44, irp.value, 0, 0, 0, m.call_site());
    return;
  }
  k.io().threaded_irps().erase(irp.value);
  // Windows' IoFreeIrp clears Type: a later IoCompleteRequest or IoFreeIrp on
  // the freed IRP bugchecks 0x44.
  k.memory().write<int16_t>(irp, 0);
  m.pool().free(irp, std::nullopt);
}

// IofCallDriver: moves to the next stack location, records the device and
// calls the driver's dispatch routine for that location's major function.
NtStatus IofCallDriver(Kernel& k, GuestVa device, GuestVa irp) {
  emu::Machine& m = k.machine();
  auto& mem = k.memory();
  IRP h = mem.read<IRP>(irp);
  if (h.CurrentLocation <= 1) {
    m.bugcheck(0x35, irp.value, 0, 0, 0, m.call_site());  // NO_MORE_IRP_STACK_LOCATIONS
    return STATUS_UNSUCCESSFUL;
  }
  --h.CurrentLocation;
  h.CurrentStackLocation -= sizeof(IO_STACK_LOCATION);
  mem.write<int8_t>(irp + offsetof(IRP, CurrentLocation), h.CurrentLocation);
  mem.write<uint64_t>(irp + offsetof(IRP, CurrentStackLocation), h.CurrentStackLocation);
  GuestVa stack{h.CurrentStackLocation};
  mem.write<uint64_t>(stack + offsetof(IO_STACK_LOCATION, DeviceObject), device.value);
  uint8_t major = mem.read<uint8_t>(stack);
  GuestVa driver{mem.read<uint64_t>(device + offsetof(layout::DEVICE_OBJECT, DriverObject))};
  GuestVa dispatch{mem.read<uint64_t>(driver + offsetof(layout::DRIVER_OBJECT, MajorFunction) +
                                      8ull * (major & 0x1F))};
  DriverCallback callback{CallbackKind::Dispatch, dispatch, irp, m.irql()};
  if (k.observed()) k.publish([&](KernelListener& l) { l.callback_started(callback); });
  auto result = m.call(dispatch, {device.value, irp.value});
  if (k.observed() && !m.stopped()) {
    callback.irql = m.irql();
    k.publish([&](KernelListener& l) { l.callback_returned(callback); });
  }
  return result ? static_cast<NtStatus>(*result) : STATUS_UNSUCCESSFUL;
}

// IofCompleteRequest: runs the completion routines from the current stack
// location up (a routine returning STATUS_MORE_PROCESSING_REQUIRED stops
// completion), propagates PendingReturned, then finishes IRPs the I/O manager
// built (status to the caller's IO_STATUS_BLOCK, event signalled, buffered
// output copied back, the IRP freed).
void IofCompleteRequest(Kernel& k, GuestVa irp, int8_t boost) {
  emu::Machine& m = k.machine();
  auto& mem = k.memory();
  IRP h = mem.read<IRP>(irp);
  if (h.CurrentLocation > h.StackCount + 1 || h.Type != layout::kIoTypeIrp) {
    // Completed twice (or not an IRP): MULTIPLE_IRP_COMPLETE_REQUESTS, P1 = the IRP.
    m.bugcheck(0x44, irp.value, 0x1, 0, 0, m.call_site());
    return;
  }
  while (true) {
    h = mem.read<IRP>(irp);
    if (h.CurrentLocation > h.StackCount) break;
    GuestVa stack{h.CurrentStackLocation};
    IO_STACK_LOCATION sl = mem.read<IO_STACK_LOCATION>(stack);
    // Move up one location.
    mem.write<int8_t>(irp + offsetof(IRP, CurrentLocation),
                      static_cast<int8_t>(h.CurrentLocation + 1));
    mem.write<uint64_t>(irp + offsetof(IRP, CurrentStackLocation),
                        stack.value + sizeof(IO_STACK_LOCATION));
    uint8_t pending = sl.Control & kSlPendingReturned;
    mem.write<uint8_t>(irp + offsetof(IRP, PendingReturned), pending);
    NtStatus status = static_cast<NtStatus>(mem.read<uint64_t>(irp + offsetof(IRP, IoStatus)));
    bool cancel = mem.read<uint8_t>(irp + offsetof(IRP, Cancel)) != 0;
    bool invoke =
        sl.CompletionRoutine && ((nt_success(status) && (sl.Control & kSlInvokeOnSuccess)) ||
                                 (!nt_success(status) && (sl.Control & kSlInvokeOnError)) ||
                                 (cancel && (sl.Control & kSlInvokeOnCancel)));
    // The location is cleared (IoCompleteRequest zeroes it) before the routine runs.
    std::vector<uint8_t> zero(sizeof(IO_STACK_LOCATION), 0);
    mem.write(stack, zero.data(), zero.size());
    bool last = h.CurrentLocation + 1 > h.StackCount;
    if (invoke) {
      // The routine gets the device of its own layer: the next location's device.
      GuestVa device = last
                           ? GuestVa{}
                           : GuestVa{mem.read<uint64_t>(stack + sizeof(IO_STACK_LOCATION) +
                                                        offsetof(IO_STACK_LOCATION, DeviceObject))};
      DriverCallback callback{CallbackKind::Completion, GuestVa{sl.CompletionRoutine}, irp, m.irql()};
      if (k.observed()) k.publish([&](KernelListener& l) { l.callback_started(callback); });
      auto r = m.call(GuestVa{sl.CompletionRoutine}, {device.value, irp.value, sl.Context});
      if (k.observed() && !m.stopped()) {
        callback.irql = m.irql();
        k.publish([&](KernelListener& l) { l.callback_returned(callback); });
      }
      if (!r) return;
      if (static_cast<NtStatus>(*r) == STATUS_MORE_PROCESSING_REQUIRED) return;
    } else if (pending && !last) {
      // IoMarkIrpPending on the next location up.
      GuestVa next = stack + sizeof(IO_STACK_LOCATION);
      mem.write<uint8_t>(
          next + offsetof(IO_STACK_LOCATION, Control),
          mem.read<uint8_t>(next + offsetof(IO_STACK_LOCATION, Control)) | kSlPendingReturned);
    }
  }
  // The I/O manager's part, for IRPs it built (IopCompleteRequest).
  k.io().finish_irp(irp);
}

// --- IRPs the I/O manager builds for a driver -------------------------------------

namespace {

constexpr uint32_t kIoTag = 0x20206F49;  // 'Io  ', the I/O manager's buffers
constexpr uint32_t kIrpBufferedIo = 0x10;
constexpr uint32_t kIrpDeallocateBuffer = 0x20;
constexpr uint32_t kIrpInputOperation = 0x40;
constexpr uint8_t kIrpMjRead = 0x03;
constexpr uint8_t kIrpMjWrite = 0x04;
constexpr uint8_t kIrpMjFlushBuffers = 0x09;
constexpr uint8_t kIrpMjShutdown = 0x10;
constexpr uint8_t kIrpMjPower = 0x16;
constexpr uint8_t kIrpMjPnp = 0x1B;
// What the bytes of a system buffer the caller's input did not fill hold
// (pool is not zeroed on Windows), as for a client's request.
constexpr uint8_t kUninitializedFill = 0xCD;

// A nonpaged system buffer of `size` bytes holding `copy` bytes from `from`
// (a driver's kernel buffer: a bad pointer faults in the caller, as the
// RtlCopyMemory inside the routine would). NULL when the pool is exhausted.
GuestVa system_buffer(Kernel& k, uint32_t size, GuestVa from, uint32_t copy) {
  auto block = k.machine().pool().allocate(size, 0, kIoTag, GuestVa{});
  if (!block) return GuestVa{};
  std::vector<uint8_t> bytes(size, kUninitializedFill);
  if (copy && !k.memory().read(from, bytes.data(), copy)) {
    k.machine().pool().free(*block, std::nullopt);
    throw emu::GuestAccessError(from, false);
  }
  k.memory().write(*block, bytes.data(), bytes.size());
  return *block;
}

// An MDL for a driver's buffer, probed and locked KernelMode inside the
// routine's own __try: NULL (and nothing left behind) when that raises.
GuestVa locked_mdl(Kernel& k, GuestVa buffer, uint32_t length, uint32_t operation) {
  GuestVa mdl = IoAllocateMdl(k, buffer, length, false, false, GuestVa{});
  if (!mdl) return mdl;
  if (!nt_success(mm::probe_and_lock_caught(k, mdl, ProcessorMode::KernelMode, operation))) {
    IoFreeMdl(k, mdl);
    return GuestVa{};
  }
  return mdl;
}

GuestVa next_stack_location(Kernel& k, GuestVa irp) {
  return GuestVa{k.memory().read<uint64_t>(irp + offsetof(IRP, CurrentStackLocation)) -
                 sizeof(IO_STACK_LOCATION)};
}

}  // namespace

// IoBuildDeviceIoControlRequest(IoControlCode, DeviceObject, InputBuffer,
//   InputBufferLength, OutputBuffer, OutputBufferLength, InternalDeviceIoControl,
//   Event, IoStatusBlock): a threaded IRP (RequestorMode KernelMode) for the
//   device's stack with the buffers laid out per the code's method:
//   BUFFERED — one system buffer of max(in, out) with the input copied in,
//     copied back to OutputBuffer at completion (IRP_INPUT_OPERATION when an
//     output buffer is given);
//   IN_DIRECT / OUT_DIRECT — the input in a system buffer of its length, the
//     output described by an MDL probed and locked KernelMode for read
//     (IN_DIRECT) or write (OUT_DIRECT), unlocked and freed at completion;
//   NEITHER — Type3InputBuffer and UserBuffer are the caller's pointers.
//   The IRP goes on the current thread's IrpList; completing it fills
//   IoStatusBlock, signals Event and frees it.
GuestVa IoBuildDeviceIoControlRequest(Kernel& k, uint32_t code, GuestVa device, GuestVa input,
                                      uint32_t input_length, GuestVa output, uint32_t output_length,
                                      bool internal, GuestVa event, GuestVa iosb) {
  auto& mem = k.memory();
  int8_t stack_size = mem.read<int8_t>(device + offsetof(layout::DEVICE_OBJECT, StackSize));
  GuestVa irp = IoAllocateIrp(k, stack_size, false);
  if (!irp) return irp;
  IRP h = mem.read<IRP>(irp);
  IO_STACK_LOCATION sl{};
  sl.MajorFunction = internal ? kIrpMjInternalDeviceControl : kIrpMjDeviceControl;
  sl.OutputBufferLength = output_length;
  sl.InputBufferLength = input_length;
  sl.IoControlCode = code;
  auto fail = [&](GuestVa buffer) {
    if (buffer) k.machine().pool().free(buffer, std::nullopt);
    IoFreeIrp(k, irp);
    return GuestVa{};
  };
  switch (code & 3) {
    case 0:  // METHOD_BUFFERED
      if (input_length || output_length) {
        GuestVa buffer = system_buffer(k, std::max(input_length, output_length), input,
                                       input ? input_length : 0);
        if (!buffer) return fail(GuestVa{});
        h.AssociatedIrp = buffer.value;
        h.Flags = kIrpBufferedIo | kIrpDeallocateBuffer | (output ? kIrpInputOperation : 0);
        h.UserBuffer = output.value;
      }
      break;
    case 1:  // METHOD_IN_DIRECT
    case 2:  // METHOD_OUT_DIRECT
      if (input) {
        GuestVa buffer = system_buffer(k, input_length, input, input_length);
        if (!buffer) return fail(GuestVa{});
        h.AssociatedIrp = buffer.value;
        h.Flags = kIrpBufferedIo | kIrpDeallocateBuffer;
      }
      if (output) {
        GuestVa mdl = locked_mdl(k, output, output_length,
                                 (code & 3) == 1 ? mm::kIoReadAccess : mm::kIoWriteAccess);
        if (k.machine().stopped()) return GuestVa{};
        if (!mdl) return fail(GuestVa{h.AssociatedIrp});
        h.MdlAddress = mdl.value;
      }
      break;
    default:  // METHOD_NEITHER
      h.UserBuffer = output.value;
      sl.Type3InputBuffer = input.value;
      break;
  }
  h.UserIosb = iosb.value;
  h.UserEvent = event.value;
  h.Thread = k.machine().current_thread().ethread.value;
  mem.write(irp, h);
  mem.write(next_stack_location(k, irp), sl);
  k.io().track_irp(irp, io::ThreadedIrp{true, ob::kNoObject});
  return irp;
}

// IoBuildAsynchronousFsdRequest(MajorFunction, DeviceObject, Buffer, Length,
//   StartingOffset, IoStatusBlock): an IRP for the device's stack whose
//   Thread is the caller's (not counted, not on its IrpList). Other than
//   FLUSH_BUFFERS, SHUTDOWN, PNP and POWER, the transfer follows the device's
//   flags — DO_BUFFERED_IO: a system buffer (written data copied in, read
//   data copied back to Buffer at completion); DO_DIRECT_IO: an MDL of Buffer
//   probed and locked KernelMode; otherwise UserBuffer = Buffer — with Length
//   and *StartingOffset in the stack location.
//   The caller frees the IRP in its completion routine (returning
//   STATUS_MORE_PROCESSING_REQUIRED); one that reaches the I/O manager is
//   finished and freed by it.
GuestVa IoBuildAsynchronousFsdRequest(Kernel& k, uint32_t major, GuestVa device, GuestVa buffer,
                                      uint32_t length, GuestVa starting_offset, GuestVa iosb) {
  auto& mem = k.memory();
  int8_t stack_size = mem.read<int8_t>(device + offsetof(layout::DEVICE_OBJECT, StackSize));
  GuestVa irp = IoAllocateIrp(k, stack_size, false);
  if (!irp) return irp;
  IRP h = mem.read<IRP>(irp);
  h.Thread = k.machine().current_thread().ethread.value;
  IO_STACK_LOCATION sl{};
  sl.MajorFunction = static_cast<uint8_t>(major);
  if (major != kIrpMjFlushBuffers && major != kIrpMjShutdown && major != kIrpMjPnp &&
      major != kIrpMjPower) {
    uint32_t device_flags = mem.read<uint32_t>(device + offsetof(layout::DEVICE_OBJECT, Flags));
    if (device_flags & io::kDoBufferedIo) {
      GuestVa sb = system_buffer(k, length, buffer, major == kIrpMjWrite ? length : 0);
      if (!sb) {
        IoFreeIrp(k, irp);
        return GuestVa{};
      }
      h.AssociatedIrp = sb.value;
      h.Flags =
          kIrpBufferedIo | kIrpDeallocateBuffer | (major == kIrpMjWrite ? 0 : kIrpInputOperation);
      if (major != kIrpMjWrite)
        h.UserBuffer = buffer.value;  // where completion copies the data read
    } else if (device_flags & io::kDoDirectIo) {
      // A read fills the pages (IoWriteAccess); anything else reads them.
      GuestVa mdl = locked_mdl(k, buffer, length,
                               major == kIrpMjRead ? mm::kIoWriteAccess : mm::kIoReadAccess);
      if (k.machine().stopped()) return GuestVa{};
      if (!mdl) {
        IoFreeIrp(k, irp);
        return GuestVa{};
      }
      h.MdlAddress = mdl.value;
    } else {
      h.UserBuffer = buffer.value;  // neither buffered nor direct: the caller's pointer
    }
    // Parameters.Read / Parameters.Write: Length, Key, ByteOffset (the same offsets).
    sl.OutputBufferLength = length;
    uint64_t offset = starting_offset ? mem.read<uint64_t>(starting_offset) : 0;
    std::memcpy(&sl.IoControlCode, &offset, sizeof(offset));
  }
  h.UserIosb = iosb.value;
  mem.write(irp, h);
  mem.write(next_stack_location(k, irp), sl);
  k.io().track_irp(irp, io::ThreadedIrp{false, ob::kNoObject});
  return irp;
}

// IoBuildSynchronousFsdRequest: the same IRP, with Event signalled at
// completion, queued on the current thread's IrpList (a threaded IRP the I/O
// manager frees; the caller waits on Event when IoCallDriver pends).
GuestVa IoBuildSynchronousFsdRequest(Kernel& k, uint32_t major, GuestVa device, GuestVa buffer,
                                     uint32_t length, GuestVa starting_offset, GuestVa event,
                                     GuestVa iosb) {
  GuestVa irp =
      IoBuildAsynchronousFsdRequest(k, major, device, buffer, length, starting_offset, iosb);
  if (!irp) return irp;
  k.memory().write<uint64_t>(irp + offsetof(IRP, UserEvent), event.value);
  k.io().threaded_irps().erase(irp.value);
  k.io().track_irp(irp, io::ThreadedIrp{true, ob::kNoObject});
  return irp;
}

// --- who asked -----------------------------------------------------------------------

// IoThreadToProcess: the process the thread belongs to (KTHREAD.Process).
GuestVa IoThreadToProcess(Kernel& k, GuestVa thread) {
  return GuestVa{k.memory().read<uint64_t>(thread + emu::kthread::kProcess)};
}

// IoGetRequestorProcess: the process of the thread that issued the IRP — its
// own process when the IRP was built in the original APC environment, the
// process it was attached to when built while attached; NULL without a thread.
GuestVa IoGetRequestorProcess(Kernel& k, GuestVa irp) {
  auto& mem = k.memory();
  GuestVa thread{mem.read<uint64_t>(irp + offsetof(IRP, Thread))};
  if (!thread) return GuestVa{};
  int8_t environment = mem.read<int8_t>(irp + offsetof(IRP, ApcEnvironment));
  if (environment == 0) return IoThreadToProcess(k, thread);  // OriginalApcEnvironment
  if (environment == 1) return GuestVa{mem.read<uint64_t>(thread + emu::kthread::kApcStateProcess)};
  return GuestVa{};
}

// IoGetRequestorProcessId: that process's id, 0 when there is none.
uint32_t IoGetRequestorProcessId(Kernel& k, GuestVa irp) {
  GuestVa process = IoGetRequestorProcess(k, irp);
  if (!process) return 0;
  return static_cast<uint32_t>(
      k.memory().read<uint64_t>(process + emu::eprocess::kUniqueProcessId));
}

// IoIs32bitProcess: whether the requestor (the current process for a NULL
// IRP) is a WoW64 process. Every process kemu runs — the System process and
// the client — is a native x64 process, so the answer is FALSE.
bool IoIs32bitProcess(Kernel& k, GuestVa irp) {
  (void)k;
  (void)irp;
  return false;
}

// IoIsWdmVersionAvailable: Windows 10 provides WDM 6.00 (WDM_MAJORVERSION,
// WDM_MINORVERSION); every earlier version is available too.
bool IoIsWdmVersionAvailable(Kernel& k, uint8_t major, uint8_t minor) {
  (void)k;
  constexpr uint8_t kWdmMajor = 0x06, kWdmMinor = 0x00;
  if (major != kWdmMajor) return major < kWdmMajor;
  return minor <= kWdmMinor;
}

void register_irp_exports(Registry& r) {
  KEMU_EXPORT(r, IoInitializeIrp);
  KEMU_EXPORT(r, IoAllocateIrp);
  KEMU_EXPORT(r, IoReuseIrp);
  KEMU_EXPORT(r, IoFreeIrp);
  KEMU_EXPORT(r, IofCallDriver);
  KEMU_EXPORT(r, IofCompleteRequest);
  KEMU_EXPORT(r, IoBuildDeviceIoControlRequest);
  KEMU_EXPORT(r, IoBuildAsynchronousFsdRequest);
  KEMU_EXPORT(r, IoBuildSynchronousFsdRequest);
  KEMU_EXPORT(r, IoThreadToProcess);
  KEMU_EXPORT(r, IoGetRequestorProcess);
  KEMU_EXPORT(r, IoGetRequestorProcessId);
  KEMU_EXPORT(r, IoIs32bitProcess);
  KEMU_EXPORT(r, IoIsWdmVersionAvailable);
  register_cancel_exports(r);
  register_csq_exports(r);
  register_device_stack_exports(r);
  register_device_queue_exports(r);
}

}  // namespace kemu::nt
