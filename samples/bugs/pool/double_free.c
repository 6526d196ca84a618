/*
 * double_free: an IOCTL that parses the caller's header into a pool copy.
 * Bug: the error path frees the copy, and the common exit frees it again
 * (checks.md pool.bad-free; Windows bugchecks BAD_POOL_CALLER 0xC2/0x07).
 * Fixed: the error path only sets the status; the copy is freed once.
 */
#include "bug_driver.h"

#define IOCTL_PARSE CTL_CODE(0x8000, 0xB25, METHOD_BUFFERED, FILE_ANY_ACCESS) /* 0x80002C94 */
#define HEADER_TAG 'rdHR'
#define HEADER_MAGIC 0x4B454D55u

typedef struct _HEADER {
  ULONG Magic;
  ULONG Length;
} HEADER;

BUG_ROUTINE NTSTATUS ParseHeader(const HEADER *in) {
  NTSTATUS status = STATUS_SUCCESS;
  HEADER *copy = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof(HEADER), HEADER_TAG);
  if (!copy) return STATUS_INSUFFICIENT_RESOURCES;
  *copy = *in;
  if (copy->Magic != HEADER_MAGIC) {
    status = STATUS_INVALID_PARAMETER;
#ifndef KEMU_FIXED
    ExFreePoolWithTag(copy, HEADER_TAG);
#endif
  }
  ExFreePoolWithTag(copy, HEADER_TAG);
  return status;
}

static NTSTATUS bug_ioctl(PIRP irp, PIO_STACK_LOCATION sp, ULONG_PTR *information) {
  UNREFERENCED_PARAMETER(information);
  if (sp->Parameters.DeviceIoControl.IoControlCode != IOCTL_PARSE) return STATUS_INVALID_DEVICE_REQUEST;
  if (sp->Parameters.DeviceIoControl.InputBufferLength < sizeof(HEADER)) return STATUS_BUFFER_TOO_SMALL;
  return ParseHeader(irp->AssociatedIrp.SystemBuffer);
}
static NTSTATUS bug_entry(PDRIVER_OBJECT driver) { return STATUS_SUCCESS; }
static VOID bug_unload(VOID) {}
