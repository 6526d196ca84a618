/*
 * stack_copy: the driver puts a filter device of its own over its device
 * (\Device\KemuIrp): every request reaches the filter first, which passes it
 * down. IOCTL_PING makes the device ask itself through the stack: it builds
 * an IRP_MJ_INTERNAL_DEVICE_CONTROL IRP with a completion routine
 * (PingDone) and sends it to the top of the stack, then tells the caller at
 * which level PingDone saw the IRP complete (1: its own level, as asked; 2:
 * the filter's). Bug: the filter fills the next stack location by copying
 * the whole IO_STACK_LOCATION, completion routine and context included
 * (checks.md irp.stack-copy): PingDone then runs for the lower device's
 * completion, at the wrong level and before the filter's layer is done.
 * Fixed: IoCopyCurrentIrpStackLocationToNext, which leaves them out.
 */
#include "irp_bug.h"

#define IOCTL_PING IRP_IOCTL(4)          /* 0x80002C10 */
#define IOCTL_INTERNAL_PING IRP_IOCTL(5) /* internal device control */

static PDEVICE_OBJECT g_filter, g_lower;
static LONG g_forwarded; /* requests the filter passed down */

typedef struct {
  KEVENT done;
  ULONG level;
} PING;

static NTSTATUS NTAPI PingDone(PDEVICE_OBJECT device, PIRP irp, PVOID context) {
  PING *ping = context;
  UNREFERENCED_PARAMETER(irp);
  /* The originator's level has no device; the filter's is g_filter. */
  ping->level = device == NULL ? 1 : 2;
  KeSetEvent(&ping->done, IO_NO_INCREMENT, FALSE);
  return STATUS_MORE_PROCESSING_REQUIRED; /* the IRP is ours: freed below */
}

/* The device's own work: the client's IOCTL_PING and the internal ping. */
static NTSTATUS DeviceControl(PIRP irp) {
  PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(irp);
  ULONG code = sp->Parameters.DeviceIoControl.IoControlCode;
  PIO_STACK_LOCATION next;
  PING ping;
  PIRP inner;
  if (sp->MajorFunction == IRP_MJ_INTERNAL_DEVICE_CONTROL && code == IOCTL_INTERNAL_PING)
    return irp_complete(irp, STATUS_SUCCESS, 0);
  if (sp->MajorFunction != IRP_MJ_DEVICE_CONTROL || code != IOCTL_PING)
    return irp_complete(irp, STATUS_INVALID_DEVICE_REQUEST, 0);
  if (sp->Parameters.DeviceIoControl.OutputBufferLength < sizeof(ULONG))
    return irp_complete(irp, STATUS_BUFFER_TOO_SMALL, 0);
  inner = IoAllocateIrp(g_filter->StackSize, FALSE);
  if (!inner) return irp_complete(irp, STATUS_INSUFFICIENT_RESOURCES, 0);
  KeInitializeEvent(&ping.done, NotificationEvent, FALSE);
  ping.level = 0;
  next = IoGetNextIrpStackLocation(inner);
  next->MajorFunction = IRP_MJ_INTERNAL_DEVICE_CONTROL;
  next->Parameters.DeviceIoControl.IoControlCode = IOCTL_INTERNAL_PING;
  IoSetCompletionRoutine(inner, PingDone, &ping, TRUE, TRUE, TRUE);
  if (IoCallDriver(g_filter, inner) == STATUS_PENDING)
    KeWaitForSingleObject(&ping.done, Executive, KernelMode, FALSE, NULL);
  IoFreeIrp(inner);
  *(ULONG *)irp->AssociatedIrp.SystemBuffer = ping.level;
  return irp_complete(irp, STATUS_SUCCESS, sizeof(ULONG));
}

/* The filter's part: everything goes down to the device below. */
BUG_ROUTINE NTSTATUS FilterForward(PIRP irp) {
  NTSTATUS status;
#ifdef KEMU_FIXED
  IoCopyCurrentIrpStackLocationToNext(irp);
#else
  *IoGetNextIrpStackLocation(irp) = *IoGetCurrentIrpStackLocation(irp);
#endif
#ifdef KEMU_TAIL_CALL
  /* Optimised drivers end with "return IoCallDriver(...)", a jmp: no call
     instruction to point at, the finding goes to the dispatch routine. */
  UNREFERENCED_PARAMETER(status);
  return IoCallDriver(g_lower, irp);
#else
  status = IoCallDriver(g_lower, irp);
  InterlockedIncrement(&g_forwarded);
  return status;
#endif
}

/* Exported: findings about a tail call from FilterForward point here. */
__declspec(dllexport) NTSTATUS NTAPI StackDispatch(PDEVICE_OBJECT device, PIRP irp) {
  if (device == g_filter) return FilterForward(irp);
  if (IoGetCurrentIrpStackLocation(irp)->MajorFunction == IRP_MJ_CREATE ||
      IoGetCurrentIrpStackLocation(irp)->MajorFunction == IRP_MJ_CLOSE)
    return irp_complete(irp, STATUS_SUCCESS, 0);
  return DeviceControl(irp);
}

static NTSTATUS irp_entry(PDRIVER_OBJECT driver, PDEVICE_OBJECT device) {
  NTSTATUS status = IoCreateDevice(driver, 0, NULL, FILE_DEVICE_UNKNOWN, 0, FALSE, &g_filter);
  if (!NT_SUCCESS(status)) return status;
  g_lower = IoAttachDeviceToDeviceStack(g_filter, device);
  if (!g_lower) {
    IoDeleteDevice(g_filter);
    return STATUS_NO_SUCH_DEVICE;
  }
  g_filter->Flags &= ~DO_DEVICE_INITIALIZING;
  driver->MajorFunction[IRP_MJ_CREATE] = StackDispatch;
  driver->MajorFunction[IRP_MJ_CLOSE] = StackDispatch;
  driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = StackDispatch;
  driver->MajorFunction[IRP_MJ_INTERNAL_DEVICE_CONTROL] = StackDispatch;
  return STATUS_SUCCESS;
}

static VOID irp_unload(VOID) {
  IoDetachDevice(g_lower);
  IoDeleteDevice(g_filter);
}
