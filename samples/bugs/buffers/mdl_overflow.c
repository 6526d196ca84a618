/*
 * mdl_overflow: a METHOD_OUT_DIRECT IOCTL that returns the device's name as
 * a NUL-terminated string through the system mapping of Irp->MdlAddress.
 * Bug: the driver checks OutputBufferLength against the name's characters
 * and then copies the terminating NUL too; a request with exactly
 * strlen(name) bytes of output gets one byte written past the MDL's
 * ByteCount, over the caller's memory after its buffer (checks.md
 * buffer.output-overflow). Fixed: the size with the terminator.
 */
#include "bug_driver.h"

#define IOCTL_GET_NAME CTL_CODE(0x8000, 0xB05, METHOD_OUT_DIRECT, FILE_ANY_ACCESS) /* 0x80002C16 */

static const char g_name[] = "KemuBug"; /* 7 characters and a NUL */

BUG_ROUTINE NTSTATUS CopyDeviceNameToMdl(PIRP irp, ULONG length, ULONG_PTR *information) {
  char *out;
#ifdef KEMU_FIXED
  if (length < sizeof(g_name)) return STATUS_BUFFER_TOO_SMALL;
#else
  if (length < sizeof(g_name) - 1) return STATUS_BUFFER_TOO_SMALL;
#endif
  out = MmGetSystemAddressForMdlSafe(irp->MdlAddress, NormalPagePriority);
  if (!out) return STATUS_INSUFFICIENT_RESOURCES;
  RtlCopyMemory(out, g_name, sizeof(g_name));
  *information = sizeof(g_name) - 1;
  return STATUS_SUCCESS;
}

static NTSTATUS bug_ioctl(PIRP irp, PIO_STACK_LOCATION sp, ULONG_PTR *information) {
  if (sp->Parameters.DeviceIoControl.IoControlCode != IOCTL_GET_NAME) return STATUS_INVALID_DEVICE_REQUEST;
  return CopyDeviceNameToMdl(irp, sp->Parameters.DeviceIoControl.OutputBufferLength, information);
}
static NTSTATUS bug_entry(PDRIVER_OBJECT driver) { return STATUS_SUCCESS; }
static VOID bug_unload(VOID) {}
