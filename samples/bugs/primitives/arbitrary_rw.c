/*
 * arbitrary_rw: a driver whose tool reads and resets statistics counters.
 * Bug: the tool was given the counters' kernel address, and the IOCTLs read and
 * write through whatever address the caller sends back (and copy a block of
 * them with RtlCopyMemory) — a kernel read/write
 * primitive for anyone who can open the device (FILE_ANY_ACCESS; checks.md
 * primitive.arbitrary-rw, irp.any-access-dangerous). The scenario reads
 * NtBuildNumber from KUSER_SHARED_DATA's kernel address, then writes there: that
 * page is read-only for the kernel too, bug check 0xBE. Fixed: the caller names
 * a counter by index; the driver bounds it against its own table (FILE_READ_ACCESS
 * to read, FILE_WRITE_ACCESS to reset).
 */
#include "bug_driver.h"

#define IOCTL_READ_COUNTER CTL_CODE(0x8000, 0xB00, METHOD_BUFFERED, FILE_ANY_ACCESS)   /* 0x80002C00 */
#define IOCTL_WRITE_COUNTER CTL_CODE(0x8000, 0xB01, METHOD_BUFFERED, FILE_ANY_ACCESS)  /* 0x80002C04 */
#define IOCTL_COPY_COUNTERS CTL_CODE(0x8000, 0xB04, METHOD_BUFFERED, FILE_ANY_ACCESS)  /* 0x80002C10 */
#define IOCTL_READ_COUNTER_BY_INDEX CTL_CODE(0x8000, 0xB02, METHOD_BUFFERED, FILE_READ_ACCESS)   /* 0x80006C08 */
#define IOCTL_RESET_COUNTER_BY_INDEX CTL_CODE(0x8000, 0xB03, METHOD_BUFFERED, FILE_WRITE_ACCESS) /* 0x8000AC0C */

#define COUNTERS 4

typedef struct {
  ULONG64 Target; /* bug: the counter's address; fixed: its index */
  ULONG64 Value;
} COUNTER_REQUEST;

#ifndef KEMU_FIXED
BUG_ROUTINE ULONG ReadCounter(const COUNTER_REQUEST *in) { return *(volatile ULONG *)(ULONG_PTR)in->Target; }
BUG_ROUTINE VOID WriteCounter(const COUNTER_REQUEST *in) { *(volatile ULONG *)(ULONG_PTR)in->Target = (ULONG)in->Value; }
BUG_ROUTINE ULONG_PTR CopyCounters(PVOID out, const COUNTER_REQUEST *in) {
  RtlCopyMemory(out, (const VOID *)(ULONG_PTR)in->Target, (SIZE_T)in->Value);
  return (ULONG_PTR)in->Value; /* the bytes copied */
}
#define READ_CODE IOCTL_READ_COUNTER
#define WRITE_CODE IOCTL_WRITE_COUNTER
#define CHECK_TARGET(in) STATUS_SUCCESS
#else
static volatile ULONG g_counters[COUNTERS] = {7, 11, 13, 17};
BUG_ROUTINE ULONG ReadCounter(const COUNTER_REQUEST *in) { return g_counters[in->Target]; }
BUG_ROUTINE VOID WriteCounter(const COUNTER_REQUEST *in) { g_counters[in->Target] = (ULONG)in->Value; }
#define READ_CODE IOCTL_READ_COUNTER_BY_INDEX
#define WRITE_CODE IOCTL_RESET_COUNTER_BY_INDEX
#define CHECK_TARGET(in) ((in)->Target < COUNTERS ? STATUS_SUCCESS : STATUS_INVALID_PARAMETER)
#endif

static NTSTATUS bug_ioctl(PIRP irp, PIO_STACK_LOCATION sp, ULONG_PTR *information) {
  COUNTER_REQUEST *buffer = irp->AssociatedIrp.SystemBuffer;
  ULONG code = sp->Parameters.DeviceIoControl.IoControlCode;
  NTSTATUS status;
#ifndef KEMU_FIXED
  if (code == IOCTL_COPY_COUNTERS) {
    COUNTER_REQUEST in;
    if (sp->Parameters.DeviceIoControl.InputBufferLength < sizeof(in)) return STATUS_BUFFER_TOO_SMALL;
    in = *buffer;
    if (in.Value > sp->Parameters.DeviceIoControl.OutputBufferLength) return STATUS_BUFFER_TOO_SMALL;
    *information = CopyCounters(buffer, &in);
    return STATUS_SUCCESS;
  }
#endif
  if (code != READ_CODE && code != WRITE_CODE) return STATUS_INVALID_DEVICE_REQUEST;
  if (sp->Parameters.DeviceIoControl.InputBufferLength < sizeof(COUNTER_REQUEST)) return STATUS_BUFFER_TOO_SMALL;
  status = CHECK_TARGET(buffer);
  if (!NT_SUCCESS(status)) return status;
  if (code == WRITE_CODE) {
    WriteCounter(buffer);
    return STATUS_SUCCESS;
  }
  if (sp->Parameters.DeviceIoControl.OutputBufferLength < sizeof(ULONG)) return STATUS_BUFFER_TOO_SMALL;
  *(PULONG)buffer = ReadCounter(buffer);
  *information = sizeof(ULONG);
  return STATUS_SUCCESS;
}
static NTSTATUS bug_entry(PDRIVER_OBJECT driver) { return STATUS_SUCCESS; }
static VOID bug_unload(VOID) {}
