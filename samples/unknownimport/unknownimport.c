/*
 * unknownimport.sys - imports a name ntoskrnl does not export
 * (KemuNoSuchExport), as a driver built against a newer WDK would on an older
 * Windows. Windows refuses the load (STATUS_PROCEDURE_NOT_FOUND); kemu does
 * the same under --strict-imports and otherwise binds an "unknown export"
 * thunk, so the call is recorded in `unimplemented` and returns 0.
 */
#include "kemu_sample.h"

/* Declared here: no header has it, and no ntoskrnl.exe exports it. The import
 * library libkemu_extra.a comes from a .def file (CMakeLists.txt). */
NTSYSAPI NTSTATUS NTAPI KemuNoSuchExport(VOID);

KEMU_DRIVER_ENTRY;

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  NTSTATUS status;

  UNREFERENCED_PARAMETER(DriverObject);
  UNREFERENCED_PARAMETER(RegistryPath);

  status = KemuNoSuchExport();
  DbgPrint("unknownimport: KemuNoSuchExport returned 0x%08x\n", status);
  return STATUS_SUCCESS;
}
