/*
 * work_item_lock: statistics gathered by the dispatch routine are flushed by
 * a work item, under the spin lock that guards them. Bug: the work routine's
 * "nothing to flush" shortcut returns with the lock held, at DISPATCH_LEVEL
 * (checks.md irql.unbalanced). The system worker thread checks the IRQL its
 * routine returned at: WORKER_THREAD_RETURNED_AT_BAD_IRQL (0xE1). Fixed: the
 * shortcut releases the lock too.
 */
#include "bug_driver.h"

#define IOCTL_RECORD BUG_IOCTL(3) /* 0x80002C0C: input ULONG, a sample */
#define IOCTL_FLUSH BUG_IOCTL(4)  /* 0x80002C10 */

static KSPIN_LOCK g_stats_lock;
static ULONG g_pending, g_pending_sum, g_flushed_sum;
static PIO_WORKITEM g_flush_item;

BUG_ROUTINE VOID NTAPI FlushStatistics(PDEVICE_OBJECT device, PVOID context) {
  KIRQL irql;
  UNREFERENCED_PARAMETER(device);
  UNREFERENCED_PARAMETER(context);
  KeAcquireSpinLock(&g_stats_lock, &irql);
  if (g_pending == 0) {
#ifdef KEMU_FIXED
    KeReleaseSpinLock(&g_stats_lock, irql);
#endif
    return;
  }
  g_flushed_sum += g_pending_sum;
  g_pending = 0;
  g_pending_sum = 0;
  KeReleaseSpinLock(&g_stats_lock, irql);
}

static NTSTATUS bug_ioctl(PIRP irp, PIO_STACK_LOCATION sp, ULONG_PTR *information) {
  KIRQL irql;
  UNREFERENCED_PARAMETER(information);
  switch (sp->Parameters.DeviceIoControl.IoControlCode) {
    case IOCTL_RECORD:
      if (sp->Parameters.DeviceIoControl.InputBufferLength < sizeof(ULONG)) return STATUS_BUFFER_TOO_SMALL;
      KeAcquireSpinLock(&g_stats_lock, &irql);
      ++g_pending;
      g_pending_sum += *(ULONG *)irp->AssociatedIrp.SystemBuffer;
      KeReleaseSpinLock(&g_stats_lock, irql);
      return STATUS_SUCCESS;
    case IOCTL_FLUSH:
      IoQueueWorkItem(g_flush_item, FlushStatistics, DelayedWorkQueue, NULL);
      return STATUS_SUCCESS;
    default:
      return STATUS_INVALID_DEVICE_REQUEST;
  }
}

static NTSTATUS bug_entry(PDRIVER_OBJECT driver) {
  UNREFERENCED_PARAMETER(driver);
  KeInitializeSpinLock(&g_stats_lock);
  g_flush_item = IoAllocateWorkItem(g_bug_device);
  return g_flush_item ? STATUS_SUCCESS : STATUS_INSUFFICIENT_RESOURCES;
}

static VOID bug_unload(VOID) {
  IoFreeWorkItem(g_flush_item);
}
