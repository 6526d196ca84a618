/*
 * user_handle_kernel_mode: the client passes an event handle; the driver
 * signals it. Bug: the handle is referenced with AccessMode KernelMode, so
 * the object manager checks neither the caller's granted access nor, in
 * effect, whose handle it is (checks.md handle.user-handle-kernel-mode).
 * Fixed: Irp->RequestorMode and the access the driver uses.
 */
#include "bug_driver.h"

BUG_ROUTINE NTSTATUS SignalCallerEvent(PIRP irp, HANDLE handle) {
  PKEVENT event = NULL;
#ifdef KEMU_FIXED
  NTSTATUS status = ObReferenceObjectByHandle(handle, EVENT_MODIFY_STATE, *ExEventObjectType, irp->RequestorMode,
                                              (PVOID *)&event, NULL);
#else
  NTSTATUS status =
      ObReferenceObjectByHandle(handle, EVENT_MODIFY_STATE, *ExEventObjectType, KernelMode, (PVOID *)&event, NULL);
#endif
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
