/*
 * reference_leak: the client passes an event handle and a flag; the driver
 * references the event as it should, then bails out when the flag asks it
 * to. Bug: that early return skips ObDereferenceObject, so the event keeps a
 * reference the driver will never drop (checks.md handle.leak). Fixed: every
 * path drops what it took.
 */
#include "bug_driver.h"

typedef struct {
  ULONG64 handle;
  ULONG64 dry_run;
} SIGNAL_REQUEST;

BUG_ROUTINE NTSTATUS SignalUnlessDryRun(PIRP irp, SIGNAL_REQUEST *rq) {
  PKEVENT event = NULL;
  NTSTATUS status = ObReferenceObjectByHandle((HANDLE)(ULONG_PTR)rq->handle, EVENT_MODIFY_STATE, *ExEventObjectType,
                                              irp->RequestorMode, (PVOID *)&event, NULL);
  if (!NT_SUCCESS(status)) return status;
  if (rq->dry_run) {
#ifdef KEMU_FIXED
    ObDereferenceObject(event);
#endif
    return STATUS_SUCCESS;
  }
  KeSetEvent(event, IO_NO_INCREMENT, FALSE);
  ObDereferenceObject(event);
  return STATUS_SUCCESS;
}

static NTSTATUS bug_ioctl(PIRP irp, PIO_STACK_LOCATION sp, ULONG_PTR *information) {
  if (sp->Parameters.DeviceIoControl.IoControlCode != BUG_IOCTL(0)) return STATUS_INVALID_DEVICE_REQUEST;
  if (sp->Parameters.DeviceIoControl.InputBufferLength < sizeof(SIGNAL_REQUEST)) return STATUS_INVALID_PARAMETER;
  return SignalUnlessDryRun(irp, (SIGNAL_REQUEST *)irp->AssociatedIrp.SystemBuffer);
}
static NTSTATUS bug_entry(PDRIVER_OBJECT driver) { return STATUS_SUCCESS; }
static VOID bug_unload(VOID) {}
