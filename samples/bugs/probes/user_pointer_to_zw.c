/*
 * probes_user_pointer_to_zw_{bug,fixed}.sys - a user pointer passed to a
 * ZwXxx routine.
 *
 * IOCTL_QUERY_VERSION (METHOD_NEITHER) returns the "Version" value of the
 * driver's service key as KEY_VALUE_PARTIAL_INFORMATION in the caller's
 * buffer. The bug build hands Irp->UserBuffer straight to ZwQueryValueKey:
 * a ZwXxx call runs with PreviousMode KernelMode, so the routine never
 * probes the buffer and writes wherever the caller points. The fixed build
 * queries into pool and copies the result out after ProbeForWrite, inside
 * __try.
 *
 * IOCTL_OPEN_SUBKEY (METHOD_NEITHER) opens the subkey of the service key
 * named by the caller's UTF-16 input (with OBJ_FORCE_ACCESS_CHECK, so the
 * caller's rights are checked). The bug build points the UNICODE_STRING's
 * Buffer at the caller's Type3InputBuffer: ZwOpenKey reads the name from user
 * memory without probing it, and the caller can change it while the kernel
 * parses it. The fixed build captures the name into pool first.
 */
#define PROBE_DEVICE_NAME L"\\Device\\KemuProbeZw"
#define PROBE_LINK_NAME L"\\??\\KemuProbeZw"
#define PROBE_EXTRA
#include "probe_sample.h"

#define IOCTL_QUERY_VERSION CTL_CODE(0x8000, 0x905, METHOD_NEITHER, FILE_ANY_ACCESS)
#define IOCTL_OPEN_SUBKEY CTL_CODE(0x8000, 0x908, METHOD_NEITHER, FILE_ANY_ACCESS)
#define ZW_TAG 'wZbP'

static HANDLE g_key; /* the service key, a kernel handle */

static NTSTATUS probe_entry_extra(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path) {
  OBJECT_ATTRIBUTES oa;
  UNREFERENCED_PARAMETER(driver);
  InitializeObjectAttributes(&oa, registry_path, OBJ_KERNEL_HANDLE | OBJ_CASE_INSENSITIVE, NULL, NULL);
  return ZwOpenKey(&g_key, KEY_QUERY_VALUE, &oa);
}

static void probe_unload_extra(void) { ZwClose(g_key); }

#ifdef FIXED
PROBE_FUNCTION void copy_out(PVOID out, const VOID* data, ULONG length) {
  ProbeForWrite(out, length, 1);
  RtlCopyMemory(out, data, length);
}
#endif

PROBE_FUNCTION NTSTATUS query_version(PVOID out, ULONG out_length, ULONG* result) {
  UNICODE_STRING name;
  RtlInitUnicodeString(&name, L"Version");
#ifndef FIXED
  return ZwQueryValueKey(g_key, &name, KeyValuePartialInformation, out, out_length, result);
#else
  {
    PVOID info = ExAllocatePoolWithTag(PagedPool, out_length, ZW_TAG);
    NTSTATUS status;
    if (!info) return STATUS_INSUFFICIENT_RESOURCES;
    status = ZwQueryValueKey(g_key, &name, KeyValuePartialInformation, info, out_length, result);
    if (NT_SUCCESS(status)) {
      __try {
        copy_out(out, info, *result);
      } __except (EXCEPTION_EXECUTE_HANDLER) {
        status = GetExceptionCode();
      }
    }
    ExFreePoolWithTag(info, ZW_TAG);
    return status;
  }
#endif
}

#ifdef FIXED
PROBE_FUNCTION void capture_name(PVOID to, const VOID* from, ULONG length) {
  ProbeForRead((PVOID)from, length, sizeof(WCHAR));
  RtlCopyMemory(to, from, length);
}
#endif

PROBE_FUNCTION NTSTATUS open_subkey(PVOID name_buffer, ULONG name_length) {
  UNICODE_STRING name;
  OBJECT_ATTRIBUTES oa;
  HANDLE key;
  NTSTATUS status;
  if (name_length == 0 || name_length > 0x200 || name_length % sizeof(WCHAR)) return STATUS_INVALID_PARAMETER;
  name.Length = name.MaximumLength = (USHORT)name_length;
#ifndef FIXED
  name.Buffer = name_buffer; /* the caller's memory */
#else
  name.Buffer = ExAllocatePoolWithTag(PagedPool, name_length, ZW_TAG);
  if (!name.Buffer) return STATUS_INSUFFICIENT_RESOURCES;
  __try {
    capture_name(name.Buffer, name_buffer, name_length);
  } __except (EXCEPTION_EXECUTE_HANDLER) {
    ExFreePoolWithTag(name.Buffer, ZW_TAG);
    return GetExceptionCode();
  }
#endif
  InitializeObjectAttributes(&oa, &name, OBJ_KERNEL_HANDLE | OBJ_CASE_INSENSITIVE | OBJ_FORCE_ACCESS_CHECK, g_key,
                             NULL);
  status = ZwOpenKey(&key, KEY_READ, &oa);
  if (NT_SUCCESS(status)) ZwClose(key);
#ifdef FIXED
  ExFreePoolWithTag(name.Buffer, ZW_TAG);
#endif
  return status;
}

static NTSTATUS probe_control(PDEVICE_OBJECT device, PIRP irp, PIO_STACK_LOCATION sl) {
  ULONG result = 0;
  NTSTATUS status;
  UNREFERENCED_PARAMETER(device);
  if (sl->Parameters.DeviceIoControl.IoControlCode == IOCTL_OPEN_SUBKEY)
    return probe_complete(irp,
                          open_subkey(sl->Parameters.DeviceIoControl.Type3InputBuffer,
                                      sl->Parameters.DeviceIoControl.InputBufferLength),
                          0);
  if (sl->Parameters.DeviceIoControl.IoControlCode != IOCTL_QUERY_VERSION)
    return probe_complete(irp, STATUS_INVALID_DEVICE_REQUEST, 0);
  if (sl->Parameters.DeviceIoControl.OutputBufferLength == 0) return probe_complete(irp, STATUS_BUFFER_TOO_SMALL, 0);
  status = query_version(irp->UserBuffer, sl->Parameters.DeviceIoControl.OutputBufferLength, &result);
  return probe_complete(irp, status, NT_SUCCESS(status) ? result : 0);
}
