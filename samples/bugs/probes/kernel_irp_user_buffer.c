/*
 * probes_kernel_irp_user_buffer_{bug,fixed}.sys - a KernelMode IRP carrying
 * user addresses.
 *
 * The driver has a second, unnamed device (the "lower" device) that answers
 * internal requests. Two METHOD_NEITHER IOCTLs of the named device ask it:
 * - IOCTL_FORWARD_READ: the bug build builds the internal request with
 *   IoBuildDeviceIoControlRequest over the caller's Irp->UserBuffer. The IRP
 *   it builds has RequestorMode KernelMode, so the lower device (and the I/O
 *   manager's copy-back) trusts that buffer without probing it. The fixed
 *   build reads into pool and copies out after ProbeForWrite, inside __try.
 * - IOCTL_FORWARD_SIZE: the bug build allocates the IRP (IoAllocateIrp) and
 *   puts the caller's pointer in its UserBuffer before IoCallDriver. The
 *   fixed build sends no buffer: the size comes back in IoStatus.Information.
 */
#define PROBE_DEVICE_NAME L"\\Device\\KemuProbeKernelIrp"
#define PROBE_LINK_NAME L"\\??\\KemuProbeKernelIrp"
#define PROBE_EXTRA
#include "probe_sample.h"

#define IOCTL_FORWARD_READ CTL_CODE(0x8000, 0x906, METHOD_NEITHER, FILE_ANY_ACCESS)
#define IOCTL_FORWARD_SIZE CTL_CODE(0x8000, 0x907, METHOD_NEITHER, FILE_ANY_ACCESS)
/* The lower device's internal requests. */
#define IOCTL_LOWER_READ CTL_CODE(0x8000, 0xA00, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_LOWER_SIZE CTL_CODE(0x8000, 0xA01, METHOD_NEITHER, FILE_ANY_ACCESS)
#define LOWER_DATA "lower-v1"
#define LOWER_SIZE 8
#define IRP_TAG 'rIbP'

static PDEVICE_OBJECT g_lower;

/* The lower device: IOCTL_LOWER_READ fills the system buffer, IOCTL_LOWER_SIZE
   answers with the size alone. */
static NTSTATUS NTAPI lower_internal_control(PDEVICE_OBJECT device, PIRP irp) {
  PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(irp);
  UNREFERENCED_PARAMETER(device);
  switch (sl->Parameters.DeviceIoControl.IoControlCode) {
    case IOCTL_LOWER_READ:
      if (sl->Parameters.DeviceIoControl.OutputBufferLength < LOWER_SIZE)
        return probe_complete(irp, STATUS_BUFFER_TOO_SMALL, 0);
      RtlCopyMemory(irp->AssociatedIrp.SystemBuffer, LOWER_DATA, LOWER_SIZE);
      return probe_complete(irp, STATUS_SUCCESS, LOWER_SIZE);
    case IOCTL_LOWER_SIZE:
      return probe_complete(irp, STATUS_SUCCESS, LOWER_SIZE);
    default:
      return probe_complete(irp, STATUS_INVALID_DEVICE_REQUEST, 0);
  }
}

static NTSTATUS probe_entry_extra(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path) {
  UNREFERENCED_PARAMETER(registry_path);
  driver->MajorFunction[IRP_MJ_INTERNAL_DEVICE_CONTROL] = lower_internal_control;
  return IoCreateDevice(driver, 0, NULL, FILE_DEVICE_UNKNOWN, 0, FALSE, &g_lower);
}

static void probe_unload_extra(void) { IoDeleteDevice(g_lower); }

/* IoBuildDeviceIoControlRequest + IoCallDriver, waiting for the answer. */
PROBE_FUNCTION NTSTATUS read_lower(PVOID buffer, ULONG length, ULONG_PTR* information) {
  KEVENT event;
  IO_STATUS_BLOCK iosb;
  PIRP irp;
  NTSTATUS status;
  KeInitializeEvent(&event, NotificationEvent, FALSE);
  irp = IoBuildDeviceIoControlRequest(IOCTL_LOWER_READ, g_lower, NULL, 0, buffer, length, TRUE, &event, &iosb);
  if (!irp) return STATUS_INSUFFICIENT_RESOURCES;
  status = IoCallDriver(g_lower, irp);
  if (status == STATUS_PENDING) {
    KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, NULL);
    status = iosb.Status;
  }
  *information = iosb.Information;
  return status;
}

