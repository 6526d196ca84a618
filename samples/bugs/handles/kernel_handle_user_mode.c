/*
 * kernel_handle_user_mode: DriverEntry creates an event with a kernel
 * handle; requests signal it. Bug: the request references the driver's own
 * kernel handle with Irp->RequestorMode, which is UserMode for a client's
 * request: a kernel handle is invalid from UserMode, so the call fails with
 * STATUS_INVALID_HANDLE (checks.md handle.kernel-handle-user-mode). Fixed:
 * the driver's own handle is referenced with KernelMode.
 */
#include "bug_driver.h"

static HANDLE g_event;

BUG_ROUTINE NTSTATUS SignalOwnEvent(PIRP irp) {
  PKEVENT event = NULL;
#ifdef KEMU_FIXED
  KPROCESSOR_MODE mode = KernelMode;
#else
  KPROCESSOR_MODE mode = irp->RequestorMode;
#endif
  NTSTATUS status = ObReferenceObjectByHandle(g_event, EVENT_MODIFY_STATE, *ExEventObjectType, mode, (PVOID *)&event,
                                              NULL);
  if (!NT_SUCCESS(status)) return status;
  KeSetEvent(event, IO_NO_INCREMENT, FALSE);
  ObDereferenceObject(event);
  return STATUS_SUCCESS;
}

static NTSTATUS bug_ioctl(PIRP irp, PIO_STACK_LOCATION sp, ULONG_PTR *information) {
  if (sp->Parameters.DeviceIoControl.IoControlCode != BUG_IOCTL(0)) return STATUS_INVALID_DEVICE_REQUEST;
  return SignalOwnEvent(irp);
}
static NTSTATUS bug_entry(PDRIVER_OBJECT driver) {
  OBJECT_ATTRIBUTES oa;
  InitializeObjectAttributes(&oa, NULL, OBJ_KERNEL_HANDLE, NULL, NULL);
  return ZwCreateEvent(&g_event, EVENT_ALL_ACCESS, &oa, NotificationEvent, FALSE);
}
static VOID bug_unload(VOID) { ZwClose(g_event); }
