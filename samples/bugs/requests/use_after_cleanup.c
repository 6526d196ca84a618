/*
 * use_after_cleanup: a session device keeping per-open state in
 * FileObject->FsContext (allocated in IRP_MJ_CREATE, used by every IOCTL).
 * Bug: the state is freed in IRP_MJ_CLEANUP. CLEANUP means the last handle
 * is closed, not that the file object is gone: a request that referenced
 * the file object before the close (another thread's DeviceIoControl in
 * flight, a filter's request) still reaches the driver until IRP_MJ_CLOSE,
 * and uses the freed block (checks.md irp.use-after-cleanup). Fixed: CLEANUP
 * only marks the session closed; CLOSE frees the state.
 */
#include "request_driver.h"

#define IOCTL_REQ_SESSION_ADD CTL_CODE(0x8000, 0xC20, METHOD_BUFFERED, FILE_ANY_ACCESS) /* 0x80003080 */

typedef struct SESSION {
  ULONG requests;
  ULONG total;
  BOOLEAN closing;
} SESSION;

static NTSTATUS NTAPI DispatchCreate(PDEVICE_OBJECT device, PIRP irp) {
  PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(irp);
  SESSION *session = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof(SESSION), REQ_TAG);
  UNREFERENCED_PARAMETER(device);
  if (!session) return req_complete(irp, STATUS_INSUFFICIENT_RESOURCES, 0);
  RtlZeroMemory(session, sizeof(SESSION));
  sp->FileObject->FsContext = session;
  return req_complete(irp, STATUS_SUCCESS, 0);
}

__declspec(dllexport) NTSTATUS NTAPI DispatchCleanup(PDEVICE_OBJECT device, PIRP irp) {
  PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(irp);
  SESSION *session = sp->FileObject->FsContext;
  UNREFERENCED_PARAMETER(device);
#ifdef KEMU_FIXED
  session->closing = TRUE;
#else
  /* Bug: the last handle is gone, but the file object is not. */
  ExFreePoolWithTag(session, REQ_TAG);
#endif
  return req_complete(irp, STATUS_SUCCESS, 0);
}

static NTSTATUS NTAPI DispatchClose(PDEVICE_OBJECT device, PIRP irp) {
  UNREFERENCED_PARAMETER(device);
#ifdef KEMU_FIXED
  ExFreePoolWithTag(IoGetCurrentIrpStackLocation(irp)->FileObject->FsContext, REQ_TAG);
#endif
  return req_complete(irp, STATUS_SUCCESS, 0);
}

/* Adds the caller's value to the session's total and returns the total. */
REQ_ROUTINE NTSTATUS SessionAdd(SESSION *session, PIRP irp, PIO_STACK_LOCATION sp, ULONG_PTR *information) {
  ULONG *buffer = irp->AssociatedIrp.SystemBuffer;
  if (sp->Parameters.DeviceIoControl.InputBufferLength < sizeof(ULONG) ||
      sp->Parameters.DeviceIoControl.OutputBufferLength < sizeof(ULONG))
    return STATUS_BUFFER_TOO_SMALL;
  session->requests++;
  session->total += buffer[0];
  buffer[0] = session->total;
  *information = sizeof(ULONG);
  return STATUS_SUCCESS;
}

__declspec(dllexport) NTSTATUS NTAPI DispatchDeviceControl(PDEVICE_OBJECT device, PIRP irp) {
  PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(irp);
  SESSION *session = sp->FileObject->FsContext;
  ULONG_PTR information = 0;
  NTSTATUS status;
  UNREFERENCED_PARAMETER(device);
#ifdef KEMU_FIXED
  if (session->closing) return req_complete(irp, STATUS_DELETE_PENDING, 0);
#endif
  if (sp->Parameters.DeviceIoControl.IoControlCode == IOCTL_REQ_SESSION_ADD)
    status = SessionAdd(session, irp, sp, &information);
  else
    status = STATUS_INVALID_DEVICE_REQUEST;
  return req_complete(irp, status, information);
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path) {
  PDEVICE_OBJECT device;
  NTSTATUS status = req_create_device(driver, FILE_DEVICE_SECURE_OPEN, &device);
  UNREFERENCED_PARAMETER(registry_path);
  if (!NT_SUCCESS(status)) return status;
  driver->MajorFunction[IRP_MJ_CREATE] = DispatchCreate;
  driver->MajorFunction[IRP_MJ_CLEANUP] = DispatchCleanup;
  driver->MajorFunction[IRP_MJ_CLOSE] = DispatchClose;
  driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = DispatchDeviceControl;
  driver->DriverUnload = ReqUnload;
  return STATUS_SUCCESS;
}
