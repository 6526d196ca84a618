#include "harness/registry_seed.h"

#include <cctype>
#include <map>
#include <stdexcept>

#include <fmt/format.h>

#include "ntoskrnl-stubs/cm/config_manager.h"
#include "ntoskrnl-stubs/kernel.h"

namespace kemu::harness {

namespace {
std::vector<uint8_t> utf16z(std::string_view utf8) { return nt::cm::utf16_bytes(nt::to_utf16(utf8)); }
}  // namespace

RegistryValue RegistryValue::dword(uint32_t v) {
  return {nt::cm::reg::kDword, {uint8_t(v), uint8_t(v >> 8), uint8_t(v >> 16), uint8_t(v >> 24)}};
}

RegistryValue RegistryValue::qword(uint64_t v) {
  RegistryValue r{nt::cm::reg::kQword, {}};
  for (int i = 0; i < 8; ++i) r.data.push_back(static_cast<uint8_t>(v >> (8 * i)));
  return r;
}

RegistryValue RegistryValue::sz(std::string_view utf8) { return {nt::cm::reg::kSz, utf16z(utf8)}; }

RegistryValue RegistryValue::expand_sz(std::string_view utf8) { return {nt::cm::reg::kExpandSz, utf16z(utf8)}; }

RegistryValue RegistryValue::multi_sz(const std::vector<std::string>& utf8) {
  RegistryValue r{nt::cm::reg::kMultiSz, {}};
  for (const std::string& s : utf8) {
    auto bytes = utf16z(s);
    r.data.insert(r.data.end(), bytes.begin(), bytes.end());
  }
  r.data.insert(r.data.end(), {0, 0});  // the empty string that ends the list
  return r;
}

RegistryValue RegistryValue::binary(std::vector<uint8_t> bytes) { return {nt::cm::reg::kBinary, std::move(bytes)}; }

std::optional<uint32_t> registry_type(std::string_view text) {
  static const std::map<std::string, uint32_t, std::less<>> kNames = {
      {"none", 0},  {"sz", 1},     {"expand_sz", 2}, {"binary", 3},       {"dword", 4},
      {"dword_big_endian", 5},     {"link", 6},      {"multi_sz", 7},     {"resource_list", 8},
      {"full_resource_descriptor", 9}, {"resource_requirements_list", 10}, {"qword", 11}};
  std::string lower;
  for (char c : text) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (lower.starts_with("reg_")) lower = lower.substr(4);
  if (auto it = kNames.find(lower); it != kNames.end()) return it->second;
  try {
    size_t used = 0;
    unsigned long long v = std::stoull(std::string(text), &used, 0);
    if (used == text.size() && v <= 0xFFFFFFFFull) return static_cast<uint32_t>(v);
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

std::optional<std::u16string> registry_key_path(std::string_view key, std::string_view service) {
  std::u16string k = nt::to_utf16(key);
  if (!k.empty() && k[0] == u'\\') {
    auto parts = nt::cm::path_components(k);
    if (parts.empty() || !nt::cm::same_name(parts[0], u"REGISTRY")) return std::nullopt;
    return k;
  }
  std::u16string path = nt::cm::ConfigManager::service_key_path(nt::to_utf16(service));
  if (!k.empty() && k != u".") path += u"\\" + k;
  return path;
}

void apply_registry_seed(nt::Kernel& kernel, std::string_view service, const RegistrySeed& seed) {
  auto path = registry_key_path(seed.key, service);
  if (!path) throw std::invalid_argument(fmt::format("registry key '{}' is not below \\Registry", seed.key));
  nt::cm::ConfigManager& cm = kernel.cm();
  nt::cm::NodeId node = nt::cm::kNoNode;
  NtStatus st = cm.ensure_key(*path, &node);
  if (!nt_success(st))
    throw std::invalid_argument(fmt::format("registry key '{}' cannot be created (status {:#010x})", seed.key, st));
  if (seed.name) cm.hive().set_value(node, nt::to_utf16(*seed.name), seed.value.type, seed.value.data, cm.now());
}

std::optional<RegistryValue> read_registry_value(nt::Kernel& kernel, std::string_view service, std::string_view key,
                                                 std::string_view name) {
  auto path = registry_key_path(key, service);
  if (!path) return std::nullopt;
  auto node = kernel.cm().find_key(*path);
  if (!node) return std::nullopt;
  const nt::cm::Value* v = kernel.cm().hive().find_value(*node, nt::to_utf16(name));
  if (!v) return std::nullopt;
  return RegistryValue{v->type, v->data};
}

bool registry_key_exists(nt::Kernel& kernel, std::string_view service, std::string_view key) {
  auto path = registry_key_path(key, service);
  return path && kernel.cm().find_key(*path).has_value();
}

}  // namespace kemu::harness
