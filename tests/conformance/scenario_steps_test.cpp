// Scenario steps that inject client actions into a running request:
// close_during (cli.md).
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "e2e/e2e_paths.h"
#include "harness/scenario.h"
#include "harness/session.h"

namespace {

using kemu::harness::Session;

constexpr uint32_t kInfo = 0x8000200C;  // samples/methods: counters and modes

struct Counters {
  uint32_t creates, cleanups, closes;
};

Counters counters(Session& s, uint64_t handle) {
  Session::IoctlRequest q;
  q.handle = handle;
  q.code = kInfo;
  q.output_length = 64;
  auto out = s.ioctl(q);
  Counters c{};
  if (out.output.size() >= 28) std::memcpy(&c, out.output.data() + 16, sizeof(c));
  return c;
}

TEST(CloseDuring, TheClientClosesAHandleWhenTheDriverCallsTheApiDuringTheNextRequest) {
  Session s;
  s.load(kemu::e2e::sample("methods"));
  ASSERT_EQ(s.driver_entry(), 0u);
  auto dev = s.open("\\\\.\\KemuMethods");
  auto dev2 = s.open("\\\\.\\KemuMethods");
  ASSERT_EQ(dev2.status, 0u);
  Counters before = counters(s, dev.handle);
  s.close_during(dev2.handle, "IofCompleteRequest");
  counters(s, dev.handle);  // the request during which IofCompleteRequest is called
  Counters after = counters(s, dev.handle);
  // The racing close was the file object's last handle and reference: CLEANUP and CLOSE ran.
  EXPECT_EQ(after.cleanups, before.cleanups + 1);
  EXPECT_EQ(after.closes, before.closes + 1);
  EXPECT_EQ(s.close(dev2.handle), 0xC0000008u);  // already closed
  const auto& r = s.result();
  const auto& step = r.steps[3];
  EXPECT_EQ(step.op, "close_during");
  ASSERT_TRUE(step.status.has_value());
  EXPECT_EQ(*step.status, 0u);
}

TEST(CloseDuring, AnApiTheDriverNeverCallsLeavesTheStepNotTriggeredAndTheHandleOpen) {
  Session s;
  s.load(kemu::e2e::sample("methods"));
  ASSERT_EQ(s.driver_entry(), 0u);
  auto dev = s.open("\\\\.\\KemuMethods");
  auto dev2 = s.open("\\\\.\\KemuMethods");
  s.close_during(dev2.handle, "ZwTerminateProcess");
  counters(s, dev.handle);
  counters(s, dev.handle);  // the trigger was for one request only
  EXPECT_EQ(s.close(dev2.handle), 0u);
  const auto& r = s.result();
  EXPECT_EQ(r.steps[2].op, "close_during");
  EXPECT_FALSE(r.steps[2].status.has_value());
  EXPECT_FALSE(r.steps[2].pending);
}

TEST(CloseDuring, ScenarioFilesAcceptTheStep) {
  std::string path = ::testing::TempDir() + "close_during.yaml";
  std::ofstream(path) << "steps:\n"
                         "  - open: { path: '\\\\.\\KemuMethods', as: dev }\n"
                         "  - open: { path: '\\\\.\\KemuMethods', as: other }\n"
                         "  - close_during: { handle: other, api: IofCompleteRequest }\n"
                         "  - ioctl: { handle: dev, code: 0x8000200C, output_length: 64 }\n"
                         "  - close: other\n"
                         "    \n";
  auto sc = kemu::harness::parse_scenario(path);
  Session s;
  const auto& r = kemu::harness::run_scenario(s, kemu::e2e::sample("methods"), sc);
  ASSERT_GE(r.steps.size(), 5u);
  EXPECT_EQ(r.steps[2].status, 0u);
  EXPECT_EQ(r.steps[4].status, 0xC0000008u);
}

}  // namespace