static NTSTATUS NTAPI size_done(PDEVICE_OBJECT device, PIRP irp, PVOID context) {
  UNREFERENCED_PARAMETER(device);
  UNREFERENCED_PARAMETER(irp);
  KeSetEvent((PKEVENT)context, IO_NO_INCREMENT, FALSE);
  return STATUS_MORE_PROCESSING_REQUIRED;
}

/* IoAllocateIrp + IoCallDriver: the IRP is the driver's own, RequestorMode KernelMode. */
PROBE_FUNCTION NTSTATUS size_lower(PVOID buffer, ULONG length, ULONG_PTR* information) {
  KEVENT event;
  PIO_STACK_LOCATION next;
  NTSTATUS status;
  PIRP irp = IoAllocateIrp(g_lower->StackSize, FALSE);
  if (!irp) return STATUS_INSUFFICIENT_RESOURCES;
  KeInitializeEvent(&event, NotificationEvent, FALSE);
  irp->UserBuffer = buffer;
  next = IoGetNextIrpStackLocation(irp);
  next->MajorFunction = IRP_MJ_INTERNAL_DEVICE_CONTROL;
  next->Parameters.DeviceIoControl.IoControlCode = IOCTL_LOWER_SIZE;
  next->Parameters.DeviceIoControl.OutputBufferLength = length;
  IoSetCompletionRoutine(irp, size_done, &event, TRUE, TRUE, TRUE);
  status = IoCallDriver(g_lower, irp);
  if (status == STATUS_PENDING) KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, NULL);
  status = irp->IoStatus.Status;
  *information = irp->IoStatus.Information;
  IoFreeIrp(irp);
  return status;
}

#ifdef FIXED
PROBE_FUNCTION void copy_out(PVOID out, const VOID* data, ULONG length) {
  ProbeForWrite(out, length, 1);
  RtlCopyMemory(out, data, length);
}
#endif

static NTSTATUS probe_control(PDEVICE_OBJECT device, PIRP irp, PIO_STACK_LOCATION sl) {
  PVOID out = irp->UserBuffer;
  ULONG out_length = sl->Parameters.DeviceIoControl.OutputBufferLength;
  ULONG_PTR information = 0;
  NTSTATUS status;
  UNREFERENCED_PARAMETER(device);
  switch (sl->Parameters.DeviceIoControl.IoControlCode) {
    case IOCTL_FORWARD_READ:
#ifndef FIXED
      status = read_lower(out, out_length, &information);
#else
    {
      PVOID pool = ExAllocatePoolWithTag(NonPagedPool, LOWER_SIZE, IRP_TAG);
      if (!pool) return probe_complete(irp, STATUS_INSUFFICIENT_RESOURCES, 0);
      status = out_length < LOWER_SIZE ? STATUS_BUFFER_TOO_SMALL : read_lower(pool, LOWER_SIZE, &information);
      if (NT_SUCCESS(status)) {
        __try {
          copy_out(out, pool, (ULONG)information);
        } __except (EXCEPTION_EXECUTE_HANDLER) {
          status = GetExceptionCode();
          information = 0;
        }
      }
      ExFreePoolWithTag(pool, IRP_TAG);
    }
#endif
      return probe_complete(irp, status, NT_SUCCESS(status) ? information : 0);
    case IOCTL_FORWARD_SIZE:
#ifndef FIXED
      status = size_lower(out, out_length, &information);
#else
      status = size_lower(NULL, 0, &information);
#endif
      /* The size is the answer (Information); nothing is written. */
      return probe_complete(irp, status, 0);
    default:
      return probe_complete(irp, STATUS_INVALID_DEVICE_REQUEST, 0);
  }
}
