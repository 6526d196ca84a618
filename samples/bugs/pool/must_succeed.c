/*
 * must_succeed: an IOCTL that builds a reply in a scratch buffer, the way
 * old NT4-era code did. Bug: the scratch buffer is allocated without a tag
 * (tag 0 cannot be told apart in pool tracking; Verifier 0xC2/0x9B), and the
 * reply record from NonPagedPoolMustSucceed "so it cannot fail" - a pool type
 * drivers may never use, which Windows 10 answers with BAD_POOL_CALLER 0x9A
 * (checks.md pool.must-succeed). Fixed: NonPagedPoolNx with tags, and the
 * NULL result handled.
 */
#include "bug_driver.h"

#define IOCTL_GET_REPLY CTL_CODE(0x8000, 0xB21, METHOD_BUFFERED, FILE_ANY_ACCESS) /* 0x80002C84 */
#define REPLY_TAG 'ylpR'
#define SCRATCH_TAG 'rcsR'

typedef struct _REPLY {
  ULONG Version;
  ULONG Flags;
} REPLY;

BUG_ROUTINE NTSTATUS BuildReply(void *out, ULONG length, ULONG_PTR *information) {
  UCHAR *scratch;
  REPLY *reply;
  if (length < sizeof(REPLY)) return STATUS_BUFFER_TOO_SMALL;
#ifdef KEMU_FIXED
  scratch = ExAllocatePoolWithTag(NonPagedPoolNx, 64, SCRATCH_TAG);
#else
  scratch = ExAllocatePoolWithTag(NonPagedPoolNx, 64, 0);
#endif
  if (!scratch) return STATUS_INSUFFICIENT_RESOURCES;
  RtlZeroMemory(scratch, 64);
#ifdef KEMU_FIXED
  reply = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof(REPLY), REPLY_TAG);
  if (!reply) {
    ExFreePoolWithTag(scratch, SCRATCH_TAG);
    return STATUS_INSUFFICIENT_RESOURCES;
  }
#else
  reply = ExAllocatePoolWithTag(NonPagedPoolMustSucceed, sizeof(REPLY), REPLY_TAG);
#endif
  reply->Version = 1;
  reply->Flags = scratch[0];
  RtlCopyMemory(out, reply, sizeof(REPLY));
  ExFreePoolWithTag(reply, REPLY_TAG);
#ifdef KEMU_FIXED
  ExFreePoolWithTag(scratch, SCRATCH_TAG);
#else
  ExFreePoolWithTag(scratch, 0);
#endif
  *information = sizeof(REPLY);
  return STATUS_SUCCESS;
}

static NTSTATUS bug_ioctl(PIRP irp, PIO_STACK_LOCATION sp, ULONG_PTR *information) {
  if (sp->Parameters.DeviceIoControl.IoControlCode != IOCTL_GET_REPLY) return STATUS_INVALID_DEVICE_REQUEST;
  return BuildReply(irp->AssociatedIrp.SystemBuffer, sp->Parameters.DeviceIoControl.OutputBufferLength, information);
}
static NTSTATUS bug_entry(PDRIVER_OBJECT driver) { return STATUS_SUCCESS; }
static VOID bug_unload(VOID) {}
