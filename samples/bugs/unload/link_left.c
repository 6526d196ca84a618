/*
 * link_left: a driver with a device and a per-version symbolic link. Bug:
 * DriverUnload deletes the device but forgets the link it made: the name
 * \??\KemuLinkLeft keeps pointing at a device that is gone (checks.md
 * unload.leftovers; no bugcheck on Windows, a stale name until reboot).
 * Fixed: IoDeleteSymbolicLink before IoDeleteDevice.
 */
#include "kemu_sample.h"
#include <ntifs.h>

KEMU_DRIVER_ENTRY;

static UNICODE_STRING g_link = RTL_CONSTANT_STRING(L"\\??\\KemuLinkLeft");

static NTSTATUS NTAPI CreateClose(PDEVICE_OBJECT device, PIRP irp) {
  UNREFERENCED_PARAMETER(device);
  irp->IoStatus.Status = STATUS_SUCCESS;
  irp->IoStatus.Information = 0;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  return STATUS_SUCCESS;
}

static VOID NTAPI Unload(PDRIVER_OBJECT driver) {
#ifdef KEMU_FIXED
  IoDeleteSymbolicLink(&g_link);
#endif
  IoDeleteDevice(driver->DeviceObject);
}

__declspec(dllexport) KEMU_NOINLINE NTSTATUS PublishDevice(PDRIVER_OBJECT driver) {
  UNICODE_STRING name = RTL_CONSTANT_STRING(L"\\Device\\KemuLinkLeft");
  PDEVICE_OBJECT device;
  NTSTATUS status = IoCreateDevice(driver, 0, &name, FILE_DEVICE_UNKNOWN, FILE_DEVICE_SECURE_OPEN, FALSE, &device);
  if (!NT_SUCCESS(status)) return status;
  status = IoCreateSymbolicLink(&g_link, &name);
  if (!NT_SUCCESS(status)) {
    IoDeleteDevice(device);
    return status;
  }
  device->Flags &= ~DO_DEVICE_INITIALIZING;
  return STATUS_SUCCESS;
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path) {
  UNREFERENCED_PARAMETER(registry_path);
  driver->MajorFunction[IRP_MJ_CREATE] = CreateClose;
  driver->MajorFunction[IRP_MJ_CLOSE] = CreateClose;
  driver->DriverUnload = Unload;
  return PublishDevice(driver);
}
