/*
 * pending_status: IOCTL_GET_UPDATE_STATE reports the state of a firmware
 * update the device runs on its own. Bug: the state helper answers
 * STATUS_PENDING while the update is still running, and the dispatch routine
 * completes the request with that status and returns it: an IRP is completed
 * with a final status, never STATUS_PENDING, and a routine that returns
 * STATUS_PENDING must have marked the IRP pending (checks.md
 * irp.bad-completion-status and irp.pending-mismatch). The caller of a
 * synchronous call receives STATUS_PENDING as the outcome. Fixed: a running
 * update is reported as STATUS_DEVICE_BUSY.
 */
#include "irp_bug.h"

#define IOCTL_GET_UPDATE_STATE IRP_IOCTL(6) /* 0x80002C18 */

static ULONG g_update_steps_left = 1; /* the update still runs for the first query */

static NTSTATUS UpdateState(VOID) {
  if (g_update_steps_left == 0) return STATUS_SUCCESS;
  --g_update_steps_left;
  return STATUS_PENDING; /* "still in progress" */
}

BUG_ROUTINE NTSTATUS NTAPI DispatchDeviceControl(PDEVICE_OBJECT device, PIRP irp) {
  PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(irp);
  NTSTATUS status = STATUS_INVALID_DEVICE_REQUEST;
  UNREFERENCED_PARAMETER(device);
  if (sp->Parameters.DeviceIoControl.IoControlCode == IOCTL_GET_UPDATE_STATE) {
    status = UpdateState();
#ifdef KEMU_FIXED
    if (status == STATUS_PENDING) status = STATUS_DEVICE_BUSY;
#endif
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
