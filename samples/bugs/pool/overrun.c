/*
 * overrun: an IOCTL that keeps the caller's name as a C string in pool.
 * Bug: the buffer is allocated for the name's bytes only, and the
 * terminating NUL is written one byte past it, into whatever pool follows
 * (checks.md pool.overrun; on plain Windows a silent corruption of the next
 * allocation, under special pool 0xD6). Fixed: room for the NUL.
 */
#include "bug_driver.h"

#define IOCTL_SET_NAME CTL_CODE(0x8000, 0xB24, METHOD_BUFFERED, FILE_ANY_ACCESS) /* 0x80002C90 */
#define NAME_TAG 'emaN'

static char *g_name;

BUG_ROUTINE NTSTATUS SaveName(const char *name, ULONG length) {
#ifdef KEMU_FIXED
  char *copy = ExAllocatePoolWithTag(NonPagedPoolNx, (SIZE_T)length + 1, NAME_TAG);
#else
  char *copy = ExAllocatePoolWithTag(NonPagedPoolNx, length, NAME_TAG);
#endif
  if (!copy) return STATUS_INSUFFICIENT_RESOURCES;
  RtlCopyMemory(copy, name, length);
  copy[length] = '\0';
  if (g_name) ExFreePoolWithTag(g_name, NAME_TAG);
  g_name = copy;
  return STATUS_SUCCESS;
}

static NTSTATUS bug_ioctl(PIRP irp, PIO_STACK_LOCATION sp, ULONG_PTR *information) {
  ULONG length = sp->Parameters.DeviceIoControl.InputBufferLength;
  UNREFERENCED_PARAMETER(information);
  if (sp->Parameters.DeviceIoControl.IoControlCode != IOCTL_SET_NAME) return STATUS_INVALID_DEVICE_REQUEST;
  if (length == 0 || length > 1024) return STATUS_INVALID_PARAMETER;
  return SaveName(irp->AssociatedIrp.SystemBuffer, length);
}
static NTSTATUS bug_entry(PDRIVER_OBJECT driver) { return STATUS_SUCCESS; }
static VOID bug_unload(VOID) {
  if (g_name) ExFreePoolWithTag(g_name, NAME_TAG);
  g_name = NULL;
}
