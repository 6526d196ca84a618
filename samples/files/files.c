/*
 * files.sys - a driver using files the way real drivers do, with the Zw
 * routines and kernel handles, against kemu's sandbox volume (\??\C:):
 * DriverEntry creates a directory and a file, writes (at the file position
 * and at the end of file), reads, queries (standard, position, name with a
 * short buffer, volume), enumerates with patterns, renames, deletes through
 * a disposition, ZwDeleteFile and FILE_DELETE_ON_CLOSE, and tries to leave
 * the sandbox. Every result is one DbgPrint line. Two IOCTLs serve the
 * client: IOCTL_FILES_OPEN opens a path the client names (the status comes
 * back), IOCTL_FILES_WRITE_HANDLE writes through a file handle the client
 * passes (ZwWriteFile in the client's context, at the shared file position),
 * IOCTL_FILES_SEMANTICS runs the semantics suite (semantics.c).
 */
#include "kemu_sample.h"
#include <ntifs.h>

#include "semantics.h"

KEMU_DRIVER_ENTRY;

#define FILES_TYPE 0x8000
#define IOCTL_FILES_OPEN CTL_CODE(FILES_TYPE, 0xA00, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_FILES_WRITE_HANDLE CTL_CODE(FILES_TYPE, 0xA01, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_FILES_SEMANTICS CTL_CODE(FILES_TYPE, 0xA02, METHOD_BUFFERED, FILE_ANY_ACCESS)

/* IOCTL_FILES_WRITE_HANDLE: in {handle, data...}; out {status, information, position}. */
typedef struct {
  ULONG64 handle;
  UCHAR data[1];
} WRITE_HANDLE_IN;
typedef struct {
  ULONG status;
  ULONG information;
  LONG64 position;
} WRITE_HANDLE_OUT;

static PDEVICE_OBJECT g_device;

static void init_attributes(OBJECT_ATTRIBUTES* oa, UNICODE_STRING* name, const wchar_t* text, HANDLE root) {
  RtlInitUnicodeString(name, text);
  InitializeObjectAttributes(oa, name, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, root, NULL);
}

static NTSTATUS create(HANDLE* h, const wchar_t* path, ACCESS_MASK access, ULONG share, ULONG disposition,
                       ULONG options, IO_STATUS_BLOCK* iosb) {
  OBJECT_ATTRIBUTES oa;
  UNICODE_STRING name;
  init_attributes(&oa, &name, path, NULL);
  iosb->Status = 0x12345678;
  iosb->Information = 0x99;
  return ZwCreateFile(h, access, &oa, iosb, NULL, FILE_ATTRIBUTE_NORMAL, share, disposition, options, NULL, 0);
}

/* Enumerates a directory handle, one class, one pattern: prints each entry. */
static void list(HANDLE dir, FILE_INFORMATION_CLASS cls, const wchar_t* pattern, const char* label) {
  UCHAR buffer[512];
  IO_STATUS_BLOCK iosb;
  UNICODE_STRING expression;
  NTSTATUS status;
  BOOLEAN first = TRUE;
  if (pattern) RtlInitUnicodeString(&expression, pattern);
  for (;;) {
    ULONG offset = 0;
    status = ZwQueryDirectoryFile(dir, NULL, NULL, NULL, &iosb, buffer, sizeof buffer, cls, FALSE,
                                  pattern ? &expression : NULL, first);
    DbgPrint("files: %s query status=0x%08x information=%Iu\n", label, status, NT_SUCCESS(status) ? iosb.Information : 0);
    if (!NT_SUCCESS(status)) break;
    first = FALSE;
    for (;;) {
      if (cls == FileBothDirectoryInformation) {
        FILE_BOTH_DIR_INFORMATION* e = (FILE_BOTH_DIR_INFORMATION*)(buffer + offset);
        DbgPrint("files: %s entry '%.*ws' size=%I64d attributes=0x%x\n", label, (int)(e->FileNameLength / 2),
                 e->FileName, e->EndOfFile.QuadPart, e->FileAttributes);
        if (!e->NextEntryOffset) break;
        offset += e->NextEntryOffset;
      } else {
        FILE_NAMES_INFORMATION* e = (FILE_NAMES_INFORMATION*)(buffer + offset);
        DbgPrint("files: %s entry '%.*ws'\n", label, (int)(e->FileNameLength / 2), e->FileName);
        if (!e->NextEntryOffset) break;
        offset += e->NextEntryOffset;
      }
    }
  }
}

