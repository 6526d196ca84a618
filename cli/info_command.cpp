// `kemu info`: what is in the file, without running anything.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/exit_status.h"
#include "cli/handler_query.h"
#include "cli/io.h"
#include "loader/pe_loader.h"
#include "report/format.h"
#include "report/sha256.h"

namespace kemu::cli {

namespace {

using Json = nlohmann::ordered_json;
using loader::PeHeaders;

struct Flag {
  uint32_t bit;
  const char* name;
};

// winnt.h IMAGE_FILE_*.
constexpr Flag kFileCharacteristics[] = {
    {0x0001, "RELOCS_STRIPPED"},
    {0x0002, "EXECUTABLE_IMAGE"},
    {0x0004, "LINE_NUMS_STRIPPED"},
    {0x0008, "LOCAL_SYMS_STRIPPED"},
    {0x0020, "LARGE_ADDRESS_AWARE"},
    {0x0100, "32BIT_MACHINE"},
    {0x0200, "DEBUG_STRIPPED"},
    {0x0400, "REMOVABLE_RUN_FROM_SWAP"},
    {0x0800, "NET_RUN_FROM_SWAP"},
    {0x1000, "SYSTEM"},
    {0x2000, "DLL"},
    {0x4000, "UP_SYSTEM_ONLY"},
};

// winnt.h IMAGE_DLLCHARACTERISTICS_*.
constexpr Flag kDllCharacteristics[] = {
    {0x0020, "HIGH_ENTROPY_VA"}, {0x0040, "DYNAMIC_BASE"},          {0x0080, "FORCE_INTEGRITY"},
    {0x0100, "NX_COMPAT"},       {0x0200, "NO_ISOLATION"},          {0x0400, "NO_SEH"},
    {0x0800, "NO_BIND"},         {0x1000, "APPCONTAINER"},          {0x2000, "WDM_DRIVER"},
    {0x4000, "GUARD_CF"},        {0x8000, "TERMINAL_SERVER_AWARE"},
};

std::string flags_text(uint32_t value, std::span<const Flag> flags) {
  std::string out = fmt::format("0x{:04x}", value);
  uint32_t rest = value;
  std::string names;
  for (const auto& f : flags) {
    if (value & f.bit) {
      names += names.empty() ? "" : " | ";
      names += f.name;
      rest &= ~f.bit;
    }
  }
  if (rest != 0) names += fmt::format("{}0x{:04x}", names.empty() ? "" : " | ", rest);
  return names.empty() ? out : out + " " + names;
}

std::string machine_name(uint16_t m) {
  switch (m) {
    case 0x8664:
      return "AMD64";
    case 0x014c:
      return "I386";
    case 0xaa64:
      return "ARM64";
    case 0x01c4:
      return "ARMNT";
    default:
      return "unknown";
  }
}

std::string subsystem_name(uint16_t s) {
  switch (s) {
    case 1:
      return "NATIVE";
    case 2:
      return "WINDOWS_GUI";
    case 3:
      return "WINDOWS_CUI";
    case 10:
      return "EFI_APPLICATION";
    case 11:
      return "EFI_BOOT_SERVICE_DRIVER";
    case 12:
      return "EFI_RUNTIME_DRIVER";
    default:
      return "unknown";
  }
}

std::string prot_text(Prot p) {
  std::string s;
  s += has(p, Prot::Read) ? 'r' : '-';
  s += has(p, Prot::Write) ? 'w' : '-';
  s += has(p, Prot::Exec) ? 'x' : '-';
  return s;
}

std::string import_name(const PeHeaders::Import& imp) {
  if (imp.by_ordinal) return fmt::format("{}!#{}", imp.module, imp.ordinal);
  return imp.module + "!" + imp.name;
}

bool has_handler(const PeHeaders::Import& imp) {
  return !imp.by_ordinal && kemu_has_handler(imp.module, imp.name);
}

std::string base_name(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string render_info_text(const std::string& path, const std::string& sha256,
                             const PeHeaders& h) {
  using report::hex_addr;
  using report::printable;
  std::string out;
  auto field = [&out](std::string_view label, std::string_view value) {
    out += fmt::format("  {:<20}{}\n", label, value);
  };
  out += printable(base_name(path)) + "\n";
  field("sha256", sha256);
  field("machine", fmt::format("0x{:04x} {}", h.machine, machine_name(h.machine)));
  field("subsystem", fmt::format("{} {}", h.subsystem, subsystem_name(h.subsystem)));
  field("characteristics", flags_text(h.characteristics, kFileCharacteristics));
  field("dll characteristics", flags_text(h.dll_characteristics, kDllCharacteristics));
  field("preferred base", hex_addr(h.preferred_base));
  field("size of image", hex_addr(h.size_of_image));
  field("size of headers", hex_addr(h.size_of_headers));
  field("entry point", "rva " + hex_addr(h.entry_rva));
  field("timestamp", report::hex32(h.timestamp));
  field("checksum", report::hex32(h.checksum));
  if (!h.has_load_config) {
    field("load config", "none");
  } else if (h.security_cookie_rva) {
    field("load config", "security cookie at rva " + hex_addr(*h.security_cookie_rva));
  } else {
    field("load config", "present, no security cookie");
  }

  out += fmt::format("\nsections: {}\n", h.sections.size());
  if (!h.sections.empty()) {
    out += fmt::format("  {:<10}{:<12}{:<12}{:<12}{:<6}{}\n", "name", "rva", "size", "raw size",
                       "prot", "characteristics");
    for (const auto& s : h.sections) {
      out += fmt::format("  {:<10}{:<12}{:<12}{:<12}{:<6}{}\n", printable(s.name), hex_addr(s.rva),
                         hex_addr(s.virtual_size), hex_addr(s.raw_size), prot_text(s.prot),
                         report::hex32(s.characteristics));
    }
  }

  size_t handled = 0;
  size_t width = 0;
  for (const auto& imp : h.imports) {
    handled += has_handler(imp) ? 1 : 0;
    width = std::max(width, import_name(imp).size());
  }
  out += fmt::format("\nimports: {} ({} with a kemu handler)\n", h.imports.size(), handled);
  for (const auto& imp : h.imports) {
    out += fmt::format("  {:<{}}  {}\n", printable(import_name(imp)), width,
                       has_handler(imp) ? "handler" : "unimplemented");
  }

  out += fmt::format("\nexports: {}\n", h.exports.size());
  for (const auto& e : h.exports) {
    std::string name = e.name.empty() ? "(by ordinal)" : printable(e.name);
    out += fmt::format("  {:<32} ordinal {:<5} rva {}\n", name, e.ordinal, hex_addr(e.rva));
  }
  return out;
}

Json render_info_json(const std::string& path, const std::string& sha256, const PeHeaders& h) {
  using report::hex32;
  using report::hex_addr;
  Json j;
  j["path"] = path;
  j["sha256"] = sha256;
  Json hj;
  hj["machine"] = fmt::format("0x{:04x}", h.machine);
  hj["characteristics"] = fmt::format("0x{:04x}", h.characteristics);
  hj["subsystem"] = h.subsystem;
  hj["dll_characteristics"] = fmt::format("0x{:04x}", h.dll_characteristics);
  hj["preferred_base"] = hex_addr(h.preferred_base);
  hj["size_of_image"] = hex_addr(h.size_of_image);
  hj["size_of_headers"] = hex_addr(h.size_of_headers);
  hj["entry_rva"] = hex_addr(h.entry_rva);
  hj["timestamp"] = hex32(h.timestamp);
  hj["checksum"] = hex32(h.checksum);
  hj["load_config"] = h.has_load_config;
  hj["security_cookie_rva"] =
      h.security_cookie_rva ? Json(hex_addr(*h.security_cookie_rva)) : Json(nullptr);
  j["headers"] = std::move(hj);
  Json sections = Json::array();
  for (const auto& s : h.sections) {
    Json sj;
    sj["name"] = s.name;
    sj["rva"] = hex_addr(s.rva);
    sj["virtual_size"] = hex_addr(s.virtual_size);
    sj["raw_offset"] = hex_addr(s.raw_offset);
    sj["raw_size"] = hex_addr(s.raw_size);
    sj["characteristics"] = hex32(s.characteristics);
    sj["protection"] = prot_text(s.prot);
    sections.push_back(std::move(sj));
  }
  j["sections"] = std::move(sections);
  Json imports = Json::array();
  for (const auto& imp : h.imports) {
    Json ij;
    ij["module"] = imp.module;
    if (imp.by_ordinal) {
      ij["ordinal"] = imp.ordinal;
    } else {
      ij["name"] = imp.name;
    }
    ij["handler"] = has_handler(imp);
    imports.push_back(std::move(ij));
  }
  j["imports"] = std::move(imports);
  Json exports = Json::array();
  for (const auto& e : h.exports) {
    Json ej;
    ej["name"] = e.name;
    ej["ordinal"] = e.ordinal;
    ej["rva"] = hex_addr(e.rva);
    exports.push_back(std::move(ej));
  }
  j["exports"] = std::move(exports);
  return j;
}

}  // namespace

int info_command(const InfoOptions& o) {
  std::string sha256;
  PeHeaders headers;
  try {
    std::vector<uint8_t> bytes = read_file(o.driver);
    sha256 = report::sha256_hex(bytes);
    headers = loader::parse_headers(bytes);
  } catch (const loader::LoadError& e) {
    put(stderr, fmt::format("kemu: {}: {}\n", o.driver, e.what()));
    return kExitCannotRun;
  } catch (const std::exception& e) {
    put(stderr, fmt::format("kemu: {}\n", e.what()));
    return kExitCannotRun;
  }

  if (o.json.empty()) {
    put(stdout, render_info_text(o.driver, sha256, headers));
    return kExitClean;
  }
  std::string json = render_info_json(o.driver, sha256, headers)
                         .dump(2, ' ', false, Json::error_handler_t::replace) +
                     "\n";
  if (o.json == "-") {
    put(stdout, json);  // JSON alone on stdout
    return kExitClean;
  }
  put(stdout, render_info_text(o.driver, sha256, headers));
  try {
    write_file(o.json, json);
  } catch (const std::exception& e) {
    put(stderr, fmt::format("kemu: {}\n", e.what()));
    return kExitCannotRun;
  }
  return kExitClean;
}

}  // namespace kemu::cli
