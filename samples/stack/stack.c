/*
 * stack.sys - a device stack in one driver, and the I/O routines around it.
 *
 * \Device\KemuStackLower (DO_BUFFERED_IO, link \??\KemuStack) is the lower
 * device; an unnamed filter device is attached on top of it with
 * IoAttachDeviceToDeviceStackSafe, so every open and request of the lower
 * device's name reaches the filter first. The filter passes CREATE, CLEANUP,
 * CLOSE, READ and WRITE down with IoSkipCurrentIrpStackLocation, passes the
 * lower device's IOCTLs down with IoCopyCurrentIrpStackLocationToNext and a
 * completion routine, and handles its own IOCTLs:
 *   FILTER_INFO     what the stack looks like and who asked (IoGetRequestor*),
 *   FILTER_METHODS  IoBuildDeviceIoControlRequest to the lower device for each
 *                   of the four methods, with what the lower dispatch saw,
 *   FILTER_FSD      IoBuildSynchronousFsdRequest writes and reads on the lower
 *                   device and on \Device\KemuStackDirect (DO_DIRECT_IO), and
 *                   an IoBuildAsynchronousFsdRequest flush freed in its
 *                   completion routine,
 *   FILTER_CANCEL   IoCancelIrp on an IRP it sent and on one never sent.
 * The lower device keeps IRPs pending: in cancel-safe queue A (IoCsqInitialize,
 * IoCsqInsertIrp, IoCsqRemoveNextIrp now or from a work item), in queue B
 * (IoCsqInitializeEx with a one-slot CsqInsertIrpEx, IoCsqRemoveIrp by its
 * IO_CSQ_IRP_CONTEXT), with a plain cancel routine (PEND_PLAIN), and in the
 * device queue behind StartIo (IoStartPacket with a cancel routine,
 * IoStartNextPacket, KeRemoveEntryDeviceQueue).
 * Every step is logged with DbgPrint (prefix "stack: ").
 */
#include "kemu_sample.h"

KEMU_DRIVER_ENTRY;

/* ntifs.h routines (mingw's ntddk.h does not declare them). */
NTKERNELAPI PDEVICE_OBJECT NTAPI IoGetDeviceAttachmentBaseRef(PDEVICE_OBJECT DeviceObject);
NTKERNELAPI PDEVICE_OBJECT NTAPI IoGetLowerDeviceObject(PDEVICE_OBJECT DeviceObject);
NTKERNELAPI PEPROCESS NTAPI IoGetRequestorProcess(PIRP Irp);
NTKERNELAPI ULONG NTAPI IoGetRequestorProcessId(PIRP Irp);
NTKERNELAPI PEPROCESS NTAPI IoThreadToProcess(PETHREAD Thread);

#define STACK_TYPE 0x8000
#define IOCTL_LOWER_BUFFERED CTL_CODE(STACK_TYPE, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_LOWER_IN_DIRECT CTL_CODE(STACK_TYPE, 0x801, METHOD_IN_DIRECT, FILE_ANY_ACCESS)
#define IOCTL_LOWER_OUT_DIRECT CTL_CODE(STACK_TYPE, 0x802, METHOD_OUT_DIRECT, FILE_ANY_ACCESS)
#define IOCTL_LOWER_NEITHER CTL_CODE(STACK_TYPE, 0x803, METHOD_NEITHER, FILE_ANY_ACCESS)
#define IOCTL_QUEUE_A CTL_CODE(STACK_TYPE, 0x810, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_COMPLETE_A CTL_CODE(STACK_TYPE, 0x811, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_COMPLETE_A_LATER CTL_CODE(STACK_TYPE, 0x812, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_QUEUE_B CTL_CODE(STACK_TYPE, 0x813, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_REMOVE_B CTL_CODE(STACK_TYPE, 0x814, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_PEND_PLAIN CTL_CODE(STACK_TYPE, 0x820, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_STARTIO CTL_CODE(STACK_TYPE, 0x830, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_STARTIO_NEXT CTL_CODE(STACK_TYPE, 0x831, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_FILTER_INFO CTL_CODE(STACK_TYPE, 0x900, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_FILTER_METHODS CTL_CODE(STACK_TYPE, 0x901, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_FILTER_FSD CTL_CODE(STACK_TYPE, 0x902, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_FILTER_CANCEL CTL_CODE(STACK_TYPE, 0x903, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define FILTER_FUNCTION_FIRST 0x900

enum { KIND_LOWER = 1, KIND_FILTER, KIND_DIRECT, KIND_FILTER2 };
typedef struct {
  ULONG kind;
  PDEVICE_OBJECT target; /* filters: the device attached to */
} STACK_EXTENSION;

/* What the lower dispatch saw of the last request (reported by the filter). */
#define SEEN_VALUES 14
static ULONG64 g_seen[SEEN_VALUES];

static PDEVICE_OBJECT g_lower, g_direct, g_filter;
static PIO_WORKITEM g_work;
static char g_store[2][64] = {"kemu-stack-store", "kemu-direct-data"};

/* Cancel-safe queues. */
static IO_CSQ g_csq_a, g_csq_b;
static LIST_ENTRY g_queue_a, g_queue_b;
static KSPIN_LOCK g_lock_a, g_lock_b;
static ULONG g_queued_b;
static PVOID g_insert_context_seen;
/* IoCsqInsertIrpEx fills the context before the driver's insert routine can
   refuse the IRP, so each attempt gets its own; REMOVE_B uses the last one
   whose insert succeeded. */
