/*
 * user_view: a capture driver that shares a ring of records with its service
 * through a section mapped into the service's process. Bug: the service creates
 * the section and passes its handle, the offset and the size; the driver maps
 * whatever that names with ZwMapViewOfSection (a KernelMode call, so the
 * handle's access is never checked) and writes the ring header through the
 * view outside __try — the service can unmap the view or make it read-only
 * at any moment, and the fault is then an unhandled exception (bug check 0x3B).
 * Fixed, per "Security issues for section objects and views": the driver
 * creates the section itself at DriverEntry with a kernel handle, maps the
 * whole of it in the dispatch routine (the requesting process's context),
 * touches the view only inside __try, and unmaps the view it recorded when
 * the service asks.
 */
#include "bug_driver.h"

#define IOCTL_MAP_RING CTL_CODE(0x8000, 0xB00, METHOD_BUFFERED, FILE_READ_ACCESS | FILE_WRITE_ACCESS)   /* 0x8000EC00 */
#define IOCTL_UNMAP_RING CTL_CODE(0x8000, 0xB01, METHOD_BUFFERED, FILE_READ_ACCESS | FILE_WRITE_ACCESS) /* 0x8000EC04 */

#define RING_SIZE 0x10000
#define RING_MAGIC 0x474E4952u /* 'RING' */

typedef struct {
  ULONG Magic;
  ULONG Head;
  ULONG Tail;
  ULONG Capacity;
} RING_HEADER;

typedef struct {
  ULONG64 Section; /* bug only: the service's section handle */
  ULONG64 Offset;
  ULONG64 Size;
} MAP_REQUEST;

BUG_ROUTINE VOID InitializeRing(RING_HEADER *ring, ULONG capacity) {
  RING_HEADER header = {RING_MAGIC, 0, 0, 0};
  header.Capacity = capacity;
  *ring = header;
}

#ifndef KEMU_FIXED
BUG_ROUTINE NTSTATUS MapRing(const MAP_REQUEST *in, PVOID *view_out) {
  PVOID base = NULL;
  LARGE_INTEGER offset;
  SIZE_T size = (SIZE_T)in->Size;
  NTSTATUS status;
  offset.QuadPart = (LONGLONG)in->Offset;
  status = ZwMapViewOfSection((HANDLE)(ULONG_PTR)in->Section, ZwCurrentProcess(), &base, 0, 0, &offset, &size,
                              ViewUnmap, 0, PAGE_READWRITE);
  if (!NT_SUCCESS(status)) return status;
  InitializeRing(base, (ULONG)size - sizeof(RING_HEADER));
  *view_out = base;
  return STATUS_SUCCESS;
}
static NTSTATUS UnmapRing(VOID) { return STATUS_INVALID_DEVICE_REQUEST; }
#else
static HANDLE g_section;
static PVOID g_view;

BUG_ROUTINE NTSTATUS MapRing(const MAP_REQUEST *in, PVOID *view_out) {
  PVOID base = NULL;
  SIZE_T size = 0; /* the whole section, from its start */
  NTSTATUS status;
  UNREFERENCED_PARAMETER(in);
  if (g_view) return STATUS_ALREADY_COMMITTED;
  status = ZwMapViewOfSection(g_section, ZwCurrentProcess(), &base, 0, 0, NULL, &size, ViewUnmap, 0, PAGE_READWRITE);
  if (!NT_SUCCESS(status)) return status;
  __try {
    InitializeRing(base, RING_SIZE - sizeof(RING_HEADER));
  } __except (EXCEPTION_EXECUTE_HANDLER) {
    status = GetExceptionCode();
  }
  if (!NT_SUCCESS(status)) {
    ZwUnmapViewOfSection(ZwCurrentProcess(), base);
    return status;
  }
  g_view = base;
  *view_out = base;
  return STATUS_SUCCESS;
}

static NTSTATUS UnmapRing(VOID) {
  NTSTATUS status;
  if (!g_view) return STATUS_INVALID_DEVICE_STATE;
  status = ZwUnmapViewOfSection(ZwCurrentProcess(), g_view);
  g_view = NULL;
  return status;
}
#endif

static NTSTATUS bug_ioctl(PIRP irp, PIO_STACK_LOCATION sp, ULONG_PTR *information) {
  PVOID buffer = irp->AssociatedIrp.SystemBuffer;
  NTSTATUS status;
  PVOID view = NULL;
  MAP_REQUEST in;
  switch (sp->Parameters.DeviceIoControl.IoControlCode) {
    case IOCTL_MAP_RING:
      if (sp->Parameters.DeviceIoControl.InputBufferLength < sizeof(MAP_REQUEST) ||
          sp->Parameters.DeviceIoControl.OutputBufferLength < sizeof(ULONG64))
        return STATUS_BUFFER_TOO_SMALL;
      in = *(MAP_REQUEST *)buffer;
      status = MapRing(&in, &view);
      if (!NT_SUCCESS(status)) return status;
      *(ULONG64 *)buffer = (ULONG64)(ULONG_PTR)view;
      *information = sizeof(ULONG64);
      return STATUS_SUCCESS;
    case IOCTL_UNMAP_RING:
      return UnmapRing();
    default:
      return STATUS_INVALID_DEVICE_REQUEST;
  }
}

static NTSTATUS bug_entry(PDRIVER_OBJECT driver) {
  UNREFERENCED_PARAMETER(driver);
#ifdef KEMU_FIXED
  {
    OBJECT_ATTRIBUTES oa;
    LARGE_INTEGER size;
    size.QuadPart = RING_SIZE;
    InitializeObjectAttributes(&oa, NULL, OBJ_KERNEL_HANDLE, NULL, NULL);
    return ZwCreateSection(&g_section, SECTION_ALL_ACCESS, &oa, &size, PAGE_READWRITE, SEC_COMMIT, NULL);
  }
#else
  return STATUS_SUCCESS;
#endif
}

static VOID bug_unload(VOID) {
#ifdef KEMU_FIXED
  ZwClose(g_section);
#endif
}
