// IRP core: allocation (IoAllocateIrp, IoInitializeIrp, IoReuseIrp,
// IoFreeIrp), passing down (IofCallDriver) and completion (IofCompleteRequest
// with completion routines and STATUS_MORE_PROCESSING_REQUIRED), and
// IoBuildDeviceIoControlRequest / IoBuildSynchronousFsdRequest for IRPs a
// driver sends to another device. The IRP and IO_STACK_LOCATION layouts are
// the DDK's (tests/conformance), so IoGetCurrentIrpStackLocation,
// IoSkipCurrentIrpStackLocation, IoCopyCurrentIrpStackLocationToNext,
// IoSetCompletionRoutine and IoMarkIrpPending work inline as in Windows.
#include <algorithm>

#include <fmt/format.h>

#include "emulator/ntstatus.h"
#include "ntoskrnl-stubs/api/registry.h"
#include "ntoskrnl-stubs/ke/scheduler.h"
#include "ntoskrnl-stubs/io/io_manager.h"
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
  return sizeof(IRP) + static_cast<uint64_t>(std::max<int8_t>(stack_size, 0)) * sizeof(IO_STACK_LOCATION);
}

void initialize_irp(Kernel& k, GuestVa irp, uint16_t size, int8_t stack_size) {
  std::vector<uint8_t> zero(size, 0);
  k.memory().write(irp, zero.data(), zero.size());
  IRP h{};
  h.Type = layout::kIoTypeIrp;
  h.Size = size;
  h.StackCount = stack_size;
  h.CurrentLocation = static_cast<int8_t>(stack_size + 1);
  h.ThreadListEntry = {(irp + offsetof(IRP, ThreadListEntry)).value, (irp + offsetof(IRP, ThreadListEntry)).value};
  // CurrentStackLocation starts one past the last location; IofCallDriver moves it down.
  h.CurrentStackLocation = (irp + sizeof(IRP) + static_cast<uint64_t>(stack_size) * sizeof(IO_STACK_LOCATION)).value;
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
  GuestVa dispatch{mem.read<uint64_t>(driver + offsetof(layout::DRIVER_OBJECT, MajorFunction) + 8ull * (major & 0x1F))};
  auto result = m.call(dispatch, {device.value, irp.value});
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
    mem.write<int8_t>(irp + offsetof(IRP, CurrentLocation), static_cast<int8_t>(h.CurrentLocation + 1));
    mem.write<uint64_t>(irp + offsetof(IRP, CurrentStackLocation), stack.value + sizeof(IO_STACK_LOCATION));
    uint8_t pending = sl.Control & kSlPendingReturned;
    mem.write<uint8_t>(irp + offsetof(IRP, PendingReturned), pending);
    NtStatus status = static_cast<NtStatus>(mem.read<uint64_t>(irp + offsetof(IRP, IoStatus)));
    bool cancel = mem.read<uint8_t>(irp + offsetof(IRP, Cancel)) != 0;
    bool invoke = sl.CompletionRoutine &&
                  ((nt_success(status) && (sl.Control & kSlInvokeOnSuccess)) ||
                   (!nt_success(status) && (sl.Control & kSlInvokeOnError)) ||
                   (cancel && (sl.Control & kSlInvokeOnCancel)));
    // The location is cleared (IoCompleteRequest zeroes it) before the routine runs.
    std::vector<uint8_t> zero(sizeof(IO_STACK_LOCATION), 0);
    mem.write(stack, zero.data(), zero.size());
    bool last = h.CurrentLocation + 1 > h.StackCount;
    if (invoke) {
      // The routine gets the device of its own layer: the next location's device.
      GuestVa device = last ? GuestVa{} : GuestVa{mem.read<uint64_t>(stack + sizeof(IO_STACK_LOCATION) +
                                                                    offsetof(IO_STACK_LOCATION, DeviceObject))};
      auto r = m.call(GuestVa{sl.CompletionRoutine}, {device.value, irp.value, sl.Context});
      if (!r) return;
      if (static_cast<NtStatus>(*r) == STATUS_MORE_PROCESSING_REQUIRED) return;
    } else if (pending && !last) {
      // IoMarkIrpPending on the next location up.
      GuestVa next = stack + sizeof(IO_STACK_LOCATION);
      mem.write<uint8_t>(next + offsetof(IO_STACK_LOCATION, Control),
                         mem.read<uint8_t>(next + offsetof(IO_STACK_LOCATION, Control)) | kSlPendingReturned);
    }
  }
  // The I/O manager's part, for IRPs it built with a caller waiting.
  auto it = k.io().threaded_irps().find(irp.value);
  h = mem.read<IRP>(irp);
  if (it != k.io().threaded_irps().end()) {
    io::ThreadedIrp t = it->second;
    NtStatus status = static_cast<NtStatus>(h.IoStatus.Status);
    if (t.buffered_copy_back && !nt_error(status) && t.output && t.system_buffer) {
      // METHOD_BUFFERED: Information bytes go back to the caller (not clamped).
      uint64_t n = h.IoStatus.Information;
      std::vector<uint8_t> bytes(std::min<uint64_t>(n, 1 << 24));
      if (mem.read(t.system_buffer, bytes.data(), bytes.size())) mem.write(t.output, bytes.data(), bytes.size());
    }
    if (t.mdl) {
      // The I/O manager unlocks (and unmaps) and frees the MDL it built.
      MmUnlockPages(k, t.mdl);
      IoFreeMdl(k, t.mdl);
    }
    if (h.UserIosb) mem.write(GuestVa{h.UserIosb}, h.IoStatus);
    if (t.system_buffer) m.pool().free(t.system_buffer, std::nullopt);
    k.io().threaded_irps().erase(it);
    GuestVa event{h.UserEvent};
    m.pool().free(irp, std::nullopt);
    if (event) {
      auto header = mem.read<layout::DISPATCHER_HEADER>(event);
      header.SignalState = 1;
      mem.write(event, header);
      k.scheduler().signal_test();
    }
  }
}

