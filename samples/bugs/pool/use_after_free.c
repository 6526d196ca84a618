/*
 * use_after_free: an IOCTL that runs a "job" described by a pool context and
 * returns its result. Bug: the context is freed as soon as the job is done,
 * and the result is then read from it: a read of freed pool, which on
 * Windows may already hold another allocation (checks.md
 * pool.use-after-free; special pool: 0xD5). Fixed: the result is taken
 * before the context is freed.
 */
#include "bug_driver.h"

#define IOCTL_RUN_JOB CTL_CODE(0x8000, 0xB23, METHOD_BUFFERED, FILE_ANY_ACCESS) /* 0x80002C8C */
#define JOB_TAG 'boJR'

typedef struct _JOB {
  ULONG Input;
  ULONG Steps;
  ULONG Result;
  ULONG Reserved;
} JOB;

static KEMU_NOINLINE VOID RunSteps(JOB *job) {
  ULONG i;
  job->Result = job->Input;
  for (i = 0; i < job->Steps; ++i) job->Result = job->Result * 3 + 1;
}

BUG_ROUTINE NTSTATUS RunJob(ULONG input, ULONG *result) {
  JOB *job = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof(JOB), JOB_TAG);
  if (!job) return STATUS_INSUFFICIENT_RESOURCES;
  job->Input = input;
  job->Steps = 4;
  RunSteps(job);
#ifdef KEMU_FIXED
  *result = job->Result;
  ExFreePoolWithTag(job, JOB_TAG);
#else
  ExFreePoolWithTag(job, JOB_TAG);
  *result = job->Result;
#endif
  return STATUS_SUCCESS;
}

static NTSTATUS bug_ioctl(PIRP irp, PIO_STACK_LOCATION sp, ULONG_PTR *information) {
  ULONG *buffer = irp->AssociatedIrp.SystemBuffer;
  NTSTATUS status;
  if (sp->Parameters.DeviceIoControl.IoControlCode != IOCTL_RUN_JOB) return STATUS_INVALID_DEVICE_REQUEST;
  if (sp->Parameters.DeviceIoControl.InputBufferLength < sizeof(ULONG) ||
      sp->Parameters.DeviceIoControl.OutputBufferLength < sizeof(ULONG))
    return STATUS_BUFFER_TOO_SMALL;
  status = RunJob(buffer[0], &buffer[0]);
  if (NT_SUCCESS(status)) *information = sizeof(ULONG);
  return status;
}
static NTSTATUS bug_entry(PDRIVER_OBJECT driver) { return STATUS_SUCCESS; }
static VOID bug_unload(VOID) {}
