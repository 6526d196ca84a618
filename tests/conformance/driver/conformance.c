/*
 * conformance.sys - kemu's object-manager conformance suite, run as a real
 * driver. Every OK() states one Windows behaviour (semantics.md §3); a
 * failing one prints its line and rule. Suites run where the behaviour is
 * defined: DriverEntry in the System process, the client suite inside an
 * IOCTL (the client's process, PreviousMode UserMode). IOCTL_RESULTS returns
 * {passed, failed, failing lines}; IOCTL_BUGCHECK_93 closes an invalid kernel
 * handle (a separate run: it bugchecks).
 */
#include "conformance.h"

KEMU_DRIVER_ENTRY;

/* Not in the DDK headers (documented with ZwQueryDirectoryObject). */
typedef struct _OBJECT_DIRECTORY_INFORMATION {
  UNICODE_STRING Name;
  UNICODE_STRING TypeName;
} OBJECT_DIRECTORY_INFORMATION, *POBJECT_DIRECTORY_INFORMATION;

#define CONF_TYPE 0x8000
#define IOCTL_RUN_CLIENT_SUITE CTL_CODE(CONF_TYPE, 0x900, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_RESULTS CTL_CODE(CONF_TYPE, 0x901, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_BUGCHECK_93 CTL_CODE(CONF_TYPE, 0x902, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_TERMINATE_CLIENT CTL_CODE(CONF_TYPE, 0x903, METHOD_BUFFERED, FILE_ANY_ACCESS)

#define MAX_FAILURES 32
typedef struct {
  ULONG passed;
  ULONG failed;
  ULONG lines[MAX_FAILURES];
} CONF_RESULTS;

static CONF_RESULTS g_results;
static PDEVICE_OBJECT g_device;
static HANDLE g_system_dir;  /* a handle DriverEntry made in the System process's table */
static PVOID g_system_dir_object;

void ok_(BOOLEAN condition, ULONG line, const char *rule) {
  if (condition) {
    g_results.passed++;
    return;
  }
  if (g_results.failed < MAX_FAILURES) g_results.lines[g_results.failed] = line;
  g_results.failed++;
  DbgPrint("conformance: FAIL line %u: %s\n", line, rule);
}

#define KERNEL_FLAG ((ULONG_PTR)0xFFFFFFFF80000000ull)
static BOOLEAN is_kernel_handle(HANDLE h) { return ((ULONG_PTR)h & KERNEL_FLAG) == KERNEL_FLAG; }

static NTSTATUS create_dir(PCWSTR name, ULONG attributes, HANDLE root, HANDLE *out) {
  UNICODE_STRING us;
  OBJECT_ATTRIBUTES oa;
  if (name) RtlInitUnicodeString(&us, name);
  InitializeObjectAttributes(&oa, name ? &us : NULL, attributes, root, NULL);
  return ZwCreateDirectoryObject(out, DIRECTORY_ALL_ACCESS, &oa);
}

static NTSTATUS open_dir(PCWSTR name, ULONG attributes, HANDLE root, ACCESS_MASK access, HANDLE *out) {
  UNICODE_STRING us;
  OBJECT_ATTRIBUTES oa;
  RtlInitUnicodeString(&us, name);
  InitializeObjectAttributes(&oa, &us, attributes, root, NULL);
  return ZwOpenDirectoryObject(out, access, &oa);
}

static ULONG handle_count(HANDLE h) {
  PUBLIC_OBJECT_BASIC_INFORMATION info;
  ULONG len = 0;
  if (!NT_SUCCESS(ZwQueryObject(h, ObjectBasicInformation, &info, sizeof(info), &len))) return ~0u;
  return info.HandleCount;
}

NTKERNELAPI POBJECT_TYPE NTAPI ObGetObjectType(PVOID Object);

typedef struct {
  UNICODE_STRING TypeName;
  ULONG TotalNumberOfObjects;
  ULONG TotalNumberOfHandles;
  ULONG Rest[20];
  WCHAR Name[32];
} CONF_TYPE_INFORMATION;

static ULONG type_handles(HANDLE h, PUNICODE_STRING name_out) {
  CONF_TYPE_INFORMATION info;
  ULONG len = 0;
  if (!NT_SUCCESS(ZwQueryObject(h, ObjectTypeInformation, &info, sizeof(info), &len))) return ~0u;
  if (name_out) *name_out = info.TypeName;
  return info.TotalNumberOfHandles;
}

/* Object types: ZwQueryObject's type information counts the type's handles. */
static void type_rules(void) {
  HANDLE a = NULL, b = NULL;
  UNICODE_STRING name, expected;
  ULONG before, after;
  RtlInitUnicodeString(&expected, L"Directory");
  create_dir(NULL, OBJ_KERNEL_HANDLE, NULL, &a);
  before = type_handles(a, &name);
  OK(RtlEqualUnicodeString(&name, &expected, FALSE), "ObjectTypeInformation names the type");
  create_dir(NULL, OBJ_KERNEL_HANDLE, NULL, &b);
  after = type_handles(a, NULL);
  OK(after == before + 1, "TotalNumberOfHandles counts every handle of the type");
  ZwClose(b);
  OK(type_handles(a, NULL) == before, "closing a handle lowers TotalNumberOfHandles");
  ZwClose(a);
  OK(ObGetObjectType(PsInitialSystemProcess) == *PsProcessType, "ObGetObjectType returns the OBJECT_TYPE");
}

/* OBJ_EXCLUSIVE (ObpIncrementHandleCount): an object created exclusive is
 * opened only exclusively, and only by the process holding its exclusive
 * handles. g_exclusive_dir stays open for the client suite. */
static HANDLE g_exclusive_dir;
#define EXCLUSIVE_DIR L"\\BaseNamedObjects\\KemuConformanceExclusive"
static void exclusive_rules(BOOLEAN client_context) {
  HANDLE h = NULL, plain = NULL;
  if (client_context) {
    OK(open_dir(EXCLUSIVE_DIR, OBJ_EXCLUSIVE, NULL, DIRECTORY_QUERY, &h) == STATUS_ACCESS_DENIED,
       "another process cannot open an object whose exclusive handles belong to the System process");
    if (h) ZwClose(h);
    return;
  }
  OK(create_dir(EXCLUSIVE_DIR, OBJ_EXCLUSIVE | OBJ_KERNEL_HANDLE, NULL, &g_exclusive_dir) == STATUS_SUCCESS,
     "a directory is created with OBJ_EXCLUSIVE");
  {
    PUBLIC_OBJECT_BASIC_INFORMATION info;
    ULONG len = 0;
    OK(NT_SUCCESS(ZwQueryObject(g_exclusive_dir, ObjectBasicInformation, &info, sizeof(info), &len)) &&
           (info.Attributes & OBJ_EXCLUSIVE),
       "ZwQueryObject reports OBJ_EXCLUSIVE for an exclusive object");
  }
  OK(open_dir(EXCLUSIVE_DIR, OBJ_KERNEL_HANDLE, NULL, DIRECTORY_QUERY, &h) == STATUS_ACCESS_DENIED,
     "an exclusive object cannot be opened without OBJ_EXCLUSIVE");
  OK(open_dir(EXCLUSIVE_DIR, OBJ_KERNEL_HANDLE | OBJ_EXCLUSIVE | OBJ_INHERIT, NULL, DIRECTORY_QUERY, &h) ==
         STATUS_INVALID_PARAMETER,
     "OBJ_EXCLUSIVE with OBJ_INHERIT is STATUS_INVALID_PARAMETER");
  OK(open_dir(EXCLUSIVE_DIR, OBJ_KERNEL_HANDLE | OBJ_EXCLUSIVE, NULL, DIRECTORY_QUERY, &h) == STATUS_SUCCESS,
     "the process holding the exclusive handles opens it again exclusively");
  if (h) ZwClose(h);
  if (NT_SUCCESS(create_dir(L"\\BaseNamedObjects\\KemuConformancePlain", OBJ_KERNEL_HANDLE, NULL, &plain))) {
    h = NULL;
    OK(open_dir(L"\\BaseNamedObjects\\KemuConformancePlain", OBJ_KERNEL_HANDLE | OBJ_EXCLUSIVE, NULL,
                DIRECTORY_QUERY, &h) == STATUS_INVALID_PARAMETER,
       "OBJ_EXCLUSIVE on an object not created exclusive is STATUS_INVALID_PARAMETER");
    if (h) ZwClose(h);
    ZwClose(plain);
  }
}

