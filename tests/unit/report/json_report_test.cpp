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

// cli.md "findings": every key, in the contract's order, with its format.
TEST(JsonReport, FindingsFollowTheContract) {
  auto j = to_json(testing::findings_result());
  ASSERT_EQ(j["findings"].size(), 5u);
  const auto& f = j["findings"][2];
  EXPECT_THAT(keys(f), ElementsAre("check", "severity", "count", "title", "message", "microsoft",
                                   "location", "stack", "context", "values"));
  EXPECT_EQ(f["check"], "handle.user-handle-kernel-mode");
  EXPECT_EQ(f["severity"], "error");
  EXPECT_EQ(f["count"], 3);
  EXPECT_EQ(f["title"], "handle from user mode referenced with AccessMode=KernelMode");
  EXPECT_EQ(f["message"],
            "ObReferenceObjectByHandle(0x84, KernelMode) on a handle from client.exe's table");
  EXPECT_EQ(f["microsoft"], "Verifier 0xC4/0xF6; CA C28126");
  EXPECT_THAT(keys(f["location"]), ElementsAre("module", "offset", "symbol", "instruction"));
  EXPECT_EQ(f["location"]["module"], "hello.sys");
  EXPECT_EQ(f["location"]["offset"], "0x1120");
  EXPECT_EQ(f["location"]["symbol"], "DispatchIoctl+0x60");
  EXPECT_EQ(f["location"]["instruction"], "call qword ptr [rip + 0x2ee0]");
  EXPECT_EQ(f["stack"], nlohmann::ordered_json::array({"hello.sys+0x1120", "ntoskrnl.exe+0x2000"}));
  EXPECT_THAT(keys(f["context"]), ElementsAre("process", "thread", "irql", "major", "ioctl"));
  EXPECT_EQ(f["context"]["process"], "client.exe");
  EXPECT_EQ(f["context"]["thread"], 0x1238);
  EXPECT_EQ(f["context"]["irql"], 0);
  EXPECT_EQ(f["context"]["major"], "IRP_MJ_DEVICE_CONTROL");
  EXPECT_EQ(f["context"]["ioctl"], "0x00222003");
  EXPECT_THAT(keys(f["values"]), ElementsAre("handle", "access_mode"));
  EXPECT_EQ(f["values"]["handle"], "0x84");
  EXPECT_EQ(f["values"]["access_mode"], "KernelMode");
  // Outside a request (the bugcheck in DriverEntry) major and ioctl are null, not missing.
  const auto& crash = j["findings"][4];
  EXPECT_THAT(keys(crash["context"]), ElementsAre("process", "thread", "irql", "major", "ioctl"));
  EXPECT_TRUE(crash["context"]["major"].is_null());
  EXPECT_TRUE(crash["context"]["ioctl"].is_null());
  EXPECT_EQ(crash["location"]["offset"], "0x1234");
  EXPECT_EQ(crash["values"]["p1"], "0xc0000005");
  // A finding without values still has an object.
  EXPECT_TRUE(j["findings"][1]["values"].is_object());
  EXPECT_TRUE(j["findings"][1]["values"].empty());
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
