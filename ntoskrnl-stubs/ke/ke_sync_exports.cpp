// Dispatcher objects (events, mutexes, semaphores, timers), waits, DPCs,
// time and the exported IRQL routines, over ke::Scheduler.
#include "emulator/ntstatus.h"
#include "ntoskrnl-stubs/api/registry.h"
#include "ntoskrnl-stubs/ke/scheduler.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/nt_structs.h"

namespace kemu::nt {

namespace dt = ke::dispatcher_type;
namespace off = ke::offsets;
using layout::DISPATCHER_HEADER;

namespace {

void init_header(Kernel& k, GuestVa object, uint8_t type, uint8_t size_bytes, int32_t state) {
  DISPATCHER_HEADER h{};
  h.Type = type;
  h.Size = static_cast<uint8_t>(size_bytes / 4);
  h.SignalState = state;
  h.WaitListHead = {(object + 8).value, (object + 8).value};
  k.memory().write(object, h);
}

int32_t signal_state(Kernel& k, GuestVa object) { return k.memory().read<DISPATCHER_HEADER>(object).SignalState; }

void set_signal_state(Kernel& k, GuestVa object, int32_t state) {
  auto h = k.memory().read<DISPATCHER_HEADER>(object);
  h.SignalState = state;
  k.memory().write(object, h);
}

std::optional<int64_t> read_timeout(Kernel& k, GuestVa timeout) {
  if (!timeout) return std::nullopt;
  return k.memory().read<int64_t>(timeout);
}

}  // namespace

// --- events ---------------------------------------------------------------------
// EVENT_TYPE: NotificationEvent 0, SynchronizationEvent 1 (the header type).
void KeInitializeEvent(Kernel& k, GuestVa event, uint32_t type, bool state) {
  init_header(k, event, type == 1 ? dt::kSynchronizationEvent : dt::kNotificationEvent, 0x18, state ? 1 : 0);
}

int32_t KeSetEvent(Kernel& k, GuestVa event, int32_t increment, bool wait) {
  int32_t previous = signal_state(k, event);
  set_signal_state(k, event, 1);
  k.scheduler().signal_test();
  return previous;
}

int32_t KeResetEvent(Kernel& k, GuestVa event) {
  int32_t previous = signal_state(k, event);
  set_signal_state(k, event, 0);
  return previous;
}

void KeClearEvent(Kernel& k, GuestVa event) { set_signal_state(k, event, 0); }

int32_t KeReadStateEvent(Kernel& k, GuestVa event) { return signal_state(k, event); }

// KePulseEvent: satisfies the current waiters, then leaves the event not signalled.
int32_t KePulseEvent(Kernel& k, GuestVa event, int32_t increment, bool wait) {
  int32_t previous = signal_state(k, event);
  set_signal_state(k, event, 1);
  k.scheduler().signal_test();
  set_signal_state(k, event, 0);
  return previous;
}

// --- mutexes (KMUTANT) ------------------------------------------------------------
void KeInitializeMutex(Kernel& k, GuestVa mutex, uint32_t level) {
  init_header(k, mutex, dt::kMutant, 0x38, 1);
  auto& mem = k.memory();
  mem.write<layout::LIST_ENTRY>(mutex + 0x18, {0, 0});
  mem.write<uint64_t>(mutex + off::kMutantOwnerThread, 0);
  mem.write<uint8_t>(mutex + off::kMutantAbandoned, 0);
  mem.write<uint8_t>(mutex + 0x31, 1);  // ApcDisable
}

// KeReleaseMutex: only the owner may release (else STATUS_MUTANT_NOT_OWNED is raised).
int32_t KeReleaseMutex(Kernel& k, GuestVa mutex, bool wait) {
  auto& mem = k.memory();
  GuestVa me = k.machine().current_thread().ethread;
  int32_t previous = signal_state(k, mutex);
  if (mem.read<uint64_t>(mutex + off::kMutantOwnerThread) != me.value || previous > 0) {
    k.raise_in_caller(0xC0000046);  // STATUS_MUTANT_NOT_OWNED
    return previous;
  }
  set_signal_state(k, mutex, previous + 1);
  if (previous + 1 == 1) mem.write<uint64_t>(mutex + off::kMutantOwnerThread, 0);
  k.scheduler().signal_test();
  return previous;
}

int32_t KeReadStateMutex(Kernel& k, GuestVa mutex) { return signal_state(k, mutex); }

// --- semaphores ----------------------------------------------------------------------
void KeInitializeSemaphore(Kernel& k, GuestVa semaphore, int32_t count, int32_t limit) {
  init_header(k, semaphore, dt::kSemaphore, 0x20, count);
  k.memory().write<int32_t>(semaphore + off::kSemaphoreLimit, limit);
}

int32_t KeReleaseSemaphore(Kernel& k, GuestVa semaphore, int32_t increment, int32_t adjustment, bool wait) {
  int32_t previous = signal_state(k, semaphore);
  int32_t limit = k.memory().read<int32_t>(semaphore + off::kSemaphoreLimit);
  int64_t next = static_cast<int64_t>(previous) + adjustment;
  if (adjustment < 0 || next > limit) {
    k.raise_in_caller(0xC0000047);  // STATUS_SEMAPHORE_LIMIT_EXCEEDED
    return previous;
  }
  set_signal_state(k, semaphore, static_cast<int32_t>(next));
  k.scheduler().signal_test();
  return previous;
}

int32_t KeReadStateSemaphore(Kernel& k, GuestVa semaphore) { return signal_state(k, semaphore); }

// --- timers ----------------------------------------------------------------------------
// TIMER_TYPE: NotificationTimer 0, SynchronizationTimer 1.
void KeInitializeTimerEx(Kernel& k, GuestVa timer, uint32_t type) {
  init_header(k, timer, type == 1 ? dt::kSynchronizationTimer : dt::kNotificationTimer, 0x40, 0);
  auto& mem = k.memory();
  mem.write<uint64_t>(timer + off::kTimerDueTime, 0);
  mem.write<uint64_t>(timer + off::kTimerDpc, 0);
  mem.write<uint32_t>(timer + off::kTimerPeriod, 0);
}

void KeInitializeTimer(Kernel& k, GuestVa timer) { KeInitializeTimerEx(k, timer, 0); }

bool KeSetTimerEx(Kernel& k, GuestVa timer, int64_t due_time, int32_t period, GuestVa dpc) {
  return k.scheduler().set_timer(timer, due_time, period > 0 ? static_cast<uint32_t>(period) : 0, dpc);
}

bool KeSetTimer(Kernel& k, GuestVa timer, int64_t due_time, GuestVa dpc) {
  return KeSetTimerEx(k, timer, due_time, 0, dpc);
}

bool KeCancelTimer(Kernel& k, GuestVa timer) { return k.scheduler().cancel_timer(timer); }

bool KeReadStateTimer(Kernel& k, GuestVa timer) { return signal_state(k, timer) > 0; }

// --- waits --------------------------------------------------------------------------------
NtStatus KeWaitForSingleObject(Kernel& k, GuestVa object, uint32_t reason, uint8_t mode, bool alertable,
                               GuestVa timeout) {
  return k.scheduler().wait({object}, false, read_timeout(k, timeout), false, alertable);
}

// WaitType: WaitAll 0, WaitAny 1. More than THREAD_WAIT_OBJECTS (3) objects
// need a caller-supplied wait block array; more than 64 bugcheck 0xC.
NtStatus KeWaitForMultipleObjects(Kernel& k, uint32_t count, GuestVa objects, uint32_t wait_type,
                                  uint32_t reason, uint8_t mode, bool alertable, GuestVa timeout,
                                  GuestVa wait_blocks) {
  emu::Machine& m = k.machine();
  if (count > 64 || (count > 3 && !wait_blocks)) {
    m.bugcheck(0xC, count, 0, 0, 0, m.call_site());  // MAXIMUM_WAIT_OBJECTS_EXCEEDED
    return STATUS_INVALID_PARAMETER;
  }
  std::vector<GuestVa> list;
  for (uint32_t i = 0; i < count; ++i) list.push_back(GuestVa{k.memory().read<uint64_t>(objects + 8ull * i)});
  return k.scheduler().wait(list, wait_type == 0, read_timeout(k, timeout), false, alertable);
}

NtStatus KeDelayExecutionThread(Kernel& k, uint8_t mode, bool alertable, GuestVa interval) {
  return k.scheduler().wait({}, false, read_timeout(k, interval), true, alertable);
}

// KeStallExecutionProcessor busy-waits: virtual time moves on by that much.
void KeStallExecutionProcessor(Kernel& k, uint32_t microseconds) {
  k.machine().advance_time(static_cast<uint64_t>(microseconds) * 10);
}

// --- DPCs ------------------------------------------------------------------------------------
void KeInitializeDpc(Kernel& k, GuestVa dpc, GuestVa routine, GuestVa context) {
  layout::KDPC d{};
  d.Type = 0x13;        // DpcObject
  d.Importance = 1;     // MediumImportance
  d.DeferredRoutine = routine.value;
  d.DeferredContext = context.value;
  k.memory().write(dpc, d);
}

void KeInitializeThreadedDpc(Kernel& k, GuestVa dpc, GuestVa routine, GuestVa context) {
  KeInitializeDpc(k, dpc, routine, context);
  k.memory().write<uint8_t>(dpc, 0x18);  // ThreadedDpcObject
}

// A DPC queued below DISPATCH_LEVEL runs at once (the DISPATCH interrupt is
// delivered as soon as the IRQL allows).
bool KeInsertQueueDpc(Kernel& k, GuestVa dpc, uint64_t argument1, uint64_t argument2) {
  bool queued = k.scheduler().insert_dpc(dpc, argument1, argument2);
  if (queued && k.machine().irql() < irql::kDispatch) k.scheduler().run_dpcs();
  return queued;
}

bool KeRemoveQueueDpc(Kernel& k, GuestVa dpc) { return k.scheduler().remove_dpc(dpc); }

void KeFlushQueuedDpcs(Kernel& k) {
  if (k.machine().irql() < irql::kDispatch) k.scheduler().run_dpcs();
}

void KeSetImportanceDpc(Kernel& k, GuestVa dpc, uint32_t importance) {
  k.memory().write<uint8_t>(dpc + off::kDpcImportance, static_cast<uint8_t>(importance));
}

// One processor: the target is recorded and nothing else changes.
void KeSetTargetProcessorDpc(Kernel& k, GuestVa dpc, uint8_t number) {
  k.memory().write<uint16_t>(dpc + 2, number);
}

// --- time ----------------------------------------------------------------------------------------
void KeQuerySystemTime(Kernel& k, GuestVa out) { k.memory().write<uint64_t>(out, k.machine().system_time()); }
void KeQuerySystemTimePrecise(Kernel& k, GuestVa out) { KeQuerySystemTime(k, out); }
uint64_t KeQueryInterruptTime(Kernel& k) { return k.machine().interrupt_time(); }
uint64_t KeQueryInterruptTimePrecise(Kernel& k, GuestVa qpc) {
  if (qpc) k.memory().write<uint64_t>(qpc, k.machine().interrupt_time());
  return k.machine().interrupt_time();
}
void KeQueryTickCount(Kernel& k, GuestVa out) {
  k.memory().write<uint64_t>(out, k.machine().interrupt_time() / emu::Machine::kTimeIncrement);
}
// KeQueryPerformanceCounter: a 10 MHz counter (the frequency KUSER_SHARED_DATA reports).
uint64_t KeQueryPerformanceCounter(Kernel& k, GuestVa frequency) {
  if (frequency) k.memory().write<uint64_t>(frequency, 10'000'000);
  return k.machine().interrupt_time();
}

// --- exported IRQL routines -------------------------------------------------------------------------
uint8_t KfRaiseIrql(Kernel& k, uint8_t new_irql) {
  uint8_t old = k.machine().irql();
  k.machine().set_irql(new_irql);
  return old;
}

void KeRaiseIrql(Kernel& k, uint8_t new_irql, GuestVa old_out) {
  k.memory().write<uint8_t>(old_out, KfRaiseIrql(k, new_irql));
}

uint8_t KeRaiseIrqlToDpcLevel(Kernel& k) { return KfRaiseIrql(k, irql::kDispatch); }

void KfLowerIrql(Kernel& k, uint8_t new_irql) {
  uint8_t old = k.machine().irql();
  k.machine().set_irql(new_irql);
  if (old >= irql::kDispatch && new_irql < irql::kDispatch) k.scheduler().run_dpcs();
}

void KeLowerIrql(Kernel& k, uint8_t new_irql) { KfLowerIrql(k, new_irql); }

void register_ke_sync_exports(Registry& r) {
  KEMU_EXPORT(r, KeInitializeEvent);
  KEMU_EXPORT(r, KeSetEvent);
  KEMU_EXPORT(r, KeResetEvent);
  KEMU_EXPORT(r, KeClearEvent);
  KEMU_EXPORT(r, KeReadStateEvent);
  KEMU_EXPORT(r, KePulseEvent);
  KEMU_EXPORT(r, KeInitializeMutex);
  KEMU_EXPORT(r, KeReleaseMutex);
  KEMU_EXPORT(r, KeReadStateMutex);
  KEMU_EXPORT(r, KeInitializeSemaphore);
  KEMU_EXPORT(r, KeReleaseSemaphore);
  KEMU_EXPORT(r, KeReadStateSemaphore);
  KEMU_EXPORT(r, KeInitializeTimer);
  KEMU_EXPORT(r, KeInitializeTimerEx);
  KEMU_EXPORT(r, KeSetTimer);
  KEMU_EXPORT(r, KeSetTimerEx);
  KEMU_EXPORT(r, KeCancelTimer);
  KEMU_EXPORT(r, KeReadStateTimer);
  KEMU_EXPORT(r, KeWaitForSingleObject);
  KEMU_EXPORT(r, KeWaitForMultipleObjects);
  KEMU_EXPORT(r, KeDelayExecutionThread);
  KEMU_EXPORT(r, KeStallExecutionProcessor);
  KEMU_EXPORT(r, KeInitializeDpc);
  KEMU_EXPORT(r, KeInitializeThreadedDpc);
  KEMU_EXPORT(r, KeInsertQueueDpc);
  KEMU_EXPORT(r, KeRemoveQueueDpc);
  KEMU_EXPORT(r, KeFlushQueuedDpcs);
  KEMU_EXPORT(r, KeSetImportanceDpc);
  KEMU_EXPORT(r, KeSetTargetProcessorDpc);
  KEMU_EXPORT(r, KeQuerySystemTime);
  KEMU_EXPORT(r, KeQuerySystemTimePrecise);
  KEMU_EXPORT(r, KeQueryInterruptTime);
  KEMU_EXPORT(r, KeQueryInterruptTimePrecise);
  KEMU_EXPORT(r, KeQueryTickCount);
  KEMU_EXPORT(r, KeQueryPerformanceCounter);
  KEMU_EXPORT(r, KfRaiseIrql);
  KEMU_EXPORT(r, KeRaiseIrql);
  KEMU_EXPORT(r, KeRaiseIrqlToDpcLevel);
  KEMU_EXPORT(r, KfLowerIrql);
  KEMU_EXPORT(r, KeLowerIrql);
}

}  // namespace kemu::nt
