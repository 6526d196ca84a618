/*
 * events.sys - event objects by handle, driven by the user-mode client.
 *
 *  IOCTL_KERNEL_EVENTS   in the client's context: a named event in
 *                        \BaseNamedObjects created with OBJ_KERNEL_HANDLE,
 *                        OBJ_OPENIF and collisions, ZwOpenEvent by another
 *                        case, a RootDirectory-relative name, ZwSetEvent /
 *                        ZwClearEvent / ZwResetEvent / ZwPulseEvent with the
 *                        previous state, ZwWaitForSingleObject with timeouts,
 *                        IoCreateNotificationEvent / IoCreateSynchronizationEvent,
 *                        and the Nt-vs-Zw previous-mode rule. Every status
 *                        and value goes back in an EVENTS_REPORT.
 *  IOCTL_SIGNAL_CLIENT   the client's event handle (input: handle, how):
 *                        how 0: ObReferenceObjectByHandle(EVENT_MODIFY_STATE,
 *                        *ExEventObjectType, UserMode) + KeSetEvent; how 1:
 *                        ZwSetEvent (KernelMode: no access check); how 2:
 *                        NtSetEvent with a PreviousState on the driver's stack
 *                        (the caller's UserMode: the probe refuses it); how 3:
 *                        NtSetEvent without PreviousState.
 *  IOCTL_DUP_TO_SYSTEM   ZwDuplicateObject of a client handle into the System
 *                        process with OBJ_KERNEL_HANDLE, then signalled
 *                        through the kernel handle.
 */
#include "kemu_sample.h"

KEMU_DRIVER_ENTRY;

/* ntifs.h routines (mingw's ntddk.h does not declare them). */
NTSYSAPI NTSTATUS NTAPI ZwCreateEvent(PHANDLE EventHandle, ACCESS_MASK DesiredAccess,
                                      POBJECT_ATTRIBUTES ObjectAttributes, EVENT_TYPE EventType,
                                      BOOLEAN InitialState);
NTSYSAPI NTSTATUS NTAPI ZwSetEvent(HANDLE EventHandle, PLONG PreviousState);
NTSYSAPI NTSTATUS NTAPI NtSetEvent(HANDLE EventHandle, PLONG PreviousState);
NTSYSAPI NTSTATUS NTAPI ZwClearEvent(HANDLE EventHandle);
NTSYSAPI NTSTATUS NTAPI ZwResetEvent(HANDLE EventHandle, PLONG PreviousState);
NTSYSAPI NTSTATUS NTAPI ZwPulseEvent(HANDLE EventHandle, PLONG PreviousState);
NTSYSAPI NTSTATUS NTAPI ZwWaitForSingleObject(HANDLE Handle, BOOLEAN Alertable, PLARGE_INTEGER Timeout);
NTSYSAPI NTSTATUS NTAPI ZwDuplicateObject(HANDLE SourceProcessHandle, HANDLE SourceHandle,
                                          HANDLE TargetProcessHandle, PHANDLE TargetHandle,
                                          ACCESS_MASK DesiredAccess, ULONG HandleAttributes, ULONG Options);
NTSYSAPI NTSTATUS NTAPI ZwOpenDirectoryObject(PHANDLE DirectoryHandle, ACCESS_MASK DesiredAccess,
                                              POBJECT_ATTRIBUTES ObjectAttributes);
NTKERNELAPI NTSTATUS NTAPI ObOpenObjectByPointer(PVOID Object, ULONG HandleAttributes,
                                                 PACCESS_STATE PassedAccessState, ACCESS_MASK DesiredAccess,
                                                 POBJECT_TYPE ObjectType, KPROCESSOR_MODE AccessMode,
                                                 PHANDLE Handle);

#define EVENTS_TYPE 0x8000
#define IOCTL_KERNEL_EVENTS CTL_CODE(EVENTS_TYPE, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_SIGNAL_CLIENT CTL_CODE(EVENTS_TYPE, 0x801, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_DUP_TO_SYSTEM CTL_CODE(EVENTS_TYPE, 0x802, METHOD_BUFFERED, FILE_ANY_ACCESS)

#define DIRECTORY_TRAVERSE 0x0002

