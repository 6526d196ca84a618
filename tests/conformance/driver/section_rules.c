/*
 * Sections and views (issue 5 item 6): every OK() names the memory-manager
 * rule it checks. Statuses follow the ReactOS kernel-mode tests that were
 * run against Windows (kmtests ntos_mm/ZwMapViewOfSection.c) and the WDK
 * pages of ZwCreateSection / ZwMapViewOfSection / MmMapViewInSystemSpace.
 */
#include "conformance.h"

extern NTKERNELAPI POBJECT_TYPE *MmSectionObjectType;
NTKERNELAPI NTSTATUS NTAPI MmMapViewOfSection(PVOID Section, PEPROCESS Process, PVOID *BaseAddress,
                                              ULONG_PTR ZeroBits, SIZE_T CommitSize,
                                              PLARGE_INTEGER SectionOffset, PSIZE_T ViewSize,
                                              SECTION_INHERIT InheritDisposition, ULONG AllocationType,
                                              ULONG Protect);
NTKERNELAPI NTSTATUS NTAPI MmUnmapViewOfSection(PEPROCESS Process, PVOID BaseAddress);

#define SECTION_SIZE 0x3000

static NTSTATUS make_section(ULONG protect, LONGLONG size, HANDLE file, HANDLE *out) {
  OBJECT_ATTRIBUTES oa;
  LARGE_INTEGER max;
  max.QuadPart = size;
  InitializeObjectAttributes(&oa, NULL, OBJ_KERNEL_HANDLE, NULL, NULL);
  return ZwCreateSection(out, SECTION_ALL_ACCESS, &oa, size >= 0 ? &max : NULL, protect, SEC_COMMIT, file);
}

static NTSTATUS map(HANDLE section, PVOID *base, SIZE_T *size, LONGLONG offset, ULONG protect) {
  LARGE_INTEGER off;
  off.QuadPart = offset;
  return ZwMapViewOfSection(section, NtCurrentProcess(), base, 0, 0, &off, size, ViewUnmap, 0, protect);
}

/* The arguments NtCreateSection refuses, in its order. */
static void create_rules(void) {
  HANDLE h = NULL;
  LARGE_INTEGER max;
  OBJECT_ATTRIBUTES oa;
  max.QuadPart = SECTION_SIZE;
  InitializeObjectAttributes(&oa, NULL, OBJ_KERNEL_HANDLE, NULL, NULL);
  OK(ZwCreateSection(&h, SECTION_ALL_ACCESS, &oa, &max, PAGE_READWRITE, 0, NULL) == STATUS_INVALID_PARAMETER_6,
     "AllocationAttributes without SEC_COMMIT, SEC_RESERVE or SEC_IMAGE is STATUS_INVALID_PARAMETER_6");
  OK(ZwCreateSection(&h, SECTION_ALL_ACCESS, &oa, &max, PAGE_READWRITE, SEC_COMMIT | SEC_RESERVE, NULL) ==
         STATUS_INVALID_PARAMETER_6,
     "SEC_COMMIT and SEC_RESERVE together are STATUS_INVALID_PARAMETER_6");
  OK(ZwCreateSection(&h, SECTION_ALL_ACCESS, &oa, &max, PAGE_READWRITE | PAGE_READONLY, SEC_COMMIT, NULL) ==
         STATUS_INVALID_PAGE_PROTECTION,
     "two base protections are STATUS_INVALID_PAGE_PROTECTION");
  OK(make_section(PAGE_READWRITE, -1, NULL, &h) == STATUS_INVALID_PARAMETER_4,
     "a pagefile-backed section needs MaximumSize (STATUS_INVALID_PARAMETER_4)");
  OK(make_section(PAGE_READWRITE, 0, NULL, &h) == STATUS_INVALID_PARAMETER_4,
     "a pagefile-backed section of size 0 is STATUS_INVALID_PARAMETER_4");
  OK(ZwCreateSection(&h, SECTION_ALL_ACCESS, &oa, &max, PAGE_READWRITE, SEC_COMMIT, NULL) == STATUS_SUCCESS &&
         max.QuadPart == SECTION_SIZE,
     "ZwCreateSection writes the section's size back to MaximumSize");
  if (h) ZwClose(h);
}

