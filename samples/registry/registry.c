/*
 * registry.sys - a driver that reads its configuration the ways drivers do:
 * RtlQueryRegistryValues (DIRECT stores with TYPECHECK, callbacks, the
 * REG_MULTI_SZ split, defaults, SUBKEY, NOVALUE, REQUIRED) and
 * ZwQueryValueKey (each buffer-size boundary), then creates, writes,
 * enumerates and deletes keys and values, and reports every status and
 * result length through DbgPrint. Its IOCTL re-reads Parameters\Mode from
 * the client's context and records the request in Parameters\LastIoctl.
 *
 * Expected registry (see tests/e2e/registry_e2e_test.cpp): Parameters with
 * Mode (REG_DWORD), Name (REG_SZ), List (REG_MULTI_SZ), Blob (REG_BINARY)
 * and a Paths subkey with Image (REG_EXPAND_SZ holding %SystemRoot%).
 */
#include "kemu_sample.h"

KEMU_DRIVER_ENTRY;

#define IOCTL_REGISTRY_REPORT CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)

/* WDK 8 additions mingw's headers lack. */
#ifndef RTL_QUERY_REGISTRY_TYPECHECK
#define RTL_QUERY_REGISTRY_TYPECHECK 0x00000100
#define RTL_QUERY_REGISTRY_TYPECHECK_SHIFT 24
#endif
typedef struct {
  ULONG NameLength;
  WCHAR Name[1];
} KEMU_KEY_NAME_INFORMATION;
typedef NTSTATUS(NTAPI* RTL_QUERY_REGISTRY_VALUES_EX)(ULONG, PCWSTR, PRTL_QUERY_REGISTRY_TABLE, PVOID, PVOID);

typedef struct {
  ULONG mode;
  ULONG open_status;
  ULONG query_status;
  ULONG write_status;
  ULONG kernel_handle;
  ULONG user_handle_kernel_flag;
} REGISTRY_REPORT;

static PDEVICE_OBJECT g_device;
static ULONG g_context_tag = 0x4B454D55; /* 'KEMU' */

static VOID open_attributes(POBJECT_ATTRIBUTES oa, PUNICODE_STRING name, HANDLE root, ULONG attributes) {
  InitializeObjectAttributes(oa, name, OBJ_CASE_INSENSITIVE | attributes, root, NULL);
}

static ULONG is_kernel_handle(HANDLE h) { return ((ULONG_PTR)h & 0x80000000) != 0; }

/* One call per string of List (REG_MULTI_SZ arrives split into REG_SZ). */
static NTSTATUS NTAPI ListRoutine(PWSTR name, ULONG type, PVOID data, ULONG length, PVOID context, PVOID entry) {
  ULONG* count = (ULONG*)entry;
  KEMU_PRINT("registry: list[%lu] %ws='%ws' type=%lu len=%lu ctx=%d\n", *count, name, (PWSTR)data, type, length,
             context == &g_context_tag);
  ++*count;
  return STATUS_SUCCESS;
}

/* Every value of the key (Name NULL in the table entry). */
static NTSTATUS NTAPI EnumRoutine(PWSTR name, ULONG type, PVOID data, ULONG length, PVOID context, PVOID entry) {
  UNREFERENCED_PARAMETER(context);
  UNREFERENCED_PARAMETER(entry);
  if (type == REG_SZ || type == REG_EXPAND_SZ)
    KEMU_PRINT("registry: value %ws type=%lu len=%lu '%ws'\n", name, type, length, (PWSTR)data);
  else
    KEMU_PRINT("registry: value %ws type=%lu len=%lu first=%02x\n", name, type, length, *(PUCHAR)data);
  return STATUS_SUCCESS;
}

static NTSTATUS NTAPI NoValueRoutine(PWSTR name, ULONG type, PVOID data, ULONG length, PVOID context, PVOID entry) {
  UNREFERENCED_PARAMETER(entry);
  KEMU_PRINT("registry: novalue name=%p type=%lu data=%p len=%lu ctx=%d\n", name, type, data, length,
             context == &g_context_tag);
  return STATUS_SUCCESS;
}

static NTSTATUS NTAPI ImageRoutine(PWSTR name, ULONG type, PVOID data, ULONG length, PVOID context, PVOID entry) {
  UNREFERENCED_PARAMETER(context);
  UNREFERENCED_PARAMETER(entry);
  KEMU_PRINT("registry: image %ws type=%lu len=%lu '%ws'\n", name, type, length, (PWSTR)data);
  return STATUS_SUCCESS;
}