/* IOCTL_KERNEL_EVENTS output: one slot per step, in order. */
typedef struct {
  ULONG64 create_status, create_handle;       /* ZwCreateEvent, OBJ_KERNEL_HANDLE */
  ULONG64 openif_status, openif_handle;       /* the same name again, OBJ_OPENIF */
  ULONG64 collision_status;                   /* the same name without OBJ_OPENIF */
  ULONG64 open_status, open_handle;           /* ZwOpenEvent, other letter case */
  ULONG64 open_missing_status;                /* ZwOpenEvent of a name that does not exist */
  ULONG64 wait_unsignalled_status;            /* ZwWaitForSingleObject, 10 ms timeout */
  ULONG64 set_status, set_previous;           /* ZwSetEvent through the opened handle */
  ULONG64 set_again_previous;                 /* ZwSetEvent again: previous state 1 */
  ULONG64 wait_signalled_status;              /* the wait on the first handle now succeeds */
  ULONG64 clear_status, wait_cleared_status;  /* ZwClearEvent, then a zero timeout */
  ULONG64 pulse_status, pulse_previous;
  ULONG64 reset_previous, final_state;        /* ZwResetEvent after ZwSetEvent; KeReadStateEvent after it */
  ULONG64 same_object;                        /* both handles reference one KEVENT */
  ULONG64 user_mode_reference_status;         /* the kernel handle referenced as UserMode */
  ULONG64 nt_set_status;                      /* NtSetEvent(kernel handle): caller's UserMode */
  ULONG64 previous_mode_after_zw;             /* ExGetPreviousMode() after the Zw calls */
  ULONG64 relative_create_status;             /* RootDirectory = \BaseNamedObjects, name "KemuRelative" */
  ULONG64 relative_open_status;               /* opened by its full name */
  ULONG64 io_notification_present, io_notification_state, io_notification_handle;
  ULONG64 io_synchronization_same_event;      /* IoCreateSynchronizationEvent of that name opens it */
  ULONG64 reopen_after_close_status;          /* every handle closed: the name is gone */
  /* ObReferenceObjectByPointer(event, 0, *PsProcessType, KernelMode / UserMode; NULL type, UserMode) */
  ULONG64 by_pointer_kernel_other_type, by_pointer_user_other_type, by_pointer_user_null_type;
} EVENTS_REPORT;

typedef struct {
  ULONG64 handle;
  ULONG64 how;
} SIGNAL_REQUEST;

typedef struct {
  ULONG64 status;
  ULONG64 previous_state;
} SIGNAL_REPLY;

typedef struct {
  ULONG64 open_system_status;
  ULONG64 dup_status;
  ULONG64 kernel_handle;
  ULONG64 same_object;
  ULONG64 user_mode_reference_status;
  ULONG64 signal_status;
  ULONG64 dup_into_client_status; /* OBJ_KERNEL_HANDLE into a user process: refused */
  ULONG64 close_status;
} DUP_REPLY;

static PDEVICE_OBJECT g_device;

static NTSTATUS complete(PIRP irp, NTSTATUS status, ULONG_PTR information) {
  irp->IoStatus.Status = status;
  irp->IoStatus.Information = information;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  return status;
}

static void attributes(POBJECT_ATTRIBUTES oa, PUNICODE_STRING name, ULONG flags, HANDLE root) {
  InitializeObjectAttributes(oa, name, flags, root, NULL);
}

