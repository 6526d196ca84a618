/*
 * user_handle_to_zw: the client passes an event handle for the driver to
 * set. Bug: the driver hands the caller's handle to ZwXxx routines, which
 * run with PreviousMode KernelMode: ZwDuplicateObject from the current
 * process into the System process (the lookup of the source runs in
 * KernelMode, so a caller can even name a kernel handle) and ZwSetEvent on
 * it (checks.md handle.user-handle-to-zw). Fixed: reference it as the caller
 * (Irp->RequestorMode, the type, the access), then ObOpenObjectByPointer
 * with OBJ_KERNEL_HANDLE for a handle of the driver's own.
 */
#include "bug_driver.h"

BUG_ROUTINE NTSTATUS SetCallerEvent(PIRP irp, HANDLE caller_handle) {
  HANDLE kernel_handle = NULL;
  NTSTATUS status;
#ifdef KEMU_FIXED
  PVOID event = NULL;
  status = ObReferenceObjectByHandle(caller_handle, EVENT_MODIFY_STATE, *ExEventObjectType, irp->RequestorMode,
                                     &event, NULL);
  if (!NT_SUCCESS(status)) return status;
  status = ObOpenObjectByPointer(event, OBJ_KERNEL_HANDLE, NULL, EVENT_MODIFY_STATE, *ExEventObjectType, KernelMode,
                                 &kernel_handle);
  ObDereferenceObject(event);
#else
  HANDLE system_process = NULL;
  status = ObOpenObjectByPointer(PsInitialSystemProcess, OBJ_KERNEL_HANDLE, NULL, PROCESS_DUP_HANDLE, *PsProcessType,
                                 KernelMode, &system_process);
  if (!NT_SUCCESS(status)) return status;
  status = ZwDuplicateObject(NtCurrentProcess(), caller_handle, system_process, &kernel_handle, 0, OBJ_KERNEL_HANDLE,
                             DUPLICATE_SAME_ACCESS);
  ZwClose(system_process);
#endif
  if (!NT_SUCCESS(status)) return status;
  status = ZwSetEvent(kernel_handle, NULL);
  ZwClose(kernel_handle);
  return status;
}

static NTSTATUS bug_ioctl(PIRP irp, PIO_STACK_LOCATION sp, ULONG_PTR *information) {
  if (sp->Parameters.DeviceIoControl.IoControlCode != BUG_IOCTL(0)) return STATUS_INVALID_DEVICE_REQUEST;
  return SetCallerEvent(irp, bug_input_handle(irp, sp));
}
static NTSTATUS bug_entry(PDRIVER_OBJECT driver) { return STATUS_SUCCESS; }
static VOID bug_unload(VOID) {}