static IO_CSQ_IRP_CONTEXT g_contexts_b[8];
static PIO_CSQ_IRP_CONTEXT g_context_b;
static LONG g_sequence;

/* The plain cancel routine's IRP and what the routine saw. */
static PIRP g_plain;
static KIRQL g_plain_irql, g_plain_cancel_irql;

static const char* major_name(UCHAR major) {
  switch (major) {
    case IRP_MJ_CREATE: return "CREATE";
    case IRP_MJ_CLEANUP: return "CLEANUP";
    case IRP_MJ_CLOSE: return "CLOSE";
    case IRP_MJ_READ: return "READ";
    case IRP_MJ_WRITE: return "WRITE";
    case IRP_MJ_FLUSH_BUFFERS: return "FLUSH";
    case IRP_MJ_DEVICE_CONTROL: return "DEVICE_CONTROL";
    default: return "OTHER";
  }
}

static STACK_EXTENSION* ext_of(PDEVICE_OBJECT device) { return (STACK_EXTENSION*)device->DeviceExtension; }

static NTSTATUS complete(PIRP irp, NTSTATUS status, ULONG_PTR information) {
  irp->IoStatus.Status = status;
  irp->IoStatus.Information = information;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  return status;
}

static void upper(char* out, const char* in, ULONG n) {
  ULONG i;
  for (i = 0; i < n; ++i) out[i] = (in[i] >= 'a' && in[i] <= 'z') ? in[i] - 32 : in[i];
}

static ULONG count_devices(PDRIVER_OBJECT driver) {
  ULONG n = 0;
  PDEVICE_OBJECT d;
  for (d = driver->DeviceObject; d; d = d->NextDevice) ++n;
  return n;
}

/* ---- cancel-safe queue callbacks (queue A: IoCsqInitialize; B: IoCsqInitializeEx) ---- */

static LIST_ENTRY* queue_of(PIO_CSQ csq) { return csq == &g_csq_a ? &g_queue_a : &g_queue_b; }

static VOID NTAPI CsqInsertA(PIO_CSQ csq, PIRP irp) { InsertTailList(queue_of(csq), &irp->Tail.Overlay.ListEntry); }

static NTSTATUS NTAPI CsqInsertB(PIO_CSQ csq, PIRP irp, PVOID insert_context) {
  g_insert_context_seen = insert_context;
  if (g_queued_b >= 1) return STATUS_DEVICE_BUSY; /* one slot */
  ++g_queued_b;
  InsertTailList(queue_of(csq), &irp->Tail.Overlay.ListEntry);
  return STATUS_SUCCESS;
}

static VOID NTAPI CsqRemove(PIO_CSQ csq, PIRP irp) {
  if (csq == &g_csq_b) --g_queued_b;
  RemoveEntryList(&irp->Tail.Overlay.ListEntry);
}

static PIRP NTAPI CsqPeek(PIO_CSQ csq, PIRP irp, PVOID peek_context) {
  LIST_ENTRY* head = queue_of(csq);
  LIST_ENTRY* next = irp ? irp->Tail.Overlay.ListEntry.Flink : head->Flink;
  UNREFERENCED_PARAMETER(peek_context);
  return next == head ? NULL : CONTAINING_RECORD(next, IRP, Tail.Overlay.ListEntry);
}

static VOID NTAPI CsqAcquire(PIO_CSQ csq, PKIRQL irql) { KeAcquireSpinLock(csq == &g_csq_a ? &g_lock_a : &g_lock_b, irql); }

static VOID NTAPI CsqRelease(PIO_CSQ csq, KIRQL irql) { KeReleaseSpinLock(csq == &g_csq_a ? &g_lock_a : &g_lock_b, irql); }

static VOID NTAPI CsqCompleteCanceled(PIO_CSQ csq, PIRP irp) {
  DbgPrint("stack: csq %c completes cancelled IRP %d at irql %u\n", csq == &g_csq_a ? 'A' : 'B',
           (int)(LONG_PTR)irp->Tail.Overlay.DriverContext[0], (unsigned)KeGetCurrentIrql());
  complete(irp, STATUS_CANCELLED, 0);
}

/* A queued IRP leaves with its sequence number in its (buffered) output. */
static void complete_sequence(PIRP irp, ULONG64 sequence) {
  ULONG out_len = IoGetCurrentIrpStackLocation(irp)->Parameters.DeviceIoControl.OutputBufferLength;
  if (out_len >= sizeof(sequence)) *(ULONG64*)irp->AssociatedIrp.SystemBuffer = sequence;
  DbgPrint("stack: completes queued IRP %d\n", (int)sequence);
  complete(irp, STATUS_SUCCESS, out_len >= sizeof(sequence) ? sizeof(sequence) : 0);
}

static void complete_queued(PIRP irp) { complete_sequence(irp, (ULONG64)(LONG_PTR)irp->Tail.Overlay.DriverContext[0]); }

/* ---- StartIo: the device queue (Tail.Overlay.DeviceQueueEntry overlays
   DriverContext[0..2], so these IRPs keep their number in DriverContext[3]) ---- */

static int startio_sequence(PIRP irp) { return (int)(LONG_PTR)irp->Tail.Overlay.DriverContext[3]; }

