// Spin locks, queued spin locks, critical and guarded regions, fast and guarded
// mutexes; executive resources, lookaside lists and interlocked lists live in
// ex/ and are registered from here.
//
// One emulated processor, cooperative scheduling: a spin lock is never held by
// another running processor, so a held lock word at acquisition means this
// processor already holds it and Windows would spin forever (stop: deadlock).
// Mutex contention is real: the acquirer counts itself as a waiter and waits
// on the embedded event through the scheduler, as Windows' fast mutex does.
#include <cstddef>
#include <string>

#include <fmt/format.h>

#include "emulator/ntstatus.h"
#include "ntoskrnl-stubs/api/registry.h"
#include "ntoskrnl-stubs/ke/lock_primitives.h"
#include "ntoskrnl-stubs/ke/scheduler.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/lock_structs.h"

namespace kemu::nt {

using layout::FAST_MUTEX;
using layout::KLOCK_QUEUE_HANDLE;

// --- shared building blocks (ke/lock_primitives.h) ------------------------------

namespace ke {

uint8_t raise_irql(Kernel& k, uint8_t level) {
  uint8_t old = k.machine().irql();
  k.machine().set_irql(level);
  return old;
}

void lower_irql(Kernel& k, uint8_t level) {
  uint8_t old = k.machine().irql();
  k.machine().set_irql(level);
  if (old >= irql::kDispatch && level < irql::kDispatch) k.scheduler().run_dpcs();
}

namespace {
// Names a lock's storage: "drv.sys+0x4000" inside an image, the pool tag inside a pool block.
std::string describe_lock(Kernel& k, GuestVa lock) {
  emu::Machine& m = k.machine();
  if (auto s = m.symbolize(lock); s && !s->module.empty())
    return fmt::format(" ({}+{:#x})", s->module, s->offset);
  if (const emu::PoolBlock* b = m.pool().block_containing(lock)) {
    std::string tag;
    for (int i = 0; i < 4; ++i) {
      char c = static_cast<char>((b->tag >> (8 * i)) & 0xFF);
      tag += (c >= 0x20 && c < 0x7F) ? c : '.';
    }
    return fmt::format(" (pool block tagged '{}' +{:#x})", tag, lock - b->address);
  }
  return "";
}
}  // namespace

bool take_spin_lock(Kernel& k, GuestVa lock, uint64_t held_value, std::string_view routine) {
  emu::Machine& m = k.machine();
  uint64_t word = k.memory().read<uint64_t>(lock);
  if (word != 0) {
    std::string caller;
    if (auto s = m.symbolize(m.call_site())) caller = " called from " + s->text();
    m.request_stop(
        {emu::StopKind::Deadlock,
         fmt::format("{}{}: spin lock at {}{} is already held (lock word {:#x}): acquired "
                     "twice on one processor, where Windows spins forever",
                     routine, caller, lock.hex(), describe_lock(k, lock), word),
         {}});
    return false;
  }
  k.memory().write<uint64_t>(lock, held_value);
  return true;
}

void drop_spin_lock(Kernel& k, GuestVa lock) {
  k.memory().write<uint64_t>(lock, 0);
}

namespace {
// Adds `delta` to one of the SHORT APC-disable counts of the current thread
// (a critical region decrements KernelApcDisable, a guarded region SpecialApcDisable).
void adjust_apc_disable(Kernel& k, uint64_t field, int16_t delta) {
  GuestVa thread = k.machine().current_thread().ethread;
  if (!thread) return;
  int16_t value = k.memory().read<int16_t>(thread + field);
  k.memory().write<int16_t>(thread + field, static_cast<int16_t>(value + delta));
}
}  // namespace

void enter_critical_region(Kernel& k) {
  adjust_apc_disable(k, kthread_apc::kKernelApcDisable, -1);
}
void leave_critical_region(Kernel& k) {
  adjust_apc_disable(k, kthread_apc::kKernelApcDisable, 1);
}
void enter_guarded_region(Kernel& k) {
  adjust_apc_disable(k, kthread_apc::kSpecialApcDisable, -1);
}
void leave_guarded_region(Kernel& k) {
  adjust_apc_disable(k, kthread_apc::kSpecialApcDisable, 1);
}

bool resuming_wait(Kernel& k) {
  return k.scheduler().wait_suspended(k.machine().current_thread().id);
}

}  // namespace ke

namespace {

GuestVa current_thread(Kernel& k) {
  return k.machine().current_thread().ethread;
}

// --- fast and guarded mutexes (one layout since Windows 8) ----------------------------

// Takes a free mutex (Count's lock bit set) for the current thread.
bool try_take_mutex(Kernel& k, GuestVa mutex, bool raise_to_apc) {
  auto f = k.memory().read<FAST_MUTEX>(mutex);
  if ((f.Count & layout::kFmLockBit) == 0) return false;
  f.Count &= ~layout::kFmLockBit;
  f.Owner = current_thread(k).value;
  // ExAcquireFastMutex: the caller's IRQL is saved in the mutex and restored on release.
  if (raise_to_apc) f.OldIrql = ke::raise_irql(k, irql::kApc);
  k.memory().write(mutex, f);
  return true;
}

// ExAcquireFastMutex / KeAcquireGuardedMutex and their Unsafe forms. A waiter
// adds FM_LOCK_WAITER_INC to Count and waits on the embedded synchronization
// event; the releaser takes one waiter off the count and sets the event; the
// woken thread tries again (another thread may have taken the mutex first).
// When the wait suspends the thread this routine is called again on resume:
// it then goes straight back to its wait.
void acquire_mutex(Kernel& k, GuestVa mutex, bool raise_to_apc) {
  emu::Machine& m = k.machine();
  bool resuming = ke::resuming_wait(k);
  for (;;) {
    if (!resuming) {
      if (try_take_mutex(k, mutex, raise_to_apc)) return;
      auto f = k.memory().read<FAST_MUTEX>(mutex);
      f.Count += layout::kFmLockWaiterInc;
      f.Contention += 1;
      k.memory().write(mutex, f);
    }
    resuming = false;
    NtStatus s = k.scheduler().wait({mutex + offsetof(FAST_MUTEX, Event)}, false, std::nullopt);
    if (s == STATUS_PENDING || m.stopped())
      return;  // suspended (called again on resume) or stopped
  }
}

// ExReleaseFastMutex / KeReleaseGuardedMutex: Count gets its lock bit back
// (an add, as Windows does: releasing a free mutex corrupts it the same way);
// with waiters counted, one is taken off and the event set.
void release_mutex(Kernel& k, GuestVa mutex, bool lower_irql) {
  auto f = k.memory().read<FAST_MUTEX>(mutex);
  uint8_t old_irql = static_cast<uint8_t>(f.OldIrql);
  f.Owner = 0;
  f.Count += layout::kFmLockBit;
  bool wake = (f.Count >> 2) > 0;
  if (wake) f.Count -= layout::kFmLockWaiterInc;
  k.memory().write(mutex, f);
  if (wake) {
    GuestVa event = mutex + offsetof(FAST_MUTEX, Event);
    auto h = k.memory().read<layout::DISPATCHER_HEADER>(event);
    h.SignalState = 1;
    k.memory().write(event, h);
    k.scheduler().signal_test();
  }
  if (lower_irql) ke::lower_irql(k, old_irql);
}

}  // namespace

// --- spin locks ---------------------------------------------------------------------

void KeInitializeSpinLock(Kernel& k, GuestVa lock) {
  ke::drop_spin_lock(k, lock);
}

// KeAcquireSpinLock is a macro for this routine on x64 (wdm.h).
uint8_t KeAcquireSpinLockRaiseToDpc(Kernel& k, GuestVa lock) {
  uint8_t old = ke::raise_irql(k, irql::kDispatch);
  ke::take_spin_lock(k, lock, 1, "KeAcquireSpinLockRaiseToDpc");
  return old;
}

// KeAcquireSpinLockRaiseToSynch: the same at SYNCH_LEVEL.
uint8_t KeAcquireSpinLockRaiseToSynch(Kernel& k, GuestVa lock) {
  uint8_t old = ke::raise_irql(k, ke::kSynchLevel);
  ke::take_spin_lock(k, lock, 1, "KeAcquireSpinLockRaiseToSynch");
  return old;
}

void KeReleaseSpinLock(Kernel& k, GuestVa lock, uint8_t new_irql) {
  ke::drop_spin_lock(k, lock);
  ke::lower_irql(k, new_irql);
}

// The caller is already at DISPATCH_LEVEL: no IRQL change.
void KeAcquireSpinLockAtDpcLevel(Kernel& k, GuestVa lock) {
  ke::take_spin_lock(k, lock, 1, "KeAcquireSpinLockAtDpcLevel");
}

void KeReleaseSpinLockFromDpcLevel(Kernel& k, GuestVa lock) {
  ke::drop_spin_lock(k, lock);
}

// TRUE when the lock was free and is now held; a held lock is not waited for.
bool KeTryToAcquireSpinLockAtDpcLevel(Kernel& k, GuestVa lock) {
  if (k.memory().read<uint64_t>(lock) != 0) return false;
  k.memory().write<uint64_t>(lock, 1);
  return true;
}

// TRUE when the lock is available.
bool KeTestSpinLock(Kernel& k, GuestVa lock) {
  return k.memory().read<uint64_t>(lock) == 0;
}

// Threaded-DPC spin locks: raise to DISPATCH_LEVEL only from below it.
uint8_t KeAcquireSpinLockForDpc(Kernel& k, GuestVa lock) {
  uint8_t old = k.machine().irql();
  if (old < irql::kDispatch) ke::raise_irql(k, irql::kDispatch);
  ke::take_spin_lock(k, lock, 1, "KeAcquireSpinLockForDpc");
  return old;
}

void KeReleaseSpinLockForDpc(Kernel& k, GuestVa lock, uint8_t old_irql) {
  ke::drop_spin_lock(k, lock);
  if (old_irql < k.machine().irql()) ke::lower_irql(k, old_irql);
}

// --- in-stack queued spin locks ----------------------------------------------------------
// The lock word points at the owner's KSPIN_LOCK_QUEUE (the handle), as the
// queued-lock tail does on Windows; the handle records the lock and old IRQL.

namespace {
void queued_acquire(Kernel& k, GuestVa lock, GuestVa handle, uint8_t old_irql,
                    std::string_view routine) {
  KLOCK_QUEUE_HANDLE h{};
  h.LockQueue.Next = 0;
  h.LockQueue.Lock = lock.value;
  h.OldIrql = old_irql;
  k.memory().write(handle, h);
  ke::take_spin_lock(k, lock, handle.value, routine);
}

// Returns the OldIrql the handle recorded.
uint8_t queued_release(Kernel& k, GuestVa handle) {
  auto h = k.memory().read<KLOCK_QUEUE_HANDLE>(handle);
  ke::drop_spin_lock(k, GuestVa{h.LockQueue.Lock & ~3ull});  // low bits: LOCK_QUEUE_WAIT/OWNER
  return h.OldIrql;
}
}  // namespace

void KeAcquireInStackQueuedSpinLock(Kernel& k, GuestVa lock, GuestVa handle) {
  uint8_t old = ke::raise_irql(k, irql::kDispatch);
  queued_acquire(k, lock, handle, old, "KeAcquireInStackQueuedSpinLock");
}

void KeAcquireInStackQueuedSpinLockRaiseToSynch(Kernel& k, GuestVa lock, GuestVa handle) {
  uint8_t old = ke::raise_irql(k, ke::kSynchLevel);
  queued_acquire(k, lock, handle, old, "KeAcquireInStackQueuedSpinLockRaiseToSynch");
}

void KeReleaseInStackQueuedSpinLock(Kernel& k, GuestVa handle) {
  ke::lower_irql(k, queued_release(k, handle));
}

void KeAcquireInStackQueuedSpinLockAtDpcLevel(Kernel& k, GuestVa lock, GuestVa handle) {
  queued_acquire(k, lock, handle, k.machine().irql(), "KeAcquireInStackQueuedSpinLockAtDpcLevel");
}

void KeReleaseInStackQueuedSpinLockFromDpcLevel(Kernel& k, GuestVa handle) {
  queued_release(k, handle);
}

void KeAcquireInStackQueuedSpinLockForDpc(Kernel& k, GuestVa lock, GuestVa handle) {
  uint8_t old = k.machine().irql();
  if (old < irql::kDispatch) ke::raise_irql(k, irql::kDispatch);
  queued_acquire(k, lock, handle, old, "KeAcquireInStackQueuedSpinLockForDpc");
}

void KeReleaseInStackQueuedSpinLockForDpc(Kernel& k, GuestVa handle) {
  uint8_t old = queued_release(k, handle);
  if (old < k.machine().irql()) ke::lower_irql(k, old);
}

// --- critical and guarded regions ------------------------------------------------------------

void KeEnterCriticalRegion(Kernel& k) {
  ke::enter_critical_region(k);
}
void KeLeaveCriticalRegion(Kernel& k) {
  ke::leave_critical_region(k);
}
void KeEnterGuardedRegion(Kernel& k) {
  ke::enter_guarded_region(k);
}
void KeLeaveGuardedRegion(Kernel& k) {
  ke::leave_guarded_region(k);
}

// TRUE inside a critical region or a guarded region.
bool KeAreApcsDisabled(Kernel& k) {
  GuestVa thread = current_thread(k);
  return thread && k.memory().read<uint32_t>(thread + ke::kthread_apc::kCombinedApcDisable) != 0;
}

// TRUE inside a guarded region or at IRQL >= APC_LEVEL (all APCs disabled).
bool KeAreAllApcsDisabled(Kernel& k) {
  GuestVa thread = current_thread(k);
  bool guarded =
      thread && k.memory().read<int16_t>(thread + ke::kthread_apc::kSpecialApcDisable) != 0;
  return guarded || k.machine().irql() >= irql::kApc;
}

// --- fast mutexes --------------------------------------------------------------------------
// ExInitializeFastMutex is inline in wdm.h (Count = FM_LOCK_BIT, the event a
// SynchronizationEvent) and not exported.

// Raises to APC_LEVEL; the old IRQL goes into the mutex.
void ExAcquireFastMutex(Kernel& k, GuestVa mutex) {
  acquire_mutex(k, mutex, true);
}
void ExReleaseFastMutex(Kernel& k, GuestVa mutex) {
  release_mutex(k, mutex, true);
}

// TRUE and APC_LEVEL when the mutex was free; otherwise FALSE and no change.
bool ExTryToAcquireFastMutex(Kernel& k, GuestVa mutex) {
  return try_take_mutex(k, mutex, true);
}

// Unsafe: the caller is at APC_LEVEL or in a critical region; no IRQL change.
void ExAcquireFastMutexUnsafe(Kernel& k, GuestVa mutex) {
  acquire_mutex(k, mutex, false);
}
void ExReleaseFastMutexUnsafe(Kernel& k, GuestVa mutex) {
  release_mutex(k, mutex, false);
}

void ExEnterCriticalRegionAndAcquireFastMutexUnsafe(Kernel& k, GuestVa mutex) {
  if (!ke::resuming_wait(k)) ke::enter_critical_region(k);
  acquire_mutex(k, mutex, false);
}

void ExReleaseFastMutexUnsafeAndLeaveCriticalRegion(Kernel& k, GuestVa mutex) {
  release_mutex(k, mutex, false);
  ke::leave_critical_region(k);
}

// --- guarded mutexes --------------------------------------------------------------------------
// Since Windows 8 a KGUARDED_MUTEX is a fast mutex whose owner runs in a
// guarded region instead of at APC_LEVEL; the gate is a synchronization event.

void KeInitializeGuardedMutex(Kernel& k, GuestVa mutex) {
  FAST_MUTEX f{};
  f.Count = layout::kFmLockBit;
  f.Event.Header.Type = ke::dispatcher_type::kSynchronizationEvent;
  f.Event.Header.Size = sizeof(layout::KEVENT) / 4;
  GuestVa event = mutex + offsetof(FAST_MUTEX, Event);
  f.Event.Header.WaitListHead = {(event + 8).value, (event + 8).value};
  k.memory().write(mutex, f);
}

void KeAcquireGuardedMutex(Kernel& k, GuestVa mutex) {
  if (!ke::resuming_wait(k)) ke::enter_guarded_region(k);
  acquire_mutex(k, mutex, false);
}

void KeReleaseGuardedMutex(Kernel& k, GuestVa mutex) {
  release_mutex(k, mutex, false);
  ke::leave_guarded_region(k);
}

bool KeTryToAcquireGuardedMutex(Kernel& k, GuestVa mutex) {
  ke::enter_guarded_region(k);
  if (try_take_mutex(k, mutex, false)) return true;
  ke::leave_guarded_region(k);
  return false;
}

// Unsafe: the caller is already in a guarded region or at APC_LEVEL.
void KeAcquireGuardedMutexUnsafe(Kernel& k, GuestVa mutex) {
  acquire_mutex(k, mutex, false);
}
void KeReleaseGuardedMutexUnsafe(Kernel& k, GuestVa mutex) {
  release_mutex(k, mutex, false);
}

void register_lock_exports(Registry& r) {
  KEMU_EXPORT(r, KeInitializeSpinLock);
  KEMU_EXPORT(r, KeAcquireSpinLockRaiseToDpc);
  KEMU_EXPORT(r, KeAcquireSpinLockRaiseToSynch);
  KEMU_EXPORT(r, KeReleaseSpinLock);
  KEMU_EXPORT(r, KeAcquireSpinLockAtDpcLevel);
  KEMU_EXPORT(r, KeReleaseSpinLockFromDpcLevel);
  KEMU_EXPORT(r, KeTryToAcquireSpinLockAtDpcLevel);
  KEMU_EXPORT(r, KeTestSpinLock);
  KEMU_EXPORT(r, KeAcquireSpinLockForDpc);
  KEMU_EXPORT(r, KeReleaseSpinLockForDpc);
  KEMU_EXPORT(r, KeAcquireInStackQueuedSpinLock);
  KEMU_EXPORT(r, KeAcquireInStackQueuedSpinLockRaiseToSynch);
  KEMU_EXPORT(r, KeReleaseInStackQueuedSpinLock);
  KEMU_EXPORT(r, KeAcquireInStackQueuedSpinLockAtDpcLevel);
  KEMU_EXPORT(r, KeReleaseInStackQueuedSpinLockFromDpcLevel);
  KEMU_EXPORT(r, KeAcquireInStackQueuedSpinLockForDpc);
  KEMU_EXPORT(r, KeReleaseInStackQueuedSpinLockForDpc);
  KEMU_EXPORT(r, KeEnterCriticalRegion);
  KEMU_EXPORT(r, KeLeaveCriticalRegion);
  KEMU_EXPORT(r, KeEnterGuardedRegion);
  KEMU_EXPORT(r, KeLeaveGuardedRegion);
  KEMU_EXPORT(r, KeAreApcsDisabled);
  KEMU_EXPORT(r, KeAreAllApcsDisabled);
  KEMU_EXPORT(r, ExAcquireFastMutex);
  KEMU_EXPORT(r, ExReleaseFastMutex);
  KEMU_EXPORT(r, ExTryToAcquireFastMutex);
  KEMU_EXPORT(r, ExAcquireFastMutexUnsafe);
  KEMU_EXPORT(r, ExReleaseFastMutexUnsafe);
  KEMU_EXPORT(r, ExEnterCriticalRegionAndAcquireFastMutexUnsafe);
  KEMU_EXPORT(r, ExReleaseFastMutexUnsafeAndLeaveCriticalRegion);
  KEMU_EXPORT(r, KeInitializeGuardedMutex);
  KEMU_EXPORT(r, KeAcquireGuardedMutex);
  KEMU_EXPORT(r, KeReleaseGuardedMutex);
  KEMU_EXPORT(r, KeTryToAcquireGuardedMutex);
  KEMU_EXPORT(r, KeAcquireGuardedMutexUnsafe);
  KEMU_EXPORT(r, KeReleaseGuardedMutexUnsafe);
  register_resource_exports(r);
  register_lookaside_exports(r);
  register_interlocked_exports(r);
}

}  // namespace kemu::nt
