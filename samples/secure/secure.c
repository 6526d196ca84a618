/*
 * secure.sys - device security: four devices whose opens the I/O manager
 * checks differently, and a small create_device_secure doing what wdmsec's
 * IoCreateDeviceSecure does (mingw-w64 ships no wdmsec library):
 *
 *   \Device\KemuSecDefault        IoCreateDevice's default descriptor, no FILE_DEVICE_SECURE_OPEN
 *   \Device\KemuSecDefaultSecure  the default descriptor with FILE_DEVICE_SECURE_OPEN
 *   \Device\KemuSecAdminSecure    "D:P(A;;GA;;;SY)(A;;GA;;;BA)" with FILE_DEVICE_SECURE_OPEN,
 *                                 applied by ObOpenObjectByPointer + ZwSetSecurityObject + ZwClose
 *   \Device\KemuSecAdmin          the same descriptor without FILE_DEVICE_SECURE_OPEN,
 *                                 applied by SeCaptureSecurityDescriptor +
 * ObSetSecurityObjectByPointer
 *
 * IRP_MJ_CREATE counts opens per device and records the FileName and the
 * access the I/O manager granted; IOCTLs report them, report the caller's
 * token (SeQueryInformationToken, SeTokenIsAdmin, SeSinglePrivilegeCheck,
 * SeAccessCheck) and return a device's DACL (ZwQuerySecurityObject).
 */
#include "kemu_sample.h"

#include <ntifs.h>

KEMU_DRIVER_ENTRY;

/* Routines and data mingw-w64's headers do not declare. */
NTKERNELAPI NTSTATUS NTAPI ObSetSecurityObjectByPointer(PVOID Object,
                                                        SECURITY_INFORMATION SecurityInformation,
                                                        PSECURITY_DESCRIPTOR SecurityDescriptor);
NTKERNELAPI NTSTATUS NTAPI SeCaptureSecurityDescriptor(
    PSECURITY_DESCRIPTOR InputSecurityDescriptor, KPROCESSOR_MODE RequestorMode, POOL_TYPE PoolType,
    BOOLEAN ForceCapture, PSECURITY_DESCRIPTOR* OutputSecurityDescriptor);
NTKERNELAPI VOID NTAPI SeReleaseSecurityDescriptor(PSECURITY_DESCRIPTOR CapturedSecurityDescriptor,
                                                   KPROCESSOR_MODE RequestorMode,
                                                   BOOLEAN ForceCapture);
extern __declspec(dllimport) POBJECT_TYPE* IoDeviceObjectType;

#define SEC_TYPE 0x8001
/* Per-device create counters and what the last create saw. */
#define IOCTL_SEC_INFO CTL_CODE(SEC_TYPE, 0x900, METHOD_BUFFERED, FILE_ANY_ACCESS)
/* Succeeds only through a handle with FILE_WRITE_DATA (the I/O manager checks). */
#define IOCTL_SEC_WRITE CTL_CODE(SEC_TYPE, 0x901, METHOD_BUFFERED, FILE_WRITE_ACCESS)
/* The caller's token as the driver sees it. */
#define IOCTL_SEC_WHOAMI CTL_CODE(SEC_TYPE, 0x902, METHOD_BUFFERED, FILE_ANY_ACCESS)
/* The device's DACL, self-relative, from ZwQuerySecurityObject. */
#define IOCTL_SEC_QUERY_DACL CTL_CODE(SEC_TYPE, 0x903, METHOD_BUFFERED, FILE_ANY_ACCESS)

#define DEVICE_COUNT 4
#define TAG 'ceSK'

typedef struct {
  ULONG index;
  ULONG creates;
  ULONG last_desired; /* SecurityContext->DesiredAccess */
  ULONG last_granted; /* SecurityContext->AccessState->PreviouslyGrantedAccess */
  USHORT name_length; /* bytes */
  WCHAR name[32];     /* the last FileName (the part after the device name) */
} DEVICE_STATE;

