/*
 * msr_write: a CPU-tuning driver whose tool sets the processor's performance
 * ratio. Bug: it exposes a raw MSR write — the register number and the
 * 64-bit value come from the caller and go to __writemsr verbatim — over an
 * IOCTL defined with FILE_ANY_ACCESS (checks.md primitive.msr-write,
 * irp.any-access-dangerous). A caller who writes IA32_LSTAR owns the next
 * system call: Windows crashes there, or PatchGuard stops the machine with bug
 * check 0x109 CRITICAL_STRUCTURE_CORRUPTION, type 7 (critical MSR
 * modification). Fixed: the IOCTL (FILE_WRITE_ACCESS) takes a ratio, checks it
 * against the range the processor reports, and writes IA32_PERF_CTL with a
 * value the driver builds.
 */
#include "bug_driver.h"
#include <intrin.h>

#define IOCTL_WRITE_MSR CTL_CODE(0x8000, 0xB00, METHOD_BUFFERED, FILE_ANY_ACCESS)        /* 0x80002C00 */
#define IOCTL_SET_RATIO CTL_CODE(0x8000, 0xB01, METHOD_BUFFERED, FILE_WRITE_ACCESS)      /* 0x8000AC04 */

#define MSR_PLATFORM_INFO 0xCE
#define IA32_PERF_CTL 0x199
#define MINIMUM_RATIO 8

typedef struct {
  ULONG Register;
  ULONG Reserved;
  ULONG64 Value;
} MSR_WRITE;

#ifndef KEMU_FIXED
BUG_ROUTINE NTSTATUS WriteModelSpecificRegister(const MSR_WRITE *in) {
  __writemsr(in->Register, in->Value);
  return STATUS_SUCCESS;
}
#else
BUG_ROUTINE NTSTATUS SetPerformanceRatio(ULONG ratio, PULONG64 perf_ctl) {
  /* The highest non-turbo ratio the processor supports: PLATFORM_INFO[15:8]. */
  ULONG maximum = (ULONG)((__readmsr(MSR_PLATFORM_INFO) >> 8) & 0xFF);
  if (ratio < MINIMUM_RATIO || ratio > maximum) return STATUS_INVALID_PARAMETER;
  __writemsr(IA32_PERF_CTL, (ULONG64)ratio << 8);
  *perf_ctl = __readmsr(IA32_PERF_CTL); /* what the processor now holds, for the tool */
  return STATUS_SUCCESS;
}
#endif

static NTSTATUS bug_ioctl(PIRP irp, PIO_STACK_LOCATION sp, ULONG_PTR *information) {
  PVOID buffer = irp->AssociatedIrp.SystemBuffer;
  ULONG in_length = sp->Parameters.DeviceIoControl.InputBufferLength;
  switch (sp->Parameters.DeviceIoControl.IoControlCode) {
#ifndef KEMU_FIXED
    case IOCTL_WRITE_MSR:
      if (in_length < sizeof(MSR_WRITE)) return STATUS_BUFFER_TOO_SMALL;
      return WriteModelSpecificRegister((const MSR_WRITE *)buffer);
#else
    case IOCTL_SET_RATIO: {
      NTSTATUS status;
      if (in_length < sizeof(ULONG) || sp->Parameters.DeviceIoControl.OutputBufferLength < sizeof(ULONG64))
        return STATUS_BUFFER_TOO_SMALL;
      status = SetPerformanceRatio(*(PULONG)buffer, (PULONG64)buffer);
      if (NT_SUCCESS(status)) *information = sizeof(ULONG64);
      return status;
    }
#endif
    default:
      return STATUS_INVALID_DEVICE_REQUEST;
  }
}
static NTSTATUS bug_entry(PDRIVER_OBJECT driver) { return STATUS_SUCCESS; }
static VOID bug_unload(VOID) {}
