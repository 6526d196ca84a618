// Kernel core routines of the foundation: bug checks, IRQL queries by export,
// processor and version queries.
#include "emulator/ntstatus.h"
#include "emulator/processor_layout.h"
#include "ntoskrnl-stubs/api/registry.h"
#include "ntoskrnl-stubs/kernel.h"

namespace kemu::nt {

// KeBugCheckEx ends the run: the bugcheck is the finding crash.bugcheck and
// its location is the driver's call.
void KeBugCheckEx(Kernel& k, uint32_t code, uint64_t p1, uint64_t p2, uint64_t p3, uint64_t p4) {
  k.machine().bugcheck(code, p1, p2, p3, p4, k.machine().call_site());
}

void KeBugCheck(Kernel& k, uint32_t code) { KeBugCheckEx(k, code, 0, 0, 0, 0); }

// The exported forms of the inline CR8 routines (some drivers import them).
uint8_t KeGetCurrentIrql(Kernel& k) { return k.machine().irql(); }

GuestVa KeGetCurrentThread(Kernel& k) { return k.machine().current_thread().ethread; }

uint32_t KeGetCurrentProcessorNumber(Kernel& k) { return 0; }
uint32_t KeGetCurrentProcessorNumberEx(Kernel& k, GuestVa number) {
  if (number) {
    // PROCESSOR_NUMBER { USHORT Group; UCHAR Number; UCHAR Reserved; }
    k.memory().write<uint32_t>(number, 0);
  }
  return 0;
}

uint32_t KeQueryActiveProcessorCount(Kernel& k, GuestVa affinity) {
  if (affinity) k.memory().write<uint64_t>(affinity, 1);
  return 1;
}

uint32_t KeQueryActiveProcessorCountEx(Kernel& k, uint16_t group) { return group == 0 || group == 0xFFFF ? 1 : 0; }

uint64_t KeQueryActiveProcessors(Kernel& k) { return 1; }

uint32_t KeQueryMaximumProcessorCount(Kernel& k) { return 1; }

uint32_t KeQueryTimeIncrement(Kernel& k) { return static_cast<uint32_t>(emu::Machine::kTimeIncrement); }

// KeSetPriorityThread returns the previous priority. kemu schedules
// cooperatively, so priorities are kept (KTHREAD.Priority at 0xC3) but do
// not reorder execution. System threads start at priority 8.
int32_t KeSetPriorityThread(Kernel& k, GuestVa thread, int32_t priority) {
  GuestVa field = thread + emu::kthread::kPriority;
  int8_t old = k.memory().read<int8_t>(field);
  k.memory().write<int8_t>(field, static_cast<int8_t>(priority));
  return old;
}

// One processor: affinity is always processor 0; the previous affinity is returned.
uint64_t KeSetSystemAffinityThreadEx(Kernel& k, uint64_t affinity) { return 1; }
void KeSetSystemAffinityThread(Kernel& k, uint64_t affinity) {}
void KeRevertToUserAffinityThreadEx(Kernel& k, uint64_t affinity) {}
void KeRevertToUserAffinityThread(Kernel& k) {}

void register_ke_exports(Registry& r) {
  KEMU_EXPORT(r, KeSetPriorityThread);
  KEMU_EXPORT(r, KeSetSystemAffinityThreadEx);
  KEMU_EXPORT(r, KeSetSystemAffinityThread);
  KEMU_EXPORT(r, KeRevertToUserAffinityThreadEx);
  KEMU_EXPORT(r, KeRevertToUserAffinityThread);
  KEMU_EXPORT(r, KeBugCheckEx);
  KEMU_EXPORT(r, KeBugCheck);
  KEMU_EXPORT(r, KeGetCurrentIrql);
  KEMU_EXPORT(r, KeGetCurrentThread);
  KEMU_EXPORT(r, KeGetCurrentProcessorNumber);
  KEMU_EXPORT(r, KeGetCurrentProcessorNumberEx);
  KEMU_EXPORT(r, KeQueryActiveProcessorCount);
  KEMU_EXPORT(r, KeQueryActiveProcessorCountEx);
  KEMU_EXPORT(r, KeQueryActiveProcessors);
  KEMU_EXPORT(r, KeQueryMaximumProcessorCount);
  KEMU_EXPORT(r, KeQueryTimeIncrement);
}

}  // namespace kemu::nt
