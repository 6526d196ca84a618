/*
 * crash.sys - one way to crash the system per build (selected by a -D flag),
 * each giving the bug check Windows gives:
 *   CRASH_KERNEL_WRITE   write to an unmapped kernel address, two calls deep -> 0x50
 *   CRASH_UNHANDLED      ExRaiseStatus with no handler in DriverEntry       -> 0x7E
 *   CRASH_IRQL           touch an unmapped address at DISPATCH_LEVEL         -> 0xD1
 *   CRASH_BUGCHECKEX     the driver calls KeBugCheckEx itself                -> 0xDEAD
 */
#include "kemu_sample.h"

KEMU_DRIVER_ENTRY;

__declspec(noinline) static void poke(volatile ULONG_PTR* p, ULONG_PTR v) { *p = v; }

__declspec(noinline) static void corrupt(ULONG_PTR where) {
  poke((volatile ULONG_PTR*)where, 0x4B454D55);
  DbgPrint("crash: not reached\n");
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  UNREFERENCED_PARAMETER(DriverObject);
  UNREFERENCED_PARAMETER(RegistryPath);
  DbgPrint("crash: start\n");
#if defined(CRASH_KERNEL_WRITE)
  corrupt((ULONG_PTR)0xFFFF8000DEAD0000ull);
#elif defined(CRASH_UNHANDLED)
  ExRaiseStatus(STATUS_INSUFFICIENT_RESOURCES);
#elif defined(CRASH_IRQL)
  {
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    corrupt((ULONG_PTR)0xFFFF8000DEAD0000ull);
    KeLowerIrql(old);
  }
#elif defined(CRASH_BUGCHECKEX)
  KeBugCheckEx(0xDEAD, 1, 2, 3, 4);
#endif
  DbgPrint("crash: survived\n");
  return STATUS_SUCCESS;
}