/* Physical memory: one physical page, whatever maps it, shows the same bytes. */
static void physical_rules(void) {
  PUCHAR pool = (PUCHAR)ExAllocatePoolWithTag(NonPagedPool, 64, 'fnoC');
  PHYSICAL_ADDRESS pa, high, low, boundary;
  PUCHAR view;
  PPHYSICAL_MEMORY_RANGE ranges;
  if (!pool) return;
  pool[10] = 0x5A;
  pa = MmGetPhysicalAddress(pool);
  OK(pa.QuadPart != 0 && (pa.QuadPart & 0xFFF) == ((ULONG_PTR)pool & 0xFFF),
     "MmGetPhysicalAddress keeps the byte offset in the page");
  OK(MmGetPhysicalAddress(pool + 8).QuadPart == pa.QuadPart + 8, "a page's bytes are physically consecutive");
  view = (PUCHAR)MmMapIoSpace(pa, 64, MmNonCached);
  OK(view != NULL && view != pool, "MmMapIoSpace maps the physical page at another address");
  if (view) {
    OK(view[10] == 0x5A, "the mapping shows the same bytes");
    view[11] = 0xA5;
    OK(pool[11] == 0xA5, "a write through the mapping is seen through the pool address");
    OK(MmGetPhysicalAddress(view).QuadPart == pa.QuadPart, "both mappings have one physical address");
    MmUnmapIoSpace(view, 64);
  }
  ExFreePoolWithTag(pool, 'fnoC');
  low.QuadPart = 0;
  high.QuadPart = 0xFFFFFF; /* below 16 MiB, as old DMA wants */
  boundary.QuadPart = 0;
  view = (PUCHAR)MmAllocateContiguousMemorySpecifyCache(3 * PAGE_SIZE, low, high, boundary, MmCached);
  OK(view != NULL, "MmAllocateContiguousMemorySpecifyCache succeeds below 16 MiB");
  if (view) {
    PHYSICAL_ADDRESS first = MmGetPhysicalAddress(view);
    OK(first.QuadPart + 2 * PAGE_SIZE + 0xFFF <= 0xFFFFFF, "the pages lie below HighestAcceptableAddress");
    OK(MmGetPhysicalAddress(view + 2 * PAGE_SIZE).QuadPart == first.QuadPart + 2 * PAGE_SIZE,
       "contiguous memory is physically contiguous");
    MmFreeContiguousMemorySpecifyCache(view, 3 * PAGE_SIZE, MmCached);
  }
  ranges = MmGetPhysicalMemoryRanges();
  OK(ranges != NULL && ranges[0].NumberOfBytes.QuadPart != 0, "MmGetPhysicalMemoryRanges lists RAM");
  if (ranges) {
    ULONG i = 0;
    while (ranges[i].NumberOfBytes.QuadPart) i++;
    OK(i == 3 && ranges[i].BaseAddress.QuadPart == 0, "the list ends with a zero entry");
    ExFreePool(ranges);
  }
}

/* A file position belongs to the file object: a duplicated handle shares it. */
static void file_position_rules(void) {
  UNICODE_STRING name;
  OBJECT_ATTRIBUTES oa;
  IO_STATUS_BLOCK iosb;
  HANDLE file = NULL, copy = NULL;
  FILE_POSITION_INFORMATION pos;
  char data[5] = "abcd";
  NTSTATUS st;
  RtlInitUnicodeString(&name, L"\\??\\C:\\conformance.dat");
  InitializeObjectAttributes(&oa, &name, OBJ_KERNEL_HANDLE | OBJ_CASE_INSENSITIVE, NULL, NULL);
  st = ZwCreateFile(&file, GENERIC_READ | GENERIC_WRITE | SYNCHRONIZE, &oa, &iosb, NULL, FILE_ATTRIBUTE_NORMAL, 0,
                    FILE_OVERWRITE_IF, FILE_SYNCHRONOUS_IO_NONALERT | FILE_NON_DIRECTORY_FILE, NULL, 0);
  OK(st == STATUS_SUCCESS && iosb.Information == FILE_CREATED, "ZwCreateFile creates a file on the sandbox volume");
  if (!NT_SUCCESS(st)) return;
  st = ZwDuplicateObject(NtCurrentProcess(), file, NtCurrentProcess(), &copy, 0, OBJ_KERNEL_HANDLE,
                         DUPLICATE_SAME_ACCESS);
  OK(st == STATUS_SUCCESS, "a file handle duplicates");
  st = ZwWriteFile(file, NULL, NULL, NULL, &iosb, data, 4, NULL, NULL);
  OK(st == STATUS_SUCCESS && iosb.Information == 4, "ZwWriteFile without an offset writes at the position");
  st = ZwQueryInformationFile(copy, &iosb, &pos, sizeof(pos), FilePositionInformation);
  OK(st == STATUS_SUCCESS && pos.CurrentByteOffset.QuadPart == 4,
     "the duplicate sees the position the other handle moved: one file object");
  st = ZwWriteFile(copy, NULL, NULL, NULL, &iosb, data, 4, NULL, NULL);
  st = ZwQueryInformationFile(file, &iosb, &pos, sizeof(pos), FilePositionInformation);
  OK(st == STATUS_SUCCESS && pos.CurrentByteOffset.QuadPart == 8, "and the other way round");
  if (copy) ZwClose(copy);
  ZwClose(file);
}

/* Handle values (semantics.md §3): multiples of 4; OBJ_KERNEL_HANDLE puts the
 * handle in the kernel table with bit 31 set, sign-extended. */
static void handle_values(BOOLEAN system_context) {
  HANDLE plain = NULL, kernel = NULL;
  OK(NT_SUCCESS(create_dir(NULL, 0, NULL, &plain)), "an unnamed directory can be created");
  OK(NT_SUCCESS(create_dir(NULL, OBJ_KERNEL_HANDLE, NULL, &kernel)), "OBJ_KERNEL_HANDLE is accepted from KernelMode");
  OK(((ULONG_PTR)plain & 3) == 0 && plain != NULL, "handle values are non-zero multiples of 4");
  OK(!is_kernel_handle(plain), "without OBJ_KERNEL_HANDLE the handle has no kernel bit (any context)");
  OK(is_kernel_handle(kernel), "OBJ_KERNEL_HANDLE gives 0xFFFFFFFF8000xxxx");
  OK(((ULONG_PTR)kernel & 3) == 0, "kernel handle values are multiples of 4 too");
  if (!system_context) OK((ULONG_PTR)plain < 0x10000, "a client-context handle is a small index in the client's table");
  /* The low two bits are tag bits: a lookup ignores them. */
  {
    PVOID object = NULL;
    NTSTATUS st = ObReferenceObjectByHandle((HANDLE)((ULONG_PTR)kernel | 3), 0, NULL, KernelMode, &object, NULL);
    OK(st == STATUS_SUCCESS && object != NULL, "the tag bits of a handle value are ignored by lookups");
    if (object) ObDereferenceObject(object);
  }
  OK(ZwClose(plain) == STATUS_SUCCESS, "ZwClose of a valid handle succeeds");
  OK(ZwClose(kernel) == STATUS_SUCCESS, "ZwClose of a valid kernel handle succeeds");
}

