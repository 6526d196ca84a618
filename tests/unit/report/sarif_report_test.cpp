#include "report/sarif_report.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sample_result.h"
#include "sarif_validator.h"
#include "verifier/catalog.h"

namespace kemu::report {
namespace {

using Json = nlohmann::ordered_json;
using ::testing::HasSubstr;

// Writes the log to a scratch file and validates it against the shipped schema.
kemu::testing::Validation validate(const std::string& text, const std::string& name) {
  auto path = std::filesystem::temp_directory_path() /
              ("kemu-sarif-" + std::to_string(::getpid()) + "-" + name + ".sarif");
  std::ofstream(path, std::ios::binary) << text;
  auto v = kemu::testing::validate_sarif(path.string());
  std::filesystem::remove(path);
  return v;
}

TEST(SarifReport, OneRunWithTheWholeCatalogAsRules) {
  Json log = to_sarif(testing::findings_result());
  EXPECT_EQ(log["version"], "2.1.0");
  // The $id of tests/schemas/sarif-schema-2.1.0.json, the schema the logs are validated against.
  EXPECT_EQ(log["$schema"],
            "https://raw.githubusercontent.com/oasis-tcs/sarif-spec/master/Schemata/"
            "sarif-schema-2.1.0.json");
  ASSERT_EQ(log["runs"].size(), 1u);
  const Json& driver = log["runs"][0]["tool"]["driver"];
  EXPECT_EQ(driver["name"], "kemu");
  EXPECT_EQ(driver["version"], "0.1.0");
  ASSERT_EQ(driver["rules"].size(), verifier::catalog().size());
  const Json& rule = driver["rules"][1];
  EXPECT_EQ(rule["id"], "handle.user-handle-kernel-mode");
  EXPECT_EQ(rule["name"], "HandleUserHandleKernelMode");
  EXPECT_EQ(rule["shortDescription"]["text"],
            "handle from user mode referenced with AccessMode=KernelMode");
  EXPECT_EQ(rule["fullDescription"]["text"], verifier::catalog()[1].rule);
  EXPECT_EQ(rule["help"]["text"], verifier::catalog()[1].fix);
  EXPECT_EQ(rule["defaultConfiguration"]["level"], "error");
  EXPECT_EQ(rule["properties"]["microsoft"], "Verifier 0xC4/0xF6; CA C28126");
  EXPECT_EQ(rule["properties"]["implemented"], true);
  EXPECT_EQ(driver["rules"][5]["id"], "handle.no-access-check");
  EXPECT_EQ(driver["rules"][5]["defaultConfiguration"]["level"], "warning");
  EXPECT_EQ(driver["rules"][0]["properties"]["implemented"], true);
  EXPECT_EQ(driver["rules"][10]["id"], "probe.missing");
  EXPECT_EQ(driver["rules"][24]["properties"]["implemented"], true);  // irp.double-completion
}

TEST(SarifReport, OneResultPerFindingInRunOrder) {
  Json run = to_sarif(testing::findings_result())["runs"][0];
  const Json& results = run["results"];
  ASSERT_EQ(results.size(), 5u);
  EXPECT_EQ(results[0]["ruleId"], "handle.no-access-check");
  EXPECT_EQ(results[0]["ruleIndex"], 5);
  EXPECT_EQ(results[0]["level"], "warning");
  EXPECT_EQ(results[1]["ruleId"], "test.outside-catalog");
  EXPECT_FALSE(results[1].contains("ruleIndex"));  // not in tool.driver.rules
  EXPECT_EQ(results[1]["level"], "note");
  EXPECT_FALSE(results[1].contains("locations"));  // no module, no symbol, no instruction
  EXPECT_EQ(results[4]["ruleId"], "crash.bugcheck");
  EXPECT_EQ(results[4]["ruleIndex"], 0);
  EXPECT_EQ(results[4]["level"], "error");
  EXPECT_EQ(results[4]["message"]["text"], "Windows would stop with bug check 0x0000003b here.");
}

TEST(SarifReport, ResultCarriesLocationCountContextValuesAndStack) {
  Json run = to_sarif(testing::findings_result())["runs"][0];
  const Json& r = run["results"][2];  // handle.user-handle-kernel-mode, seen 3 times
  EXPECT_EQ(r["ruleId"], "handle.user-handle-kernel-mode");
  EXPECT_EQ(r["ruleIndex"], 1);
  EXPECT_EQ(r["message"]["text"],
            "ObReferenceObjectByHandle(0x84, KernelMode) on a handle from client.exe's table (seen "
            "3 times)");
  EXPECT_EQ(r["occurrenceCount"], 3);
  const Json& loc = r["locations"][0];
  EXPECT_EQ(loc["physicalLocation"]["artifactLocation"]["uri"], "file:///tmp/hello.sys");
  EXPECT_EQ(loc["physicalLocation"]["artifactLocation"]["index"], 0);
  EXPECT_EQ(loc["physicalLocation"]["address"]["relativeAddress"], 0x1120);
  EXPECT_EQ(loc["physicalLocation"]["address"]["kind"], "instruction");
  EXPECT_EQ(loc["physicalLocation"]["address"]["fullyQualifiedName"], "hello.sys+0x1120");
  EXPECT_EQ(loc["logicalLocations"][0]["name"], "DispatchIoctl");
  EXPECT_EQ(loc["logicalLocations"][0]["fullyQualifiedName"], "hello.sys!DispatchIoctl+0x60");
  EXPECT_EQ(loc["logicalLocations"][0]["kind"], "function");
  EXPECT_EQ(loc["message"]["text"], "call qword ptr [rip + 0x2ee0]");
  const Json& props = r["properties"];
  EXPECT_EQ(props["count"], 3);
  EXPECT_EQ(props["microsoft"], "Verifier 0xC4/0xF6; CA C28126");
  EXPECT_EQ(props["context"]["process"], "client.exe");
  EXPECT_EQ(props["context"]["thread"], 0x1238);
  EXPECT_EQ(props["context"]["irql"], 0);
  EXPECT_EQ(props["context"]["major"], "IRP_MJ_DEVICE_CONTROL");
  EXPECT_EQ(props["context"]["ioctl"], "0x00222003");
  EXPECT_EQ(props["values"]["handle"], "0x84");
  EXPECT_EQ(props["values"]["access_mode"], "KernelMode");
  EXPECT_EQ(props["stack"], Json::array({"hello.sys+0x1120", "ntoskrnl.exe+0x2000"}));
  // The stack as SARIF frames: the driver's frame points into artifact 0,
  // the kernel's at the module by name.
  const Json& frames = r["stacks"][0]["frames"];
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0]["module"], "hello.sys");
  EXPECT_EQ(frames[0]["location"]["physicalLocation"]["address"]["relativeAddress"], 0x1120);
  EXPECT_EQ(frames[1]["module"], "ntoskrnl.exe");
  EXPECT_EQ(frames[1]["location"]["physicalLocation"]["artifactLocation"]["uri"], "ntoskrnl.exe");
  EXPECT_FALSE(frames[1]["location"]["physicalLocation"]["artifactLocation"].contains("index"));
  EXPECT_EQ(frames[1]["location"]["physicalLocation"]["address"]["relativeAddress"], 0x2000);
  // Outside a request the context's major and ioctl are null.
  EXPECT_TRUE(run["results"][4]["properties"]["context"]["major"].is_null());
  EXPECT_TRUE(run["results"][4]["properties"]["context"]["ioctl"].is_null());
}

