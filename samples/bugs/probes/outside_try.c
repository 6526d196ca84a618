/*
 * probes_outside_try_{bug,fixed}.sys - probes outside __try.
 *
 * IOCTL_COPY (METHOD_NEITHER) copies the caller's 16-byte record from
 * Type3InputBuffer to Irp->UserBuffer with the first byte upper-cased. Both
 * buffers are probed, but the bug build has no __try: a probe that raises
 * (a kernel or misaligned pointer) or a page the caller frees between the
 * probe and the copy is an unhandled exception in a system service, bug
 * check 0x3B. The fixed build puts the probes and the copy inside __try.
 */
#define PROBE_DEVICE_NAME L"\\Device\\KemuProbeOutsideTry"
#define PROBE_LINK_NAME L"\\??\\KemuProbeOutsideTry"
#include "probe_sample.h"

#define IOCTL_COPY CTL_CODE(0x8000, 0x901, METHOD_NEITHER, FILE_ANY_ACCESS)
#define RECORD_SIZE 16

typedef struct {
  char text[RECORD_SIZE];
} RECORD;

PROBE_FUNCTION void copy_record(const RECORD* in, RECORD* out) {
  RECORD r = *in;
  if (r.text[0] >= 'a' && r.text[0] <= 'z') r.text[0] -= 'a' - 'A';
  *out = r;
}

PROBE_FUNCTION NTSTATUS probe_and_copy(PVOID in, PVOID out) {
  ProbeForRead(in, RECORD_SIZE, 1);
  ProbeForWrite(out, RECORD_SIZE, 1);
  copy_record(in, out);
  return STATUS_SUCCESS;
}

static NTSTATUS probe_control(PDEVICE_OBJECT device, PIRP irp, PIO_STACK_LOCATION sl) {
  PVOID in = sl->Parameters.DeviceIoControl.Type3InputBuffer;
  PVOID out = irp->UserBuffer;
  NTSTATUS status;
  UNREFERENCED_PARAMETER(device);
  if (sl->Parameters.DeviceIoControl.IoControlCode != IOCTL_COPY)
    return probe_complete(irp, STATUS_INVALID_DEVICE_REQUEST, 0);
  if (sl->Parameters.DeviceIoControl.InputBufferLength < RECORD_SIZE ||
      sl->Parameters.DeviceIoControl.OutputBufferLength < RECORD_SIZE)
    return probe_complete(irp, STATUS_BUFFER_TOO_SMALL, 0);
#ifdef FIXED
  __try {
    status = probe_and_copy(in, out);
  } __except (EXCEPTION_EXECUTE_HANDLER) {
    status = GetExceptionCode();
  }
#else
  status = probe_and_copy(in, out);
#endif
  return probe_complete(irp, status, NT_SUCCESS(status) ? RECORD_SIZE : 0);
}
