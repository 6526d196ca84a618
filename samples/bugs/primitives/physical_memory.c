/*
 * physical_memory: a hardware-diagnostics driver that lets its tool read
 * device memory. Bug: the read IOCTLs take the physical address and length
 * from the caller — MmMapIoSpace of whatever the caller names, and a view of
 * \Device\PhysicalMemory at the caller's offset — and are defined with
 * FILE_ANY_ACCESS: anyone who can open the device reads all of physical
 * memory (checks.md primitive.physical-memory, irp.any-access-dangerous).
 * Fixed: the driver maps its own register block once, at a physical address
 * it owns (on real hardware: from its CM_RESOURCE_LIST), and the one IOCTL,
 * defined with FILE_READ_ACCESS, reads a register at a validated offset of it.
 */
#include "bug_driver.h"

#define IOCTL_READ_PHYSICAL CTL_CODE(0x8000, 0xB00, METHOD_BUFFERED, FILE_ANY_ACCESS)      /* 0x80002C00 */
#define IOCTL_READ_PHYSICAL_VIEW CTL_CODE(0x8000, 0xB01, METHOD_BUFFERED, FILE_ANY_ACCESS) /* 0x80002C04 */
#define IOCTL_READ_REGISTER CTL_CODE(0x8000, 0xB02, METHOD_BUFFERED, FILE_READ_ACCESS)     /* 0x80006C08 */

/* The device's register block (a BAR found in its resources on real hardware). */
#define DEVICE_REGISTERS_PHYSICAL 0xFED40000ull
#define DEVICE_REGISTERS_SIZE 0x1000u

typedef struct {
  ULONG64 PhysicalAddress;
  ULONG Length;
  ULONG Reserved;
} PHYSICAL_READ;

#ifndef KEMU_FIXED
/* Copies out of a mapping that may vanish under us (a view in the caller's process). */
KEMU_NOINLINE static VOID CopyFromView(PVOID out, const VOID *view, ULONG length) { RtlCopyMemory(out, view, length); }

BUG_ROUTINE NTSTATUS ReadPhysicalMemory(const PHYSICAL_READ *in, PVOID out, ULONG out_length, ULONG_PTR *information) {
  PHYSICAL_ADDRESS address;
  PVOID mapping;
  if (in->Length > out_length) return STATUS_BUFFER_TOO_SMALL;
  address.QuadPart = (LONGLONG)in->PhysicalAddress;
  mapping = MmMapIoSpace(address, in->Length, MmNonCached);
  if (!mapping) return STATUS_INSUFFICIENT_RESOURCES;
  RtlCopyMemory(out, mapping, in->Length);
  MmUnmapIoSpace(mapping, in->Length);
  *information = in->Length;
  return STATUS_SUCCESS;
}

BUG_ROUTINE NTSTATUS ReadPhysicalMemoryView(const PHYSICAL_READ *in, PVOID out, ULONG out_length,
                                            ULONG_PTR *information) {
  UNICODE_STRING name;
  OBJECT_ATTRIBUTES oa;
  HANDLE section;
  PVOID base = NULL;
  LARGE_INTEGER offset;
  SIZE_T view_size = in->Length;
  NTSTATUS status;
  if (in->Length > out_length) return STATUS_BUFFER_TOO_SMALL;
  RtlInitUnicodeString(&name, L"\\Device\\PhysicalMemory");
  InitializeObjectAttributes(&oa, &name, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
  status = ZwOpenSection(&section, SECTION_MAP_READ, &oa);
  if (!NT_SUCCESS(status)) return status;
  offset.QuadPart = (LONGLONG)in->PhysicalAddress;
  status = ZwMapViewOfSection(section, ZwCurrentProcess(), &base, 0, 0, &offset, &view_size, ViewUnmap, 0,
                              PAGE_READONLY);
  if (NT_SUCCESS(status)) {
    __try {
      CopyFromView(out, (PUCHAR)base + (in->PhysicalAddress - (ULONG64)offset.QuadPart), in->Length);
      *information = in->Length;
    } __except (EXCEPTION_EXECUTE_HANDLER) {
      status = GetExceptionCode();
    }
    ZwUnmapViewOfSection(ZwCurrentProcess(), base);
  }
  ZwClose(section);
  return status;
}
#else
static PUCHAR g_registers;

BUG_ROUTINE NTSTATUS ReadDeviceRegister(ULONG offset, PULONG out) {
  /* Only the driver's own register block, at an aligned offset inside it. */
  if (offset >= DEVICE_REGISTERS_SIZE || (offset & 3)) return STATUS_INVALID_PARAMETER;
  *out = READ_REGISTER_ULONG((PULONG)(g_registers + offset));
  return STATUS_SUCCESS;
}
#endif

static NTSTATUS bug_ioctl(PIRP irp, PIO_STACK_LOCATION sp, ULONG_PTR *information) {
  PVOID buffer = irp->AssociatedIrp.SystemBuffer;
  ULONG in_length = sp->Parameters.DeviceIoControl.InputBufferLength;
  ULONG out_length = sp->Parameters.DeviceIoControl.OutputBufferLength;
  switch (sp->Parameters.DeviceIoControl.IoControlCode) {
#ifndef KEMU_FIXED
    case IOCTL_READ_PHYSICAL:
    case IOCTL_READ_PHYSICAL_VIEW: {
      PHYSICAL_READ in;
      if (in_length < sizeof(in)) return STATUS_BUFFER_TOO_SMALL;
      in = *(PHYSICAL_READ *)buffer;
      return sp->Parameters.DeviceIoControl.IoControlCode == IOCTL_READ_PHYSICAL
                 ? ReadPhysicalMemory(&in, buffer, out_length, information)
                 : ReadPhysicalMemoryView(&in, buffer, out_length, information);
    }
#else
    case IOCTL_READ_REGISTER: {
      NTSTATUS status;
      if (in_length < sizeof(ULONG) || out_length < sizeof(ULONG)) return STATUS_BUFFER_TOO_SMALL;
      status = ReadDeviceRegister(*(PULONG)buffer, (PULONG)buffer);
      if (NT_SUCCESS(status)) *information = sizeof(ULONG);
      return status;
    }
#endif
    default:
      return STATUS_INVALID_DEVICE_REQUEST;
  }
}

static NTSTATUS bug_entry(PDRIVER_OBJECT driver) {
  UNREFERENCED_PARAMETER(driver);
#ifdef KEMU_FIXED
  {
    PHYSICAL_ADDRESS registers;
    registers.QuadPart = DEVICE_REGISTERS_PHYSICAL;
    g_registers = MmMapIoSpace(registers, DEVICE_REGISTERS_SIZE, MmNonCached);
    if (!g_registers) return STATUS_INSUFFICIENT_RESOURCES;
  }
#endif
  return STATUS_SUCCESS;
}

static VOID bug_unload(VOID) {
#ifdef KEMU_FIXED
  MmUnmapIoSpace(g_registers, DEVICE_REGISTERS_SIZE);
#endif
}