/* Named objects: permanence, OPENIF/collision, RootDirectory, links, case. */
static void namespace_rules(void) {
  HANDLE root = NULL, again = NULL, sub = NULL, link = NULL, h = NULL;
  NTSTATUS st;
  st = create_dir(L"\\KemuConf", OBJ_KERNEL_HANDLE, NULL, &root);
  OK(st == STATUS_SUCCESS, "ZwCreateDirectoryObject names a new directory");
  st = create_dir(L"\\KemuConf", OBJ_KERNEL_HANDLE, NULL, &again);
  OK(st == STATUS_OBJECT_NAME_COLLISION, "creating an existing name fails with STATUS_OBJECT_NAME_COLLISION");
  st = create_dir(L"\\KemuConf", OBJ_KERNEL_HANDLE | OBJ_OPENIF, NULL, &again);
  OK(st == STATUS_OBJECT_NAME_EXISTS, "OBJ_OPENIF opens the existing object with STATUS_OBJECT_NAME_EXISTS");
  OK(again != NULL && handle_count(root) == 2, "OBJ_OPENIF returns a second handle to the same object");
  if (again) ZwClose(again);
  OK(handle_count(root) == 1, "closing a handle drops the handle count");

  st = create_dir(L"Sub", OBJ_KERNEL_HANDLE, root, &sub);
  OK(st == STATUS_SUCCESS, "a RootDirectory-relative name creates inside that directory");
  st = create_dir(L"\\Sub", OBJ_KERNEL_HANDLE, root, &h);
  OK(st == STATUS_OBJECT_PATH_SYNTAX_BAD, "a RootDirectory with an absolute name is STATUS_OBJECT_PATH_SYNTAX_BAD");
  st = create_dir(L"NoSlash", OBJ_KERNEL_HANDLE, NULL, &h);
  OK(st == STATUS_OBJECT_PATH_SYNTAX_BAD, "a relative name without RootDirectory is STATUS_OBJECT_PATH_SYNTAX_BAD");
  st = create_dir(L"\\KemuConfMissing\\X", OBJ_KERNEL_HANDLE, NULL, &h);
  OK(st == STATUS_OBJECT_PATH_NOT_FOUND, "a missing parent directory is STATUS_OBJECT_PATH_NOT_FOUND");

  st = open_dir(L"\\kemuconf\\SUB", OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, DIRECTORY_QUERY, &h);
  OK(st == STATUS_SUCCESS, "object names are looked up case-insensitively");
  if (NT_SUCCESS(st)) ZwClose(h);
  st = open_dir(L"\\KemuConf\\Nothing", OBJ_KERNEL_HANDLE, NULL, DIRECTORY_QUERY, &h);
  OK(st == STATUS_OBJECT_NAME_NOT_FOUND, "a missing last component is STATUS_OBJECT_NAME_NOT_FOUND");

  /* A symbolic link, followed mid-path, opened itself by ZwOpenSymbolicLinkObject. */
  {
    UNICODE_STRING name, target;
    OBJECT_ATTRIBUTES oa;
    WCHAR buffer[64];
    UNICODE_STRING out;
    ULONG returned = 0;
    RtlInitUnicodeString(&name, L"\\KemuConf\\Link");
    RtlInitUnicodeString(&target, L"\\KemuConf");
    InitializeObjectAttributes(&oa, &name, OBJ_KERNEL_HANDLE, NULL, NULL);
    st = ZwCreateSymbolicLinkObject(&link, SYMBOLIC_LINK_ALL_ACCESS, &oa, &target);
    OK(st == STATUS_SUCCESS, "ZwCreateSymbolicLinkObject names a link");
    st = open_dir(L"\\KemuConf\\Link\\Sub", OBJ_KERNEL_HANDLE, NULL, DIRECTORY_QUERY, &h);
    OK(st == STATUS_SUCCESS, "a symbolic link in the middle of a path is followed");
    if (NT_SUCCESS(st)) ZwClose(h);
    st = open_dir(L"\\KemuConf\\Link", OBJ_KERNEL_HANDLE, NULL, DIRECTORY_QUERY, &h);
    OK(st == STATUS_SUCCESS, "a final symbolic link is followed when opening a directory");
    if (NT_SUCCESS(st)) ZwClose(h);
    out.Buffer = buffer;
    out.Length = 0;
    out.MaximumLength = 4; /* too small */
    st = ZwQuerySymbolicLinkObject(link, &out, &returned);
    OK(st == STATUS_BUFFER_TOO_SMALL, "a short LinkTarget buffer is STATUS_BUFFER_TOO_SMALL");
    OK(returned == sizeof(L"\\KemuConf"), "ReturnedLength is the target's size with its NUL");
    out.MaximumLength = sizeof(buffer);
    st = ZwQuerySymbolicLinkObject(link, &out, &returned);
    OK(st == STATUS_SUCCESS && out.Length == 18 && RtlEqualUnicodeString(&out, &target, FALSE),
       "ZwQuerySymbolicLinkObject returns the target");
    if (link) ZwClose(link);
  }

  /* ZwQueryDirectoryObject: one entry {Name, TypeName} at a time. */
  {
    UCHAR buffer[256];
    ULONG context = 0, returned = 0;
    POBJECT_DIRECTORY_INFORMATION e = (POBJECT_DIRECTORY_INFORMATION)buffer;
    UNICODE_STRING directory_type;
    RtlInitUnicodeString(&directory_type, L"Directory");
    st = ZwQueryDirectoryObject(root, buffer, sizeof(buffer), TRUE, TRUE, &context, &returned);
    OK(st == STATUS_SUCCESS && context == 1, "ZwQueryDirectoryObject returns one entry and advances Context");
    OK(st == STATUS_SUCCESS && RtlEqualUnicodeString(&e->TypeName, &directory_type, FALSE),
       "a directory entry names its type");
    st = ZwQueryDirectoryObject(root, buffer, sizeof(buffer), TRUE, FALSE, &context, &returned);
    st = ZwQueryDirectoryObject(root, buffer, sizeof(buffer), TRUE, FALSE, &context, &returned);
    OK(st == STATUS_NO_MORE_ENTRIES, "past the last entry: STATUS_NO_MORE_ENTRIES");
    st = ZwQueryDirectoryObject(root, buffer, 8, TRUE, TRUE, &context, &returned);
    OK(st == STATUS_BUFFER_TOO_SMALL, "a buffer too small for one entry is STATUS_BUFFER_TOO_SMALL");
  }

  /* Temporary objects lose their name with their last handle; permanent ones keep it. */
  ZwClose(sub);
  st = open_dir(L"\\KemuConf\\Sub", OBJ_KERNEL_HANDLE, NULL, DIRECTORY_QUERY, &h);
  OK(st == STATUS_OBJECT_NAME_NOT_FOUND, "a temporary object's name goes with its last handle");
  st = create_dir(L"\\KemuConf\\Kept", OBJ_KERNEL_HANDLE | OBJ_PERMANENT, NULL, &sub);
  OK(st == STATUS_SUCCESS, "OBJ_PERMANENT is accepted from KernelMode");
  ZwClose(sub);
  st = open_dir(L"\\KemuConf\\Kept", OBJ_KERNEL_HANDLE, NULL, DELETE, &sub);
  OK(st == STATUS_SUCCESS, "a permanent object keeps its name without handles");
  OK(ZwMakeTemporaryObject(sub) == STATUS_SUCCESS, "ZwMakeTemporaryObject needs DELETE access and succeeds");
  ZwClose(sub);
  st = open_dir(L"\\KemuConf\\Kept", OBJ_KERNEL_HANDLE, NULL, DIRECTORY_QUERY, &h);
  OK(st == STATUS_OBJECT_NAME_NOT_FOUND, "made temporary, the object goes with its last handle");

  /* ObReferenceObjectByName and ObQueryNameString. */
  {
    UNICODE_STRING name;
    PVOID object = NULL;
    UCHAR buffer[128];
    POBJECT_NAME_INFORMATION info = (POBJECT_NAME_INFORMATION)buffer;
    ULONG returned = 0;
    UNICODE_STRING expected;
    RtlInitUnicodeString(&name, L"\\KEMUCONF");
    RtlInitUnicodeString(&expected, L"\\KemuConf");
    st = ObReferenceObjectByName(&name, OBJ_CASE_INSENSITIVE, NULL, 0, NULL, KernelMode, NULL, &object);
    OK(st == STATUS_SUCCESS && object != NULL, "ObReferenceObjectByName finds a directory");
    if (object) {
      st = ObQueryNameString(object, info, 8, &returned);
      OK(st == STATUS_INFO_LENGTH_MISMATCH, "ObQueryNameString with a short buffer: STATUS_INFO_LENGTH_MISMATCH");
      OK(returned == sizeof(OBJECT_NAME_INFORMATION) + sizeof(L"\\KemuConf"),
         "ObQueryNameString reports the size it needs");
      st = ObQueryNameString(object, info, sizeof(buffer), &returned);
      OK(st == STATUS_SUCCESS && RtlEqualUnicodeString(&info->Name, &expected, FALSE),
         "ObQueryNameString returns the full name as created");
      ObDereferenceObject(object);
    }
    st = ObReferenceObjectByName(&name, OBJ_CASE_INSENSITIVE, NULL, 0, *IoFileObjectType, KernelMode, NULL, &object);
    OK(st == STATUS_OBJECT_TYPE_MISMATCH, "ObReferenceObjectByName checks the object type");
  }
  ZwClose(root);
}

