// End-to-end: the scenario step `open_process` (cli.md). The client's
// NtOpenProcess is a UserMode open checked against the process's descriptor
// with the client's token: a standard user is refused the System process, an
// administrator gets PROCESS_QUERY_LIMITED_INFORMATION but not what the DACL
// (PROCESS_VM_WRITE) or the protection (PROCESS_VM_READ) refuses, and a
// granted handle lives in the client's table, where samples/events finds it
// and refuses it as an Event (STATUS_OBJECT_TYPE_MISMATCH).
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e_paths.h"
#include "harness/scenario.h"
#include "harness/session.h"

namespace {

using kemu::harness::ClientToken;
using kemu::harness::Session;
using kemu::harness::SessionOptions;
using ::testing::HasSubstr;

constexpr uint32_t kDenied = 0xC0000022, kTypeMismatch = 0xC0000024, kInvalidCid = 0xC000000B;

std::string write_scenario(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << text;
  return path;
}

// The scenario both tokens run: the System process with a small access, with
// one the DACL refuses and one the protection refuses, the client's own
// process, and the granted handles passed to the driver, which references
// them as Events (case 0 of IOCTL_SIGNAL_CLIENT: UserMode, ExEventObjectType).
const char* const kScenario =
    "steps:\n"
    "  - open: { path: '\\\\.\\KemuEvents', as: dev }\n"
    "  - open_process: { pid: 4, access: 0x1000, as: sys }\n"
    "  - open_process: { pid: 4, access: 0x20 }\n"
    "  - open_process: { pid: 4, access: [read] }\n"
    "  - open_process: { pid: client, access: [all], as: self }\n"
    "  - ioctl: { handle: dev, code: 0x80002004, input: { u64: [ \"{self}\", 0 ] }, output_length: "
    "16 }\n";

TEST(E2eOpenProcess, AStandardUserIsRefusedTheSystemProcessAndGetsAllOfItsOwn) {
  auto sc = kemu::harness::parse_scenario(write_scenario("open_process_user.yaml", kScenario));
  Session s;
  const auto& r = kemu::harness::run_scenario(s, kemu::e2e::sample("events"), sc);
  ASSERT_EQ(r.steps.size(), 6u);
  EXPECT_EQ(r.steps[1].op, "open_process");
  EXPECT_EQ(r.steps[1].target, "4");
  EXPECT_EQ(r.steps[1].status, kDenied);
  EXPECT_EQ(r.steps[1].handle, 0u);
  EXPECT_EQ(r.steps[2].status, kDenied);
  EXPECT_EQ(r.steps[3].status, kDenied);
  EXPECT_EQ(r.steps[4].target, "client");
  EXPECT_EQ(r.steps[4].status, 0u);
  // A client handle: a multiple of 4 in its table, no kernel bit.
  EXPECT_NE(r.steps[4].handle, 0u);
  EXPECT_EQ(r.steps[4].handle % 4, 0u);
  EXPECT_EQ(r.steps[4].handle >> 31, 0u);
  // The driver's UserMode ObReferenceObjectByHandle(..., ExEventObjectType): a process, not an
  // event; the previous state stays -1 (ULONG).
  EXPECT_EQ(r.steps[5].status, 0u);
  EXPECT_EQ(r.steps[5].output_hex, "240000c000000000ffffffff00000000");
  EXPECT_EQ(r.stop.reason, kemu::harness::StopReason::Completed) << r.stop.message;
  EXPECT_TRUE(r.findings.empty());
  EXPECT_TRUE(r.unimplemented.empty());
}

TEST(E2eOpenProcess, AnAdministratorGetsTheLimitedQueryOfSystemAndItsHandleReachesTheDriver) {
  std::string text = std::string("as: admin\n") + kScenario +
                     "  - ioctl: { handle: dev, code: 0x80002004, input: { u64: [ \"{sys}\", 0 ] "
                     "}, output_length: 16 }\n"
                     "  - close: sys\n";
  auto sc = kemu::harness::parse_scenario(write_scenario("open_process_admin.yaml", text));
  SessionOptions options;
  options.explain = true;
  Session s(options);
  const auto& r = kemu::harness::run_scenario(s, kemu::e2e::sample("events"), sc);
  ASSERT_EQ(r.steps.size(), 8u);
  EXPECT_EQ(r.steps[1].status,
            0u);  // Administrators 0x121411 holds PROCESS_QUERY_LIMITED_INFORMATION
  EXPECT_NE(r.steps[1].handle, 0u);
  EXPECT_EQ(r.steps[1].handle >> 31, 0u);
  EXPECT_EQ(r.steps[2].status, kDenied);  // PROCESS_VM_WRITE: not in the DACL
  EXPECT_EQ(r.steps[3].status,
            kDenied);  // GENERIC_READ = 0x20410: PROCESS_VM_READ refused to a protected process
  EXPECT_EQ(r.steps[4].status, 0u);
  EXPECT_EQ(r.steps[6].output_hex, "240000c000000000ffffffff00000000");
  EXPECT_EQ(r.steps[7].op, "close");
  EXPECT_EQ(r.steps[7].status, 0u);
  EXPECT_TRUE(r.findings.empty());
  // --explain: one sentence per open decision, tagged with its step.
  std::vector<std::string> step2;
  for (const auto& line : r.explain)
    if (line.step == 2) step2.push_back(line.text);
  ASSERT_EQ(step2.size(), 1u);
  EXPECT_EQ(step2[0],
            "the client (client.exe, pid 0x1234, admin token): open of process System (pid 0x4), "
            "PreviousMode "
            "UserMode, asked 0x20: the DACL of process System (pid 0x4) grants this caller's token "
            "Administrators "
            "0x121411 only; PROCESS_VM_WRITE (0x20) is denied → STATUS_ACCESS_DENIED.");
}

TEST(E2eOpenProcess, AnUnknownPidIsInvalidCidAndARefusedOpenLeavesTheNameUnbound) {
  Session s;
  s.load(kemu::e2e::sample("events"));
  ASSERT_EQ(s.driver_entry(), 0u);
  auto o = s.open_process(0x7FFFFFF0u, 0x1000);
  EXPECT_EQ(o.status, kInvalidCid);
  EXPECT_EQ(o.handle, 0u);
  s.set_client_token(ClientToken::Admin);
  auto sys = s.open_process(4u, 0x1000);
  EXPECT_EQ(sys.status, 0u);
  EXPECT_EQ(s.close(sys.handle), 0u);
  s.unload();

  std::string path = write_scenario("open_process_unbound.yaml",
                                    "steps:\n"
                                    "  - open: { path: '\\\\.\\KemuEvents', as: dev }\n"
                                    "  - open_process: { pid: 4, access: 0x1000, as: sys }\n"
                                    "  - close: sys\n");
  Session user;
  try {
    kemu::harness::run_scenario(user, kemu::e2e::sample("events"),
                                kemu::harness::parse_scenario(path));
    ADD_FAILURE() << "a refused open_process bound its name";
  } catch (const kemu::harness::ScenarioError& e) {
    EXPECT_THAT(e.what(), HasSubstr("no handle named 'sys'"));
  }
}

TEST(E2eOpenProcess, TheStepNeedsAPidAndAnAccess) {
  auto fails = [](const std::string& name, const std::string& step) {
    try {
      kemu::harness::parse_scenario(
          write_scenario(name, "steps:\n  - open_process: " + step + "\n"));
    } catch (const kemu::harness::ScenarioError& e) {
      return std::string(e.what());
    }
    return std::string("parsed");
  };
  EXPECT_THAT(fails("op1.yaml", "{ access: 0x1000 }"), HasSubstr(":2: missing 'pid'"));
  EXPECT_THAT(fails("op2.yaml", "{ pid: 4 }"), HasSubstr(":2: missing 'access'"));
  EXPECT_THAT(fails("op3.yaml", "{ pid: system, access: 0x1000 }"),
              HasSubstr("pid must be a number"));
  EXPECT_THAT(fails("op4.yaml", "{ pid: 0x100000000, access: 0x1000 }"),
              HasSubstr("a process id has 32 bits"));
  EXPECT_EQ(fails("op5.yaml", "{ pid: client, access: [read, synchronize], as: me }"), "parsed");
}

struct Outcome {
  int exit_code = -1;
  std::string out, err;
};

Outcome run_kemu(const std::vector<std::string>& args) {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("kemu-processes-e2e-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string cmd = "'" + kemu::e2e::kemu_binary() + "'";
  for (const std::string& a : args) cmd += " '" + a + "'";
  cmd += " >'" + (dir / "out").string() + "' 2>'" + (dir / "err").string() + "' </dev/null";
  int raw = std::system(cmd.c_str());
  Outcome o;
  if (raw != -1 && WIFEXITED(raw)) o.exit_code = WEXITSTATUS(raw);
  auto slurp = [](const std::filesystem::path& p) {
    std::ifstream f(p);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  };
  o.out = slurp(dir / "out");
  o.err = slurp(dir / "err");
  std::filesystem::remove_all(dir);
  return o;
}

TEST(E2eOpenProcessCli, TheStepsStatusesAndExpectationsReachTheJsonReport) {
  std::string path = write_scenario(
      "open_process_cli.yaml",
      "steps:\n"
      "  - open_process: { pid: 4, access: 0x1000, as: sys, expect: { status: STATUS_ACCESS_DENIED "
      "} }\n"
      "  - open_process: { pid: client, access: 0x1000, expect: { status: STATUS_SUCCESS } }\n");
  Outcome user = run_kemu({"run", kemu::e2e::sample("events"), "--scenario", path, "--json", "-"});
  ASSERT_EQ(user.exit_code, 0) << user.err;
  auto j = nlohmann::json::parse(user.out);
  ASSERT_GE(j["steps"].size(), 2u);
  EXPECT_EQ(j["steps"][0]["op"], "open_process");
  EXPECT_EQ(j["steps"][0]["target"], "4");
  EXPECT_EQ(j["steps"][0]["status"], "0xc0000022");
  EXPECT_EQ(j["steps"][0]["status_name"], "STATUS_ACCESS_DENIED");
  EXPECT_EQ(j["steps"][0]["expect_ok"], true);
  EXPECT_FALSE(j["steps"][0].contains("handle"));
  EXPECT_EQ(j["steps"][1]["status"], "0x00000000");
  EXPECT_TRUE(j["steps"][1].contains("handle"));
  // As admin the first open succeeds: its expectation fails, exit status 1.
  Outcome admin = run_kemu(
      {"run", kemu::e2e::sample("events"), "--scenario", path, "--as", "admin", "--json", "-"});
  ASSERT_EQ(admin.exit_code, 1) << admin.err;
  auto a = nlohmann::json::parse(admin.out);
  EXPECT_EQ(a["steps"][0]["status_name"], "STATUS_SUCCESS");
  EXPECT_EQ(a["steps"][0]["expect_ok"], false);
}

}  // namespace
