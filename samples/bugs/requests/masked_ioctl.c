/*
 * masked_ioctl: a counter device. Reading the counter needs a handle with
 * read access, resetting it one with write access (the I/O manager checks
 * the access bits of the control code against the handle). Bug: the
 * dispatch switches on the function number alone, (code >> 2) & 0xFFF, so
 * the same function with FILE_ANY_ACCESS, another method or another device
 * type reaches the same handler: a handle opened for reading only resets
 * the counter (checks.md irp.ioctl-code-masked). Fixed: the switch compares
 * the whole control code.
 */
#include "request_driver.h"

#define IOCTL_REQ_READ_COUNTER CTL_CODE(0x8000, 0xC10, METHOD_BUFFERED, FILE_READ_ACCESS)  /* 0x80007040 */
#define IOCTL_REQ_RESET_COUNTER CTL_CODE(0x8000, 0xC11, METHOD_BUFFERED, FILE_WRITE_ACCESS) /* 0x8000B044 */

#ifdef KEMU_FIXED
#define REQ_SELECT(code) (code)
#else
/* Bug: only the function number is compared. */
#define REQ_SELECT(code) (((code) >> 2) & 0xFFF)
#endif

static LONG g_counter;

__declspec(dllexport) NTSTATUS NTAPI DispatchDeviceControl(PDEVICE_OBJECT device, PIRP irp) {
  PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(irp);
  ULONG code = sp->Parameters.DeviceIoControl.IoControlCode;
  NTSTATUS status = STATUS_INVALID_DEVICE_REQUEST;
  ULONG_PTR information = 0;
  UNREFERENCED_PARAMETER(device);
  switch (REQ_SELECT(code)) {
    case REQ_SELECT(IOCTL_REQ_READ_COUNTER):
      if (sp->Parameters.DeviceIoControl.OutputBufferLength < sizeof(LONG)) {
        status = STATUS_BUFFER_TOO_SMALL;
        break;
      }
      *(LONG *)irp->AssociatedIrp.SystemBuffer = InterlockedIncrement(&g_counter);
      information = sizeof(LONG);
      status = STATUS_SUCCESS;
      break;
    case REQ_SELECT(IOCTL_REQ_RESET_COUNTER):
      InterlockedExchange(&g_counter, 0);
      status = STATUS_SUCCESS;
      break;
    default:
      break;
  }
  return req_complete(irp, status, information);
}

static NTSTATUS NTAPI DispatchCreateClose(PDEVICE_OBJECT device, PIRP irp) {
  UNREFERENCED_PARAMETER(device);
  return req_complete(irp, STATUS_SUCCESS, 0);
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path) {
  PDEVICE_OBJECT device;
  NTSTATUS status = req_create_device(driver, FILE_DEVICE_SECURE_OPEN, &device);
  UNREFERENCED_PARAMETER(registry_path);
  if (!NT_SUCCESS(status)) return status;
  driver->MajorFunction[IRP_MJ_CREATE] = DispatchCreateClose;
  driver->MajorFunction[IRP_MJ_CLOSE] = DispatchCreateClose;
  driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = DispatchDeviceControl;
  driver->DriverUnload = ReqUnload;
  return STATUS_SUCCESS;
}
