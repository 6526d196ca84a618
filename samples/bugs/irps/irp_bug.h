/*
 * irp_bug.h - the frame of the IRP bug pairs: one device (\Device\KemuIrp,
 * \??\KemuIrp), CREATE/CLOSE completed with success, and the sample's own
 * IRP_MJ_DEVICE_CONTROL routine — the dispatch routine is where these
 * mistakes live, so each sample writes it (exported under a telling name, so
 * kemu's findings name it). The sample's irp_entry() sets the routine and
 * whatever else it needs, irp_unload() undoes it. Each pair is one source
 * built twice: <name>_bug.sys as real drivers get it wrong, <name>_fixed.sys
 * (-DKEMU_FIXED) the way Windows requires.
 */
#ifndef KEMU_IRP_BUG_H
#define KEMU_IRP_BUG_H

#include "kemu_sample.h"
#include <ntifs.h>

KEMU_DRIVER_ENTRY;

/* The routine with the mistake (or its fix): exported, never inlined. */
#define BUG_ROUTINE __declspec(dllexport) KEMU_NOINLINE

#define IRP_IOCTL(n) CTL_CODE(0x8000, 0xB00 + (n), METHOD_BUFFERED, FILE_ANY_ACCESS)

/* Implemented by the sample. */
static NTSTATUS irp_entry(PDRIVER_OBJECT driver, PDEVICE_OBJECT device);
static VOID irp_unload(VOID);

static PDEVICE_OBJECT g_irp_device;

static NTSTATUS irp_complete(PIRP irp, NTSTATUS status, ULONG_PTR information) {
  irp->IoStatus.Status = status;
  irp->IoStatus.Information = information;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  return status;
}

static NTSTATUS NTAPI IrpCreateClose(PDEVICE_OBJECT device, PIRP irp) {
  UNREFERENCED_PARAMETER(device);
  return irp_complete(irp, STATUS_SUCCESS, 0);
}

static VOID NTAPI IrpUnload(PDRIVER_OBJECT driver) {
  UNREFERENCED_PARAMETER(driver);
  UNICODE_STRING link;
  irp_unload();
  RtlInitUnicodeString(&link, L"\\??\\KemuIrp");
  IoDeleteSymbolicLink(&link);
  IoDeleteDevice(g_irp_device);
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path) {
  UNICODE_STRING name, link;
  NTSTATUS status;
  UNREFERENCED_PARAMETER(registry_path);
  RtlInitUnicodeString(&name, L"\\Device\\KemuIrp");
  status = IoCreateDevice(driver, 0, &name, FILE_DEVICE_UNKNOWN, FILE_DEVICE_SECURE_OPEN, FALSE, &g_irp_device);
  if (!NT_SUCCESS(status)) return status;
  RtlInitUnicodeString(&link, L"\\??\\KemuIrp");
  status = IoCreateSymbolicLink(&link, &name);
  if (!NT_SUCCESS(status)) {
    IoDeleteDevice(g_irp_device);
    return status;
  }
  driver->MajorFunction[IRP_MJ_CREATE] = IrpCreateClose;
  driver->MajorFunction[IRP_MJ_CLOSE] = IrpCreateClose;
  driver->DriverUnload = IrpUnload;
  status = irp_entry(driver, g_irp_device);
  if (!NT_SUCCESS(status)) {
    IoDeleteSymbolicLink(&link);
    IoDeleteDevice(g_irp_device);
  }
  return status;
}

#endif /* KEMU_IRP_BUG_H */
