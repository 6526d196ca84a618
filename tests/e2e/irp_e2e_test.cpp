// End-to-end: IRPs a driver sends to its own device (samples/irp).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "e2e_paths.h"
#include "harness/session.h"

namespace {

using kemu::harness::Session;
using kemu::harness::StopReason;

TEST(E2eIrp, ThreadedBufferedPendedAndOwnedIrpsCompleteAsWindowsDoes) {
  Session session;
  const auto& r = session.run(kemu::e2e::sample("irp"));
  ASSERT_TRUE(r.driver_entry_status.has_value());
  EXPECT_EQ(*r.driver_entry_status, 0u);
  EXPECT_EQ(r.stop.reason, StopReason::Completed) << r.stop.message;
  EXPECT_THAT(r.debug_output,
              ::testing::ElementsAre(
                  // METHOD_BUFFERED: Information bytes copied back to the caller.
                  "irp: echo status 0x00000000 information 5 output HELLO",
                  // The default dispatch routine completes with STATUS_INVALID_DEVICE_REQUEST
                  // and the completion routine runs before IoCallDriver returns.
                  "irp: completion routine sees 0xc0000010", "irp: default dispatch returned 0xc0000010",
                  // A pended IRP: STATUS_PENDING, then completion from a work item
                  // while the caller waits on its event.
                  "irp: pend returned 0x00000103", "irp: work item completes the pended IRP",
                  "irp: pended request finished with 0x00000000"));
}

}  // namespace