static void walkthrough(void) {
  HANDLE dir = NULL, file = NULL, other = NULL, rel = NULL;
  IO_STATUS_BLOCK iosb;
  NTSTATUS status;
  LARGE_INTEGER offset;
  char text[64];
  OBJECT_ATTRIBUTES oa;
  UNICODE_STRING name;

  /* A directory, then a file in it. */
  status = create(&dir, L"\\??\\C:\\kemu", FILE_LIST_DIRECTORY | SYNCHRONIZE, FILE_SHARE_READ | FILE_SHARE_WRITE,
                  FILE_CREATE, FILE_DIRECTORY_FILE | FILE_SYNCHRONOUS_IO_NONALERT, &iosb);
  DbgPrint("files: mkdir status=0x%08x information=%Iu kernel-handle=%d\n", status, iosb.Information,
           ((ULONG_PTR)dir & 0x80000000) != 0);
  status = create(&file, L"\\??\\C:\\kemu\\notes.txt", GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ,
                  FILE_OVERWRITE_IF, FILE_NON_DIRECTORY_FILE | FILE_SYNCHRONOUS_IO_NONALERT, &iosb);
  DbgPrint("files: create status=0x%08x information=%Iu\n", status, iosb.Information);
  if (!NT_SUCCESS(status)) return;

  /* Writes: at the file position, then at the end of file. */
  status = ZwWriteFile(file, NULL, NULL, NULL, &iosb, "hello, sandbox", 14, NULL, NULL);
  DbgPrint("files: write status=0x%08x information=%Iu\n", status, iosb.Information);
  offset.HighPart = -1;
  offset.LowPart = FILE_WRITE_TO_END_OF_FILE;
  status = ZwWriteFile(file, NULL, NULL, NULL, &iosb, "!", 1, &offset, NULL);
  DbgPrint("files: append status=0x%08x information=%Iu\n", status, iosb.Information);

  {
    FILE_STANDARD_INFORMATION standard;
    FILE_POSITION_INFORMATION position;
    status = ZwQueryInformationFile(file, &iosb, &standard, sizeof standard, FileStandardInformation);
    DbgPrint("files: standard status=0x%08x information=%Iu eof=%I64d allocation=%I64d links=%u directory=%d\n",
             status, iosb.Information, standard.EndOfFile.QuadPart, standard.AllocationSize.QuadPart,
             standard.NumberOfLinks, standard.Directory);
    status = ZwQueryInformationFile(file, &iosb, &position, sizeof position, FilePositionInformation);
    DbgPrint("files: position status=0x%08x offset=%I64d\n", status, position.CurrentByteOffset.QuadPart);
  }

  /* Reads: from the start, then past the end. */
  RtlZeroMemory(text, sizeof text);
  offset.QuadPart = 0;
  status = ZwReadFile(file, NULL, NULL, NULL, &iosb, text, sizeof text - 1, &offset, NULL);
  DbgPrint("files: read status=0x%08x information=%Iu text='%s'\n", status, iosb.Information, text);
  offset.QuadPart = 100;
  iosb.Information = 0x77;
  status = ZwReadFile(file, NULL, NULL, NULL, &iosb, text, 4, &offset, NULL);
  DbgPrint("files: read-past-end status=0x%08x iosb-untouched=%d\n", status, iosb.Information == 0x77);

  /* The name: cut short (STATUS_BUFFER_OVERFLOW), then whole. */
  {
    union {
      FILE_NAME_INFORMATION info;
      UCHAR bytes[128];
    } u;
    status = ZwQueryInformationFile(file, &iosb, &u, 12, FileNameInformation);
    DbgPrint("files: name-short status=0x%08x information=%Iu length=%u first='%.*ws'\n", status, iosb.Information,
             u.info.FileNameLength, 4, u.info.FileName);
    status = ZwQueryInformationFile(file, &iosb, &u, sizeof u, FileNameInformation);
    DbgPrint("files: name status=0x%08x information=%Iu name='%.*ws'\n", status, iosb.Information,
             (int)(u.info.FileNameLength / 2), u.info.FileName);
  }

  /* The volume. */
  {
    FILE_FS_DEVICE_INFORMATION device;
    union {
      FILE_FS_ATTRIBUTE_INFORMATION info;
      UCHAR bytes[64];
    } a;
    status = ZwQueryVolumeInformationFile(file, &iosb, &device, sizeof device, FileFsDeviceInformation);
    DbgPrint("files: volume-device status=0x%08x type=0x%x characteristics=0x%x\n", status, device.DeviceType,
             device.Characteristics);
    status = ZwQueryVolumeInformationFile(file, &iosb, &a, sizeof a, FileFsAttributeInformation);
    DbgPrint("files: volume-attributes status=0x%08x name='%.*ws' max-component=%u\n", status,
             (int)(a.info.FileSystemNameLength / 2), a.info.FileSystemName, a.info.MaximumComponentNameLength);
  }

  /* Sharing: the first open shares reading only. */
  status = create(&other, L"\\??\\C:\\kemu\\NOTES.TXT", GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, FILE_OPEN,
                  FILE_SYNCHRONOUS_IO_NONALERT, &iosb);
  DbgPrint("files: second-writer status=0x%08x\n", status);
  status = create(&other, L"\\??\\C:\\kemu\\notes.txt", GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, FILE_OPEN,
                  FILE_SYNCHRONOUS_IO_NONALERT, &iosb);
  DbgPrint("files: second-reader status=0x%08x information=%Iu\n", status, iosb.Information);
  if (NT_SUCCESS(status)) ZwClose(other);
  ZwFlushBuffersFile(file, &iosb);
  ZwClose(file);

  /* Relative to the directory handle: a second file and a subdirectory. */
  init_attributes(&oa, &name, L"b.dat", dir);
  status = ZwCreateFile(&rel, GENERIC_WRITE | DELETE, &oa, &iosb, NULL, FILE_ATTRIBUTE_NORMAL, 0, FILE_CREATE,
                        FILE_NON_DIRECTORY_FILE | FILE_SYNCHRONOUS_IO_NONALERT, NULL, 0);
  DbgPrint("files: relative-create status=0x%08x information=%Iu\n", status, iosb.Information);
  init_attributes(&oa, &name, L"sub", dir);
  status = ZwCreateFile(&other, FILE_LIST_DIRECTORY | SYNCHRONIZE, &oa, &iosb, NULL, 0, 0, FILE_CREATE,
                        FILE_DIRECTORY_FILE | FILE_SYNCHRONOUS_IO_NONALERT, NULL, 0);
  DbgPrint("files: subdir status=0x%08x information=%Iu\n", status, iosb.Information);
  if (NT_SUCCESS(status)) ZwClose(other);

  /* Enumeration: everything, then a pattern, then a pattern nothing matches. */
  list(dir, FileBothDirectoryInformation, NULL, "all");
  {
    HANDLE again = NULL;
    status = create(&again, L"\\??\\C:\\kemu\\", FILE_LIST_DIRECTORY | SYNCHRONIZE,
                    FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, FILE_OPEN,
                    FILE_DIRECTORY_FILE | FILE_SYNCHRONOUS_IO_NONALERT, &iosb);
    if (NT_SUCCESS(status)) {
      list(again, FileNamesInformation, L"*.TXT", "txt");
      ZwClose(again);
    }
    status = create(&again, L"\\??\\C:\\kemu", FILE_LIST_DIRECTORY | SYNCHRONIZE,
                    FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, FILE_OPEN,
                    FILE_DIRECTORY_FILE | FILE_SYNCHRONOUS_IO_NONALERT, &iosb);
    if (NT_SUCCESS(status)) {
      list(again, FileNamesInformation, L"*.none", "none");
      ZwClose(again);
    }
  }

  /* Rename b.dat within its directory, then delete it through a disposition. */
  {
    union {
      FILE_RENAME_INFORMATION info;
      UCHAR bytes[64];
    } r;
    FILE_DISPOSITION_INFORMATION disposition;
    RtlZeroMemory(&r, sizeof r);
    r.info.FileNameLength = 22;
    RtlCopyMemory(r.info.FileName, L"renamed.dat", 22);
    status = ZwSetInformationFile(rel, &iosb, &r, sizeof r, FileRenameInformation);
    DbgPrint("files: rename status=0x%08x\n", status);
    disposition.DeleteFile = TRUE;
    status = ZwSetInformationFile(rel, &iosb, &disposition, sizeof disposition, FileDispositionInformation);
    DbgPrint("files: disposition status=0x%08x\n", status);
    ZwClose(rel);
    status = create(&other, L"\\??\\C:\\kemu\\renamed.dat", GENERIC_READ, 0, FILE_OPEN, 0, &iosb);
    DbgPrint("files: after-disposition status=0x%08x\n", status);
  }

  /* ZwDeleteFile, a non-empty directory, then the directory by FILE_DELETE_ON_CLOSE. */
  init_attributes(&oa, &name, L"\\??\\C:\\kemu\\notes.txt", NULL);
  status = ZwDeleteFile(&oa);
  DbgPrint("files: delete-file status=0x%08x\n", status);
  status = create(&other, L"\\??\\C:\\kemu", DELETE, 0, FILE_OPEN, FILE_DIRECTORY_FILE | FILE_DELETE_ON_CLOSE, &iosb);
  DbgPrint("files: delete-nonempty status=0x%08x\n", status);
  init_attributes(&oa, &name, L"\\??\\C:\\kemu\\sub", NULL);
  ZwDeleteFile(&oa);
  ZwClose(dir);
  status = create(&other, L"\\??\\C:\\kemu", DELETE, 0, FILE_OPEN, FILE_DIRECTORY_FILE | FILE_DELETE_ON_CLOSE, &iosb);
  DbgPrint("files: delete-dir status=0x%08x\n", status);
  if (NT_SUCCESS(status)) ZwClose(other);
  status = create(&other, L"\\??\\C:\\kemu", FILE_LIST_DIRECTORY, 0, FILE_OPEN, FILE_DIRECTORY_FILE, &iosb);
  DbgPrint("files: after-delete status=0x%08x\n", status);
}

