/*
 * duplicate_leak: DriverEntry creates a "settings changed" event and hands a
 * second kernel handle to it (ZwDuplicateObject, OBJ_KERNEL_HANDLE) to the
 * part of the driver that signals it. Bug: DriverUnload closes the original
 * handle but not the duplicate; the event outlives the driver (checks.md
 * handle.leak: a duplicate is a handle like any other). Fixed: both closed.
 */
#include "bug_driver.h"

static HANDLE g_changed_event;
static HANDLE g_signal_handle;

static NTSTATUS bug_ioctl(PIRP irp, PIO_STACK_LOCATION sp, ULONG_PTR *information) {
  return STATUS_INVALID_DEVICE_REQUEST;
}

BUG_ROUTINE NTSTATUS ShareChangedEvent(VOID) {
  OBJECT_ATTRIBUTES oa;
  NTSTATUS status;
  InitializeObjectAttributes(&oa, NULL, OBJ_KERNEL_HANDLE, NULL, NULL);
  status = ZwCreateEvent(&g_changed_event, EVENT_ALL_ACCESS, &oa, NotificationEvent, FALSE);
  if (!NT_SUCCESS(status)) return status;
  return ZwDuplicateObject(NtCurrentProcess(), g_changed_event, NtCurrentProcess(), &g_signal_handle, 0,
                           OBJ_KERNEL_HANDLE, DUPLICATE_SAME_ACCESS);
}

static NTSTATUS bug_entry(PDRIVER_OBJECT driver) { return ShareChangedEvent(); }

static VOID bug_unload(VOID) {
  ZwClose(g_changed_event);
#ifdef KEMU_FIXED
  ZwClose(g_signal_handle);
#endif
}
