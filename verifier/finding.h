// A finding (checks.md): what was wrong, where, in what context. The
// verifier produces them; the harness's RunResult carries them to the reports.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace kemu::verifier {

struct FindingLocation {
  std::string module;
  uint64_t offset = 0;
  std::string symbol;
  std::string instruction;
};

struct FindingContext {
  std::string process;  // "client.exe" or "System"
  uint32_t thread = 0;
  uint32_t irql = 0;
  std::string major;  // IRP major function when inside a request, else empty
  std::optional<uint32_t> ioctl;
};

struct Finding {
  std::string check;     // stable id, e.g. "crash.bugcheck"
  std::string severity;  // error | warning | note
  uint64_t count = 1;
  std::string title;
  std::string message;
  std::string microsoft;  // the Microsoft equivalent
  FindingLocation location;
  std::vector<std::string> stack;
  FindingContext context;
  std::vector<std::pair<std::string, std::string>> values;
};

// How a finding's values spell a number: lowercase hex with 0x, unpadded.
inline std::string hex(uint64_t v) { return fmt::format("{:#x}", v); }

}  // namespace kemu::verifier
