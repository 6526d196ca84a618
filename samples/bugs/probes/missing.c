/*
 * probes_missing_{bug,fixed}.sys - METHOD_NEITHER without a probe.
 *
 * IOCTL_ADD (METHOD_NEITHER) takes two ULONGs from the caller's
 * Type3InputBuffer and writes their sum to Irp->UserBuffer. The access is
 * inside __try, so a bad pointer only fails the request; but the bug build
 * never checks that the pointers are user addresses: a caller passing kernel
 * addresses reads and writes kernel memory. The fixed build probes both
 * ranges (ProbeForRead / ProbeForWrite) inside the same __try first.
 */
#define PROBE_DEVICE_NAME L"\\Device\\KemuProbeMissing"
#define PROBE_LINK_NAME L"\\??\\KemuProbeMissing"
#include "probe_sample.h"

#define IOCTL_ADD CTL_CODE(0x8000, 0x900, METHOD_NEITHER, FILE_ANY_ACCESS)

typedef struct {
  ULONG a, b;
} ADD_INPUT;

/* The caller's memory is read and written here, under the caller's __try. */
PROBE_FUNCTION void add_values(const ADD_INPUT* in, ULONG* out) { *out = in->a + in->b; }

static NTSTATUS probe_control(PDEVICE_OBJECT device, PIRP irp, PIO_STACK_LOCATION sl) {
  const ADD_INPUT* in = sl->Parameters.DeviceIoControl.Type3InputBuffer;
  ULONG* out = irp->UserBuffer;
  UNREFERENCED_PARAMETER(device);
  if (sl->Parameters.DeviceIoControl.IoControlCode != IOCTL_ADD)
    return probe_complete(irp, STATUS_INVALID_DEVICE_REQUEST, 0);
  if (sl->Parameters.DeviceIoControl.InputBufferLength < sizeof(ADD_INPUT) ||
      sl->Parameters.DeviceIoControl.OutputBufferLength < sizeof(ULONG))
    return probe_complete(irp, STATUS_BUFFER_TOO_SMALL, 0);
  __try {
#ifdef FIXED
    ProbeForRead((PVOID)in, sizeof(ADD_INPUT), __alignof(ULONG));
    ProbeForWrite(out, sizeof(ULONG), __alignof(ULONG));
#endif
    add_values(in, out);
  } __except (EXCEPTION_EXECUTE_HANDLER) {
    return probe_complete(irp, GetExceptionCode(), 0);
  }
  return probe_complete(irp, STATUS_SUCCESS, sizeof(ULONG));
}
