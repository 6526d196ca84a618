/*
 * no_object_type: the client passes an event handle. Bug: the driver
 * references it with ObjectType NULL, so a handle to any other object (a
 * process, a section) is taken for an event and KeSetEvent writes into it
 * (checks.md handle.no-object-type). Fixed: *ExEventObjectType.
 */
#include "bug_driver.h"

BUG_ROUTINE NTSTATUS SignalCallerEvent(PIRP irp, HANDLE handle) {
  PKEVENT event = NULL;
#ifdef KEMU_FIXED
  POBJECT_TYPE type = *ExEventObjectType;
#else
  POBJECT_TYPE type = NULL;
#endif
  NTSTATUS status = ObReferenceObjectByHandle(handle, EVENT_MODIFY_STATE, type, irp->RequestorMode, (PVOID *)&event,
                                              NULL);
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
