// IRP cancellation: the cancel spin lock (IoAcquireCancelSpinLock,
// IoReleaseCancelSpinLock), IoCancelIrp, and the two ways a requestor's IRPs
// get cancelled — NtCancelIoFile (the IRPs a thread issued on one file) and
// IoCancelThreadIo (every IRP of a thread that ends). IoSetCancelRoutine is
// an inline InterlockedExchangePointer on Irp->CancelRoutine in wdm.h, so a
// driver's cancel routine is whatever that field holds when IoCancelIrp runs.
#include <algorithm>
#include <functional>
#include <vector>

#include "emulator/ntstatus.h"
#include "ntoskrnl-stubs/api/registry.h"
#include "ntoskrnl-stubs/io/io_manager.h"
#include "ntoskrnl-stubs/io/irp.h"
#include "ntoskrnl-stubs/ke/lock_primitives.h"
#include "ntoskrnl-stubs/ke/scheduler.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/nt_structs.h"

namespace kemu::nt {

using layout::IO_STACK_LOCATION;
using layout::IRP;

namespace {
constexpr uint32_t kCancelStateInCompletedIrp = 0x48;  // CANCEL_STATE_IN_COMPLETED_IRP

// Raises to DISPATCH_LEVEL and takes the cancel spin lock; the IRQL before.
uint8_t acquire_cancel_lock(Kernel& k, const char* routine) {
  uint8_t old = ke::raise_irql(k, irql::kDispatch);
  ke::take_spin_lock(k, k.io().cancel_spin_lock(), 1, routine);
  return old;
}
}  // namespace

// IoAcquireCancelSpinLock(PKIRQL Irql): raises to DISPATCH_LEVEL, takes the
// system-wide cancel spin lock and stores the previous IRQL in *Irql.
void IoAcquireCancelSpinLock(Kernel& k, GuestVa irql_out) {
  uint8_t old = acquire_cancel_lock(k, "IoAcquireCancelSpinLock");
  k.memory().write<uint8_t>(irql_out, old);
}

// IoReleaseCancelSpinLock(Irql): releases the lock and returns to Irql (also
// how a cancel routine gives up the lock it was called with).
void IoReleaseCancelSpinLock(Kernel& k, uint8_t irql) {
  ke::drop_spin_lock(k, k.io().cancel_spin_lock());
  ke::lower_irql(k, irql);
}

// IoCancelIrp: under the cancel spin lock, sets Irp->Cancel and swaps the
// cancel routine for NULL. With a routine: records the caller's IRQL in
// Irp->CancelIrql and calls it at DISPATCH_LEVEL with the lock held (the
// routine releases it) for the device of the current stack location; TRUE.
// Without one: releases the lock; FALSE (the IRP stays marked cancelled). A
// routine on an IRP already completed is CANCEL_STATE_IN_COMPLETED_IRP.
bool IoCancelIrp(Kernel& k, GuestVa irp) {
  auto& mem = k.memory();
  emu::Machine& m = k.machine();
  uint8_t old = acquire_cancel_lock(k, "IoCancelIrp");
  if (m.stopped()) return false;
  mem.write<uint8_t>(irp + offsetof(IRP, Cancel), 1);
  GuestVa routine{mem.read<uint64_t>(irp + offsetof(IRP, CancelRoutine))};
  mem.write<uint64_t>(irp + offsetof(IRP, CancelRoutine), 0);
  if (!routine) {
    IoReleaseCancelSpinLock(k, old);
    return false;
  }
  IRP h = mem.read<IRP>(irp);
  if (h.CurrentLocation > h.StackCount + 1) {
    m.bugcheck(kCancelStateInCompletedIrp, irp.value, routine.value, 0, 0, m.call_site());
    return false;
  }
  mem.write<uint8_t>(irp + offsetof(IRP, CancelIrql), old);
  // Irp->Tail.Overlay.CurrentStackLocation->DeviceObject (read as Windows
  // does, even for an IRP not yet sent, whose location is past the last one).
  auto device = mem.try_read<uint64_t>(GuestVa{h.CurrentStackLocation} +
                                       offsetof(IO_STACK_LOCATION, DeviceObject));
  m.call(routine, {device.value_or(0), irp.value});
  return true;
}

namespace io {

namespace {
constexpr uint8_t kApcLevel = 1;
constexpr uint64_t kMs = 10'000;  // 100 ns units
}  // namespace

// Whether anything left in the machine can ever run: no timer, DPC, work
// item or live thread means the outstanding IRPs stay outstanding.
static bool machine_idle_forever(Kernel& k) {
  const ke::Scheduler& s = k.scheduler();
  return s.timers().empty() && s.queued_dpcs().empty() && s.queued_work().empty() &&
         s.live_threads().empty();
}

// The caller's delay loop (KeDelayExecutionThread of `poll`, at most `polls`
// times) until `done`: virtual time moves, timers fire, ready work runs.
// False when the polls run out or nothing can ever make `done` true; then
// time has moved by the polls the caller would have spent (all of them when
// the machine is idle for good).
static bool poll_until(Kernel& k, const std::function<bool()>& done, uint64_t poll,
                       uint64_t polls) {
  emu::Machine& m = k.machine();
  for (uint64_t n = 0; n < polls; ++n) {
    if (done()) return true;
    if (m.stopped()) return false;
    if (machine_idle_forever(k)) {
      k.scheduler().advance_time((polls - n) * poll);
      return done();
    }
    k.scheduler().advance_time(poll);
    k.scheduler().run_pending();
  }
  return done();
}

IoResult IoManager::cancel_file_io(uint64_t handle) {
  auto& ob = kernel_.ob();
  auto& mem = kernel_.memory();
  emu::Machine& m = kernel_.machine();
  ob::ObjectId file_id = ob::kNoObject;
  NtStatus status =
      ob.reference_by_handle(handle, 0, ob::TypeIndex::File, m.previous_mode(), &file_id, nullptr);
  if (!nt_success(status)) return {status, 0, false};
  GuestVa file = ob.get(file_id)->body;
  GuestVa thread = m.current_thread().ethread;
  auto issued_on_file = [&](GuestVa irp) {
    return mem.read<uint64_t>(irp + offsetof(IRP, OriginalFileObject)) == file.value;
  };
  // At APC_LEVEL, every IRP this thread issued on the file is cancelled, newest first.
  uint8_t irql = ke::raise_irql(kernel_, kApcLevel);
  bool found = false;
  for (GuestVa irp : thread_irps(thread)) {
    std::vector<GuestVa> now = thread_irps(thread);  // a cancel routine may have completed others
    if (std::find(now.begin(), now.end(), irp) == now.end() || !issued_on_file(irp)) continue;
    found = true;
    IoCancelIrp(kernel_, irp);
    if (m.stopped()) return {STATUS_SUCCESS, 0, false};
  }
  ke::lower_irql(kernel_, irql);
  // Then 10 ms delays until none of them is left on the thread's list; the
  // system call does not return before (kemu gives up after ten minutes).
  auto none_left = [&] {
    for (GuestVa irp : thread_irps(thread))
      if (issued_on_file(irp)) return false;
    return true;
  };
  bool finished = !found || poll_until(kernel_, none_left, 10 * kMs, 60'000);
  if (ob.get(file_id)) ob.dereference(file_id);
  if (m.stopped()) return {STATUS_SUCCESS, 0, false};
  if (!finished) return {STATUS_PENDING, 0, true};
  return {STATUS_SUCCESS, 0, false};  // IoStatusBlock: STATUS_SUCCESS, 0
}

void IoManager::cancel_thread_io() {
  auto& mem = kernel_.memory();
  emu::Machine& m = kernel_.machine();
  GuestVa thread = m.current_thread().ethread;
  uint8_t irql = ke::raise_irql(kernel_, kApcLevel);
  for (GuestVa irp : thread_irps(thread)) {
    std::vector<GuestVa> now = thread_irps(thread);
    if (std::find(now.begin(), now.end(), irp) == now.end()) continue;
    IoCancelIrp(kernel_, irp);
    if (m.stopped()) return;
  }
  ke::lower_irql(kernel_, irql);
  // 100 ms delays, up to five minutes; then the IRP at the head of the list
  // is disassociated from the thread (off the list, Thread = NULL; it stays
  // pending) and the wait starts over for the rest.
  auto none_left = [&] { return thread_irps(thread).empty(); };
  while (!m.stopped() && !none_left()) {
    if (poll_until(kernel_, none_left, 100 * kMs, 3000) || m.stopped()) break;
    GuestVa irp = thread_irps(thread).front();
    GuestVa entry = irp + offsetof(IRP, ThreadListEntry);
    auto links = mem.read<layout::LIST_ENTRY>(entry);
    mem.write<uint64_t>(GuestVa{links.Blink} + offsetof(layout::LIST_ENTRY, Flink), links.Flink);
    mem.write<uint64_t>(GuestVa{links.Flink} + offsetof(layout::LIST_ENTRY, Blink), links.Blink);
    mem.write(entry, layout::LIST_ENTRY{entry.value, entry.value});
    mem.write<uint64_t>(irp + offsetof(IRP, Thread), 0);
    auto it = threaded_irps_.find(irp.value);
    if (it != threaded_irps_.end()) it->second.threaded = false;
  }
}

}  // namespace io

void register_cancel_exports(Registry& r) {
  KEMU_EXPORT(r, IoAcquireCancelSpinLock);
  KEMU_EXPORT(r, IoReleaseCancelSpinLock);
  KEMU_EXPORT(r, IoCancelIrp);
}

}  // namespace kemu::nt