static VOID NTAPI StartIo(PDEVICE_OBJECT device, PIRP irp) {
  DbgPrint("stack: StartIo IRP %d at irql %u, CurrentIrp is it %u\n", startio_sequence(irp),
           (unsigned)KeGetCurrentIrql(), (unsigned)(device->CurrentIrp == irp));
}

static VOID NTAPI StartIoCancel(PDEVICE_OBJECT device, PIRP irp) {
  KIRQL irql;
  if (irp == device->CurrentIrp) {
    IoReleaseCancelSpinLock(irp->CancelIrql);
    DbgPrint("stack: StartIo cancel of the current IRP %d\n", startio_sequence(irp));
    complete(irp, STATUS_CANCELLED, 0);
    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    IoStartNextPacket(device, TRUE);
    KeLowerIrql(irql);
  } else {
    BOOLEAN removed = KeRemoveEntryDeviceQueue(&device->DeviceQueue, &irp->Tail.Overlay.DeviceQueueEntry);
    IoReleaseCancelSpinLock(irp->CancelIrql);
    DbgPrint("stack: StartIo cancel of queued IRP %d, removed %u\n", startio_sequence(irp), (unsigned)removed);
    complete(irp, STATUS_CANCELLED, 0);
  }
}

static VOID NTAPI CompleteLater(PDEVICE_OBJECT device, PVOID context) {
  PIRP irp = IoCsqRemoveNextIrp(&g_csq_a, NULL);
  UNREFERENCED_PARAMETER(device);
  UNREFERENCED_PARAMETER(context);
  DbgPrint("stack: work item removes %s\n", irp ? "an IRP" : "nothing");
  if (irp) complete_queued(irp);
}

/* ---- the plain cancel routine ---- */

static VOID NTAPI PlainCancel(PDEVICE_OBJECT device, PIRP irp) {
  g_plain_irql = KeGetCurrentIrql();
  g_plain_cancel_irql = irp->CancelIrql;
  IoReleaseCancelSpinLock(irp->CancelIrql);
  DbgPrint("stack: plain cancel routine at irql %u, CancelIrql %u, Cancel %u, device is %s\n", (unsigned)g_plain_irql,
           (unsigned)g_plain_cancel_irql, (unsigned)irp->Cancel, device == g_lower ? "lower" : "other");
  if (g_plain == irp) g_plain = NULL;
  complete(irp, STATUS_CANCELLED, 0);
}

static NTSTATUS pend_plain(PIRP irp) {
  KIRQL irql;
  IoAcquireCancelSpinLock(&irql);
  if (irp->Cancel) {
    IoReleaseCancelSpinLock(irql);
    return complete(irp, STATUS_CANCELLED, 0);
  }
  IoMarkIrpPending(irp);
  IoSetCancelRoutine(irp, PlainCancel);
  g_plain = irp;
  IoReleaseCancelSpinLock(irql);
  return STATUS_PENDING;
}

/* ---- the lower device (and the direct one) ---- */

static void record_seen(PIRP irp, PIO_STACK_LOCATION sl, ULONG method) {
  PMDL mdl = irp->MdlAddress;
  g_seen[0] = method;
  g_seen[1] = irp->RequestorMode;
  g_seen[2] = irp->AssociatedIrp.SystemBuffer != NULL;
  g_seen[3] = (ULONG_PTR)irp->AssociatedIrp.SystemBuffer >= (ULONG_PTR)MmSystemRangeStart;
  g_seen[4] = sl->Parameters.DeviceIoControl.InputBufferLength;
  g_seen[5] = sl->Parameters.DeviceIoControl.OutputBufferLength;
  g_seen[6] = mdl != NULL;
  g_seen[7] = mdl ? MmGetMdlByteCount(mdl) : 0;
  g_seen[8] = mdl ? MmGetMdlByteOffset(mdl) : 0;
  g_seen[9] = (ULONG64)(ULONG_PTR)irp->UserBuffer;
  g_seen[10] = (ULONG64)(ULONG_PTR)sl->Parameters.DeviceIoControl.Type3InputBuffer;
  g_seen[11] = irp->Flags;
  g_seen[12] = irp->Tail.Overlay.Thread == PsGetCurrentThread();
  g_seen[13] = mdl ? (mdl->MdlFlags & MDL_PAGES_LOCKED) != 0 : 0;
}

