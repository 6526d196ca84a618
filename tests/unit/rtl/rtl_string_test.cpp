// Counted-string Rtl routines (rtl/rtl_exports.cpp): statuses, lengths and
// stored units exactly as Windows leaves them.
#include <gtest/gtest.h>

#include "emulator/ntstatus.h"
#include "unit/rtl/rtl_fixture.h"

namespace kemu::nt {

NtStatus RtlAppendUnicodeToString(Kernel& k, GuestVa dst, GuestVa src);
NtStatus RtlAppendUnicodeStringToString(Kernel& k, GuestVa dst, GuestVa src);
NtStatus RtlIntegerToChar(Kernel& k, uint32_t value, uint32_t base, int32_t output_length,
                          GuestVa string);
NtStatus RtlIntegerToUnicodeString(Kernel& k, uint32_t value, uint32_t base, GuestVa string);
NtStatus RtlUnicodeStringToInteger(Kernel& k, GuestVa string, uint32_t base, GuestVa value_out);
NtStatus RtlAnsiStringToUnicodeString(Kernel& k, GuestVa dst, GuestVa src, uint8_t allocate);
NtStatus RtlUpcaseUnicodeString(Kernel& k, GuestVa dst, GuestVa src, uint8_t allocate);
uint8_t RtlPrefixUnicodeString(Kernel& k, GuestVa prefix, GuestVa string, uint8_t case_insensitive);
void RtlCopyString(Kernel& k, GuestVa dst, GuestVa src);

namespace {

using test::RtlFixture;

class RtlStrings : public RtlFixture {
 protected:
  // RtlUnicodeStringToInteger over `text`; the value, or the failure status.
  std::pair<NtStatus, uint32_t> to_integer(std::u16string_view text, uint32_t base) {
    GuestVa us = counted(static_cast<uint16_t>(text.size() * 2),
                         static_cast<uint16_t>(text.size() * 2), wide(text));
    GuestVa out = buffer(4, 0xEE);
    NtStatus st = RtlUnicodeStringToInteger(kernel_, us, base, out);
    return {st, mem().read<uint32_t>(out)};
  }
};

TEST_F(RtlStrings, AppendUnicodeToStringFillsUpToMaximumLength) {
  GuestVa buf = buffer(8);
  mem().write<char16_t>(buf, u'a');
  GuestVa us = counted(2, 8, buf);
  EXPECT_EQ(RtlAppendUnicodeToString(kernel_, us, wide(u"bc")), STATUS_SUCCESS);
  EXPECT_EQ(length_of(us), 6);
  EXPECT_EQ(units_at(buf, 4), std::u16string(u"abc\0", 4));  // terminated: room was left
  // Filling the buffer exactly: no terminator.
  EXPECT_EQ(RtlAppendUnicodeToString(kernel_, us, wide(u"d")), STATUS_SUCCESS);
  EXPECT_EQ(length_of(us), 8);
  EXPECT_EQ(units_at(buf, 4), u"abcd");
  EXPECT_EQ(RtlAppendUnicodeToString(kernel_, us, wide(u"e")), STATUS_BUFFER_TOO_SMALL);
  EXPECT_EQ(length_of(us), 8);
  EXPECT_EQ(RtlAppendUnicodeToString(kernel_, us, GuestVa{}), STATUS_SUCCESS);
}

TEST_F(RtlStrings, AppendUnicodeStringToString) {
  GuestVa buf = buffer(12);
  GuestVa dst = counted(0, 10, buf);
  GuestVa src = counted(4, 4, wide(u"xyZZ"));  // Length 4: "xy"
  EXPECT_EQ(RtlAppendUnicodeStringToString(kernel_, dst, src), STATUS_SUCCESS);
  EXPECT_EQ(RtlAppendUnicodeStringToString(kernel_, dst, src), STATUS_SUCCESS);
  EXPECT_EQ(length_of(dst), 8);
  EXPECT_EQ(units_at(buf, 5), std::u16string(u"xyxy\0", 5));
  EXPECT_EQ(RtlAppendUnicodeStringToString(kernel_, dst, src), STATUS_BUFFER_TOO_SMALL);
  EXPECT_EQ(length_of(dst), 8);
}

TEST_F(RtlStrings, IntegerToUnicodeString) {
  GuestVa buf = buffer(16);
  GuestVa us = counted(0, 10, buf);
  EXPECT_EQ(RtlIntegerToUnicodeString(kernel_, 1234, 0, us), STATUS_SUCCESS);
  EXPECT_EQ(length_of(us), 8);
  EXPECT_EQ(units_at(buf, 5), std::u16string(u"1234\0", 5));
  EXPECT_EQ(RtlIntegerToUnicodeString(kernel_, 0xBEEF, 16, us), STATUS_SUCCESS);
  EXPECT_EQ(units_at(buf, 5), std::u16string(u"BEEF\0", 5));
  EXPECT_EQ(RtlIntegerToUnicodeString(kernel_, 5, 2, us), STATUS_SUCCESS);
  EXPECT_EQ(length_of(us), 6);
  EXPECT_EQ(RtlIntegerToUnicodeString(kernel_, 5, 7, us), STATUS_INVALID_PARAMETER);
  // No room for the digits and a terminator: Length is still updated.
  GuestVa small = counted(0, 8, buffer(8));
  EXPECT_EQ(RtlIntegerToUnicodeString(kernel_, 1234, 10, small), STATUS_BUFFER_OVERFLOW);
  EXPECT_EQ(length_of(small), 8);
}

TEST_F(RtlStrings, IntegerToChar) {
  GuestVa buf = buffer(8);
  EXPECT_EQ(RtlIntegerToChar(kernel_, 255, 16, -4, buf),
            STATUS_SUCCESS);  // zero-padded, exactly 4: no NUL
  EXPECT_EQ(bytes_at(buf, 5), "00FF\xCC");
  EXPECT_EQ(RtlIntegerToChar(kernel_, 255, 8, 8, buf), STATUS_SUCCESS);
  EXPECT_EQ(bytes_at(buf, 4), std::string("377\0", 4));
  EXPECT_EQ(RtlIntegerToChar(kernel_, 255, 2, 4, buf), STATUS_BUFFER_OVERFLOW);
  EXPECT_EQ(RtlIntegerToChar(kernel_, 1, 3, 4, buf), STATUS_INVALID_PARAMETER);
}

TEST_F(RtlStrings, UnicodeStringToInteger) {
  EXPECT_EQ(to_integer(u" \t-0x1A", 0), std::make_pair(NtStatus{STATUS_SUCCESS}, 0xFFFFFFE6u));
  EXPECT_EQ(to_integer(u"0X1A", 0),
            std::make_pair(NtStatus{STATUS_SUCCESS}, 0u));  // prefixes are lowercase only
  EXPECT_EQ(to_integer(u"123abc", 16), std::make_pair(NtStatus{STATUS_SUCCESS}, 0x123ABCu));
  EXPECT_EQ(to_integer(u"12z", 10), std::make_pair(NtStatus{STATUS_SUCCESS}, 12u));
  EXPECT_EQ(to_integer(u"+077", 8), std::make_pair(NtStatus{STATUS_SUCCESS}, 63u));
  EXPECT_EQ(to_integer(u"0b101", 0), std::make_pair(NtStatus{STATUS_SUCCESS}, 5u));
  EXPECT_EQ(to_integer(u"0o17", 0), std::make_pair(NtStatus{STATUS_SUCCESS}, 15u));
  EXPECT_EQ(to_integer(u"", 10), std::make_pair(NtStatus{STATUS_SUCCESS}, 0u));
  EXPECT_EQ(to_integer(u"4294967297", 10), std::make_pair(NtStatus{STATUS_SUCCESS}, 1u));  // wraps
  EXPECT_EQ(to_integer(u"12", 3), std::make_pair(NtStatus{STATUS_INVALID_PARAMETER}, 0xEEEEEEEEu));
}

TEST_F(RtlStrings, AnsiToUnicodeNeedsRoomForTheTerminator) {
  GuestVa src = alloc(16);
  mem().write<uint16_t>(src, 3);
  mem().write<uint16_t>(src + 2, 4);
  mem().write<uint64_t>(src + 8, ansi("abc").value);
  GuestVa buf = buffer(8);
  GuestVa exact = counted(0, 6, buf);  // room for "abc" but not its terminator
  EXPECT_EQ(RtlAnsiStringToUnicodeString(kernel_, exact, src, 0), STATUS_BUFFER_OVERFLOW);
  EXPECT_EQ(length_of(exact), 6);
  EXPECT_EQ(units_at(buf, 1), u"\xCCCC");
  GuestVa room = counted(0, 8, buf);
  EXPECT_EQ(RtlAnsiStringToUnicodeString(kernel_, room, src, 0), STATUS_SUCCESS);
  EXPECT_EQ(units_at(buf, 4), std::u16string(u"abc\0", 4));
}

TEST_F(RtlStrings, UpcasePrefixAndCopy) {
  GuestVa src = counted(6, 8, wide(u"a\u00E9z"));
  GuestVa buf = buffer(8);
  GuestVa dst = counted(0, 8, buf);
  EXPECT_EQ(RtlUpcaseUnicodeString(kernel_, dst, src, 0), STATUS_SUCCESS);
  EXPECT_EQ(length_of(dst), 6);
  EXPECT_EQ(units_at(buf, 4), std::u16string(u"A\u00C9Z\xCCCC", 4));  // no terminator
  GuestVa tiny = counted(0, 4, buffer(4));
  EXPECT_EQ(RtlUpcaseUnicodeString(kernel_, tiny, src, 0), STATUS_BUFFER_OVERFLOW);

  GuestVa path = counted(22, 22, wide(u"\\Device\\Foo"));
  EXPECT_EQ(RtlPrefixUnicodeString(kernel_, counted(14, 14, wide(u"\\DEVICE")), path, 1), 1);
  EXPECT_EQ(RtlPrefixUnicodeString(kernel_, counted(14, 14, wide(u"\\DEVICE")), path, 0), 0);
  EXPECT_EQ(RtlPrefixUnicodeString(kernel_, counted(24, 24, wide(u"\\Device\\Foo1")), path, 1), 0);

  GuestVa a = alloc(16);
  mem().write<uint16_t>(a, 5);
  mem().write<uint16_t>(a + 2, 6);
  mem().write<uint64_t>(a + 8, ansi("hello").value);
  GuestVa cbuf = buffer(4);
  GuestVa c = alloc(16);
  mem().write<uint16_t>(c, 0);
  mem().write<uint16_t>(c + 2, 3);
  mem().write<uint64_t>(c + 8, cbuf.value);
  RtlCopyString(kernel_, c, a);  // min(5, 3) bytes, no room for a terminator
  EXPECT_EQ(length_of(c), 3);
  EXPECT_EQ(bytes_at(cbuf, 4), "hel\xCC");
}

}  // namespace
}  // namespace kemu::nt
