/*
 * leak: an IOCTL that remembers the caller's label in a pool copy. Bug: a
 * second request replaces the copy without freeing the first, and
 * DriverUnload never frees the last one either: both blocks outlive the
 * driver (checks.md pool.leak; Driver Verifier 0xC4/0x62 at unload).
 * Fixed: the old copy is freed when replaced and the last one in DriverUnload.
 */
#include "bug_driver.h"

#define IOCTL_SET_LABEL CTL_CODE(0x8000, 0xB20, METHOD_BUFFERED, FILE_ANY_ACCESS) /* 0x80002C80 */
#define LABEL_TAG 'lbaL'

static char *g_label;
static ULONG g_label_length;

BUG_ROUTINE NTSTATUS RememberLabel(const char *label, ULONG length) {
  char *copy = ExAllocatePoolWithTag(NonPagedPoolNx, length, LABEL_TAG);
  if (!copy) return STATUS_INSUFFICIENT_RESOURCES;
  RtlCopyMemory(copy, label, length);
#ifdef KEMU_FIXED
  if (g_label) ExFreePoolWithTag(g_label, LABEL_TAG);
#endif
  g_label = copy;
  g_label_length = length;
  return STATUS_SUCCESS;
}

static NTSTATUS bug_ioctl(PIRP irp, PIO_STACK_LOCATION sp, ULONG_PTR *information) {
  ULONG length = sp->Parameters.DeviceIoControl.InputBufferLength;
  UNREFERENCED_PARAMETER(information);
  if (sp->Parameters.DeviceIoControl.IoControlCode != IOCTL_SET_LABEL) return STATUS_INVALID_DEVICE_REQUEST;
  if (length == 0 || length > 256) return STATUS_INVALID_PARAMETER;
  return RememberLabel(irp->AssociatedIrp.SystemBuffer, length);
}
static NTSTATUS bug_entry(PDRIVER_OBJECT driver) { return STATUS_SUCCESS; }
static VOID bug_unload(VOID) {
#ifdef KEMU_FIXED
  if (g_label) ExFreePoolWithTag(g_label, LABEL_TAG);
  g_label = NULL;
#endif
}