static NTSTATUS lower_control(PIRP irp, PIO_STACK_LOCATION sl) {
  ULONG code = sl->Parameters.DeviceIoControl.IoControlCode;
  ULONG in_len = sl->Parameters.DeviceIoControl.InputBufferLength;
  ULONG out_len = sl->Parameters.DeviceIoControl.OutputBufferLength;
  ULONG n = in_len < out_len ? in_len : out_len;
  NTSTATUS status;
  switch (code) {
    case IOCTL_LOWER_BUFFERED:
      record_seen(irp, sl, METHOD_BUFFERED);
      upper(irp->AssociatedIrp.SystemBuffer, irp->AssociatedIrp.SystemBuffer, n);
      return complete(irp, STATUS_SUCCESS, n);
    case IOCTL_LOWER_IN_DIRECT: {
      const UCHAR* data;
      ULONG i, sum = 0;
      record_seen(irp, sl, METHOD_IN_DIRECT);
      if (!irp->MdlAddress) return complete(irp, STATUS_INVALID_PARAMETER, 0);
      data = MmGetSystemAddressForMdlSafe(irp->MdlAddress, NormalPagePriority);
      for (i = 0; data && i < MmGetMdlByteCount(irp->MdlAddress); ++i) sum += data[i];
      return complete(irp, STATUS_SUCCESS, sum);
    }
    case IOCTL_LOWER_OUT_DIRECT: {
      char* out;
      record_seen(irp, sl, METHOD_OUT_DIRECT);
      if (!irp->MdlAddress) return complete(irp, STATUS_INVALID_PARAMETER, 0);
      out = MmGetSystemAddressForMdlSafe(irp->MdlAddress, NormalPagePriority);
      if (n > MmGetMdlByteCount(irp->MdlAddress)) n = MmGetMdlByteCount(irp->MdlAddress);
      if (out) upper(out, irp->AssociatedIrp.SystemBuffer, n);
      return complete(irp, STATUS_SUCCESS, n);
    }
    case IOCTL_LOWER_NEITHER:
      /* A kernel-mode requestor's raw pointers (FILTER_METHODS sends this one). */
      record_seen(irp, sl, METHOD_NEITHER);
      if (irp->RequestorMode != KernelMode) return complete(irp, STATUS_ACCESS_DENIED, 0);
      upper(irp->UserBuffer, sl->Parameters.DeviceIoControl.Type3InputBuffer, n);
      return complete(irp, STATUS_SUCCESS, n);
    case IOCTL_QUEUE_A:
      irp->Tail.Overlay.DriverContext[0] = (PVOID)(LONG_PTR)InterlockedIncrement(&g_sequence);
      DbgPrint("stack: queue A takes IRP %d\n", (int)(LONG_PTR)irp->Tail.Overlay.DriverContext[0]);
      IoCsqInsertIrp(&g_csq_a, irp, NULL);
      return STATUS_PENDING;
    case IOCTL_COMPLETE_A: {
      PIRP queued = IoCsqRemoveNextIrp(&g_csq_a, NULL);
      if (queued) complete_queued(queued);
      return complete(irp, queued ? STATUS_SUCCESS : STATUS_NOT_FOUND, 0);
    }
    case IOCTL_COMPLETE_A_LATER:
      IoQueueWorkItem(g_work, CompleteLater, DelayedWorkQueue, NULL);
      return complete(irp, STATUS_SUCCESS, 0);
    case IOCTL_QUEUE_B: {
      LONG sequence = InterlockedIncrement(&g_sequence);
      PIO_CSQ_IRP_CONTEXT context = &g_contexts_b[sequence % 8];
      irp->Tail.Overlay.DriverContext[0] = (PVOID)(LONG_PTR)sequence;
      status = IoCsqInsertIrpEx(&g_csq_b, irp, context, (PVOID)0xB0B);
      DbgPrint("stack: queue B insert of IRP %d: 0x%08x, insert context %p, context type %u names it %u\n",
               (int)sequence, (unsigned)status, g_insert_context_seen, (unsigned)context->Type,
               (unsigned)(context->Irp == irp && context->Csq == &g_csq_b));
      if (!NT_SUCCESS(status)) return complete(irp, status, 0);
      g_context_b = context;
      return STATUS_PENDING;
    }
    case IOCTL_REMOVE_B: {
      PIRP queued = g_context_b ? IoCsqRemoveIrp(&g_csq_b, g_context_b) : NULL;
      DbgPrint("stack: IoCsqRemoveIrp gives %s, context Irp now %p\n", queued ? "the IRP" : "NULL",
               g_context_b ? g_context_b->Irp : NULL);
      if (queued) complete_queued(queued);
      return complete(irp, queued ? STATUS_SUCCESS : STATUS_NOT_FOUND, 0);
    }
    case IOCTL_PEND_PLAIN:
      irp->Tail.Overlay.DriverContext[0] = (PVOID)(LONG_PTR)InterlockedIncrement(&g_sequence);
      return pend_plain(irp);
    case IOCTL_STARTIO:
      irp->Tail.Overlay.DriverContext[3] = (PVOID)(LONG_PTR)InterlockedIncrement(&g_sequence);
      IoMarkIrpPending(irp);
      IoStartPacket(g_lower, irp, NULL, StartIoCancel);
      return STATUS_PENDING;
    case IOCTL_STARTIO_NEXT: {
      /* The current IRP is done unless its cancel routine already has it. */
      KIRQL irql;
      PIRP current;
      IoAcquireCancelSpinLock(&irql);
      current = g_lower->CurrentIrp;
      if (current && IoSetCancelRoutine(current, NULL) == NULL) current = NULL;
      IoReleaseCancelSpinLock(irql);
      if (current) complete_sequence(current, (ULONG64)startio_sequence(current));
      KeRaiseIrql(DISPATCH_LEVEL, &irql);
      IoStartNextPacket(g_lower, TRUE);
      KeLowerIrql(irql);
      return complete(irp, current ? STATUS_SUCCESS : STATUS_NOT_FOUND, 0);
    }
    default:
      return complete(irp, STATUS_INVALID_DEVICE_REQUEST, 0);
  }
}

