#include "loader/lief_check.h"

#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <LIEF/PE.hpp>
#include <LIEF/logging.hpp>

namespace kemu::loader::detail {

namespace {

template <class T>
void agree(const char* what, T lief_value, T kemu_value) {
  if (lief_value != kemu_value)
    throw LoadError(fmt::format(
        "LIEF and kemu's own parser disagree about {}: LIEF reads {:#x}, kemu reads {:#x}", what,
        lief_value, kemu_value));
}

void compare(const LIEF::PE::Binary& bin, const PeHeaders& h) {
  const auto& oh = bin.optional_header();
  agree<uint64_t>("ImageBase", oh.imagebase(), h.preferred_base);
  agree<uint64_t>("AddressOfEntryPoint", oh.addressof_entrypoint(), h.entry_rva);
  agree<uint64_t>("SizeOfImage", oh.sizeof_image(), h.size_of_image);
  agree<uint64_t>("SizeOfHeaders", oh.sizeof_headers(), h.size_of_headers);
  agree<uint64_t>("Subsystem", static_cast<uint64_t>(oh.subsystem()), h.subsystem);
  agree<uint64_t>("Machine", static_cast<uint64_t>(bin.header().machine()), h.machine);

  auto sections = bin.sections();
  agree<uint64_t>("the number of sections", sections.size(), h.sections.size());
  size_t i = 0;
  for (const LIEF::PE::Section& s : sections) {
    const SectionInfo& mine = h.sections[i++];
    uint32_t vs = s.virtual_size() != 0 ? s.virtual_size() : s.sizeof_raw_data();
    std::string where = fmt::format("section {}", mine.name);
    agree<uint64_t>((where + " VirtualAddress").c_str(), s.virtual_address(), mine.rva);
    agree<uint64_t>((where + " VirtualSize").c_str(), vs, mine.virtual_size);
    agree<uint64_t>((where + " SizeOfRawData").c_str(), s.sizeof_raw_data(), mine.raw_size);
    agree<uint64_t>((where + " PointerToRawData").c_str(), s.pointerto_raw_data(), mine.raw_offset);
    agree<uint64_t>((where + " Characteristics").c_str(), s.characteristics(),
                    mine.characteristics);
  }
}

}  // namespace

void cross_check_with_lief(std::span<const uint8_t> file, const ParsedImage& parsed) {
  // LIEF 0.9 logs warnings about odd images to stderr; kemu reports problems itself.
  static std::once_flag quiet;
  std::call_once(quiet, [] { LIEF::Logger::disable(); });

  std::unique_ptr<LIEF::PE::Binary> bin;
  try {
    std::vector<uint8_t> bytes(file.begin(), file.end());
    bin = LIEF::PE::Parser::parse(bytes, "driver");
    if (!bin) throw LoadError("LIEF could not parse the image (it returned no binary)");
    compare(*bin, parsed.headers);
  } catch (const LoadError&) {
    throw;
  } catch (const std::exception& e) {
    throw LoadError(fmt::format("LIEF could not parse the image: {}", e.what()));
  } catch (...) {
    throw LoadError("LIEF could not parse the image (unknown exception)");
  }
}

}  // namespace kemu::loader::detail
