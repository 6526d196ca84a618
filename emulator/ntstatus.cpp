#include "emulator/ntstatus.h"

#include <charconv>

namespace kemu {

namespace {
struct Entry {
  std::string_view name;
  NtStatus value;
};
constexpr Entry kStatuses[] = {
#define KEMU_NTSTATUS_ENTRY(name, value) {#name, value},
    KEMU_NTSTATUS_LIST(KEMU_NTSTATUS_ENTRY)
#undef KEMU_NTSTATUS_ENTRY
};
}  // namespace

std::string_view status_name(NtStatus s) {
  for (const auto& e : kStatuses)
    if (e.value == s) return e.name;
  return {};
}

std::optional<NtStatus> parse_status(std::string_view text) {
  for (const auto& e : kStatuses)
    if (e.name == text) return e.value;
  int base = 10;
  if (text.starts_with("0x") || text.starts_with("0X")) {
    text.remove_prefix(2);
    base = 16;
  }
  if (text.empty()) return std::nullopt;
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v, base);
  if (ec != std::errc() || ptr != text.data() + text.size() || v > 0xFFFFFFFFull) return std::nullopt;
  return static_cast<NtStatus>(v);
}

}  // namespace kemu