/* READ / WRITE / FLUSH on the lower (buffered) or direct device: a 64-byte store. */
static NTSTATUS lower_transfer(PDEVICE_OBJECT device, PIRP irp, PIO_STACK_LOCATION sl) {
  char* store = g_store[ext_of(device)->kind == KIND_DIRECT ? 1 : 0];
  ULONG length = sl->Parameters.Read.Length;
  LONGLONG offset = sl->Parameters.Read.ByteOffset.QuadPart;
  char* data;
  ULONG n, i;
  g_seen[0] = sl->MajorFunction;
  g_seen[1] = irp->RequestorMode;
  g_seen[2] = irp->AssociatedIrp.SystemBuffer != NULL;
  g_seen[3] = (ULONG64)(ULONG_PTR)irp->UserBuffer;
  g_seen[4] = irp->MdlAddress != NULL;
  g_seen[5] = irp->MdlAddress ? MmGetMdlByteCount(irp->MdlAddress) : 0;
  g_seen[6] = sl->MajorFunction == IRP_MJ_FLUSH_BUFFERS ? 0 : length;
  g_seen[7] = sl->MajorFunction == IRP_MJ_FLUSH_BUFFERS ? 0 : (ULONG64)offset;
  g_seen[8] = irp->Flags;
  g_seen[9] = irp->Tail.Overlay.Thread == PsGetCurrentThread();
  if (sl->MajorFunction == IRP_MJ_FLUSH_BUFFERS) return complete(irp, STATUS_SUCCESS, 0);
  if (offset < 0 || offset > 64) return complete(irp, STATUS_INVALID_PARAMETER, 0);
  data = irp->MdlAddress ? MmGetSystemAddressForMdlSafe(irp->MdlAddress, NormalPagePriority)
                         : irp->AssociatedIrp.SystemBuffer;
  if (!data) return complete(irp, STATUS_INSUFFICIENT_RESOURCES, 0);
  n = 64 - (ULONG)offset;
  if (n > length) n = length;
  for (i = 0; i < n; ++i) {
    if (sl->MajorFunction == IRP_MJ_READ) data[i] = store[offset + i];
    else store[offset + i] = data[i];
  }
  return complete(irp, STATUS_SUCCESS, n);
}

static NTSTATUS lower_dispatch(PDEVICE_OBJECT device, PIRP irp) {
  PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(irp);
  switch (sl->MajorFunction) {
    case IRP_MJ_CREATE:
    case IRP_MJ_CLEANUP:
    case IRP_MJ_CLOSE:
      DbgPrint("stack: %s %s, requestor %u\n", ext_of(device)->kind == KIND_DIRECT ? "direct" : "lower",
               major_name(sl->MajorFunction), (unsigned)irp->RequestorMode);
      return complete(irp, STATUS_SUCCESS, 0);
    case IRP_MJ_READ:
    case IRP_MJ_WRITE:
    case IRP_MJ_FLUSH_BUFFERS:
      return lower_transfer(device, irp, sl);
    case IRP_MJ_DEVICE_CONTROL:
      return lower_control(irp, sl);
    default:
      return complete(irp, STATUS_INVALID_DEVICE_REQUEST, 0);
  }
}

/* ---- the filter ---- */

static NTSTATUS NTAPI FilterCompletion(PDEVICE_OBJECT device, PIRP irp, PVOID context) {
  UNREFERENCED_PARAMETER(context);
  DbgPrint("stack: filter completion 0x%08x, information %u, cancel %u, device is %s\n", (unsigned)irp->IoStatus.Status,
           (unsigned)irp->IoStatus.Information, (unsigned)irp->Cancel, device == g_filter ? "filter" : "other");
  if (irp->PendingReturned) IoMarkIrpPending(irp);
  return STATUS_CONTINUE_COMPLETION;
}

/* Sends a threaded IRP and waits for it as its builder must. */
static NTSTATUS call_and_wait(PDEVICE_OBJECT device, PIRP irp, PKEVENT event, PIO_STATUS_BLOCK iosb) {
  NTSTATUS status = IoCallDriver(device, irp);
  if (status == STATUS_PENDING) {
    KeWaitForSingleObject(event, Executive, KernelMode, FALSE, NULL);
    status = iosb->Status;
  }
  return status;
}

/* FILTER_METHODS: per method 19 values: status, information, the first 8
   output bytes, the 14 values the lower dispatch saw, the input and output
   buffers' addresses. */
