// Prints a C file of _Static_asserts stating kemu's guest structure layouts
// (ntoskrnl-stubs/layout, emulator/exception_layout.h). The test compiles it
// with clang for x86_64-w64-windows-gnu against the mingw-w64 DDK headers, so
// every offset and size kemu uses is checked against the headers drivers are
// built with.
#include <cstddef>
#include <cstdio>

#include "emulator/exception_layout.h"
#include "ntoskrnl-stubs/layout/cm_structs.h"
#include "ntoskrnl-stubs/layout/io_structs.h"
#include "ntoskrnl-stubs/layout/fs_structs.h"
#include "ntoskrnl-stubs/layout/nt_structs.h"
#include "ntoskrnl-stubs/layout/ob_structs.h"
#include "ntoskrnl-stubs/layout/rtl_structs.h"
#include "ntoskrnl-stubs/layout/se_structs.h"

namespace L = kemu::nt::layout;
namespace S = kemu::emu::seh;

#define OFF(ctype, cmember, kstruct, kmember)                                                     \
  std::printf("_Static_assert(offsetof(%s, %s) == %zu, \"%s.%s\");\n", #ctype, cmember,            \
              offsetof(kstruct, kmember), #ctype, cmember)
// An offset kemu keeps as a constant rather than a struct member.
#define OFFV(ctype, cmember, value)                                                               \
  std::printf("_Static_assert(offsetof(%s, %s) == %zu, \"%s.%s\");\n", #ctype, cmember,            \
              static_cast<size_t>(value), #ctype, cmember)
#define SIZE(ctype, kstruct) \
  std::printf("_Static_assert(sizeof(%s) == %zu, \"sizeof %s\");\n", #ctype, sizeof(kstruct), #ctype)

int main() {
  std::printf("#include <ntifs.h>\n#include <stddef.h>\n\n");
  OFF(UNICODE_STRING, "Buffer", L::UNICODE_STRING, Buffer);
  SIZE(UNICODE_STRING, L::UNICODE_STRING);
  SIZE(DISPATCHER_HEADER, L::DISPATCHER_HEADER);
  OFF(DISPATCHER_HEADER, "SignalState", L::DISPATCHER_HEADER, SignalState);
  OFF(DISPATCHER_HEADER, "WaitListHead", L::DISPATCHER_HEADER, WaitListHead);
  SIZE(KEVENT, L::KEVENT);
  SIZE(TIME_FIELDS, L::TIME_FIELDS);
  OFF(TIME_FIELDS, "Milliseconds", L::TIME_FIELDS, Milliseconds);
  OFF(TIME_FIELDS, "Weekday", L::TIME_FIELDS, Weekday);
  SIZE(KDPC, L::KDPC);
  OFF(KDPC, "DeferredRoutine", L::KDPC, DeferredRoutine);
  OFF(KDPC, "DeferredContext", L::KDPC, DeferredContext);
  OFF(KDPC, "SystemArgument1", L::KDPC, SystemArgument1);
  OFF(KDPC, "DpcData", L::KDPC, DpcData);
  SIZE(GENERIC_MAPPING, L::GENERIC_MAPPING);

  OFF(DRIVER_OBJECT, "DeviceObject", L::DRIVER_OBJECT, DeviceObject);
  OFF(DRIVER_OBJECT, "DriverStart", L::DRIVER_OBJECT, DriverStart);
  OFF(DRIVER_OBJECT, "DriverSection", L::DRIVER_OBJECT, DriverSection);
  OFF(DRIVER_OBJECT, "DriverExtension", L::DRIVER_OBJECT, DriverExtension);
  OFF(DRIVER_OBJECT, "DriverName", L::DRIVER_OBJECT, DriverName);
  OFF(DRIVER_OBJECT, "FastIoDispatch", L::DRIVER_OBJECT, FastIoDispatch);
  OFF(DRIVER_OBJECT, "DriverInit", L::DRIVER_OBJECT, DriverInit);
  OFF(DRIVER_OBJECT, "DriverUnload", L::DRIVER_OBJECT, DriverUnload);
  OFF(DRIVER_OBJECT, "MajorFunction", L::DRIVER_OBJECT, MajorFunction);
  SIZE(DRIVER_OBJECT, L::DRIVER_OBJECT);
  OFF(DRIVER_EXTENSION, "ServiceKeyName", L::DRIVER_EXTENSION, ServiceKeyName);

  OFF(DEVICE_OBJECT, "DriverObject", L::DEVICE_OBJECT, DriverObject);
  OFF(DEVICE_OBJECT, "NextDevice", L::DEVICE_OBJECT, NextDevice);
  OFF(DEVICE_OBJECT, "AttachedDevice", L::DEVICE_OBJECT, AttachedDevice);
  OFF(DEVICE_OBJECT, "CurrentIrp", L::DEVICE_OBJECT, CurrentIrp);
  OFF(DEVICE_OBJECT, "Flags", L::DEVICE_OBJECT, Flags);
  OFF(DEVICE_OBJECT, "Characteristics", L::DEVICE_OBJECT, Characteristics);
  OFF(DEVICE_OBJECT, "DeviceExtension", L::DEVICE_OBJECT, DeviceExtension);
  OFF(DEVICE_OBJECT, "DeviceType", L::DEVICE_OBJECT, DeviceType);
  OFF(DEVICE_OBJECT, "StackSize", L::DEVICE_OBJECT, StackSize);
  OFF(DEVICE_OBJECT, "AlignmentRequirement", L::DEVICE_OBJECT, AlignmentRequirement);
  OFF(DEVICE_OBJECT, "DeviceQueue", L::DEVICE_OBJECT, DeviceQueue);
  OFF(DEVICE_OBJECT, "Dpc", L::DEVICE_OBJECT, Dpc);
  OFF(DEVICE_OBJECT, "SecurityDescriptor", L::DEVICE_OBJECT, SecurityDescriptor);
  OFF(DEVICE_OBJECT, "DeviceLock", L::DEVICE_OBJECT, DeviceLock);
  OFF(DEVICE_OBJECT, "SectorSize", L::DEVICE_OBJECT, SectorSize);
  OFF(DEVICE_OBJECT, "DeviceObjectExtension", L::DEVICE_OBJECT, DeviceObjectExtension);
  // sizeof(DEVICE_OBJECT) is 0x150 in the WDK (DECLSPEC_ALIGN(16)); mingw's
  // header lacks the alignment (0x148). kemu follows Windows: only the fields
  // are checked here.

  OFF(IO_STATUS_BLOCK, "Information", L::IO_STATUS_BLOCK, Information);
  SIZE(IO_STATUS_BLOCK, L::IO_STATUS_BLOCK);
  OFF(IRP, "MdlAddress", L::IRP, MdlAddress);
  OFF(IRP, "Flags", L::IRP, Flags);
  OFF(IRP, "AssociatedIrp.SystemBuffer", L::IRP, AssociatedIrp);
  OFF(IRP, "ThreadListEntry", L::IRP, ThreadListEntry);
  OFF(IRP, "IoStatus", L::IRP, IoStatus);
  OFF(IRP, "RequestorMode", L::IRP, RequestorMode);
  OFF(IRP, "PendingReturned", L::IRP, PendingReturned);
  OFF(IRP, "StackCount", L::IRP, StackCount);
  OFF(IRP, "CurrentLocation", L::IRP, CurrentLocation);
  OFF(IRP, "Cancel", L::IRP, Cancel);
  OFF(IRP, "CancelIrql", L::IRP, CancelIrql);
  OFF(IRP, "UserIosb", L::IRP, UserIosb);
  OFF(IRP, "UserEvent", L::IRP, UserEvent);
  OFF(IRP, "Overlay", L::IRP, Overlay);
  OFF(IRP, "CancelRoutine", L::IRP, CancelRoutine);
  OFF(IRP, "UserBuffer", L::IRP, UserBuffer);
  OFF(IRP, "Tail.Overlay.DriverContext", L::IRP, DriverContext);
  OFF(IRP, "Tail.Overlay.Thread", L::IRP, Thread);
  OFF(IRP, "Tail.Overlay.AuxiliaryBuffer", L::IRP, AuxiliaryBuffer);
  OFF(IRP, "Tail.Overlay.ListEntry", L::IRP, ListEntry);
  OFF(IRP, "Tail.Overlay.CurrentStackLocation", L::IRP, CurrentStackLocation);
  OFF(IRP, "Tail.Overlay.OriginalFileObject", L::IRP, OriginalFileObject);
  SIZE(IRP, L::IRP);

  OFF(IO_STACK_LOCATION, "Parameters.DeviceIoControl.OutputBufferLength", L::IO_STACK_LOCATION, OutputBufferLength);
  OFF(IO_STACK_LOCATION, "Parameters.DeviceIoControl.InputBufferLength", L::IO_STACK_LOCATION, InputBufferLength);
  OFF(IO_STACK_LOCATION, "Parameters.DeviceIoControl.IoControlCode", L::IO_STACK_LOCATION, IoControlCode);
  OFF(IO_STACK_LOCATION, "Parameters.DeviceIoControl.Type3InputBuffer", L::IO_STACK_LOCATION, Type3InputBuffer);
  OFF(IO_STACK_LOCATION, "Parameters.Read.Length", L::IO_STACK_LOCATION, OutputBufferLength);
  OFF(IO_STACK_LOCATION, "Parameters.Read.Key", L::IO_STACK_LOCATION, InputBufferLength);
  OFF(IO_STACK_LOCATION, "Parameters.Read.ByteOffset", L::IO_STACK_LOCATION, IoControlCode);
  OFF(IO_STACK_LOCATION, "Parameters.Create.Options", L::IO_STACK_LOCATION, InputBufferLength);
  OFF(IO_STACK_LOCATION, "DeviceObject", L::IO_STACK_LOCATION, DeviceObject);
  OFF(IO_STACK_LOCATION, "FileObject", L::IO_STACK_LOCATION, FileObject);
  OFF(IO_STACK_LOCATION, "CompletionRoutine", L::IO_STACK_LOCATION, CompletionRoutine);
  OFF(IO_STACK_LOCATION, "Context", L::IO_STACK_LOCATION, Context);
  SIZE(IO_STACK_LOCATION, L::IO_STACK_LOCATION);

  OFF(FILE_OBJECT, "DeviceObject", L::FILE_OBJECT, DeviceObject);
  OFF(FILE_OBJECT, "FsContext", L::FILE_OBJECT, FsContext);
  OFF(FILE_OBJECT, "FsContext2", L::FILE_OBJECT, FsContext2);
  OFF(FILE_OBJECT, "FinalStatus", L::FILE_OBJECT, FinalStatus);
  OFF(FILE_OBJECT, "RelatedFileObject", L::FILE_OBJECT, RelatedFileObject);
  OFF(FILE_OBJECT, "ReadAccess", L::FILE_OBJECT, ReadAccess);
  OFF(FILE_OBJECT, "SharedDelete", L::FILE_OBJECT, SharedDelete);
  OFF(FILE_OBJECT, "Flags", L::FILE_OBJECT, Flags);
  OFF(FILE_OBJECT, "FileName", L::FILE_OBJECT, FileName);
  OFF(FILE_OBJECT, "CurrentByteOffset", L::FILE_OBJECT, CurrentByteOffset);
  OFF(FILE_OBJECT, "Waiters", L::FILE_OBJECT, Waiters);
  OFF(FILE_OBJECT, "Lock", L::FILE_OBJECT, Lock);
  OFF(FILE_OBJECT, "Event", L::FILE_OBJECT, Event);
  OFF(FILE_OBJECT, "CompletionContext", L::FILE_OBJECT, CompletionContext);
  OFF(FILE_OBJECT, "IrpList", L::FILE_OBJECT, IrpList);
  OFF(FILE_OBJECT, "FileObjectExtension", L::FILE_OBJECT, FileObjectExtension);
  SIZE(FILE_OBJECT, L::FILE_OBJECT);

  OFF(DEVOBJ_EXTENSION, "DeviceObject", L::DEVOBJ_EXTENSION, DeviceObject);

  OFF(IO_CSQ, "CsqInsertIrp", L::IO_CSQ, CsqInsertIrp);
  OFF(IO_CSQ, "CsqRemoveIrp", L::IO_CSQ, CsqRemoveIrp);
  OFF(IO_CSQ, "CsqPeekNextIrp", L::IO_CSQ, CsqPeekNextIrp);
  OFF(IO_CSQ, "CsqAcquireLock", L::IO_CSQ, CsqAcquireLock);
  OFF(IO_CSQ, "CsqReleaseLock", L::IO_CSQ, CsqReleaseLock);
  OFF(IO_CSQ, "CsqCompleteCanceledIrp", L::IO_CSQ, CsqCompleteCanceledIrp);
  OFF(IO_CSQ, "ReservePointer", L::IO_CSQ, ReservePointer);
  SIZE(IO_CSQ, L::IO_CSQ);
  OFF(IO_CSQ_IRP_CONTEXT, "Irp", L::IO_CSQ_IRP_CONTEXT, Irp);
  OFF(IO_CSQ_IRP_CONTEXT, "Csq", L::IO_CSQ_IRP_CONTEXT, Csq);
  SIZE(IO_CSQ_IRP_CONTEXT, L::IO_CSQ_IRP_CONTEXT);

  // Security structures (ntoskrnl-stubs/layout/se_structs.h).
  SIZE(LUID, L::LUID);
  SIZE(LUID_AND_ATTRIBUTES, L::LUID_AND_ATTRIBUTES);
  OFF(PRIVILEGE_SET, "Privilege", L::PRIVILEGE_SET, Privilege);
  SIZE(PRIVILEGE_SET, L::PRIVILEGE_SET);
  SIZE(ACL, L::ACL);
  OFF(ACL, "AclSize", L::ACL, AclSize);
  OFF(ACL, "AceCount", L::ACL, AceCount);
  SIZE(ACE_HEADER, L::ACE_HEADER);
  OFF(ACCESS_ALLOWED_ACE, "Mask", L::KNOWN_ACE, Mask);
  OFF(ACCESS_ALLOWED_ACE, "SidStart", L::KNOWN_ACE, SidStart);
  OFF(SECURITY_DESCRIPTOR, "Control", L::SECURITY_DESCRIPTOR, Control);
  OFF(SECURITY_DESCRIPTOR, "Owner", L::SECURITY_DESCRIPTOR, Owner);
  OFF(SECURITY_DESCRIPTOR, "Group", L::SECURITY_DESCRIPTOR, Group);
  OFF(SECURITY_DESCRIPTOR, "Sacl", L::SECURITY_DESCRIPTOR, Sacl);
  OFF(SECURITY_DESCRIPTOR, "Dacl", L::SECURITY_DESCRIPTOR, Dacl);
  SIZE(SECURITY_DESCRIPTOR, L::SECURITY_DESCRIPTOR);
  OFF(SECURITY_DESCRIPTOR_RELATIVE, "Owner", L::SECURITY_DESCRIPTOR_RELATIVE, Owner);
  OFF(SECURITY_DESCRIPTOR_RELATIVE, "Dacl", L::SECURITY_DESCRIPTOR_RELATIVE, Dacl);
  SIZE(SECURITY_DESCRIPTOR_RELATIVE, L::SECURITY_DESCRIPTOR_RELATIVE);
  OFF(SECURITY_SUBJECT_CONTEXT, "ImpersonationLevel", L::SECURITY_SUBJECT_CONTEXT, ImpersonationLevel);
  OFF(SECURITY_SUBJECT_CONTEXT, "PrimaryToken", L::SECURITY_SUBJECT_CONTEXT, PrimaryToken);
  OFF(SECURITY_SUBJECT_CONTEXT, "ProcessAuditId", L::SECURITY_SUBJECT_CONTEXT, ProcessAuditId);
  SIZE(SECURITY_SUBJECT_CONTEXT, L::SECURITY_SUBJECT_CONTEXT);
  SIZE(INITIAL_PRIVILEGE_SET, L::INITIAL_PRIVILEGE_SET);
  OFF(ACCESS_STATE, "RemainingDesiredAccess", L::ACCESS_STATE, RemainingDesiredAccess);
  OFF(ACCESS_STATE, "PreviouslyGrantedAccess", L::ACCESS_STATE, PreviouslyGrantedAccess);
  OFF(ACCESS_STATE, "OriginalDesiredAccess", L::ACCESS_STATE, OriginalDesiredAccess);
  OFF(ACCESS_STATE, "SubjectSecurityContext", L::ACCESS_STATE, SubjectSecurityContext);
  OFF(ACCESS_STATE, "SecurityDescriptor", L::ACCESS_STATE, SecurityDescriptor);
  OFF(ACCESS_STATE, "Privileges", L::ACCESS_STATE, Privileges);
  OFF(ACCESS_STATE, "AuditPrivileges", L::ACCESS_STATE, AuditPrivileges);
  OFF(ACCESS_STATE, "ObjectName", L::ACCESS_STATE, ObjectName);
  OFF(ACCESS_STATE, "ObjectTypeName", L::ACCESS_STATE, ObjectTypeName);
  SIZE(ACCESS_STATE, L::ACCESS_STATE);
  OFF(IO_SECURITY_CONTEXT, "AccessState", L::IO_SECURITY_CONTEXT, AccessState);
  OFF(IO_SECURITY_CONTEXT, "DesiredAccess", L::IO_SECURITY_CONTEXT, DesiredAccess);
  OFF(IO_SECURITY_CONTEXT, "FullCreateOptions", L::IO_SECURITY_CONTEXT, FullCreateOptions);
  SIZE(IO_SECURITY_CONTEXT, L::IO_SECURITY_CONTEXT);
  OFF(SID_AND_ATTRIBUTES, "Attributes", L::SID_AND_ATTRIBUTES, Attributes);
  SIZE(SID_AND_ATTRIBUTES, L::SID_AND_ATTRIBUTES);
  OFF(SE_EXPORTS, "SeNullSid", L::SE_EXPORTS, SeNullSid);
  OFF(SE_EXPORTS, "SeAnonymousLogonSid", L::SE_EXPORTS, SeAnonymousLogonSid);
  OFF(SE_EXPORTS, "SeUndockPrivilege", L::SE_EXPORTS, SeUndockPrivilege);
  OFF(SE_EXPORTS, "SeLocalServiceSid", L::SE_EXPORTS, SeLocalServiceSid);
  OFF(SE_EXPORTS, "SeManageVolumePrivilege", L::SE_EXPORTS, SeManageVolumePrivilege);
  OFF(SE_EXPORTS, "SeIUserSid", L::SE_EXPORTS, SeIUserSid);
  OFF(SE_EXPORTS, "SeOwnerRightsSid", L::SE_EXPORTS, SeOwnerRightsSid);
  SIZE(SE_EXPORTS, L::SE_EXPORTS);

  OFF(MDL, "MdlFlags", L::MDL, MdlFlags);
  OFF(MDL, "Process", L::MDL, Process);
  OFF(MDL, "MappedSystemVa", L::MDL, MappedSystemVa);
  OFF(MDL, "StartVa", L::MDL, StartVa);
  OFF(MDL, "ByteCount", L::MDL, ByteCount);
  OFF(MDL, "ByteOffset", L::MDL, ByteOffset);
  SIZE(MDL, L::MDL);

  OFF(OBJECT_ATTRIBUTES, "RootDirectory", L::OBJECT_ATTRIBUTES, RootDirectory);
  OFF(OBJECT_ATTRIBUTES, "ObjectName", L::OBJECT_ATTRIBUTES, ObjectName);
  OFF(OBJECT_ATTRIBUTES, "Attributes", L::OBJECT_ATTRIBUTES, Attributes);
  OFF(OBJECT_ATTRIBUTES, "SecurityDescriptor", L::OBJECT_ATTRIBUTES, SecurityDescriptor);
  SIZE(OBJECT_ATTRIBUTES, L::OBJECT_ATTRIBUTES);
  SIZE(OBJECT_NAME_INFORMATION, L::OBJECT_NAME_INFORMATION);
  OFF(PUBLIC_OBJECT_BASIC_INFORMATION, "GrantedAccess", L::PUBLIC_OBJECT_BASIC_INFORMATION, GrantedAccess);
  OFF(PUBLIC_OBJECT_BASIC_INFORMATION, "HandleCount", L::PUBLIC_OBJECT_BASIC_INFORMATION, HandleCount);
  OFF(PUBLIC_OBJECT_BASIC_INFORMATION, "PointerCount", L::PUBLIC_OBJECT_BASIC_INFORMATION, PointerCount);
  SIZE(PUBLIC_OBJECT_BASIC_INFORMATION, L::PUBLIC_OBJECT_BASIC_INFORMATION);

  OFF(EXCEPTION_RECORD, "ExceptionAddress", S::EXCEPTION_RECORD, ExceptionAddress);
  OFF(EXCEPTION_RECORD, "ExceptionInformation", S::EXCEPTION_RECORD, ExceptionInformation);
  SIZE(EXCEPTION_RECORD, S::EXCEPTION_RECORD);
  OFF(CONTEXT, "ContextFlags", S::CONTEXT, ContextFlags);
  OFF(CONTEXT, "EFlags", S::CONTEXT, EFlags);
  OFF(CONTEXT, "Rax", S::CONTEXT, Rax);
  OFF(CONTEXT, "Rsp", S::CONTEXT, Rsp);
  OFF(CONTEXT, "R15", S::CONTEXT, R15);
  OFF(CONTEXT, "Rip", S::CONTEXT, Rip);
  OFF(CONTEXT, "Xmm0", S::CONTEXT, Xmm);
  OFF(CONTEXT, "VectorRegister", S::CONTEXT, VectorRegister);
  OFF(CONTEXT, "LastExceptionFromRip", S::CONTEXT, LastExceptionFromRip);
  SIZE(CONTEXT, S::CONTEXT);
  // Registry records (ntoskrnl-stubs/layout/cm_structs.h): the fixed parts
  // and where their name/data/class arrays start. KEY_NAME_INFORMATION and
  // KEY_CACHED_INFORMATION are not in mingw's headers.
#define AT(ctype, cmember, value) \
  std::printf("_Static_assert(offsetof(%s, %s) == %u, \"%s.%s\");\n", #ctype, cmember, value, #ctype, cmember)
  AT(KEY_VALUE_BASIC_INFORMATION, "Name", L::kKeyValueBasicNameOffset);
  AT(KEY_VALUE_FULL_INFORMATION, "Name", L::kKeyValueFullNameOffset);
  OFF(KEY_VALUE_FULL_INFORMATION, "DataOffset", L::KEY_VALUE_FULL_INFORMATION, DataOffset);
  OFF(KEY_VALUE_FULL_INFORMATION, "NameLength", L::KEY_VALUE_FULL_INFORMATION, NameLength);
  AT(KEY_VALUE_PARTIAL_INFORMATION, "Data", L::kKeyValuePartialDataOffset);
  AT(KEY_VALUE_PARTIAL_INFORMATION_ALIGN64, "Data", L::kKeyValuePartialAlign64DataOffset);
  AT(KEY_BASIC_INFORMATION, "Name", L::kKeyBasicNameOffset);
  OFF(KEY_BASIC_INFORMATION, "NameLength", L::KEY_BASIC_INFORMATION, NameLength);
  AT(KEY_NODE_INFORMATION, "Name", L::kKeyNodeNameOffset);
  OFF(KEY_NODE_INFORMATION, "ClassOffset", L::KEY_NODE_INFORMATION, ClassOffset);
  AT(KEY_FULL_INFORMATION, "Class", L::kKeyFullClassOffset);
  OFF(KEY_FULL_INFORMATION, "SubKeys", L::KEY_FULL_INFORMATION, SubKeys);
  OFF(KEY_FULL_INFORMATION, "MaxValueDataLen", L::KEY_FULL_INFORMATION, MaxValueDataLen);
  SIZE(RTL_QUERY_REGISTRY_TABLE, L::RTL_QUERY_REGISTRY_TABLE);
  OFF(RTL_QUERY_REGISTRY_TABLE, "Flags", L::RTL_QUERY_REGISTRY_TABLE, Flags);
  OFF(RTL_QUERY_REGISTRY_TABLE, "Name", L::RTL_QUERY_REGISTRY_TABLE, Name);
  OFF(RTL_QUERY_REGISTRY_TABLE, "EntryContext", L::RTL_QUERY_REGISTRY_TABLE, EntryContext);
  OFF(RTL_QUERY_REGISTRY_TABLE, "DefaultType", L::RTL_QUERY_REGISTRY_TABLE, DefaultType);
  OFF(RTL_QUERY_REGISTRY_TABLE, "DefaultData", L::RTL_QUERY_REGISTRY_TABLE, DefaultData);
  OFF(RTL_QUERY_REGISTRY_TABLE, "DefaultLength", L::RTL_QUERY_REGISTRY_TABLE, DefaultLength);
#undef AT
  // File requests: IO_STACK_LOCATION parameters, the information classes, the FCB header.
  namespace K = kemu::nt::layout::stack;
  OFFV(IO_STACK_LOCATION, "Parameters.Create.SecurityContext", K::kCreateSecurityContext);
  OFFV(IO_STACK_LOCATION, "Parameters.Create.FileAttributes", K::kCreateFileAttributes);
  OFFV(IO_STACK_LOCATION, "Parameters.Create.ShareAccess", K::kCreateShareAccess);
  OFFV(IO_STACK_LOCATION, "Parameters.Create.EaLength", K::kCreateEaLength);
  OFFV(IO_STACK_LOCATION, "Parameters.QueryFile.Length", K::kInfoLength);
  OFFV(IO_STACK_LOCATION, "Parameters.QueryFile.FileInformationClass", K::kInfoClass);
  OFFV(IO_STACK_LOCATION, "Parameters.SetFile.FileInformationClass", K::kInfoClass);
  OFFV(IO_STACK_LOCATION, "Parameters.SetFile.FileObject", K::kSetFileObject);
  OFFV(IO_STACK_LOCATION, "Parameters.SetFile.ReplaceIfExists", K::kSetReplaceIfExists);
  OFFV(IO_STACK_LOCATION, "Parameters.QueryVolume.FsInformationClass", K::kInfoClass);
  OFFV(IO_STACK_LOCATION, "Parameters.QueryDirectory.Length", K::kDirectoryLength);
  OFFV(IO_STACK_LOCATION, "Parameters.QueryDirectory.FileName", K::kDirectoryFileName);
  OFFV(IO_STACK_LOCATION, "Parameters.QueryDirectory.FileInformationClass", K::kDirectoryClass);
  OFFV(IO_STACK_LOCATION, "Parameters.QueryDirectory.FileIndex", K::kDirectoryFileIndex);
  OFFV(IO_SECURITY_CONTEXT, "DesiredAccess", L::kSecurityContextDesiredAccess);
  OFF(IRP, "Overlay.AllocationSize", L::IRP, Overlay);
  SIZE(FILE_BASIC_INFORMATION, L::FILE_BASIC_INFORMATION);
  OFF(FILE_BASIC_INFORMATION, "FileAttributes", L::FILE_BASIC_INFORMATION, FileAttributes);
  SIZE(FILE_STANDARD_INFORMATION, L::FILE_STANDARD_INFORMATION);
  OFF(FILE_STANDARD_INFORMATION, "DeletePending", L::FILE_STANDARD_INFORMATION, DeletePending);
  OFF(FILE_STANDARD_INFORMATION, "Directory", L::FILE_STANDARD_INFORMATION, Directory);
  SIZE(FILE_NETWORK_OPEN_INFORMATION, L::FILE_NETWORK_OPEN_INFORMATION);
  OFF(FILE_NETWORK_OPEN_INFORMATION, "FileAttributes", L::FILE_NETWORK_OPEN_INFORMATION, FileAttributes);
  SIZE(FILE_ATTRIBUTE_TAG_INFORMATION, L::FILE_ATTRIBUTE_TAG_INFORMATION);
  SIZE(FILE_ALL_INFORMATION, L::FILE_ALL_INFORMATION);
  OFF(FILE_ALL_INFORMATION, "StandardInformation", L::FILE_ALL_INFORMATION, StandardInformation);
  OFF(FILE_ALL_INFORMATION, "InternalInformation", L::FILE_ALL_INFORMATION, IndexNumber);
  OFF(FILE_ALL_INFORMATION, "EaInformation", L::FILE_ALL_INFORMATION, EaSize);
  OFF(FILE_ALL_INFORMATION, "AccessInformation", L::FILE_ALL_INFORMATION, AccessFlags);
  OFF(FILE_ALL_INFORMATION, "PositionInformation", L::FILE_ALL_INFORMATION, CurrentByteOffset);
  OFF(FILE_ALL_INFORMATION, "ModeInformation", L::FILE_ALL_INFORMATION, Mode);
  OFF(FILE_ALL_INFORMATION, "AlignmentInformation", L::FILE_ALL_INFORMATION, AlignmentRequirement);
  OFF(FILE_ALL_INFORMATION, "NameInformation", L::FILE_ALL_INFORMATION, FileNameLength);
  SIZE(FILE_RENAME_INFORMATION, L::FILE_RENAME_INFORMATION);
  OFF(FILE_RENAME_INFORMATION, "RootDirectory", L::FILE_RENAME_INFORMATION, RootDirectory);
  OFF(FILE_RENAME_INFORMATION, "FileNameLength", L::FILE_RENAME_INFORMATION, FileNameLength);
  OFF(FILE_RENAME_INFORMATION, "FileName", L::FILE_RENAME_INFORMATION, FileName);
  OFF(FILE_DIRECTORY_INFORMATION, "FileNameLength", L::FILE_DIRECTORY_INFORMATION, FileNameLength);
  OFFV(FILE_DIRECTORY_INFORMATION, "FileName", L::kDirectoryInfoNameOffset);
  OFFV(FILE_FULL_DIR_INFORMATION, "FileName", L::kFullDirInfoNameOffset);
  OFFV(FILE_ID_FULL_DIR_INFORMATION, "FileName", L::kIdFullDirInfoNameOffset);
  OFF(FILE_ID_FULL_DIR_INFORMATION, "FileId", L::FILE_ID_FULL_DIR_INFORMATION, FileId);
  OFFV(FILE_BOTH_DIR_INFORMATION, "FileName", L::kBothDirInfoNameOffset);
  OFF(FILE_BOTH_DIR_INFORMATION, "ShortName", L::FILE_BOTH_DIR_INFORMATION, ShortName);
  OFFV(FILE_ID_BOTH_DIR_INFORMATION, "FileName", L::kIdBothDirInfoNameOffset);
  OFF(FILE_ID_BOTH_DIR_INFORMATION, "FileId", L::FILE_ID_BOTH_DIR_INFORMATION, FileId);
  OFFV(FILE_NAMES_INFORMATION, "FileName", L::kNamesInfoNameOffset);
  OFF(FILE_FS_VOLUME_INFORMATION, "VolumeLabel", L::FILE_FS_VOLUME_INFORMATION, VolumeLabel);
  SIZE(FILE_FS_VOLUME_INFORMATION, L::FILE_FS_VOLUME_INFORMATION);
  SIZE(FILE_FS_SIZE_INFORMATION, L::FILE_FS_SIZE_INFORMATION);
  SIZE(FILE_FS_FULL_SIZE_INFORMATION, L::FILE_FS_FULL_SIZE_INFORMATION);
  SIZE(FILE_FS_DEVICE_INFORMATION, L::FILE_FS_DEVICE_INFORMATION);
  SIZE(FILE_FS_ATTRIBUTE_INFORMATION, L::FILE_FS_ATTRIBUTE_INFORMATION);
  OFF(FILE_FS_ATTRIBUTE_INFORMATION, "FileSystemName", L::FILE_FS_ATTRIBUTE_INFORMATION, FileSystemName);
  SIZE(FSRTL_COMMON_FCB_HEADER, L::FSRTL_COMMON_FCB_HEADER);
  OFF(FSRTL_COMMON_FCB_HEADER, "IsFastIoPossible", L::FSRTL_COMMON_FCB_HEADER, IsFastIoPossible);
  OFF(FSRTL_COMMON_FCB_HEADER, "Resource", L::FSRTL_COMMON_FCB_HEADER, Resource);
  OFF(FSRTL_COMMON_FCB_HEADER, "AllocationSize", L::FSRTL_COMMON_FCB_HEADER, AllocationSize);
  OFF(FSRTL_COMMON_FCB_HEADER, "FileSize", L::FSRTL_COMMON_FCB_HEADER, FileSize);
  OFF(FSRTL_COMMON_FCB_HEADER, "ValidDataLength", L::FSRTL_COMMON_FCB_HEADER, ValidDataLength);
  SIZE(SECTION_OBJECT_POINTERS, L::SECTION_OBJECT_POINTERS);
  SIZE(SHARE_ACCESS, L::SHARE_ACCESS);
  OFF(SHARE_ACCESS, "SharedDelete", L::SHARE_ACCESS, SharedDelete);

  // DISPATCHER_CONTEXT is declared only by the user-mode winnt.h, which cannot
  // be included with the DDK; exception_layout.h pins its documented offsets.
  return 0;
}
