/*
 * probes_double_fetch_{bug,fixed}.sys - a double fetch of a length.
 *
 * IOCTL_STORE (METHOD_NEITHER) takes a message { ULONG Length; UCHAR
 * Data[]; } and keeps its bytes in a 64-byte store. The caller's buffer is
 * probed inside __try; validate_message checks Length against the store,
 * then store_message reads Length again from the caller's memory to copy.
 * Between the two reads the caller (another thread) can raise Length: the
 * check passes and the copy overruns the store. The fixed build reads the
 * header once into kernel memory and uses that copy for both.
 */
#define PROBE_DEVICE_NAME L"\\Device\\KemuProbeDoubleFetch"
#define PROBE_LINK_NAME L"\\??\\KemuProbeDoubleFetch"
#include "probe_sample.h"

#define IOCTL_STORE CTL_CODE(0x8000, 0x902, METHOD_NEITHER, FILE_ANY_ACCESS)

typedef struct {
  ULONG Length;
  UCHAR Data[1];
} MESSAGE;

static UCHAR g_store[64];
static ULONG g_stored;

#ifndef FIXED
PROBE_FUNCTION BOOLEAN validate_message(const MESSAGE* m, ULONG input_length) {
  return m->Length <= sizeof(g_store) && m->Length <= input_length - FIELD_OFFSET(MESSAGE, Data);
}

PROBE_FUNCTION void store_message(const MESSAGE* m) {
  ULONG length = m->Length; /* the caller's Length, read a second time */
  RtlCopyMemory(g_store, m->Data, length);
  g_stored = length;
}
#else
PROBE_FUNCTION ULONG capture_length(const MESSAGE* m) { return m->Length; }

PROBE_FUNCTION void store_data(const MESSAGE* m, ULONG length) {
  RtlCopyMemory(g_store, m->Data, length);
  g_stored = length;
}
#endif

static NTSTATUS probe_control(PDEVICE_OBJECT device, PIRP irp, PIO_STACK_LOCATION sl) {
  const MESSAGE* m = sl->Parameters.DeviceIoControl.Type3InputBuffer;
  ULONG input_length = sl->Parameters.DeviceIoControl.InputBufferLength;
  UNREFERENCED_PARAMETER(device);
  if (sl->Parameters.DeviceIoControl.IoControlCode != IOCTL_STORE)
    return probe_complete(irp, STATUS_INVALID_DEVICE_REQUEST, 0);
  if (input_length < FIELD_OFFSET(MESSAGE, Data)) return probe_complete(irp, STATUS_BUFFER_TOO_SMALL, 0);
  __try {
    ProbeForRead((PVOID)m, input_length, __alignof(ULONG));
#ifndef FIXED
    if (!validate_message(m, input_length)) return probe_complete(irp, STATUS_INVALID_PARAMETER, 0);
    store_message(m);
#else
    {
      ULONG length = capture_length(m); /* read once, used for the check and the copy */
      if (length > sizeof(g_store) || length > input_length - FIELD_OFFSET(MESSAGE, Data))
        return probe_complete(irp, STATUS_INVALID_PARAMETER, 0);
      store_data(m, length);
    }
#endif
  } __except (EXCEPTION_EXECUTE_HANDLER) {
    return probe_complete(irp, GetExceptionCode(), 0);
  }
  return probe_complete(irp, STATUS_SUCCESS, 0);
}
