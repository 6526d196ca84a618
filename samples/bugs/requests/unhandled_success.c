/*
 * unhandled_success: a settings device with two IOCTLs. Bug: the IOCTL
 * switch's default case keeps the STATUS_SUCCESS the routine started with,
 * and the routine the driver installs for every other major function
 * ("nothing to do here") completes them with success too: a caller's unknown
 * control code or a directory query "succeeds" with nothing done and its
 * output buffer untouched (checks.md irp.unhandled-success). Fixed: both
 * fail with STATUS_INVALID_DEVICE_REQUEST and Information 0.
 */
#include "request_driver.h"

#define IOCTL_REQ_GET_LEVEL CTL_CODE(0x8000, 0xC00, METHOD_BUFFERED, FILE_ANY_ACCESS) /* 0x80003000 */
#define IOCTL_REQ_SET_LEVEL CTL_CODE(0x8000, 0xC01, METHOD_BUFFERED, FILE_WRITE_ACCESS) /* 0x8000B004 */

static ULONG g_level = 3;

__declspec(dllexport) NTSTATUS NTAPI DispatchDeviceControl(PDEVICE_OBJECT device, PIRP irp) {
  PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(irp);
  ULONG in_length = sp->Parameters.DeviceIoControl.InputBufferLength;
  ULONG out_length = sp->Parameters.DeviceIoControl.OutputBufferLength;
  NTSTATUS status = STATUS_SUCCESS;
  ULONG_PTR information = 0;
  UNREFERENCED_PARAMETER(device);
  switch (sp->Parameters.DeviceIoControl.IoControlCode) {
    case IOCTL_REQ_GET_LEVEL:
      if (out_length < sizeof(ULONG)) {
        status = STATUS_BUFFER_TOO_SMALL;
        break;
      }
      *(ULONG *)irp->AssociatedIrp.SystemBuffer = g_level;
      information = sizeof(ULONG);
      break;
    case IOCTL_REQ_SET_LEVEL:
      if (in_length < sizeof(ULONG)) {
        status = STATUS_INVALID_PARAMETER;
        break;
      }
      g_level = *(ULONG *)irp->AssociatedIrp.SystemBuffer;
      break;
    default:
#ifdef KEMU_FIXED
      status = STATUS_INVALID_DEVICE_REQUEST;
#endif
      /* Bug: nothing matched, and the caller is told it worked. */
      break;
  }
  return req_complete(irp, status, information);
}

/* Every major function the driver has no routine for. */
__declspec(dllexport) NTSTATUS NTAPI DispatchOther(PDEVICE_OBJECT device, PIRP irp) {
  UNREFERENCED_PARAMETER(device);
#ifdef KEMU_FIXED
  return req_complete(irp, STATUS_INVALID_DEVICE_REQUEST, 0);
#else
  return req_complete(irp, STATUS_SUCCESS, 0);
#endif
}

static NTSTATUS NTAPI DispatchCreateClose(PDEVICE_OBJECT device, PIRP irp) {
  UNREFERENCED_PARAMETER(device);
  return req_complete(irp, STATUS_SUCCESS, 0);
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path) {
  PDEVICE_OBJECT device;
  ULONG i;
  NTSTATUS status = req_create_device(driver, FILE_DEVICE_SECURE_OPEN, &device);
  UNREFERENCED_PARAMETER(registry_path);
  if (!NT_SUCCESS(status)) return status;
  for (i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; ++i) driver->MajorFunction[i] = DispatchOther;
  driver->MajorFunction[IRP_MJ_CREATE] = DispatchCreateClose;
  driver->MajorFunction[IRP_MJ_CLEANUP] = DispatchCreateClose;
  driver->MajorFunction[IRP_MJ_CLOSE] = DispatchCreateClose;
  driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = DispatchDeviceControl;
  driver->DriverUnload = ReqUnload;
  return STATUS_SUCCESS;
}
