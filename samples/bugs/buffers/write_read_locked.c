/*
 * write_read_locked: a METHOD_NEITHER IOCTL that returns the device's
 * version in the caller's output buffer (Irp->UserBuffer), which the driver
 * locks with its own MDL and writes through the system mapping. Bug: it
 * locks the pages for IoReadAccess, as if it only read them; Windows lets
 * the write through, but the pages were not probed for writing (a read-only
 * or copy-on-write page is written behind the caller's back) (checks.md
 * buffer.write-read-locked). Fixed: IoWriteAccess.
 */
#include "bug_driver.h"

#define IOCTL_GET_VERSION CTL_CODE(0x8000, 0xB01, METHOD_NEITHER, FILE_ANY_ACCESS) /* 0x80002C07 */
#define BUG_DEVICE_VERSION 0x00010002u

#ifdef KEMU_FIXED
#define BUG_LOCK_OPERATION IoWriteAccess
#else
#define BUG_LOCK_OPERATION IoReadAccess
#endif

BUG_ROUTINE NTSTATUS WriteVersionToCaller(PIRP irp, ULONG length, ULONG_PTR *information) {
  PMDL mdl;
  PULONG out;
  NTSTATUS status = STATUS_SUCCESS;
  if (irp->UserBuffer == NULL || length < sizeof(ULONG)) return STATUS_BUFFER_TOO_SMALL;
  mdl = IoAllocateMdl(irp->UserBuffer, sizeof(ULONG), FALSE, FALSE, NULL);
  if (!mdl) return STATUS_INSUFFICIENT_RESOURCES;
  __try {
    MmProbeAndLockPages(mdl, irp->RequestorMode, BUG_LOCK_OPERATION);
  } __except (EXCEPTION_EXECUTE_HANDLER) {
    IoFreeMdl(mdl);
    return STATUS_ACCESS_VIOLATION;
  }
  out = MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority);
  if (out) {
    *out = BUG_DEVICE_VERSION;
    *information = sizeof(ULONG);
  } else {
    status = STATUS_INSUFFICIENT_RESOURCES;
  }
  MmUnlockPages(mdl);
  IoFreeMdl(mdl);
  return status;
}

static NTSTATUS bug_ioctl(PIRP irp, PIO_STACK_LOCATION sp, ULONG_PTR *information) {
  if (sp->Parameters.DeviceIoControl.IoControlCode != IOCTL_GET_VERSION) return STATUS_INVALID_DEVICE_REQUEST;
  return WriteVersionToCaller(irp, sp->Parameters.DeviceIoControl.OutputBufferLength, information);
}
static NTSTATUS bug_entry(PDRIVER_OBJECT driver) { return STATUS_SUCCESS; }
static VOID bug_unload(VOID) {}