static VOID query_parameters(HANDLE params) {
  RTL_QUERY_REGISTRY_TABLE table[7];
  ULONG mode = 0, default_mode = 7, list_count = 0;
  UNICODE_STRING name = {0, 0, NULL};
  ULONG blob[6];
  NTSTATUS st;
  RtlZeroMemory(table, sizeof(table));
  RtlZeroMemory(blob, sizeof(blob));
  blob[0] = sizeof(blob); /* positive: the store is length, type, data */
  table[0].Flags = RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_TYPECHECK;
  table[0].Name = L"Mode";
  table[0].EntryContext = &mode;
  table[0].DefaultType = (REG_DWORD << RTL_QUERY_REGISTRY_TYPECHECK_SHIFT) | REG_DWORD;
  table[0].DefaultData = &default_mode;
  table[0].DefaultLength = sizeof(default_mode);
  table[1].Flags = RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_TYPECHECK | RTL_QUERY_REGISTRY_NOEXPAND;
  table[1].Name = L"Name";
  table[1].EntryContext = &name;
  table[1].DefaultType = (REG_SZ << RTL_QUERY_REGISTRY_TYPECHECK_SHIFT) | REG_NONE;
  table[2].Flags = RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_TYPECHECK;
  table[2].Name = L"Blob";
  table[2].EntryContext = blob;
  table[2].DefaultType = (REG_BINARY << RTL_QUERY_REGISTRY_TYPECHECK_SHIFT) | REG_NONE;
  table[3].QueryRoutine = ListRoutine;
  table[3].Name = L"List";
  table[3].EntryContext = &list_count;
  table[4].QueryRoutine = EnumRoutine;
  table[5].QueryRoutine = NoValueRoutine;
  table[5].Flags = RTL_QUERY_REGISTRY_NOVALUE;
  st = RtlQueryRegistryValues(RTL_REGISTRY_HANDLE, (PCWSTR)params, table, &g_context_tag, NULL);
  KEMU_PRINT("registry: query=%08x mode=%lu name='%wZ' name_len=%u name_max=%u list=%lu\n", st, mode, &name,
             name.Length, name.MaximumLength, list_count);
  KEMU_PRINT("registry: blob len=%lu type=%lu bytes=%02x%02x%02x%02x%02x\n", blob[0], blob[1],
             ((PUCHAR)&blob[2])[0], ((PUCHAR)&blob[2])[1], ((PUCHAR)&blob[2])[2], ((PUCHAR)&blob[2])[3],
             ((PUCHAR)&blob[2])[4]);
  if (name.Buffer) RtlFreeUnicodeString(&name);
}

