#include "report/format.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace kemu::report {
namespace {

using ::testing::ElementsAre;

TEST(Format, Hex32IsEightLowercaseDigits) {
  EXPECT_EQ(hex32(0x100), "0x00000100");
  EXPECT_EQ(hex32(0xC0000022), "0xc0000022");
  EXPECT_EQ(hex32(0), "0x00000000");
}

TEST(Format, AddressesAreUnpadded) {
  EXPECT_EQ(hex_addr(0xFFFFF80000401000ull), "0xfffff80000401000");
  EXPECT_EQ(hex_addr(0), "0x0");
}

TEST(Format, StatusLabelFallsBackToHex) {
  EXPECT_EQ(status_label(STATUS_ACCESS_DENIED), "STATUS_ACCESS_DENIED");
  EXPECT_EQ(status_label(0xC0DE0001), "0xc0de0001");
}

TEST(Format, StopReasonsUseCliSpelling) {
  EXPECT_EQ(stop_reason_name(harness::StopReason::Completed), "completed");
  EXPECT_EQ(stop_reason_name(harness::StopReason::InstructionLimit), "instruction-limit");
  EXPECT_EQ(stop_reason_name(harness::StopReason::Unimplemented), "unimplemented");
}

TEST(Format, CharacteristicsDecodeByName) {
  EXPECT_THAT(characteristic_names(0x100), ElementsAre("FILE_DEVICE_SECURE_OPEN"));
  EXPECT_THAT(characteristic_names(0x101),
              ElementsAre("FILE_REMOVABLE_MEDIA", "FILE_DEVICE_SECURE_OPEN"));
  EXPECT_THAT(characteristic_names(0x80000200), ElementsAre("0x80000200"));
  EXPECT_TRUE(characteristic_names(0).empty());
}

TEST(Format, DeviceTypes) {
  EXPECT_EQ(device_type_name(0x22), "FILE_DEVICE_UNKNOWN");
  EXPECT_EQ(device_type_name(0x27), "FILE_DEVICE_8042_PORT");
  EXPECT_EQ(device_type_name(0x3E), "FILE_DEVICE_VMBUS");
  EXPECT_EQ(device_type_name(0x3C), "0x0000003c");
  EXPECT_EQ(device_type_name(0x8000), "0x00008000");
}

TEST(Format, PrintableEscapesControlSequences) {
  EXPECT_EQ(printable("a\x1b[31mb"), "a\\x1b[31mb");
  EXPECT_EQ(printable("cr\rlf\n\ttab"), "cr\\x0dlf\n\ttab");
  EXPECT_EQ(printable("\xc2\x9b"
                      "2J"),
            "\\xc2\\x9b2J");                             // U+009B, the C1 CSI
  EXPECT_EQ(printable("h\xc3\xa9llo"), "h\xc3\xa9llo");  // UTF-8 text passes through
}

}  // namespace
}  // namespace kemu::report