/* Views of one pagefile-backed section share its pages. */
static void view_rules(BOOLEAN client_context) {
  HANDLE section = NULL, readonly = NULL;
  PUCHAR a = NULL, b = NULL, c = NULL;
  SIZE_T size_a = 0, size_b = 0, size_c = 0;
  if (!NT_SUCCESS(make_section(PAGE_READWRITE, SECTION_SIZE, NULL, &section))) {
    OK(FALSE, "a pagefile-backed section can be created");
    return;
  }
  OK(map(section, (PVOID *)&a, &size_a, 0, PAGE_READWRITE) == STATUS_SUCCESS, "a view maps");
  OK(map(section, (PVOID *)&b, &size_b, 0, PAGE_READWRITE) == STATUS_SUCCESS, "a second view maps");
  OK(size_a == SECTION_SIZE && a != b, "ViewSize 0 maps the whole section, each view at its own address");
  OK(((ULONG_PTR)a & 0xFFFF) == 0, "a view starts on the 64 KiB allocation granularity");
  OK((ULONG_PTR)a < (ULONG_PTR)MmHighestUserAddress,
     client_context ? "a view for the client's process lies in its user half"
                    : "a view for the System process lies in its (user-half) address space");
  if (a && b) {
    OK(a[0x1234] == 0, "a new pagefile-backed section is zero-filled");
    a[0x1234] = 0x5C;
    OK(b[0x1234] == 0x5C, "a write through one view is seen through the other: one set of pages");
  }
  /* The same view is not mapped twice; every address inside a view names it. */
  OK(ZwUnmapViewOfSection(NtCurrentProcess(), b + 0x1000) == STATUS_SUCCESS,
     "ZwUnmapViewOfSection takes any address inside the view");
  OK(ZwUnmapViewOfSection(NtCurrentProcess(), b) == STATUS_NOT_MAPPED_VIEW,
     "an address no view covers is STATUS_NOT_MAPPED_VIEW");
  b = NULL;
  /* NtMapViewOfSection's checks. */
  OK(map(section, (PVOID *)&c, &size_c, 0x1000, PAGE_READWRITE) == STATUS_MAPPED_ALIGNMENT,
     "a data section's offset is not rounded: off the 64 KiB granularity it is STATUS_MAPPED_ALIGNMENT");
  c = (PUCHAR)(ULONG_PTR)0x567A20;
  OK(map(section, (PVOID *)&c, &size_c, 0, PAGE_READWRITE) == STATUS_MAPPED_ALIGNMENT,
     "a chosen base off the 64 KiB granularity is STATUS_MAPPED_ALIGNMENT");
  c = (PUCHAR)MmSystemRangeStart + 0x10000;
  OK(map(section, (PVOID *)&c, &size_c, 0, PAGE_READWRITE) == STATUS_INVALID_PARAMETER_3,
     "a base in system space is STATUS_INVALID_PARAMETER_3");
  c = a;
  OK(map(section, (PVOID *)&c, &size_c, 0, PAGE_READWRITE) == STATUS_CONFLICTING_ADDRESSES,
     "a base another view occupies is STATUS_CONFLICTING_ADDRESSES");
  c = NULL;
  size_c = SECTION_SIZE + 1;
  OK(map(section, (PVOID *)&c, &size_c, 0, PAGE_READWRITE) == STATUS_INVALID_VIEW_SIZE,
     "a view larger than the section is STATUS_INVALID_VIEW_SIZE");
  size_c = 0;
  OK(ZwMapViewOfSection(section, NtCurrentProcess(), (PVOID *)&c, 0, 0, NULL, &size_c, (SECTION_INHERIT)0, 0,
                        PAGE_READWRITE) == STATUS_INVALID_PARAMETER_8,
     "SECTION_INHERIT other than ViewShare/ViewUnmap is STATUS_INVALID_PARAMETER_8");
  OK(ZwMapViewOfSection(section, NtCurrentProcess(), (PVOID *)&c, 0, 0, NULL, &size_c, ViewUnmap, MEM_RESERVE,
                        PAGE_READWRITE) == STATUS_INVALID_PARAMETER_9,
     "MEM_RESERVE on a pagefile-backed view is STATUS_INVALID_PARAMETER_9");
  OK(ZwMapViewOfSection(section, NtCurrentProcess(), (PVOID *)&c, 22, 0, NULL, &size_c, ViewUnmap, 0,
                        PAGE_READWRITE) == STATUS_INVALID_PARAMETER_4,
     "ZeroBits 22 is STATUS_INVALID_PARAMETER_4");
  OK(ZwMapViewOfSection(section, NtCurrentProcess(), (PVOID *)&c, 0, 0x10000000, NULL, &size_c, ViewUnmap, 0,
                        PAGE_READWRITE) == STATUS_INVALID_PARAMETER_5,
     "a CommitSize beyond the section is STATUS_INVALID_PARAMETER_5");
  OK(map((HANDLE)(ULONG_PTR)0xDEADBEEFDEADBEEFull, (PVOID *)&c, &size_c, 0, PAGE_READWRITE) == STATUS_INVALID_HANDLE,
     "a section handle that names nothing is STATUS_INVALID_HANDLE");
  /* A read-only section: what a view may do is bounded by the section's protection. */
  if (NT_SUCCESS(make_section(PAGE_READONLY, SECTION_SIZE, NULL, &readonly))) {
    size_c = 0;
    OK(map(readonly, (PVOID *)&c, &size_c, 0, PAGE_READWRITE) == STATUS_SECTION_PROTECTION,
       "a read-write view of a read-only section is STATUS_SECTION_PROTECTION");
    OK(map(readonly, (PVOID *)&c, &size_c, 0, PAGE_EXECUTE_READ) == STATUS_SECTION_PROTECTION,
       "so is an executable view of it");
    OK(map(readonly, (PVOID *)&c, &size_c, 0, PAGE_WRITECOPY) == STATUS_SUCCESS,
       "a copy-on-write view of a read-only section is allowed");
    if (c) {
      PUCHAR d = NULL;
      SIZE_T size_d = 0;
      c[5] = 0x77;
      map(readonly, (PVOID *)&d, &size_d, 0, PAGE_READONLY);
      OK(d && d[5] == 0, "a copy-on-write view's writes stay its own");
      if (d) ZwUnmapViewOfSection(NtCurrentProcess(), d);
      ZwUnmapViewOfSection(NtCurrentProcess(), c);
    }
    ZwClose(readonly);
  }
  /* A system-space view of the same section (the object, not a handle). */
  {
    PVOID object = NULL;
    PUCHAR sys = NULL;
    SIZE_T sys_size = 0;
    if (NT_SUCCESS(ObReferenceObjectByHandle(section, SECTION_MAP_READ | SECTION_MAP_WRITE, *MmSectionObjectType,
                                             KernelMode, &object, NULL))) {
      OK(MmMapViewInSystemSpace(object, (PVOID *)&sys, &sys_size) == STATUS_SUCCESS,
         "MmMapViewInSystemSpace maps the section object");
      OK((ULONG_PTR)sys >= (ULONG_PTR)MmSystemRangeStart && sys_size == SECTION_SIZE,
         "a system-space view lies in system space and covers the section");
      if (sys && a) {
        OK(sys[0x1234] == 0x5C, "the system view shows the pages the process view wrote");
        sys[0x1235] = 0x6D;
        OK(a[0x1235] == 0x6D, "and the process view sees the system view's writes");
      }
      OK(MmUnmapViewInSystemSpace(sys) == STATUS_SUCCESS, "MmUnmapViewInSystemSpace unmaps it");
      /* MmMapViewOfSection: the same map with an object pointer and no access check. */
      {
        PVOID mm_base = NULL;
        SIZE_T mm_size = 0;
        LARGE_INTEGER off;
        off.QuadPart = 0;
        OK(MmMapViewOfSection(object, PsGetCurrentProcess(), &mm_base, 0, 0, &off, &mm_size, ViewUnmap, 0,
                              PAGE_READONLY) == STATUS_SUCCESS && mm_base && ((PUCHAR)mm_base)[0x1234] == 0x5C,
           "MmMapViewOfSection maps a view of the section object into the current process");
        OK(MmUnmapViewOfSection(PsGetCurrentProcess(), mm_base) == STATUS_SUCCESS,
           "MmUnmapViewOfSection unmaps it");
      }
      ObDereferenceObject(object);
    }
  }
  /* A view outlives the section's handle: the pages stay while mapped. */
  ZwClose(section);
  if (a) {
    OK(a[0x1234] == 0x5C, "closing the section's last handle leaves a mapped view intact");
    OK(ZwUnmapViewOfSection(NtCurrentProcess(), a) == STATUS_SUCCESS, "the last view unmaps");
  }
}

