// Offsets and constants of the PE32+ on-disk format (Microsoft PE/COFF
// specification), the subset the loader reads. Raw offsets instead of packed
// structs: every read goes through a bounds-checked helper.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <span>

namespace kemu::loader::pe {

static_assert(std::endian::native == std::endian::little, "PE fields are little-endian");

// IMAGE_DOS_HEADER
constexpr uint16_t kDosMagic = 0x5A4D;  // "MZ"
constexpr uint32_t kDosHeaderSize = 64;
constexpr uint32_t kDosLfanew = 0x3C;

// IMAGE_NT_HEADERS64: signature, IMAGE_FILE_HEADER, IMAGE_OPTIONAL_HEADER64
constexpr uint32_t kNtSignature = 0x00004550;  // "PE\0\0"
constexpr uint32_t kFileHeaderSize = 20;
constexpr uint32_t kFhMachine = 0;
constexpr uint32_t kFhNumberOfSections = 2;
constexpr uint32_t kFhTimeDateStamp = 4;
constexpr uint32_t kFhSizeOfOptionalHeader = 16;
constexpr uint32_t kFhCharacteristics = 18;

constexpr uint16_t kMachineAmd64 = 0x8664;
constexpr uint16_t kFileRelocsStripped = 0x0001;
constexpr uint16_t kFileExecutableImage = 0x0002;

constexpr uint16_t kMagicPe32 = 0x10B;
constexpr uint16_t kMagicPe32Plus = 0x20B;
constexpr uint32_t kOhMagic = 0x00;
constexpr uint32_t kOhAddressOfEntryPoint = 0x10;
constexpr uint32_t kOhImageBase = 0x18;
constexpr uint32_t kOhSectionAlignment = 0x20;
constexpr uint32_t kOhFileAlignment = 0x24;
constexpr uint32_t kOhSizeOfImage = 0x38;
constexpr uint32_t kOhSizeOfHeaders = 0x3C;
constexpr uint32_t kOhCheckSum = 0x40;
constexpr uint32_t kOhSubsystem = 0x44;
constexpr uint32_t kOhDllCharacteristics = 0x46;
constexpr uint32_t kOhNumberOfRvaAndSizes = 0x6C;
constexpr uint32_t kOhDataDirectories = 0x70;  // also the size without directories
constexpr uint32_t kNumDataDirectories = 16;
constexpr uint32_t kOptionalHeader64Size = kOhDataDirectories + 8 * kNumDataDirectories;  // 0xF0

constexpr uint16_t kSubsystemNative = 1;

enum DataDirectory : uint32_t {
  kDirExport = 0,
  kDirImport = 1,
  kDirResource = 2,
  kDirException = 3,
  kDirSecurity = 4,  // the one directory whose "RVA" is a file offset
  kDirBaseReloc = 5,
  kDirDebug = 6,
  kDirArchitecture = 7,
  kDirGlobalPtr = 8,
  kDirTls = 9,
  kDirLoadConfig = 10,
  kDirBoundImport = 11,
  kDirIat = 12,
  kDirDelayImport = 13,
  kDirClr = 14,
  kDirReserved = 15,
};

// IMAGE_SECTION_HEADER
constexpr uint32_t kSectionHeaderSize = 40;
constexpr uint32_t kShVirtualSize = 8;
constexpr uint32_t kShVirtualAddress = 12;
constexpr uint32_t kShSizeOfRawData = 16;
constexpr uint32_t kShPointerToRawData = 20;
constexpr uint32_t kShCharacteristics = 36;
constexpr uint32_t kMaxSections = 96;  // the Windows loader's limit

constexpr uint32_t kScnMemExecute = 0x20000000;
constexpr uint32_t kScnMemRead = 0x40000000;
constexpr uint32_t kScnMemWrite = 0x80000000;

// IMAGE_BASE_RELOCATION
constexpr uint32_t kRelocBlockHeaderSize = 8;
constexpr uint8_t kRelAbsolute = 0;
constexpr uint8_t kRelHighLow = 3;
constexpr uint8_t kRelDir64 = 10;

// IMAGE_IMPORT_DESCRIPTOR
constexpr uint32_t kImportDescriptorSize = 20;
constexpr uint32_t kIdOriginalFirstThunk = 0;
constexpr uint32_t kIdName = 12;
constexpr uint32_t kIdFirstThunk = 16;
constexpr uint64_t kOrdinalFlag64 = 1ull << 63;

// IMAGE_EXPORT_DIRECTORY
constexpr uint32_t kExportDirectorySize = 40;
constexpr uint32_t kEdName = 12;
constexpr uint32_t kEdBase = 16;
constexpr uint32_t kEdNumberOfFunctions = 20;
constexpr uint32_t kEdNumberOfNames = 24;
constexpr uint32_t kEdAddressOfFunctions = 28;
constexpr uint32_t kEdAddressOfNames = 32;
constexpr uint32_t kEdAddressOfNameOrdinals = 36;

// RUNTIME_FUNCTION and UNWIND_INFO
constexpr uint32_t kRuntimeFunctionSize = 12;
constexpr uint32_t kUnwFlagEHandler = 0x1;
constexpr uint32_t kUnwFlagUHandler = 0x2;
constexpr uint32_t kUnwFlagChainInfo = 0x4;
// Low bit of RUNTIME_FUNCTION.UnwindData: the RVA names another RUNTIME_FUNCTION
// (RUNTIME_FUNCTION_INDIRECT in RtlLookupFunctionEntry), not an UNWIND_INFO.
constexpr uint32_t kRuntimeFunctionIndirect = 0x1;

// IMAGE_LOAD_CONFIG_DIRECTORY64
constexpr uint32_t kLcSize = 0x00;
constexpr uint32_t kLcSecurityCookie = 0x58;

template <class T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

}  // namespace kemu::loader::pe
