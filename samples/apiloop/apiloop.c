/*
 * apiloop.sys - DriverEntry calls a cheap ntoskrnl export with a kemu handler
 * (PsGetCurrentProcessId) APILOOP_CALLS times in a row, to measure the cost of
 * one API trap round trip (driver call -> kemu handler -> return).
 */
#include "kemu_sample.h"

KEMU_DRIVER_ENTRY;

#define APILOOP_CALLS 1000000UL

/* volatile: the count cannot be folded, the loop stays a loop of calls. */
static volatile ULONG Calls = APILOOP_CALLS;

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  ULONG n = Calls;
  ULONG i;
  ULONG_PTR sum = 0;

  UNREFERENCED_PARAMETER(DriverObject);
  UNREFERENCED_PARAMETER(RegistryPath);

  for (i = 0; i < n; i++) {
    sum += (ULONG_PTR)PsGetCurrentProcessId();
  }

  DbgPrint("apiloop: %lu calls pid sum 0x%I64x\n", n, (ULONG64)sum);
  return STATUS_SUCCESS;
}