// IoBuildDeviceIoControlRequest(IoControlCode, DeviceObject, InputBuffer,
//   InputBufferLength, OutputBuffer, OutputBufferLength, InternalDeviceIoControl,
//   Event, IoStatusBlock): a threaded IRP for the device's stack, buffers per
//   the code's method; completing it signals Event and fills IoStatusBlock.
GuestVa IoBuildDeviceIoControlRequest(Kernel& k, uint32_t code, GuestVa device, GuestVa input, uint32_t input_length,
                                      GuestVa output, uint32_t output_length, bool internal, GuestVa event,
                                      GuestVa iosb) {
  auto& mem = k.memory();
  int8_t stack_size = mem.read<int8_t>(device + offsetof(layout::DEVICE_OBJECT, StackSize));
  GuestVa irp = IoAllocateIrp(k, stack_size, false);
  if (!irp) return irp;
  IRP h = mem.read<IRP>(irp);
  h.RequestorMode = 0;  // KernelMode: a driver's own request
  h.UserIosb = iosb.value;
  h.UserEvent = event.value;
  h.Thread = k.machine().current_thread().ethread.value;
  io::ThreadedIrp t;
  uint32_t method = code & 3;
  if (method == 0) {  // METHOD_BUFFERED
    uint32_t size = std::max(input_length, output_length);
    if (size) {
      auto buffer = k.machine().pool().allocate(size, 0, kIrpTag, GuestVa{});
      if (!buffer) {
        IoFreeIrp(k, irp);
        return GuestVa{};
      }
      // The input is copied into the system buffer now (a bad pointer faults
      // in the caller, as in Windows).
      std::vector<uint8_t> bytes(input_length);
      if (input_length && !mem.read(input, bytes.data(), bytes.size())) {
        k.machine().pool().free(*buffer, std::nullopt);
        IoFreeIrp(k, irp);
        throw emu::GuestAccessError(input, false);
      }
      mem.write(*buffer, bytes.data(), bytes.size());
      h.AssociatedIrp = buffer->value;
      t.system_buffer = *buffer;
      t.output = output;
      t.output_length = output_length;
      t.buffered_copy_back = true;
    }
  } else if (method == 3) {  // METHOD_NEITHER: raw pointers
    h.UserBuffer = output.value;
  } else {
    // Direct I/O needs an MDL for the output buffer; MDLs come with the I/O
    // manager milestone. Refuse rather than build a wrong IRP.
    IoFreeIrp(k, irp);
    k.machine().request_stop({emu::StopKind::Unimplemented,
                              "IoBuildDeviceIoControlRequest with METHOD_IN_DIRECT/METHOD_OUT_DIRECT is not "
                              "implemented yet (needs MDLs)",
                              {}});
    return GuestVa{};
  }
  mem.write(irp, h);
  GuestVa stack{h.CurrentStackLocation - sizeof(IO_STACK_LOCATION)};
  IO_STACK_LOCATION sl{};
  sl.MajorFunction = internal ? kIrpMjInternalDeviceControl : kIrpMjDeviceControl;
  sl.OutputBufferLength = output_length;
  sl.InputBufferLength = input_length;
  sl.IoControlCode = code;
  if (method == 3) sl.Type3InputBuffer = input.value;
  mem.write(stack, sl);
  k.io().threaded_irps()[irp.value] = t;
  return irp;
}

void register_irp_exports(Registry& r) {
  KEMU_EXPORT(r, IoInitializeIrp);
  KEMU_EXPORT(r, IoAllocateIrp);
  KEMU_EXPORT(r, IoReuseIrp);
  KEMU_EXPORT(r, IoFreeIrp);
  KEMU_EXPORT(r, IofCallDriver);
  KEMU_EXPORT(r, IofCompleteRequest);
  KEMU_EXPORT(r, IoBuildDeviceIoControlRequest);
}

}  // namespace kemu::nt