/* A named section is found by ZwOpenSection; Zw runs the open with KernelMode. */
static void named_rules(void) {
  UNICODE_STRING name;
  OBJECT_ATTRIBUTES oa;
  LARGE_INTEGER max;
  HANDLE created = NULL, opened = NULL;
  PVOID o1 = NULL, o2 = NULL;
  RtlInitUnicodeString(&name, L"\\BaseNamedObjects\\KemuConformanceSection");
  InitializeObjectAttributes(&oa, &name, OBJ_KERNEL_HANDLE | OBJ_CASE_INSENSITIVE, NULL, NULL);
  max.QuadPart = 0x1000;
  OK(ZwCreateSection(&created, SECTION_ALL_ACCESS, &oa, &max, PAGE_READWRITE, SEC_COMMIT, NULL) == STATUS_SUCCESS,
     "a named section is created in \\BaseNamedObjects");
  OK(ZwOpenSection(&opened, SECTION_MAP_READ, &oa) == STATUS_SUCCESS, "ZwOpenSection opens it by name");
  if (created && opened &&
      NT_SUCCESS(ObReferenceObjectByHandle(created, 0, *MmSectionObjectType, KernelMode, &o1, NULL)) &&
      NT_SUCCESS(ObReferenceObjectByHandle(opened, 0, *MmSectionObjectType, KernelMode, &o2, NULL))) {
    OK(o1 == o2, "both handles name one section object");
    ObDereferenceObject(o1);
    ObDereferenceObject(o2);
  }
  if (opened) {
    PVOID view = NULL;
    SIZE_T size = 0;
    /* The handle has SECTION_MAP_READ only: ZwMapViewOfSection references it with KernelMode, no check. */
    OK(map(opened, &view, &size, 0, PAGE_READWRITE) == STATUS_SUCCESS,
       "ZwMapViewOfSection (KernelMode) does not check the handle's granted access");
    if (view) ZwUnmapViewOfSection(NtCurrentProcess(), view);
    ZwClose(opened);
  }
  if (created) ZwClose(created);
  OK(ZwOpenSection(&opened, SECTION_MAP_READ, &oa) == STATUS_OBJECT_NAME_NOT_FOUND,
     "a temporary section's name goes with its last handle");
}

