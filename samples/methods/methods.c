/*
 * methods.sys - a device driven by a user-mode client: one IOCTL per buffer
 * method, an IOCTL that needs FILE_WRITE_ACCESS, and an IOCTL that reports
 * what the dispatch routine sees (RequestorMode, ExGetPreviousMode, the
 * current process, the buffers) and the CREATE/CLEANUP/CLOSE counters.
 * IOCTL_IN_DIRECT_RECORD / IOCTL_OUT_DIRECT_RECORD record the MDL the I/O
 * manager built (byte count, offset, flags, size) for IOCTL_LAST_DIRECT.
 */
#include "kemu_sample.h"

KEMU_DRIVER_ENTRY;

#define METHODS_TYPE 0x8000
#define IOCTL_BUFFERED_UPPER CTL_CODE(METHODS_TYPE, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_NEITHER_UPPER CTL_CODE(METHODS_TYPE, 0x801, METHOD_NEITHER, FILE_ANY_ACCESS)
#define IOCTL_NEEDS_WRITE CTL_CODE(METHODS_TYPE, 0x802, METHOD_BUFFERED, FILE_WRITE_ACCESS)
#define IOCTL_INFO CTL_CODE(METHODS_TYPE, 0x803, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_OUT_DIRECT_UPPER CTL_CODE(METHODS_TYPE, 0x804, METHOD_OUT_DIRECT, FILE_ANY_ACCESS)
#define IOCTL_IN_DIRECT_SUM CTL_CODE(METHODS_TYPE, 0x805, METHOD_IN_DIRECT, FILE_ANY_ACCESS)
#define IOCTL_NEITHER_STORE_ULONG CTL_CODE(METHODS_TYPE, 0x806, METHOD_NEITHER, FILE_ANY_ACCESS)
#define IOCTL_NEITHER_UNGUARDED CTL_CODE(METHODS_TYPE, 0x807, METHOD_NEITHER, FILE_ANY_ACCESS)
#define IOCTL_IN_DIRECT_RECORD CTL_CODE(METHODS_TYPE, 0x808, METHOD_IN_DIRECT, FILE_ANY_ACCESS)
#define IOCTL_OUT_DIRECT_RECORD CTL_CODE(METHODS_TYPE, 0x809, METHOD_OUT_DIRECT, FILE_ANY_ACCESS)
#define IOCTL_LAST_DIRECT CTL_CODE(METHODS_TYPE, 0x80A, METHOD_BUFFERED, FILE_ANY_ACCESS)

typedef struct {
  ULONG requestor_mode;
  ULONG previous_mode;
  ULONG64 process_id;
  ULONG creates, cleanups, closes;
  ULONG input_length, output_length;
  ULONG64 system_buffer;
  ULONG system_buffer_is_kernel;
  ULONG pattern_byte; /* the first system-buffer byte past the input */
} METHODS_INFO;

/* What the last IN_DIRECT/OUT_DIRECT "record" request saw of its MDL,
   untouched by the driver (not mapped, not read): IOCTL_LAST_DIRECT returns it. */
typedef struct {
  ULONG requests;
  ULONG mdl_present;
  ULONG byte_count, byte_offset;
  ULONG mdl_flags, mdl_size;
  ULONG64 start_va, virtual_address;
  ULONG64 system_buffer;
  ULONG in_len, out_len;
  ULONG process_is_current;
  ULONG pad;
} DIRECT_INFO;

static PDEVICE_OBJECT g_device;
static DIRECT_INFO g_direct;
static LONG g_creates, g_cleanups, g_closes;
static char g_store[64] = "kemu-methods";
static ULONG g_stored = 12;

static NTSTATUS complete(PIRP irp, NTSTATUS status, ULONG_PTR information) {
  irp->IoStatus.Status = status;
  irp->IoStatus.Information = information;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  return status;
}

static NTSTATUS NTAPI DispatchCreateClose(PDEVICE_OBJECT device, PIRP irp) {
  UCHAR major = IoGetCurrentIrpStackLocation(irp)->MajorFunction;
  UNREFERENCED_PARAMETER(device);
  if (major == IRP_MJ_CREATE) InterlockedIncrement(&g_creates);
  if (major == IRP_MJ_CLEANUP) InterlockedIncrement(&g_cleanups);
  if (major == IRP_MJ_CLOSE) InterlockedIncrement(&g_closes);
  return complete(irp, STATUS_SUCCESS, 0);
}

/* User memory is touched in a callee, inside the caller's __try. */
__declspec(noinline) static void upper_copy(char* out, const char* in, ULONG n) {
  ULONG i;
  for (i = 0; i < n; ++i) out[i] = (in[i] >= 'a' && in[i] <= 'z') ? in[i] - 32 : in[i];
}

