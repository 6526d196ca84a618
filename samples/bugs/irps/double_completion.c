/*
 * double_completion: IOCTL_SET_LEVEL stores a 4-byte level. Bug: the
 * validation helper fails a short request by completing the IRP itself, and
 * the dispatch routine, seeing the error, completes it again on its common
 * exit path. The first IoCompleteRequest gave the IRP back to the I/O
 * manager (it is freed, its Type cleared); the second is bug check 0x44
 * MULTIPLE_IRP_COMPLETE_REQUESTS (checks.md irp.double-completion).
 * Fixed: the helper only returns the status; the dispatch routine completes
 * on one path.
 */
#include "irp_bug.h"

#define IOCTL_SET_LEVEL IRP_IOCTL(0) /* 0x80002C00 */

static ULONG g_level;

BUG_ROUTINE NTSTATUS ValidateLevelRequest(PIRP irp, PIO_STACK_LOCATION sp) {
  if (sp->Parameters.DeviceIoControl.InputBufferLength < sizeof(ULONG)) {
#ifndef KEMU_FIXED
    irp->IoStatus.Status = STATUS_BUFFER_TOO_SMALL;
    irp->IoStatus.Information = 0;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
#endif
    return STATUS_BUFFER_TOO_SMALL;
  }
  return STATUS_SUCCESS;
}

BUG_ROUTINE NTSTATUS NTAPI DispatchDeviceControl(PDEVICE_OBJECT device, PIRP irp) {
  PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(irp);
  NTSTATUS status = STATUS_INVALID_DEVICE_REQUEST;
  UNREFERENCED_PARAMETER(device);
  if (sp->Parameters.DeviceIoControl.IoControlCode == IOCTL_SET_LEVEL) {
    status = ValidateLevelRequest(irp, sp);
    if (NT_SUCCESS(status)) g_level = *(ULONG *)irp->AssociatedIrp.SystemBuffer;
  }
  irp->IoStatus.Status = status;
  irp->IoStatus.Information = 0;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  return status;
}

static NTSTATUS irp_entry(PDRIVER_OBJECT driver, PDEVICE_OBJECT device) {
  UNREFERENCED_PARAMETER(device);
  driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = DispatchDeviceControl;
  return STATUS_SUCCESS;
}
static VOID irp_unload(VOID) {}