static NTSTATUS open_file(PCWSTR path, ACCESS_MASK access, ULONG disposition, HANDLE *out) {
  UNICODE_STRING name;
  OBJECT_ATTRIBUTES oa;
  IO_STATUS_BLOCK iosb;
  RtlInitUnicodeString(&name, path);
  InitializeObjectAttributes(&oa, &name, OBJ_KERNEL_HANDLE | OBJ_CASE_INSENSITIVE, NULL, NULL);
  return ZwCreateFile(out, access | SYNCHRONIZE, &oa, &iosb, NULL, FILE_ATTRIBUTE_NORMAL,
                      FILE_SHARE_READ | FILE_SHARE_WRITE, disposition,
                      FILE_SYNCHRONOUS_IO_NONALERT | FILE_NON_DIRECTORY_FILE, NULL, 0);
}

/* A file-backed section: the view and cached file I/O are one cache. */
static void file_rules(void) {
  static const char text[] = "hello section";
  HANDLE file = NULL, readonly = NULL, empty = NULL, section = NULL;
  IO_STATUS_BLOCK iosb;
  LARGE_INTEGER offset, max;
  char buffer[16];
  PUCHAR view = NULL;
  SIZE_T size = 0;
  OBJECT_ATTRIBUTES oa;
  if (!NT_SUCCESS(open_file(L"\\??\\C:\\section.dat", GENERIC_READ | GENERIC_WRITE, FILE_OVERWRITE_IF, &file))) {
    OK(FALSE, "a file for the section can be created");
    return;
  }
  offset.QuadPart = 0;
  ZwWriteFile(file, NULL, NULL, NULL, &iosb, (PVOID)text, 13, &offset, NULL);
  InitializeObjectAttributes(&oa, NULL, OBJ_KERNEL_HANDLE, NULL, NULL);
  max.QuadPart = 0;
  OK(ZwCreateSection(&section, SECTION_ALL_ACCESS, &oa, &max, PAGE_READWRITE, SEC_COMMIT, file) == STATUS_SUCCESS &&
         max.QuadPart == 13,
     "a file-backed section with MaximumSize 0 takes the file's size");
  if (section && NT_SUCCESS(map(section, (PVOID *)&view, &size, 0, PAGE_READWRITE))) {
    OK(size == PAGE_SIZE && RtlCompareMemory(view, text, 13) == 13 && view[13] == 0,
       "the view shows the file's bytes, the rest of the page zero");
    RtlCopyMemory(view, "HELLO", 5);
    RtlZeroMemory(buffer, sizeof(buffer));
    offset.QuadPart = 0;
    ZwReadFile(file, NULL, NULL, NULL, &iosb, buffer, 13, &offset, NULL);
    OK(RtlCompareMemory(buffer, "HELLO section", 13) == 13,
       "ZwReadFile sees what the view wrote: mapped and cached I/O share the pages");
    offset.QuadPart = 6;
    ZwWriteFile(file, NULL, NULL, NULL, &iosb, (PVOID)"SECTION", 7, &offset, NULL);
    OK(RtlCompareMemory(view + 6, "SECTION", 7) == 7, "the view sees what ZwWriteFile wrote");
    ZwUnmapViewOfSection(NtCurrentProcess(), view);
  }
  if (section) ZwClose(section);
  /* The file object must allow what the section does. */
  if (NT_SUCCESS(open_file(L"\\??\\C:\\section.dat", GENERIC_READ, FILE_OPEN, &readonly))) {
    max.QuadPart = 0;
    OK(ZwCreateSection(&section, SECTION_ALL_ACCESS, &oa, &max, PAGE_READWRITE, SEC_COMMIT, readonly) ==
           STATUS_ACCESS_DENIED,
       "a writable section of a file opened for reading only is STATUS_ACCESS_DENIED");
    max.QuadPart = 0x10000;
    OK(ZwCreateSection(&section, SECTION_ALL_ACCESS, &oa, &max, PAGE_READONLY, SEC_COMMIT, readonly) ==
           STATUS_SECTION_TOO_BIG,
       "a read-only section larger than its file is STATUS_SECTION_TOO_BIG");
    max.QuadPart = 0;
    OK(ZwCreateSection(&section, SECTION_ALL_ACCESS, &oa, &max, PAGE_READONLY, SEC_COMMIT, readonly) ==
           STATUS_SUCCESS,
       "a read-only section of it is fine");
    if (section) {
      view = NULL;
      size = 0;
      OK(map(section, (PVOID *)&view, &size, 0, PAGE_READONLY) == STATUS_SUCCESS && view &&
             RtlCompareMemory(view, "HELLO SECTION", 13) == 13,
         "a second section of the file shows the same data");
      if (view) ZwUnmapViewOfSection(NtCurrentProcess(), view);
      ZwClose(section);
    }
    ZwClose(readonly);
  }
  if (NT_SUCCESS(open_file(L"\\??\\C:\\empty.dat", GENERIC_READ | GENERIC_WRITE, FILE_OVERWRITE_IF, &empty))) {
    max.QuadPart = 0;
    OK(ZwCreateSection(&section, SECTION_ALL_ACCESS, &oa, &max, PAGE_READWRITE, SEC_COMMIT, empty) ==
           STATUS_MAPPED_FILE_SIZE_ZERO,
       "a section of an empty file with no size is STATUS_MAPPED_FILE_SIZE_ZERO");
    ZwClose(empty);
  }
  ZwClose(file);
}

