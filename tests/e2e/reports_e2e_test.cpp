// Findings as users and tools read them, through the `kemu` binary and the
// Session: the text report of the crash sample (golden file), the SARIF log
// validated against the official schema, `kemu checks`, --enable/--disable
// and the exit statuses of cli.md.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e/e2e_paths.h"
#include "harness/session.h"
#include "report/sarif_report.h"
#include "sarif_validator.h"

namespace kemu::e2e {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// A scratch file name unique to this test.
fs::path scratch(const std::string& name) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return fs::temp_directory_path() /
         ("kemu-reports-" + std::to_string(::getpid()) + "-" + info->name() + "-" + name);
}

struct Outcome {
  int exit_code = -1;
  std::string out, err;
};

// `kemu <args>` with stdout and stderr captured (never a terminal: no colour).
Outcome kemu(const std::vector<std::string>& args) {
  fs::path out = scratch("stdout"), err = scratch("stderr");
  std::string cmd = quoted(kemu_binary());
  for (const std::string& a : args) cmd += " " + quoted(a);
  cmd += " >" + quoted(out.string()) + " 2>" + quoted(err.string()) + " </dev/null";
  int raw = std::system(cmd.c_str());
  Outcome o;
  if (raw != -1 && WIFEXITED(raw)) o.exit_code = WEXITSTATUS(raw);
  o.out = slurp(out);
  o.err = slurp(err);
  fs::remove(out);
  fs::remove(err);
  return o;
}

std::string describe(const Outcome& o) {
  return "exit " + std::to_string(o.exit_code) + "\n--- stdout\n" + o.out + "\n--- stderr\n" +
         o.err;
}

// The findings part of the text report: its "findings" line up to "stats".
std::string findings_part(const std::string& text) {
  size_t from = text.find("\nfindings ");
  size_t to = text.find("\nstats ");
  if (from == std::string::npos || to == std::string::npos) return {};
  return text.substr(from + 1, to - from);
}

// ------------------------------------------------------------ text report

// The bugcheck of samples/crash (CRASH_KERNEL_WRITE): the finding with its
// location, instruction, context, bug check parameters, stack, rule and fix.
TEST(E2eReports, TheCrashSampleFindingMatchesItsGoldenFile) {
  Outcome o = kemu({"run", sample("crash_kernel_write")});
  ASSERT_EQ(o.exit_code, 1) << describe(o);
  EXPECT_EQ(findings_part(o.out),
            slurp(KEMU_SOURCE_DIR "/tests/e2e/golden/crash_kernel_write_findings.txt"))
      << o.out;
  EXPECT_EQ(o.out.find('\x1b'), std::string::npos);  // not a terminal: no colour
}

// Two bug pairs' text reports (samples/bugs): a handle check raised at the
// driver's call, a buffer check raised when the request completes.
TEST(E2eReports, BugPairTextReportsMatchTheirGoldenFiles) {
  for (const char* pair : {"handles/no_object_type", "output/uninitialized_output"}) {
    std::string name = fs::path(pair).filename().string();
    Outcome o = kemu({"run", sample(name + "_bug"), "--scenario",
                      std::string(KEMU_SOURCE_DIR) + "/samples/bugs/" + pair + ".yaml"});
    EXPECT_EQ(o.exit_code, 1) << describe(o);
    EXPECT_EQ(findings_part(o.out),
              slurp(std::string(KEMU_SOURCE_DIR) + "/tests/e2e/golden/" + name + "_bug_findings.txt"))
        << o.out;
    Outcome fixed = kemu({"run", sample(name + "_fixed"), "--scenario",
                          std::string(KEMU_SOURCE_DIR) + "/samples/bugs/" + pair + ".yaml"});
    EXPECT_EQ(fixed.exit_code, 0) << describe(fixed);
    EXPECT_NE(fixed.out.find("\nfindings       none"), std::string::npos) << fixed.out;
  }
}

// ------------------------------------------------------------------- SARIF

TEST(E2eReports, TheSarifLogOfABugPairValidatesAgainstTheSchema) {
  fs::path log = scratch("pair.sarif");
  Outcome o = kemu({"run", sample("user_handle_to_zw_bug"), "--scenario",
                    std::string(KEMU_SOURCE_DIR) + "/samples/bugs/handles/user_handle_to_zw.yaml", "--sarif",
                    log.string()});
  ASSERT_EQ(o.exit_code, 1) << describe(o);
  auto v = kemu::testing::validate_sarif(log.string());
  EXPECT_EQ(v.exit_code, 0) << v.output;
  nlohmann::json sarif = nlohmann::json::parse(slurp(log));
  fs::remove(log);
  ASSERT_EQ(sarif["runs"][0]["results"].size(), 1u);
  EXPECT_EQ(sarif["runs"][0]["results"][0]["ruleId"], "handle.user-handle-to-zw");
}

