/*
 * null_unchecked: an IOCTL that keeps a copy of the caller's record in pool.
 * Bug: the allocation's result is used without a check; when the pool is
 * short (kemu's low-resources simulation, --fail-alloc / the scenario's
 * fail_alloc) it is NULL and the copy writes through it: a kernel NULL
 * dereference, bugcheck 0x3B on Windows (checks.md pool.null-unchecked).
 * Fixed: the NULL is checked and the request fails with
 * STATUS_INSUFFICIENT_RESOURCES.
 */
#include "bug_driver.h"

#define IOCTL_STORE CTL_CODE(0x8000, 0xB22, METHOD_BUFFERED, FILE_ANY_ACCESS) /* 0x80002C88 */
#define RECORD_TAG 'droR'

typedef struct _RECORD {
  ULONG Id;
  ULONG Value;
} RECORD;

static RECORD *g_record;

BUG_ROUTINE NTSTATUS StoreRecord(const RECORD *in) {
  RECORD *copy = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof(RECORD), RECORD_TAG);
#ifdef KEMU_FIXED
  if (!copy) return STATUS_INSUFFICIENT_RESOURCES;
#endif
  copy->Id = in->Id;
  copy->Value = in->Value;
  if (g_record) ExFreePoolWithTag(g_record, RECORD_TAG);
  g_record = copy;
  return STATUS_SUCCESS;
}

static NTSTATUS bug_ioctl(PIRP irp, PIO_STACK_LOCATION sp, ULONG_PTR *information) {
  UNREFERENCED_PARAMETER(information);
  if (sp->Parameters.DeviceIoControl.IoControlCode != IOCTL_STORE) return STATUS_INVALID_DEVICE_REQUEST;
  if (sp->Parameters.DeviceIoControl.InputBufferLength < sizeof(RECORD)) return STATUS_BUFFER_TOO_SMALL;
  return StoreRecord(irp->AssociatedIrp.SystemBuffer);
}
static NTSTATUS bug_entry(PDRIVER_OBJECT driver) { return STATUS_SUCCESS; }
static VOID bug_unload(VOID) {
  if (g_record) ExFreePoolWithTag(g_record, RECORD_TAG);
  g_record = NULL;
}
