/*
 * no_access_check: the client passes an event handle the driver will set.
 * Bug: DesiredAccess 0, so a handle opened with SYNCHRONIZE only passes the
 * check and the driver modifies an event the caller may not modify
 * (checks.md handle.no-access-check). Fixed: EVENT_MODIFY_STATE.
 */
#include "bug_driver.h"

BUG_ROUTINE NTSTATUS SignalCallerEvent(PIRP irp, HANDLE handle) {
  PKEVENT event = NULL;
#ifdef KEMU_FIXED
  ACCESS_MASK access = EVENT_MODIFY_STATE;
#else
  ACCESS_MASK access = 0;
#endif
  NTSTATUS status =
      ObReferenceObjectByHandle(handle, access, *ExEventObjectType, irp->RequestorMode, (PVOID *)&event, NULL);
  if (!NT_SUCCESS(status)) return status;
  KeSetEvent(event, IO_NO_INCREMENT, FALSE);
  ObDereferenceObject(event);
  return STATUS_SUCCESS;
}

static NTSTATUS bug_ioctl(PIRP irp, PIO_STACK_LOCATION sp, ULONG_PTR *information) {
  if (sp->Parameters.DeviceIoControl.IoControlCode != BUG_IOCTL(0)) return STATUS_INVALID_DEVICE_REQUEST;
  return SignalCallerEvent(irp, bug_input_handle(irp, sp));
}
static NTSTATUS bug_entry(PDRIVER_OBJECT driver) { return STATUS_SUCCESS; }
static VOID bug_unload(VOID) {}
