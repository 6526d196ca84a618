// End-to-end: a user-mode client opens and closes a device (samples/opens).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "e2e_paths.h"
#include "harness/session.h"

namespace {

using kemu::harness::Session;
using kemu::harness::StopReason;

TEST(E2eOpens, KemuRunOpensAndClosesEveryNamedDevice) {
  Session session;
  const auto& r = session.run(kemu::e2e::sample("opens"));
  EXPECT_EQ(r.stop.reason, StopReason::Completed) << r.stop.message;
  EXPECT_THAT(r.debug_output,
              ::testing::ElementsAre(
                  // IRP_MJ_CREATE: the client's request (RequestorMode and PreviousMode
                  // UserMode, the client process current), a synchronous file object.
                  "opens: create file=yes name='(null)' requestor=1 previous=1 client=1 sync=1",
                  // IRP_MJ_CLEANUP on the last handle, IRP_MJ_CLOSE on the last
                  // reference: sent by the I/O manager (KernelMode requestor) inside the
                  // client's NtClose (PreviousMode UserMode).
                  "opens: cleanup file=yes name='(null)' requestor=0 previous=1 client=1 sync=1",
                  "opens: close file=yes name='(null)' requestor=0 previous=1 client=1 sync=1"));
  ASSERT_EQ(r.steps.size(), 2u);
  EXPECT_EQ(r.steps[0].op, "open");
  EXPECT_EQ(r.steps[0].target, "\\Device\\KemuOpens");
  EXPECT_EQ(r.steps[0].status, 0u);
  // The first handle of the client's table.
  EXPECT_EQ(r.steps[0].handle, 0x4u);
  EXPECT_EQ(r.steps[1].op, "close");
  EXPECT_EQ(r.steps[1].status, 0u);
}

TEST(E2eOpens, Win32PathsResolveThroughTheDosDevicesLink) {
  Session session;
  session.load(kemu::e2e::sample("opens"));
  ASSERT_EQ(session.driver_entry(), 0u);
  auto o = session.open("\\\\.\\KemuOpens");
  ASSERT_TRUE(o.status.has_value());
  EXPECT_EQ(*o.status, 0u);
  // A second handle to a second file object.
  auto o2 = session.open("\\??\\KemuOpens\\sub\\name");
  ASSERT_TRUE(o2.status.has_value());
  EXPECT_EQ(*o2.status, 0u);
  EXPECT_EQ(o2.handle, 0x8u);
  EXPECT_EQ(session.close(o.handle), 0u);
  EXPECT_EQ(session.close(o2.handle), 0u);
  // A handle closed twice: STATUS_INVALID_HANDLE for a UserMode close.
  EXPECT_EQ(session.close(o.handle), 0xC0000008u);
  session.unload();
  const auto& r = session.result();
  // The namespace open passes the name after the device in FileObject->FileName.
  EXPECT_THAT(r.debug_output, ::testing::Contains("opens: create file=yes name='\\sub\\name' requestor=1 previous=1 client=1 sync=1"));
}

TEST(E2eOpens, ADeviceWithoutACreateRoutineRefusesTheOpen) {
  Session session;
  const auto& r = session.run(kemu::e2e::sample("hello"));
  ASSERT_EQ(r.steps.size(), 1u);
  // Every MajorFunction starts at the routine that completes with
  // STATUS_INVALID_DEVICE_REQUEST; no handle is created, nothing to close.
  EXPECT_EQ(r.steps[0].status, 0xC0000010u);
  EXPECT_EQ(r.steps[0].handle, 0u);
}

}  // namespace