static void kernel_events(EVENTS_REPORT* r) {
  UNICODE_STRING name, other_case, missing, dir_name, relative, relative_full, io_name;
  OBJECT_ATTRIBUTES oa;
  HANDLE h1 = NULL, h2 = NULL, h3 = NULL, dir = NULL, rel = NULL, rel_open = NULL, io_handle = NULL, io_handle2 = NULL;
  HANDLE unused = NULL;
  LARGE_INTEGER ten_ms, zero;
  LONG previous = -1;
  PVOID o1 = NULL, o3 = NULL;
  PKEVENT io_event, io_event2;

  RtlInitUnicodeString(&name, L"\\BaseNamedObjects\\KemuEventsTest");
  RtlInitUnicodeString(&other_case, L"\\basenamedobjects\\KEMUEVENTSTEST");
  RtlInitUnicodeString(&missing, L"\\BaseNamedObjects\\KemuNoSuchEvent");
  RtlInitUnicodeString(&dir_name, L"\\BaseNamedObjects");
  RtlInitUnicodeString(&relative, L"KemuRelative");
  RtlInitUnicodeString(&relative_full, L"\\BaseNamedObjects\\KemuRelative");
  RtlInitUnicodeString(&io_name, L"\\BaseNamedObjects\\KemuIoEvent");
  ten_ms.QuadPart = -10 * 10000;
  zero.QuadPart = 0;

  attributes(&oa, &name, OBJ_KERNEL_HANDLE | OBJ_CASE_INSENSITIVE, NULL);
  r->create_status = (ULONG)ZwCreateEvent(&h1, EVENT_ALL_ACCESS, &oa, NotificationEvent, FALSE);
  r->create_handle = (ULONG64)(ULONG_PTR)h1;
  attributes(&oa, &name, OBJ_KERNEL_HANDLE | OBJ_OPENIF, NULL);
  r->openif_status = (ULONG)ZwCreateEvent(&h2, EVENT_ALL_ACCESS, &oa, SynchronizationEvent, TRUE);
  r->openif_handle = (ULONG64)(ULONG_PTR)h2;
  attributes(&oa, &name, OBJ_KERNEL_HANDLE, NULL);
  r->collision_status = (ULONG)ZwCreateEvent(&unused, EVENT_ALL_ACCESS, &oa, NotificationEvent, FALSE);
  attributes(&oa, &other_case, OBJ_KERNEL_HANDLE | OBJ_CASE_INSENSITIVE, NULL);
  r->open_status = (ULONG)ZwOpenEvent(&h3, EVENT_MODIFY_STATE | SYNCHRONIZE, &oa);
  r->open_handle = (ULONG64)(ULONG_PTR)h3;
  attributes(&oa, &missing, OBJ_KERNEL_HANDLE, NULL);
  r->open_missing_status = (ULONG)ZwOpenEvent(&unused, EVENT_ALL_ACCESS, &oa);

  r->wait_unsignalled_status = (ULONG)ZwWaitForSingleObject(h1, FALSE, &ten_ms);
  r->set_status = (ULONG)ZwSetEvent(h3, &previous);
  r->set_previous = (ULONG)previous;
  ZwSetEvent(h3, &previous);
  r->set_again_previous = (ULONG)previous;
  r->wait_signalled_status = (ULONG)ZwWaitForSingleObject(h1, FALSE, &ten_ms);
  r->clear_status = (ULONG)ZwClearEvent(h1);
  r->wait_cleared_status = (ULONG)ZwWaitForSingleObject(h1, FALSE, &zero);
  previous = -1;
  r->pulse_status = (ULONG)ZwPulseEvent(h1, &previous);
  r->pulse_previous = (ULONG)previous;
  ZwSetEvent(h1, NULL);
  ZwResetEvent(h1, &previous);
  r->reset_previous = (ULONG)previous;

  if (NT_SUCCESS(ObReferenceObjectByHandle(h1, EVENT_MODIFY_STATE, *ExEventObjectType, KernelMode, &o1, NULL)) &&
      NT_SUCCESS(ObReferenceObjectByHandle(h3, 0, *ExEventObjectType, KernelMode, &o3, NULL))) {
    r->same_object = o1 == o3;
    r->final_state = KeReadStateEvent((PKEVENT)o1);
    /* By pointer, the type is validated for UserMode only. */
    r->by_pointer_kernel_other_type = (ULONG)ObReferenceObjectByPointer(o1, 0, *PsProcessType, KernelMode);
    if (NT_SUCCESS((NTSTATUS)r->by_pointer_kernel_other_type)) ObDereferenceObject(o1);
    r->by_pointer_user_other_type = (ULONG)ObReferenceObjectByPointer(o1, 0, *PsProcessType, UserMode);
    r->by_pointer_user_null_type = (ULONG)ObReferenceObjectByPointer(o1, 0, NULL, UserMode);
    ObDereferenceObject(o1);
    ObDereferenceObject(o3);
  }
  o1 = (PVOID)1;
  r->user_mode_reference_status =
      (ULONG)ObReferenceObjectByHandle(h1, EVENT_MODIFY_STATE, *ExEventObjectType, UserMode, &o1, NULL);
  r->nt_set_status = (ULONG)NtSetEvent(h1, NULL);
  r->previous_mode_after_zw = ExGetPreviousMode();

  attributes(&oa, &dir_name, OBJ_KERNEL_HANDLE, NULL);
  if (NT_SUCCESS(ZwOpenDirectoryObject(&dir, DIRECTORY_TRAVERSE, &oa))) {
    attributes(&oa, &relative, OBJ_KERNEL_HANDLE, dir);
    r->relative_create_status = (ULONG)ZwCreateEvent(&rel, EVENT_ALL_ACCESS, &oa, NotificationEvent, FALSE);
    attributes(&oa, &relative_full, OBJ_KERNEL_HANDLE, NULL);
    r->relative_open_status = (ULONG)ZwOpenEvent(&rel_open, SYNCHRONIZE, &oa);
    if (rel_open) ZwClose(rel_open);
    if (rel) ZwClose(rel);
    ZwClose(dir);
  } else {
    r->relative_create_status = 0xFFFFFFFF;
  }

  io_event = IoCreateNotificationEvent(&io_name, &io_handle);
  r->io_notification_present = io_event != NULL;
  r->io_notification_state = io_event ? KeReadStateEvent(io_event) : 0xFF;
  r->io_notification_handle = (ULONG64)(ULONG_PTR)io_handle;
  io_event2 = IoCreateSynchronizationEvent(&io_name, &io_handle2);
  r->io_synchronization_same_event = io_event2 == io_event;
  if (io_handle2) ZwClose(io_handle2);
  if (io_handle) ZwClose(io_handle);

  ZwClose(h1);
  ZwClose(h2);
  ZwClose(h3);
  attributes(&oa, &name, OBJ_KERNEL_HANDLE, NULL);
  r->reopen_after_close_status = (ULONG)ZwOpenEvent(&unused, EVENT_ALL_ACCESS, &oa);
}