/* ObReferenceObjectByHandle's decisions, in Windows' order (semantics.md §3). */
static void reference_by_handle_order(void) {
  HANDLE dir = NULL, kernel_dir = NULL;
  PVOID object = (PVOID)1;
  NTSTATUS st;
  create_dir(NULL, 0, NULL, &dir);
  create_dir(NULL, OBJ_KERNEL_HANDLE, NULL, &kernel_dir);
  st = ObReferenceObjectByHandle((HANDLE)0x7FFC, 0, NULL, KernelMode, &object, NULL);
  OK(st == STATUS_INVALID_HANDLE, "an unused handle value is STATUS_INVALID_HANDLE");
  OK(object == NULL, "the object pointer is cleared even on failure");
  st = ObReferenceObjectByHandle(kernel_dir, 0, NULL, UserMode, &object, NULL);
  OK(st == STATUS_INVALID_HANDLE, "a kernel handle is invalid when AccessMode is UserMode");
  st = ObReferenceObjectByHandle(dir, GENERIC_ALL, *ExEventObjectType, UserMode, &object, NULL);
  OK(st == STATUS_OBJECT_TYPE_MISMATCH, "the type is checked before the access");
  st = ObReferenceObjectByHandle(NtCurrentProcess(), PROCESS_ALL_ACCESS, *PsProcessType, UserMode, &object, NULL);
  OK(st == STATUS_SUCCESS && object == (PVOID)PsGetCurrentProcess(), "NtCurrentProcess() is the current process");
  if (NT_SUCCESS(st)) ObDereferenceObject(object);
  st = ObReferenceObjectByHandle(NtCurrentThread(), 0, *PsProcessType, KernelMode, &object, NULL);
  OK(st == STATUS_OBJECT_TYPE_MISMATCH, "NtCurrentThread() is not a process");
  /* Access: a handle opened with DIRECTORY_QUERY only. */
  {
    HANDLE limited = NULL;
    OBJECT_HANDLE_INFORMATION info;
    st = ZwDuplicateObject(NtCurrentProcess(), dir, NtCurrentProcess(), &limited, DIRECTORY_QUERY, 0, 0);
    OK(st == STATUS_SUCCESS, "ZwDuplicateObject with a smaller access succeeds");
    st = ObReferenceObjectByHandle(limited, DIRECTORY_CREATE_OBJECT, NULL, UserMode, &object, NULL);
    OK(st == STATUS_ACCESS_DENIED, "UserMode: access beyond the granted mask is STATUS_ACCESS_DENIED");
    if (NT_SUCCESS(st)) ObDereferenceObject(object);
    st = ObReferenceObjectByHandle(limited, DIRECTORY_CREATE_OBJECT, NULL, KernelMode, &object, &info);
    OK(st == STATUS_SUCCESS, "KernelMode: no access check");
    OK(NT_SUCCESS(st) && info.GrantedAccess == DIRECTORY_QUERY, "HandleInformation reports the granted access");
    if (NT_SUCCESS(st)) ObDereferenceObject(object);
    st = ObReferenceObjectByHandle(limited, GENERIC_READ, NULL, UserMode, &object, NULL);
    /* GENERIC_READ on a Directory maps to READ_CONTROL | DIRECTORY_QUERY | DIRECTORY_TRAVERSE. */
    OK(st == STATUS_ACCESS_DENIED, "generic rights are mapped before the access check");
    if (NT_SUCCESS(st)) ObDereferenceObject(object);
    ZwClose(limited);
  }
  ZwClose(dir);
  ZwClose(kernel_dir);
}

/* ZwDuplicateObject's options (semantics.md §3). */
static void duplicate_options(BOOLEAN client_context) {
  HANDLE source = NULL, copy = NULL, kernel_copy = NULL;
  NTSTATUS st;
  OBJECT_HANDLE_INFORMATION info;
  PVOID object = NULL;
  create_dir(NULL, 0, NULL, &source);
  st = ZwDuplicateObject(NtCurrentProcess(), source, NtCurrentProcess(), &copy, 0, 0, DUPLICATE_SAME_ACCESS);
  OK(st == STATUS_SUCCESS, "DUPLICATE_SAME_ACCESS duplicates");
  st = ObReferenceObjectByHandle(copy, 0, NULL, KernelMode, &object, &info);
  OK(NT_SUCCESS(st) && info.GrantedAccess == DIRECTORY_ALL_ACCESS, "DUPLICATE_SAME_ACCESS keeps the source's access");
  if (NT_SUCCESS(st)) ObDereferenceObject(object);
  OK(handle_count(source) == 2, "a duplicate is one more handle to the object");
  ZwClose(copy);
  st = ZwDuplicateObject(NtCurrentProcess(), source, NtCurrentProcess(), &copy, 0, OBJ_INHERIT,
                         DUPLICATE_SAME_ACCESS | DUPLICATE_SAME_ATTRIBUTES);
  st = ObReferenceObjectByHandle(copy, 0, NULL, KernelMode, &object, &info);
  OK(NT_SUCCESS(st) && (info.HandleAttributes & OBJ_INHERIT) == 0,
     "DUPLICATE_SAME_ATTRIBUTES ignores the requested attributes");
  if (NT_SUCCESS(st)) ObDereferenceObject(object);
  ZwClose(copy);
  if (client_context) {
    st = ZwDuplicateObject(NtCurrentProcess(), source, NtCurrentProcess(), &kernel_copy, 0, OBJ_KERNEL_HANDLE,
                           DUPLICATE_SAME_ACCESS);
    OK(st == STATUS_INVALID_PARAMETER, "OBJ_KERNEL_HANDLE into a user process is refused");
  }
  st = ZwDuplicateObject(NtCurrentProcess(), source, NtCurrentProcess(), &copy, 0, 0,
                         DUPLICATE_SAME_ACCESS | DUPLICATE_CLOSE_SOURCE);
  OK(st == STATUS_SUCCESS, "DUPLICATE_CLOSE_SOURCE duplicates");
  st = ObReferenceObjectByHandle(source, 0, NULL, KernelMode, &object, NULL);
  OK(st == STATUS_INVALID_HANDLE, "DUPLICATE_CLOSE_SOURCE closed the source handle");
  ZwClose(copy);
}