static NTSTATUS neither_upper(PIO_STACK_LOCATION sl, PIRP irp, ULONG_PTR* info) {
  PVOID in = sl->Parameters.DeviceIoControl.Type3InputBuffer;
  PVOID out = irp->UserBuffer;
  ULONG in_len = sl->Parameters.DeviceIoControl.InputBufferLength;
  ULONG out_len = sl->Parameters.DeviceIoControl.OutputBufferLength;
  ULONG n = in_len < out_len ? in_len : out_len;
  __try {
    ProbeForRead(in, in_len, 1);
    ProbeForWrite(out, out_len, 1);
    upper_copy(out, in, n);
  } __except (EXCEPTION_EXECUTE_HANDLER) {
    return GetExceptionCode();
  }
  *info = n;
  return STATUS_SUCCESS;
}

__declspec(noinline) static void store_ulong(ULONG* out, ULONG value) { *out = value; }

/* The documented pattern: probe the caller's pointer for a ULONG, inside __try. */
static NTSTATUS neither_store_ulong(PIRP irp, ULONG out_len) {
  __try {
    ProbeForWrite(irp->UserBuffer, out_len, sizeof(ULONG));
    if (out_len >= sizeof(ULONG)) store_ulong(irp->UserBuffer, 0x4B454D55);
  } __except (EXCEPTION_EXECUTE_HANDLER) {
    return GetExceptionCode();
  }
  return STATUS_SUCCESS;
}

static NTSTATUS NTAPI DispatchControl(PDEVICE_OBJECT device, PIRP irp) {
  PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(irp);
  ULONG in_len = sl->Parameters.DeviceIoControl.InputBufferLength;
  ULONG out_len = sl->Parameters.DeviceIoControl.OutputBufferLength;
  ULONG_PTR info = 0;
  NTSTATUS status;
  UNREFERENCED_PARAMETER(device);
  switch (sl->Parameters.DeviceIoControl.IoControlCode) {
    case IOCTL_BUFFERED_UPPER: {
      char* buffer = irp->AssociatedIrp.SystemBuffer;
      ULONG n = in_len < out_len ? in_len : out_len;
      if (n) upper_copy(buffer, buffer, n);
      return complete(irp, STATUS_SUCCESS, n);
    }
    case IOCTL_NEITHER_UPPER:
      status = neither_upper(sl, irp, &info);
      return complete(irp, status, info);
    case IOCTL_OUT_DIRECT_UPPER: {
      /* The input arrives in the system buffer, the output is an MDL (NULL
         when the output length is 0). */
      char* out;
      ULONG n;
      if (!irp->MdlAddress) return complete(irp, STATUS_INVALID_PARAMETER, 0);
      out = MmGetSystemAddressForMdlSafe(irp->MdlAddress, NormalPagePriority);
      if (!out) return complete(irp, STATUS_INSUFFICIENT_RESOURCES, 0);
      n = MmGetMdlByteCount(irp->MdlAddress);
      if (n > in_len) n = in_len;
      if (n) upper_copy(out, irp->AssociatedIrp.SystemBuffer, n);
      return complete(irp, STATUS_SUCCESS, n);
    }
    case IOCTL_IN_DIRECT_SUM: {
      /* METHOD_IN_DIRECT: the "output" buffer carries data to the driver. */
      const UCHAR* data;
      ULONG i, sum = 0;
      if (!irp->MdlAddress) return complete(irp, STATUS_INVALID_PARAMETER, 0);
      data = MmGetSystemAddressForMdlSafe(irp->MdlAddress, NormalPagePriority);
      if (!data) return complete(irp, STATUS_INSUFFICIENT_RESOURCES, 0);
      for (i = 0; i < MmGetMdlByteCount(irp->MdlAddress); ++i) sum += data[i];
      return complete(irp, STATUS_SUCCESS, sum);
    }
    case IOCTL_NEITHER_STORE_ULONG:
      status = neither_store_ulong(irp, out_len);
      return complete(irp, status, NT_SUCCESS(status) ? sizeof(ULONG) : 0);
    case IOCTL_NEITHER_UNGUARDED:
      /* No probe, no __try: a bad pointer is an unhandled exception in a system service. */
      store_ulong(irp->UserBuffer, 1);
      return complete(irp, STATUS_SUCCESS, sizeof(ULONG));
    case IOCTL_NEEDS_WRITE:
      return complete(irp, STATUS_SUCCESS, 0);
    case IOCTL_IN_DIRECT_RECORD:
    case IOCTL_OUT_DIRECT_RECORD: {
      PMDL mdl = irp->MdlAddress;
      ULONG requests = g_direct.requests + 1;
      RtlZeroMemory(&g_direct, sizeof(g_direct));
      g_direct.requests = requests;
      g_direct.in_len = in_len;
      g_direct.out_len = out_len;
      g_direct.system_buffer = (ULONG64)(ULONG_PTR)irp->AssociatedIrp.SystemBuffer;
      if (mdl) {
        g_direct.mdl_present = 1;
        g_direct.byte_count = MmGetMdlByteCount(mdl);
        g_direct.byte_offset = MmGetMdlByteOffset(mdl);
        g_direct.mdl_flags = (USHORT)mdl->MdlFlags;
        g_direct.mdl_size = (USHORT)mdl->Size;
        g_direct.start_va = (ULONG64)(ULONG_PTR)mdl->StartVa;
        g_direct.virtual_address = (ULONG64)(ULONG_PTR)MmGetMdlVirtualAddress(mdl);
        g_direct.process_is_current = mdl->Process == PsGetCurrentProcess();
      }
      return complete(irp, STATUS_SUCCESS, 0);
    }
    case IOCTL_LAST_DIRECT:
      if (out_len < sizeof(g_direct)) return complete(irp, STATUS_BUFFER_TOO_SMALL, 0);
      RtlCopyMemory(irp->AssociatedIrp.SystemBuffer, &g_direct, sizeof(g_direct));
      return complete(irp, STATUS_SUCCESS, sizeof(g_direct));
    case IOCTL_INFO: {
      METHODS_INFO* mi = irp->AssociatedIrp.SystemBuffer;
      UCHAR first_free;
      if (out_len < sizeof(*mi)) return complete(irp, STATUS_BUFFER_TOO_SMALL, 0);
      first_free = in_len < out_len ? ((UCHAR*)mi)[in_len] : 0;
      RtlZeroMemory(mi, sizeof(*mi));
      mi->requestor_mode = irp->RequestorMode;
      mi->previous_mode = ExGetPreviousMode();
      mi->process_id = (ULONG64)(ULONG_PTR)PsGetCurrentProcessId();
      mi->creates = g_creates;
      mi->cleanups = g_cleanups;
      mi->closes = g_closes;
      mi->input_length = in_len;
      mi->output_length = out_len;
      mi->system_buffer = (ULONG64)(ULONG_PTR)irp->AssociatedIrp.SystemBuffer;
      mi->system_buffer_is_kernel = (ULONG_PTR)irp->AssociatedIrp.SystemBuffer >= (ULONG_PTR)MmSystemRangeStart;
      mi->pattern_byte = first_free;
      return complete(irp, STATUS_SUCCESS, sizeof(*mi));
    }
    default:
      return complete(irp, STATUS_INVALID_DEVICE_REQUEST, 0);
  }
}

