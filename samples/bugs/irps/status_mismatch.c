/*
 * status_mismatch: IOCTL_SET_LEVEL stores a 4-byte level. Bug: the length
 * check writes STATUS_BUFFER_TOO_SMALL into Irp->IoStatus.Status but the
 * routine returns its local status, still STATUS_SUCCESS: the caller's call
 * succeeds while its IO_STATUS_BLOCK says it failed (checks.md
 * irp.status-mismatch). Fixed: one status variable, stored and returned.
 */
#include "irp_bug.h"

#define IOCTL_SET_LEVEL IRP_IOCTL(0) /* 0x80002C00 */

static ULONG g_level;

BUG_ROUTINE NTSTATUS NTAPI DispatchDeviceControl(PDEVICE_OBJECT device, PIRP irp) {
  PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(irp);
  NTSTATUS status = STATUS_SUCCESS;
  UNREFERENCED_PARAMETER(device);
  irp->IoStatus.Information = 0;
  if (sp->Parameters.DeviceIoControl.IoControlCode != IOCTL_SET_LEVEL) {
    status = STATUS_INVALID_DEVICE_REQUEST;
    irp->IoStatus.Status = status;
  } else if (sp->Parameters.DeviceIoControl.InputBufferLength < sizeof(ULONG)) {
#ifdef KEMU_FIXED
    status = STATUS_BUFFER_TOO_SMALL;
    irp->IoStatus.Status = status;
#else
    irp->IoStatus.Status = STATUS_BUFFER_TOO_SMALL;
#endif
  } else {
    g_level = *(ULONG *)irp->AssociatedIrp.SystemBuffer;
    irp->IoStatus.Status = status;
  }
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  return status;
}

static NTSTATUS irp_entry(PDRIVER_OBJECT driver, PDEVICE_OBJECT device) {
  UNREFERENCED_PARAMETER(device);
  driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = DispatchDeviceControl;
  return STATUS_SUCCESS;
}
static VOID irp_unload(VOID) {}
