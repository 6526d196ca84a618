// `kemu run --explain` narrates every handle-table and previous-mode
// decision; the narration of samples/methods/demo.yaml is pinned here.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "e2e/e2e_paths.h"

namespace {

std::string run(const std::string& command) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  if (!p) return out;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  pclose(p);
  return out;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Explain, TheMethodsDemoNarrationMatchesItsGoldenFile) {
  std::string out = run(kemu::e2e::kemu_binary() + " run " + kemu::e2e::sample("methods") + " --scenario " +
                        KEMU_SOURCE_DIR "/samples/methods/demo.yaml --explain 2>&1");
  auto at = out.find("\nexplain\n");
  ASSERT_NE(at, std::string::npos) << out;
  EXPECT_EQ(out.substr(at + 1), slurp(KEMU_SOURCE_DIR "/tests/conformance/golden/methods_demo_explain.txt"));
}

// The seed scenario's narration: whose table each handle is in, the caller's
// handle checked with UserMode, the kernel handle, ZwXxx switching PreviousMode.
TEST(Explain, TheSeedScenarioNarrationMatchesItsGoldenFile) {
  std::string out = run(kemu::e2e::kemu_binary() + " run " + kemu::e2e::sample("seed") + " --scenario " +
                        KEMU_SOURCE_DIR "/samples/seed/demo.yaml --explain 2>&1");
  auto at = out.find("\nexplain\n");
  ASSERT_NE(at, std::string::npos) << out;
  EXPECT_EQ(out.substr(at + 1), slurp(KEMU_SOURCE_DIR "/tests/conformance/golden/seed_demo_explain.txt"));
}

TEST(Explain, WithJsonOnStdoutTheNarrationGoesToStderr) {
  std::string out = run(kemu::e2e::kemu_binary() + " run " + kemu::e2e::sample("methods") + " --scenario " +
                        KEMU_SOURCE_DIR "/samples/methods/demo.yaml --explain --json - 2>/dev/null");
  EXPECT_EQ(out.find("\nexplain\n"), std::string::npos);
  // The JSON carries the sentences too (an extension of the report).
  EXPECT_NE(out.find("\"explain\""), std::string::npos);
}

}  // namespace
