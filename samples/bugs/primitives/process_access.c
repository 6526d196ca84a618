/*
 * process_access: a security product's helper driver whose console ends
 * processes it has judged malicious. Bug: it opens the process the caller
 * names with ZwOpenProcess and terminates it — from kernel mode PsOpenProcess
 * grants every right without looking at the process's security (the
 * SeDebugPrivilege test passes for PreviousMode KernelMode), and the IOCTL is
 * FILE_ANY_ACCESS: any user ends any process, the System process included,
 * which is bug check 0xEF CRITICAL_PROCESS_DIED (checks.md
 * primitive.process-access, irp.any-access-dangerous). Its console also
 * queries a process by pid: PsLookupProcessByProcessId, then a KernelMode
 * ObOpenObjectByPointer for PROCESS_ALL_ACCESS — the same unchecked open.
 * Fixed: the query is gone, the terminate IOCTL needs
 * FILE_WRITE_ACCESS, and the driver opens the process with
 * ObOpenObjectByPointer and OBJ_FORCE_ACCESS_CHECK, so the caller's own
 * rights decide: an unprivileged caller is refused PROCESS_TERMINATE on System.
 */
#include "bug_driver.h"

#define IOCTL_TERMINATE_PROCESS CTL_CODE(0x8000, 0xB00, METHOD_BUFFERED, FILE_ANY_ACCESS)          /* 0x80002C00 */
#define IOCTL_TERMINATE_PROCESS_CHECKED CTL_CODE(0x8000, 0xB01, METHOD_BUFFERED, FILE_WRITE_ACCESS) /* 0x8000AC04 */
#define IOCTL_QUERY_PROCESS CTL_CODE(0x8000, 0xB02, METHOD_BUFFERED, FILE_ANY_ACCESS)              /* 0x80002C08 */

#ifndef PROCESS_TERMINATE
#define PROCESS_TERMINATE 0x0001
#endif

#ifndef KEMU_FIXED
BUG_ROUTINE NTSTATUS TerminateProcessById(ULONG pid) {
  OBJECT_ATTRIBUTES oa;
  CLIENT_ID cid;
  HANDLE process;
  NTSTATUS status;
  InitializeObjectAttributes(&oa, NULL, OBJ_KERNEL_HANDLE, NULL, NULL);
  cid.UniqueProcess = (HANDLE)(ULONG_PTR)pid;
  cid.UniqueThread = NULL;
  status = ZwOpenProcess(&process, PROCESS_ALL_ACCESS, &oa, &cid);
  if (!NT_SUCCESS(status)) return status;
  status = ZwTerminateProcess(process, STATUS_SUCCESS);
  ZwClose(process);
  return status;
}

BUG_ROUTINE NTSTATUS QueryProcessById(ULONG pid, PPROCESS_BASIC_INFORMATION out) {
  PEPROCESS target;
  HANDLE process;
  NTSTATUS status = PsLookupProcessByProcessId((HANDLE)(ULONG_PTR)pid, &target);
  if (!NT_SUCCESS(status)) return status;
  status = ObOpenObjectByPointer(target, OBJ_KERNEL_HANDLE, NULL, PROCESS_ALL_ACCESS, *PsProcessType, KernelMode,
                                 &process);
  ObDereferenceObject(target);
  if (!NT_SUCCESS(status)) return status;
  status = ZwQueryInformationProcess(process, ProcessBasicInformation, out, sizeof(*out), NULL);
  ZwClose(process);
  return status;
}
#else
BUG_ROUTINE NTSTATUS TerminateProcessById(ULONG pid) {
  PEPROCESS target;
  HANDLE process;
  NTSTATUS status = PsLookupProcessByProcessId((HANDLE)(ULONG_PTR)pid, &target);
  if (!NT_SUCCESS(status)) return status;
  /* The caller's rights, not the kernel's: the access check runs as for UserMode. */
  status = ObOpenObjectByPointer(target, OBJ_KERNEL_HANDLE | OBJ_FORCE_ACCESS_CHECK, NULL, PROCESS_TERMINATE,
                                 *PsProcessType, KernelMode, &process);
  ObDereferenceObject(target);
  if (!NT_SUCCESS(status)) return status;
  status = ZwTerminateProcess(process, STATUS_SUCCESS);
  ZwClose(process);
  return status;
}
#endif

static NTSTATUS bug_ioctl(PIRP irp, PIO_STACK_LOCATION sp, ULONG_PTR *information) {
#ifndef KEMU_FIXED
  const ULONG code = IOCTL_TERMINATE_PROCESS;
#else
  const ULONG code = IOCTL_TERMINATE_PROCESS_CHECKED;
#endif
#ifndef KEMU_FIXED
  if (sp->Parameters.DeviceIoControl.IoControlCode == IOCTL_QUERY_PROCESS) {
    NTSTATUS status;
    if (sp->Parameters.DeviceIoControl.InputBufferLength < sizeof(ULONG) ||
        sp->Parameters.DeviceIoControl.OutputBufferLength < sizeof(PROCESS_BASIC_INFORMATION))
      return STATUS_BUFFER_TOO_SMALL;
    status = QueryProcessById(*(PULONG)irp->AssociatedIrp.SystemBuffer,
                              (PPROCESS_BASIC_INFORMATION)irp->AssociatedIrp.SystemBuffer);
    if (NT_SUCCESS(status)) *information = sizeof(PROCESS_BASIC_INFORMATION);
    return status;
  }
#else
  UNREFERENCED_PARAMETER(information);
#endif
  if (sp->Parameters.DeviceIoControl.IoControlCode != code) return STATUS_INVALID_DEVICE_REQUEST;
  if (sp->Parameters.DeviceIoControl.InputBufferLength < sizeof(ULONG)) return STATUS_BUFFER_TOO_SMALL;
  return TerminateProcessById(*(PULONG)irp->AssociatedIrp.SystemBuffer);
}
static NTSTATUS bug_entry(PDRIVER_OBJECT driver) { return STATUS_SUCCESS; }
static VOID bug_unload(VOID) {}