typedef struct {
  ULONG creates[DEVICE_COUNT];
  ULONG index; /* the device the IOCTL was sent to */
  ULONG last_desired;
  ULONG last_granted;
  ULONG name_length;
  WCHAR name[32];
} SEC_INFO;

typedef struct {
  ULONG is_admin;      /* SeTokenIsAdmin */
  ULONG change_notify; /* SeSinglePrivilegeCheck(SeChangeNotifyPrivilege, UserMode) */
  ULONG debug;         /* SeSinglePrivilegeCheck(SeDebugPrivilege, UserMode) */
  ULONG check_ok;      /* SeAccessCheck(device descriptor, MAXIMUM_ALLOWED, UserMode) */
  ULONG check_granted;
  ULONG check_status;
  ULONG sid_length; /* bytes */
  WCHAR sid[64];    /* RtlConvertSidToUnicodeString of TokenUser */
} SEC_WHOAMI;

static PDEVICE_OBJECT g_devices[DEVICE_COUNT];
static const WCHAR* const g_names[DEVICE_COUNT] = {
    L"\\Device\\KemuSecDefault", L"\\Device\\KemuSecDefaultSecure", L"\\Device\\KemuSecAdminSecure",
    L"\\Device\\KemuSecAdmin"};
static const WCHAR* const g_links[DEVICE_COUNT] = {
    L"\\??\\KemuSecDefault", L"\\??\\KemuSecDefaultSecure", L"\\??\\KemuSecAdminSecure",
    L"\\??\\KemuSecAdmin"};
/* The File type's GENERIC_MAPPING (what IoGetFileObjectGenericMapping returns). */
static GENERIC_MAPPING g_file_mapping = {FILE_GENERIC_READ, FILE_GENERIC_WRITE,
                                         FILE_GENERIC_EXECUTE, FILE_ALL_ACCESS};

static NTSTATUS complete(PIRP irp, NTSTATUS status, ULONG_PTR information) {
  irp->IoStatus.Status = status;
  irp->IoStatus.Information = information;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  return status;
}

/*
 * The self-relative descriptor for "D:P(A;;GA;;;SY)(A;;GA;;;BA)", built as
 * wdmsec builds one: an absolute descriptor and a DACL with one
 * GENERIC_ALL ACE each for SYSTEM and Administrators (the SIDs SeExports
 * points at), then RtlAbsoluteToSelfRelativeSD into paged pool.
 */
static NTSTATUS build_admin_only_descriptor(PSECURITY_DESCRIPTOR* out) {
  SECURITY_DESCRIPTOR absolute;
  PACL dacl;
  ULONG acl_length, length = 0;
  PSECURITY_DESCRIPTOR relative;
  NTSTATUS status;
  *out = NULL;
  status = RtlCreateSecurityDescriptor(&absolute, SECURITY_DESCRIPTOR_REVISION);
  if (!NT_SUCCESS(status)) return status;
  acl_length = sizeof(ACL) + 2 * (sizeof(ACCESS_ALLOWED_ACE) - sizeof(ULONG)) +
               RtlLengthSid(SeExports->SeLocalSystemSid) +
               RtlLengthSid(SeExports->SeAliasAdminsSid);
  dacl = ExAllocatePoolWithTag(PagedPool, acl_length, TAG);
  if (!dacl) return STATUS_INSUFFICIENT_RESOURCES;
  status = RtlCreateAcl(dacl, acl_length, ACL_REVISION);
  if (NT_SUCCESS(status))
    status = RtlAddAccessAllowedAce(dacl, ACL_REVISION, GENERIC_ALL, SeExports->SeLocalSystemSid);
  if (NT_SUCCESS(status))
    status = RtlAddAccessAllowedAce(dacl, ACL_REVISION, GENERIC_ALL, SeExports->SeAliasAdminsSid);
  if (NT_SUCCESS(status)) status = RtlSetDaclSecurityDescriptor(&absolute, TRUE, dacl, FALSE);
  if (NT_SUCCESS(status)) {
    /* The first call asks for the length. */
    status = RtlAbsoluteToSelfRelativeSD(&absolute, NULL, &length);
    if (status == STATUS_BUFFER_TOO_SMALL) {
      relative = ExAllocatePoolWithTag(PagedPool, length, TAG);
      status = relative ? RtlAbsoluteToSelfRelativeSD(&absolute, relative, &length)
                        : STATUS_INSUFFICIENT_RESOURCES;
      if (NT_SUCCESS(status)) {
        KEMU_PRINT("secure: descriptor length=%lu valid=%d", RtlLengthSecurityDescriptor(relative),
                   (int)RtlValidSecurityDescriptor(relative));
        *out = relative;
      } else if (relative) {
        ExFreePoolWithTag(relative, TAG);
      }
    }
  }
  ExFreePoolWithTag(dacl, TAG);
  return status;
}