#define METHOD_VALUES 19
static NTSTATUS filter_methods(PIRP irp, ULONG out_len) {
  static const ULONG codes[4] = {IOCTL_LOWER_BUFFERED, IOCTL_LOWER_IN_DIRECT, IOCTL_LOWER_OUT_DIRECT,
                                 IOCTL_LOWER_NEITHER};
  ULONG64* report = irp->AssociatedIrp.SystemBuffer;
  ULONG m, i;
  if (out_len < 4 * METHOD_VALUES * sizeof(ULONG64)) return complete(irp, STATUS_BUFFER_TOO_SMALL, 0);
  for (m = 0; m < 4; ++m) {
    char input[8] = {'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'};
    char output[16] = {'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'A', 'B', 'C', 'D', 'E', 'F'};
    KEVENT event;
    IO_STATUS_BLOCK iosb;
    PIRP sub;
    NTSTATUS status;
    ULONG64* r = report + m * METHOD_VALUES;
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    RtlZeroMemory(g_seen, sizeof(g_seen));
    sub = IoBuildDeviceIoControlRequest(codes[m], g_lower, input, sizeof(input), output, sizeof(output), FALSE, &event,
                                        &iosb);
    if (!sub) return complete(irp, STATUS_INSUFFICIENT_RESOURCES, 0);
    status = call_and_wait(g_lower, sub, &event, &iosb);
    r[0] = (ULONG)status;
    r[1] = iosb.Information;
    RtlCopyMemory(&r[2], output, 8);
    for (i = 0; i < SEEN_VALUES; ++i) r[3 + i] = g_seen[i];
    r[17] = (ULONG64)(ULONG_PTR)input;
    r[18] = (ULONG64)(ULONG_PTR)output;
  }
  return complete(irp, STATUS_SUCCESS, 4 * METHOD_VALUES * sizeof(ULONG64));
}

static NTSTATUS NTAPI FlushDone(PDEVICE_OBJECT device, PIRP irp, PVOID context) {
  UNREFERENCED_PARAMETER(device);
  DbgPrint("stack: async flush completes with 0x%08x; the builder frees it\n", (unsigned)irp->IoStatus.Status);
  IoFreeIrp(irp);
  KeSetEvent((PKEVENT)context, IO_NO_INCREMENT, FALSE);
  return STATUS_MORE_PROCESSING_REQUIRED;
}

/* FILTER_FSD: per operation 14 values: IoCallDriver's status, the
   IO_STATUS_BLOCK, the first 8 bytes of the buffer afterwards, the 10 values
   the lower dispatch saw; operations: buffered write, buffered read, direct
   write, direct read, async flush; then the write and read buffers' addresses. */
#define FSD_VALUES 14
static NTSTATUS filter_fsd(PIRP irp, ULONG out_len) {
  ULONG64* report = irp->AssociatedIrp.SystemBuffer;
  ULONG op, i;
  char wbuf[8] = {'S', 'T', 'A', 'C', 'K', 'F', 'S', 'D'};
  char rbuf[16];
  if (out_len < (5 * FSD_VALUES + 2) * sizeof(ULONG64)) return complete(irp, STATUS_BUFFER_TOO_SMALL, 0);
  for (op = 0; op < 5; ++op) {
    KEVENT event;
    IO_STATUS_BLOCK iosb;
    LARGE_INTEGER offset;
    PIRP sub;
    NTSTATUS status;
    PDEVICE_OBJECT target = op < 2 || op == 4 ? g_lower : g_direct;
    BOOLEAN write = op == 0 || op == 2;
    ULONG64* r = report + op * FSD_VALUES;
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    RtlZeroMemory(g_seen, sizeof(g_seen));
    RtlFillMemory(rbuf, sizeof(rbuf), '.');
    /* Marks an IO_STATUS_BLOCK nobody wrote (the async flush's completion
       routine stops completion before the I/O manager would write it). */
    iosb.Status = 0x0BADF00D;
    iosb.Information = 0xF00D;
    offset.QuadPart = write ? 4 : 0;
    if (op == 4) {
      sub = IoBuildAsynchronousFsdRequest(IRP_MJ_FLUSH_BUFFERS, target, NULL, 0, NULL, &iosb);
      if (!sub) return complete(irp, STATUS_INSUFFICIENT_RESOURCES, 0);
      IoSetCompletionRoutine(sub, FlushDone, &event, TRUE, TRUE, TRUE);
      status = IoCallDriver(target, sub);
      KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, NULL);
    } else {
      sub = IoBuildSynchronousFsdRequest(write ? IRP_MJ_WRITE : IRP_MJ_READ, target, write ? wbuf : rbuf,
                                         write ? sizeof(wbuf) : sizeof(rbuf), &offset, &event, &iosb);
      if (!sub) return complete(irp, STATUS_INSUFFICIENT_RESOURCES, 0);
      status = IoCallDriver(target, sub);
      if (status == STATUS_PENDING) KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, NULL);
    }
    r[0] = (ULONG)status;
    r[1] = (ULONG)iosb.Status;
    r[2] = iosb.Information;
    RtlCopyMemory(&r[3], write ? wbuf : rbuf, 8);
    for (i = 0; i < 10; ++i) r[4 + i] = g_seen[i];
  }
  report[5 * FSD_VALUES] = (ULONG64)(ULONG_PTR)wbuf;
  report[5 * FSD_VALUES + 1] = (ULONG64)(ULONG_PTR)rbuf;
  return complete(irp, STATUS_SUCCESS, (5 * FSD_VALUES + 2) * sizeof(ULONG64));
}

/* FILTER_INFO: 22 values about the stack and the requestor. */
#define INFO_VALUES 22
static NTSTATUS filter_info(PDEVICE_OBJECT device, PIRP irp, PIO_STACK_LOCATION sl, ULONG out_len) {
  ULONG64* r = irp->AssociatedIrp.SystemBuffer;
  PDEVICE_OBJECT top, base, below;
  if (out_len < INFO_VALUES * sizeof(ULONG64)) return complete(irp, STATUS_BUFFER_TOO_SMALL, 0);
  top = IoGetAttachedDeviceReference(g_lower);
  base = IoGetDeviceAttachmentBaseRef(device);
  below = IoGetLowerDeviceObject(device);
  r[0] = device->StackSize;
  r[1] = g_lower->StackSize;
  r[2] = g_lower->AttachedDevice == device;
  r[3] = top == device;
  r[4] = base == g_lower;
  r[5] = below == g_lower;
  r[6] = IoGetLowerDeviceObject(g_lower) == NULL;
  r[7] = IoGetRelatedDeviceObject(sl->FileObject) == device;
  r[8] = sl->FileObject->DeviceObject == g_lower;
  r[9] = IoGetRequestorProcessId(irp);
  r[10] = IoGetRequestorProcess(irp) == PsGetCurrentProcess();
  r[11] = IoIs32bitProcess(irp);
  r[12] = IoThreadToProcess(irp->Tail.Overlay.Thread) == PsGetCurrentProcess();
  r[13] = IoIsWdmVersionAvailable(6, 0);
  r[14] = IoIsWdmVersionAvailable(6, 1);
  r[15] = IoIsWdmVersionAvailable(1, 0x30);
  r[16] = IoIsWdmVersionAvailable(7, 0);
  r[17] = (g_lower->Flags & DO_SHUTDOWN_REGISTERED) != 0;
  r[18] = irp->RequestorMode;
  r[19] = irp->StackCount;
  r[20] = irp->CurrentLocation;
  r[21] = count_devices(device->DriverObject);
  ObDereferenceObject(top);
  ObDereferenceObject(base);
  if (below) ObDereferenceObject(below);
  return complete(irp, STATUS_SUCCESS, INFO_VALUES * sizeof(ULONG64));
}