/* --- opening processes and threads: access checks ---------------------------------- */
NTSYSAPI NTSTATUS NTAPI NtOpenThread(PHANDLE ThreadHandle, ACCESS_MASK DesiredAccess,
                                     POBJECT_ATTRIBUTES ObjectAttributes, PCLIENT_ID ClientId);
NTKERNELAPI BOOLEAN NTAPI PsIsProtectedProcess(PEPROCESS Process);
static HANDLE g_entry_tid;  /* the System thread DriverEntry ran on */

#define PROCESS_QUERY_LIMITED 0x1000
/* winnt.h rights the DDK headers do not define. */
#ifndef PROCESS_QUERY_INFORMATION
#define PROCESS_QUERY_INFORMATION 0x0400
#endif
#ifndef PROCESS_VM_OPERATION
#define PROCESS_VM_OPERATION 0x0008
#endif
#ifndef PROCESS_VM_WRITE
#define PROCESS_VM_WRITE 0x0020
#endif
#ifndef THREAD_QUERY_INFORMATION
#define THREAD_QUERY_INFORMATION 0x0040
#endif

static ACCESS_MASK granted_access(HANDLE h) {
  OBJECT_HANDLE_INFORMATION info;
  PVOID object = NULL;
  if (!NT_SUCCESS(ObReferenceObjectByHandle(h, 0, NULL, KernelMode, &object, &info))) return 0xFFFFFFFF;
  ObDereferenceObject(object);
  return info.GrantedAccess;
}

/* The arguments of a UserMode NtOpenProcess/NtOpenThread must be user memory. */
typedef struct {
  OBJECT_ATTRIBUTES oa;
  CLIENT_ID cid;
  HANDLE handle;
} USER_OPEN_ARGS;

static NTSTATUS user_open(USER_OPEN_ARGS *u, BOOLEAN thread, HANDLE pid, HANDLE tid, ACCESS_MASK access,
                          ULONG attributes, HANDLE *out) {
  NTSTATUS st;
  *out = NULL;
  __try {
    InitializeObjectAttributes(&u->oa, NULL, attributes, NULL, NULL);
    u->cid.UniqueProcess = pid;
    u->cid.UniqueThread = tid;
    u->handle = NULL;
    st = thread ? NtOpenThread(&u->handle, access, &u->oa, &u->cid) : NtOpenProcess(&u->handle, access, &u->oa, &u->cid);
    *out = u->handle;
  } __except (EXCEPTION_EXECUTE_HANDLER) {
    st = GetExceptionCode();
  }
  return st;
}

/* From a client's request (PreviousMode UserMode, kemu's default client: a
   standard user): NtOpenProcess/NtOpenThread check the target's DACL with the
   client's token; `scratch` is the client's output buffer. */
static void user_open_rules(USER_OPEN_ARGS *scratch) {
  HANDLE h = NULL, own = PsGetCurrentProcessId(), system = (HANDLE)4;
  NTSTATUS st;
  OBJECT_ATTRIBUTES oa;
  CLIENT_ID cid = {own, NULL};
  st = user_open(scratch, FALSE, own, NULL, PROCESS_ALL_ACCESS, 0, &h);
  OK(st == STATUS_SUCCESS && !is_kernel_handle(h) && granted_access(h) == PROCESS_ALL_ACCESS,
     "the user's own process grants it PROCESS_ALL_ACCESS (its default DACL: the user GENERIC_ALL)");
  ZwClose(h);
  st = user_open(scratch, FALSE, own, NULL, PROCESS_QUERY_INFORMATION, 0, &h);
  OK(st == STATUS_SUCCESS && granted_access(h) == 0x1400,
     "PROCESS_QUERY_INFORMATION brings PROCESS_QUERY_LIMITED_INFORMATION into the handle");
  ZwClose(h);
  st = user_open(scratch, FALSE, own, NULL, PROCESS_VM_OPERATION | PROCESS_VM_WRITE, 0, &h);
  OK(st == STATUS_SUCCESS && granted_access(h) == 0x1028,
     "PROCESS_VM_OPERATION with PROCESS_VM_WRITE brings PROCESS_QUERY_LIMITED_INFORMATION too");
  ZwClose(h);
  st = user_open(scratch, FALSE, own, NULL, GENERIC_READ, 0, &h);
  OK(st == STATUS_SUCCESS && granted_access(h) == 0x21410, "GENERIC_READ maps to 0x20410 (+ limited query)");
  ZwClose(h);
  st = user_open(scratch, FALSE, own, NULL, MAXIMUM_ALLOWED, 0, &h);
  OK(st == STATUS_SUCCESS && granted_access(h) == PROCESS_ALL_ACCESS, "MAXIMUM_ALLOWED on its own process: all");
  ZwClose(h);
  st = user_open(scratch, FALSE, own, NULL, PROCESS_QUERY_LIMITED, OBJ_KERNEL_HANDLE, &h);
  OK(st == STATUS_SUCCESS && !is_kernel_handle(h), "a UserMode NtOpenProcess drops OBJ_KERNEL_HANDLE");
  ZwClose(h);
  st = user_open(scratch, FALSE, system, NULL, PROCESS_QUERY_LIMITED, 0, &h);
  OK(st == STATUS_ACCESS_DENIED, "the System process's DACL (SYSTEM, Administrators) refuses a standard user");
  st = user_open(scratch, FALSE, system, NULL, PROCESS_ALL_ACCESS, 0, &h);
  OK(st == STATUS_ACCESS_DENIED, "PROCESS_ALL_ACCESS to System is refused to a standard user");
  st = user_open(scratch, FALSE, system, NULL, MAXIMUM_ALLOWED, 0, &h);
  OK(st == STATUS_ACCESS_DENIED, "MAXIMUM_ALLOWED with nothing allowed is STATUS_ACCESS_DENIED");
  st = user_open(scratch, TRUE, own, PsGetCurrentThreadId(), THREAD_QUERY_INFORMATION, 0, &h);
  OK(st == STATUS_SUCCESS && granted_access(h) == 0x840,
     "NtOpenThread: THREAD_QUERY_INFORMATION brings THREAD_QUERY_LIMITED_INFORMATION");
  ZwClose(h);
  st = user_open(scratch, TRUE, system, g_entry_tid, 0x0800 /* THREAD_QUERY_LIMITED_INFORMATION */, 0, &h);
  OK(st == STATUS_ACCESS_DENIED, "a System thread's DACL refuses a standard user too");
  {
    HANDLE kernel_variable = NULL;
    InitializeObjectAttributes(&oa, NULL, 0, NULL, NULL);
    st = NtOpenProcess(&kernel_variable, PROCESS_QUERY_LIMITED, &oa, &cid);
    OK(st == STATUS_ACCESS_VIOLATION, "a UserMode NtOpenProcess probes its arguments: kernel memory is refused");
  }
  st = ObOpenObjectByPointer(PsInitialSystemProcess, 0, NULL, PROCESS_QUERY_LIMITED, *PsProcessType, UserMode, &h);
  OK(st == STATUS_ACCESS_DENIED, "ObOpenObjectByPointer(UserMode) checks the System process's DACL as well");
  /* OBJ_FORCE_ACCESS_CHECK does not put ZwOpenProcess under the DACL:
     PsOpenProcess's SeDebugPrivilege test uses PreviousMode, KernelMode. */
  cid.UniqueProcess = system;
  InitializeObjectAttributes(&oa, NULL, OBJ_KERNEL_HANDLE | OBJ_FORCE_ACCESS_CHECK, NULL, NULL);
  st = ZwOpenProcess(&h, PROCESS_QUERY_LIMITED, &oa, &cid);
  OK(st == STATUS_SUCCESS && is_kernel_handle(h), "ZwOpenProcess with OBJ_FORCE_ACCESS_CHECK opens System");
  if (NT_SUCCESS(st)) ZwClose(h);
  OK(!PsIsProtectedProcess(PsGetCurrentProcess()), "the client is not a protected process");
}