/* DO_BUFFERED_IO reads and writes: a 64-byte store addressed by ByteOffset. */
static NTSTATUS NTAPI DispatchReadWrite(PDEVICE_OBJECT device, PIRP irp) {
  PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(irp);
  char* buffer = irp->AssociatedIrp.SystemBuffer;
  ULONG length = sl->Parameters.Read.Length;
  LONGLONG offset = sl->Parameters.Read.ByteOffset.QuadPart;
  ULONG n, i;
  UNREFERENCED_PARAMETER(device);
  if (offset < 0 || offset > (LONGLONG)sizeof(g_store)) return complete(irp, STATUS_INVALID_PARAMETER, 0);
  if (sl->MajorFunction == IRP_MJ_READ) {
    if (offset >= g_stored) return complete(irp, STATUS_END_OF_FILE, 0);
    n = g_stored - (ULONG)offset;
    if (n > length) n = length;
    for (i = 0; i < n; ++i) buffer[i] = g_store[offset + i];
    return complete(irp, STATUS_SUCCESS, n);
  }
  n = sizeof(g_store) - (ULONG)offset;
  if (n > length) n = length;
  for (i = 0; i < n; ++i) g_store[offset + i] = buffer[i];
  if (offset + n > g_stored) g_stored = (ULONG)offset + n;
  return complete(irp, STATUS_SUCCESS, n);
}

static VOID NTAPI Unload(PDRIVER_OBJECT driver) {
  UNICODE_STRING link;
  UNREFERENCED_PARAMETER(driver);
  RtlInitUnicodeString(&link, L"\\??\\KemuMethods");
  IoDeleteSymbolicLink(&link);
  IoDeleteDevice(g_device);
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  UNICODE_STRING name, link;
  NTSTATUS status;
  UNREFERENCED_PARAMETER(RegistryPath);
  RtlInitUnicodeString(&name, L"\\Device\\KemuMethods");
  RtlInitUnicodeString(&link, L"\\??\\KemuMethods");
  status = IoCreateDevice(DriverObject, 0, &name, FILE_DEVICE_UNKNOWN, FILE_DEVICE_SECURE_OPEN, FALSE, &g_device);
  if (!NT_SUCCESS(status)) return status;
  status = IoCreateSymbolicLink(&link, &name);
  if (!NT_SUCCESS(status)) {
    IoDeleteDevice(g_device);
    return status;
  }
  DriverObject->MajorFunction[IRP_MJ_CREATE] = DispatchCreateClose;
  DriverObject->MajorFunction[IRP_MJ_CLEANUP] = DispatchCreateClose;
  DriverObject->MajorFunction[IRP_MJ_CLOSE] = DispatchCreateClose;
  DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = DispatchControl;
  DriverObject->MajorFunction[IRP_MJ_READ] = DispatchReadWrite;
  DriverObject->MajorFunction[IRP_MJ_WRITE] = DispatchReadWrite;
  g_device->Flags |= DO_BUFFERED_IO;
  DriverObject->DriverUnload = Unload;
  return STATUS_SUCCESS;
}
