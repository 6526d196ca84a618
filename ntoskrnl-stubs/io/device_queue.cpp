// Device queues and StartIo: the KDEVICE_QUEUE routines (KeInitializeDeviceQueue,
// KeInsert(ByKey)DeviceQueue, KeRemove(ByKey)DeviceQueue, KeRemoveEntryDeviceQueue)
// over the guest's own KDEVICE_QUEUE / KDEVICE_QUEUE_ENTRY, and the I/O
// manager's StartIo serialisation on DEVICE_OBJECT.DeviceQueue (IoStartPacket,
// IoStartNextPacket, IoStartNextPacketByKey) with the driver's StartIo
// routine called at DISPATCH_LEVEL. The StartIo attributes of
// IoSetStartIoAttributes (deferred / non-cancelable StartIo) are not modelled:
// StartIo is always called at once, as for a driver that never sets them.
#include "emulator/ntstatus.h"
#include "ntoskrnl-stubs/api/registry.h"
#include "ntoskrnl-stubs/io/irp.h"
#include "ntoskrnl-stubs/ke/lock_primitives.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/nt_structs.h"

namespace kemu::nt {

using layout::DEVICE_OBJECT;
using layout::IRP;
using layout::KDEVICE_QUEUE;
using layout::LIST_ENTRY;

namespace {

constexpr int16_t kDeviceQueueObject = 0x14;  // KOBJECTS DeviceQueueObject
// KDEVICE_QUEUE_ENTRY: DeviceListEntry, SortKey, Inserted.
constexpr uint64_t kEntrySortKey = 0x10;
constexpr uint64_t kEntryInserted = 0x14;
constexpr uint64_t kQueueHead = offsetof(KDEVICE_QUEUE, DeviceListHead);
constexpr uint64_t kQueueBusy = offsetof(KDEVICE_QUEUE, Busy);
// Irp->Tail.Overlay.DeviceQueueEntry overlays DriverContext.
constexpr uint64_t kIrpQueueEntry = offsetof(IRP, DriverContext);
constexpr int kMaxQueue = 1 << 20;

void insert_before(emu::AddressSpace& mem, GuestVa next, GuestVa entry) {
  GuestVa prev{mem.read<uint64_t>(next + offsetof(LIST_ENTRY, Blink))};
  mem.write(entry, LIST_ENTRY{next.value, prev.value});
  mem.write<uint64_t>(prev + offsetof(LIST_ENTRY, Flink), entry.value);
  mem.write<uint64_t>(next + offsetof(LIST_ENTRY, Blink), entry.value);
}

void unlink(emu::AddressSpace& mem, GuestVa entry) {
  auto links = mem.read<LIST_ENTRY>(entry);
  mem.write<uint64_t>(GuestVa{links.Blink} + offsetof(LIST_ENTRY, Flink), links.Flink);
  mem.write<uint64_t>(GuestVa{links.Flink} + offsetof(LIST_ENTRY, Blink), links.Blink);
}

// Removes and returns `entry` (not inserted any more).
GuestVa take(emu::AddressSpace& mem, GuestVa entry) {
  unlink(mem, entry);
  mem.write<uint8_t>(entry + kEntryInserted, 0);
  return entry;
}

// Not busy: the queue becomes busy and the entry is not inserted (FALSE: the
// caller starts the request itself).
bool claim_if_idle(emu::AddressSpace& mem, GuestVa queue, GuestVa entry) {
  if (mem.read<uint8_t>(queue + kQueueBusy)) return false;
  mem.write<uint8_t>(queue + kQueueBusy, 1);
  mem.write<uint8_t>(entry + kEntryInserted, 0);
  return true;
}

}  // namespace

// KeInitializeDeviceQueue: an empty, idle queue.
void KeInitializeDeviceQueue(Kernel& k, GuestVa queue) {
  KDEVICE_QUEUE q{};
  q.Type = kDeviceQueueObject;
  q.Size = sizeof(KDEVICE_QUEUE);
  q.DeviceListHead = {(queue + kQueueHead).value, (queue + kQueueHead).value};
  k.memory().write(queue, q);
}

// KeInsertDeviceQueue: FALSE (and the queue busy) when it was idle; otherwise
// the entry goes to the tail and TRUE.
bool KeInsertDeviceQueue(Kernel& k, GuestVa queue, GuestVa entry) {
  auto& mem = k.memory();
  if (claim_if_idle(mem, queue, entry)) return false;
  insert_before(mem, queue + kQueueHead, entry);
  mem.write<uint8_t>(entry + kEntryInserted, 1);
  return true;
}

// KeInsertByKeyDeviceQueue: the same, a busy queue kept in ascending SortKey
// order (after the entries with an equal key).
bool KeInsertByKeyDeviceQueue(Kernel& k, GuestVa queue, GuestVa entry, uint32_t sort_key) {
  auto& mem = k.memory();
  mem.write<uint32_t>(entry + kEntrySortKey, sort_key);
  if (claim_if_idle(mem, queue, entry)) return false;
  GuestVa head = queue + kQueueHead;
  GuestVa next{mem.read<uint64_t>(head)};
  for (int n = 0; next != head && n < kMaxQueue; ++n) {
    if (mem.read<uint32_t>(next + kEntrySortKey) > sort_key) break;
    next = GuestVa{mem.read<uint64_t>(next)};
  }
  insert_before(mem, next, entry);
  mem.write<uint8_t>(entry + kEntryInserted, 1);
  return true;
}

// KeRemoveDeviceQueue: the head entry, or NULL (and the queue idle) when empty.
GuestVa KeRemoveDeviceQueue(Kernel& k, GuestVa queue) {
  auto& mem = k.memory();
  GuestVa head = queue + kQueueHead;
  GuestVa first{mem.read<uint64_t>(head)};
  if (first == head) {
    mem.write<uint8_t>(queue + kQueueBusy, 0);
    return GuestVa{};
  }
  return take(mem, first);
}

// KeRemoveByKeyDeviceQueue: the first entry whose key is at least SortKey (the
// head when every key is smaller), or NULL (idle) when empty.
GuestVa KeRemoveByKeyDeviceQueue(Kernel& k, GuestVa queue, uint32_t sort_key) {
  auto& mem = k.memory();
  GuestVa head = queue + kQueueHead;
  GuestVa first{mem.read<uint64_t>(head)};
  if (first == head) {
    mem.write<uint8_t>(queue + kQueueBusy, 0);
    return GuestVa{};
  }
  GuestVa last{mem.read<uint64_t>(head + offsetof(LIST_ENTRY, Blink))};
  if (mem.read<uint32_t>(last + kEntrySortKey) < sort_key) return take(mem, first);
  GuestVa entry = first;
  for (int n = 0; entry != head && n < kMaxQueue; ++n) {
    if (mem.read<uint32_t>(entry + kEntrySortKey) >= sort_key) break;
    entry = GuestVa{mem.read<uint64_t>(entry)};
  }
  return take(mem, entry);
}

// KeRemoveEntryDeviceQueue: TRUE when the entry was in the queue (now removed).
bool KeRemoveEntryDeviceQueue(Kernel& k, GuestVa queue, GuestVa entry) {
  (void)queue;
  auto& mem = k.memory();
  if (!mem.read<uint8_t>(entry + kEntryInserted)) return false;
  take(mem, entry);
  return true;
}

namespace {

// The driver's StartIo routine for `irp`, which becomes the device's CurrentIrp.
void start_io(Kernel& k, GuestVa device, GuestVa irp) {
  auto& mem = k.memory();
  mem.write<uint64_t>(device + offsetof(DEVICE_OBJECT, CurrentIrp), irp.value);
  GuestVa driver{mem.read<uint64_t>(device + offsetof(DEVICE_OBJECT, DriverObject))};
  GuestVa routine{mem.read<uint64_t>(driver + offsetof(layout::DRIVER_OBJECT, DriverStartIo))};
  k.machine().call(routine, {device.value, irp.value});
}

// IoStartNextPacket(ByKey)'s shared steps.
void start_next(Kernel& k, GuestVa device, bool cancelable, const uint32_t* key) {
  auto& mem = k.memory();
  GuestVa irql_slot{(k.machine().cpu().rsp() - 0x80) & ~0xFull};
  if (cancelable) IoAcquireCancelSpinLock(k, irql_slot);
  uint8_t cancel_irql = mem.read<uint8_t>(irql_slot);
  mem.write<uint64_t>(device + offsetof(DEVICE_OBJECT, CurrentIrp), 0);
  GuestVa queue = device + offsetof(DEVICE_OBJECT, DeviceQueue);
  GuestVa entry = key ? KeRemoveByKeyDeviceQueue(k, queue, *key) : KeRemoveDeviceQueue(k, queue);
  if (cancelable) IoReleaseCancelSpinLock(k, cancel_irql);
  if (entry) start_io(k, device, entry - kIrpQueueEntry);
}

}  // namespace

// IoStartPacket(DeviceObject, Irp, Key, CancelFunction): at DISPATCH_LEVEL, the
// IRP gets CancelFunction under the cancel spin lock and enters the device
// queue (by *Key when given). An idle device starts it at once: CurrentIrp,
// then StartIo. A queued IRP that is already cancelled has CancelFunction
// called right away (with the lock, which it releases).
void IoStartPacket(Kernel& k, GuestVa device, GuestVa irp, GuestVa key, GuestVa cancel_function) {
  auto& mem = k.memory();
  uint8_t old_irql = ke::raise_irql(k, irql::kDispatch);
  GuestVa irql_slot{(k.machine().cpu().rsp() - 0x80) & ~0xFull};
  uint8_t cancel_irql = 0;
  if (cancel_function) {
    IoAcquireCancelSpinLock(k, irql_slot);
    cancel_irql = mem.read<uint8_t>(irql_slot);
    mem.write<uint64_t>(irp + offsetof(IRP, CancelRoutine), cancel_function.value);
  }
  GuestVa queue = device + offsetof(DEVICE_OBJECT, DeviceQueue);
  GuestVa entry = irp + kIrpQueueEntry;
  bool queued = key ? KeInsertByKeyDeviceQueue(k, queue, entry, mem.read<uint32_t>(key))
                    : KeInsertDeviceQueue(k, queue, entry);
  if (!queued) {
    if (cancel_function) IoReleaseCancelSpinLock(k, cancel_irql);
    start_io(k, device, irp);
  } else if (cancel_function) {
    if (mem.read<uint8_t>(irp + offsetof(IRP, Cancel))) {
      mem.write<uint8_t>(irp + offsetof(IRP, CancelIrql), cancel_irql);
      mem.write<uint64_t>(irp + offsetof(IRP, CancelRoutine), 0);
      k.machine().call(cancel_function, {device.value, irp.value});
    } else {
      IoReleaseCancelSpinLock(k, cancel_irql);
    }
  }
  if (!k.machine().stopped()) ke::lower_irql(k, old_irql);
}

// IoStartNextPacket(DeviceObject, Cancelable): CurrentIrp cleared, the next
// queued IRP (if any) taken — under the cancel spin lock when Cancelable —
// and started; an empty queue goes idle.
void IoStartNextPacket(Kernel& k, GuestVa device, bool cancelable) { start_next(k, device, cancelable, nullptr); }

// IoStartNextPacketByKey: the same, taking the IRP KeRemoveByKeyDeviceQueue picks for Key.
void IoStartNextPacketByKey(Kernel& k, GuestVa device, bool cancelable, uint32_t key) {
  start_next(k, device, cancelable, &key);
}

void register_device_queue_exports(Registry& r) {
  KEMU_EXPORT(r, KeInitializeDeviceQueue);
  KEMU_EXPORT(r, KeInsertDeviceQueue);
  KEMU_EXPORT(r, KeInsertByKeyDeviceQueue);
  KEMU_EXPORT(r, KeRemoveDeviceQueue);
  KEMU_EXPORT(r, KeRemoveByKeyDeviceQueue);
  KEMU_EXPORT(r, KeRemoveEntryDeviceQueue);
  KEMU_EXPORT(r, IoStartPacket);
  KEMU_EXPORT(r, IoStartNextPacket);
  KEMU_EXPORT(r, IoStartNextPacketByKey);
}

}  // namespace kemu::nt