/* --- processes, threads, attach, notifications ------------------------------------ */
static LONG g_process_creates, g_thread_creates, g_image_loads;
static HANDLE g_created_pid, g_created_parent, g_created_tid, g_image_pid;
static UCHAR g_image_first_byte;

static VOID NTAPI on_process(HANDLE parent, HANDLE pid, BOOLEAN create) {
  if (!create) return;
  InterlockedIncrement(&g_process_creates);
  g_created_pid = pid;
  g_created_parent = parent;
}
static VOID NTAPI on_thread(HANDLE pid, HANDLE tid, BOOLEAN create) {
  UNREFERENCED_PARAMETER(pid);
  if (!create) return;
  InterlockedIncrement(&g_thread_creates);
  g_created_tid = tid;
}
static VOID NTAPI on_image(PUNICODE_STRING name, HANDLE pid, PIMAGE_INFO info) {
  UNREFERENCED_PARAMETER(name);
  InterlockedIncrement(&g_image_loads);
  g_image_pid = pid;
  /* The image is mapped in the new process, whose context this runs in. */
  g_image_first_byte = *(volatile UCHAR *)info->ImageBase;
}

typedef struct {
  NTSTATUS ExitStatus;
  PVOID PebBaseAddress;
  ULONG_PTR AffinityMask;
  LONG BasePriority;
  ULONG_PTR UniqueProcessId;
  ULONG_PTR InheritedFromUniqueProcessId;
} CONF_PROCESS_BASIC_INFORMATION;

static void process_rules(BOOLEAN client_context) {
  PEPROCESS process = NULL;
  NTSTATUS st;
  st = PsLookupProcessByProcessId((HANDLE)4, &process);
  OK(st == STATUS_SUCCESS && process == PsInitialSystemProcess, "pid 4 is the System process");
  if (NT_SUCCESS(st)) ObDereferenceObject(process);
  st = PsLookupProcessByProcessId((HANDLE)0x7FFFFFF0, &process);
  OK(st == STATUS_INVALID_PARAMETER, "an unknown process id is STATUS_INVALID_PARAMETER");
  st = PsLookupProcessByProcessId(PsGetCurrentProcessId(), &process);
  OK(st == STATUS_SUCCESS && process == PsGetCurrentProcess(), "the current process is found by its id");
  if (NT_SUCCESS(st)) ObDereferenceObject(process);
  {
    PETHREAD thread = NULL;
    st = PsLookupThreadByThreadId(PsGetCurrentThreadId(), &thread);
    OK(st == STATUS_SUCCESS && thread == PsGetCurrentThread(), "the current thread is found by its id");
    if (NT_SUCCESS(st)) ObDereferenceObject(thread);
  }
  {
    CLIENT_ID cid = {(HANDLE)4, NULL};
    OBJECT_ATTRIBUTES oa;
    HANDLE h = NULL;
    PVOID object = NULL;
    InitializeObjectAttributes(&oa, NULL, OBJ_KERNEL_HANDLE, NULL, NULL);
    st = ZwOpenProcess(&h, 0x0400 /* PROCESS_QUERY_INFORMATION */, &oa, &cid);
    OK(st == STATUS_SUCCESS && is_kernel_handle(h), "ZwOpenProcess by CLIENT_ID opens the System process");
    if (NT_SUCCESS(st)) {
      st = ObReferenceObjectByHandle(h, 0, *PsProcessType, KernelMode, &object, NULL);
      OK(st == STATUS_SUCCESS && object == PsInitialSystemProcess, "the handle names the System process");
      if (NT_SUCCESS(st)) ObDereferenceObject(object);
      ZwClose(h);
    }
    cid.UniqueProcess = (HANDLE)0x7FFFFFF0;
    st = ZwOpenProcess(&h, 0x0400 /* PROCESS_QUERY_INFORMATION */, &oa, &cid);
    OK(st == STATUS_INVALID_CID, "ZwOpenProcess of an unknown id is STATUS_INVALID_CID");
    st = ZwOpenProcess(&h, 0x0400 /* PROCESS_QUERY_INFORMATION */, &oa, NULL);
    OK(st == STATUS_INVALID_PARAMETER_MIX, "ZwOpenProcess needs a name or a CLIENT_ID");
  }
  if (!client_context) {
    CLIENT_ID cid = {(HANDLE)4, NULL};
    OBJECT_ATTRIBUTES oa;
    HANDLE h = NULL;
    InitializeObjectAttributes(&oa, NULL, OBJ_KERNEL_HANDLE, NULL, NULL);
    st = ZwOpenProcess(&h, 0x0400 /* PROCESS_QUERY_INFORMATION */, &oa, &cid);
    OK(st == STATUS_SUCCESS && granted_access(h) == 0x1400,
       "a kernel-mode open gets PROCESS_QUERY_LIMITED_INFORMATION with PROCESS_QUERY_INFORMATION too");
    if (NT_SUCCESS(st)) ZwClose(h);
    OK(PsIsProtectedProcess(PsInitialSystemProcess), "the System process is a protected process");
  }
  {
    CONF_PROCESS_BASIC_INFORMATION info;
    ULONG len = 0;
    UCHAR small[8];
    st = ZwQueryInformationProcess(NtCurrentProcess(), ProcessBasicInformation, &info, sizeof(info), &len);
    OK(st == STATUS_SUCCESS && len == sizeof(info), "ProcessBasicInformation is 0x30 bytes");
    OK(info.UniqueProcessId == (ULONG_PTR)PsGetCurrentProcessId(), "UniqueProcessId is the current process's id");
    OK(info.ExitStatus == STATUS_PENDING, "a running process's ExitStatus is STILL_ACTIVE (STATUS_PENDING)");
    st = ZwQueryInformationProcess(NtCurrentProcess(), ProcessBasicInformation, &info, sizeof(info) - 8, &len);
    OK(st == STATUS_INFO_LENGTH_MISMATCH, "ProcessBasicInformation needs its exact size");
    st = ZwQueryInformationProcess(NtCurrentProcess(), ProcessImageFileName, small, sizeof(small), &len);
    OK(st == STATUS_INFO_LENGTH_MISMATCH && len >= sizeof(UNICODE_STRING),
       "ProcessImageFileName with a short buffer reports the size it needs");
  }
  if (client_context) {
    OK(g_process_creates == 1 && g_created_pid == PsGetCurrentProcessId(),
       "the process-notify routine saw the client's creation");
    OK(g_created_parent == (HANDLE)4, "kemu creates the client from the System process");
    OK(g_thread_creates >= 1 && g_created_tid == PsGetCurrentThreadId(), "the thread-notify routine saw its thread");
    OK(g_image_loads == 1 && g_image_pid == PsGetCurrentProcessId() && g_image_first_byte == 'M',
       "the load-image routine ran in the new process, its image mapped");
  }
}

