/*
 * dpc_lock: requests queue work items that a DPC drains, under the queue's
 * spin lock (KeAcquireSpinLockAtDpcLevel: a DPC already runs at
 * DISPATCH_LEVEL). Bug: the DPC's "queue empty" shortcut returns with the
 * lock held (checks.md irql.unbalanced). Windows does not notice at once: the
 * IRQL is still DISPATCH_LEVEL; the next acquisition of the lock spins
 * forever. Fixed: the shortcut releases the lock too.
 */
#include "bug_driver.h"

#define IOCTL_PUSH BUG_IOCTL(5) /* 0x80002C14: input ULONG */
#define IOCTL_KICK BUG_IOCTL(6) /* 0x80002C18 */

static KSPIN_LOCK g_queue_lock;
static KDPC g_drain_dpc;
static ULONG g_queued, g_queued_sum, g_drained_sum;

BUG_ROUTINE VOID NTAPI DrainQueue(PKDPC dpc, PVOID context, PVOID a1, PVOID a2) {
  UNREFERENCED_PARAMETER(dpc);
  UNREFERENCED_PARAMETER(context);
  UNREFERENCED_PARAMETER(a1);
  UNREFERENCED_PARAMETER(a2);
  KeAcquireSpinLockAtDpcLevel(&g_queue_lock);
  if (g_queued == 0) {
#ifdef KEMU_FIXED
    KeReleaseSpinLockFromDpcLevel(&g_queue_lock);
#endif
    return;
  }
  g_drained_sum += g_queued_sum;
  g_queued = 0;
  g_queued_sum = 0;
  KeReleaseSpinLockFromDpcLevel(&g_queue_lock);
}

static NTSTATUS bug_ioctl(PIRP irp, PIO_STACK_LOCATION sp, ULONG_PTR *information) {
  KIRQL irql;
  UNREFERENCED_PARAMETER(information);
  switch (sp->Parameters.DeviceIoControl.IoControlCode) {
    case IOCTL_PUSH:
      if (sp->Parameters.DeviceIoControl.InputBufferLength < sizeof(ULONG)) return STATUS_BUFFER_TOO_SMALL;
      KeAcquireSpinLock(&g_queue_lock, &irql);
      ++g_queued;
      g_queued_sum += *(ULONG *)irp->AssociatedIrp.SystemBuffer;
      KeReleaseSpinLock(&g_queue_lock, irql);
      return STATUS_SUCCESS;
    case IOCTL_KICK:
      KeInsertQueueDpc(&g_drain_dpc, NULL, NULL);
      return STATUS_SUCCESS;
    default:
      return STATUS_INVALID_DEVICE_REQUEST;
  }
}

static NTSTATUS bug_entry(PDRIVER_OBJECT driver) {
  UNREFERENCED_PARAMETER(driver);
  KeInitializeSpinLock(&g_queue_lock);
  KeInitializeDpc(&g_drain_dpc, DrainQueue, NULL);
  return STATUS_SUCCESS;
}

static VOID bug_unload(VOID) {
  KeRemoveQueueDpc(&g_drain_dpc);
  KeFlushQueuedDpcs();
}
