#include "harness/scenario_registry.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "harness/scenario.h"

namespace kemu::harness {

namespace {

[[noreturn]] void fail(const std::string& file, const YAML::Node& node, const std::string& what) {
  int line = node.IsDefined() ? node.Mark().line + 1 : 0;
  throw ScenarioError(fmt::format("{}:{}: {}", file, line, what));
}

uint64_t number(const std::string& file, const YAML::Node& node, const char* what, uint64_t max) {
  if (!node.IsScalar()) fail(file, node, fmt::format("{} must be a number", what));
  std::string text = node.as<std::string>();
  try {
    size_t used = 0;
    if (!text.empty() && text[0] == '-') throw std::invalid_argument(text);
    uint64_t v = std::stoull(text, &used, 0);
    if (used != text.size() || v > max) throw std::invalid_argument(text);
    return v;
  } catch (const std::exception&) {
    fail(file, node, fmt::format("{} must be a number from 0 to {:#x}, not '{}'", what, max, text));
  }
}

std::vector<uint8_t> hex_bytes(const std::string& file, const YAML::Node& node) {
  if (!node.IsScalar()) fail(file, node, "hex takes a string of hex digits");
  std::string hex;
  for (char c : node.as<std::string>())
    if (!std::isspace(static_cast<unsigned char>(c))) hex.push_back(c);
  if (hex.size() % 2) fail(file, node, "hex needs an even number of digits");
  std::vector<uint8_t> out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    if (!std::isxdigit(static_cast<unsigned char>(hex[i])) || !std::isxdigit(static_cast<unsigned char>(hex[i + 1])))
      fail(file, node, "hex digits only");
    out.push_back(static_cast<uint8_t>(std::stoul(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

std::string text(const std::string& file, const YAML::Node& node, const char* form) {
  if (!node.IsScalar()) fail(file, node, fmt::format("{} takes a string", form));
  return node.as<std::string>();
}

// One value: exactly one of dword, qword, sz, expand_sz, multi_sz, hex
// (REG_BINARY, or the raw data of `type:`), none (REG_NONE, no data).
RegistryValue value_of(const std::string& file, const YAML::Node& node) {
  static const char* kForms[] = {"dword", "qword", "sz", "expand_sz", "multi_sz", "hex", "none"};
  if (!node.IsMap())
    fail(file, node,
         "a registry value is a map: { dword: N } / { qword: N } / { sz: \"..\" } / { expand_sz: \"..\" } / "
         "{ multi_sz: [..] } / { hex: \"..\", type: REG_.. } / { none: \"\" }");
  std::string form;
  for (const auto& entry : node) {
    std::string key = entry.first.as<std::string>();
    if (key == "type") continue;
    if (std::find(std::begin(kForms), std::end(kForms), key) == std::end(kForms))
      fail(file, entry.first, fmt::format("unknown registry value form '{}'", key));
    if (!form.empty()) fail(file, entry.first, fmt::format("a registry value has one form, not '{}' and '{}'", form, key));
    form = key;
  }
  if (form.empty()) fail(file, node, "a registry value needs a form (dword, qword, sz, expand_sz, multi_sz, hex, none)");
  if (node["type"] && form != "hex") fail(file, node["type"], "'type' goes with 'hex' only");
  const YAML::Node body = node[form];
  if (form == "dword") return RegistryValue::dword(static_cast<uint32_t>(number(file, body, "dword", 0xFFFFFFFFull)));
  if (form == "qword") return RegistryValue::qword(number(file, body, "qword", ~0ull));
  if (form == "sz") return RegistryValue::sz(text(file, body, "sz"));
  if (form == "expand_sz") return RegistryValue::expand_sz(text(file, body, "expand_sz"));
  if (form == "none") return RegistryValue{0, {}};
  if (form == "multi_sz") {
    if (!body.IsSequence()) fail(file, body, "multi_sz takes a list of strings");
    std::vector<std::string> strings;
    for (const YAML::Node& s : body) {
      std::string one = text(file, s, "multi_sz");
      if (one.empty()) fail(file, s, "a multi_sz string cannot be empty (an empty string ends the list)");
      strings.push_back(one);
    }
    return RegistryValue::multi_sz(strings);
  }
  RegistryValue v = RegistryValue::binary(hex_bytes(file, body));
  if (node["type"]) {
    auto type = registry_type(node["type"].as<std::string>());
    if (!type) fail(file, node["type"], fmt::format("unknown registry type '{}'", node["type"].as<std::string>()));
    v.type = *type;
  }
  return v;
}

}  // namespace

std::vector<RegistrySeed> parse_registry_seeds(const std::string& file, const YAML::Node& registry) {
  if (!registry.IsMap())
    fail(file, registry, "'registry' is a map of key paths to { value-name: value } maps");
  std::vector<RegistrySeed> seeds;
  for (const auto& key_entry : registry) {
    const std::string key = key_entry.first.IsNull() ? std::string() : key_entry.first.as<std::string>();
    if (!registry_key_path(key, "x"))
      fail(file, key_entry.first, fmt::format("registry key '{}': an absolute key starts with \\Registry", key));
    const YAML::Node values = key_entry.second;
    if (values.IsNull()) {  // a key without values: created empty
      seeds.push_back({key, std::nullopt, {}});
      continue;
    }
    if (!values.IsMap()) fail(file, values, fmt::format("registry key '{}' maps value names to values", key));
    if (values.size() == 0) seeds.push_back({key, std::nullopt, {}});
    for (const auto& value_entry : values) {
      const std::string name = value_entry.first.IsNull() ? std::string() : value_entry.first.as<std::string>();
      seeds.push_back({key, name, value_of(file, value_entry.second)});
    }
  }
  return seeds;
}

}  // namespace kemu::harness
