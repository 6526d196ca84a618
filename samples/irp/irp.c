/*
 * irp.sys - IRPs a driver sends to its own device: a threaded METHOD_BUFFERED
 * request built by IoBuildDeviceIoControlRequest (copy-back of Information
 * bytes, the caller's event and IO_STATUS_BLOCK), an IRP from IoAllocateIrp
 * with a completion routine returning STATUS_MORE_PROCESSING_REQUIRED, a
 * request the default dispatch routine refuses, and a request the driver
 * pends and completes later from a work item.
 */
#include "kemu_sample.h"

KEMU_DRIVER_ENTRY;

#define IOCTL_ECHO_UPPER CTL_CODE(0x8000, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_PEND CTL_CODE(0x8000, 0x801, METHOD_BUFFERED, FILE_ANY_ACCESS)

static PIO_WORKITEM g_work;
static PIRP g_pended;

static VOID NTAPI CompleteLater(PDEVICE_OBJECT device, PVOID context) {
  UNREFERENCED_PARAMETER(device);
  UNREFERENCED_PARAMETER(context);
  g_pended->IoStatus.Status = STATUS_SUCCESS;
  g_pended->IoStatus.Information = 0;
  DbgPrint("irp: work item completes the pended IRP\n");
  IoCompleteRequest(g_pended, IO_NO_INCREMENT);
}

static NTSTATUS NTAPI DispatchControl(PDEVICE_OBJECT device, PIRP irp) {
  PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(irp);
  ULONG code = sl->Parameters.DeviceIoControl.IoControlCode;
  NTSTATUS status = STATUS_INVALID_DEVICE_REQUEST;
  ULONG_PTR info = 0;
  UNREFERENCED_PARAMETER(device);
  if (code == IOCTL_ECHO_UPPER) {
    char* buffer = irp->AssociatedIrp.SystemBuffer;
    ULONG n = sl->Parameters.DeviceIoControl.InputBufferLength;
    ULONG i;
    if (n > sl->Parameters.DeviceIoControl.OutputBufferLength) n = sl->Parameters.DeviceIoControl.OutputBufferLength;
    for (i = 0; i < n; ++i)
      if (buffer[i] >= 'a' && buffer[i] <= 'z') buffer[i] -= 32;
    status = STATUS_SUCCESS;
    info = n;
  } else if (code == IOCTL_PEND) {
    IoMarkIrpPending(irp);
    g_pended = irp;
    IoQueueWorkItem(g_work, CompleteLater, DelayedWorkQueue, NULL);
    return STATUS_PENDING;
  }
  irp->IoStatus.Status = status;
  irp->IoStatus.Information = info;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  return status;
}

static NTSTATUS NTAPI OnComplete(PDEVICE_OBJECT device, PIRP irp, PVOID context) {
  UNREFERENCED_PARAMETER(device);
  DbgPrint("irp: completion routine sees 0x%08x\n", irp->IoStatus.Status);
  KeSetEvent((PKEVENT)context, IO_NO_INCREMENT, FALSE);
  return STATUS_MORE_PROCESSING_REQUIRED;
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  PDEVICE_OBJECT device;
  KEVENT event;
  IO_STATUS_BLOCK iosb;
  char out[16] = {0};
  PIRP irp;
  NTSTATUS status;
  PIO_STACK_LOCATION next;
  UNREFERENCED_PARAMETER(RegistryPath);

  DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = DispatchControl;
  status = IoCreateDevice(DriverObject, 0, NULL, FILE_DEVICE_UNKNOWN, 0, FALSE, &device);
  if (!NT_SUCCESS(status)) return status;
  g_work = IoAllocateWorkItem(device);

  /* 1. A threaded request: the I/O manager copies Information bytes back. */
  KeInitializeEvent(&event, NotificationEvent, FALSE);
  irp = IoBuildDeviceIoControlRequest(IOCTL_ECHO_UPPER, device, "hello", 5, out, sizeof(out), FALSE, &event, &iosb);
  status = IoCallDriver(device, irp);
  if (status == STATUS_PENDING) KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, NULL);
  DbgPrint("irp: echo status 0x%08x information %d output %s\n", iosb.Status, (int)iosb.Information, out);

  /* 2. An IRP the driver owns, refused by the default dispatch routine. */
  KeInitializeEvent(&event, NotificationEvent, FALSE);
  irp = IoAllocateIrp(device->StackSize, FALSE);
  next = IoGetNextIrpStackLocation(irp);
  next->MajorFunction = IRP_MJ_INTERNAL_DEVICE_CONTROL;
  IoSetCompletionRoutine(irp, OnComplete, &event, TRUE, TRUE, TRUE);
  status = IoCallDriver(device, irp);
  KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, NULL);
  DbgPrint("irp: default dispatch returned 0x%08x\n", status);
  IoFreeIrp(irp);

  /* 3. A request the driver pends and completes from a work item. */
  KeInitializeEvent(&event, NotificationEvent, FALSE);
  irp = IoBuildDeviceIoControlRequest(IOCTL_PEND, device, NULL, 0, NULL, 0, FALSE, &event, &iosb);
  status = IoCallDriver(device, irp);
  DbgPrint("irp: pend returned 0x%08x\n", status);
  if (status == STATUS_PENDING) KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, NULL);
  DbgPrint("irp: pended request finished with 0x%08x\n", iosb.Status);

  IoFreeWorkItem(g_work);
  IoDeleteDevice(device);
  return STATUS_SUCCESS;
}
