/*
 * probes_kernel_address_{bug,fixed}.sys - a kernel address accepted as a
 * "user" pointer.
 *
 * IOCTL_VERSION (METHOD_NEITHER) writes the driver's version, a ULONG, to
 * Irp->UserBuffer. The bug build only checks that the pointer is not NULL
 * and writes inside __try: a kernel address the caller passes is written
 * like any other, so a caller can patch kernel memory. The fixed build
 * probes the pointer first (ProbeForWrite raises STATUS_ACCESS_VIOLATION for
 * anything at or above MmUserProbeAddress), and the request fails.
 */
#define PROBE_DEVICE_NAME L"\\Device\\KemuProbeKernelAddress"
#define PROBE_LINK_NAME L"\\??\\KemuProbeKernelAddress"
#include "probe_sample.h"

#define IOCTL_VERSION CTL_CODE(0x8000, 0x903, METHOD_NEITHER, FILE_ANY_ACCESS)
#define DRIVER_VERSION 0x00010002

PROBE_FUNCTION void write_version(ULONG* out) { *out = DRIVER_VERSION; }

static NTSTATUS probe_control(PDEVICE_OBJECT device, PIRP irp, PIO_STACK_LOCATION sl) {
  ULONG* out = irp->UserBuffer;
  UNREFERENCED_PARAMETER(device);
  if (sl->Parameters.DeviceIoControl.IoControlCode != IOCTL_VERSION)
    return probe_complete(irp, STATUS_INVALID_DEVICE_REQUEST, 0);
  if (!out || sl->Parameters.DeviceIoControl.OutputBufferLength < sizeof(ULONG))
    return probe_complete(irp, STATUS_BUFFER_TOO_SMALL, 0);
  __try {
#ifdef FIXED
    ProbeForWrite(out, sizeof(ULONG), __alignof(ULONG));
#endif
    write_version(out);
  } __except (EXCEPTION_EXECUTE_HANDLER) {
    return probe_complete(irp, GetExceptionCode(), 0);
  }
  return probe_complete(irp, STATUS_SUCCESS, sizeof(ULONG));
}
