// End-to-end through the `kemu` binary: exit statuses, the JSON report on
// stdout and the one-line error on stderr, as /work/shared/reference/cli.md
// states them.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e/e2e_paths.h"

namespace kemu::e2e {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;
using ::testing::StartsWith;

// A scratch folder per test, removed at the end.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = "kemu-e2e-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++) +
                       "-" + info->test_suite_name() + "-" + info->name();
    for (char& c : name)
      if (c == '/') c = '_';  // parameterised test names contain '/'
    path_ = fs::temp_directory_path() / name;
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  static inline int counter_ = 0;  // several scratch folders per test
  fs::path path_;
};

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Single-quoted for /bin/sh.
std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

struct Outcome {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `kemu <args...>` with stdout and stderr captured.
Outcome run_kemu(const std::vector<std::string>& args) {
  TempDir tmp;
  std::string cmd = shell_quote(kemu_binary());
  for (const std::string& a : args) cmd += " " + shell_quote(a);
  cmd += " >" + shell_quote((tmp / "stdout").string()) + " 2>" +
         shell_quote((tmp / "stderr").string()) + " </dev/null";
  int raw = std::system(cmd.c_str());
  Outcome o;
  if (raw != -1 && WIFEXITED(raw)) o.exit_code = WEXITSTATUS(raw);
  o.out = read_file(tmp / "stdout");
  o.err = read_file(tmp / "stderr");
  return o;
}

std::string describe(const Outcome& o) {
  return "exit " + std::to_string(o.exit_code) + "\n--- stdout\n" + o.out + "\n--- stderr\n" +
         o.err;
}

nlohmann::json parse_json(const Outcome& o) {
  nlohmann::json j = nlohmann::json::parse(o.out, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(j.is_discarded()) << "stdout is not JSON\n" << describe(o);
  return j;
}

// cli.md: exit 2 comes with one line on stderr saying why.
void expect_one_error_line(const Outcome& o) {
  EXPECT_EQ(o.exit_code, 2) << describe(o);
  EXPECT_THAT(o.err, StartsWith("kemu:")) << describe(o);
  std::string trimmed = o.err;
  while (!trimmed.empty() && trimmed.back() == '\n') trimmed.pop_back();
  EXPECT_EQ(trimmed.find('\n'), std::string::npos) << "more than one line on stderr\n"
                                                   << describe(o);
}

// ---------------------------------------------------------------- completed runs

TEST(E2eCli, HelloExitsZero) {
  Outcome o = run_kemu({"run", sample("hello")});
  EXPECT_EQ(o.exit_code, 0) << describe(o);
  EXPECT_FALSE(o.out.empty()) << "no human summary on stdout";
}

TEST(E2eCli, JsonToStdoutIsTheReportAlone) {
  Outcome o = run_kemu({"run", sample("hello"), "--json", "-"});
  ASSERT_EQ(o.exit_code, 0) << describe(o);
  nlohmann::json j = parse_json(o);
  ASSERT_TRUE(j.is_object());

  for (const char* key : {"kemu_version", "driver", "driver_entry", "devices", "debug_output",
                          "steps", "unload", "findings", "stop", "unimplemented", "stats"})
    EXPECT_TRUE(j.contains(key)) << key;
  for (const char* key : {"path", "sha256", "image_base", "entry"})
    EXPECT_TRUE(j["driver"].contains(key)) << key;
  for (const char* key : {"instructions", "api_calls", "wall_ms"})
    EXPECT_TRUE(j["stats"].contains(key)) << key;
  for (const char* key : {"called", "devices_left", "links_left"})
    EXPECT_TRUE(j["unload"].contains(key)) << key;

  EXPECT_EQ(j["driver"]["path"], sample("hello"));
  EXPECT_THAT(j["driver"]["sha256"].get<std::string>(), MatchesRegex("[0-9a-f]{64}"));
  EXPECT_THAT(j["driver"]["image_base"].get<std::string>(), MatchesRegex("0xffff[0-9a-f]{12}"));
  EXPECT_THAT(j["driver"]["entry"].get<std::string>(), MatchesRegex("0xffff[0-9a-f]{12}"));
  EXPECT_EQ(j["driver_entry"]["status"], "0x00000000");
  EXPECT_EQ(j["driver_entry"]["status_name"], "STATUS_SUCCESS");

  ASSERT_EQ(j["devices"].size(), 1u);
  EXPECT_EQ(j["devices"][0]["name"], "\\Device\\KemuHello");
  EXPECT_EQ(j["devices"][0]["links"], nlohmann::json::array({"\\??\\KemuHello"}));
  EXPECT_EQ(j["devices"][0]["characteristics"], "0x00000100");

  ASSERT_EQ(j["debug_output"].size(), 5u);
  EXPECT_EQ(j["debug_output"][2], "hello: wide narrow x=beef d=42 neg=-7");

  EXPECT_EQ(j["unload"]["called"], true);
  EXPECT_EQ(j["unload"]["devices_left"], nlohmann::json::array());
  EXPECT_EQ(j["unload"]["links_left"], nlohmann::json::array());
  EXPECT_EQ(j["findings"], nlohmann::json::array());
  EXPECT_EQ(j["stop"]["reason"], "completed");
  EXPECT_EQ(j["unimplemented"], nlohmann::json::array());
  EXPECT_TRUE(j["stats"]["instructions"].is_number_unsigned());
  EXPECT_GT(j["stats"]["instructions"].get<uint64_t>(), 0u);
}

TEST(E2eCli, JsonToAFile) {
  TempDir tmp;
  fs::path report = tmp / "report.json";
  Outcome o = run_kemu({"run", sample("hello"), "--json", report.string()});
  ASSERT_EQ(o.exit_code, 0) << describe(o);
  nlohmann::json j = nlohmann::json::parse(read_file(report), nullptr, false);
  ASSERT_FALSE(j.is_discarded());
  EXPECT_EQ(j["stop"]["reason"], "completed");
  EXPECT_EQ(j["devices"][0]["name"], "\\Device\\KemuHello");
}

TEST(E2eCli, InfoExitsZero) {
  Outcome o = run_kemu({"info", sample("hello")});
  EXPECT_EQ(o.exit_code, 0) << describe(o);
  EXPECT_THAT(o.out, HasSubstr("IoCreateDevice")) << describe(o);
}

// ---------------------------------------------------------------- stop reasons: exit 1

TEST(E2eCli, SpinInstructionLimitExitsOne) {
  Outcome o = run_kemu({"run", sample("spin"), "--max-instructions", "1000000", "--json", "-"});
  EXPECT_EQ(o.exit_code, 1) << describe(o);
  nlohmann::json j = parse_json(o);
  EXPECT_EQ(j["stop"]["reason"], "instruction-limit");
  EXPECT_EQ(j["debug_output"], nlohmann::json::array({"spin: entering endless loop"}));
}

TEST(E2eCli, SpinTimeoutExitsOne) {
  Outcome o = run_kemu({"run", sample("spin"), "--max-instructions", "100000000000000", "--timeout",
                        "1", "--json", "-"});
  EXPECT_EQ(o.exit_code, 1) << describe(o);
  nlohmann::json j = parse_json(o);
  EXPECT_EQ(j["stop"]["reason"], "timeout");
}

TEST(E2eCli, UnimplementedFailListsTheApi) {
  Outcome o = run_kemu({"run", sample("unimplemented"), "--json", "-"});
  // cli.md: an unimplemented call under `fail` is recorded, not a finding,
  // and the run completed: exit 0.
  EXPECT_EQ(o.exit_code, 0) << describe(o);
  nlohmann::json j = parse_json(o);
  EXPECT_EQ(j["stop"]["reason"], "completed");
  EXPECT_EQ(j["driver_entry"]["status"], "0x00000000");
  EXPECT_EQ(
      j["unimplemented"],
      nlohmann::json::parse(R"([{"api":"ntoskrnl.exe!IoReportResourceForDetection","calls":1}])"));
}

TEST(E2eCli, UnimplementedStopExitsOne) {
  Outcome o = run_kemu({"run", sample("unimplemented"), "--unimplemented", "stop", "--json", "-"});
  EXPECT_EQ(o.exit_code, 1) << describe(o);
  nlohmann::json j = parse_json(o);
  EXPECT_EQ(j["stop"]["reason"], "unimplemented");
  EXPECT_EQ(j["debug_output"], nlohmann::json::array());
}

// ---------------------------------------------------------------- imports

TEST(E2eCli, StrictImportsRefusesAnUnknownName) {
  Outcome o = run_kemu({"run", sample("unknownimport"), "--strict-imports"});
  expect_one_error_line(o);
  EXPECT_THAT(o.err, HasSubstr("KemuNoSuchExport")) << describe(o);
}

TEST(E2eCli, UnknownImportWithoutStrictIsListedAsUnimplemented) {
  Outcome o = run_kemu({"run", sample("unknownimport"), "--json", "-"});
  // As UnimplementedFailListsTheApi: recorded, not a finding: exit 0.
  EXPECT_EQ(o.exit_code, 0) << describe(o);
  nlohmann::json j = parse_json(o);
  EXPECT_EQ(j["stop"]["reason"], "completed");
  EXPECT_EQ(j["driver_entry"]["status"], "0x00000000");
  EXPECT_EQ(j["debug_output"],
            nlohmann::json::array({"unknownimport: KemuNoSuchExport returned 0x00000000"}));
  EXPECT_EQ(j["unimplemented"],
            nlohmann::json::parse(R"([{"api":"ntoskrnl.exe!KemuNoSuchExport","calls":1}])"));
}

// ---------------------------------------------------------------- kemu cannot run it: exit 2

TEST(E2eCli, MissingFileExitsTwo) {
  TempDir tmp;
  Outcome o = run_kemu({"run", (tmp / "no-such-driver.sys").string()});
  expect_one_error_line(o);
}

class E2eCliMalformed : public ::testing::TestWithParam<std::string> {};

// Broken variants of hello.sys, made at test time.
std::string malformed_image(const std::string& kind) {
  std::string hello = read_file(sample("hello"));
  if (kind == "empty") return {};
  if (kind == "random100") {
    std::mt19937 rng(1234);
    std::string bytes(100, '\0');
    for (char& c : bytes) c = static_cast<char>(rng() & 0xff);
    return bytes;
  }
  if (kind == "truncated") return hello.substr(0, hello.size() / 3);
  if (kind == "headers_only") return hello.substr(0, 0x200);
  if (kind == "bad_pe_signature") {
    // e_lfanew at 0x3c points at "PE\0\0".
    uint32_t lfanew = 0;
    for (int i = 0; i < 4; i++)
      lfanew |= static_cast<uint32_t>(static_cast<uint8_t>(hello.at(0x3c + i))) << (8 * i);
    hello.at(lfanew) = 'X';
    return hello;
  }
  if (kind == "bad_mz") {
    hello.at(0) = 'Z';
    return hello;
  }
  ADD_FAILURE() << "unknown kind " << kind;
  return {};
}

TEST_P(E2eCliMalformed, ExitsTwoWithOneLine) {
  TempDir tmp;
  fs::path driver = tmp / (GetParam() + ".sys");
  write_file(driver, malformed_image(GetParam()));
  Outcome o = run_kemu({"run", driver.string()});
  expect_one_error_line(o);
}

INSTANTIATE_TEST_SUITE_P(Kinds, E2eCliMalformed,
                         ::testing::Values("empty", "random100", "truncated", "headers_only",
                                           "bad_pe_signature", "bad_mz"));

TEST(E2eCli, BadArgumentsExitTwo) {
  EXPECT_EQ(run_kemu({"run", sample("hello"), "--max-instructions", "lots"}).exit_code, 2);
  EXPECT_EQ(run_kemu({"run", sample("hello"), "--unimplemented", "maybe"}).exit_code, 2);
  EXPECT_EQ(run_kemu({"run"}).exit_code, 2);
}


// ---------------------------------------------------------------- scenarios

TEST(E2eScenario, MethodsDemoRunsAndEveryExpectHolds) {
  Outcome o = run_kemu({"run", sample("methods"), "--scenario",
                        std::string(KEMU_SOURCE_DIR) + "/samples/methods/demo.yaml", "--json", "-"});
  EXPECT_EQ(o.exit_code, 0) << describe(o);
  nlohmann::json j = parse_json(o);
  ASSERT_EQ(j["steps"].size(), 9u);
  EXPECT_EQ(j["steps"][2]["op"], "ioctl");
  EXPECT_EQ(j["steps"][2]["code"], "0x80002000");
  EXPECT_EQ(j["steps"][2]["output_hex"], "48454c4c4f000000");  // "HELLO" + the untouched zeros
  EXPECT_EQ(j["steps"][3]["status_name"], "STATUS_ACCESS_DENIED");
  for (const auto& step : j["steps"]) EXPECT_EQ(step["expect_ok"], true);
}

TEST(E2eScenario, AnExpectThatDoesNotHoldExitsOne) {
  TempDir tmp;
  write_file(tmp / "s.yaml",
             "steps:\n"
             "  - open: { path: '\\\\.\\KemuMethods', as: dev }\n"
             "  - ioctl: { handle: dev, code: 0x80002000, input: { hex: \"61\" }, output_length: 1,\n"
             "             expect: { status: STATUS_SUCCESS, information: 7 } }\n");
  Outcome o = run_kemu({"run", sample("methods"), "--scenario", (tmp / "s.yaml").string(), "--json", "-"});
  EXPECT_EQ(o.exit_code, 1) << describe(o);
  nlohmann::json j = parse_json(o);
  EXPECT_EQ(j["steps"][1]["expect_ok"], false);
  EXPECT_EQ(j["steps"][1]["information"], 1);
}

TEST(E2eScenario, AMalformedScenarioNamesTheFileAndLine) {
  TempDir tmp;
  write_file(tmp / "bad.yaml", "steps:\n  - open: { path: x }\n  - frobnicate: {}\n");
  Outcome o = run_kemu({"run", sample("methods"), "--scenario", (tmp / "bad.yaml").string()});
  expect_one_error_line(o);
  EXPECT_THAT(o.err, HasSubstr("bad.yaml:3:")) << describe(o);
  EXPECT_THAT(o.err, HasSubstr("unknown step 'frobnicate'")) << describe(o);
}

// --files seeds \??\C: from a host folder; the `file` step is the client's
// NtCreateFile there. The host folder is never written.
TEST(E2eScenario, FilesSeedTheVolumeAndTheFileStepOpensThem) {
  TempDir seed;
  write_file(seed / "data.txt", "seed");
  TempDir tmp;
  write_file(tmp / "s.yaml",
             "steps:\n"
             "  - file: { path: 'C:\\data.txt', access: [read, write], as: f, expect: { status: STATUS_SUCCESS, information: 1 } }\n"
             "  - read: { handle: f, length: 16, expect: { information: 4 } }\n"
             "  - write: { handle: f, data: { hex: \"2121\" }, offset: 0 }\n"
             "  - file: { path: 'C:\\new\\x.txt', access: [write], as: g, create: true,\n"
             "            expect: { status: STATUS_OBJECT_PATH_NOT_FOUND } }\n"
             "  - file: { path: 'C:\\x.txt', access: [write], as: g, create: true, expect: { information: 2 } }\n");
  Outcome o = run_kemu({"run", sample("files"), "--files", seed.path().string(), "--scenario",
                        (tmp / "s.yaml").string(), "--json", "-"});
  EXPECT_EQ(o.exit_code, 0) << describe(o);
  nlohmann::json j = parse_json(o);
  ASSERT_EQ(j["steps"].size(), 5u);
  EXPECT_EQ(j["steps"][0]["op"], "file");
  EXPECT_EQ(j["steps"][0]["status_name"], "STATUS_SUCCESS");
  EXPECT_EQ(j["steps"][1]["output_hex"], "73656564");  // "seed"
  EXPECT_EQ(j["steps"][3]["status"], "0xc000003a");
  for (const auto& step : j["steps"]) EXPECT_EQ(step["expect_ok"], true);
  EXPECT_EQ(read_file(seed / "data.txt"), "seed");
  EXPECT_FALSE(fs::exists(seed / "x.txt"));
}

TEST(E2eScenario, AnUnreadableFilesFolderExitsTwo) {
  TempDir tmp;
  Outcome o = run_kemu({"run", sample("hello"), "--files", (tmp / "missing").string()});
  expect_one_error_line(o);
  EXPECT_THAT(o.err, HasSubstr("is not a readable folder")) << describe(o);
}

TEST(E2eScenario, AnUnboundHandleNameIsAScenarioError) {
  TempDir tmp;
  write_file(tmp / "s.yaml", "steps:\n  - close: nothing\n");
  Outcome o = run_kemu({"run", sample("methods"), "--scenario", (tmp / "s.yaml").string()});
  expect_one_error_line(o);
  EXPECT_THAT(o.err, HasSubstr("no handle named 'nothing'")) << describe(o);
}

// --fail-alloc (cli.md): the report names the call made to fail; the command
// line wins over the scenario's `fail_alloc: 1`.
TEST(E2eCli, FailAllocNamesTheFailedCallAndOverridesTheScenario) {
  const std::string scenario = std::string(KEMU_SOURCE_DIR) + "/samples/bugs/pool/null_unchecked.yaml";
  Outcome o = run_kemu({"run", sample("null_unchecked_bug"), "--scenario", scenario, "--json", "-"});
  EXPECT_EQ(o.exit_code, 1) << describe(o);
  nlohmann::json j = parse_json(o);
  ASSERT_EQ(j["failed_allocations"].size(), 1u) << describe(o);
  EXPECT_EQ(j["failed_allocations"][0]["call"], 1);
  EXPECT_EQ(j["failed_allocations"][0]["routine"], "ExAllocatePoolWithTag");
  EXPECT_EQ(j["failed_allocations"][0]["location"]["module"], "null_unchecked_bug.sys");
  EXPECT_EQ(j["failed_allocations"][0]["location"]["symbol"], "StoreRecord");
  EXPECT_EQ(j["stop"]["reason"], "bugcheck");

  // The second request's allocation fails instead: the first completes.
  Outcome second = run_kemu({"run", sample("null_unchecked_bug"), "--scenario", scenario, "--fail-alloc", "2",
                             "--json", "-"});
  nlohmann::json j2 = parse_json(second);
  ASSERT_EQ(j2["failed_allocations"].size(), 1u) << describe(second);
  EXPECT_EQ(j2["failed_allocations"][0]["call"], 2);
  EXPECT_EQ(j2["steps"][1]["status"], "0x00000000");

  // Text summary: one line per failed call.
  Outcome text = run_kemu({"run", sample("null_unchecked_fixed"), "--scenario", scenario});
  EXPECT_EQ(text.exit_code, 0) << describe(text);  // the fixed driver copes: no finding, every expect holds
  EXPECT_THAT(text.out, HasSubstr("allocation-like call #1: ExAllocatePoolWithTag from null_unchecked_fixed.sys+0x"))
      << describe(text);
}

}  // namespace
}  // namespace kemu::e2e
