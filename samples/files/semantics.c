/*
 * The file-system semantics suite of files.sys (IOCTL_FILES_SEMANTICS): each
 * CHECK states one rule of NTFS / the I/O manager on Windows 10 and is counted;
 * a failing one prints its line, what came and what the rule wants.
 * It runs inside the client's IOCTL (its process current, PreviousMode
 * UserMode), with Zw routines and kernel handles.
 */
#include "kemu_sample.h"
#include <ntifs.h>

#include "semantics.h"

/* FILE_DISPOSITION_INFORMATION_EX is newer than mingw's headers. */
#define FILE_DISPOSITION_DELETE 0x1
#define FILE_DISPOSITION_ON_CLOSE 0x8
#define FILE_DISPOSITION_IGNORE_READONLY_ATTRIBUTE 0x10
#define FileDispositionInformationEx_ ((FILE_INFORMATION_CLASS)64)

static FILES_RESULTS* g_r;

static void check(BOOLEAN ok, ULONG line, const char* rule, ULONG64 got, ULONG64 want) {
  if (ok) {
    g_r->passed++;
    return;
  }
  if (g_r->failed < FILES_MAX_FAILURES) g_r->lines[g_r->failed] = line;
  g_r->failed++;
  DbgPrint("files: FAIL line %u: %s (got 0x%I64x, want 0x%I64x)\n", line, rule, got, want);
}
#define CHECK_EQ(got, want, rule)                                                      \
  do {                                                                                 \
    ULONG64 got_ = (ULONG64)(got), want_ = (ULONG64)(want);                            \
    check(got_ == want_, __LINE__, rule, got_, want_);                                 \
  } while (0)

