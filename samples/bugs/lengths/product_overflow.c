/*
 * product_overflow: the caller sends a list { ULONG Count; ULONG Reserved;
 * ULONG64 Entries[] }. Bug: the size check multiplies Count by the entry size
 * in ULONG arithmetic: with Count 0x20000000 the product wraps to 0, the check
 * passes and the copy of Count entries (a 64-bit size) runs far past the input
 * (checks.md buffer.length-overflow: the multiplication form). Fixed: divide
 * what is left by the entry size instead.
 */
#include "bug_driver.h"

typedef struct {
  ULONG Count;
  ULONG Reserved;
  ULONG64 Entries[1];
} ENTRY_LIST;

static ULONG64 g_entries[32];

BUG_ROUTINE NTSTATUS StoreEntries(PIRP irp, PIO_STACK_LOCATION sp) {
  ENTRY_LIST *list = (ENTRY_LIST *)irp->AssociatedIrp.SystemBuffer;
  ULONG in = sp->Parameters.DeviceIoControl.InputBufferLength;
  if (in < FIELD_OFFSET(ENTRY_LIST, Entries)) return STATUS_INVALID_PARAMETER;
#ifdef KEMU_FIXED
  if (list->Count > (in - FIELD_OFFSET(ENTRY_LIST, Entries)) / sizeof(ULONG64) ||
      list->Count > KEMU_ARRAY_SIZE(g_entries))
    return STATUS_INVALID_PARAMETER;
#else
  if (FIELD_OFFSET(ENTRY_LIST, Entries) + list->Count * (ULONG)sizeof(ULONG64) > in) return STATUS_INVALID_PARAMETER;
#endif
  RtlCopyMemory(g_entries, list->Entries, (SIZE_T)list->Count * sizeof(ULONG64));
  return STATUS_SUCCESS;
}

static NTSTATUS bug_ioctl(PIRP irp, PIO_STACK_LOCATION sp, ULONG_PTR *information) {
  if (sp->Parameters.DeviceIoControl.IoControlCode != BUG_IOCTL(0)) return STATUS_INVALID_DEVICE_REQUEST;
  return StoreEntries(irp, sp);
}
static NTSTATUS bug_entry(PDRIVER_OBJECT driver) { return STATUS_SUCCESS; }
static VOID bug_unload(VOID) {}