/* The sandbox's edges: every way out is refused with NTFS's status. */
static void escapes(void) {
  static const wchar_t* const paths[] = {
      L"\\??\\C:\\..\\..\\etc\\passwd",  L"\\??\\C:\\/etc/passwd", L"\\??\\C:\\etc\\passwd",
      L"/etc/passwd",                    L"\\Device\\HarddiskVolume2\\..\\x",
      L"\\??\\C:\\a\\..\\b",
  };
  ULONG i;
  for (i = 0; i < KEMU_ARRAY_SIZE(paths); ++i) {
    HANDLE h = NULL;
    IO_STATUS_BLOCK iosb;
    NTSTATUS status = create(&h, paths[i], GENERIC_READ, FILE_SHARE_READ, FILE_OPEN, FILE_SYNCHRONOUS_IO_NONALERT, &iosb);
    DbgPrint("files: escape '%ws' status=0x%08x\n", paths[i], status);
    if (NT_SUCCESS(status)) ZwClose(h);
  }
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

static NTSTATUS NTAPI DispatchControl(PDEVICE_OBJECT device, PIRP irp) {
  PIO_STACK_LOCATION sl = IoGetCurrentIrpStackLocation(irp);
  ULONG in_len = sl->Parameters.DeviceIoControl.InputBufferLength;
  ULONG out_len = sl->Parameters.DeviceIoControl.OutputBufferLength;
  PVOID buffer = irp->AssociatedIrp.SystemBuffer;
  UNREFERENCED_PARAMETER(device);
  switch (sl->Parameters.DeviceIoControl.IoControlCode) {
    case IOCTL_FILES_OPEN: {
      /* In: a UTF-16 path; out: the NTSTATUS of ZwCreateFile(FILE_OPEN, GENERIC_READ). */
      WCHAR path[260];
      HANDLE h = NULL;
      IO_STATUS_BLOCK iosb;
      NTSTATUS status;
      if (in_len >= sizeof path || out_len < sizeof(ULONG)) return complete(irp, STATUS_INVALID_PARAMETER, 0);
      RtlCopyMemory(path, buffer, in_len);
      path[in_len / 2] = 0;
      status = create(&h, path, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, FILE_OPEN,
                      FILE_SYNCHRONOUS_IO_NONALERT, &iosb);
      if (NT_SUCCESS(status)) ZwClose(h);
      *(ULONG*)buffer = (ULONG)status;
      return complete(irp, STATUS_SUCCESS, sizeof(ULONG));
    }
    case IOCTL_FILES_WRITE_HANDLE: {
      /* ZwWriteFile through the client's handle: the client's table is
         current, the file position is the file object's. */
      WRITE_HANDLE_IN* in = (WRITE_HANDLE_IN*)buffer;
      WRITE_HANDLE_OUT result;
      IO_STATUS_BLOCK iosb;
      FILE_POSITION_INFORMATION position;
      UCHAR data[64];
      ULONG length;
      if (in_len < 8 || in_len - 8 > sizeof data || out_len < sizeof result)
        return complete(irp, STATUS_INVALID_PARAMETER, 0);
      length = in_len - 8;
      RtlCopyMemory(data, in->data, length);
      iosb.Information = 0;
      result.status = (ULONG)ZwWriteFile((HANDLE)in->handle, NULL, NULL, NULL, &iosb, data, length, NULL, NULL);
      result.information = (ULONG)iosb.Information;
      position.CurrentByteOffset.QuadPart = -1;
      ZwQueryInformationFile((HANDLE)in->handle, &iosb, &position, sizeof position, FilePositionInformation);
      result.position = position.CurrentByteOffset.QuadPart;
      RtlCopyMemory(buffer, &result, sizeof result);
      return complete(irp, STATUS_SUCCESS, sizeof result);
    }
    case IOCTL_FILES_SEMANTICS: {
      /* Out: FILES_RESULTS of the semantics suite (semantics.c). */
      FILES_RESULTS results;
      if (out_len < sizeof results) return complete(irp, STATUS_INVALID_PARAMETER, 0);
      RtlZeroMemory(&results, sizeof results);
      files_semantics(&results);
      RtlCopyMemory(buffer, &results, sizeof results);
      return complete(irp, STATUS_SUCCESS, sizeof results);
    }
    default:
      return complete(irp, STATUS_INVALID_DEVICE_REQUEST, 0);
  }
}

static VOID NTAPI Unload(PDRIVER_OBJECT driver) {
  UNICODE_STRING link;
  UNREFERENCED_PARAMETER(driver);
  RtlInitUnicodeString(&link, L"\\??\\KemuFiles");
  IoDeleteSymbolicLink(&link);
  IoDeleteDevice(g_device);
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  UNICODE_STRING name, link;
  NTSTATUS status;
  UNREFERENCED_PARAMETER(RegistryPath);
  walkthrough();
  escapes();
  RtlInitUnicodeString(&name, L"\\Device\\KemuFiles");
  RtlInitUnicodeString(&link, L"\\??\\KemuFiles");
  status = IoCreateDevice(DriverObject, 0, &name, FILE_DEVICE_UNKNOWN, FILE_DEVICE_SECURE_OPEN, FALSE, &g_device);
  if (!NT_SUCCESS(status)) return status;
  status = IoCreateSymbolicLink(&link, &name);
  if (!NT_SUCCESS(status)) {
    IoDeleteDevice(g_device);
    return status;
  }
  DriverObject->MajorFunction[IRP_MJ_CREATE] = DispatchCreateClose;
  DriverObject->MajorFunction[IRP_MJ_CLOSE] = DispatchCreateClose;
  DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = DispatchControl;
  DriverObject->DriverUnload = Unload;
  return STATUS_SUCCESS;
}
