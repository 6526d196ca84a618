/*
 * bug_driver.h - the frame every bug-pair sample shares: one device
 * (\Device\KemuBug, \??\KemuBug), CREATE/CLOSE completed with success,
 * IRP_MJ_DEVICE_CONTROL handed to the sample's bug_ioctl(), DriverUnload
 * calling the sample's bug_unload(). Each pair is one source built twice:
 * <name>_bug.sys as real drivers get it wrong, <name>_fixed.sys (-DKEMU_FIXED)
 * the way Windows requires. The routine that holds the mistake is exported
 * under a telling name, so kemu's findings name it.
 */
#ifndef KEMU_BUG_DRIVER_H
#define KEMU_BUG_DRIVER_H

#include "kemu_sample.h"
#include <ntifs.h>

KEMU_DRIVER_ENTRY;

/* The routine with the mistake (or its fix): exported, never inlined. */
#define BUG_ROUTINE __declspec(dllexport) KEMU_NOINLINE

#define BUG_IOCTL(n) CTL_CODE(0x8000, 0xB00 + (n), METHOD_BUFFERED, FILE_ANY_ACCESS)

/* Implemented by the sample. */
static NTSTATUS bug_ioctl(PIRP irp, PIO_STACK_LOCATION sp, ULONG_PTR *information);
static NTSTATUS bug_entry(PDRIVER_OBJECT driver);
static VOID bug_unload(VOID);

static PDEVICE_OBJECT g_bug_device;

static NTSTATUS bug_complete(PIRP irp, NTSTATUS status, ULONG_PTR information) {
  irp->IoStatus.Status = status;
  irp->IoStatus.Information = information;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  return status;
}

static NTSTATUS NTAPI BugCreateClose(PDEVICE_OBJECT device, PIRP irp) {
  UNREFERENCED_PARAMETER(device);
  return bug_complete(irp, STATUS_SUCCESS, 0);
}

static NTSTATUS NTAPI BugDeviceControl(PDEVICE_OBJECT device, PIRP irp) {
  ULONG_PTR information = 0;
  NTSTATUS status;
  UNREFERENCED_PARAMETER(device);
  status = bug_ioctl(irp, IoGetCurrentIrpStackLocation(irp), &information);
  return bug_complete(irp, status, NT_SUCCESS(status) ? information : 0);
}

static VOID NTAPI BugUnload(PDRIVER_OBJECT driver) {
  UNICODE_STRING link;
  bug_unload();
  RtlInitUnicodeString(&link, L"\\??\\KemuBug");
  IoDeleteSymbolicLink(&link);
  IoDeleteDevice(driver->DeviceObject);
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path) {
  UNICODE_STRING name, link;
  NTSTATUS status;
  UNREFERENCED_PARAMETER(registry_path);
  RtlInitUnicodeString(&name, L"\\Device\\KemuBug");
  status = IoCreateDevice(driver, 0, &name, FILE_DEVICE_UNKNOWN, FILE_DEVICE_SECURE_OPEN, FALSE, &g_bug_device);
  if (!NT_SUCCESS(status)) return status;
  RtlInitUnicodeString(&link, L"\\??\\KemuBug");
  status = IoCreateSymbolicLink(&link, &name);
  if (!NT_SUCCESS(status)) {
    IoDeleteDevice(g_bug_device);
    return status;
  }
  driver->MajorFunction[IRP_MJ_CREATE] = BugCreateClose;
  driver->MajorFunction[IRP_MJ_CLOSE] = BugCreateClose;
  driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = BugDeviceControl;
  driver->DriverUnload = BugUnload;
  status = bug_entry(driver);
  if (!NT_SUCCESS(status)) {
    IoDeleteSymbolicLink(&link);
    IoDeleteDevice(g_bug_device);
  }
  return status;
}

/* The caller's handle in a METHOD_BUFFERED request: the first 8 input bytes. */
static HANDLE bug_input_handle(PIRP irp, PIO_STACK_LOCATION sp) {
  if (sp->Parameters.DeviceIoControl.InputBufferLength < sizeof(ULONG64)) return NULL;
  return (HANDLE)(ULONG_PTR) * (ULONG64 *)irp->AssociatedIrp.SystemBuffer;
}

#endif /* KEMU_BUG_DRIVER_H */
