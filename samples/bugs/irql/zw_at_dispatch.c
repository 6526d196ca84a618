/*
 * zw_at_dispatch: a driver that logs to a file and rotates the log on
 * request. The log handle is shared state, guarded by a spin lock. Bug: the
 * rotation closes the old file, creates the new one and traces its name
 * while holding the spin lock, so ZwClose and ZwCreateFile run at
 * DISPATCH_LEVEL (system services, documented for PASSIVE_LEVEL only) and so
 * does a DbgPrint with a %ws conversion (Unicode conversions are allowed at
 * PASSIVE_LEVEL only) (checks.md irql.api-level). Windows without Verifier does not stop at the call; the
 * services may touch pageable code and data or wait, which at DISPATCH_LEVEL
 * crashes only when a page happens to be out. Fixed: the handles are swapped
 * under the lock, and the file work happens after it is released.
 */
#include "bug_driver.h"

#define IOCTL_ROTATE_LOG BUG_IOCTL(0) /* 0x80002C00 */

static KSPIN_LOCK g_log_lock;
static HANDLE g_log;
static ULONG g_generation;

static const WCHAR *const g_log_names[] = {L"\\??\\C:\\kemu-log-0.txt", L"\\??\\C:\\kemu-log-1.txt"};

static NTSTATUS open_log(HANDLE *handle, ULONG generation) {
  UNICODE_STRING name;
  OBJECT_ATTRIBUTES oa;
  IO_STATUS_BLOCK iosb;
  RtlInitUnicodeString(&name, g_log_names[generation & 1]);
  InitializeObjectAttributes(&oa, &name, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
  return ZwCreateFile(handle, FILE_APPEND_DATA | SYNCHRONIZE, &oa, &iosb, NULL, FILE_ATTRIBUTE_NORMAL,
                      FILE_SHARE_READ, FILE_OVERWRITE_IF, FILE_SYNCHRONOUS_IO_NONALERT | FILE_NON_DIRECTORY_FILE,
                      NULL, 0);
}

BUG_ROUTINE NTSTATUS RotateLog(VOID) {
  KIRQL irql;
  NTSTATUS status;
#ifdef KEMU_FIXED
  /* File services run at PASSIVE_LEVEL: only the swap happens under the lock. */
  HANDLE fresh, old;
  ULONG generation;
  KeAcquireSpinLock(&g_log_lock, &irql);
  generation = ++g_generation;
  KeReleaseSpinLock(&g_log_lock, irql);
  status = open_log(&fresh, generation);
  if (!NT_SUCCESS(status)) return status;
  KeAcquireSpinLock(&g_log_lock, &irql);
  old = g_log;
  g_log = fresh;
  KeReleaseSpinLock(&g_log_lock, irql);
  if (old) ZwClose(old);
  DbgPrint("zw_at_dispatch: logging to %ws\n", g_log_names[generation & 1]);
#else
  KeAcquireSpinLock(&g_log_lock, &irql);
  if (g_log) ZwClose(g_log);
  g_log = NULL;
  status = open_log(&g_log, ++g_generation);
  DbgPrint("zw_at_dispatch: logging to %ws\n", g_log_names[g_generation & 1]);
  KeReleaseSpinLock(&g_log_lock, irql);
#endif
  return status;
}

static NTSTATUS bug_ioctl(PIRP irp, PIO_STACK_LOCATION sp, ULONG_PTR *information) {
  UNREFERENCED_PARAMETER(irp);
  UNREFERENCED_PARAMETER(information);
  if (sp->Parameters.DeviceIoControl.IoControlCode != IOCTL_ROTATE_LOG) return STATUS_INVALID_DEVICE_REQUEST;
  return RotateLog();
}

static NTSTATUS bug_entry(PDRIVER_OBJECT driver) {
  UNREFERENCED_PARAMETER(driver);
  KeInitializeSpinLock(&g_log_lock);
  return open_log(&g_log, 0);
}

static VOID bug_unload(VOID) {
  if (g_log) ZwClose(g_log);
}