/* FILTER_CANCEL: 8 values: IoCallDriver's status for a PEND_PLAIN sent with
   IoBuildDeviceIoControlRequest, IoCancelIrp's answer, the IO_STATUS_BLOCK,
   IoCancelIrp's answer for an IRP never sent (no cancel routine) and its
   Cancel flag, then the IRQL the cancel routine ran at and its CancelIrql. */
static NTSTATUS filter_cancel(PIRP irp, ULONG out_len) {
  ULONG64* r = irp->AssociatedIrp.SystemBuffer;
  KEVENT event;
  IO_STATUS_BLOCK iosb;
  PIRP sub, unsent;
  if (out_len < 8 * sizeof(ULONG64)) return complete(irp, STATUS_BUFFER_TOO_SMALL, 0);
  KeInitializeEvent(&event, NotificationEvent, FALSE);
  sub = IoBuildDeviceIoControlRequest(IOCTL_PEND_PLAIN, g_lower, NULL, 0, NULL, 0, FALSE, &event, &iosb);
  if (!sub) return complete(irp, STATUS_INSUFFICIENT_RESOURCES, 0);
  r[0] = (ULONG)IoCallDriver(g_lower, sub);
  r[1] = IoCancelIrp(sub);
  KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, NULL);
  r[2] = (ULONG)iosb.Status;
  r[3] = iosb.Information;
  unsent = IoAllocateIrp(1, FALSE);
  if (!unsent) return complete(irp, STATUS_INSUFFICIENT_RESOURCES, 0);
  r[4] = IoCancelIrp(unsent);
  r[5] = unsent->Cancel;
  IoFreeIrp(unsent);
  r[6] = g_plain_irql;
  r[7] = g_plain_cancel_irql;
  return complete(irp, STATUS_SUCCESS, 8 * sizeof(ULONG64));
}

static NTSTATUS filter_dispatch(PDEVICE_OBJECT device, PIRP irp) {
  PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(irp);
  PDEVICE_OBJECT target = ext_of(device)->target;
  const char* who = ext_of(device)->kind == KIND_FILTER2 ? "filter2" : "filter";
  if (sl->MajorFunction == IRP_MJ_DEVICE_CONTROL && ext_of(device)->kind == KIND_FILTER) {
    ULONG code = sl->Parameters.DeviceIoControl.IoControlCode;
    ULONG out_len = sl->Parameters.DeviceIoControl.OutputBufferLength;
    if (((code >> 2) & 0xFFF) >= FILTER_FUNCTION_FIRST) {
      switch (code) {
        case IOCTL_FILTER_INFO: return filter_info(device, irp, sl, out_len);
        case IOCTL_FILTER_METHODS: return filter_methods(irp, out_len);
        case IOCTL_FILTER_FSD: return filter_fsd(irp, out_len);
        case IOCTL_FILTER_CANCEL: return filter_cancel(irp, out_len);
        default: return complete(irp, STATUS_INVALID_DEVICE_REQUEST, 0);
      }
    }
    /* The lower device's IOCTLs go down with a completion routine. */
    IoCopyCurrentIrpStackLocationToNext(irp);
    IoSetCompletionRoutine(irp, FilterCompletion, NULL, TRUE, TRUE, TRUE);
    return IoCallDriver(target, irp);
  }
  DbgPrint("stack: %s %s, requestor %u\n", who, major_name(sl->MajorFunction), (unsigned)irp->RequestorMode);
  IoSkipCurrentIrpStackLocation(irp);
  return IoCallDriver(target, irp);
}

static NTSTATUS NTAPI Dispatch(PDEVICE_OBJECT device, PIRP irp) {
  ULONG kind = ext_of(device)->kind;
  return kind == KIND_FILTER || kind == KIND_FILTER2 ? filter_dispatch(device, irp) : lower_dispatch(device, irp);
}

static VOID NTAPI Unload(PDRIVER_OBJECT driver) {
  UNICODE_STRING link;
  RtlInitUnicodeString(&link, L"\\??\\KemuStack");
  IoDeleteSymbolicLink(&link);
  /* Deleting the lower device while the filter is attached above it: it stays
     in the driver's list until the filter detaches. */
  IoDeleteDevice(g_lower);
  DbgPrint("stack: lower deleted, %u devices listed\n", count_devices(driver));
  IoDetachDevice(g_lower);
  DbgPrint("stack: filter detached, %u devices listed\n", count_devices(driver));
  IoDeleteDevice(g_filter);
  IoDeleteDevice(g_direct);
  DbgPrint("stack: unloaded, %u devices listed\n", count_devices(driver));
  IoFreeWorkItem(g_work);
}

