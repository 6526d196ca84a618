// Runs tests/schemas/validate_sarif.py (the official SARIF 2.1.0 schema via
// Debian's python3-jsonschema) on a file; shared by the unit and e2e tests.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace kemu::testing {

struct Validation {
  int exit_code = -1;  // 0 valid, 1 invalid, 2 validator could not run
  std::string output;  // one line per schema error
};

inline Validation validate_sarif(const std::string& path) {
  std::string command =
      "/usr/bin/python3 '" KEMU_SOURCE_DIR "/tests/schemas/validate_sarif.py' '" + path + "' 2>&1";
  Validation v;
  FILE* p = popen(command.c_str(), "r");
  if (!p) return v;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) v.output.append(buf.data(), n);
  int raw = pclose(p);
  if (raw != -1 && WIFEXITED(raw)) v.exit_code = WEXITSTATUS(raw);
  return v;
}

}  // namespace kemu::testing