static VOID query_edges(HANDLE params) {
  RTL_QUERY_REGISTRY_TABLE table[3];
  ULONG missing = 0, nine = 9, wrong = 0;
  UNICODE_STRING small;
  WCHAR small_buffer[2] = {L'?', L'?'};
  WCHAR image_buffer[32];
  UNICODE_STRING image;
  NTSTATUS defaulted, required, mismatch, too_small, expand, noexpand, subkey;

  /* A missing value with a default: the default is stored. */
  RtlZeroMemory(table, sizeof(table));
  table[0].Flags = RTL_QUERY_REGISTRY_DIRECT;
  table[0].Name = L"Missing";
  table[0].EntryContext = &missing;
  table[0].DefaultType = REG_DWORD;
  table[0].DefaultData = &nine;
  table[0].DefaultLength = sizeof(nine);
  defaulted = RtlQueryRegistryValues(RTL_REGISTRY_HANDLE, (PCWSTR)params, table, NULL, NULL);
  /* REQUIRED without a default: the walk stops. */
  table[0].Flags = RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_REQUIRED;
  table[0].DefaultType = REG_NONE;
  required = RtlQueryRegistryValues(RTL_REGISTRY_HANDLE, (PCWSTR)params, table, NULL, NULL);
  /* TYPECHECK: Name is REG_SZ, not REG_DWORD. */
  table[0].Flags = RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_TYPECHECK;
  table[0].Name = L"Name";
  table[0].EntryContext = &wrong;
  table[0].DefaultType = (REG_DWORD << RTL_QUERY_REGISTRY_TYPECHECK_SHIFT) | REG_NONE;
  mismatch = RtlQueryRegistryValues(RTL_REGISTRY_HANDLE, (PCWSTR)params, table, NULL, NULL);
  /* A caller buffer too small for the string: left alone, no error. */
  RtlInitEmptyUnicodeString(&small, small_buffer, sizeof(small_buffer));
  table[0].Flags = RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_NOEXPAND;
  table[0].EntryContext = &small;
  table[0].DefaultType = REG_NONE;
  too_small = RtlQueryRegistryValues(RTL_REGISTRY_HANDLE, (PCWSTR)params, table, NULL, NULL);
  KEMU_PRINT("registry: default=%08x missing=%lu required=%08x typecheck=%08x wrong=%lu small=%08x len=%u buf=%04x\n",
             defaulted, missing, required, mismatch, wrong, too_small, small.Length, small_buffer[0]);

  /* REG_EXPAND_SZ with a variable: the kernel refuses to expand it. */
  RtlZeroMemory(table, sizeof(table));
  table[0].QueryRoutine = ImageRoutine;
  table[0].Name = L"Image";
  expand = RtlQueryRegistryValues(RTL_REGISTRY_SERVICES, L"registry\\Parameters\\Paths", table, NULL, NULL);
  table[0].Flags = RTL_QUERY_REGISTRY_NOEXPAND;
  noexpand = RtlQueryRegistryValues(RTL_REGISTRY_SERVICES, L"registry\\Parameters\\Paths", table, NULL, NULL);
  /* SUBKEY: later entries read Paths; the string goes to the caller's buffer. */
  RtlZeroMemory(table, sizeof(table));
  RtlInitEmptyUnicodeString(&image, image_buffer, sizeof(image_buffer));
  table[0].Flags = RTL_QUERY_REGISTRY_SUBKEY;
  table[0].Name = L"Paths";
  table[1].Flags = RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_NOEXPAND;
  table[1].Name = L"Image";
  table[1].EntryContext = &image;
  subkey = RtlQueryRegistryValues(RTL_REGISTRY_HANDLE, (PCWSTR)params, table, NULL, NULL);
  KEMU_PRINT("registry: expand=%08x noexpand=%08x subkey=%08x image='%wZ' max=%u\n", expand, noexpand, subkey, &image,
             image.MaximumLength);
}

static VOID query_value_key(HANDLE params) {
  UCHAR buffer[64];
  PKEY_VALUE_PARTIAL_INFORMATION partial = (PKEY_VALUE_PARTIAL_INFORMATION)buffer;
  PKEY_VALUE_FULL_INFORMATION full = (PKEY_VALUE_FULL_INFORMATION)buffer;
  UNICODE_STRING mode, name, missing;
  ULONG len_overflow = 0, len_small = 0, len_ok = 0, len_full = 0, len_missing = 0xDEADBEEF, len_class = 0xDEADBEEF;
  NTSTATUS overflow, small, ok, st_full, st_missing, st_class;
  ULONG data_length_at_overflow;
  RtlInitUnicodeString(&mode, L"Mode");
  RtlInitUnicodeString(&name, L"name");
  RtlInitUnicodeString(&missing, L"Missing");
  RtlFillMemory(buffer, sizeof(buffer), 0xCC);
  overflow = ZwQueryValueKey(params, &mode, KeyValuePartialInformation, buffer, 12, &len_overflow);
  data_length_at_overflow = partial->DataLength;
  small = ZwQueryValueKey(params, &mode, KeyValuePartialInformation, buffer, 8, &len_small);
  ok = ZwQueryValueKey(params, &mode, KeyValuePartialInformation, buffer, sizeof(buffer), &len_ok);
  KEMU_PRINT("registry: partial overflow=%08x len=%lu datalen=%lu small=%08x len=%lu ok=%08x len=%lu type=%lu value=%lu\n",
             overflow, len_overflow, data_length_at_overflow, small, len_small, ok, len_ok, partial->Type,
             *(PULONG)partial->Data);
  st_full = ZwQueryValueKey(params, &name, KeyValueFullInformation, buffer, sizeof(buffer), &len_full);
  KEMU_PRINT("registry: full=%08x len=%lu offset=%lu datalen=%lu namelen=%lu data='%ws'\n", st_full, len_full,
             full->DataOffset, full->DataLength, full->NameLength, (PWSTR)(buffer + full->DataOffset));
  st_missing = ZwQueryValueKey(params, &missing, KeyValuePartialInformation, buffer, sizeof(buffer), &len_missing);
  st_class = ZwQueryValueKey(params, &mode, (KEY_VALUE_INFORMATION_CLASS)5, buffer, sizeof(buffer), &len_class);
  KEMU_PRINT("registry: missing=%08x len=%08lx class5=%08x len=%08lx\n", st_missing, len_missing, st_class, len_class);
}

