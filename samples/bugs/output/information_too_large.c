/*
 * information_too_large: a METHOD_BUFFERED query returns a version block.
 * Bug: the driver copies what fits but always reports sizeof(VERSION_INFO)
 * in IoStatus.Information, so with a short output buffer the I/O manager
 * copies more bytes back than the caller's buffer holds
 * (checks.md buffer.information-too-large). Fixed: Information is what was
 * written.
 */
#include "bug_driver.h"

typedef struct {
  ULONG major, minor, build, flags;
  WCHAR name[16];
} VERSION_INFO;

BUG_ROUTINE NTSTATUS QueryVersion(PIRP irp, PIO_STACK_LOCATION sp, ULONG_PTR *information) {
  VERSION_INFO info;
  ULONG out_len = sp->Parameters.DeviceIoControl.OutputBufferLength;
  ULONG bytes = out_len < sizeof(info) ? out_len : (ULONG)sizeof(info);
  RtlZeroMemory(&info, sizeof(info));
  info.major = 1;
  info.minor = 2;
  info.build = 3;
  RtlCopyMemory(info.name, L"kemu bug sample", 30);
  RtlCopyMemory(irp->AssociatedIrp.SystemBuffer, &info, bytes);
#ifdef KEMU_FIXED
  *information = bytes;
#else
  *information = sizeof(info);
#endif
  return STATUS_SUCCESS;
}

static NTSTATUS bug_ioctl(PIRP irp, PIO_STACK_LOCATION sp, ULONG_PTR *information) {
  if (sp->Parameters.DeviceIoControl.IoControlCode != BUG_IOCTL(0)) return STATUS_INVALID_DEVICE_REQUEST;
  return QueryVersion(irp, sp, information);
}
static NTSTATUS bug_entry(PDRIVER_OBJECT driver) { return STATUS_SUCCESS; }
static VOID bug_unload(VOID) {}