static NTSTATUS signal_client(const SIGNAL_REQUEST* rq, SIGNAL_REPLY* reply) {
  HANDLE handle = (HANDLE)(ULONG_PTR)rq->handle;
  LONG previous = -1;
  NTSTATUS status;
  PVOID event = NULL;
  switch (rq->how) {
    case 0:
      /* The documented pattern: validate the caller's handle as UserMode. */
      status = ObReferenceObjectByHandle(handle, EVENT_MODIFY_STATE, *ExEventObjectType, UserMode, &event, NULL);
      if (NT_SUCCESS(status)) {
        previous = KeSetEvent((PKEVENT)event, IO_NO_INCREMENT, FALSE);
        ObDereferenceObject(event);
      }
      break;
    case 1:
      status = ZwSetEvent(handle, &previous);
      break;
    case 2:
      /* PreviousMode is UserMode here: NtSetEvent probes &previous, a kernel address. */
      status = NtSetEvent(handle, &previous);
      break;
    default:
      status = NtSetEvent(handle, NULL);
      break;
  }
  reply->status = (ULONG)status;
  reply->previous_state = (ULONG)previous;
  return STATUS_SUCCESS;
}

static NTSTATUS dup_to_system(HANDLE user_handle, DUP_REPLY* reply) {
  HANDLE system = NULL, kernel_handle = NULL, refused = NULL;
  PVOID via_user = NULL, via_kernel = NULL;
  NTSTATUS status;
  status = ObOpenObjectByPointer(PsInitialSystemProcess, OBJ_KERNEL_HANDLE, NULL, PROCESS_DUP_HANDLE,
                                 *PsProcessType, KernelMode, &system);
  reply->open_system_status = (ULONG)status;
  if (!NT_SUCCESS(status)) return STATUS_SUCCESS;
  status = ZwDuplicateObject(NtCurrentProcess(), user_handle, system, &kernel_handle, 0, OBJ_KERNEL_HANDLE,
                             DUPLICATE_SAME_ACCESS);
  reply->dup_status = (ULONG)status;
  reply->kernel_handle = (ULONG64)(ULONG_PTR)kernel_handle;
  if (NT_SUCCESS(status)) {
    if (NT_SUCCESS(ObReferenceObjectByHandle(kernel_handle, 0, *ExEventObjectType, KernelMode, &via_kernel, NULL)) &&
        NT_SUCCESS(ObReferenceObjectByHandle(user_handle, 0, *ExEventObjectType, UserMode, &via_user, NULL))) {
      reply->same_object = via_kernel == via_user;
    }
    if (via_kernel) ObDereferenceObject(via_kernel);
    if (via_user) ObDereferenceObject(via_user);
    via_kernel = NULL;
    reply->user_mode_reference_status =
        (ULONG)ObReferenceObjectByHandle(kernel_handle, 0, *ExEventObjectType, UserMode, &via_kernel, NULL);
    reply->signal_status = (ULONG)ZwSetEvent(kernel_handle, NULL);
    reply->close_status = (ULONG)ZwClose(kernel_handle);
  }
  reply->dup_into_client_status = (ULONG)ZwDuplicateObject(NtCurrentProcess(), user_handle, NtCurrentProcess(),
                                                           &refused, 0, OBJ_KERNEL_HANDLE, DUPLICATE_SAME_ACCESS);
  ZwClose(system);
  return STATUS_SUCCESS;
}

