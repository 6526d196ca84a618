/*
 * insecure_open: a control device meant for administrators only: its
 * descriptor grants GENERIC_ALL to SYSTEM and Administrators and nothing to
 * anyone else (what IoCreateDeviceSecure with SDDL_DEVOBJ_SYS_ALL_ADM_ALL
 * gives; applied here with ObSetSecurityObjectByPointer, as wdmsec does).
 * Bug: the device is created without FILE_DEVICE_SECURE_OPEN and
 * IRP_MJ_CREATE accepts any name below the device: the I/O manager checks
 * the descriptor only for an open of \Device\KemuReq itself, so a standard
 * user opening \Device\KemuReq\anything gets a handle with the access it
 * asked for (checks.md irp.insecure-open). Fixed: FILE_DEVICE_SECURE_OPEN.
 */
#include "request_driver.h"

NTKERNELAPI NTSTATUS NTAPI ObSetSecurityObjectByPointer(PVOID Object, SECURITY_INFORMATION SecurityInformation,
                                                        PSECURITY_DESCRIPTOR SecurityDescriptor);

#define IOCTL_REQ_SET_POLICY CTL_CODE(0x8000, 0xC30, METHOD_BUFFERED, FILE_WRITE_ACCESS) /* 0x8000B0C0 */

static ULONG g_policy;

/* SYSTEM and Administrators: GENERIC_ALL; nobody else. */
static NTSTATUS apply_admin_only_descriptor(PDEVICE_OBJECT device) {
  SECURITY_DESCRIPTOR sd;
  PACL dacl;
  ULONG acl_length = sizeof(ACL) + 2 * (sizeof(ACCESS_ALLOWED_ACE) - sizeof(ULONG)) +
                     RtlLengthSid(SeExports->SeLocalSystemSid) + RtlLengthSid(SeExports->SeAliasAdminsSid);
  NTSTATUS status = RtlCreateSecurityDescriptor(&sd, SECURITY_DESCRIPTOR_REVISION);
  if (!NT_SUCCESS(status)) return status;
  dacl = ExAllocatePoolWithTag(PagedPool, acl_length, REQ_TAG);
  if (!dacl) return STATUS_INSUFFICIENT_RESOURCES;
  status = RtlCreateAcl(dacl, acl_length, ACL_REVISION);
  if (NT_SUCCESS(status)) status = RtlAddAccessAllowedAce(dacl, ACL_REVISION, GENERIC_ALL, SeExports->SeLocalSystemSid);
  if (NT_SUCCESS(status)) status = RtlAddAccessAllowedAce(dacl, ACL_REVISION, GENERIC_ALL, SeExports->SeAliasAdminsSid);
  if (NT_SUCCESS(status)) status = RtlSetDaclSecurityDescriptor(&sd, TRUE, dacl, FALSE);
  if (NT_SUCCESS(status)) status = ObSetSecurityObjectByPointer(device, DACL_SECURITY_INFORMATION, &sd);
  ExFreePoolWithTag(dacl, REQ_TAG);
  return status;
}

/* Creates the administrators' control device. */
REQ_ROUTINE NTSTATUS CreateControlDevice(PDRIVER_OBJECT driver, PDEVICE_OBJECT *device) {
#ifdef KEMU_FIXED
  ULONG characteristics = FILE_DEVICE_SECURE_OPEN;
#else
  /* Bug: without FILE_DEVICE_SECURE_OPEN the descriptor guards \Device\KemuReq only. */
  ULONG characteristics = 0;
#endif
  NTSTATUS status = req_create_device(driver, characteristics, device);
  if (!NT_SUCCESS(status)) return status;
  status = apply_admin_only_descriptor(*device);
  if (!NT_SUCCESS(status)) {
    UNICODE_STRING link;
    RtlInitUnicodeString(&link, REQ_LINK_NAME);
    IoDeleteSymbolicLink(&link);
    IoDeleteDevice(*device);
  }
  return status;
}

static NTSTATUS NTAPI DispatchCreateClose(PDEVICE_OBJECT device, PIRP irp) {
  UNREFERENCED_PARAMETER(device);
  return req_complete(irp, STATUS_SUCCESS, 0);
}

static NTSTATUS NTAPI DispatchDeviceControl(PDEVICE_OBJECT device, PIRP irp) {
  PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(irp);
  UNREFERENCED_PARAMETER(device);
  if (sp->Parameters.DeviceIoControl.IoControlCode != IOCTL_REQ_SET_POLICY)
    return req_complete(irp, STATUS_INVALID_DEVICE_REQUEST, 0);
  if (sp->Parameters.DeviceIoControl.InputBufferLength < sizeof(ULONG))
    return req_complete(irp, STATUS_INVALID_PARAMETER, 0);
  g_policy = *(ULONG *)irp->AssociatedIrp.SystemBuffer;
  return req_complete(irp, STATUS_SUCCESS, 0);
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path) {
  PDEVICE_OBJECT device;
  NTSTATUS status = CreateControlDevice(driver, &device);
  UNREFERENCED_PARAMETER(registry_path);
  if (!NT_SUCCESS(status)) return status;
  driver->MajorFunction[IRP_MJ_CREATE] = DispatchCreateClose;
  driver->MajorFunction[IRP_MJ_CLOSE] = DispatchCreateClose;
  driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = DispatchDeviceControl;
  driver->DriverUnload = ReqUnload;
  return STATUS_SUCCESS;
}
