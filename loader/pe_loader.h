// Loads a PE32+ kernel driver into the guest address space: validates it,
// maps headers and sections with their protections at a base kemu chooses,
// applies base relocations, binds imports through an ExportResolver, parses
// the exception directory (.pdata) and initialises the /GS security cookie.
//
// Any image Windows would refuse, or that contradicts itself, throws
// LoadError with one clear sentence; nothing in a malformed file can crash kemu.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "emulator/address_space.h"
#include "emulator/types.h"

namespace kemu::loader {

struct LoadError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct SectionInfo {
  std::string name;
  uint32_t rva = 0;
  uint32_t virtual_size = 0;
  uint32_t raw_offset = 0;
  uint32_t raw_size = 0;
  uint32_t characteristics = 0;
  Prot prot = Prot::Read;
  bool executable() const { return has(prot, Prot::Exec); }
};

// One RUNTIME_FUNCTION of the exception directory (RVAs).
struct RuntimeFunction {
  uint32_t begin = 0;
  uint32_t end = 0;
  uint32_t unwind_info = 0;
};

struct ImportBinding {
  std::string module;  // as written in the import directory, e.g. "ntoskrnl.exe"
  std::string name;    // empty when imported by ordinal
  uint16_t ordinal = 0;
  bool by_ordinal = false;
  GuestVa iat_slot;  // where the bound address was written
  GuestVa target;    // the address bound
  bool unknown = false;  // bound to an "unknown export" thunk
};

struct DriverExport {
  std::string name;  // empty for ordinal-only exports
  uint16_t ordinal = 0;
  uint32_t rva = 0;
};

// Header facts, available without mapping anything (for `kemu info`).
struct PeHeaders {
  uint16_t machine = 0;
  uint16_t characteristics = 0;
  uint16_t subsystem = 0;
  uint16_t dll_characteristics = 0;
  uint64_t preferred_base = 0;
  uint32_t size_of_image = 0;
  uint32_t size_of_headers = 0;
  uint32_t entry_rva = 0;
  uint32_t timestamp = 0;
  uint32_t checksum = 0;
  std::vector<SectionInfo> sections;
  struct Import {
    std::string module;
    std::string name;
    uint16_t ordinal = 0;
    bool by_ordinal = false;
  };
  std::vector<Import> imports;
  std::vector<DriverExport> exports;
  bool has_load_config = false;
  std::optional<uint32_t> security_cookie_rva;  // RVA of the cookie variable
};

struct LoadedImage {
  std::string name;  // file name, e.g. "hello.sys"
  GuestVa base;
  uint64_t size = 0;
  GuestVa entry;
  PeHeaders headers;
  std::vector<ImportBinding> imports;
  std::vector<RuntimeFunction> runtime_functions;  // sorted by begin, validated
  uint32_t relocations_applied = 0;
  std::optional<GuestVa> security_cookie;  // address of the cookie variable
  uint64_t security_cookie_value = 0;      // value written there

  bool contains(GuestVa va) const { return va >= base && va < base + size; }
  // The RUNTIME_FUNCTION covering rva, if any.
  const RuntimeFunction* function_at(uint32_t rva) const;
};

// Where imports are bound. Implemented by the kernel image (ntoskrnl-stubs).
class ExportResolver {
 public:
  virtual ~ExportResolver() = default;
  // module is matched case-insensitively. nullopt: not exported by that module
  // (or the module is not one kemu provides).
  virtual std::optional<GuestVa> by_name(std::string_view module, std::string_view name) = 0;
  virtual std::optional<GuestVa> by_ordinal(std::string_view module, uint16_t ordinal) = 0;
  // Called for an import by_name/by_ordinal could not bind. Returns the address
  // of an "unknown export" thunk, or nullopt to refuse the load
  // (--strict-imports: Windows fails with STATUS_PROCEDURE_NOT_FOUND).
  virtual std::optional<GuestVa> bind_unknown(std::string_view module, std::string_view name,
                                              std::optional<uint16_t> ordinal) = 0;
};

// The x64 default /GS cookie value MSVC links into an image.
constexpr uint64_t kDefaultSecurityCookie = 0x00002B992DDFA232ull;

// Validates the headers of a file without mapping it. Throws LoadError.
PeHeaders parse_headers(std::span<const uint8_t> file);

// Validates, maps at `base` (page aligned, kernel half), relocates, binds,
// parses .pdata and sets the security cookie (cookie_seed makes it
// deterministic). Throws LoadError; maps nothing on failure.
LoadedImage load_driver(std::span<const uint8_t> file, std::string name, emu::AddressSpace& space,
                        GuestVa base, ExportResolver& resolver, uint64_t cookie_seed = 0);

}  // namespace kemu::loader
