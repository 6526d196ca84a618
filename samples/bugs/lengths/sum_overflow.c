/*
 * sum_overflow: the caller sends a blob { ULONG Length; UCHAR Data[] } to
 * store. Bug: the size check adds the header to the caller's Length in ULONG
 * arithmetic: with Length 0xFFFFFFFF the sum wraps to 3, the check passes and
 * the copy of Length bytes runs far past the input (checks.md
 * buffer.length-overflow: the addition form). Fixed: compare Length with what
 * is left after the header, which cannot wrap.
 */
#include "bug_driver.h"

typedef struct {
  ULONG Length;
  UCHAR Data[1];
} BLOB;

static UCHAR g_store[256];

BUG_ROUTINE NTSTATUS StoreBlob(PIRP irp, PIO_STACK_LOCATION sp) {
  BLOB *blob = (BLOB *)irp->AssociatedIrp.SystemBuffer;
  ULONG in = sp->Parameters.DeviceIoControl.InputBufferLength;
  ULONG header = FIELD_OFFSET(BLOB, Data);
  if (in < header) return STATUS_INVALID_PARAMETER;
#ifdef KEMU_FIXED
  if (blob->Length > in - header || blob->Length > sizeof(g_store)) return STATUS_INVALID_PARAMETER;
#else
  if (header + blob->Length > in) return STATUS_INVALID_PARAMETER; /* ULONG: 4 + 0xFFFFFFFF is 3 */
#endif
  RtlCopyMemory(g_store, blob->Data, blob->Length);
  return STATUS_SUCCESS;
}

static NTSTATUS bug_ioctl(PIRP irp, PIO_STACK_LOCATION sp, ULONG_PTR *information) {
  if (sp->Parameters.DeviceIoControl.IoControlCode != BUG_IOCTL(0)) return STATUS_INVALID_DEVICE_REQUEST;
  return StoreBlob(irp, sp);
}
static NTSTATUS bug_entry(PDRIVER_OBJECT driver) { return STATUS_SUCCESS; }
static VOID bug_unload(VOID) {}
