// The object manager's seed scenario (samples/seed/demo.yaml): the client
// opens a file and sends its handle to a driver, which references it as the
// caller (RequestorMode, File type, the access it uses) and appends through a
// kernel handle made with ObOpenObjectByPointer, at the file object's
// position the client's handle shares.
#include <gtest/gtest.h>

#include "e2e/e2e_paths.h"
#include "harness/scenario.h"
#include "harness/session.h"

namespace {

TEST(SeedScenario, TheDriverUsesTheClientsFileHandleTheWayWindowsRequires) {
  auto sc = kemu::harness::parse_scenario(KEMU_SOURCE_DIR "/samples/seed/demo.yaml");
  kemu::harness::Session s;
  const auto& r = kemu::harness::run_scenario(s, kemu::e2e::sample("seed"), sc);
  ASSERT_EQ(r.steps.size(), 13u);
  // (a) referenced with Irp->RequestorMode and *IoFileObjectType
  EXPECT_EQ(r.steps[4].status, 0u);
  // (b) an event handle: STATUS_OBJECT_TYPE_MISMATCH
  EXPECT_EQ(r.steps[5].status, 0xC0000024u);
  // (c) a handle without FILE_WRITE_DATA: STATUS_ACCESS_DENIED
  EXPECT_EQ(r.steps[6].status, 0xC0000022u);
  // (d) the driver's ZwWriteFile through its kernel handle lands after the
  // client's own write: one file object, one position.
  EXPECT_EQ(r.steps[8].status, 0u);
  EXPECT_EQ(r.steps[8].information, 0u);  // no output buffer, no output bytes
  EXPECT_EQ(r.steps[9].op, "read");
  EXPECT_EQ(r.steps[9].information, 15u);
  EXPECT_EQ(r.steps[9].output_hex.substr(0, 30), "636c69656e743a647269766572210a");  // "client:driver!\n"
  for (const auto& st : r.steps) EXPECT_TRUE(st.expect_ok) << st.op;
  EXPECT_EQ(r.stop.reason, kemu::harness::StopReason::Completed);
  EXPECT_TRUE(r.unload.called);
  // A true positive of kemu's unknown-request probe (on a copy of the
  // machine, after the scenario): DispatchIoctl reads the SEED_REQUEST from
  // Irp->AssociatedIrp.SystemBuffer before looking at the control code, and a
  // METHOD_NEITHER code has no system buffer: the NULL read is bug check 0x3B
  // for any caller who can open the device.
  ASSERT_EQ(r.findings.size(), 1u);
  const auto& crash = r.findings[0];
  EXPECT_EQ(crash.check, "crash.bugcheck");
  EXPECT_EQ(crash.location.module, "seed.sys");
  ASSERT_TRUE(crash.context.ioctl.has_value());
  EXPECT_EQ(*crash.context.ioctl, 0x00225FFBu);  // CTL_CODE(FILE_DEVICE_UNKNOWN, 0x7FE, METHOD_NEITHER, FILE_READ_ACCESS)
  ASSERT_FALSE(crash.values.empty());
  EXPECT_EQ(crash.values[0], (std::pair<std::string, std::string>{"p1", "0xc0000005"}));
}

}  // namespace