/* Attaching switches the current process: its handle table and user half. */
static void attach_rules(void) {
  HANDLE local = NULL;
  PVOID object = NULL, again = NULL;
  KAPC_STATE apc;
  NTSTATUS st;
  create_dir(NULL, 0, NULL, &local);
  st = ObReferenceObjectByHandle(local, 0, NULL, KernelMode, &object, NULL);
  OK(st == STATUS_SUCCESS, "a client-table handle is found in the client's context");
  KeStackAttachProcess((PKPROCESS)PsInitialSystemProcess, &apc);
  OK(PsGetCurrentProcess() == PsInitialSystemProcess, "KeStackAttachProcess makes the System process current");
  st = ObReferenceObjectByHandle(local, 0, NULL, KernelMode, &again, NULL);
  OK(!NT_SUCCESS(st) || again != object, "attached, the handle value names the System table's entry");
  if (NT_SUCCESS(st)) ObDereferenceObject(again);
  KeUnstackDetachProcess(&apc);
  OK(PsGetCurrentProcess() != PsInitialSystemProcess, "KeUnstackDetachProcess returns to the client");
  st = ObReferenceObjectByHandle(local, 0, NULL, KernelMode, &again, NULL);
  OK(st == STATUS_SUCCESS && again == object, "detached, the client's table is current again");
  if (NT_SUCCESS(st)) ObDereferenceObject(again);
  KeAttachProcess((PKPROCESS)PsInitialSystemProcess);
  OK(PsGetCurrentProcess() == PsInitialSystemProcess, "KeAttachProcess switches the current process too");
  KeDetachProcess();
  OK(PsGetCurrentProcess() != PsInitialSystemProcess, "KeDetachProcess undoes it");
  if (object) ObDereferenceObject(object);
  ZwClose(local);
}

/* --- virtual memory of the current process --------------------------------------- */
/* Exported by ntoskrnl.exe, not declared by mingw's DDK headers. */
NTSYSAPI NTSTATUS NTAPI ZwQueryVirtualMemory(HANDLE process, PVOID base, ULONG information_class, PVOID information,
                                             SIZE_T length, PSIZE_T return_length);
NTKERNELAPI NTSTATUS NTAPI MmCopyVirtualMemory(PEPROCESS from_process, PVOID from, PEPROCESS to_process, PVOID to,
                                               SIZE_T size, KPROCESSOR_MODE previous_mode, PSIZE_T copied);
/* winnt.h's MEMORY_BASIC_INFORMATION (x64), which the DDK headers leave out. */
typedef struct {
  PVOID BaseAddress;
  PVOID AllocationBase;
  ULONG AllocationProtect;
  USHORT PartitionId;
  SIZE_T RegionSize;
  ULONG State;
  ULONG Protect;
  ULONG Type;
} CONF_MEMORY_BASIC_INFORMATION;
typedef NTSTATUS(NTAPI *PROTECT_VIRTUAL_MEMORY)(HANDLE process, PVOID *base, PSIZE_T size, ULONG protect,
                                                PULONG old_protect);

/* Writes one byte of user memory inside __try (the store in a callee, as clang's
 * SEH catches faults of calls): the exception code, or STATUS_SUCCESS. */
__declspec(noinline) static void store_byte(volatile UCHAR *at, UCHAR value) { *at = value; }
static NTSTATUS try_write(volatile UCHAR *at, UCHAR value) {
  __try {
    store_byte(at, value);
  } __except (EXCEPTION_EXECUTE_HANDLER) {
    return GetExceptionCode();
  }
  return STATUS_SUCCESS;
}

/* In a client's request the current process is the client: ZwAllocateVirtualMemory
 * (NtCurrentProcess()) gives memory in its user half. */
