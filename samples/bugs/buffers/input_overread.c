/*
 * input_overread: a METHOD_BUFFERED IOCTL that takes a two-field settings
 * record. Bug: the driver checks InputBufferLength against the first field
 * only and reads both; a 4-byte request makes it read 4 bytes past the
 * caller's input, out of the system buffer into whatever pool follows it
 * (checks.md buffer.input-overread). Fixed: the whole record's size.
 */
#include "bug_driver.h"

#define IOCTL_SET_SETTINGS CTL_CODE(0x8000, 0xB02, METHOD_BUFFERED, FILE_ANY_ACCESS) /* 0x80002C08 */

typedef struct _BUG_SETTINGS {
  ULONG Mode;
  ULONG Flags;
} BUG_SETTINGS;

static volatile BUG_SETTINGS g_settings;

BUG_ROUTINE NTSTATUS ApplySettings(PIRP irp, ULONG length) {
  const BUG_SETTINGS *in = irp->AssociatedIrp.SystemBuffer;
#ifdef KEMU_FIXED
  if (length < sizeof(BUG_SETTINGS)) return STATUS_BUFFER_TOO_SMALL;
#else
  if (length < sizeof(ULONG)) return STATUS_BUFFER_TOO_SMALL;
#endif
  g_settings.Mode = in->Mode;
  g_settings.Flags = in->Flags;
  return STATUS_SUCCESS;
}

static NTSTATUS bug_ioctl(PIRP irp, PIO_STACK_LOCATION sp, ULONG_PTR *information) {
  if (sp->Parameters.DeviceIoControl.IoControlCode != IOCTL_SET_SETTINGS) return STATUS_INVALID_DEVICE_REQUEST;
  return ApplySettings(irp, sp->Parameters.DeviceIoControl.InputBufferLength);
}
static NTSTATUS bug_entry(PDRIVER_OBJECT driver) { return STATUS_SUCCESS; }
static VOID bug_unload(VOID) {}