static VOID write_and_walk(HANDLE params) {
  OBJECT_ATTRIBUTES oa;
  UNICODE_STRING runtime_name, deep_name, counter, note;
  HANDLE runtime = NULL, runtime2 = NULL, deep = NULL;
  ULONG disposition1 = 0, disposition2 = 0, value = 42, written = 77, index, len;
  NTSTATUS create1, create2, create_deep, set1, set2, write, check, check_missing, make, st;
  UCHAR buffer[256];
  PKEY_BASIC_INFORMATION basic = (PKEY_BASIC_INFORMATION)buffer;
  PKEY_VALUE_BASIC_INFORMATION value_basic = (PKEY_VALUE_BASIC_INFORMATION)buffer;
  PKEY_FULL_INFORMATION key_full = (PKEY_FULL_INFORMATION)buffer;
  KEMU_KEY_NAME_INFORMATION* key_name = (KEMU_KEY_NAME_INFORMATION*)buffer;
  UNICODE_STRING shown;

  RtlInitUnicodeString(&runtime_name, L"Runtime");
  RtlInitUnicodeString(&deep_name, L"Nope\\Deeper");
  RtlInitUnicodeString(&counter, L"Counter");
  RtlInitUnicodeString(&note, L"Note");
  open_attributes(&oa, &runtime_name, params, OBJ_KERNEL_HANDLE);
  create1 = ZwCreateKey(&runtime, KEY_ALL_ACCESS, &oa, 0, NULL, REG_OPTION_VOLATILE, &disposition1);
  create2 = ZwCreateKey(&runtime2, KEY_ALL_ACCESS, &oa, 0, NULL, REG_OPTION_VOLATILE, &disposition2);
  open_attributes(&oa, &deep_name, params, OBJ_KERNEL_HANDLE);
  create_deep = ZwCreateKey(&deep, KEY_ALL_ACCESS, &oa, 0, NULL, 0, NULL);
  KEMU_PRINT("registry: create=%08x disp=%lu again=%08x disp=%lu deep=%08x\n", create1, disposition1, create2,
             disposition2, create_deep);
  set1 = ZwSetValueKey(runtime, &counter, 0, REG_DWORD, &value, sizeof(value));
  set2 = ZwSetValueKey(runtime, &note, 0, REG_SZ, L"hi", sizeof(L"hi"));
  write = RtlWriteRegistryValue(RTL_REGISTRY_SERVICES, L"registry\\Parameters", L"Written", REG_DWORD, &written,
                                sizeof(written));
  check = RtlCheckRegistryKey(RTL_REGISTRY_SERVICES, L"registry\\Parameters\\Runtime");
  check_missing = RtlCheckRegistryKey(RTL_REGISTRY_SERVICES, L"registry\\Nope");
  make = RtlCreateRegistryKey(RTL_REGISTRY_SERVICES, L"registry\\Parameters\\Made");
  KEMU_PRINT("registry: set=%08x,%08x write=%08x check=%08x check_missing=%08x make=%08x\n", set1, set2, write, check,
             check_missing, make);

  for (index = 0;; ++index) {
    st = ZwEnumerateKey(params, index, KeyBasicInformation, buffer, sizeof(buffer), &len);
    if (!NT_SUCCESS(st)) break;
    shown.Length = shown.MaximumLength = (USHORT)basic->NameLength;
    shown.Buffer = basic->Name;
    KEMU_PRINT("registry: subkey[%lu]='%wZ' len=%lu\n", index, &shown, len);
  }
  KEMU_PRINT("registry: subkeys end=%08x at %lu\n", st, index);
  for (index = 0;; ++index) {
    st = ZwEnumerateValueKey(runtime, index, KeyValueBasicInformation, buffer, sizeof(buffer), &len);
    if (!NT_SUCCESS(st)) break;
    shown.Length = shown.MaximumLength = (USHORT)value_basic->NameLength;
    shown.Buffer = value_basic->Name;
    KEMU_PRINT("registry: runtime value[%lu]='%wZ' type=%lu len=%lu\n", index, &shown, value_basic->Type, len);
  }
  KEMU_PRINT("registry: values end=%08x at %lu\n", st, index);
  st = ZwQueryKey(params, KeyFullInformation, buffer, sizeof(buffer), &len);
  KEMU_PRINT("registry: keyfull=%08x len=%lu subkeys=%lu values=%lu maxname=%lu maxvaluename=%lu maxdata=%lu class=%08lx\n",
             st, len, key_full->SubKeys, key_full->Values, key_full->MaxNameLen, key_full->MaxValueNameLen,
             key_full->MaxValueDataLen, key_full->ClassOffset);
  st = ZwQueryKey(runtime, KeyNameInformation, buffer, sizeof(buffer), &len);
  shown.Length = shown.MaximumLength = (USHORT)key_name->NameLength;
  shown.Buffer = key_name->Name;
  KEMU_PRINT("registry: keyname=%08x len=%lu '%wZ'\n", st, len, &shown);
  st = ZwQueryKey(runtime, KeyBasicInformation, buffer, 10, &len);
  KEMU_PRINT("registry: keybasic-small=%08x len=%lu\n", st, len);

  {
    UNICODE_STRING blob, written_name;
    NTSTATUS delete_parent, delete_runtime, query_deleted, set_deleted, flush_deleted, flush, delete_again,
        delete_value, delete_value_again, rtl_delete;
    RtlInitUnicodeString(&blob, L"Blob");
    RtlInitUnicodeString(&written_name, L"Written");
    delete_parent = ZwDeleteKey(params);
    delete_runtime = ZwDeleteKey(runtime);
    query_deleted = ZwQueryValueKey(runtime2, &counter, KeyValuePartialInformation, buffer, sizeof(buffer), &len);
    set_deleted = ZwSetValueKey(runtime2, &counter, 0, REG_DWORD, &value, sizeof(value));
    flush_deleted = ZwFlushKey(runtime2);
    flush = ZwFlushKey(params);
    delete_again = ZwDeleteKey(runtime2);
    delete_value = ZwDeleteValueKey(params, &blob);
    delete_value_again = ZwDeleteValueKey(params, &blob);
    rtl_delete = RtlDeleteRegistryValue(RTL_REGISTRY_SERVICES, L"registry\\Parameters", L"Written");
    KEMU_PRINT("registry: delete parent=%08x runtime=%08x then query=%08x set=%08x flush=%08x flush_live=%08x again=%08x\n",
               delete_parent, delete_runtime, query_deleted, set_deleted, flush_deleted, flush, delete_again);
    KEMU_PRINT("registry: delete value=%08x again=%08x rtl=%08x\n", delete_value, delete_value_again, rtl_delete);
  }
  ZwClose(runtime);
  ZwClose(runtime2);
}

