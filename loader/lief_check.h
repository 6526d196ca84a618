// Second opinion from LIEF (internal to loader/): parses the file with LIEF 0.9
// and checks that LIEF reads the same headers and section table as kemu's own
// parser. An image two parsers read differently is refused: what the driver's
// author tested on Windows is then not what kemu would run. LIEF headers are
// included only in lief_check.cpp.
#pragma once

#include <cstdint>
#include <span>

#include "loader/pe_parser.h"

namespace kemu::loader::detail {

// Throws LoadError if LIEF throws, returns nothing, or disagrees with `parsed`.
void cross_check_with_lief(std::span<const uint8_t> file, const ParsedImage& parsed);

}  // namespace kemu::loader::detail
