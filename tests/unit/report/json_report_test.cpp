#include "report/json_report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sample_result.h"

namespace kemu::report {
namespace {

using ::testing::ElementsAre;

std::vector<std::string> keys(const nlohmann::ordered_json& j) {
  std::vector<std::string> out;
  for (auto it = j.begin(); it != j.end(); ++it) out.push_back(it.key());
  return out;
}

TEST(JsonReport, TopLevelKeysInContractOrder) {
  auto j = to_json(testing::completed_result());
  EXPECT_THAT(keys(j),
              ElementsAre("kemu_version", "driver", "driver_entry", "devices", "debug_output",
                          "steps", "unload", "findings", "stop", "unimplemented", "stats"));
  EXPECT_THAT(keys(j["driver"]), ElementsAre("path", "sha256", "image_base", "entry"));
  EXPECT_THAT(keys(j["driver_entry"]), ElementsAre("status", "status_name"));
  EXPECT_THAT(keys(j["devices"][0]), ElementsAre("name", "links", "characteristics"));
  // cli.md's keys first; the work left queued follows (an extension).
  EXPECT_THAT(keys(j["unload"]), ElementsAre("called", "devices_left", "links_left", "timers_left",
                                             "dpcs_left", "work_items_left", "threads_left"));
  EXPECT_THAT(keys(j["stop"]), ElementsAre("reason"));
  EXPECT_THAT(keys(j["unimplemented"][0]), ElementsAre("api", "calls"));
  EXPECT_THAT(keys(j["stats"]), ElementsAre("instructions", "api_calls", "wall_ms"));
}

TEST(JsonReport, ValuesAndHexFormats) {
  auto j = to_json(testing::completed_result());
  EXPECT_EQ(j["kemu_version"], "0.1.0");
  EXPECT_EQ(j["driver"]["path"], "/tmp/hello.sys");
  EXPECT_EQ(j["driver"]["sha256"], "ab12");
  EXPECT_EQ(j["driver"]["image_base"], "0xfffff80000400000");
  EXPECT_EQ(j["driver"]["entry"], "0xfffff80000401000");
  EXPECT_EQ(j["driver_entry"]["status"], "0x00000000");
  EXPECT_EQ(j["driver_entry"]["status_name"], "STATUS_SUCCESS");
  EXPECT_EQ(j["devices"][0]["name"], "\\Device\\KemuHello");
  EXPECT_EQ(j["devices"][0]["links"], nlohmann::ordered_json::array({"\\??\\KemuHello"}));
  EXPECT_EQ(j["devices"][0]["characteristics"], "0x00000100");
  EXPECT_EQ(j["debug_output"][1], "second line");
  EXPECT_TRUE(j["steps"].is_array() && j["steps"].empty());
  EXPECT_TRUE(j["findings"].is_array() && j["findings"].empty());
  EXPECT_EQ(j["unload"]["called"], true);
  EXPECT_TRUE(j["unload"]["devices_left"].is_array() && j["unload"]["devices_left"].empty());
  EXPECT_TRUE(j["unload"]["links_left"].is_array());
  EXPECT_EQ(j["stop"]["reason"], "completed");
  EXPECT_EQ(j["unimplemented"][0]["api"], "ntoskrnl.exe!FooBar");
  EXPECT_EQ(j["unimplemented"][0]["calls"], 3);
  EXPECT_EQ(j["stats"]["instructions"], 123456);
  EXPECT_EQ(j["stats"]["api_calls"], 7);
  EXPECT_EQ(j["stats"]["wall_ms"], 12);
}

TEST(JsonReport, EmptyCollectionsAreArrays) {
  harness::RunResult r;
  auto j = to_json(r);
  for (const char* k : {"devices", "debug_output", "steps", "findings", "unimplemented"})
    EXPECT_TRUE(j[k].is_array()) << k;
  EXPECT_TRUE(j["driver_entry"].is_null());
  EXPECT_EQ(j["driver"]["image_base"], "0x0");
}

TEST(JsonReport, UnknownStatusNameIsItsHex) {
  auto r = testing::completed_result();
  r.driver_entry_status = 0xC0DE0001;
  auto j = to_json(r);
  EXPECT_EQ(j["driver_entry"]["status"], "0xc0de0001");
  EXPECT_EQ(j["driver_entry"]["status_name"], "0xc0de0001");
}

TEST(JsonReport, BugcheckStop) {
  auto j = to_json(testing::bugcheck_result());
  EXPECT_TRUE(j["driver_entry"].is_null());
  const auto& stop = j["stop"];
  EXPECT_THAT(keys(stop), ElementsAre("reason", "bugcheck"));
  EXPECT_EQ(stop["reason"], "bugcheck");
  EXPECT_THAT(keys(stop["bugcheck"]), ElementsAre("code", "name", "params"));
  EXPECT_EQ(stop["bugcheck"]["code"], "0x0000003b");
  EXPECT_EQ(stop["bugcheck"]["name"], "SYSTEM_SERVICE_EXCEPTION");
  EXPECT_EQ(stop["bugcheck"]["params"],
            nlohmann::ordered_json::array(
                {"0xc0000005", "0xfffff80000401234", "0xffffd00000001000", "0x0"}));
}

TEST(JsonReport, StopMessageOnlyWhenPresent) {
  auto r = testing::completed_result();
  r.stop.reason = harness::StopReason::Unimplemented;
  r.stop.message = "ntoskrnl.exe!FooBar";
  auto j = to_json(r);
  EXPECT_THAT(keys(j["stop"]), ElementsAre("reason", "message"));
  EXPECT_EQ(j["stop"]["reason"], "unimplemented");
  EXPECT_EQ(j["stop"]["message"], "ntoskrnl.exe!FooBar");

  r.stop.reason = harness::StopReason::InstructionLimit;
  r.stop.message.clear();
  EXPECT_EQ(to_json(r)["stop"]["reason"], "instruction-limit");
}

TEST(JsonReport, RenderRoundTripsAndSurvivesInvalidUtf8) {
  auto r = testing::completed_result();
  r.debug_output.push_back("bad \xff\xfe bytes");
  std::string pretty = render_json(r, true);
  std::string compact = render_json(r, false);
  EXPECT_NE(pretty.find("\n  \"driver\": {"), std::string::npos);
  EXPECT_EQ(compact.find('\n'), std::string::npos);
  EXPECT_NE(pretty.back(), '\n');
  auto parsed = nlohmann::ordered_json::parse(compact);
  EXPECT_EQ(parsed["debug_output"][2], "bad \xef\xbf\xbd\xef\xbf\xbd bytes");
  EXPECT_TRUE(compact.starts_with("{\"kemu_version\":\"0.1.0\",\"driver\":"));
}

}  // namespace
}  // namespace kemu::report
