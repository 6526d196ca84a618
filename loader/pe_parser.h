// kemu's own validating PE32+ parser (internal to loader/). It reads the raw
// file the way the Windows loader reads the mapped image and rejects anything
// that lies outside the file or SizeOfImage, so that mapping, relocating and
// binding afterwards only touch ranges already proven to be in bounds.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "loader/pe_loader.h"

namespace kemu::loader::detail {

struct ParsedImport {
  PeHeaders::Import import;
  uint32_t iat_rva = 0;  // the IAT slot the bound address goes to
};

struct ParsedRelocation {
  uint32_t rva = 0;  // target, validated: rva + width <= SizeOfImage
  uint8_t type = 0;  // pe::kRelHighLow or pe::kRelDir64 (ABSOLUTE is dropped)
};

struct ParsedImage {
  PeHeaders headers;
  std::vector<ParsedImport> imports;
  std::vector<ParsedRelocation> relocations;
  std::vector<RuntimeFunction> runtime_functions;  // sorted, non-overlapping
  // RVA of IMAGE_LOAD_CONFIG_DIRECTORY64.SecurityCookie (the pointer to the
  // cookie), when the load config is large enough and the pointer is not 0.
  std::optional<uint32_t> cookie_pointer_rva;
};

// Validates every structure the loader uses and returns them. Throws LoadError.
// Does not consult LIEF (see lief_check.h).
ParsedImage parse_image(std::span<const uint8_t> file);

}  // namespace kemu::loader::detail
