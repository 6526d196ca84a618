/*
 * probe_sample.h - the frame every probe.* sample shares: one named device
 * (PROBE_DEVICE_NAME, linked as PROBE_LINK_NAME) whose create and close
 * succeed and whose IRP_MJ_DEVICE_CONTROL goes to the sample's
 * `probe_control`, and an unload that removes both.
 *
 * PROBE_FUNCTION marks the functions a finding points at: kept out of line
 * (a user access in the same function as its __try is not caught, see
 * dependency-notes.md) and exported, so the report names them.
 */
#ifndef PROBE_SAMPLE_H
#define PROBE_SAMPLE_H

#include "kemu_sample.h"

#define PROBE_FUNCTION __declspec(dllexport) KEMU_NOINLINE

static PDEVICE_OBJECT g_device;

static NTSTATUS probe_control(PDEVICE_OBJECT device, PIRP irp, PIO_STACK_LOCATION sl);

static NTSTATUS probe_complete(PIRP irp, NTSTATUS status, ULONG_PTR information) {
  irp->IoStatus.Status = status;
  irp->IoStatus.Information = information;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  return status;
}

static NTSTATUS NTAPI probe_create_close(PDEVICE_OBJECT device, PIRP irp) {
  UNREFERENCED_PARAMETER(device);
  return probe_complete(irp, STATUS_SUCCESS, 0);
}

static NTSTATUS NTAPI probe_dispatch_control(PDEVICE_OBJECT device, PIRP irp) {
  return probe_control(device, irp, IoGetCurrentIrpStackLocation(irp));
}

/* A sample defining PROBE_EXTRA sets up and tears down its own state in
   probe_entry_extra (after the device exists) and probe_unload_extra. */
#ifdef PROBE_EXTRA
static NTSTATUS probe_entry_extra(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path);
static void probe_unload_extra(void);
#endif

static VOID NTAPI probe_unload(PDRIVER_OBJECT driver) {
  UNICODE_STRING link;
  UNREFERENCED_PARAMETER(driver);
#ifdef PROBE_EXTRA
  probe_unload_extra();
#endif
  RtlInitUnicodeString(&link, PROBE_LINK_NAME);
  IoDeleteSymbolicLink(&link);
  IoDeleteDevice(g_device);
}

KEMU_DRIVER_ENTRY;

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  UNICODE_STRING name, link;
  NTSTATUS status;
  RtlInitUnicodeString(&name, PROBE_DEVICE_NAME);
  RtlInitUnicodeString(&link, PROBE_LINK_NAME);
  status = IoCreateDevice(DriverObject, 0, &name, FILE_DEVICE_UNKNOWN, FILE_DEVICE_SECURE_OPEN, FALSE, &g_device);
  if (!NT_SUCCESS(status)) return status;
  status = IoCreateSymbolicLink(&link, &name);
  if (!NT_SUCCESS(status)) {
    IoDeleteDevice(g_device);
    return status;
  }
#ifdef PROBE_EXTRA
  status = probe_entry_extra(DriverObject, RegistryPath);
#else
  UNREFERENCED_PARAMETER(RegistryPath);
#endif
  if (!NT_SUCCESS(status)) {
    IoDeleteSymbolicLink(&link);
    IoDeleteDevice(g_device);
    return status;
  }
  DriverObject->MajorFunction[IRP_MJ_CREATE] = probe_create_close;
  DriverObject->MajorFunction[IRP_MJ_CLOSE] = probe_create_close;
  DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = probe_dispatch_control;
  DriverObject->DriverUnload = probe_unload;
  return STATUS_SUCCESS;
}

#endif