static void virtual_memory_rules(void) {
  PVOID base = NULL, at;
  SIZE_T size = 0x1801, len = 0, copied = 0;
  CONF_MEMORY_BASIC_INFORMATION mbi;
  KAPC_STATE apc;
  UNICODE_STRING name;
  PROTECT_VIRTUAL_MEMORY protect;
  ULONG old = 0;
  UCHAR copy[16];
  NTSTATUS st;
  st = ZwAllocateVirtualMemory(NtCurrentProcess(), &base, 0, &size, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
  OK(st == STATUS_SUCCESS && size == 0x2000, "ZwAllocateVirtualMemory rounds RegionSize up to whole pages");
  if (!NT_SUCCESS(st)) return;
  OK(((ULONG_PTR)base & 0xFFFF) == 0 && (ULONG_PTR)base <= (ULONG_PTR)MmHighestUserAddress,
     "a new allocation starts on a 64 KiB boundary in the user half");
  OK(((volatile UCHAR *)base)[0x1FFF] == 0 && try_write((volatile UCHAR *)base + 0x10, 0x5A) == STATUS_SUCCESS,
     "committed pages are zero-filled and writable");
  KeStackAttachProcess((PKPROCESS)PsInitialSystemProcess, &apc);
  OK(!MmIsAddressValid(base), "the allocation is not in another process's user half");
  KeUnstackDetachProcess(&apc);
  OK(MmIsAddressValid(base), "it is in the current process's");
  st = MmCopyVirtualMemory(PsGetCurrentProcess(), base, PsGetCurrentProcess(), copy, sizeof(copy), KernelMode, &copied);
  OK(st == STATUS_SUCCESS && copied == sizeof(copy) && copy[0] == 0 && copy[15] == 0,
     "MmCopyVirtualMemory copies from the process's user memory");
  st = MmCopyVirtualMemory(PsGetCurrentProcess(), (PUCHAR)base + 0x10, PsGetCurrentProcess(), copy, 1, KernelMode,
                           &copied);
  OK(st == STATUS_SUCCESS && copy[0] == 0x5A, "MmCopyVirtualMemory sees what was written");

  RtlZeroMemory(&mbi, sizeof(mbi));
  st = ZwQueryVirtualMemory(NtCurrentProcess(), (PUCHAR)base + 0x123, 0 /* MemoryBasicInformation */, &mbi, sizeof(mbi),
                            &len);
  OK(st == STATUS_SUCCESS && len == sizeof(mbi) && sizeof(mbi) == 48, "MemoryBasicInformation is 48 bytes");
  OK(mbi.BaseAddress == base && mbi.AllocationBase == base && mbi.AllocationProtect == PAGE_READWRITE,
     "BaseAddress is the page, AllocationBase the allocation's base");
  OK(mbi.RegionSize == 0x2000 && mbi.State == MEM_COMMIT && mbi.Protect == PAGE_READWRITE && mbi.Type == MEM_PRIVATE,
     "ZwQueryVirtualMemory reports committed private read-write pages");
  st = ZwQueryVirtualMemory(NtCurrentProcess(), base, 0, &mbi, sizeof(mbi) - 1, &len);
  OK(st == STATUS_INFO_LENGTH_MISMATCH, "a buffer shorter than MEMORY_BASIC_INFORMATION is STATUS_INFO_LENGTH_MISMATCH");

  RtlInitUnicodeString(&name, L"ZwProtectVirtualMemory");
  protect = (PROTECT_VIRTUAL_MEMORY)MmGetSystemRoutineAddress(&name);
  OK(protect != NULL, "ZwProtectVirtualMemory is exported");
  if (protect) {
    at = (PUCHAR)base + 0x1800;
    size = 1;
    st = protect(NtCurrentProcess(), &at, &size, PAGE_READONLY, &old);
    OK(st == STATUS_SUCCESS && old == PAGE_READWRITE, "ZwProtectVirtualMemory returns the old protection");
    OK(at == (PUCHAR)base + 0x1000 && size == 0x1000, "it changes whole pages and says which");
    OK(try_write((volatile UCHAR *)base + 0x1000, 1) == STATUS_ACCESS_VIOLATION,
       "a write to a read-only user page raises STATUS_ACCESS_VIOLATION");
    ZwQueryVirtualMemory(NtCurrentProcess(), base, 0, &mbi, sizeof(mbi), &len);
    OK(mbi.RegionSize == 0x1000 && mbi.Protect == PAGE_READWRITE, "the first page keeps its protection");
  }

  at = (PUCHAR)base + 0x1000;
  size = 0;
  st = ZwFreeVirtualMemory(NtCurrentProcess(), &at, &size, MEM_RELEASE);
  OK(st == STATUS_FREE_VM_NOT_AT_BASE, "MEM_RELEASE with RegionSize 0 needs the allocation's base");
  at = base;
  size = 0;
  st = ZwFreeVirtualMemory(NtCurrentProcess(), &at, &size, MEM_RELEASE);
  OK(st == STATUS_SUCCESS && at == base && size == 0x2000, "MEM_RELEASE frees the whole allocation");
  ZwQueryVirtualMemory(NtCurrentProcess(), base, 0, &mbi, sizeof(mbi), &len);
  OK(mbi.State == MEM_FREE && mbi.AllocationBase == NULL, "released memory is MEM_FREE");
  st = ZwFreeVirtualMemory(NtCurrentProcess(), &at, &size, MEM_RELEASE);
  OK(st == STATUS_MEMORY_NOT_ALLOCATED, "freeing it again is STATUS_MEMORY_NOT_ALLOCATED");
}

static NTSTATUS complete(PIRP irp, NTSTATUS status, ULONG_PTR information) {
  irp->IoStatus.Status = status;
  irp->IoStatus.Information = information;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  return status;
}

static NTSTATUS NTAPI DispatchCreateClose(PDEVICE_OBJECT device, PIRP irp) {
  UNREFERENCED_PARAMETER(device);
  return complete(irp, STATUS_SUCCESS, 0);
}

static NTSTATUS NTAPI DispatchIoctl(PDEVICE_OBJECT device, PIRP irp) {
  PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(irp);
  ULONG code = sp->Parameters.DeviceIoControl.IoControlCode;
  UNREFERENCED_PARAMETER(device);
  switch (code) {
    case IOCTL_RUN_CLIENT_SUITE:
      OK(ExGetPreviousMode() == UserMode, "a client's request runs with PreviousMode UserMode");
      OK(irp->RequestorMode == UserMode, "Irp->RequestorMode is the client's previous mode");
      handle_values(FALSE);
      reference_by_handle_order();
      duplicate_options(TRUE);
      process_rules(TRUE);
      section_rules(TRUE);
      exclusive_rules(TRUE);
      if (irp->UserBuffer && sp->Parameters.DeviceIoControl.OutputBufferLength >= sizeof(USER_OPEN_ARGS))
        user_open_rules((USER_OPEN_ARGS *)irp->UserBuffer);
      else
        OK(FALSE, "the client suite needs an output buffer for its UserMode NtOpenProcess arguments");
      attach_rules();
      virtual_memory_rules();
      /* Zw vs Nt: NtClose keeps PreviousMode UserMode, so a kernel handle is invalid for it. */
      {
        HANDLE kernel_dir = NULL;
        create_dir(NULL, OBJ_KERNEL_HANDLE, NULL, &kernel_dir);
        OK(NtClose(kernel_dir) == STATUS_INVALID_HANDLE, "NtClose from a UserMode request cannot close a kernel handle");
        OK(ExGetPreviousMode() == UserMode, "a ZwXxx call restores the previous mode it changed");
        OK(ZwClose(kernel_dir) == STATUS_SUCCESS, "ZwClose runs with KernelMode and closes it");
      }
      /* The System process's handle is not in the client's table. */
      {
        PVOID object = NULL;
        NTSTATUS st = ObReferenceObjectByHandle(g_system_dir, 0, NULL, KernelMode, &object, NULL);
        OK(object != g_system_dir_object, "a handle value names an entry of the current process's table");
        if (NT_SUCCESS(st)) ObDereferenceObject(object);
      }
      return complete(irp, STATUS_SUCCESS, 0);
    case IOCTL_RESULTS:
      if (sp->Parameters.DeviceIoControl.OutputBufferLength < sizeof(CONF_RESULTS))
        return complete(irp, STATUS_BUFFER_TOO_SMALL, 0);
      RtlCopyMemory(irp->AssociatedIrp.SystemBuffer, &g_results, sizeof(g_results));
      return complete(irp, STATUS_SUCCESS, sizeof(g_results));
    case IOCTL_BUGCHECK_93:
      /* INVALID_KERNEL_HANDLE: a kernel-mode close of a handle that does not exist. */
      ZwClose((HANDLE)(ULONG_PTR)0x7FF0);
      return complete(irp, STATUS_SUCCESS, 0);
    case IOCTL_TERMINATE_CLIENT:
      /* The client ends from inside its own request: its handles close. */
      return complete(irp, ZwTerminateProcess(NtCurrentProcess(), 0x1234), 0);
    default:
      return complete(irp, STATUS_INVALID_DEVICE_REQUEST, 0);
  }
}

static VOID NTAPI DriverUnload(PDRIVER_OBJECT driver) {
  UNICODE_STRING link;
  RtlInitUnicodeString(&link, L"\\??\\KemuConformance");
  IoDeleteSymbolicLink(&link);
  if (g_system_dir) ZwClose(g_system_dir);
  if (g_exclusive_dir) ZwClose(g_exclusive_dir);
  PsSetCreateProcessNotifyRoutine(on_process, TRUE);
  PsRemoveCreateThreadNotifyRoutine(on_thread);
  PsRemoveLoadImageNotifyRoutine(on_image);
  IoDeleteDevice(driver->DeviceObject);
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path) {
  UNICODE_STRING name, link;
  NTSTATUS st;
  UNREFERENCED_PARAMETER(registry_path);
  OK(ExGetPreviousMode() == KernelMode, "DriverEntry runs with PreviousMode KernelMode");
  g_entry_tid = PsGetCurrentThreadId();
  handle_values(TRUE);
  namespace_rules();
  type_rules();
  physical_rules();
  file_position_rules();
  exclusive_rules(FALSE);
  section_rules(FALSE);
  reference_by_handle_order();
  duplicate_options(FALSE);
  process_rules(FALSE);
  OK(PsSetCreateProcessNotifyRoutine(on_process, FALSE) == STATUS_SUCCESS, "a process-notify routine registers");
  OK(PsSetCreateProcessNotifyRoutine(on_process, FALSE) == STATUS_INVALID_PARAMETER,
     "registering the same routine twice is STATUS_INVALID_PARAMETER");
  OK(PsSetCreateThreadNotifyRoutine(on_thread) == STATUS_SUCCESS, "a thread-notify routine registers");
  OK(PsSetLoadImageNotifyRoutine(on_image) == STATUS_SUCCESS, "a load-image routine registers");
  create_dir(NULL, 0, NULL, &g_system_dir);
  if (NT_SUCCESS(ObReferenceObjectByHandle(g_system_dir, 0, NULL, KernelMode, &g_system_dir_object, NULL)))
    ObDereferenceObject(g_system_dir_object);

  RtlInitUnicodeString(&name, L"\\Device\\KemuConformance");
  st = IoCreateDevice(driver, 0, &name, FILE_DEVICE_UNKNOWN, 0, FALSE, &g_device);
  if (!NT_SUCCESS(st)) return st;
  RtlInitUnicodeString(&link, L"\\??\\KemuConformance");
  IoCreateSymbolicLink(&link, &name);
  driver->MajorFunction[IRP_MJ_CREATE] = DispatchCreateClose;
  driver->MajorFunction[IRP_MJ_CLOSE] = DispatchCreateClose;
  driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = DispatchIoctl;
  driver->DriverUnload = DriverUnload;
  DbgPrint("conformance: DriverEntry passed=%u failed=%u\n", g_results.passed, g_results.failed);
  return STATUS_SUCCESS;
}
