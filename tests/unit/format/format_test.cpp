// kemu::nt::rtl::format_windows: the NT kernel's DbgPrint/_vsnprintf engine.
// Expected strings are what the Microsoft CRT (and so ntoskrnl) prints.
#include "ntoskrnl-stubs/rtl/format.h"

#include <gtest/gtest.h>

#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

namespace kemu::nt::rtl {
namespace {

using kemu::emu::AddressSpace;
using kemu::emu::RegionKind;

constexpr uint64_t kBase = 0xFFFF'A000'0000'0000;        // strings live here
constexpr uint64_t kRegionSize = 0x4000;
constexpr uint64_t kUnmapped = 0xFFFF'B000'0000'0000;    // nothing mapped
constexpr uint64_t kNoAccess = 0xFFFF'C000'0000'0000;    // mapped, Prot::None

class FormatTest : public ::testing::Test {
 protected:
  FormatTest() {
    memory_.map(GuestVa{kBase}, kRegionSize, Prot::ReadWrite, RegionKind::Pool, "strings");
    memory_.map(GuestVa{kNoAccess}, kPageSize, Prot::None, RegionKind::Pool, "guard");
    memory_.write(GuestVa{kNoAccess}, std::string("secret\0", 7).data(), 7);
  }

  uint64_t alloc(size_t size) {
    const uint64_t va = kBase + next_;
    next_ += (size + 15) & ~size_t{15};
    EXPECT_LE(next_, kRegionSize);
    return va;
  }
  uint64_t ansi(std::string_view s) {
    const uint64_t va = alloc(s.size() + 1);
    memory_.write(GuestVa{va}, s.data(), s.size());
    memory_.write<char>(GuestVa{va + s.size()}, 0);
    return va;
  }
  uint64_t wide(std::u16string_view s) {
    const uint64_t va = alloc(2 * s.size() + 2);
    memory_.write(GuestVa{va}, s.data(), 2 * s.size());
    memory_.write<char16_t>(GuestVa{va + 2 * s.size()}, 0);
    return va;
  }
  // UNICODE_STRING / ANSI_STRING (x64 layout: Length, MaximumLength, pad, Buffer at 8).
  uint64_t counted(uint16_t length, uint16_t maximum, uint64_t buffer) {
    const uint64_t va = alloc(16);
    memory_.write<uint16_t>(GuestVa{va}, length);
    memory_.write<uint16_t>(GuestVa{va + 2}, maximum);
    memory_.write<uint32_t>(GuestVa{va + 4}, 0);
    memory_.write<uint64_t>(GuestVa{va + 8}, buffer);
    return va;
  }

  std::string fmt(std::string_view format, std::initializer_list<uint64_t> args = {}) {
    std::vector<uint64_t> slots(args);
    SpanFormatArgs a(slots);
    return format_windows(format, a, memory_);
  }

