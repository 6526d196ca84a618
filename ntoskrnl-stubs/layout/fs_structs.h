// File-system structures the I/O manager and the sandbox file system read
// from and write to guest memory: the FILE_*_INFORMATION classes of
// ZwQueryInformationFile / ZwSetInformationFile / ZwQueryDirectoryFile /
// ZwQueryVolumeInformationFile, the FCB header a file system points
// FileObject->FsContext at, and the IO_STACK_LOCATION parameter offsets of
// the file requests (x64 layouts; tests/conformance checks them against the
// DDK headers).
#pragma once

#include <cstddef>
#include <cstdint>

namespace kemu::nt::layout {

struct FILE_BASIC_INFORMATION {
  int64_t CreationTime;
  int64_t LastAccessTime;
  int64_t LastWriteTime;
  int64_t ChangeTime;
  uint32_t FileAttributes;
  uint32_t pad0;
};
static_assert(sizeof(FILE_BASIC_INFORMATION) == 0x28);

struct FILE_STANDARD_INFORMATION {
  int64_t AllocationSize;
  int64_t EndOfFile;
  uint32_t NumberOfLinks;
  uint8_t DeletePending;
  uint8_t Directory;
  uint16_t pad0;
};
static_assert(sizeof(FILE_STANDARD_INFORMATION) == 0x18);

struct FILE_NETWORK_OPEN_INFORMATION {
  int64_t CreationTime;
  int64_t LastAccessTime;
  int64_t LastWriteTime;
  int64_t ChangeTime;
  int64_t AllocationSize;
  int64_t EndOfFile;
  uint32_t FileAttributes;
  uint32_t pad0;
};
static_assert(sizeof(FILE_NETWORK_OPEN_INFORMATION) == 0x38);

struct FILE_ATTRIBUTE_TAG_INFORMATION {
  uint32_t FileAttributes;
  uint32_t ReparseTag;
};

// FILE_ALL_INFORMATION: the classes one after the other; the name's
// characters start at NameInformation + 4.
struct FILE_ALL_INFORMATION {
  FILE_BASIC_INFORMATION BasicInformation;
  FILE_STANDARD_INFORMATION StandardInformation;
  int64_t IndexNumber;             // FILE_INTERNAL_INFORMATION
  uint32_t EaSize;                 // FILE_EA_INFORMATION
  uint32_t AccessFlags;            // FILE_ACCESS_INFORMATION
  int64_t CurrentByteOffset;       // FILE_POSITION_INFORMATION
  uint32_t Mode;                   // FILE_MODE_INFORMATION
  uint32_t AlignmentRequirement;   // FILE_ALIGNMENT_INFORMATION
  uint32_t FileNameLength;         // FILE_NAME_INFORMATION
  char16_t FileName[2];
};
static_assert(offsetof(FILE_ALL_INFORMATION, StandardInformation) == 0x28);
static_assert(offsetof(FILE_ALL_INFORMATION, IndexNumber) == 0x40);
static_assert(offsetof(FILE_ALL_INFORMATION, AccessFlags) == 0x4C);
static_assert(offsetof(FILE_ALL_INFORMATION, CurrentByteOffset) == 0x50);
static_assert(offsetof(FILE_ALL_INFORMATION, Mode) == 0x58);
static_assert(offsetof(FILE_ALL_INFORMATION, AlignmentRequirement) == 0x5C);
static_assert(offsetof(FILE_ALL_INFORMATION, FileNameLength) == 0x60);
static_assert(offsetof(FILE_ALL_INFORMATION, FileName) == 0x64);
static_assert(sizeof(FILE_ALL_INFORMATION) == 0x68);

// FILE_RENAME_INFORMATION (and FILE_LINK_INFORMATION): the name follows at 0x14.
struct FILE_RENAME_INFORMATION {
  uint8_t ReplaceIfExists;  // Windows 10 RS1+: union with ULONG Flags
  uint8_t pad0[7];
  uint64_t RootDirectory;
  uint32_t FileNameLength;
  char16_t FileName[2];
};
static_assert(offsetof(FILE_RENAME_INFORMATION, FileName) == 0x14);
static_assert(sizeof(FILE_RENAME_INFORMATION) == 0x18);

// --- directory entries (NextEntryOffset is 8-aligned; the last entry's is 0) ---

struct FILE_DIRECTORY_INFORMATION {
  uint32_t NextEntryOffset;
  uint32_t FileIndex;
  int64_t CreationTime;
  int64_t LastAccessTime;
  int64_t LastWriteTime;
  int64_t ChangeTime;
  int64_t EndOfFile;
  int64_t AllocationSize;
  uint32_t FileAttributes;
  uint32_t FileNameLength;
};
static_assert(sizeof(FILE_DIRECTORY_INFORMATION) == 0x40);  // FileName at 0x40

struct FILE_FULL_DIR_INFORMATION {
  FILE_DIRECTORY_INFORMATION Dir;
  uint32_t EaSize;
};
static_assert(offsetof(FILE_FULL_DIR_INFORMATION, EaSize) == 0x40);  // FileName at 0x44

struct FILE_ID_FULL_DIR_INFORMATION {
  FILE_DIRECTORY_INFORMATION Dir;
  uint32_t EaSize;
  uint32_t pad0;
  int64_t FileId;
};
static_assert(offsetof(FILE_ID_FULL_DIR_INFORMATION, FileId) == 0x48);  // FileName at 0x50

struct FILE_BOTH_DIR_INFORMATION {
  FILE_DIRECTORY_INFORMATION Dir;
  uint32_t EaSize;
  int8_t ShortNameLength;
  uint8_t pad0;
  char16_t ShortName[12];
};
static_assert(offsetof(FILE_BOTH_DIR_INFORMATION, ShortName) == 0x46);  // FileName at 0x5E

struct FILE_ID_BOTH_DIR_INFORMATION {
  FILE_DIRECTORY_INFORMATION Dir;
  uint32_t EaSize;
  int8_t ShortNameLength;
  uint8_t pad0;
  char16_t ShortName[12];
  uint16_t pad1;
  int64_t FileId;
};
static_assert(offsetof(FILE_ID_BOTH_DIR_INFORMATION, FileId) == 0x60);  // FileName at 0x68

struct FILE_NAMES_INFORMATION {
  uint32_t NextEntryOffset;
  uint32_t FileIndex;
  uint32_t FileNameLength;
};  // FileName at 0x0C

// Where FileName starts in each directory class (FIELD_OFFSET(..., FileName)).
constexpr uint32_t kDirectoryInfoNameOffset = 0x40;
constexpr uint32_t kFullDirInfoNameOffset = 0x44;
constexpr uint32_t kIdFullDirInfoNameOffset = 0x50;
constexpr uint32_t kBothDirInfoNameOffset = 0x5E;
constexpr uint32_t kIdBothDirInfoNameOffset = 0x68;
constexpr uint32_t kNamesInfoNameOffset = 0x0C;

// --- volume information ---

struct FILE_FS_VOLUME_INFORMATION {
  int64_t VolumeCreationTime;
  uint32_t VolumeSerialNumber;
  uint32_t VolumeLabelLength;
  uint8_t SupportsObjects;
  uint8_t pad0;
  char16_t VolumeLabel[3];
};
static_assert(offsetof(FILE_FS_VOLUME_INFORMATION, VolumeLabel) == 0x12);
static_assert(sizeof(FILE_FS_VOLUME_INFORMATION) == 0x18);

struct FILE_FS_SIZE_INFORMATION {
  int64_t TotalAllocationUnits;
  int64_t AvailableAllocationUnits;
  uint32_t SectorsPerAllocationUnit;
  uint32_t BytesPerSector;
};
static_assert(sizeof(FILE_FS_SIZE_INFORMATION) == 0x18);

struct FILE_FS_FULL_SIZE_INFORMATION {
  int64_t TotalAllocationUnits;
  int64_t CallerAvailableAllocationUnits;
  int64_t ActualAvailableAllocationUnits;
  uint32_t SectorsPerAllocationUnit;
  uint32_t BytesPerSector;
};
static_assert(sizeof(FILE_FS_FULL_SIZE_INFORMATION) == 0x20);

struct FILE_FS_DEVICE_INFORMATION {
  uint32_t DeviceType;
  uint32_t Characteristics;
};

struct FILE_FS_ATTRIBUTE_INFORMATION {
  uint32_t FileSystemAttributes;
  uint32_t MaximumComponentNameLength;
  uint32_t FileSystemNameLength;
  char16_t FileSystemName[2];
};
static_assert(sizeof(FILE_FS_ATTRIBUTE_INFORMATION) == 0x10);

// FSRTL_COMMON_FCB_HEADER, the start of every FCB (FileObject->FsContext),
// followed in kemu's FCB by the SECTION_OBJECT_POINTERS that
// FileObject->SectionObjectPointer names.
struct FSRTL_COMMON_FCB_HEADER {
  int16_t NodeTypeCode;
  int16_t NodeByteSize;
  uint8_t Flags;
  uint8_t IsFastIoPossible;
  uint8_t Flags2;
  uint8_t Version;
  uint64_t Resource;
  uint64_t PagingIoResource;
  int64_t AllocationSize;
  int64_t FileSize;
  int64_t ValidDataLength;
};
static_assert(sizeof(FSRTL_COMMON_FCB_HEADER) == 0x30);

struct SECTION_OBJECT_POINTERS {
  uint64_t DataSectionObject;
  uint64_t SharedCacheMap;
  uint64_t ImageSectionObject;
};

struct SHARE_ACCESS {
  uint32_t OpenCount;
  uint32_t Readers;
  uint32_t Writers;
  uint32_t Deleters;
  uint32_t SharedRead;
  uint32_t SharedWrite;
  uint32_t SharedDelete;
};
static_assert(sizeof(SHARE_ACCESS) == 0x1C);

// IO_STACK_LOCATION.Parameters of the file requests, as offsets from the
// start of the stack location (the DDK's unions, x64).
namespace stack {
// Parameters.Create
constexpr uint64_t kCreateSecurityContext = 0x08;
constexpr uint64_t kCreateOptions = 0x10;  // disposition << 24 | options
constexpr uint64_t kCreateFileAttributes = 0x18;
constexpr uint64_t kCreateShareAccess = 0x1A;
constexpr uint64_t kCreateEaLength = 0x20;
// Parameters.Read / Parameters.Write
constexpr uint64_t kReadWriteLength = 0x08;
constexpr uint64_t kReadWriteKey = 0x10;
constexpr uint64_t kReadWriteByteOffset = 0x18;
// Parameters.QueryFile / Parameters.SetFile / Parameters.QueryVolume
constexpr uint64_t kInfoLength = 0x08;
constexpr uint64_t kInfoClass = 0x10;
constexpr uint64_t kSetFileObject = 0x18;
constexpr uint64_t kSetReplaceIfExists = 0x20;
// Parameters.QueryDirectory
constexpr uint64_t kDirectoryLength = 0x08;
constexpr uint64_t kDirectoryFileName = 0x10;
constexpr uint64_t kDirectoryClass = 0x18;
constexpr uint64_t kDirectoryFileIndex = 0x20;
}  // namespace stack

// IO_SECURITY_CONTEXT { SecurityQos, AccessState, DesiredAccess, FullCreateOptions }.
constexpr uint64_t kSecurityContextDesiredAccess = 0x10;

}  // namespace kemu::nt::layout
