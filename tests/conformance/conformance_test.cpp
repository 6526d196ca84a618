// The object-manager conformance suite (tests/conformance/driver): a real
// driver asserting Windows behaviours from the System process (DriverEntry)
// and from a client's request; every assertion must hold.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <string>

#include "e2e/e2e_paths.h"
#include "harness/session.h"

namespace {

using kemu::harness::Session;
using kemu::harness::StopReason;

constexpr uint32_t kRunClientSuite = 0x80002400;  // CTL_CODE(0x8000, 0x900, METHOD_BUFFERED, FILE_ANY_ACCESS)
constexpr uint32_t kResults = 0x80002404;
constexpr uint32_t kBugcheck93 = 0x80002408;
constexpr uint32_t kTerminateClient = 0x8000240C;

struct Results {
  uint32_t passed = 0, failed = 0;
  uint32_t lines[32] = {};
};

Results results(Session& s, uint64_t handle) {
  Session::IoctlRequest q;
  q.handle = handle;
  q.code = kResults;
  q.output_length = sizeof(Results);
  auto out = s.ioctl(q);
  Results r;
  EXPECT_EQ(out.status, 0u);
  EXPECT_EQ(out.output.size(), sizeof(Results));
  if (out.output.size() == sizeof(Results)) std::memcpy(&r, out.output.data(), sizeof(r));
  return r;
}

TEST(Conformance, EveryObjectManagerAssertionHoldsInTheSystemProcessAndInAClientRequest) {
  Session s;
  s.load(kemu::e2e::sample("conformance"));
  ASSERT_EQ(s.driver_entry(), 0u);
  auto dev = s.open("\\\\.\\KemuConformance");
  ASSERT_EQ(dev.status, 0u);
  Results system = results(s, dev.handle);
  EXPECT_EQ(system.failed, 0u) << "first failing line " << system.lines[0];
  // The number of assertions DriverEntry made: a suite that silently skipped
  // some would pass with fewer.
  EXPECT_EQ(system.passed, 160u);

  Session::IoctlRequest run;
  run.handle = dev.handle;
  run.code = kRunClientSuite;
  run.output_length = 128;  // user memory for the suite's UserMode NtOpenProcess/NtOpenThread arguments
  EXPECT_EQ(s.ioctl(run).status, 0u);
  Results all = results(s, dev.handle);
  EXPECT_EQ(all.failed, 0u) << "first failing line " << all.lines[0];
  EXPECT_EQ(all.passed - system.passed, 126u);
  EXPECT_EQ(s.close(dev.handle), 0u);
  s.unload();
  const auto& r = s.result();
  EXPECT_EQ(r.stop.reason, StopReason::Completed) << r.stop.message;
  // The suite exercises the misuses whose outcomes it asserts: the verifier
  // reports exactly those kinds. The client part also builds its UserMode
  // arguments in the caller's Irp->UserBuffer (no probe, no __try) and checks
  // its own user views outside __try, reading one byte of a view twice (the
  // views it mapped into the client are section.user-view-unsafe too). The
  // handles it references with KernelMode in the client's table are its own
  // duplicates, not the caller's: no handle.user-handle-kernel-mode.
  std::set<std::string> checks;
  for (const auto& f : r.findings) checks.insert(f.check);
  EXPECT_EQ(checks, (std::set<std::string>{"handle.invalid", "handle.kernel-handle-user-mode",
                                            "handle.not-kernel-handle",
                                            "probe.double-fetch", "probe.missing", "probe.outside-try",
                                            "section.user-view-unsafe"}));
  EXPECT_TRUE(r.unimplemented.empty());
}

TEST(Conformance, AKernelModeCloseOfAnInvalidHandleBugchecks0x93) {
  Session s;
  s.load(kemu::e2e::sample("conformance"));
  ASSERT_EQ(s.driver_entry(), 0u);
  auto dev = s.open("\\\\.\\KemuConformance");
  Session::IoctlRequest q;
  q.handle = dev.handle;
  q.code = kBugcheck93;
  s.ioctl(q);
  const auto& r = s.result();
  ASSERT_EQ(r.stop.reason, StopReason::Bugcheck);
  ASSERT_TRUE(r.stop.bugcheck.has_value());
  EXPECT_EQ(r.stop.bugcheck->code, 0x93u);  // INVALID_KERNEL_HANDLE
  EXPECT_EQ(r.stop.bugcheck->params[0], 0x7FF0u);  // the handle
  EXPECT_EQ(r.stop.bugcheck->params[1], 1u);       // it does not exist
}

TEST(Conformance, ZwTerminateProcessEndsTheClientAndClosesItsHandles) {
  Session s;
  s.load(kemu::e2e::sample("conformance"));
  ASSERT_EQ(s.driver_entry(), 0u);
  auto dev = s.open("\\\\.\\KemuConformance");
  ASSERT_EQ(dev.status, 0u);
  Session::IoctlRequest q;
  q.handle = dev.handle;
  q.code = kTerminateClient;
  EXPECT_EQ(s.ioctl(q).status, 0u);
  // The process's handle table went with it: its handle is no longer there.
  EXPECT_EQ(s.close(dev.handle), 0xC0000008u);  // STATUS_INVALID_HANDLE
  s.unload();
  EXPECT_EQ(s.result().stop.reason, StopReason::Completed) << s.result().stop.message;
}

}  // namespace