/*
 * create_device_secure: IoCreateDevice, then the descriptor applied as
 * wdmsec applies it. by_handle: ObOpenObjectByPointer(OBJ_KERNEL_HANDLE,
 * WRITE_DAC, IoDeviceObjectType, KernelMode) + ZwSetSecurityObject + ZwClose;
 * otherwise SeCaptureSecurityDescriptor + ObSetSecurityObjectByPointer.
 */
static NTSTATUS create_device_secure(PDRIVER_OBJECT driver, PUNICODE_STRING name,
                                     ULONG characteristics, BOOLEAN by_handle,
                                     PDEVICE_OBJECT* device) {
  PSECURITY_DESCRIPTOR sd;
  NTSTATUS status = IoCreateDevice(driver, sizeof(DEVICE_STATE), name, FILE_DEVICE_UNKNOWN,
                                   characteristics, FALSE, device);
  if (!NT_SUCCESS(status)) return status;
  status = build_admin_only_descriptor(&sd);
  if (NT_SUCCESS(status)) {
    if (by_handle) {
      HANDLE handle;
      status = ObOpenObjectByPointer(*device, OBJ_KERNEL_HANDLE, NULL, WRITE_DAC,
                                     KEMU_OBJECT_TYPE(IoDeviceObjectType), KernelMode, &handle);
      if (NT_SUCCESS(status)) {
        status = ZwSetSecurityObject(handle, DACL_SECURITY_INFORMATION, sd);
        ZwClose(handle);
      }
    } else {
      PSECURITY_DESCRIPTOR captured;
      status = SeCaptureSecurityDescriptor(sd, KernelMode, PagedPool, TRUE, &captured);
      if (NT_SUCCESS(status)) {
        status = ObSetSecurityObjectByPointer(*device, DACL_SECURITY_INFORMATION, captured);
        SeReleaseSecurityDescriptor(captured, KernelMode, TRUE);
      }
    }
    ExFreePoolWithTag(sd, TAG);
  }
  if (!NT_SUCCESS(status)) {
    IoDeleteDevice(*device);
    *device = NULL;
  }
  return status;
}

static NTSTATUS NTAPI DispatchCreateClose(PDEVICE_OBJECT device, PIRP irp) {
  PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(irp);
  DEVICE_STATE* state = device->DeviceExtension;
  if (sl->MajorFunction == IRP_MJ_CREATE) {
    PUNICODE_STRING file_name = &sl->FileObject->FileName;
    USHORT n = file_name->Length < sizeof(state->name) ? file_name->Length : sizeof(state->name);
    ++state->creates;
    state->last_desired = sl->Parameters.Create.SecurityContext->DesiredAccess;
    state->last_granted =
        sl->Parameters.Create.SecurityContext->AccessState->PreviouslyGrantedAccess;
    state->name_length = n;
    if (n) RtlCopyMemory(state->name, file_name->Buffer, n);
  }
  return complete(irp, STATUS_SUCCESS, 0);
}

