/*
 * uninitialized_output: a METHOD_BUFFERED query fills a reply in place in
 * the system buffer. Bug: the reply has padding (a UCHAR followed by a
 * ULONG64) and a reserved field the driver never writes, and the whole
 * structure goes back: the caller reads pool bytes it was never meant to see
 * (checks.md buffer.uninitialized-output). Fixed: RtlZeroMemory first.
 */
#include "bug_driver.h"

typedef struct {
  UCHAR state;       /* 7 bytes of padding follow */
  ULONG64 counter;
  ULONG reserved[2]; /* never set */
} DEVICE_STATE;

BUG_ROUTINE NTSTATUS QueryState(PIRP irp, PIO_STACK_LOCATION sp, ULONG_PTR *information) {
  DEVICE_STATE *reply = (DEVICE_STATE *)irp->AssociatedIrp.SystemBuffer;
  if (sp->Parameters.DeviceIoControl.OutputBufferLength < sizeof(*reply)) return STATUS_BUFFER_TOO_SMALL;
#ifdef KEMU_FIXED
  RtlZeroMemory(reply, sizeof(*reply));
#endif
  reply->state = 1;
  reply->counter = 42;
  *information = sizeof(*reply);
  return STATUS_SUCCESS;
}

static NTSTATUS bug_ioctl(PIRP irp, PIO_STACK_LOCATION sp, ULONG_PTR *information) {
  if (sp->Parameters.DeviceIoControl.IoControlCode != BUG_IOCTL(0)) return STATUS_INVALID_DEVICE_REQUEST;
  return QueryState(irp, sp, information);
}
static NTSTATUS bug_entry(PDRIVER_OBJECT driver) { return STATUS_SUCCESS; }
static VOID bug_unload(VOID) {}