TEST(E2eReports, TheSarifLogOfACrashValidatesAgainstTheSchema) {
  fs::path log = scratch("crash.sarif");
  Outcome o = kemu({"run", sample("crash_kernel_write"), "--sarif", log.string(), "--json", "-"});
  ASSERT_EQ(o.exit_code, 1) << describe(o);
  auto v = kemu::testing::validate_sarif(log.string());
  EXPECT_EQ(v.exit_code, 0) << v.output;
  EXPECT_EQ(v.output, "");

  // The SARIF result and the JSON finding describe the same thing.
  nlohmann::json report = nlohmann::json::parse(o.out);
  nlohmann::json sarif = nlohmann::json::parse(slurp(log));
  fs::remove(log);
  ASSERT_EQ(report["findings"].size(), 1u);
  const auto& finding = report["findings"][0];
  const auto& run = sarif["runs"][0];
  ASSERT_EQ(run["results"].size(), 1u);
  const auto& result = run["results"][0];
  EXPECT_EQ(result["ruleId"], "crash.bugcheck");
  EXPECT_EQ(result["ruleIndex"], 0);
  EXPECT_EQ(run["tool"]["driver"]["rules"][0]["id"], "crash.bugcheck");
  EXPECT_EQ(result["level"], "error");
  EXPECT_EQ(result["message"]["text"],
            "Windows would stop with bug check 0x00000050 here. Bug check 0x50 PAGE_FAULT_IN_NONPAGED_AREA means "
            "kernel code referenced an address that no valid memory backs (unmapped, freed or a bad pointer).");
  const auto& where = result["locations"][0]["physicalLocation"];
  EXPECT_EQ(where["artifactLocation"]["uri"], report::artifact_uri(sample("crash_kernel_write")));
  EXPECT_THAT(where["artifactLocation"]["uri"].get<std::string>(), StartsWith("file:///"));
  uint64_t offset = std::stoull(finding["location"]["offset"].get<std::string>(), nullptr, 16);
  EXPECT_EQ(where["address"]["relativeAddress"], offset);
  EXPECT_EQ(where["address"]["fullyQualifiedName"],
            "crash_kernel_write.sys+" + finding["location"]["offset"].get<std::string>());
  EXPECT_EQ(result["properties"]["stack"], finding["stack"]);
  EXPECT_EQ(result["properties"]["values"], finding["values"]);
  EXPECT_EQ(result["properties"]["context"]["process"], "System");
  EXPECT_EQ(run["artifacts"][0]["hashes"]["sha-256"], report["driver"]["sha256"]);
  EXPECT_EQ(run["invocations"][0]["properties"]["stop"], "bugcheck");
}

TEST(E2eReports, ACleanRunWritesAValidSarifLogWithNoResults) {
  fs::path log = scratch("hello.sarif");
  Outcome o = kemu({"run", sample("hello"), "--sarif", log.string()});
  EXPECT_EQ(o.exit_code, 0) << describe(o);
  auto v = kemu::testing::validate_sarif(log.string());
  EXPECT_EQ(v.exit_code, 0) << v.output;
  nlohmann::json sarif = nlohmann::json::parse(slurp(log));
  fs::remove(log);
  EXPECT_EQ(sarif["runs"][0]["results"], nlohmann::json::array());
  EXPECT_EQ(sarif["runs"][0]["tool"]["driver"]["rules"].size(), 51u);
}

TEST(E2eReports, AnUnwritableSarifPathIsExitTwo) {
  Outcome o = kemu({"run", sample("hello"), "--sarif", "/nonexistent-dir/x.sarif"});
  EXPECT_EQ(o.exit_code, 2) << describe(o);
  EXPECT_THAT(o.err, StartsWith("kemu: cannot write /nonexistent-dir/x.sarif"));
}

// ------------------------------------------------------- --enable/--disable

// Disabling crash.bugcheck drops the finding; the bugcheck still ends the run
// and the exit status stays 1.
TEST(E2eReports, DisablingTheBugcheckDropsTheFindingNotTheStop) {
  Outcome o =
      kemu({"run", sample("crash_kernel_write"), "--disable", "crash.bugcheck", "--json", "-"});
  EXPECT_EQ(o.exit_code, 1) << describe(o);
  nlohmann::json j = nlohmann::json::parse(o.out);
  EXPECT_EQ(j["findings"], nlohmann::json::array());
  EXPECT_EQ(j["stop"]["reason"], "bugcheck");
  EXPECT_EQ(j["stop"]["bugcheck"]["code"], "0x00000050");
  EXPECT_THAT(o.err, HasSubstr("findings       none\n"));
}