/* The caller's token: TokenUser as a string, admin and privilege checks, and
   SeAccessCheck of this device's descriptor for MAXIMUM_ALLOWED. */
static NTSTATUS whoami(PDEVICE_OBJECT device, SEC_WHOAMI* out) {
  SECURITY_SUBJECT_CONTEXT subject;
  PACCESS_TOKEN token;
  PTOKEN_USER user = NULL;
  UNICODE_STRING text;
  PSECURITY_DESCRIPTOR sd = NULL;
  BOOLEAN allocated = FALSE;
  ACCESS_MASK granted = 0;
  NTSTATUS check_status = STATUS_SUCCESS, status;
  RtlZeroMemory(out, sizeof(*out));
  SeCaptureSubjectContext(&subject);
  token = SeQuerySubjectContextToken(&subject);
  out->is_admin = SeTokenIsAdmin(token);
  out->change_notify = SeSinglePrivilegeCheck(SeExports->SeChangeNotifyPrivilege, UserMode);
  out->debug = SeSinglePrivilegeCheck(SeExports->SeDebugPrivilege, UserMode);
  status = ObGetObjectSecurity(device, &sd, &allocated);
  if (NT_SUCCESS(status)) {
    SeLockSubjectContext(&subject);
    out->check_ok = SeAccessCheck(sd, &subject, TRUE, MAXIMUM_ALLOWED, 0, NULL, &g_file_mapping,
                                  UserMode, &granted, &check_status);
    SeUnlockSubjectContext(&subject);
    out->check_granted = granted;
    out->check_status = (ULONG)check_status;
    ObReleaseObjectSecurity(sd, allocated);
  }
  if (NT_SUCCESS(status)) status = SeQueryInformationToken(token, TokenUser, (PVOID*)&user);
  if (NT_SUCCESS(status)) {
    status = RtlConvertSidToUnicodeString(&text, user->User.Sid, TRUE);
    if (NT_SUCCESS(status)) {
      USHORT n = text.Length < sizeof(out->sid) ? text.Length : sizeof(out->sid);
      RtlCopyMemory(out->sid, text.Buffer, n);
      out->sid_length = n;
      RtlFreeUnicodeString(&text);
    }
    ExFreePool(user);
  }
  SeReleaseSubjectContext(&subject);
  return status;
}

/* The device's DACL through a kernel handle and ZwQuerySecurityObject. */
static NTSTATUS query_dacl(PDEVICE_OBJECT device, PVOID buffer, ULONG length,
                           ULONG_PTR* information) {
  HANDLE handle;
  ULONG needed = 0;
  NTSTATUS status =
      ObOpenObjectByPointer(device, OBJ_KERNEL_HANDLE, NULL, READ_CONTROL,
                            KEMU_OBJECT_TYPE(IoDeviceObjectType), KernelMode, &handle);
  if (!NT_SUCCESS(status)) return status;
  status = ZwQuerySecurityObject(handle, DACL_SECURITY_INFORMATION, buffer, length, &needed);
  ZwClose(handle);
  *information = NT_SUCCESS(status) ? needed : 0;
  return status;
}