static VOID device_registry(VOID) {
  UCHAR buffer[64];
  ULONG len = 0x55;
  HANDLE key = (HANDLE)0x1234;
  NTSTATUS property = IoGetDeviceProperty(g_device, DevicePropertyPhysicalDeviceObjectName, sizeof(buffer), buffer, &len);
  NTSTATUS open = IoOpenDeviceRegistryKey(g_device, PLUGPLAY_REGKEY_DEVICE, KEY_READ, &key);
  KEMU_PRINT("registry: property=%08x len=%lu devkey=%08x handle=%p\n", property, len, open, key);
}

static VOID query_ex(VOID) {
  UNICODE_STRING routine;
  RTL_QUERY_REGISTRY_VALUES_EX query;
  RTL_QUERY_REGISTRY_TABLE table[2];
  ULONG start = 0;
  NTSTATUS st;
  RtlInitUnicodeString(&routine, L"RtlQueryRegistryValuesEx");
  query = (RTL_QUERY_REGISTRY_VALUES_EX)MmGetSystemRoutineAddress(&routine);
  if (!query) {
    KEMU_PRINT("registry: no RtlQueryRegistryValuesEx\n");
    return;
  }
  RtlZeroMemory(table, sizeof(table));
  table[0].Flags = RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_TYPECHECK;
  table[0].Name = L"Start";
  table[0].EntryContext = &start;
  table[0].DefaultType = (REG_DWORD << RTL_QUERY_REGISTRY_TYPECHECK_SHIFT) | REG_NONE;
  st = query(RTL_REGISTRY_SERVICES, L"registry", table, NULL, NULL);
  KEMU_PRINT("registry: ex=%08x start=%lu\n", st, start);
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

/* From the client's context: a kernel handle for the work, and a plain
 * handle (it lands in the client's table) to show the difference. */
static NTSTATUS NTAPI DispatchIoctl(PDEVICE_OBJECT device, PIRP irp) {
  PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(irp);
  REGISTRY_REPORT* report = (REGISTRY_REPORT*)irp->AssociatedIrp.SystemBuffer;
  UNICODE_STRING path, mode;
  OBJECT_ATTRIBUTES oa;
  HANDLE key = NULL, user_key = NULL;
  UCHAR buffer[32];
  ULONG len = 0, code;
  PKEY_VALUE_PARTIAL_INFORMATION partial = (PKEY_VALUE_PARTIAL_INFORMATION)buffer;
  UNREFERENCED_PARAMETER(device);
  if (sl->Parameters.DeviceIoControl.IoControlCode != IOCTL_REGISTRY_REPORT)
    return complete(irp, STATUS_INVALID_DEVICE_REQUEST, 0);
  if (sl->Parameters.DeviceIoControl.OutputBufferLength < sizeof(REGISTRY_REPORT))
    return complete(irp, STATUS_BUFFER_TOO_SMALL, 0);
  RtlZeroMemory(report, sizeof(*report));
  RtlInitUnicodeString(&path, L"\\Registry\\Machine\\System\\CurrentControlSet\\Services\\registry\\Parameters");
  RtlInitUnicodeString(&mode, L"Mode");
  open_attributes(&oa, &path, NULL, OBJ_KERNEL_HANDLE);
  report->open_status = ZwOpenKey(&key, KEY_READ, &oa);
  report->kernel_handle = is_kernel_handle(key);
  if (NT_SUCCESS(report->open_status)) {
    report->query_status = ZwQueryValueKey(key, &mode, KeyValuePartialInformation, buffer, sizeof(buffer), &len);
    if (NT_SUCCESS(report->query_status)) report->mode = *(PULONG)partial->Data;
    ZwClose(key);
  }
  open_attributes(&oa, &path, NULL, 0);
  if (NT_SUCCESS(ZwOpenKey(&user_key, KEY_READ, &oa))) {
    report->user_handle_kernel_flag = is_kernel_handle(user_key);
    ZwClose(user_key);
  }
  code = sl->Parameters.DeviceIoControl.IoControlCode;
  report->write_status = RtlWriteRegistryValue(RTL_REGISTRY_SERVICES, L"registry\\Parameters", L"LastIoctl", REG_DWORD,
                                               &code, sizeof(code));
  return complete(irp, STATUS_SUCCESS, sizeof(REGISTRY_REPORT));
}

static VOID NTAPI Unload(PDRIVER_OBJECT driver) {
  UNREFERENCED_PARAMETER(driver);
  IoDeleteDevice(g_device);
  KEMU_PRINT("registry: unload\n");
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  OBJECT_ATTRIBUTES oa;
  UNICODE_STRING params_name, device_name;
  HANDLE service = NULL, params = NULL;
  NTSTATUS open_service, open_params, status;

  KEMU_PRINT("registry: path=%wZ\n", RegistryPath);
  /* The service key by the path DriverEntry received (a handle in the
   * System process's table), its Parameters subkey with a kernel handle. */
  open_attributes(&oa, RegistryPath, NULL, 0);
  open_service = ZwOpenKey(&service, KEY_READ, &oa);
  RtlInitUnicodeString(&params_name, L"Parameters");
  open_attributes(&oa, &params_name, service, OBJ_KERNEL_HANDLE);
  open_params = ZwOpenKey(&params, KEY_ALL_ACCESS, &oa);
  KEMU_PRINT("registry: open service=%08x kernel=%lu params=%08x kernel=%lu\n", open_service,
             is_kernel_handle(service), open_params, is_kernel_handle(params));
  if (!NT_SUCCESS(open_service) || !NT_SUCCESS(open_params)) return STATUS_UNSUCCESSFUL;

  RtlInitUnicodeString(&device_name, L"\\Device\\KemuRegistry");
  status = IoCreateDevice(DriverObject, 0, &device_name, FILE_DEVICE_UNKNOWN, FILE_DEVICE_SECURE_OPEN, FALSE,
                          &g_device);
  if (!NT_SUCCESS(status)) return status;

  query_parameters(params);
  query_edges(params);
  query_value_key(params);
  write_and_walk(params);
  device_registry();
  query_ex();
  ZwClose(params);
  ZwClose(service);

  DriverObject->MajorFunction[IRP_MJ_CREATE] = DispatchCreateClose;
  DriverObject->MajorFunction[IRP_MJ_CLOSE] = DispatchCreateClose;
  DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = DispatchIoctl;
  DriverObject->DriverUnload = Unload;
  return STATUS_SUCCESS;
}