TEST(E2eReports, EnablingOtherChecksLeavesTheBugcheckOut) {
  Outcome only_handles =
      kemu({"run", sample("crash_kernel_write"), "--enable", "handle.invalid", "--json", "-"});
  EXPECT_EQ(only_handles.exit_code, 1) << describe(only_handles);
  EXPECT_EQ(nlohmann::json::parse(only_handles.out)["findings"], nlohmann::json::array());
  Outcome with_crash = kemu({"run", sample("crash_kernel_write"), "--enable",
                             "handle.invalid,crash.bugcheck", "--json", "-"});
  EXPECT_EQ(with_crash.exit_code, 1) << describe(with_crash);
  auto findings = nlohmann::json::parse(with_crash.out)["findings"];
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0]["check"], "crash.bugcheck");
}

// cli.md: an unknown check id is exit 2 with one line naming it.
TEST(E2eReports, AnUnknownCheckIdIsExitTwoWithOneLine) {
  for (const char* option : {"--enable", "--disable"}) {
    Outcome o = kemu({"run", sample("hello"), option, "crash.bugcheck,handle.typo"});
    EXPECT_EQ(o.exit_code, 2) << describe(o);
    EXPECT_EQ(o.out, "");
    EXPECT_EQ(
        o.err,
        "kemu: " + std::string(option) +
            ": unknown check 'handle.typo' (kemu checks lists them) (see 'kemu run --help')\n");
  }
}

// ----------------------------------------------------------------- checks

TEST(E2eReports, KemuChecksPrintsTheCatalog) {
  Outcome o = kemu({"checks"});
  EXPECT_EQ(o.exit_code, 0) << describe(o);
  EXPECT_EQ(o.err, "");
  EXPECT_THAT(o.out, StartsWith("id                                 severity  state        title"));
  EXPECT_THAT(
      o.out,
      HasSubstr("\ncrash.bugcheck                     error     implemented  the driver crashed"));
  EXPECT_THAT(
      o.out,
      HasSubstr("\nirp.stack-copy                     warning   implemented  next stack location"));
  EXPECT_THAT(o.out, HasSubstr("\n51 checks, 51 implemented;"));

  Outcome json = kemu({"checks", "--json", "-"});
  EXPECT_EQ(json.exit_code, 0) << describe(json);
  auto arr = nlohmann::json::parse(json.out);
  ASSERT_EQ(arr.size(), 51u);
  EXPECT_EQ(arr[50]["id"], "primitive.process-access");

  Outcome one = kemu({"checks", "handle.not-kernel-handle"});
  EXPECT_EQ(one.exit_code, 0) << describe(one);
  EXPECT_THAT(one.out,
              StartsWith("handle.not-kernel-handle\n  severity   error\n  state      implemented\n"));
  EXPECT_THAT(one.out, HasSubstr("\n  fix        Set OBJ_KERNEL_HANDLE"));

  Outcome unknown = kemu({"checks", "handle.typo"});
  EXPECT_EQ(unknown.exit_code, 2) << describe(unknown);
  EXPECT_EQ(unknown.err, "kemu: unknown check 'handle.typo' (kemu checks lists them)\n");
}

// ------------------------------------------------------- the Session side

TEST(E2eReports, CheckSelectionRules) {
  harness::SessionOptions all;
  EXPECT_TRUE(harness::check_enabled(all, "crash.bugcheck"));
  EXPECT_TRUE(harness::check_enabled(all, "handle.invalid"));
  harness::SessionOptions only;
  only.enabled_checks = {"handle.invalid", "probe.missing"};
  EXPECT_TRUE(harness::check_enabled(only, "handle.invalid"));
  EXPECT_FALSE(harness::check_enabled(only, "crash.bugcheck"));
  only.disabled_checks = {"probe.missing"};  // enable, then disable removes
  EXPECT_FALSE(harness::check_enabled(only, "probe.missing"));
  EXPECT_TRUE(harness::check_enabled(only, "handle.invalid"));
  harness::SessionOptions but;
  but.disabled_checks = {"crash.bugcheck"};
  EXPECT_FALSE(harness::check_enabled(but, "crash.bugcheck"));
  EXPECT_TRUE(harness::check_enabled(but, "irp.lost"));
}

TEST(E2eReports, ASessionWithTheBugcheckDisabledKeepsTheStopReason) {
  harness::SessionOptions options;
  options.disabled_checks = {"crash.bugcheck"};
  harness::Session session(options);
  const harness::RunResult& r = session.run(sample("crash_kernel_write"));
  EXPECT_TRUE(r.findings.empty());
  EXPECT_EQ(r.stop.reason, harness::StopReason::Bugcheck);
  ASSERT_TRUE(r.stop.bugcheck.has_value());
  EXPECT_EQ(r.stop.bugcheck->code, 0x50u);
}

}  // namespace
}  // namespace kemu::e2e
