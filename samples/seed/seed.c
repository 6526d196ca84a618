/*
 * seed.sys - the object manager's seed scenario: a client sends a handle to
 * a file it opened, and the driver uses it the right way. The driver
 * references the caller's handle with Irp->RequestorMode and the File type
 * (so an event handle is STATUS_OBJECT_TYPE_MISMATCH and a read-only handle
 * STATUS_ACCESS_DENIED), then turns the checked reference into a kernel
 * handle with ObOpenObjectByPointer(OBJ_KERNEL_HANDLE) and appends with
 * ZwWriteFile at the file object's current position, which the client's own
 * handle shares.
 */
#include "kemu_sample.h"
#include <ntifs.h>

KEMU_DRIVER_ENTRY;

#define SEED_TYPE 0x8000
#define IOCTL_REFERENCE_FILE CTL_CODE(SEED_TYPE, 0xA00, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_APPEND_THROUGH_KERNEL_HANDLE CTL_CODE(SEED_TYPE, 0xA01, METHOD_BUFFERED, FILE_ANY_ACCESS)

typedef struct {
  ULONG64 handle; /* the client's file handle */
  UCHAR data[56]; /* IOCTL_APPEND_THROUGH_KERNEL_HANDLE: bytes to append (the rest of the input) */
} SEED_REQUEST;

static NTSTATUS complete(PIRP irp, NTSTATUS status, ULONG_PTR information) {
  irp->IoStatus.Status = status;
  irp->IoStatus.Information = information;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  return status;
}

/* The caller's handle, checked as the caller: its previous mode, the File
 * type, and the access the driver is about to use. */
static NTSTATUS reference_callers_file(PIRP irp, HANDLE handle, PFILE_OBJECT *file) {
  return ObReferenceObjectByHandle(handle, FILE_WRITE_DATA, *IoFileObjectType, irp->RequestorMode, (PVOID *)file,
                                   NULL);
}

static NTSTATUS NTAPI DispatchCreateClose(PDEVICE_OBJECT device, PIRP irp) {
  UNREFERENCED_PARAMETER(device);
  return complete(irp, STATUS_SUCCESS, 0);
}

static NTSTATUS NTAPI DispatchIoctl(PDEVICE_OBJECT device, PIRP irp) {
  PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(irp);
  ULONG in_len = sp->Parameters.DeviceIoControl.InputBufferLength;
  SEED_REQUEST *rq = (SEED_REQUEST *)irp->AssociatedIrp.SystemBuffer;
  PFILE_OBJECT file = NULL;
  HANDLE kernel_handle = NULL;
  IO_STATUS_BLOCK iosb;
  NTSTATUS st;
  UNREFERENCED_PARAMETER(device);
  if (in_len < sizeof(ULONG64)) return complete(irp, STATUS_INVALID_PARAMETER, 0);
  st = reference_callers_file(irp, (HANDLE)(ULONG_PTR)rq->handle, &file);
  DbgPrint("seed: reference of handle %p: %08x\n", (PVOID)(ULONG_PTR)rq->handle, st);
  if (!NT_SUCCESS(st)) return complete(irp, st, 0);
  if (sp->Parameters.DeviceIoControl.IoControlCode == IOCTL_REFERENCE_FILE) {
    ObDereferenceObject(file);
    return complete(irp, STATUS_SUCCESS, 0);
  }
  if (sp->Parameters.DeviceIoControl.IoControlCode != IOCTL_APPEND_THROUGH_KERNEL_HANDLE) {
    ObDereferenceObject(file);
    return complete(irp, STATUS_INVALID_DEVICE_REQUEST, 0);
  }
  /* A kernel handle the client cannot see or close, for the Zw call. */
  st = ObOpenObjectByPointer(file, OBJ_KERNEL_HANDLE, NULL, FILE_WRITE_DATA, *IoFileObjectType, KernelMode,
                             &kernel_handle);
  ObDereferenceObject(file);
  if (!NT_SUCCESS(st)) return complete(irp, st, 0);
  /* No ByteOffset: a synchronous file object writes at its current position. */
  st = ZwWriteFile(kernel_handle, NULL, NULL, NULL, &iosb, rq->data, in_len - sizeof(ULONG64), NULL, NULL);
  ZwClose(kernel_handle);
  /* Information counts output bytes, and this request has no output buffer:
   * the number of bytes appended is not the caller's to receive. */
  return complete(irp, st, 0);
}

static VOID NTAPI DriverUnload(PDRIVER_OBJECT driver) {
  UNICODE_STRING link;
  RtlInitUnicodeString(&link, L"\\??\\KemuSeed");
  IoDeleteSymbolicLink(&link);
  IoDeleteDevice(driver->DeviceObject);
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path) {
  UNICODE_STRING name, link;
  PDEVICE_OBJECT device;
  NTSTATUS st;
  UNREFERENCED_PARAMETER(registry_path);
  RtlInitUnicodeString(&name, L"\\Device\\KemuSeed");
  st = IoCreateDevice(driver, 0, &name, FILE_DEVICE_UNKNOWN, FILE_DEVICE_SECURE_OPEN, FALSE, &device);
  if (!NT_SUCCESS(st)) return st;
  RtlInitUnicodeString(&link, L"\\??\\KemuSeed");
  st = IoCreateSymbolicLink(&link, &name);
  if (!NT_SUCCESS(st)) {
    IoDeleteDevice(device);
    return st;
  }
  driver->MajorFunction[IRP_MJ_CREATE] = DispatchCreateClose;
  driver->MajorFunction[IRP_MJ_CLOSE] = DispatchCreateClose;
  driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = DispatchIoctl;
  driver->DriverUnload = DriverUnload;
  return STATUS_SUCCESS;
}
