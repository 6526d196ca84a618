// ntoskrnl's C runtime string and printf routines (rtl/crt_exports.cpp):
// return values and stored bytes as the Microsoft CRT gives them.
#include "ntoskrnl-stubs/rtl/crt.h"

#include <gtest/gtest.h>

#include "unit/rtl/rtl_fixture.h"

namespace kemu::nt {
namespace {

using rtl::SpanFormatArgs;
using test::RtlFixture;

class Crt : public RtlFixture {
 protected:
  int32_t snwprintf(GuestVa buf, uint64_t count, std::u16string_view format,
                    std::vector<uint64_t> args) {
    SpanFormatArgs a(args);
    return snwprintf_with_args(kernel_, buf, count, wide(format), a);
  }
  int32_t snprintf(GuestVa buf, uint64_t count, std::string_view format,
                   std::vector<uint64_t> args) {
    SpanFormatArgs a(args);
    return snprintf_with_args(kernel_, buf, count, ansi(format), a);
  }
};

TEST_F(Crt, StrcmpIsMinusOneZeroOrOne) {
  EXPECT_EQ(nt::strcmp(kernel_, ansi("abc"), ansi("abd")), -1);
  EXPECT_EQ(nt::strcmp(kernel_, ansi("abz"), ansi("aba")), 1);
  EXPECT_EQ(nt::strcmp(kernel_, ansi("abc"), ansi("abc")), 0);
  EXPECT_EQ(nt::strcmp(kernel_, ansi("ab"), ansi("abc")), -1);
  EXPECT_EQ(nt::wcscmp(kernel_, wide(u"b"), wide(u"a")), 1);
  // Characters compare unsigned: 0xE9 sorts after 'z'.
  EXPECT_EQ(nt::strcmp(kernel_, ansi("\xE9"), ansi("z")), 1);
}

TEST_F(Crt, StrncmpReturnsTheDifference) {
  EXPECT_EQ(nt::strncmp(kernel_, ansi("abcX"), ansi("abcY"), 3), 0);
  EXPECT_EQ(nt::strncmp(kernel_, ansi("abz"), ansi("aba"), 3), 25);
  EXPECT_EQ(nt::strncmp(kernel_, ansi("ab"), ansi("abc"), 5), -99);
  EXPECT_EQ(nt::strncmp(kernel_, ansi("x"), ansi("y"), 0), 0);
  EXPECT_EQ(nt::wcsncmp(kernel_, wide(u"ab\u0100"), wide(u"ab"), 3), 0x100);
  EXPECT_EQ(nt::wcsncmp(kernel_, wide(u"abc"), wide(u"abd"), 2), 0);
}

TEST_F(Crt, CaseInsensitiveComparesLowercase) {
  EXPECT_EQ(nt::_stricmp(kernel_, ansi("HELLO"), ansi("hello")), 0);
  // Both sides are lowered: '_' (0x5F) - 'a' (0x61), not '_' - 'A'.
  EXPECT_EQ(nt::_stricmp(kernel_, ansi("ABC_"), ansi("abcA")), -2);
  EXPECT_EQ(nt::_stricmp(kernel_, ansi("Zebra"), ansi("apple")), 25);
  EXPECT_EQ(nt::_strnicmp(kernel_, ansi("ABCdef"), ansi("abcXYZ"), 3), 0);
  EXPECT_EQ(nt::_strnicmp(kernel_, ansi("ABCdef"), ansi("abcXYZ"), 4), 'd' - 'x');
  EXPECT_EQ(nt::_wcsicmp(kernel_, wide(u"Driver.SYS"), wide(u"driver.sys")), 0);
  // Only ASCII letters fold ("C" locale): U+00C9 and U+00E9 differ.
  EXPECT_EQ(nt::_wcsicmp(kernel_, wide(u"\u00C9"), wide(u"\u00E9")), 0xC9 - 0xE9);
  EXPECT_EQ(nt::_wcsnicmp(kernel_, wide(u"\\Device\\Foo"), wide(u"\\DEVICE\\bar"), 8), 0);
  EXPECT_EQ(nt::_wcsnicmp(kernel_, wide(u"\\Device\\Foo"), wide(u"\\DEVICE\\bar"), 9), 'f' - 'b');
}

TEST_F(Crt, CharacterAndSubstringSearch) {
  GuestVa s = ansi("hello");
  EXPECT_EQ(nt::strchr(kernel_, s, 'l'), s + 2);
  EXPECT_EQ(nt::strchr(kernel_, s, 0), s + 5);      // the terminator itself
  EXPECT_EQ(nt::strchr(kernel_, s, 0x16C), s + 2);  // converted to char
  EXPECT_EQ(nt::strchr(kernel_, s, 'z'), GuestVa{});
  EXPECT_EQ(nt::strrchr(kernel_, s, 'l'), s + 3);
  EXPECT_EQ(nt::strrchr(kernel_, s, 0), s + 5);
  GuestVa h = ansi("aaab");
  EXPECT_EQ(nt::strstr(kernel_, h, ansi("aab")), h + 1);
  EXPECT_EQ(nt::strstr(kernel_, h, ansi("")), h);
  EXPECT_EQ(nt::strstr(kernel_, h, ansi("b!")), GuestVa{});
  GuestVa w = wide(u"C:\\dir\\file.sys");
  EXPECT_EQ(nt::wcschr(kernel_, w, u'\\'), w + 4);
  EXPECT_EQ(nt::wcsrchr(kernel_, w, u'\\'), w + 12);
  EXPECT_EQ(nt::wcsstr(kernel_, w, wide(u"file")), w + 14);
  EXPECT_EQ(nt::wcsstr(kernel_, w, wide(u"File")), GuestVa{});
}

TEST_F(Crt, StrncpyPadsOrLeavesNoTerminator) {
  GuestVa d = buffer(8);
  EXPECT_EQ(nt::strncpy(kernel_, d, ansi("abc"), 6), d);
  EXPECT_EQ(bytes_at(d, 8), std::string("abc\0\0\0\xCC\xCC", 8));
  GuestVa e = buffer(8);
  nt::strncpy(kernel_, e, ansi("abcdef"), 3);
  EXPECT_EQ(bytes_at(e, 4), "abc\xCC");
  GuestVa w = buffer(8);
  nt::wcsncpy(kernel_, w, wide(u"xy"), 3);
  EXPECT_EQ(units_at(w, 4), std::u16string(u"xy\0\xCCCC", 4));
}

TEST_F(Crt, ConcatenationAlwaysTerminates) {
  GuestVa d = buffer(16);
  nt::strcpy(kernel_, d, ansi("ab"));
  nt::strncat(kernel_, d, ansi("cdef"), 2);
  EXPECT_EQ(bytes_at(d, 6), std::string("abcd\0\xCC", 6));
  nt::strcat(kernel_, d, ansi("XY"));
  EXPECT_EQ(bytes_at(d, 7), std::string("abcdXY\0", 7));
  GuestVa w = buffer(16);
  nt::wcscpy(kernel_, w, wide(u"a"));
  nt::wcsncat(kernel_, w, wide(u"bc"), 5);
  nt::wcscat(kernel_, w, wide(u"d"));
  EXPECT_EQ(units_at(w, 5), std::u16string(u"abcd\0", 5));
}

TEST_F(Crt, WcscpySReportsAndResets) {
  GuestVa d = buffer(8);
  EXPECT_EQ(nt::wcscpy_s(kernel_, d, 4, wide(u"abc")), 0);
  EXPECT_EQ(units_at(d, 4), std::u16string(u"abc\0", 4));
  // Too long: the units are copied until the size runs out, then d[0] = 0.
  GuestVa e = buffer(8);
  EXPECT_EQ(nt::wcscpy_s(kernel_, e, 4, wide(u"abcd")), crt_errno::kErange);
  EXPECT_EQ(units_at(e, 4), std::u16string(u"\0bcd", 4));
  GuestVa f = buffer(8);
  EXPECT_EQ(nt::wcscpy_s(kernel_, f, 0, wide(u"a")), crt_errno::kEinval);
  EXPECT_EQ(units_at(f, 1), u"\xCCCC");  // untouched
  EXPECT_EQ(nt::wcscpy_s(kernel_, f, 4, GuestVa{}), crt_errno::kEinval);
  EXPECT_EQ(units_at(f, 2), std::u16string(u"\0\xCCCC", 2));
  EXPECT_EQ(nt::wcscpy_s(kernel_, GuestVa{}, 4, wide(u"a")), crt_errno::kEinval);
  GuestVa n = buffer(4);
  EXPECT_EQ(nt::strcpy_s(kernel_, n, 3, ansi("ab")), 0);
  EXPECT_EQ(bytes_at(n, 4), std::string("ab\0\xCC", 4));
}

TEST_F(Crt, WcsncatSCountTruncateAndErrors) {
  GuestVa d = buffer(16);
  nt::wcscpy(kernel_, d, wide(u"ab"));
  EXPECT_EQ(nt::wcsncat_s(kernel_, d, 8, wide(u"cdef"), 2), 0);
  EXPECT_EQ(units_at(d, 5), std::u16string(u"abcd\0", 5));
  // _TRUNCATE: as much as fits, terminated, STRUNCATE.
  GuestVa t = buffer(16);
  nt::wcscpy(kernel_, t, wide(u"ab"));
  EXPECT_EQ(nt::wcsncat_s(kernel_, t, 5, wide(u"cdef"), kTruncate), crt_errno::kStruncate);
  EXPECT_EQ(units_at(t, 5), std::u16string(u"abcd\0", 5));
  // A count that does not fit: copied until the size runs out, then reset.
  GuestVa r = buffer(16);
  nt::wcscpy(kernel_, r, wide(u"ab"));
  EXPECT_EQ(nt::wcsncat_s(kernel_, r, 5, wide(u"cdef"), 10), crt_errno::kErange);
  EXPECT_EQ(units_at(r, 5), std::u16string(u"\0bcde", 5));
  // The destination has no terminator within its size.
  GuestVa u = buffer(16, 0x41);
  EXPECT_EQ(nt::wcsncat_s(kernel_, u, 3, wide(u"x"), 1), crt_errno::kEinval);
  EXPECT_EQ(units_at(u, 2), std::u16string(u"\0\x4141", 2));
  EXPECT_EQ(nt::wcsncat_s(kernel_, GuestVa{}, 0, GuestVa{}, 0), 0);
}

TEST_F(Crt, StrncpySAndStrcatS) {
  GuestVa d = buffer(8);
  EXPECT_EQ(nt::strncpy_s(kernel_, d, 8, ansi("abcdef"), 3), 0);
  EXPECT_EQ(bytes_at(d, 5), std::string("abc\0\xCC", 5));
  GuestVa t = buffer(8);
  EXPECT_EQ(nt::strncpy_s(kernel_, t, 4, ansi("abcdef"), kTruncate), crt_errno::kStruncate);
  EXPECT_EQ(bytes_at(t, 5), std::string("abc\0\xCC", 5));
  GuestVa e = buffer(8);
  EXPECT_EQ(nt::strncpy_s(kernel_, e, 4, ansi("abcdef"), 5), crt_errno::kErange);
  EXPECT_EQ(bytes_at(e, 5), std::string("\0bcd\xCC", 5));
  GuestVa c = buffer(8);
  nt::strcpy(kernel_, c, ansi("ab"));
  EXPECT_EQ(nt::strcat_s(kernel_, c, 5, ansi("cd")), 0);
  EXPECT_EQ(nt::strcat_s(kernel_, c, 5, ansi("e")), crt_errno::kErange);
  EXPECT_EQ(bytes_at(c, 5), std::string("\0bcde", 5));
}

TEST_F(Crt, MemcpySZeroesTheDestinationOnError) {
  GuestVa d = buffer(8);
  GuestVa s = ansi("12345678");
  EXPECT_EQ(nt::memcpy_s(kernel_, d, 8, s, 4), 0);
  EXPECT_EQ(bytes_at(d, 8), std::string("1234\xCC\xCC\xCC\xCC", 8));
  EXPECT_EQ(nt::memcpy_s(kernel_, d, 4, s, 8), crt_errno::kErange);
  EXPECT_EQ(bytes_at(d, 8), std::string("\0\0\0\0\xCC\xCC\xCC\xCC", 8));
  GuestVa e = buffer(4);
  EXPECT_EQ(nt::memcpy_s(kernel_, e, 4, GuestVa{}, 2), crt_errno::kEinval);
  EXPECT_EQ(bytes_at(e, 4), std::string(4, '\0'));
  EXPECT_EQ(nt::memcpy_s(kernel_, GuestVa{}, 4, s, 2), crt_errno::kEinval);
  EXPECT_EQ(nt::memcpy_s(kernel_, GuestVa{}, 0, GuestVa{}, 0), 0);
  GuestVa m = ansi("abcdef");
  EXPECT_EQ(nt::memmove_s(kernel_, m + 1, 5, m, 4), 0);  // overlapping, forwards
  EXPECT_EQ(bytes_at(m, 6), "aabcdf");
  EXPECT_EQ(nt::memmove_s(kernel_, m, 2, m + 1, 3), crt_errno::kErange);
}

TEST_F(Crt, SnwprintfTerminatesOnlyWhenItFits) {
  GuestVa b = buffer(16);
  GuestVa ab = wide(u"ab");
  EXPECT_EQ(snwprintf(b, 8, u"%s-%d", {ab.value, 7}), 4);
  EXPECT_EQ(units_at(b, 6), std::u16string(u"ab-7\0\xCCCC", 6));
  // Exactly count characters: stored, no terminator, count returned.
  GuestVa c = buffer(16);
  EXPECT_EQ(snwprintf(c, 4, u"%s-%d", {ab.value, 7}), 4);
  EXPECT_EQ(units_at(c, 5), std::u16string(u"ab-7\xCCCC", 5));
  // More than count: count characters, no terminator, -1.
  GuestVa d = buffer(16);
  EXPECT_EQ(snwprintf(d, 3, u"%s-%d", {ab.value, 7}), -1);
  EXPECT_EQ(units_at(d, 4), std::u16string(u"ab-\xCCCC", 4));
}

TEST_F(Crt, WidePrintfTakesWideStringsForLowercaseS) {
  GuestVa b = buffer(64);
  GuestVa narrow_xy = ansi("xy"), narrow_z = ansi("z"), wide_w = wide(u"w");
  EXPECT_EQ(snwprintf(b, 32, u"%S|%hs|%ls|%c|%C|%wc",
                      {narrow_xy.value, narrow_z.value, wide_w.value, u'Q', 'n', 0x263A}),
            12);
  EXPECT_EQ(units_at(b, 13), std::u16string(u"xy|z|w|Q|n|\u263A\0", 13));
  // %wZ: a UNICODE_STRING (Length bytes, no terminator needed).
  GuestVa name = counted(6, 6, wide(u"KemuX"));
  GuestVa c = buffer(32);
  EXPECT_EQ(snwprintf(c, 16, u"[%wZ] %08X", {name.value, 0xBEEF}), 14);
  EXPECT_EQ(units_at(c, 15), std::u16string(u"[Kem] 0000BEEF\0", 15));
}

TEST_F(Crt, SnprintfNarrowRules) {
  GuestVa b = buffer(16);
  EXPECT_EQ(snprintf(b, 16, "%s=%ws", {ansi("k").value, wide(u"v").value}), 3);
  EXPECT_EQ(bytes_at(b, 5), std::string("k=v\0\xCC", 5));
  GuestVa c = buffer(16);
  EXPECT_EQ(snprintf(c, 2, "%d", {12345}), -1);
  EXPECT_EQ(bytes_at(c, 3), "12\xCC");
  // NULL buffer and count 0: only the length.
  SpanFormatArgs none(std::span<const uint64_t>{});
  EXPECT_EQ(snprintf_with_args(kernel_, GuestVa{}, 0, ansi("abc%%"), none), 4);
  // A wide character the "C" locale cannot convert fails the call.
  GuestVa d = buffer(16);
  EXPECT_EQ(snprintf(d, 16, "a%wsb", {wide(u"\u263A").value}), -1);
  EXPECT_EQ(bytes_at(d, 3), std::string("ab\0", 3));
}

TEST_F(Crt, VsnprintfReadsTheVaList) {
  GuestVa list = alloc(24);
  mem().write<uint64_t>(list, 42);
  mem().write<uint64_t>(list + 8, ansi("drv").value);
  GuestVa b = buffer(32);
  EXPECT_EQ(nt::_vsnprintf(kernel_, b, 32, ansi("%u:%s"), list), 6);
  EXPECT_EQ(bytes_at(b, 7), std::string("42:drv\0", 7));
  mem().write<uint64_t>(list + 8, wide(u"drv").value);
  GuestVa w = buffer(32);
  EXPECT_EQ(nt::_vsnwprintf(kernel_, w, 16, wide(u"%03d%s"), list), 6);
  EXPECT_EQ(units_at(w, 7), std::u16string(u"042drv\0", 7));
}

TEST_F(Crt, SprintfAndSwprintfWriteEverything) {
  GuestVa b = buffer(16);
  const std::vector<uint64_t> five{5};
  SpanFormatArgs a(five);
  EXPECT_EQ(sprintf_with_args(kernel_, b, ansi("<%-3d>"), a), 5);
  EXPECT_EQ(bytes_at(b, 6), std::string("<5  >\0", 6));
  GuestVa w = buffer(16);
  const std::vector<uint64_t> fifty{50};
  SpanFormatArgs p(fifty);
  EXPECT_EQ(swprintf_with_args(kernel_, w, wide(u"%d%%"), p), 3);
  EXPECT_EQ(units_at(w, 4), std::u16string(u"50%\0", 4));
}

TEST_F(Crt, StoresFaultWhereTheRoutineWould) {
  // The buffer's last 4 bytes are writable, the next page is read-only: two
  // units are stored, then the write to the read-only page faults there.
  GuestVa b = kReadOnly - 4;
  try {
    snwprintf(b, 8, u"abcdef", {});
    FAIL() << "expected a fault";
  } catch (const emu::GuestAccessError& e) {
    EXPECT_EQ(e.address, kReadOnly);
    EXPECT_TRUE(e.write);
  }
  EXPECT_EQ(units_at(b, 2), u"ab");
  try {
    nt::strlen(kernel_, kUnmapped);
    FAIL() << "expected a fault";
  } catch (const emu::GuestAccessError& e) {
    EXPECT_EQ(e.address, kUnmapped);
  }
  EXPECT_THROW(nt::strcpy(kernel_, kReadOnly, ansi("x")), emu::GuestAccessError);
  EXPECT_EQ(nt::toupper(kernel_, 'q'), 'Q');
  EXPECT_EQ(nt::towlower(kernel_, u'\u00C9'), 0xC9);  // only ASCII letters change
}

}  // namespace
}  // namespace kemu::nt
