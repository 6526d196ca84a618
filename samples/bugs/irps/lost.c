/*
 * lost: IOCTL_SET_LEVEL stores a 4-byte level. Bug: the length check returns
 * STATUS_BUFFER_TOO_SMALL straight from the dispatch routine, before the code
 * that completes the IRP: the request is never completed, passed on or
 * pended (checks.md irp.lost). On Windows the caller's IO_STATUS_BLOCK is
 * never written, the IRP stays on its thread's list and holds the file
 * object, so IRP_MJ_CLOSE never comes. Fixed: the error path completes too.
 */
#include "irp_bug.h"

#define IOCTL_SET_LEVEL IRP_IOCTL(0) /* 0x80002C00 */

static ULONG g_level;

BUG_ROUTINE NTSTATUS NTAPI DispatchDeviceControl(PDEVICE_OBJECT device, PIRP irp) {
  PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(irp);
  UNREFERENCED_PARAMETER(device);
  if (sp->Parameters.DeviceIoControl.IoControlCode != IOCTL_SET_LEVEL)
    return irp_complete(irp, STATUS_INVALID_DEVICE_REQUEST, 0);
  if (sp->Parameters.DeviceIoControl.InputBufferLength < sizeof(ULONG))
#ifdef KEMU_FIXED
    return irp_complete(irp, STATUS_BUFFER_TOO_SMALL, 0);
#else
    return STATUS_BUFFER_TOO_SMALL;
#endif
  g_level = *(ULONG *)irp->AssociatedIrp.SystemBuffer;
  return irp_complete(irp, STATUS_SUCCESS, 0);
}

static NTSTATUS irp_entry(PDRIVER_OBJECT driver, PDEVICE_OBJECT device) {
  UNREFERENCED_PARAMETER(device);
  driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = DispatchDeviceControl;
  return STATUS_SUCCESS;
}
static VOID irp_unload(VOID) {}
