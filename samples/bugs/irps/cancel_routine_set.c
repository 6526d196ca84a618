/*
 * cancel_routine_set: IOCTL_WAIT_EVENT waits for the device's next event; the
 * waiting IRP is cancelable (a cancel routine is set while it is queued) and
 * the driver's work item completes it when the event comes. Bug: the work
 * item completes the IRP without taking the cancel routine back
 * (IoSetCancelRoutine(Irp, NULL)): the completed IRP, soon freed, still names
 * a cancel routine that IoCancelIrp would call (checks.md
 * irp.bad-completion-status). Fixed: the work item clears the cancel routine
 * first and leaves the IRP to the cancel routine if it is already running.
 */
#include "irp_bug.h"

#define IOCTL_WAIT_EVENT IRP_IOCTL(3) /* 0x80002C0C */

static PIO_WORKITEM g_work;
static PIRP g_waiting;
static ULONG g_events;

static VOID NTAPI CancelWait(PDEVICE_OBJECT device, PIRP irp) {
  UNREFERENCED_PARAMETER(device);
  if (g_waiting == irp) g_waiting = NULL;
  IoReleaseCancelSpinLock(irp->CancelIrql);
  irp_complete(irp, STATUS_CANCELLED, 0);
}

BUG_ROUTINE VOID NTAPI SignalEvent(PDEVICE_OBJECT device, PVOID context) {
  KIRQL irql;
  PIRP irp;
  UNREFERENCED_PARAMETER(device);
  UNREFERENCED_PARAMETER(context);
  IoAcquireCancelSpinLock(&irql);
  irp = g_waiting;
  g_waiting = NULL;
#ifdef KEMU_FIXED
  if (irp && IoSetCancelRoutine(irp, NULL) == NULL) irp = NULL; /* being cancelled: CancelWait completes it */
#endif
  IoReleaseCancelSpinLock(irql);
  if (!irp) return;
  *(ULONG *)irp->AssociatedIrp.SystemBuffer = ++g_events;
  irp->IoStatus.Status = STATUS_SUCCESS;
  irp->IoStatus.Information = sizeof(ULONG);
  IoCompleteRequest(irp, IO_NO_INCREMENT);
}

static NTSTATUS NTAPI DispatchDeviceControl(PDEVICE_OBJECT device, PIRP irp) {
  PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(irp);
  KIRQL irql;
  UNREFERENCED_PARAMETER(device);
  if (sp->Parameters.DeviceIoControl.IoControlCode != IOCTL_WAIT_EVENT)
    return irp_complete(irp, STATUS_INVALID_DEVICE_REQUEST, 0);
  if (sp->Parameters.DeviceIoControl.OutputBufferLength < sizeof(ULONG))
    return irp_complete(irp, STATUS_BUFFER_TOO_SMALL, 0);
  IoAcquireCancelSpinLock(&irql);
  if (g_waiting) {
    IoReleaseCancelSpinLock(irql);
    return irp_complete(irp, STATUS_DEVICE_BUSY, 0);
  }
  IoMarkIrpPending(irp);
  IoSetCancelRoutine(irp, CancelWait);
  g_waiting = irp;
  IoReleaseCancelSpinLock(irql);
  IoQueueWorkItem(g_work, SignalEvent, DelayedWorkQueue, NULL);
  return STATUS_PENDING;
}

static NTSTATUS irp_entry(PDRIVER_OBJECT driver, PDEVICE_OBJECT device) {
  g_work = IoAllocateWorkItem(device);
  if (!g_work) return STATUS_INSUFFICIENT_RESOURCES;
  driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = DispatchDeviceControl;
  return STATUS_SUCCESS;
}
static VOID irp_unload(VOID) { IoFreeWorkItem(g_work); }