static NTSTATUS NTAPI DispatchControl(PDEVICE_OBJECT device, PIRP irp) {
  PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(irp);
  ULONG out_len = sl->Parameters.DeviceIoControl.OutputBufferLength;
  DEVICE_STATE* state = device->DeviceExtension;
  ULONG_PTR information = 0;
  NTSTATUS status;
  ULONG i;
  switch (sl->Parameters.DeviceIoControl.IoControlCode) {
    case IOCTL_SEC_INFO: {
      SEC_INFO* info = irp->AssociatedIrp.SystemBuffer;
      if (out_len < sizeof(*info)) return complete(irp, STATUS_BUFFER_TOO_SMALL, 0);
      RtlZeroMemory(info, sizeof(*info));
      for (i = 0; i < DEVICE_COUNT; ++i)
        info->creates[i] =
            g_devices[i] ? ((DEVICE_STATE*)g_devices[i]->DeviceExtension)->creates : 0;
      info->index = state->index;
      info->last_desired = state->last_desired;
      info->last_granted = state->last_granted;
      info->name_length = state->name_length;
      RtlCopyMemory(info->name, state->name, state->name_length);
      return complete(irp, STATUS_SUCCESS, sizeof(*info));
    }
    case IOCTL_SEC_WRITE:
      return complete(irp, STATUS_SUCCESS, 0);
    case IOCTL_SEC_WHOAMI:
      if (out_len < sizeof(SEC_WHOAMI)) return complete(irp, STATUS_BUFFER_TOO_SMALL, 0);
      status = whoami(device, irp->AssociatedIrp.SystemBuffer);
      return complete(irp, status, NT_SUCCESS(status) ? sizeof(SEC_WHOAMI) : 0);
    case IOCTL_SEC_QUERY_DACL:
      status = query_dacl(device, irp->AssociatedIrp.SystemBuffer, out_len, &information);
      return complete(irp, status, information);
    default:
      return complete(irp, STATUS_INVALID_DEVICE_REQUEST, 0);
  }
}

static VOID NTAPI Unload(PDRIVER_OBJECT driver) {
  UNICODE_STRING link;
  ULONG i;
  UNREFERENCED_PARAMETER(driver);
  for (i = 0; i < DEVICE_COUNT; ++i) {
    if (!g_devices[i]) continue;
    RtlInitUnicodeString(&link, g_links[i]);
    IoDeleteSymbolicLink(&link);
    IoDeleteDevice(g_devices[i]);
    g_devices[i] = NULL;
  }
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  UNICODE_STRING name, link;
  NTSTATUS status = STATUS_SUCCESS;
  ULONG i;
  UNREFERENCED_PARAMETER(RegistryPath);
  DriverObject->MajorFunction[IRP_MJ_CREATE] = DispatchCreateClose;
  DriverObject->MajorFunction[IRP_MJ_CLEANUP] = DispatchCreateClose;
  DriverObject->MajorFunction[IRP_MJ_CLOSE] = DispatchCreateClose;
  DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = DispatchControl;
  DriverObject->DriverUnload = Unload;
  for (i = 0; i < DEVICE_COUNT && NT_SUCCESS(status); ++i) {
    RtlInitUnicodeString(&name, g_names[i]);
    RtlInitUnicodeString(&link, g_links[i]);
    switch (i) {
      case 0:
        status = IoCreateDevice(DriverObject, sizeof(DEVICE_STATE), &name, FILE_DEVICE_UNKNOWN, 0,
                                FALSE, &g_devices[i]);
        break;
      case 1:
        status = IoCreateDevice(DriverObject, sizeof(DEVICE_STATE), &name, FILE_DEVICE_UNKNOWN,
                                FILE_DEVICE_SECURE_OPEN, FALSE, &g_devices[i]);
        break;
      case 2:
        status =
            create_device_secure(DriverObject, &name, FILE_DEVICE_SECURE_OPEN, TRUE, &g_devices[i]);
        break;
      default:
        status = create_device_secure(DriverObject, &name, 0, FALSE, &g_devices[i]);
        break;
    }
    if (!NT_SUCCESS(status)) break;
    ((DEVICE_STATE*)g_devices[i]->DeviceExtension)->index = i;
    g_devices[i]->Flags |= DO_BUFFERED_IO;
    status = IoCreateSymbolicLink(&link, &name);
  }
  if (!NT_SUCCESS(status)) {
    Unload(DriverObject);
    return status;
  }
  return STATUS_SUCCESS;
}
