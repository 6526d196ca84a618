#include "cli/io.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <system_error>

#include <fmt/format.h>

namespace kemu::cli {

bool want_color(std::FILE* stream) {
  return std::getenv("NO_COLOR") == nullptr && ::isatty(::fileno(stream)) == 1;
}

std::vector<uint8_t> read_file(const std::string& path) {
  auto fail = [&](std::string_view why) {
    return std::runtime_error(fmt::format("cannot read {}: {}", path, why));
  };
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw fail("it is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw fail(std::strerror(errno));
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  if (size < 0) throw fail("cannot determine its size");
  if (static_cast<uint64_t>(size) > kMaxInputBytes)
    throw fail(fmt::format("{} bytes is larger than any driver kemu accepts ({} bytes)", size,
                           kMaxInputBytes));
  in.seekg(0, std::ios::beg);
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  if (!bytes.empty() && !in.read(reinterpret_cast<char*>(bytes.data()), size))
    throw fail("read error");
  return bytes;
}

void write_file(const std::string& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out)
    throw std::runtime_error(fmt::format("cannot write {}: {}", path, std::strerror(errno)));
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.flush();
  if (!out)
    throw std::runtime_error(fmt::format("cannot write {}: {}", path, std::strerror(errno)));
}

void put(std::FILE* stream, std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stream);
  std::fflush(stream);
}

}  // namespace kemu::cli
