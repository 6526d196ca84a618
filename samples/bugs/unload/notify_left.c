/*
 * notify_left: a driver that watches image loads with a load-image notify
 * routine registered in DriverEntry. Bug: DriverUnload never removes it, so
 * the next image load calls into the unloaded driver (bugcheck 0xCE when it
 * does) (checks.md unload.leftovers). Fixed: PsRemoveLoadImageNotifyRoutine
 * in DriverUnload.
 */
#include "bug_driver.h"

static volatile LONG g_images;

static VOID NTAPI OnImageLoad(PUNICODE_STRING name, HANDLE pid, PIMAGE_INFO info) {
  UNREFERENCED_PARAMETER(name);
  UNREFERENCED_PARAMETER(pid);
  UNREFERENCED_PARAMETER(info);
  InterlockedIncrement(&g_images);
}

BUG_ROUTINE NTSTATUS WatchImageLoads(VOID) {
  NTSTATUS status = PsSetLoadImageNotifyRoutine(OnImageLoad);
  if (!NT_SUCCESS(status)) return status;
  g_images = 0;
  return STATUS_SUCCESS;
}

static NTSTATUS bug_ioctl(PIRP irp, PIO_STACK_LOCATION sp, ULONG_PTR *information) {
  UNREFERENCED_PARAMETER(irp);
  UNREFERENCED_PARAMETER(sp);
  UNREFERENCED_PARAMETER(information);
  return STATUS_INVALID_DEVICE_REQUEST;
}
static NTSTATUS bug_entry(PDRIVER_OBJECT driver) {
  UNREFERENCED_PARAMETER(driver);
  return WatchImageLoads();
}
static VOID bug_unload(VOID) {
#ifdef KEMU_FIXED
  PsRemoveLoadImageNotifyRoutine(OnImageLoad);
#endif
}
