/*
 * wrong_tag: an IOCTL that keeps two pool blocks per request, a header
 * ('HdrW') and a payload ('PayW'). Bug: the cleanup frees the payload with the
 * header's tag - a copy-paste slip that, on Windows, means "this is not the
 * block you think": BAD_POOL_CALLER 0xC2/0x0A (checks.md pool.bad-free).
 * Fixed: each block freed with its own tag.
 */
#include "bug_driver.h"

#define IOCTL_PACK CTL_CODE(0x8000, 0xB26, METHOD_BUFFERED, FILE_ANY_ACCESS) /* 0x80002C98 */
#define HEADER_TAG 'WrdH'
#define PAYLOAD_TAG 'WyaP'

BUG_ROUTINE NTSTATUS PackRecord(const UCHAR *data, ULONG length, ULONG *checksum) {
  ULONG *header = ExAllocatePoolWithTag(NonPagedPoolNx, 16, HEADER_TAG);
  UCHAR *payload;
  ULONG i, sum = 0;
  if (!header) return STATUS_INSUFFICIENT_RESOURCES;
  payload = ExAllocatePoolWithTag(NonPagedPoolNx, length, PAYLOAD_TAG);
  if (!payload) {
    ExFreePoolWithTag(header, HEADER_TAG);
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  RtlCopyMemory(payload, data, length);
  for (i = 0; i < length; ++i) sum += payload[i];
  header[0] = length;
  header[1] = sum;
  *checksum = header[1];
#ifdef KEMU_FIXED
  ExFreePoolWithTag(payload, PAYLOAD_TAG);
#else
  ExFreePoolWithTag(payload, HEADER_TAG);
#endif
  ExFreePoolWithTag(header, HEADER_TAG);
  return STATUS_SUCCESS;
}

static NTSTATUS bug_ioctl(PIRP irp, PIO_STACK_LOCATION sp, ULONG_PTR *information) {
  ULONG length = sp->Parameters.DeviceIoControl.InputBufferLength;
  NTSTATUS status;
  if (sp->Parameters.DeviceIoControl.IoControlCode != IOCTL_PACK) return STATUS_INVALID_DEVICE_REQUEST;
  if (length == 0 || length > 4096 || sp->Parameters.DeviceIoControl.OutputBufferLength < sizeof(ULONG))
    return STATUS_INVALID_PARAMETER;
  status = PackRecord(irp->AssociatedIrp.SystemBuffer, length, irp->AssociatedIrp.SystemBuffer);
  if (NT_SUCCESS(status)) *information = sizeof(ULONG);
  return status;
}
static NTSTATUS bug_entry(PDRIVER_OBJECT driver) { return STATUS_SUCCESS; }
static VOID bug_unload(VOID) {}
