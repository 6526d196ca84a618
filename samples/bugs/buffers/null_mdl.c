/*
 * null_mdl: a METHOD_OUT_DIRECT IOCTL that returns as much of the device's
 * version string as the caller's output buffer holds. Bug: the driver maps
 * Irp->MdlAddress without looking at it; a request with OutputBufferLength 0
 * has no MDL (the I/O manager builds none for zero bytes), and
 * MmGetSystemAddressForMdlSafe reads NULL->MdlFlags: a page fault at address
 * 0xA in the driver, which Windows turns into bugcheck 0x3B (checks.md
 * buffer.null-mdl). Fixed: no MDL, nothing to copy.
 */
#include "bug_driver.h"

#define IOCTL_GET_VERSION CTL_CODE(0x8000, 0xB00, METHOD_OUT_DIRECT, FILE_ANY_ACCESS) /* 0x80002C02 */

static const char g_version[] = "kemu-bug 1.2";

BUG_ROUTINE NTSTATUS CopyVersion(PIRP irp, ULONG length, ULONG_PTR *information) {
  PUCHAR out;
  ULONG n = length < sizeof(g_version) ? length : sizeof(g_version);
#ifdef KEMU_FIXED
  /* Zero-length direct I/O: there is no MDL to map. */
  if (irp->MdlAddress == NULL) return STATUS_SUCCESS;
#endif
  out = MmGetSystemAddressForMdlSafe(irp->MdlAddress, NormalPagePriority);
  if (!out) return STATUS_INSUFFICIENT_RESOURCES;
  RtlCopyMemory(out, g_version, n);
  *information = n;
  return STATUS_SUCCESS;
}

static NTSTATUS bug_ioctl(PIRP irp, PIO_STACK_LOCATION sp, ULONG_PTR *information) {
  if (sp->Parameters.DeviceIoControl.IoControlCode != IOCTL_GET_VERSION) return STATUS_INVALID_DEVICE_REQUEST;
  return CopyVersion(irp, sp->Parameters.DeviceIoControl.OutputBufferLength, information);
}
static NTSTATUS bug_entry(PDRIVER_OBJECT driver) { return STATUS_SUCCESS; }
static VOID bug_unload(VOID) {}