static NTSTATUS NTAPI DispatchCreateClose(PDEVICE_OBJECT device, PIRP irp) {
  UNREFERENCED_PARAMETER(device);
  return complete(irp, STATUS_SUCCESS, 0);
}

static NTSTATUS NTAPI DispatchControl(PDEVICE_OBJECT device, PIRP irp) {
  PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(irp);
  ULONG in_len = sl->Parameters.DeviceIoControl.InputBufferLength;
  ULONG out_len = sl->Parameters.DeviceIoControl.OutputBufferLength;
  PVOID buffer = irp->AssociatedIrp.SystemBuffer;
  UNREFERENCED_PARAMETER(device);
  switch (sl->Parameters.DeviceIoControl.IoControlCode) {
    case IOCTL_KERNEL_EVENTS:
      if (out_len < sizeof(EVENTS_REPORT)) return complete(irp, STATUS_BUFFER_TOO_SMALL, 0);
      RtlZeroMemory(buffer, sizeof(EVENTS_REPORT));
      kernel_events(buffer);
      return complete(irp, STATUS_SUCCESS, sizeof(EVENTS_REPORT));
    case IOCTL_SIGNAL_CLIENT: {
      SIGNAL_REQUEST rq;
      if (in_len < sizeof(rq) || out_len < sizeof(SIGNAL_REPLY)) return complete(irp, STATUS_BUFFER_TOO_SMALL, 0);
      rq = *(SIGNAL_REQUEST*)buffer;
      RtlZeroMemory(buffer, sizeof(SIGNAL_REPLY));
      signal_client(&rq, buffer);
      return complete(irp, STATUS_SUCCESS, sizeof(SIGNAL_REPLY));
    }
    case IOCTL_DUP_TO_SYSTEM: {
      HANDLE user_handle;
      if (in_len < sizeof(ULONG64) || out_len < sizeof(DUP_REPLY)) return complete(irp, STATUS_BUFFER_TOO_SMALL, 0);
      user_handle = (HANDLE)(ULONG_PTR) * (ULONG64*)buffer;
      RtlZeroMemory(buffer, sizeof(DUP_REPLY));
      dup_to_system(user_handle, buffer);
      return complete(irp, STATUS_SUCCESS, sizeof(DUP_REPLY));
    }
    default:
      return complete(irp, STATUS_INVALID_DEVICE_REQUEST, 0);
  }
}

static VOID NTAPI Unload(PDRIVER_OBJECT driver) {
  UNICODE_STRING link;
  UNREFERENCED_PARAMETER(driver);
  RtlInitUnicodeString(&link, L"\\??\\KemuEvents");
  IoDeleteSymbolicLink(&link);
  IoDeleteDevice(g_device);
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  UNICODE_STRING name, link;
  NTSTATUS status;
  UNREFERENCED_PARAMETER(RegistryPath);
  RtlInitUnicodeString(&name, L"\\Device\\KemuEvents");
  RtlInitUnicodeString(&link, L"\\??\\KemuEvents");
  status = IoCreateDevice(DriverObject, 0, &name, FILE_DEVICE_UNKNOWN, FILE_DEVICE_SECURE_OPEN, FALSE, &g_device);
  if (!NT_SUCCESS(status)) return status;
  status = IoCreateSymbolicLink(&link, &name);
  if (!NT_SUCCESS(status)) {
    IoDeleteDevice(g_device);
    return status;
  }
  DriverObject->MajorFunction[IRP_MJ_CREATE] = DispatchCreateClose;
  DriverObject->MajorFunction[IRP_MJ_CLOSE] = DispatchCreateClose;
  DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = DispatchControl;
  g_device->Flags |= DO_BUFFERED_IO;
  DriverObject->DriverUnload = Unload;
  return STATUS_SUCCESS;
}
