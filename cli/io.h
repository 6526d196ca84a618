// Host-side file and terminal plumbing for the commands.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace kemu::cli {

// Colour on `stream` only for a terminal, and never when NO_COLOR is set.
bool want_color(std::FILE* stream);

// The whole file. Throws std::runtime_error("cannot read PATH: reason").
// Files above kMaxInputBytes are refused rather than read into memory.
constexpr uint64_t kMaxInputBytes = 512ull << 20;
std::vector<uint8_t> read_file(const std::string& path);

// Replaces the file's contents. Throws std::runtime_error("cannot write PATH: reason").
void write_file(const std::string& path, std::string_view text);

// Writes all of `text` to `stream` (stdout/stderr) and flushes it.
void put(std::FILE* stream, std::string_view text);

}  // namespace kemu::cli