/* \Device\PhysicalMemory: a section whose offsets are physical addresses. */
static void physical_memory_rules(void) {
  UNICODE_STRING name;
  OBJECT_ATTRIBUTES oa;
  HANDLE physical = NULL;
  PUCHAR pool = (PUCHAR)ExAllocatePoolWithTag(NonPagedPool, 64, 'fnoC');
  if (!pool) return;
  RtlInitUnicodeString(&name, L"\\Device\\PhysicalMemory");
  InitializeObjectAttributes(&oa, &name, OBJ_KERNEL_HANDLE | OBJ_CASE_INSENSITIVE, NULL, NULL);
  OK(ZwOpenSection(&physical, SECTION_ALL_ACCESS, &oa) == STATUS_SUCCESS,
     "ZwOpenSection opens \\Device\\PhysicalMemory (kernel mode: no access check)");
  if (physical) {
    PHYSICAL_ADDRESS pa = MmGetPhysicalAddress(pool);
    LARGE_INTEGER off;
    PUCHAR view = NULL;
    SIZE_T size = 64;
    pool[20] = 0x3C;
    off.QuadPart = pa.QuadPart;
    OK(ZwMapViewOfSection(physical, NtCurrentProcess(), (PVOID *)&view, 0, 0, &off, &size, ViewUnmap, 0,
                          PAGE_READWRITE) == STATUS_SUCCESS,
       "a view of \\Device\\PhysicalMemory maps at a physical address");
    OK(off.QuadPart == (pa.QuadPart & ~0xFFFll) && size == PAGE_SIZE,
       "its offset is rounded down to the page and the size grows to whole pages");
    if (view) {
      PUCHAR bytes = view + (pa.QuadPart & 0xFFF);
      OK(bytes[20] == 0x3C, "the view shows the bytes of the physical page");
      bytes[21] = 0xC3;
      OK(pool[21] == 0xC3, "a write through the view reaches the pool block: the same physical page");
      ZwUnmapViewOfSection(NtCurrentProcess(), view);
    }
    ZwClose(physical);
  }
  ExFreePoolWithTag(pool, 'fnoC');
}

void section_rules(BOOLEAN client_context) {
  if (!client_context) {
    create_rules();
    named_rules();
    file_rules();
    physical_memory_rules();
  }
  view_rules(client_context);
}
