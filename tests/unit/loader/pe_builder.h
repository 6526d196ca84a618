// Builds a small, valid PE32+ native driver image in memory for the loader's
// unit tests, with knobs and patch helpers to break it in precise ways.
//
// Layout (SectionAlignment 0x1000, FileAlignment 0x200, SizeOfImage 0x6000):
//   headers  0x0000  DOS header, e_lfanew 0x80, 5 section headers
//   .text    0x1000  three functions: DriverEntry (sub/add rsp, ret), a leaf, a push/pop one
//   .rdata   0x2000  import directory (by name and by ordinal from ntoskrnl.exe and HAL.dll),
//                    export directory, UNWIND_INFOs, IMAGE_LOAD_CONFIG_DIRECTORY64
//   .data    0x3000  pointer table needing DIR64 relocations, the /GS cookie variable
//   .pdata   0x4000  RUNTIME_FUNCTIONs (written in reverse order by default)
//   .reloc   0x5000  base relocations
#pragma once

#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kemu::test {

struct PeImportSpec {
  std::string name;  // empty: import by ordinal
  std::optional<uint16_t> ordinal;
};

struct PeModuleSpec {
  std::string module;
  std::vector<PeImportSpec> functions;
};

struct PeSpec {
  uint64_t image_base = 0x180000000;
  uint16_t machine = 0x8664;
  uint16_t magic = 0x20B;
  uint16_t subsystem = 1;
  uint16_t file_characteristics = 0x22;  // EXECUTABLE_IMAGE | LARGE_ADDRESS_AWARE
  std::vector<PeModuleSpec> imports = {
      {"ntoskrnl.exe",
       {{"IoCreateDevice", {}}, {"ExAllocatePool2", {}}, {"", 5}, {"DbgPrint", {}}}},
      {"HAL.dll", {{"KeGetCurrentIrql", {}}, {"HalMysteryRoutine", {}}}},
  };
  bool with_exports = true;
  bool with_load_config = true;
  uint64_t cookie_value = 0x00002B992DDFA232ull;  // the MSVC default
  bool reverse_pdata = true;
  // Extra entries appended to the .data relocation block (type << 12 | offset).
  std::vector<uint16_t> extra_reloc_entries;
  // An extra relocation block (page RVA, entries) after the regular ones.
  std::optional<std::pair<uint32_t, std::vector<uint16_t>>> extra_reloc_block;
  // The first import name runs, without a NUL, to the very end of the image.
  bool unterminated_import_name = false;
};

struct BuiltPe {
  std::vector<uint8_t> bytes;

  // File offsets of the headers.
  static constexpr uint32_t kLfanew = 0x80;
  static constexpr uint32_t kFileHeader = 0x84;
  static constexpr uint32_t kOptionalHeader = 0x98;
  static constexpr uint32_t kSectionTable = 0x98 + 0xF0;
  enum Section : uint32_t { kText = 0, kRdata, kData, kPdata, kReloc, kNumSections };

  // RVAs of interesting structures.
  uint32_t driver_entry_rva = 0x1000;
  uint32_t leaf_rva = 0x1010;
  uint32_t pushpop_rva = 0x1020;
  uint32_t pointer_table_rva = 0x3000;  // 4 pointers: 0x1000, 0x1010, 0x2000, cookie
  uint32_t cookie_rva = 0x3040;
  uint32_t pdata_rva = 0x4000;
  uint32_t reloc_rva = 0x5000;
  uint32_t import_directory_rva = 0;
  uint32_t load_config_rva = 0;
  uint32_t size_of_image = 0x6000;
  // "module!name" or "module!#ordinal" -> RVA of its import lookup table entry
  // and of its IAT slot.
  std::map<std::string, uint32_t> lookup_rva;
  std::map<std::string, uint32_t> iat_rva;

  uint32_t section_header(Section s) const { return kSectionTable + 40 * s; }
  // File offset of an RVA inside a section's raw data.
  uint32_t file_offset(uint32_t rva) const;

  template <class T>
  void put(uint32_t file_off, T v) {
    std::memcpy(bytes.data() + file_off, &v, sizeof(T));
  }
  template <class T>
  T get(uint32_t file_off) const {
    T v;
    std::memcpy(&v, bytes.data() + file_off, sizeof(T));
    return v;
  }
  template <class T>
  void put_rva(uint32_t rva, T v) {
    put<T>(file_offset(rva), v);
  }
  // Optional-header field at offset `field` (e.g. 0x38 SizeOfImage).
  template <class T>
  void put_opt(uint32_t field, T v) {
    put<T>(kOptionalHeader + field, v);
  }
  void put_section_field(Section s, uint32_t field, uint32_t v) {
    put<uint32_t>(section_header(s) + field, v);
  }
  void set_directory(uint32_t index, uint32_t rva, uint32_t size) {
    put_opt<uint32_t>(0x70 + 8 * index, rva);
    put_opt<uint32_t>(0x74 + 8 * index, size);
  }
};

BuiltPe build_pe(const PeSpec& spec = {});

}  // namespace kemu::test
