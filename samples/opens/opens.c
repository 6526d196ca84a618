/*
 * opens.sys - what a driver sees when a user-mode client opens and closes
 * its device: IRP_MJ_CREATE with the FILE_OBJECT and the name after the
 * device, RequestorMode and ExGetPreviousMode UserMode, the client process
 * current; then IRP_MJ_CLEANUP (last handle) and IRP_MJ_CLOSE (last reference).
 */
#include "kemu_sample.h"

KEMU_DRIVER_ENTRY;

static PDEVICE_OBJECT g_device;

static const char* major_name(UCHAR major) {
  switch (major) {
    case IRP_MJ_CREATE: return "create";
    case IRP_MJ_CLEANUP: return "cleanup";
    case IRP_MJ_CLOSE: return "close";
    default: return "other";
  }
}

static NTSTATUS NTAPI DispatchOpenClose(PDEVICE_OBJECT device, PIRP irp) {
  PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(irp);
  UNREFERENCED_PARAMETER(device);
  DbgPrint("opens: %s file=%s name='%wZ' requestor=%d previous=%d client=%d sync=%d\n",
           major_name(sl->MajorFunction), sl->FileObject ? "yes" : "no",
           sl->FileObject ? &sl->FileObject->FileName : NULL, irp->RequestorMode, ExGetPreviousMode(),
           IoGetCurrentProcess() != PsInitialSystemProcess,
           sl->FileObject ? (sl->FileObject->Flags & FO_SYNCHRONOUS_IO) != 0 : 0);
  irp->IoStatus.Status = STATUS_SUCCESS;
  irp->IoStatus.Information = 0;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  return STATUS_SUCCESS;
}

static VOID NTAPI Unload(PDRIVER_OBJECT driver) {
  UNICODE_STRING link;
  UNREFERENCED_PARAMETER(driver);
  RtlInitUnicodeString(&link, L"\\??\\KemuOpens");
  IoDeleteSymbolicLink(&link);
  IoDeleteDevice(g_device);
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  UNICODE_STRING name, link;
  NTSTATUS status;
  UNREFERENCED_PARAMETER(RegistryPath);
  RtlInitUnicodeString(&name, L"\\Device\\KemuOpens");
  RtlInitUnicodeString(&link, L"\\??\\KemuOpens");
  status = IoCreateDevice(DriverObject, 0, &name, FILE_DEVICE_UNKNOWN, FILE_DEVICE_SECURE_OPEN, FALSE, &g_device);
  if (!NT_SUCCESS(status)) return status;
  status = IoCreateSymbolicLink(&link, &name);
  if (!NT_SUCCESS(status)) {
    IoDeleteDevice(g_device);
    return status;
  }
  DriverObject->MajorFunction[IRP_MJ_CREATE] = DispatchOpenClose;
  DriverObject->MajorFunction[IRP_MJ_CLEANUP] = DispatchOpenClose;
  DriverObject->MajorFunction[IRP_MJ_CLOSE] = DispatchOpenClose;
  DriverObject->DriverUnload = Unload;
  return STATUS_SUCCESS;
}