TEST(SarifReport, TheDriverIsTheAnalysisTargetAndTheInvocationSaysHowTheRunEnded) {
  Json run = to_sarif(testing::findings_result())["runs"][0];
  ASSERT_EQ(run["artifacts"].size(), 1u);
  EXPECT_EQ(run["artifacts"][0]["location"]["uri"], "file:///tmp/hello.sys");
  EXPECT_EQ(run["artifacts"][0]["roles"], Json::array({"analysisTarget"}));
  EXPECT_EQ(run["artifacts"][0]["hashes"]["sha-256"], "ab12");
  EXPECT_EQ(run["invocations"][0]["executionSuccessful"], true);
  EXPECT_EQ(run["invocations"][0]["properties"]["stop"], "bugcheck");
  EXPECT_EQ(run["invocations"][0]["properties"]["bugcheck"], "0x0000003b");
  harness::RunResult failed = testing::completed_result();
  failed.stop.reason = harness::StopReason::Error;
  EXPECT_EQ(to_sarif(failed)["runs"][0]["invocations"][0]["executionSuccessful"], false);
}

TEST(SarifReport, ArtifactUris) {
  EXPECT_EQ(artifact_uri("/tmp/hello.sys"), "file:///tmp/hello.sys");
  EXPECT_EQ(artifact_uri("build/samples-bin/a b#1.sys"), "build/samples-bin/a%20b%231.sys");
  EXPECT_EQ(artifact_uri("/x/100%.sys"), "file:///x/100%25.sys");
  EXPECT_EQ(artifact_uri("ntoskrnl.exe"), "ntoskrnl.exe");
  EXPECT_EQ(artifact_uri("C:\\drivers\\x.sys"), "C%3A%5Cdrivers%5Cx.sys");
}

TEST(SarifReport, NoFindingsIsAnEmptyResultsArray) {
  Json run = to_sarif(testing::completed_result())["runs"][0];
  EXPECT_TRUE(run["results"].is_array());
  EXPECT_TRUE(run["results"].empty());
}

// The schema file is the official one (tests/schemas/sarif-schema-2.1.0.json);
// the validator runs with Debian's python3-jsonschema.
TEST(SarifSchema, ALogWithFindingsOfSeveralChecksAndSeveritiesValidates) {
  auto v = validate(render_sarif(testing::findings_result()), "findings");
  EXPECT_EQ(v.exit_code, 0) << v.output;
  EXPECT_EQ(v.output, "");
}

TEST(SarifSchema, CleanAndEmptyRunsValidate) {
  auto clean = validate(render_sarif(testing::completed_result()), "clean");
  EXPECT_EQ(clean.exit_code, 0) << clean.output;
  auto empty = validate(render_sarif(harness::RunResult{}), "empty");
  EXPECT_EQ(empty.exit_code, 0) << empty.output;
}

TEST(SarifSchema, LogsNameTheShippedSchemaById) {
  std::ifstream in(KEMU_SOURCE_DIR "/tests/schemas/sarif-schema-2.1.0.json");
  Json schema = Json::parse(in);
  EXPECT_EQ(to_sarif(testing::completed_result())["$schema"], schema["$id"]);
  EXPECT_EQ(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
}

// The validator is not vacuous: a level SARIF does not define and a result
// without a message are both rejected, naming where.
TEST(SarifSchema, TheValidatorRejectsWhatTheSchemaForbids) {
  Json log = to_sarif(testing::findings_result());
  log["runs"][0]["results"][0]["level"] = "fatal";
  log["runs"][0]["results"][1].erase("message");
  auto v = validate(log.dump(2), "broken");
  EXPECT_EQ(v.exit_code, 1) << v.output;
  EXPECT_THAT(v.output, HasSubstr("runs/0/results/0/level: 'fatal' is not one of"));
  EXPECT_THAT(v.output, HasSubstr("runs/0/results/1: 'message' is a required property"));
}

}  // namespace
}  // namespace kemu::report
