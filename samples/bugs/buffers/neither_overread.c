/*
 * neither_overread: a METHOD_NEITHER IOCTL that takes a two-field settings
 * record straight from the caller's Type3InputBuffer, probed and read under
 * __try (in a callee: clang's __try sees faults of called code). Bug: the driver checks InputBufferLength against the first field
 * only, then probes and reads the whole record: with a 4-byte input the
 * second field lies past the caller's buffer (checks.md
 * buffer.input-overread). With a page_end placement the read faults on the
 * guard page and the driver's __except answers; elsewhere it would read
 * whatever the caller's memory holds there. Fixed: the whole record's size.
 */
#include "bug_driver.h"

#define IOCTL_SET_SETTINGS CTL_CODE(0x8000, 0xB04, METHOD_NEITHER, FILE_ANY_ACCESS) /* 0x80002C13 */

typedef struct _BUG_SETTINGS {
  ULONG Mode;
  ULONG Flags;
} BUG_SETTINGS;

static volatile BUG_SETTINGS g_settings;

/* Runs inside the caller's __try (a fault here reaches its __except). */
BUG_ROUTINE NTSTATUS ReadCallerSettings(PIO_STACK_LOCATION sp) {
  const volatile BUG_SETTINGS *in = sp->Parameters.DeviceIoControl.Type3InputBuffer;
  ULONG length = sp->Parameters.DeviceIoControl.InputBufferLength;
#ifdef KEMU_FIXED
  if (length < sizeof(BUG_SETTINGS)) return STATUS_BUFFER_TOO_SMALL;
#else
  if (length < sizeof(ULONG)) return STATUS_BUFFER_TOO_SMALL;
#endif
  ProbeForRead((PVOID)in, sizeof(BUG_SETTINGS), sizeof(ULONG));
  g_settings.Mode = in->Mode;
  g_settings.Flags = in->Flags;
  return STATUS_SUCCESS;
}

static NTSTATUS apply_caller_settings(PIO_STACK_LOCATION sp) {
  __try {
    return ReadCallerSettings(sp);
  } __except (EXCEPTION_EXECUTE_HANDLER) {
    return GetExceptionCode();
  }
}

static NTSTATUS bug_ioctl(PIRP irp, PIO_STACK_LOCATION sp, ULONG_PTR *information) {
  if (sp->Parameters.DeviceIoControl.IoControlCode != IOCTL_SET_SETTINGS) return STATUS_INVALID_DEVICE_REQUEST;
  return apply_caller_settings(sp);
}
static NTSTATUS bug_entry(PDRIVER_OBJECT driver) { return STATUS_SUCCESS; }
static VOID bug_unload(VOID) {}
