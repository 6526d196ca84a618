// Registry values a run starts with (Session::set_registry_value, the
// scenario's `registry:` key): typed values and the key paths they go to,
// relative to the driver's service key or absolute (\Registry\...).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kemu::nt {
class Kernel;
}

namespace kemu::harness {

// A registry value as the registry stores it: a REG_* type and its bytes
// (strings UTF-16LE with their terminating NULs).
struct RegistryValue {
  uint32_t type = 0;
  std::vector<uint8_t> data;

  static RegistryValue dword(uint32_t v);                        // REG_DWORD
  static RegistryValue qword(uint64_t v);                        // REG_QWORD
  static RegistryValue sz(std::string_view utf8);                // REG_SZ
  static RegistryValue expand_sz(std::string_view utf8);         // REG_EXPAND_SZ
  static RegistryValue multi_sz(const std::vector<std::string>& utf8);  // REG_MULTI_SZ
  static RegistryValue binary(std::vector<uint8_t> bytes);       // REG_BINARY
  bool operator==(const RegistryValue&) const = default;
};

// A key to create and, when `name` is set, a value to write in it.
struct RegistrySeed {
  std::string key;                  // "Parameters", "" (the service key itself) or \Registry\...
  std::optional<std::string> name;  // value name ("" is the key's default value)
  RegistryValue value;
};

// The REG_* type a scenario names: a number, REG_SZ / sz, ...; nullopt when unknown.
std::optional<uint32_t> registry_type(std::string_view text);

// The absolute path of `key`: relative keys are below the service key of
// `service` (\Registry\Machine\System\CurrentControlSet\Services\<service>).
// nullopt for an absolute path outside \Registry.
std::optional<std::u16string> registry_key_path(std::string_view key, std::string_view service);

// Creates the seed's key (and missing parents) and writes its value. Throws
// std::invalid_argument for a path outside \Registry or a key the registry refuses.
void apply_registry_seed(nt::Kernel& kernel, std::string_view service, const RegistrySeed& seed);

// The value at key/name now, or nullopt.
std::optional<RegistryValue> read_registry_value(nt::Kernel& kernel, std::string_view service, std::string_view key,
                                                 std::string_view name);
bool registry_key_exists(nt::Kernel& kernel, std::string_view service, std::string_view key);

}  // namespace kemu::harness
