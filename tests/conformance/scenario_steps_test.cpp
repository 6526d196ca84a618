// Scenario steps that inject client actions into a running request
// (close_during) and the client's section step (cli.md).
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "e2e/e2e_paths.h"
#include "emulator/types.h"
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

// The `section` step (cli.md): the client's NtCreateSection, a handle in its
// table, pagefile-backed or backed by one of its file handles.
TEST(SectionStep, TheClientCreatesSectionsWithItsOwnAccessChecks) {
  std::string path = ::testing::TempDir() + "section_step.yaml";
  std::ofstream(path) << "steps:\n"
                         "  - file: { path: 'C:\\data.bin', access: [read, write], as: rw, create: true }\n"
                         "  - write: { handle: rw, data: { hex: '0102030405' } }\n"
                         "  - file: { path: 'C:\\data.bin', access: [read], as: ro }\n"
                         "  - section: { size: 0x2000, as: shared }\n"
                         "  - section: { file: rw, as: mapped }\n"
                         "  - section: { file: ro, access: [read], as: readonly }\n"
                         "  - section: { file: ro, as: denied }\n"
                         "  - section: { file: shared, as: wrong }\n"
                         "  - close: shared\n";
  auto sc = kemu::harness::parse_scenario(path);
  Session s;
  const auto& r = kemu::harness::run_scenario(s, kemu::e2e::sample("methods"), sc);
  ASSERT_GE(r.steps.size(), 9u);
  EXPECT_EQ(r.steps[3].op, "section");
  EXPECT_EQ(r.steps[3].status, 0u) << "a pagefile-backed section of 0x2000 bytes";
  EXPECT_NE(r.steps[3].handle, 0u);
  EXPECT_EQ(r.steps[3].handle & 0x80000000u, 0u) << "a handle in the client's own table";
  EXPECT_EQ(r.steps[4].status, 0u) << "a read-write section of a file opened for read and write";
  EXPECT_EQ(r.steps[5].status, 0u) << "a read-only section of a file opened for read";
  // UserMode: the file handle lacks FILE_WRITE_DATA, which PAGE_READWRITE needs.
  EXPECT_EQ(r.steps[6].status, 0xC0000022u) << "STATUS_ACCESS_DENIED";
  // A section handle is not a file handle.
  EXPECT_EQ(r.steps[7].status, 0xC0000024u) << "STATUS_OBJECT_TYPE_MISMATCH";
  EXPECT_EQ(r.steps[8].status, 0u) << "the client closes its section handle";
}

TEST(SectionStep, APagefileBackedSectionNeedsASize) {
  std::string path = ::testing::TempDir() + "section_nosize.yaml";
  std::ofstream(path) << "steps:\n  - section: { as: s }\n";
  EXPECT_THROW(kemu::harness::parse_scenario(path), kemu::harness::ScenarioError);
}

// The `buffer` step (docs/cli.md): a client buffer kept for the run, its
// address named for later inputs; requests never reuse it.
TEST(BufferStep, TheClientKeepsItsBuffersWherePlacedAndRequestsGetOthers) {
  Session s;
  s.load(kemu::e2e::sample("methods"));
  ASSERT_EQ(s.driver_entry(), 0u);
  auto dev = s.open("\\\\.\\KemuMethods");
  uint64_t user = s.client_buffer({'k', 'e', 'm', 'u'}, 16);
  uint64_t kernel = s.client_buffer({1, 2}, 0, Session::Placement::Kernel);
  EXPECT_GE(user, kemu::layout::kLowestUserAddress);
  EXPECT_LT(user, kemu::layout::kUserProbeAddress);
  EXPECT_GE(kernel, kemu::layout::kClientKernelBuffers);
  EXPECT_LT(kernel, kemu::layout::kClientKernelBuffersEnd);
  Session::IoctlRequest rq;
  rq.handle = dev.handle;
  rq.code = 0x80002000;  // METHOD_BUFFERED upper-case echo
  rq.input = std::vector<uint8_t>(16, 'x');
  rq.output_length = 16;
  for (int i = 0; i < 2; ++i) {
    auto out = s.ioctl(rq);
    EXPECT_EQ(out.status, 0u);
    EXPECT_NE(out.input_address, user);
    EXPECT_NE(out.output_address, user);
  }
  const auto& r = s.result();
  ASSERT_GE(r.steps.size(), 3u);
  EXPECT_EQ(r.steps[1].op, "buffer");
  EXPECT_EQ(r.steps[1].status, 0u);
  EXPECT_EQ(r.steps[1].target, kemu::GuestVa{user}.hex());
  EXPECT_EQ(r.steps[2].target, kemu::GuestVa{kernel}.hex());
}

TEST(BufferStep, ABufferNeedsANameAndNamesNoHandles) {
  std::string path = ::testing::TempDir() + "buffer_noname.yaml";
  std::ofstream(path) << "steps:\n  - buffer: { data: { hex: '00' } }\n";
  EXPECT_THROW(kemu::harness::parse_scenario(path), kemu::harness::ScenarioError);
  path = ::testing::TempDir() + "buffer_handles.yaml";
  std::ofstream(path) << "steps:\n  - buffer: { as: b, data: { u64: ['{dev}'] } }\n";
  EXPECT_THROW(kemu::harness::parse_scenario(path), kemu::harness::ScenarioError);
}

}  // namespace