static NTSTATUS create_device(PDRIVER_OBJECT driver, PCWSTR name, ULONG kind, PDEVICE_OBJECT* out) {
  UNICODE_STRING us;
  NTSTATUS status;
  if (name) RtlInitUnicodeString(&us, name);
  status = IoCreateDevice(driver, sizeof(STACK_EXTENSION), name ? &us : NULL, FILE_DEVICE_UNKNOWN, 0, FALSE, out);
  if (NT_SUCCESS(status)) {
    ext_of(*out)->kind = kind;
    ext_of(*out)->target = NULL;
  }
  return status;
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  UNICODE_STRING lower_name, link;
  PFILE_OBJECT file;
  PDEVICE_OBJECT top, filter2, attached;
  NTSTATUS status;
  ULONG i;
  UNREFERENCED_PARAMETER(RegistryPath);

  for (i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; ++i) DriverObject->MajorFunction[i] = Dispatch;
  DriverObject->DriverUnload = Unload;
  DriverObject->DriverStartIo = StartIo;
  InitializeListHead(&g_queue_a);
  InitializeListHead(&g_queue_b);
  KeInitializeSpinLock(&g_lock_a);
  KeInitializeSpinLock(&g_lock_b);

  status = create_device(DriverObject, L"\\Device\\KemuStackLower", KIND_LOWER, &g_lower);
  if (!NT_SUCCESS(status)) return status;
  g_lower->Flags |= DO_BUFFERED_IO;
  g_lower->Flags &= ~DO_DEVICE_INITIALIZING; /* opened below, before DriverEntry returns */
  status = create_device(DriverObject, L"\\Device\\KemuStackDirect", KIND_DIRECT, &g_direct);
  if (!NT_SUCCESS(status)) return status;
  g_direct->Flags |= DO_DIRECT_IO;
  g_work = IoAllocateWorkItem(g_lower);
  DbgPrint("stack: shutdown registration 0x%08x\n", (unsigned)IoRegisterShutdownNotification(g_lower));

  /* A kernel-mode open by name: CREATE and CLEANUP now, CLOSE on the dereference. */
  RtlInitUnicodeString(&lower_name, L"\\Device\\KemuStackLower");
  status = IoGetDeviceObjectPointer(&lower_name, FILE_READ_DATA, &file, &top);
  DbgPrint("stack: IoGetDeviceObjectPointer 0x%08x, top is lower %u, file names lower %u\n", (unsigned)status,
           (unsigned)(top == g_lower), (unsigned)(file->DeviceObject == g_lower));
  if (!NT_SUCCESS(status)) return status;

  status = create_device(DriverObject, NULL, KIND_FILTER, &g_filter);
  if (!NT_SUCCESS(status)) return status;
  status = IoAttachDeviceToDeviceStackSafe(g_filter, g_lower, &ext_of(g_filter)->target);
  DbgPrint("stack: attach 0x%08x, attached to lower %u, stack sizes %d and %d\n", (unsigned)status,
           (unsigned)(ext_of(g_filter)->target == g_lower), g_filter->StackSize, g_lower->StackSize);
  g_filter->Flags |= g_lower->Flags & (DO_BUFFERED_IO | DO_DIRECT_IO);
  g_filter->Flags &= ~DO_DEVICE_INITIALIZING;
  /* Requests on that file object now reach the filter first. */
  ObDereferenceObject(file);

  /* IoAttachDevice by name: a second filter on the top of the stack, then detached and deleted. */
  status = create_device(DriverObject, NULL, KIND_FILTER2, &filter2);
  if (!NT_SUCCESS(status)) return status;
  /* IoAttachDevice drops its file object after attaching: that IRP_MJ_CLOSE
     already reaches filter2, so filter2 knows where it will sit beforehand. */
  ext_of(filter2)->target = IoGetAttachedDevice(g_lower);
  status = IoAttachDevice(filter2, &lower_name, &attached);
  DbgPrint("stack: IoAttachDevice 0x%08x, attached to filter %u, stack size %d, top is filter2 %u\n", (unsigned)status,
           (unsigned)(attached == g_filter), filter2->StackSize, (unsigned)(IoGetAttachedDevice(g_lower) == filter2));
  IoDetachDevice(g_filter);
  IoDeleteDevice(filter2);
  DbgPrint("stack: filter2 gone, top is filter %u, %u devices listed\n",
           (unsigned)(IoGetAttachedDevice(g_lower) == g_filter), count_devices(DriverObject));

  status = IoCsqInitialize(&g_csq_a, CsqInsertA, CsqRemove, CsqPeek, CsqAcquire, CsqRelease, CsqCompleteCanceled);
  if (!NT_SUCCESS(status)) return status;
  status = IoCsqInitializeEx(&g_csq_b, CsqInsertB, CsqRemove, CsqPeek, CsqAcquire, CsqRelease, CsqCompleteCanceled);
  if (!NT_SUCCESS(status)) return status;
  DbgPrint("stack: queues of types %u and %u\n", (unsigned)g_csq_a.Type, (unsigned)g_csq_b.Type);

  RtlInitUnicodeString(&link, L"\\??\\KemuStack");
  return IoCreateSymbolicLink(&link, &lower_name);
}
