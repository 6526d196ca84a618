/*
 * spin.sys - DriverEntry never returns: an endless loop on a volatile counter,
 * with no API call inside, for --max-instructions and --timeout tests.
 */
#include "kemu_sample.h"

KEMU_DRIVER_ENTRY;

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  volatile ULONG64 counter = 0;

  UNREFERENCED_PARAMETER(DriverObject);
  UNREFERENCED_PARAMETER(RegistryPath);

  DbgPrint("spin: entering endless loop\n");
  for (;;) {
    counter = counter + 1;
  }
}
