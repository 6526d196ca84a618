/*
 * private_handle: in a client request the driver opens its own event and
 * uses it. Bug: no OBJ_KERNEL_HANDLE while the client's process is current,
 * so the handle lands in the client's table: the client can close it (or
 * swap in another object) between the driver's calls, and the driver's
 * final ZwClose of a handle that is gone bugchecks 0x93
 * (checks.md handle.not-kernel-handle, handle.invalid). Fixed: a kernel handle.
 */
#include "bug_driver.h"

BUG_ROUTINE NTSTATUS PulseWorkEvent(VOID) {
  OBJECT_ATTRIBUTES oa;
  HANDLE event = NULL;
  NTSTATUS status;
#ifdef KEMU_FIXED
  InitializeObjectAttributes(&oa, NULL, OBJ_KERNEL_HANDLE, NULL, NULL);
#else
  InitializeObjectAttributes(&oa, NULL, 0, NULL, NULL);
#endif
  status = ZwCreateEvent(&event, EVENT_ALL_ACCESS, &oa, NotificationEvent, FALSE);
  if (!NT_SUCCESS(status)) return status;
  status = ZwSetEvent(event, NULL);
  ZwClose(event);
  return status;
}

static NTSTATUS bug_ioctl(PIRP irp, PIO_STACK_LOCATION sp, ULONG_PTR *information) {
  if (sp->Parameters.DeviceIoControl.IoControlCode != BUG_IOCTL(0)) return STATUS_INVALID_DEVICE_REQUEST;
  return PulseWorkEvent();
}
static NTSTATUS bug_entry(PDRIVER_OBJECT driver) { return STATUS_SUCCESS; }
static VOID bug_unload(VOID) {}