static NTSTATUS open_path(HANDLE* h, const wchar_t* path, ACCESS_MASK access, ULONG share, ULONG disposition,
                          ULONG options, ULONG attributes, IO_STATUS_BLOCK* iosb) {
  OBJECT_ATTRIBUTES oa;
  UNICODE_STRING name;
  RtlInitUnicodeString(&name, path);
  InitializeObjectAttributes(&oa, &name, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
  *h = NULL;
  iosb->Status = 0x0BADF00D;
  iosb->Information = 0xAA;
  return ZwCreateFile(h, access, &oa, iosb, NULL, attributes, share, disposition, options, NULL, 0);
}

#define RW (GENERIC_READ | GENERIC_WRITE)
#define SHARE_ALL (FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE)
#define SYNC FILE_SYNCHRONOUS_IO_NONALERT

static LONG64 end_of_file(HANDLE h) {
  FILE_STANDARD_INFORMATION s;
  IO_STATUS_BLOCK iosb;
  s.EndOfFile.QuadPart = -1;
  ZwQueryInformationFile(h, &iosb, &s, sizeof s, FileStandardInformation);
  return s.EndOfFile.QuadPart;
}

static void dispositions(void) {
  HANDLE h, d;
  IO_STATUS_BLOCK iosb;
  const wchar_t* f = L"\\??\\C:\\sem\\d.txt";
  CHECK_EQ(open_path(&d, L"\\??\\C:\\sem", FILE_LIST_DIRECTORY | SYNCHRONIZE, SHARE_ALL, FILE_OPEN_IF,
                     FILE_DIRECTORY_FILE | SYNC, 0, &iosb),
           STATUS_SUCCESS, "FILE_OPEN_IF with FILE_DIRECTORY_FILE creates a directory");
  CHECK_EQ(iosb.Information, FILE_CREATED, "a new directory: FILE_CREATED");
  ZwClose(d);
  CHECK_EQ(open_path(&h, f, RW, 0, FILE_OPEN, SYNC, 0, &iosb), STATUS_OBJECT_NAME_NOT_FOUND,
           "FILE_OPEN of a missing file: STATUS_OBJECT_NAME_NOT_FOUND");
  CHECK_EQ(iosb.Information, 0xAA, "a failed create leaves the IO_STATUS_BLOCK alone");
  CHECK_EQ(open_path(&h, f, RW, 0, FILE_OVERWRITE, SYNC, 0, &iosb), STATUS_OBJECT_NAME_NOT_FOUND,
           "FILE_OVERWRITE of a missing file: STATUS_OBJECT_NAME_NOT_FOUND");
  CHECK_EQ(open_path(&h, f, RW, 0, FILE_CREATE, SYNC, 0, &iosb), STATUS_SUCCESS, "FILE_CREATE of a new file");
  CHECK_EQ(iosb.Status, STATUS_SUCCESS, "IoStatus.Status is the status");
  CHECK_EQ(iosb.Information, FILE_CREATED, "FILE_CREATE: FILE_CREATED");
  ZwWriteFile(h, NULL, NULL, NULL, &iosb, "0123456789", 10, NULL, NULL);
  ZwClose(h);
  CHECK_EQ(open_path(&h, f, RW, 0, FILE_CREATE, SYNC, 0, &iosb), STATUS_OBJECT_NAME_COLLISION,
           "FILE_CREATE of an existing file: STATUS_OBJECT_NAME_COLLISION");
  CHECK_EQ(open_path(&h, f, RW, 0, FILE_OPEN_IF, SYNC, 0, &iosb), STATUS_SUCCESS, "FILE_OPEN_IF of an existing file");
  CHECK_EQ(iosb.Information, FILE_OPENED, "FILE_OPEN_IF of an existing file: FILE_OPENED");
  CHECK_EQ(end_of_file(h), 10, "FILE_OPEN_IF keeps the data");
  ZwClose(h);
  CHECK_EQ(open_path(&h, f, RW, 0, FILE_OVERWRITE, SYNC, 0, &iosb), STATUS_SUCCESS, "FILE_OVERWRITE of an existing file");
  CHECK_EQ(iosb.Information, FILE_OVERWRITTEN, "FILE_OVERWRITE: FILE_OVERWRITTEN");
  CHECK_EQ(end_of_file(h), 0, "FILE_OVERWRITE truncates");
  ZwClose(h);
  CHECK_EQ(open_path(&h, f, RW, 0, FILE_SUPERSEDE, SYNC, 0, &iosb), STATUS_SUCCESS, "FILE_SUPERSEDE of an existing file");
  CHECK_EQ(iosb.Information, FILE_SUPERSEDED, "FILE_SUPERSEDE of an existing file: FILE_SUPERSEDED");
  ZwClose(h);
  CHECK_EQ(open_path(&h, f, RW, 0, FILE_OVERWRITE_IF, SYNC, 0, &iosb), STATUS_SUCCESS, "FILE_OVERWRITE_IF, existing");
  CHECK_EQ(iosb.Information, FILE_OVERWRITTEN, "FILE_OVERWRITE_IF of an existing file: FILE_OVERWRITTEN");
  ZwClose(h);
  CHECK_EQ(open_path(&h, L"\\??\\C:\\sem\\e.txt", RW, 0, FILE_OVERWRITE_IF, SYNC, 0, &iosb), STATUS_SUCCESS,
           "FILE_OVERWRITE_IF, new");
  CHECK_EQ(iosb.Information, FILE_CREATED, "FILE_OVERWRITE_IF of a new file: FILE_CREATED");
  ZwClose(h);
  CHECK_EQ(open_path(&h, L"\\??\\C:\\sem\\s.txt", RW, 0, FILE_SUPERSEDE, SYNC, 0, &iosb), STATUS_SUCCESS,
           "FILE_SUPERSEDE, new");
  CHECK_EQ(iosb.Information, FILE_CREATED, "FILE_SUPERSEDE of a new file: FILE_CREATED");
  ZwClose(h);
  CHECK_EQ(open_path(&h, f, RW, 0, 6, SYNC, 0, &iosb), STATUS_INVALID_PARAMETER,
           "a disposition beyond FILE_OVERWRITE_IF: STATUS_INVALID_PARAMETER");
  /* Directory and non-directory. */
  CHECK_EQ(open_path(&h, f, RW, 0, FILE_OPEN, FILE_DIRECTORY_FILE | SYNC, 0, &iosb), STATUS_NOT_A_DIRECTORY,
           "FILE_DIRECTORY_FILE on a file: STATUS_NOT_A_DIRECTORY");
  CHECK_EQ(open_path(&h, L"\\??\\C:\\sem", FILE_LIST_DIRECTORY, SHARE_ALL, FILE_OPEN, FILE_NON_DIRECTORY_FILE, 0, &iosb),
           STATUS_FILE_IS_A_DIRECTORY, "FILE_NON_DIRECTORY_FILE on a directory: STATUS_FILE_IS_A_DIRECTORY");
  CHECK_EQ(open_path(&h, f, RW, 0, FILE_OPEN, FILE_DIRECTORY_FILE | FILE_NON_DIRECTORY_FILE, 0, &iosb),
           STATUS_INVALID_PARAMETER, "both FILE_DIRECTORY_FILE and FILE_NON_DIRECTORY_FILE: STATUS_INVALID_PARAMETER");
  CHECK_EQ(open_path(&h, L"\\??\\C:\\sem", FILE_LIST_DIRECTORY, SHARE_ALL, FILE_CREATE, FILE_DIRECTORY_FILE, 0, &iosb),
           STATUS_OBJECT_NAME_COLLISION, "FILE_CREATE of an existing directory: STATUS_OBJECT_NAME_COLLISION");
  CHECK_EQ(open_path(&h, L"\\??\\C:\\sem", GENERIC_WRITE, SHARE_ALL, FILE_OVERWRITE_IF, 0, 0, &iosb),
           STATUS_OBJECT_NAME_COLLISION, "overwriting a directory: STATUS_OBJECT_NAME_COLLISION");
  CHECK_EQ(open_path(&h, L"\\??\\C:\\sem\\d.txt\\", RW, 0, FILE_OPEN, SYNC, 0, &iosb), STATUS_OBJECT_NAME_INVALID,
           "a file named with a trailing backslash: STATUS_OBJECT_NAME_INVALID");
  CHECK_EQ(open_path(&h, L"\\??\\C:\\sem\\d.txt\\x", RW, 0, FILE_OPEN_IF, SYNC, 0, &iosb),
           STATUS_OBJECT_PATH_NOT_FOUND, "a file in the middle of a path: STATUS_OBJECT_PATH_NOT_FOUND");
  CHECK_EQ(open_path(&h, L"\\??\\C:\\nodir\\x.txt", RW, 0, FILE_CREATE, SYNC, 0, &iosb), STATUS_OBJECT_PATH_NOT_FOUND,
           "creating in a missing directory: STATUS_OBJECT_PATH_NOT_FOUND");
  CHECK_EQ(open_path(&h, L"\\??\\C:\\sem\\newdir\\", FILE_LIST_DIRECTORY, SHARE_ALL, FILE_CREATE, 0, 0, &iosb),
           STATUS_OBJECT_NAME_INVALID, "a trailing backslash creates directories only");
}

static void delete_on_close_and_read_only(void) {
  HANDLE h1, h2, h;
  IO_STATUS_BLOCK iosb;
  FILE_STANDARD_INFORMATION standard;
  FILE_DISPOSITION_INFORMATION disposition;
  const wchar_t* tmp = L"\\??\\C:\\sem\\tmp.txt";
  CHECK_EQ(open_path(&h1, tmp, DELETE | GENERIC_WRITE, SHARE_ALL, FILE_CREATE, FILE_DELETE_ON_CLOSE | SYNC, 0, &iosb),
           STATUS_SUCCESS, "FILE_DELETE_ON_CLOSE with DELETE access");
  CHECK_EQ(open_path(&h2, tmp, GENERIC_READ, SHARE_ALL, FILE_OPEN, SYNC, 0, &iosb), STATUS_SUCCESS,
           "a second open shares everything");
  ZwClose(h1);
  ZwQueryInformationFile(h2, &iosb, &standard, sizeof standard, FileStandardInformation);
  CHECK_EQ(standard.DeletePending, TRUE, "the delete-on-close handle's cleanup leaves the file delete-pending");
  CHECK_EQ(open_path(&h, tmp, GENERIC_READ, SHARE_ALL, FILE_OPEN, SYNC, 0, &iosb), STATUS_DELETE_PENDING,
           "a delete-pending file cannot be opened: STATUS_DELETE_PENDING");
  ZwClose(h2);
  CHECK_EQ(open_path(&h, tmp, GENERIC_READ, SHARE_ALL, FILE_OPEN, SYNC, 0, &iosb), STATUS_OBJECT_NAME_NOT_FOUND,
           "the last handle's close deletes it");
  {
    OBJECT_ATTRIBUTES oa;
    UNICODE_STRING name;
    RtlInitUnicodeString(&name, tmp);
    InitializeObjectAttributes(&oa, &name, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
    CHECK_EQ(IoCreateFile(&h, GENERIC_WRITE, &oa, &iosb, NULL, 0, 0, FILE_CREATE, FILE_DELETE_ON_CLOSE, NULL, 0,
                          CreateFileTypeNone, NULL, IO_CHECK_CREATE_PARAMETERS),
             STATUS_INVALID_PARAMETER, "IO_CHECK_CREATE_PARAMETERS: FILE_DELETE_ON_CLOSE needs DELETE access");
    CHECK_EQ(IoCreateFile(&h, GENERIC_WRITE, &oa, &iosb, NULL, 0, 0, FILE_CREATE, SYNC, NULL, 0, CreateFileTypeNone,
                          NULL, IO_CHECK_CREATE_PARAMETERS),
             STATUS_INVALID_PARAMETER, "IO_CHECK_CREATE_PARAMETERS: synchronous I/O needs SYNCHRONIZE");
    CHECK_EQ(IoCreateFileEx(&h, GENERIC_WRITE | SYNCHRONIZE, &oa, &iosb, NULL, 0, 0, FILE_CREATE, SYNC, NULL, 0,
                            CreateFileTypeNone, NULL, IO_NO_PARAMETER_CHECKING, NULL),
             STATUS_SUCCESS, "IoCreateFileEx without a driver context creates");
    CHECK_EQ(iosb.Information, FILE_CREATED, "IoCreateFileEx: FILE_CREATED");
    ZwClose(h);
  }

  /* Read-only files. */
  CHECK_EQ(open_path(&h, L"\\??\\C:\\sem\\ro.txt", GENERIC_WRITE, 0, FILE_CREATE, SYNC, FILE_ATTRIBUTE_READONLY, &iosb),
           STATUS_SUCCESS, "creating a read-only file");
  ZwClose(h);
  CHECK_EQ(open_path(&h, L"\\??\\C:\\sem\\ro.txt", GENERIC_WRITE, 0, FILE_OPEN, SYNC, 0, &iosb), STATUS_ACCESS_DENIED,
           "write access to a read-only file: STATUS_ACCESS_DENIED");
  CHECK_EQ(open_path(&h, L"\\??\\C:\\sem\\ro.txt", GENERIC_READ, 0, FILE_OVERWRITE, SYNC, 0, &iosb),
           STATUS_ACCESS_DENIED, "overwriting a read-only file: STATUS_ACCESS_DENIED");
  CHECK_EQ(open_path(&h, L"\\??\\C:\\sem\\ro.txt", DELETE, 0, FILE_OPEN, FILE_DELETE_ON_CLOSE, 0, &iosb),
           STATUS_CANNOT_DELETE, "FILE_DELETE_ON_CLOSE of a read-only file: STATUS_CANNOT_DELETE");
  CHECK_EQ(open_path(&h, L"\\??\\C:\\sem\\ro.txt", DELETE | FILE_WRITE_ATTRIBUTES | SYNCHRONIZE, 0, FILE_OPEN, SYNC, 0,
                     &iosb),
           STATUS_SUCCESS, "a read-only file opens for DELETE and FILE_WRITE_ATTRIBUTES");
  disposition.DeleteFile = TRUE;
  CHECK_EQ(ZwSetInformationFile(h, &iosb, &disposition, sizeof disposition, FileDispositionInformation),
           STATUS_CANNOT_DELETE, "a delete disposition on a read-only file: STATUS_CANNOT_DELETE");
  {
    ULONG flags = FILE_DISPOSITION_DELETE | FILE_DISPOSITION_IGNORE_READONLY_ATTRIBUTE;
    CHECK_EQ(ZwSetInformationFile(h, &iosb, &flags, sizeof flags, FileDispositionInformationEx_), STATUS_SUCCESS,
             "FILE_DISPOSITION_IGNORE_READONLY_ATTRIBUTE deletes it anyway");
  }
  ZwClose(h);
  CHECK_EQ(open_path(&h, L"\\??\\C:\\sem\\ro.txt", GENERIC_READ, 0, FILE_OPEN, SYNC, 0, &iosb),
           STATUS_OBJECT_NAME_NOT_FOUND, "deleted at the last close");
}

static void information(void) {
  HANDLE h, h2;
  IO_STATUS_BLOCK iosb;
  UCHAR buffer[256];
  FILE_BASIC_INFORMATION basic;
  FILE_INTERNAL_INFORMATION id1, id2;
  FILE_POSITION_INFORMATION position;
  PFILE_OBJECT fo1 = NULL, fo2 = NULL;
  LARGE_INTEGER offset;
  const wchar_t* f = L"\\??\\C:\\sem\\info.txt";
  CHECK_EQ(open_path(&h, f, RW | DELETE, SHARE_ALL, FILE_CREATE, SYNC, FILE_ATTRIBUTE_HIDDEN, &iosb), STATUS_SUCCESS,
           "create info.txt");
  CHECK_EQ(open_path(&h2, f, GENERIC_READ, SHARE_ALL, FILE_OPEN, SYNC, 0, &iosb), STATUS_SUCCESS, "open it again");
  ZwQueryInformationFile(h, &iosb, &id1, sizeof id1, FileInternalInformation);
  ZwQueryInformationFile(h2, &iosb, &id2, sizeof id2, FileInternalInformation);
  CHECK_EQ(id1.IndexNumber.QuadPart, id2.IndexNumber.QuadPart, "two opens of one file: one IndexNumber");
  ObReferenceObjectByHandle(h, 0, KEMU_OBJECT_TYPE(IoFileObjectType), KernelMode, (PVOID*)&fo1, NULL);
  ObReferenceObjectByHandle(h2, 0, KEMU_OBJECT_TYPE(IoFileObjectType), KernelMode, (PVOID*)&fo2, NULL);
  if (fo1 && fo2) {
    CHECK_EQ(fo1->FsContext == fo2->FsContext, TRUE, "one FCB per file (FsContext)");
    CHECK_EQ(fo1->FsContext2 != fo2->FsContext2, TRUE, "one CCB per open (FsContext2)");
    CHECK_EQ(((PFSRTL_COMMON_FCB_HEADER)fo1->FsContext)->FileSize.QuadPart, 0, "the FCB header's FileSize");
    CHECK_EQ(fo1->SectionObjectPointer != NULL, TRUE, "SectionObjectPointer is set");
  }
  ZwQueryInformationFile(h, &iosb, &basic, sizeof basic, FileBasicInformation);
  CHECK_EQ(basic.FileAttributes, FILE_ATTRIBUTE_HIDDEN | FILE_ATTRIBUTE_ARCHIVE, "a new file: its attributes + ARCHIVE");
  CHECK_EQ(basic.CreationTime.QuadPart == basic.LastWriteTime.QuadPart && basic.CreationTime.QuadPart > 0, TRUE,
           "a new file's times are the system time");
  CHECK_EQ(iosb.Information, sizeof basic, "FileBasicInformation: 40 bytes");
  {
    FILE_BASIC_INFORMATION set;
    RtlZeroMemory(&set, sizeof set);
    set.LastWriteTime.QuadPart = 132000000000000000LL;
    set.FileAttributes = FILE_ATTRIBUTE_NORMAL;
    CHECK_EQ(ZwSetInformationFile(h, &iosb, &set, sizeof set, FileBasicInformation), STATUS_SUCCESS,
             "set FileBasicInformation");
    ZwQueryInformationFile(h, &iosb, &set, sizeof set, FileBasicInformation);
    CHECK_EQ(set.LastWriteTime.QuadPart, 132000000000000000LL, "a time set is kept");
    CHECK_EQ(set.CreationTime.QuadPart, basic.CreationTime.QuadPart, "a zero time leaves it alone");
    CHECK_EQ(set.FileAttributes, FILE_ATTRIBUTE_NORMAL, "NORMAL alone clears the attributes");
    set.FileAttributes = FILE_ATTRIBUTE_DIRECTORY;
    CHECK_EQ(ZwSetInformationFile(h, &iosb, &set, sizeof set, FileBasicInformation), STATUS_INVALID_PARAMETER,
             "a file cannot be made a directory");
  }
  {
    FILE_END_OF_FILE_INFORMATION eof;
    FILE_ALLOCATION_INFORMATION allocation;
    FILE_STANDARD_INFORMATION standard;
    UCHAR tail[16];
    eof.EndOfFile.QuadPart = 5000;
    CHECK_EQ(ZwSetInformationFile(h, &iosb, &eof, sizeof eof, FileEndOfFileInformation), STATUS_SUCCESS,
             "FileEndOfFileInformation extends");
    ZwQueryInformationFile(h, &iosb, &standard, sizeof standard, FileStandardInformation);
    CHECK_EQ(standard.EndOfFile.QuadPart, 5000, "EndOfFile 5000");
    CHECK_EQ(standard.AllocationSize.QuadPart, 8192, "allocation: whole clusters");
    RtlFillMemory(tail, sizeof tail, 0xEE);
    offset.QuadPart = 4990;
    CHECK_EQ(ZwReadFile(h, NULL, NULL, NULL, &iosb, tail, sizeof tail, &offset, NULL), STATUS_SUCCESS, "read the tail");
    CHECK_EQ(iosb.Information, 10, "10 bytes up to the end of file");
    CHECK_EQ(tail[0] == 0 && tail[9] == 0 && tail[10] == 0xEE, TRUE, "the extension reads as zeros");
    allocation.AllocationSize.QuadPart = 3;
    CHECK_EQ(ZwSetInformationFile(h, &iosb, &allocation, sizeof allocation, FileAllocationInformation), STATUS_SUCCESS,
             "FileAllocationInformation");
    CHECK_EQ(end_of_file(h), 3, "an allocation below the end of file truncates it");
  }
  {
    PFILE_ALL_INFORMATION all = (PFILE_ALL_INFORMATION)buffer;
    CHECK_EQ(ZwQueryInformationFile(h2, &iosb, buffer, sizeof buffer, FileAllInformation), STATUS_SUCCESS,
             "FileAllInformation");
    CHECK_EQ(iosb.Information, 0x64 + 26, "FileAllInformation: the fixed part and the name");
    CHECK_EQ(all->StandardInformation.EndOfFile.QuadPart, 3, "All: EndOfFile");
    CHECK_EQ(all->AccessInformation.AccessFlags, 0x120089, "All: the handle's access (GENERIC_READ mapped)");
    CHECK_EQ(all->ModeInformation.Mode, FILE_SYNCHRONOUS_IO_NONALERT, "All: the mode");
    CHECK_EQ(all->InternalInformation.IndexNumber.QuadPart, id1.IndexNumber.QuadPart, "All: the index number");
    CHECK_EQ(all->NameInformation.FileNameLength, 26, "All: \\sem\\info.txt");
    CHECK_EQ(ZwQueryInformationFile(h2, &iosb, buffer, 0x68, FileAllInformation), STATUS_BUFFER_OVERFLOW,
             "FileAllInformation with a short name part: STATUS_BUFFER_OVERFLOW");
    CHECK_EQ(iosb.Information, 0x68, "as much as fits");
  }
  {
    ULONG value = 0;
    FILE_NETWORK_OPEN_INFORMATION net;
    FILE_ATTRIBUTE_TAG_INFORMATION tag;
    CHECK_EQ(ZwQueryInformationFile(h2, &iosb, &value, sizeof value, FileModeInformation), STATUS_SUCCESS, "FileMode");
    CHECK_EQ(value, FILE_SYNCHRONOUS_IO_NONALERT, "FileModeInformation of a synchronous open");
    ZwQueryInformationFile(h2, &iosb, &value, sizeof value, FileAccessInformation);
    CHECK_EQ(value, 0x120089, "FileAccessInformation: the granted access");
    value = 7;
    ZwQueryInformationFile(h2, &iosb, &value, sizeof value, FileAlignmentInformation);
    CHECK_EQ(value, 0, "FileAlignmentInformation: FILE_BYTE_ALIGNMENT");
    ZwQueryInformationFile(h2, &iosb, &net, sizeof net, FileNetworkOpenInformation);
    CHECK_EQ(net.EndOfFile.QuadPart, 3, "FileNetworkOpenInformation: EndOfFile");
    CHECK_EQ(net.AllocationSize.QuadPart, 4096, "FileNetworkOpenInformation: AllocationSize");
    tag.ReparseTag = 77;
    ZwQueryInformationFile(h2, &iosb, &tag, sizeof tag, FileAttributeTagInformation);
    CHECK_EQ(tag.ReparseTag, 0, "FileAttributeTagInformation: no reparse tag");
    CHECK_EQ(ZwQueryInformationFile(h2, &iosb, &basic, 8, FileBasicInformation), STATUS_INFO_LENGTH_MISMATCH,
             "a buffer below the class's size: STATUS_INFO_LENGTH_MISMATCH");
    CHECK_EQ(ZwQueryInformationFile(h2, &iosb, buffer, sizeof buffer, FileDirectoryInformation),
             STATUS_INVALID_INFO_CLASS, "a directory class is not a file query: STATUS_INVALID_INFO_CLASS");
    CHECK_EQ(ZwQueryInformationFile(h2, &iosb, buffer, sizeof buffer, (FILE_INFORMATION_CLASS)0),
             STATUS_INVALID_INFO_CLASS, "class 0: STATUS_INVALID_INFO_CLASS");
  }
  /* The position of a synchronous file object is the I/O manager's. */
  position.CurrentByteOffset.QuadPart = 2;
  CHECK_EQ(ZwSetInformationFile(h, &iosb, &position, sizeof position, FilePositionInformation), STATUS_SUCCESS,
           "set FilePositionInformation");
  {
    char c = 0;
    ZwWriteFile(h, NULL, NULL, NULL, &iosb, "Z", 1, NULL, NULL);
    position.CurrentByteOffset.QuadPart = 0;
    ZwQueryInformationFile(h, &iosb, &position, sizeof position, FilePositionInformation);
    CHECK_EQ(position.CurrentByteOffset.QuadPart, 3, "a write without ByteOffset goes to the position and moves it");
    offset.QuadPart = 2;
    ZwReadFile(h2, NULL, NULL, NULL, &iosb, &c, 1, &offset, NULL);
    CHECK_EQ(c, 'Z', "the byte landed at offset 2");
  }
  position.CurrentByteOffset.QuadPart = -1;
  CHECK_EQ(ZwSetInformationFile(h, &iosb, &position, sizeof position, FilePositionInformation), STATUS_INVALID_PARAMETER,
           "a negative position: STATUS_INVALID_PARAMETER");
  if (fo1) ObDereferenceObject(fo1);
  if (fo2) ObDereferenceObject(fo2);
  ZwClose(h2);
  ZwClose(h);
}

static void directories(void) {
  HANDLE dir, h, file;
  IO_STATUS_BLOCK iosb;
  UCHAR buffer[512];
  UNICODE_STRING pattern;
  FILE_NAMES_INFORMATION* names = (FILE_NAMES_INFORMATION*)buffer;
  open_path(&h, L"\\??\\C:\\sem\\longname.txt", GENERIC_WRITE, 0, FILE_CREATE, SYNC, 0, &iosb);
  ZwClose(h);
  CHECK_EQ(open_path(&dir, L"\\??\\C:\\sem", FILE_LIST_DIRECTORY | SYNCHRONIZE, SHARE_ALL, FILE_OPEN,
                     FILE_DIRECTORY_FILE | SYNC, 0, &iosb),
           STATUS_SUCCESS, "open the directory");
  CHECK_EQ(ZwQueryDirectoryFile(dir, NULL, NULL, NULL, &iosb, buffer, 11, FileNamesInformation, FALSE, NULL, TRUE),
           STATUS_INFO_LENGTH_MISMATCH, "a buffer below one entry's fixed part: STATUS_INFO_LENGTH_MISMATCH");
  CHECK_EQ(ZwQueryDirectoryFile(dir, NULL, NULL, NULL, &iosb, buffer, sizeof buffer, FileNamesInformation, TRUE, NULL,
                                TRUE),
           STATUS_SUCCESS, "ReturnSingleEntry");
  CHECK_EQ(iosb.Information, 14, "one entry: \".\"");
  CHECK_EQ(names->NextEntryOffset, 0, "the last entry's NextEntryOffset is 0");
  CHECK_EQ(names->FileName[0], L'.', "\".\" first");
  RtlInitUnicodeString(&pattern, L"l*.TXT");
  CHECK_EQ(ZwQueryDirectoryFile(dir, NULL, NULL, NULL, &iosb, buffer, 16, FileNamesInformation, FALSE, &pattern, TRUE),
           STATUS_BUFFER_OVERFLOW, "a restart with a new expression; the first entry does not fit: STATUS_BUFFER_OVERFLOW");
  CHECK_EQ(iosb.Information, 16, "as much of the name as fits");
  CHECK_EQ(names->FileNameLength, 24, "FileNameLength is the whole name's");
  CHECK_EQ(ZwQueryDirectoryFile(dir, NULL, NULL, NULL, &iosb, buffer, sizeof buffer, FileNamesInformation, FALSE, NULL,
                                FALSE),
           STATUS_SUCCESS, "the entry that did not fit comes again");
  CHECK_EQ(names->FileNameLength == 24 && names->FileName[0] == L'l', TRUE, "longname.txt");
  CHECK_EQ(ZwQueryDirectoryFile(dir, NULL, NULL, NULL, &iosb, buffer, sizeof buffer, FileNamesInformation, FALSE, NULL,
                                FALSE),
           STATUS_NO_MORE_FILES, "the expression is kept: nothing else matches");
  {
    FILE_ID_BOTH_DIR_INFORMATION* e = (FILE_ID_BOTH_DIR_INFORMATION*)buffer;
    FILE_INTERNAL_INFORMATION internal;
    RtlInitUnicodeString(&pattern, L"LONGNAME.TXT");
    CHECK_EQ(ZwQueryDirectoryFile(dir, NULL, NULL, NULL, &iosb, buffer, sizeof buffer, FileIdBothDirectoryInformation,
                                  FALSE, &pattern, TRUE),
             STATUS_SUCCESS, "FileIdBothDirectoryInformation");
    open_path(&h, L"\\??\\C:\\sem\\longname.txt", GENERIC_READ, SHARE_ALL, FILE_OPEN, SYNC, 0, &iosb);
    ZwQueryInformationFile(h, &iosb, &internal, sizeof internal, FileInternalInformation);
    CHECK_EQ(e->FileId.QuadPart, internal.IndexNumber.QuadPart, "FileId is the file's IndexNumber");
    CHECK_EQ(e->ShortNameLength, 0, "no 8.3 names");
    CHECK_EQ(ZwQueryDirectoryFile(h, NULL, NULL, NULL, &iosb, buffer, sizeof buffer, FileNamesInformation, FALSE, NULL,
                                  TRUE),
             STATUS_INVALID_PARAMETER, "enumerating a file: STATUS_INVALID_PARAMETER");
    ZwClose(h);
  }
  {
    FILE_FULL_DIR_INFORMATION* e = (FILE_FULL_DIR_INFORMATION*)buffer;
    HANDLE fresh;
    open_path(&fresh, L"\\??\\C:\\sem", FILE_LIST_DIRECTORY | SYNCHRONIZE, SHARE_ALL, FILE_OPEN,
              FILE_DIRECTORY_FILE | SYNC, 0, &iosb);
    RtlInitUnicodeString(&pattern, L"d.???");
    CHECK_EQ(ZwQueryDirectoryFile(fresh, NULL, NULL, NULL, &iosb, buffer, sizeof buffer, FileFullDirectoryInformation,
                                  FALSE, &pattern, FALSE),
             STATUS_SUCCESS, "'?' matches one character");
    CHECK_EQ(e->FileNameLength, 10, "d.txt");
    CHECK_EQ(e->EaSize, 0, "no EAs");
    ZwClose(fresh);
  }
  /* A second handle to the directory, with FILE_LIST_DIRECTORY from the file's own handle: relative. */
  {
    OBJECT_ATTRIBUTES oa;
    UNICODE_STRING name;
    RtlInitUnicodeString(&name, L"d.txt");
    InitializeObjectAttributes(&oa, &name, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, dir, NULL);
    CHECK_EQ(ZwOpenFile(&file, GENERIC_READ | SYNCHRONIZE, &oa, &iosb, SHARE_ALL, SYNC | FILE_NON_DIRECTORY_FILE),
             STATUS_SUCCESS, "ZwOpenFile relative to a directory handle");
    CHECK_EQ(iosb.Information, FILE_OPENED, "ZwOpenFile: FILE_OPENED");
    RtlInitUnicodeString(&name, L"\\d.txt");
    CHECK_EQ(ZwOpenFile(&h, GENERIC_READ, &oa, &iosb, SHARE_ALL, 0), STATUS_OBJECT_PATH_SYNTAX_BAD,
             "a relative name starting with '\\': STATUS_OBJECT_PATH_SYNTAX_BAD");
    ZwClose(file);
  }
  ZwClose(dir);
}

typedef union {
  FILE_RENAME_INFORMATION info;
  UCHAR bytes[128];
} RENAME;

static void set_rename(RENAME* r, const wchar_t* name, HANDLE root, BOOLEAN replace) {
  ULONG length = (ULONG)(wcslen(name) * sizeof(WCHAR));
  RtlZeroMemory(r, sizeof *r);
  RtlCopyMemory(r->info.FileName, name, length);
  r->info.FileNameLength = length;
  r->info.RootDirectory = root;
  r->info.ReplaceIfExists = replace;
}

static void renames_and_volume(void) {
  HANDLE h, dir, other;
  IO_STATUS_BLOCK iosb;
  RENAME r;
  open_path(&dir, L"\\??\\C:\\sem\\moved", FILE_LIST_DIRECTORY | SYNCHRONIZE, SHARE_ALL, FILE_CREATE,
            FILE_DIRECTORY_FILE | SYNC, 0, &iosb);
  CHECK_EQ(open_path(&h, L"\\??\\C:\\sem\\e.txt", DELETE | SYNCHRONIZE, SHARE_ALL, FILE_OPEN, SYNC, 0, &iosb),
           STATUS_SUCCESS, "open e.txt for DELETE");
  set_rename(&r, L"\\??\\C:\\sem\\moved\\x.txt", NULL, FALSE);
  CHECK_EQ(ZwSetInformationFile(h, &iosb, &r, sizeof r, FileRenameInformation), STATUS_SUCCESS,
           "a rename to a fully qualified name in another directory");
  CHECK_EQ(open_path(&other, L"\\??\\C:\\sem\\e.txt", GENERIC_READ, SHARE_ALL, FILE_OPEN, 0, 0, &iosb),
           STATUS_OBJECT_NAME_NOT_FOUND, "the old name is gone");
  CHECK_EQ(open_path(&other, L"\\??\\C:\\sem\\moved\\x.txt", GENERIC_READ, SHARE_ALL, FILE_OPEN, 0, 0, &iosb),
           STATUS_SUCCESS, "the new name opens");
  ZwClose(other);
  /* Back by a name relative to RootDirectory, onto an existing file. */
  set_rename(&r, L"..", dir, FALSE);
  CHECK_EQ(ZwSetInformationFile(h, &iosb, &r, sizeof r, FileRenameInformation), STATUS_OBJECT_NAME_INVALID,
           "\"..\" is not a name");
  set_rename(&r, L"\\??\\C:\\sem\\s.txt", NULL, FALSE);
  CHECK_EQ(ZwSetInformationFile(h, &iosb, &r, sizeof r, FileRenameInformation), STATUS_OBJECT_NAME_COLLISION,
           "onto an existing file without ReplaceIfExists: STATUS_OBJECT_NAME_COLLISION");
  r.info.ReplaceIfExists = TRUE;
  CHECK_EQ(ZwSetInformationFile(h, &iosb, &r, sizeof r, FileRenameInformation), STATUS_SUCCESS,
           "ReplaceIfExists replaces it");
  set_rename(&r, L"\\Device\\KemuFiles\\x", NULL, FALSE);
  CHECK_EQ(ZwSetInformationFile(h, &iosb, &r, sizeof r, FileRenameInformation), STATUS_NOT_SAME_DEVICE,
           "a rename onto another device: STATUS_NOT_SAME_DEVICE");
  ZwClose(h);
  ZwClose(dir);

  /* The volume. */
  {
    FILE_FS_SIZE_INFORMATION size;
    union {
      FILE_FS_VOLUME_INFORMATION info;
      UCHAR bytes[64];
    } v;
    FILE_FS_DEVICE_INFORMATION device;
    CHECK_EQ(open_path(&h, L"\\??\\C:", FILE_READ_ATTRIBUTES | SYNCHRONIZE, SHARE_ALL, FILE_OPEN, SYNC, 0, &iosb),
             STATUS_SUCCESS, "the volume itself opens");
    CHECK_EQ(ZwQueryVolumeInformationFile(h, &iosb, &size, sizeof size, FileFsSizeInformation), STATUS_SUCCESS,
             "FileFsSizeInformation");
    CHECK_EQ(size.BytesPerSector, 512, "512-byte sectors");
    CHECK_EQ(size.SectorsPerAllocationUnit, 8, "4 KiB clusters");
    CHECK_EQ(size.TotalAllocationUnits.QuadPart, 65536, "256 MiB");
    CHECK_EQ(ZwQueryVolumeInformationFile(h, &iosb, &v, sizeof v, FileFsVolumeInformation), STATUS_SUCCESS,
             "FileFsVolumeInformation");
    CHECK_EQ(v.info.VolumeSerialNumber, 0x4B454D55, "the serial number");
    CHECK_EQ(v.info.VolumeLabelLength, 8, "label KEMU");
    CHECK_EQ(ZwQueryVolumeInformationFile(h, &iosb, &device, sizeof device, FileFsDeviceInformation), STATUS_SUCCESS,
             "FileFsDeviceInformation of the volume open");
    CHECK_EQ(device.DeviceType, FILE_DEVICE_DISK, "FILE_DEVICE_DISK");
    CHECK_EQ(ZwQueryVolumeInformationFile(h, &iosb, &device, sizeof device, FileFsLabelInformation),
             STATUS_INVALID_INFO_CLASS, "FileFsLabelInformation is set-only");
    ZwClose(h);
  }
  {
    FILE_NETWORK_OPEN_INFORMATION net;
    OBJECT_ATTRIBUTES oa;
    UNICODE_STRING name;
    RtlInitUnicodeString(&name, L"\\??\\C:\\sem\\d.txt");
    InitializeObjectAttributes(&oa, &name, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
    CHECK_EQ(ZwQueryFullAttributesFile(&oa, &net), STATUS_SUCCESS, "ZwQueryFullAttributesFile");
    CHECK_EQ(net.FileAttributes, FILE_ATTRIBUTE_ARCHIVE, "d.txt's attributes");
    /* NtCreateFile keeps the caller's PreviousMode: inside this IOCTL it is UserMode, so kernel pointers fail the probe. */
    CHECK_EQ(NtCreateFile(&h, GENERIC_READ, &oa, &iosb, NULL, 0, SHARE_ALL, FILE_OPEN, 0, NULL, 0),
             STATUS_ACCESS_VIOLATION, "NtCreateFile from a user request with kernel buffers: STATUS_ACCESS_VIOLATION");
  }
}

void files_semantics(FILES_RESULTS* results) {
  g_r = results;
  dispositions();
  delete_on_close_and_read_only();
  information();
  directories();
  renames_and_volume();
}
