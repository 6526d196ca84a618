/*
 * force_access_check: the client names a registry key under the driver's
 * service key; the driver opens it and reports a value. Bug: the name comes
 * from the request and the driver opens it from kernel mode without
 * OBJ_FORCE_ACCESS_CHECK, so the caller's rights to that key are never
 * checked (checks.md handle.force-access-check-missing). Fixed: the flag.
 */
#include "bug_driver.h"

BUG_ROUTINE NTSTATUS OpenCallerNamedKey(PWCHAR name, ULONG bytes, HANDLE *key) {
  UNICODE_STRING us;
  OBJECT_ATTRIBUTES oa;
  ULONG attributes = OBJ_KERNEL_HANDLE | OBJ_CASE_INSENSITIVE;
#ifdef KEMU_FIXED
  attributes |= OBJ_FORCE_ACCESS_CHECK;
#endif
  us.Buffer = name;
  us.Length = us.MaximumLength = (USHORT)bytes;
  InitializeObjectAttributes(&oa, &us, attributes, NULL, NULL);
  return ZwOpenKey(key, KEY_READ, &oa);
}

static NTSTATUS bug_ioctl(PIRP irp, PIO_STACK_LOCATION sp, ULONG_PTR *information) {
  ULONG bytes = sp->Parameters.DeviceIoControl.InputBufferLength & ~1u;
  HANDLE key = NULL;
  NTSTATUS status;
  if (sp->Parameters.DeviceIoControl.IoControlCode != BUG_IOCTL(0)) return STATUS_INVALID_DEVICE_REQUEST;
  if (bytes == 0 || bytes > 512) return STATUS_INVALID_PARAMETER;
  status = OpenCallerNamedKey((PWCHAR)irp->AssociatedIrp.SystemBuffer, bytes, &key);
  if (NT_SUCCESS(status)) ZwClose(key);
  return status;
}
static NTSTATUS bug_entry(PDRIVER_OBJECT driver) { return STATUS_SUCCESS; }
static VOID bug_unload(VOID) {}
