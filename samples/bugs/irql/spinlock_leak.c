/*
 * spinlock_leak: an IOCTL that replaces the device's filter settings, kept
 * in a table guarded by a spin lock. Bug: the length check sits inside the
 * locked region and its early return skips KeReleaseSpinLock, so the dispatch
 * routine returns at DISPATCH_LEVEL with the lock held (checks.md
 * irql.unbalanced). The client's system call then returns to user mode above
 * PASSIVE_LEVEL: Windows bugchecks IRQL_GT_ZERO_AT_SYSTEM_SERVICE (0x4A).
 * Fixed: the error path releases the lock too.
 */
#include "bug_driver.h"

#define IOCTL_SET_FILTER BUG_IOCTL(1) /* 0x80002C04 */

typedef struct _FILTER {
  ULONG Mask;
  ULONG Threshold;
} FILTER;

static KSPIN_LOCK g_filter_lock;
static FILTER g_filter;
static ULONG g_updates;

BUG_ROUTINE NTSTATUS UpdateFilter(const VOID *input, ULONG length) {
  KIRQL irql;
  KeAcquireSpinLock(&g_filter_lock, &irql);
  ++g_updates;
  if (length < sizeof(FILTER)) {
#ifdef KEMU_FIXED
    KeReleaseSpinLock(&g_filter_lock, irql);
#endif
    return STATUS_INVALID_PARAMETER;
  }
  RtlCopyMemory(&g_filter, input, sizeof(FILTER));
  KeReleaseSpinLock(&g_filter_lock, irql);
  return STATUS_SUCCESS;
}

static NTSTATUS bug_ioctl(PIRP irp, PIO_STACK_LOCATION sp, ULONG_PTR *information) {
  UNREFERENCED_PARAMETER(information);
  if (sp->Parameters.DeviceIoControl.IoControlCode != IOCTL_SET_FILTER) return STATUS_INVALID_DEVICE_REQUEST;
  return UpdateFilter(irp->AssociatedIrp.SystemBuffer, sp->Parameters.DeviceIoControl.InputBufferLength);
}

static NTSTATUS bug_entry(PDRIVER_OBJECT driver) {
  UNREFERENCED_PARAMETER(driver);
  KeInitializeSpinLock(&g_filter_lock);
  return STATUS_SUCCESS;
}

static VOID bug_unload(VOID) {}
