/*
 * marked_not_pending: IOCTL_READ_SAMPLE returns the next 4-byte sample. The
 * first request finds none ready and waits for the driver's work item, which
 * produces one and keeps the next one ready; later requests are answered at
 * once. Bug: the dispatch routine calls IoMarkIrpPending on entry, before it
 * knows which way it goes, and then completes the request itself and returns
 * STATUS_SUCCESS: a request marked pending must return STATUS_PENDING
 * (checks.md irp.pending-mismatch). Fixed: the IRP is marked pending only on
 * the path that queues it.
 */
#include "irp_bug.h"

#define IOCTL_READ_SAMPLE IRP_IOCTL(2) /* 0x80002C08 */

static PIO_WORKITEM g_work;
static PIRP g_waiting;
static BOOLEAN g_ready;
static ULONG g_sample = 0x100;

static VOID NTAPI ProduceSample(PDEVICE_OBJECT device, PVOID context) {
  PIRP irp = g_waiting;
  UNREFERENCED_PARAMETER(device);
  UNREFERENCED_PARAMETER(context);
  g_waiting = NULL;
  *(ULONG *)irp->AssociatedIrp.SystemBuffer = g_sample++;
  g_ready = TRUE;
  irp_complete(irp, STATUS_SUCCESS, sizeof(ULONG));
}

BUG_ROUTINE NTSTATUS NTAPI DispatchDeviceControl(PDEVICE_OBJECT device, PIRP irp) {
  PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(irp);
  UNREFERENCED_PARAMETER(device);
  if (sp->Parameters.DeviceIoControl.IoControlCode != IOCTL_READ_SAMPLE)
    return irp_complete(irp, STATUS_INVALID_DEVICE_REQUEST, 0);
  if (sp->Parameters.DeviceIoControl.OutputBufferLength < sizeof(ULONG))
    return irp_complete(irp, STATUS_BUFFER_TOO_SMALL, 0);
#ifndef KEMU_FIXED
  IoMarkIrpPending(irp);
#endif
  if (g_ready) {
    /* A sample is ready: answer at once. */
    *(ULONG *)irp->AssociatedIrp.SystemBuffer = g_sample++;
    return irp_complete(irp, STATUS_SUCCESS, sizeof(ULONG));
  }
  if (g_waiting) return irp_complete(irp, STATUS_DEVICE_BUSY, 0);
#ifdef KEMU_FIXED
  IoMarkIrpPending(irp);
#endif
  g_waiting = irp;
  IoQueueWorkItem(g_work, ProduceSample, DelayedWorkQueue, NULL);
  return STATUS_PENDING;
}

static NTSTATUS irp_entry(PDRIVER_OBJECT driver, PDEVICE_OBJECT device) {
  g_work = IoAllocateWorkItem(device);
  if (!g_work) return STATUS_INSUFFICIENT_RESOURCES;
  driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = DispatchDeviceControl;
  return STATUS_SUCCESS;
}
static VOID irp_unload(VOID) { IoFreeWorkItem(g_work); }
