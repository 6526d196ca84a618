/*
 * probes_embedded_pointer_{bug,fixed}.sys - a pointer embedded in a
 * buffered request.
 *
 * IOCTL_FETCH (METHOD_BUFFERED) takes { PVOID Data; ULONG Length; } and
 * copies Length bytes from Data into the driver's store. The I/O manager
 * copied the request itself into the system buffer, but Data is still the
 * caller's pointer: the bug build copies through it inside __try without
 * probing it, so a caller can make the driver read kernel memory. The fixed
 * build probes Data for Length bytes first.
 */
#define PROBE_DEVICE_NAME L"\\Device\\KemuProbeEmbedded"
#define PROBE_LINK_NAME L"\\??\\KemuProbeEmbedded"
#include "probe_sample.h"

#define IOCTL_FETCH CTL_CODE(0x8000, 0x904, METHOD_BUFFERED, FILE_ANY_ACCESS)

typedef struct {
  PVOID Data;
  ULONG Length;
} FETCH_REQUEST;

static UCHAR g_store[64];

PROBE_FUNCTION void fetch_data(PVOID data, ULONG length) {
#ifdef FIXED
  ProbeForRead(data, length, 1);
#endif
  RtlCopyMemory(g_store, data, length);
  KEMU_PRINT("embedded: %u bytes fetched\n", length);
}

static NTSTATUS probe_control(PDEVICE_OBJECT device, PIRP irp, PIO_STACK_LOCATION sl) {
  FETCH_REQUEST rq;
  UNREFERENCED_PARAMETER(device);
  if (sl->Parameters.DeviceIoControl.IoControlCode != IOCTL_FETCH)
    return probe_complete(irp, STATUS_INVALID_DEVICE_REQUEST, 0);
  if (sl->Parameters.DeviceIoControl.InputBufferLength < sizeof(FETCH_REQUEST))
    return probe_complete(irp, STATUS_BUFFER_TOO_SMALL, 0);
  rq = *(FETCH_REQUEST*)irp->AssociatedIrp.SystemBuffer; /* the request, safely in the system buffer */
  if (rq.Length > sizeof(g_store)) return probe_complete(irp, STATUS_INVALID_PARAMETER, 0);
  __try {
    fetch_data(rq.Data, rq.Length);
  } __except (EXCEPTION_EXECUTE_HANDLER) {
    return probe_complete(irp, GetExceptionCode(), 0);
  }
  return probe_complete(irp, STATUS_SUCCESS, 0);
}