  AddressSpace memory_;
  size_t next_ = 0;
};

uint64_t neg(int64_t v) { return static_cast<uint64_t>(v); }

// ---- integers ----------------------------------------------------------------

TEST_F(FormatTest, SignedDecimal) {
  EXPECT_EQ(fmt("%d", {42}), "42");
  EXPECT_EQ(fmt("%i", {42}), "42");
  EXPECT_EQ(fmt("%d", {neg(-7)}), "-7");
  EXPECT_EQ(fmt("%d", {0}), "0");
  EXPECT_EQ(fmt("%d", {0x7FFFFFFF}), "2147483647");
  EXPECT_EQ(fmt("%d", {0x80000000}), "-2147483648");
}

TEST_F(FormatTest, DecimalUsesLow32BitsSignExtended) {
  EXPECT_EQ(fmt("%d", {0xFFFFFFFF}), "-1");
  EXPECT_EQ(fmt("%d", {0x100000005}), "5");
  EXPECT_EQ(fmt("%d", {0xDEADBEEF00000010}), "16");
  EXPECT_EQ(fmt("%ld", {0xFFFFFFFF}), "-1");  // long is 32 bits on Windows
}

TEST_F(FormatTest, UnsignedOctalHex) {
  EXPECT_EQ(fmt("%u", {0xFFFFFFFF}), "4294967295");
  EXPECT_EQ(fmt("%u", {0x1FFFFFFFF}), "4294967295");
  EXPECT_EQ(fmt("%u", {neg(-1)}), "4294967295");
  EXPECT_EQ(fmt("%o", {8}), "10");
  EXPECT_EQ(fmt("%x", {0x1234}), "1234");
  EXPECT_EQ(fmt("%X", {0xABCDEF}), "ABCDEF");
  EXPECT_EQ(fmt("%x", {0xabcdef}), "abcdef");
  EXPECT_EQ(fmt("%x", {0xFFFFF80012345678}), "12345678");
  EXPECT_EQ(fmt("%x", {0}), "0");
  EXPECT_EQ(fmt("%lx", {0xFFFFF80012345678}), "12345678");
}

TEST_F(FormatTest, WidthAndZeroPadding) {
  EXPECT_EQ(fmt("%08x", {0x1234}), "00001234");
  EXPECT_EQ(fmt("%8x|", {0x1234}), "    1234|");
  EXPECT_EQ(fmt("%5d", {42}), "   42");
  EXPECT_EQ(fmt("%05d", {neg(-42)}), "-0042");
  EXPECT_EQ(fmt("%2d", {12345}), "12345");
  EXPECT_EQ(fmt("%08X", {0xC0000022}), "C0000022");
  EXPECT_EQ(fmt("0x%08x", {0x103}), "0x00000103");
}

TEST_F(FormatTest, LeftJustify) {
  EXPECT_EQ(fmt("%-5d|", {42}), "42   |");
  EXPECT_EQ(fmt("%-08d|", {42}), "42      |");  // '-' wins over '0'
  EXPECT_EQ(fmt("%-6x|", {0xab}), "ab    |");
}

TEST_F(FormatTest, SignFlags) {
  EXPECT_EQ(fmt("%+d", {5}), "+5");
  EXPECT_EQ(fmt("%+d", {neg(-5)}), "-5");
  EXPECT_EQ(fmt("% d", {5}), " 5");
  EXPECT_EQ(fmt("% d", {neg(-5)}), "-5");
  EXPECT_EQ(fmt("%+ d", {5}), "+5");  // '+' wins over ' '
  EXPECT_EQ(fmt("%+05d", {5}), "+0005");
  EXPECT_EQ(fmt("%+u", {5}), "5");  // sign flags only affect signed conversions
  EXPECT_EQ(fmt("%+x", {5}), "5");
}

TEST_F(FormatTest, AlternateForm) {
  EXPECT_EQ(fmt("%#x", {255}), "0xff");
  EXPECT_EQ(fmt("%#X", {255}), "0XFF");
  EXPECT_EQ(fmt("%#x", {0}), "0");  // no prefix for zero
  EXPECT_EQ(fmt("%#o", {8}), "010");
  EXPECT_EQ(fmt("%#o", {0}), "0");
  EXPECT_EQ(fmt("%#010x", {255}), "0x000000ff");
  EXPECT_EQ(fmt("%#10x|", {255}), "      0xff|");
  EXPECT_EQ(fmt("%-#10x|", {255}), "0xff      |");
  EXPECT_EQ(fmt("%#.4x", {0x1f}), "0x001f");
}

TEST_F(FormatTest, IntegerPrecision) {
  EXPECT_EQ(fmt("%.5d", {42}), "00042");
  EXPECT_EQ(fmt("%.5d", {neg(-42)}), "-00042");
  EXPECT_EQ(fmt("%.3x", {0xf}), "00f");
  EXPECT_EQ(fmt("%08.3d", {42}), "     042");  // a precision turns '0' off
  EXPECT_EQ(fmt("%.0d", {0}), "");
  EXPECT_EQ(fmt("%+.0d", {0}), "+");
  EXPECT_EQ(fmt("%5.0d|", {0}), "     |");
  EXPECT_EQ(fmt("%.d", {0}), "");
  EXPECT_EQ(fmt("%#.0o", {0}), "0");
}

TEST_F(FormatTest, LengthModifiers64) {
  EXPECT_EQ(fmt("%I64x", {0xFFFFF80012345678}), "fffff80012345678");
  EXPECT_EQ(fmt("%I64X", {0xFFFFF80012345678}), "FFFFF80012345678");
  EXPECT_EQ(fmt("%llx", {0xFFFFF80012345678}), "fffff80012345678");
  EXPECT_EQ(fmt("%I64d", {neg(-1)}), "-1");
  EXPECT_EQ(fmt("%lld", {0x8000000000000000}), "-9223372036854775808");
  EXPECT_EQ(fmt("%lli", {0x100000000}), "4294967296");
  EXPECT_EQ(fmt("%I64u", {~0ull}), "18446744073709551615");
  EXPECT_EQ(fmt("%llo", {~0ull}), "1777777777777777777777");
  EXPECT_EQ(fmt("%Ix", {0xFFFFF80012345678}), "fffff80012345678");  // I = pointer size
  EXPECT_EQ(fmt("%Id", {neg(-3)}), "-3");
  EXPECT_EQ(fmt("%Iu", {0x100000000}), "4294967296");
  EXPECT_EQ(fmt("%zx", {0x123456789}), "123456789");
  EXPECT_EQ(fmt("%zu", {0x100000000}), "4294967296");
  EXPECT_EQ(fmt("%tx", {0x123456789}), "123456789");
  EXPECT_EQ(fmt("%td", {neg(-4294967296)}), "-4294967296");
  EXPECT_EQ(fmt("%jx", {0x123456789}), "123456789");
  EXPECT_EQ(fmt("%016I64x", {0x1234}), "0000000000001234");
}

TEST_F(FormatTest, LengthModifiers32AndShorter) {
  EXPECT_EQ(fmt("%I32x", {0xFFFFF80012345678}), "12345678");
  EXPECT_EQ(fmt("%I32d", {0xFFFFFFFF}), "-1");
  EXPECT_EQ(fmt("%hd", {0x12348000}), "-32768");
  EXPECT_EQ(fmt("%hu", {0x1FFFF}), "65535");
  EXPECT_EQ(fmt("%hx", {0x12345}), "2345");
  EXPECT_EQ(fmt("%hhd", {0xFF}), "-1");
  EXPECT_EQ(fmt("%hhu", {0x1FF}), "255");
  EXPECT_EQ(fmt("%hhx", {0xABCD}), "cd");
  EXPECT_EQ(fmt("%wd", {0x100000007}), "7");
  EXPECT_EQ(fmt("%Lx", {0x100000007}), "7");
}

// ---- pointers ----------------------------------------------------------------

TEST_F(FormatTest, Pointer) {
  EXPECT_EQ(fmt("%p", {0xFFFFF80012345678}), "FFFFF80012345678");
  EXPECT_EQ(fmt("%p", {0x1234}), "0000000000001234");
  EXPECT_EQ(fmt("%p", {0}), "0000000000000000");
  EXPECT_EQ(fmt("%p", {0x7FFFFFFF0000}), "00007FFFFFFF0000");
  EXPECT_EQ(fmt("%20p|", {0xFFFFF80012345678}), "    FFFFF80012345678|");
  EXPECT_EQ(fmt("%-20p|", {0xFFFFF80012345678}), "FFFFF80012345678    |");
  EXPECT_EQ(fmt("%020p", {0x1}), "    0000000000000001");  // precision is forced: '0' off
  EXPECT_EQ(fmt("%.4p", {0x1}), "0000000000000001");
  EXPECT_EQ(fmt("%#p", {0xFFFFF80012345678}), "0XFFFFF80012345678");
}

// ---- characters ----------------------------------------------------------------

TEST_F(FormatTest, Characters) {
  EXPECT_EQ(fmt("%c", {'A'}), "A");
  EXPECT_EQ(fmt("%c", {0x141}), "A");  // low byte
  EXPECT_EQ(fmt("%hc", {'z'}), "z");
  EXPECT_EQ(fmt("%3c", {'A'}), "  A");
  EXPECT_EQ(fmt("%-3c|", {'A'}), "A  |");
  EXPECT_EQ(fmt("%03c", {'A'}), "00A");  // the CRT zero-pads any conversion
  EXPECT_EQ(fmt("[%c%c]", {'o', 'k'}), "[ok]");
}

TEST_F(FormatTest, WideCharacters) {
  EXPECT_EQ(fmt("%C", {'W'}), "W");
  EXPECT_EQ(fmt("%wc", {'B'}), "B");
  EXPECT_EQ(fmt("%lc", {0xE9}), "\xC3\xA9");          // é
  EXPECT_EQ(fmt("%C", {0x263A}), "\xE2\x98\xBA");     // ☺
  EXPECT_EQ(fmt("%C", {0x10041}), "A");               // a WCHAR is 16 bits
  EXPECT_EQ(fmt("%hC", {'x'}), "x");                  // %hC is ANSI
  EXPECT_EQ(fmt("%3C|", {0x263A}), "  \xE2\x98\xBA|");  // width counts characters
}

// ---- strings ----------------------------------------------------------------

TEST_F(FormatTest, AnsiStrings) {
  const uint64_t hello = ansi("hello");
  const uint64_t abc = ansi("abcdef");
  EXPECT_EQ(fmt("%s", {hello}), "hello");
  EXPECT_EQ(fmt("%hs", {hello}), "hello");
  EXPECT_EQ(fmt("%hS", {hello}), "hello");
  EXPECT_EQ(fmt("[%s]", {ansi("")}), "[]");
  EXPECT_EQ(fmt("%.3s", {abc}), "abc");
  EXPECT_EQ(fmt("%.0s|", {abc}), "|");
  EXPECT_EQ(fmt("%.10s", {abc}), "abcdef");
  EXPECT_EQ(fmt("%8s|", {hello}), "   hello|");
  EXPECT_EQ(fmt("%-8s|", {hello}), "hello   |");
  EXPECT_EQ(fmt("%8.2s|", {abc}), "      ab|");
  EXPECT_EQ(fmt("%07s", {hello}), "00hello");
  EXPECT_EQ(fmt("%s=%d", {hello, 3}), "hello=3");
}

TEST_F(FormatTest, WideStrings) {
  const uint64_t w = wide(u"wide");
  EXPECT_EQ(fmt("%S", {w}), "wide");
  EXPECT_EQ(fmt("%ws", {w}), "wide");
  EXPECT_EQ(fmt("%ls", {w}), "wide");
  EXPECT_EQ(fmt("%wS", {w}), "wide");
  EXPECT_EQ(fmt("%.2ws", {w}), "wi");
  EXPECT_EQ(fmt("%6ws|", {w}), "  wide|");
  EXPECT_EQ(fmt("%-6S|", {w}), "wide  |");
  EXPECT_EQ(fmt("[%ws]", {wide(u"")}), "[]");
}

TEST_F(FormatTest, NonAsciiUtf16BecomesUtf8) {
  EXPECT_EQ(fmt("%ws", {wide(u"caf\u00e9 \u20ac")}), "caf\xC3\xA9 \xE2\x82\xAC");
  EXPECT_EQ(fmt("%ws", {wide(u"\U0001F600")}), "\xF0\x9F\x98\x80");  // surrogate pair
  const char16_t lone[] = {u'a', 0xD800, u'b', 0};
  EXPECT_EQ(fmt("%ws", {wide(lone)}), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(fmt("%5ws|", {wide(u"\u00e9")}), "    \xC3\xA9|");  // width counts UTF-16 units
}

TEST_F(FormatTest, NullStrings) {
  EXPECT_EQ(fmt("%s", {0}), "(null)");
  EXPECT_EQ(fmt("%S", {0}), "(null)");
  EXPECT_EQ(fmt("%ws", {0}), "(null)");
  EXPECT_EQ(fmt("%Z", {0}), "(null)");
  EXPECT_EQ(fmt("%wZ", {0}), "(null)");
  EXPECT_EQ(fmt("%.3s", {0}), "(nu");  // the CRT applies the precision to "(null)"
  EXPECT_EQ(fmt("%8s|", {0}), "  (null)|");
}

TEST_F(FormatTest, UnreadableStrings) {
  EXPECT_EQ(fmt("%s", {kUnmapped}), "(invalid)");
  EXPECT_EQ(fmt("%ws", {kUnmapped}), "(invalid)");
  EXPECT_EQ(fmt("%S", {0x10}), "(invalid)");
  EXPECT_EQ(fmt("%s", {kNoAccess}), "(invalid)");  // mapped but no-access
  EXPECT_EQ(fmt("%s|%d", {kUnmapped, 5}), "(invalid)|5");
  EXPECT_EQ(fmt("%wZ", {kUnmapped}), "(invalid)");
  EXPECT_EQ(fmt("%Z", {kUnmapped}), "(invalid)");
  EXPECT_EQ(fmt("%wZ", {counted(4, 4, kUnmapped)}), "(invalid)");
  EXPECT_EQ(fmt("%s", {0xFFFFFFFFFFFFFFFF}), "(invalid)");
}

TEST_F(FormatTest, StringRunningIntoUnmappedMemory) {
  // "abc" in the last bytes of the region, no terminator before the end.
  const uint64_t tail = kBase + kRegionSize - 3;
  memory_.write(GuestVa{tail}, "abc", 3);
  EXPECT_EQ(fmt("%s", {tail}), "(invalid)");
  EXPECT_EQ(fmt("%.3s", {tail}), "abc");  // the precision stops before the end
  EXPECT_EQ(fmt("%.2s", {tail}), "ab");
}

TEST_F(FormatTest, StringCrossingPages) {
  const uint64_t va = kBase + kPageSize - 2;
  memory_.write(GuestVa{va}, "spans\0", 6);
  EXPECT_EQ(fmt("%s", {va}), "spans");
  const uint64_t wva = kBase + 2 * kPageSize - 3;  // odd address, a code unit straddles
  memory_.write(GuestVa{wva}, u"xyz", 8);
  EXPECT_EQ(fmt("%ws", {wva}), "xyz");
}

TEST_F(FormatTest, StringReadsAreBounded) {
  constexpr uint64_t big = 0xFFFF'D000'0000'0000;
  memory_.map(GuestVa{big}, 0x20000, Prot::ReadWrite, RegionKind::Pool, "big");
  std::vector<char> fill(0x20000, 'A');
  memory_.write(GuestVa{big}, fill.data(), fill.size());
  EXPECT_EQ(fmt("%s", {big}).size(), kMaxStringBytes);
  std::u16string wfill(0x10000, u'W');
  memory_.write(GuestVa{big}, wfill.data(), 2 * wfill.size());
  EXPECT_EQ(fmt("%ws", {big}), std::string(kMaxStringBytes / 2, 'W'));
}

// ---- counted strings ----------------------------------------------------------

TEST_F(FormatTest, UnicodeString) {
  const uint64_t buf = wide(u"abcdef");
  EXPECT_EQ(fmt("%wZ", {counted(12, 14, buf)}), "abcdef");
  EXPECT_EQ(fmt("%wZ", {counted(6, 14, buf)}), "abc");  // Length shorter than the buffer
  EXPECT_EQ(fmt("%wZ", {counted(7, 14, buf)}), "abc");  // odd byte length
  EXPECT_EQ(fmt("[%wZ]", {counted(0, 14, buf)}), "[]");
  EXPECT_EQ(fmt("%wZ", {counted(6, 14, 0)}), "(null)");  // Buffer NULL
  EXPECT_EQ(fmt("%10wZ|", {counted(6, 14, buf)}), "       abc|");
  EXPECT_EQ(fmt("%-5wZ|", {counted(6, 14, buf)}), "abc  |");
  EXPECT_EQ(fmt("%.1wZ", {counted(6, 14, buf)}), "abc");  // precision ignored for %Z
  EXPECT_EQ(fmt("%wZ", {counted(6, 6, wide(u"\u00e9t\u00e9"))}), "\xC3\xA9t\xC3\xA9");
}

TEST_F(FormatTest, UnicodeStringIsNotNulTerminated) {
  // Length covers "ab"; the buffer continues without a NUL up to the end of the region.
  const uint64_t tail = kBase + kRegionSize - 4;
  memory_.write(GuestVa{tail}, u"ab", 4);
  EXPECT_EQ(fmt("%wZ", {counted(4, 4, tail)}), "ab");
  EXPECT_EQ(fmt("%wZ", {counted(8, 8, tail)}), "(invalid)");  // Length reaches unmapped memory
}

TEST_F(FormatTest, AnsiString) {
  const uint64_t buf = ansi("hello world");
  EXPECT_EQ(fmt("%Z", {counted(4, 12, buf)}), "hell");
  EXPECT_EQ(fmt("%Z", {counted(11, 12, buf)}), "hello world");
  EXPECT_EQ(fmt("%Z", {counted(3, 3, 0)}), "(null)");
  EXPECT_EQ(fmt("%7Z|", {counted(5, 12, buf)}), "  hello|");
}

TEST_F(FormatTest, RegistryPathLikeDriverEntry) {
  const std::u16string path = u"\\Registry\\Machine\\System\\CurrentControlSet\\Services\\hello";
  const uint64_t us = counted(static_cast<uint16_t>(2 * path.size()),
                              static_cast<uint16_t>(2 * path.size() + 2), wide(path));
  EXPECT_EQ(fmt("hello: DriverEntry registry=%wZ\n", {us}),
            "hello: DriverEntry registry=\\Registry\\Machine\\System\\CurrentControlSet\\Services\\hello\n");
}

// ---- '*' width and precision ------------------------------------------------------

TEST_F(FormatTest, StarWidthAndPrecision) {
  const uint64_t abc = ansi("abcdef");
  EXPECT_EQ(fmt("%*d", {5, 42}), "   42");
  EXPECT_EQ(fmt("%-*d|", {4, 7}), "7   |");
  EXPECT_EQ(fmt("%*d|", {neg(-4), 7}), "7   |");  // negative width means '-'
  EXPECT_EQ(fmt("%0*x", {8, 0xbeef}), "0000beef");
  EXPECT_EQ(fmt("%.*s", {2, abc}), "ab");
  EXPECT_EQ(fmt("%*.*s|", {6, 2, abc}), "    ab|");
  EXPECT_EQ(fmt("%.*d", {neg(-1), 5}), "5");  // negative precision means none
  EXPECT_EQ(fmt("%.*s", {neg(-1), abc}), "abcdef");
  EXPECT_EQ(fmt("%*s|", {0x100000003, abc}), "abcdef|");  // '*' takes an int (low 32 bits)
}

// ---- %n, %%, unknown and truncated specifications ---------------------------------

TEST_F(FormatTest, PercentN) {
  const uint64_t target = alloc(8);
  memory_.write<uint64_t>(GuestVa{target}, 0x1111);
  EXPECT_EQ(fmt("a%nb%d", {target, 7}), "ab7");  // consumes its argument
  EXPECT_EQ(memory_.read<uint64_t>(GuestVa{target}), 0x1111u);  // and writes nothing
}

TEST_F(FormatTest, Percent) {
  EXPECT_EQ(fmt("100%%"), "100%");
  EXPECT_EQ(fmt("%%d", {5}), "%d");
  EXPECT_EQ(fmt("%5%"), "%");
}

TEST_F(FormatTest, UnknownConversionsAreCopied) {
  EXPECT_EQ(fmt("%k"), "%k");
  EXPECT_EQ(fmt("%-5k|"), "%-5k|");
  EXPECT_EQ(fmt("%y%d", {3}), "%y3");  // no argument consumed by the unknown one
  EXPECT_EQ(fmt("abc%"), "abc%");
  EXPECT_EQ(fmt("%l"), "%l");
  EXPECT_EQ(fmt("%08"), "%08");
}

TEST_F(FormatTest, PlainTextAndEmpty) {
  EXPECT_EQ(fmt(""), "");
  EXPECT_EQ(fmt("no conversions\n"), "no conversions\n");
}

// ---- floating point (the slot holds the double's bits) ------------------------------

TEST_F(FormatTest, Floating) {
  auto bits = [](double d) { return std::bit_cast<uint64_t>(d); };
  EXPECT_EQ(fmt("%f", {bits(1.5)}), "1.500000");
  EXPECT_EQ(fmt("%.2f", {bits(3.14159)}), "3.14");
  EXPECT_EQ(fmt("%8.3f|", {bits(-2.5)}), "  -2.500|");
  EXPECT_EQ(fmt("%g", {bits(0.0001)}), "0.0001");
}

// ---- a whole DbgPrint line and the argument sources ----------------------------------

TEST_F(FormatTest, MixedLikeTheHelloSample) {
  EXPECT_EQ(fmt("hello: %ws %s x=%x d=%d neg=%d\n",
                {wide(u"wide"), ansi("narrow"), 0xBEEF, 42, neg(-7)}),
            "hello: wide narrow x=beef d=42 neg=-7\n");
  EXPECT_EQ(fmt("status 0x%08x at %p", {0xC0000005, 0xFFFFF80000401234}),
            "status 0xc0000005 at FFFFF80000401234");
}

TEST_F(FormatTest, MissingArgumentsAreZero) {
  EXPECT_EQ(fmt("%d %x %s"), "0 0 (null)");
}

TEST_F(FormatTest, GuestSlotArgs) {
  const uint64_t slots = alloc(24);
  memory_.write<uint64_t>(GuestVa{slots}, 42);
  memory_.write<uint64_t>(GuestVa{slots + 8}, ansi("va"));
  memory_.write<uint64_t>(GuestVa{slots + 16}, 0xFFFFF80012345678);
  GuestSlotArgs args(memory_, GuestVa{slots});
  EXPECT_EQ(format_windows("%d %s %p", args, memory_), "42 va FFFFF80012345678");

  GuestSlotArgs bad(memory_, GuestVa{kUnmapped});
  EXPECT_EQ(format_windows("%d %x", bad, memory_), "0 0");
}

TEST_F(FormatTest, OutputIsBounded) {
  std::string format;
  for (int i = 0; i < 20; ++i) format += "%100000d";  // width capped at 64 Ki each
  const std::string out = fmt(format);
  EXPECT_EQ(out.size(), kMaxOutputBytes);
  EXPECT_EQ(fmt("%100000d", {1}).size(), 65536u);
}

}  // namespace
}  // namespace kemu::nt::rtl
