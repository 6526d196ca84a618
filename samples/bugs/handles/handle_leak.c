/*
 * handle_leak: DriverEntry opens the driver's service key with a kernel
 * handle to read its settings later. Bug: DriverUnload never closes it; the
 * key object outlives the driver (checks.md handle.leak). Fixed: ZwClose in
 * DriverUnload.
 */
#include "bug_driver.h"

static HANDLE g_service_key;

static NTSTATUS bug_ioctl(PIRP irp, PIO_STACK_LOCATION sp, ULONG_PTR *information) {
  return STATUS_INVALID_DEVICE_REQUEST;
}

BUG_ROUTINE NTSTATUS OpenServiceKey(PUNICODE_STRING registry_path) {
  OBJECT_ATTRIBUTES oa;
  InitializeObjectAttributes(&oa, registry_path, OBJ_KERNEL_HANDLE | OBJ_CASE_INSENSITIVE, NULL, NULL);
  return ZwOpenKey(&g_service_key, KEY_READ, &oa);
}

static NTSTATUS bug_entry(PDRIVER_OBJECT driver) {
  /* The registry path DriverEntry got is also the driver extension's service key name. */
  UNICODE_STRING path;
  RtlInitUnicodeString(&path, L"\\Registry\\Machine\\System\\CurrentControlSet\\Services\\"
#ifdef KEMU_FIXED
                              L"handle_leak_fixed"
#else
                              L"handle_leak_bug"
#endif
  );
  return OpenServiceKey(&path);
}

static VOID bug_unload(VOID) {
#ifdef KEMU_FIXED
  ZwClose(g_service_key);
#endif
}
