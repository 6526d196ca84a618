/*
 * pending_unmarked: IOCTL_WAIT_TICK answers from a work item: the dispatch
 * routine queues the IRP and returns STATUS_PENDING. Bug: it never calls
 * IoMarkIrpPending, so the stack location says the request was handled
 * synchronously while the routine says it went asynchronous (checks.md
 * irp.pending-mismatch): completion does not propagate PendingReturned to the
 * layers above, and an I/O manager that finishes non-pending requests inline
 * never finishes this one. Fixed: IoMarkIrpPending before queuing.
 */
#include "irp_bug.h"

#define IOCTL_WAIT_TICK IRP_IOCTL(1) /* 0x80002C04 */

static PIO_WORKITEM g_work;
static PIRP g_waiting;
static ULONG g_ticks;

static VOID NTAPI FinishTick(PDEVICE_OBJECT device, PVOID context) {
  PIRP irp = g_waiting;
  UNREFERENCED_PARAMETER(device);
  UNREFERENCED_PARAMETER(context);
  g_waiting = NULL;
  *(ULONG *)irp->AssociatedIrp.SystemBuffer = ++g_ticks;
  irp_complete(irp, STATUS_SUCCESS, sizeof(ULONG));
}

BUG_ROUTINE NTSTATUS NTAPI DispatchDeviceControl(PDEVICE_OBJECT device, PIRP irp) {
  PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(irp);
  UNREFERENCED_PARAMETER(device);
  if (sp->Parameters.DeviceIoControl.IoControlCode != IOCTL_WAIT_TICK)
    return irp_complete(irp, STATUS_INVALID_DEVICE_REQUEST, 0);
  if (sp->Parameters.DeviceIoControl.OutputBufferLength < sizeof(ULONG))
    return irp_complete(irp, STATUS_BUFFER_TOO_SMALL, 0);
  if (g_waiting) return irp_complete(irp, STATUS_DEVICE_BUSY, 0);
#ifdef KEMU_FIXED
  IoMarkIrpPending(irp);
#endif
  g_waiting = irp;
  IoQueueWorkItem(g_work, FinishTick, DelayedWorkQueue, NULL);
  return STATUS_PENDING;
}

static NTSTATUS irp_entry(PDRIVER_OBJECT driver, PDEVICE_OBJECT device) {
  g_work = IoAllocateWorkItem(device);
  if (!g_work) return STATUS_INSUFFICIENT_RESOURCES;
  driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = DispatchDeviceControl;
  return STATUS_SUCCESS;
}
static VOID irp_unload(VOID) { IoFreeWorkItem(g_work); }
