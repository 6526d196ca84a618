// An ExportResolver for loader tests: a table of "module!name" and
// "module!#ordinal" addresses; records what it had to bind to the unknown
// thunk, or refuses (strict mode, like --strict-imports).
#pragma once

#include <algorithm>
#include <cctype>
#include <map>
#include <string>
#include <vector>

#include "loader/pe_loader.h"

namespace kemu::test {

class FakeResolver : public loader::ExportResolver {
 public:
  static constexpr uint64_t kUnknownThunk = 0xFFFFF80000DEAD00ull;

  explicit FakeResolver(bool strict = false) : strict_(strict) {}

  void add(std::string module, std::string name, uint64_t va) {
    names_[lower(module) + "!" + name] = GuestVa{va};
  }
  void add_ordinal(std::string module, uint16_t ordinal, uint64_t va) {
    ordinals_[lower(module) + "!#" + std::to_string(ordinal)] = GuestVa{va};
  }

  std::optional<GuestVa> by_name(std::string_view module, std::string_view name) override {
    return find(names_, lower(std::string(module)) + "!" + std::string(name));
  }
  std::optional<GuestVa> by_ordinal(std::string_view module, uint16_t ordinal) override {
    return find(ordinals_, lower(std::string(module)) + "!#" + std::to_string(ordinal));
  }
  std::optional<GuestVa> bind_unknown(std::string_view module, std::string_view name,
                                      std::optional<uint16_t> ordinal) override {
    unknown.push_back(std::string(module) + "!" +
                      (ordinal ? "#" + std::to_string(*ordinal) : std::string(name)));
    if (strict_) return std::nullopt;
    return GuestVa{kUnknownThunk};
  }

  std::vector<std::string> unknown;  // every bind_unknown call, "module!name"

 private:
  static std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
  }
  static std::optional<GuestVa> find(const std::map<std::string, GuestVa>& m,
                                     const std::string& k) {
    auto it = m.find(k);
    if (it == m.end()) return std::nullopt;
    return it->second;
  }

  bool strict_;
  std::map<std::string, GuestVa> names_;
  std::map<std::string, GuestVa> ordinals_;
};

// The resolver for the default test image: everything but HAL.dll!HalMysteryRoutine.
inline void add_default_exports(FakeResolver& r) {
  r.add("ntoskrnl.exe", "IoCreateDevice", 0xFFFFF80000010000);
  r.add("ntoskrnl.exe", "ExAllocatePool2", 0xFFFFF80000010010);
  r.add("ntoskrnl.exe", "DbgPrint", 0xFFFFF80000010020);
  r.add_ordinal("ntoskrnl.exe", 5, 0xFFFFF80000010050);
  r.add("hal.dll", "KeGetCurrentIrql", 0xFFFFF80000020000);
}

}  // namespace kemu::test
