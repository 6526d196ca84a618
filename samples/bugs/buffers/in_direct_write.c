/*
 * in_direct_write: a METHOD_IN_DIRECT IOCTL that sends the caller's data
 * (described by Irp->MdlAddress, locked by the I/O manager for
 * IoReadAccess) to the device. Bug: after sending, the driver marks the
 * caller's buffer consumed by writing into it through the system mapping;
 * the pages were locked for reading only (checks.md
 * buffer.write-read-locked). Windows lets the write through. Fixed: the
 * caller's buffer is only read.
 */
#include "bug_driver.h"

#define IOCTL_SEND CTL_CODE(0x8000, 0xB06, METHOD_IN_DIRECT, FILE_ANY_ACCESS) /* 0x80002C19 */

static volatile ULONG g_checksum;

BUG_ROUTINE NTSTATUS SendCallerData(PIRP irp, ULONG length) {
  volatile UCHAR *data;
  ULONG i, sum = 0;
  if (irp->MdlAddress == NULL) return STATUS_INVALID_PARAMETER;
  data = MmGetSystemAddressForMdlSafe(irp->MdlAddress, NormalPagePriority);
  if (!data) return STATUS_INSUFFICIENT_RESOURCES;
  for (i = 0; i < length; ++i) sum += data[i];
  g_checksum = sum; /* the "device" */
#ifndef KEMU_FIXED
  data[0] = 0; /* consumed */
#endif
  return STATUS_SUCCESS;
}

static NTSTATUS bug_ioctl(PIRP irp, PIO_STACK_LOCATION sp, ULONG_PTR *information) {
  if (sp->Parameters.DeviceIoControl.IoControlCode != IOCTL_SEND) return STATUS_INVALID_DEVICE_REQUEST;
  return SendCallerData(irp, sp->Parameters.DeviceIoControl.OutputBufferLength);
}
static NTSTATUS bug_entry(PDRIVER_OBJECT driver) { return STATUS_SUCCESS; }
static VOID bug_unload(VOID) {}
