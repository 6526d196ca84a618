// The printf engine of the NT kernel (DbgPrint, DbgPrintEx, vDbgPrintEx,
// _vsnprintf, RtlStringCbPrintf's helpers), formatting on the host with
// strings read from guest memory.
//
// Conventions are those of the Microsoft C runtime the kernel's formatter
// derives from (not glibc's):
//   flags      - + space # 0      ('0' pads strings and chars with zeros too;
//                                  '-' wins over '0'; a precision on an integer
//                                  conversion turns '0' off)
//   width      digits or * (a negative * width means '-' and its magnitude)
//   precision  .digits or .* (a negative * precision means "none")
//   length     h hh l ll w I I32 I64 z t j L
//              integers are 32 bits unless ll, I64, I (x64: 64), z, t or j;
//              h is 16 bits, hh 8; l and L change nothing for integers
//              (long is 32 bits on Windows)
//   d i u x X o    integers (%x of a 64-bit slot prints its low 32 bits)
//   c C            char; %C, %wc, %lc a UTF-16 code unit (shown as UTF-8)
//   s S            %s/%hs/%hS ANSI, %S/%ls/%ws UTF-16; precision counts
//                  characters (UTF-16 units for wide strings)
//   Z wZ           PANSI_STRING / PUNICODE_STRING (x64: Length at 0, Buffer
//                  at 8; Length in bytes; not NUL-terminated; precision
//                  ignored, as in the CRT)
//   p              16 uppercase hex digits, no prefix ("%#p" adds "0X")
//   n              consumes its argument and writes nothing
//   e E f F g G a A  the 8-byte slot holds a double (host formatting)
//   %              a percent sign
// A NULL string pointer (or a counted string whose Buffer is NULL) prints
// "(null)"; a string that cannot be read completely (unmapped or no-access
// memory before its terminator) prints "(invalid)". Strings are bounded to
// kMaxStringBytes; a conversion the CRT does not know is copied literally
// (the whole "%..." sequence). Nothing here throws on guest data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "emulator/address_space.h"

namespace kemu::nt::rtl {

// Supplies successive variadic arguments as the x64 ABI passes them (each an
// 8-byte slot).
class FormatArgs {
 public:
  virtual ~FormatArgs() = default;
  virtual uint64_t next() = 0;
};

// Arguments already collected on the host (tests, handlers that gathered the
// register and stack slots themselves). Past the end it supplies zeros.
class SpanFormatArgs final : public FormatArgs {
 public:
  explicit SpanFormatArgs(std::span<const uint64_t> slots) : slots_(slots) {}
  uint64_t next() override { return index_ < slots_.size() ? slots_[index_++] : 0; }
  size_t consumed() const { return index_; }

 private:
  std::span<const uint64_t> slots_;
  size_t index_ = 0;
};

// Arguments in guest memory: successive 8-byte slots starting at `first`
// (an x64 va_list is a pointer to such slots; so is the caller's home/stack
// area of a variadic call). An unreadable slot supplies zero.
class GuestSlotArgs final : public FormatArgs {
 public:
  GuestSlotArgs(const kemu::emu::AddressSpace& memory, GuestVa first)
      : memory_(memory), next_(first) {}
  uint64_t next() override;

 private:
  const kemu::emu::AddressSpace& memory_;
  GuestVa next_;
};

// Longest string (in bytes) read from the guest for one conversion.
inline constexpr size_t kMaxStringBytes = 64 * 1024;
// Longest result; formatting stops (truncates) there.
inline constexpr size_t kMaxOutputBytes = 1024 * 1024;

// Where formatted characters go.
enum class OutputKind : uint8_t {
  Report,  // DbgPrint text for the report: narrow bytes as they are, wide text as UTF-8
  Narrow,  // a char buffer (_vsnprintf): wide text through wctomb of the "C" locale
  Wide,    // a wchar_t buffer (_vsnwprintf): %s/%c are wide, %S/%C narrow
};

// Formats like ntoskrnl's DbgPrint/_vsnprintf. Strings are read from guest
// memory through `memory`; a NULL string pointer prints "(null)"; an
// unreadable one prints "(invalid)" (never throws).
std::string format_windows(std::string_view format, FormatArgs& args,
                           const kemu::emu::AddressSpace& memory);

// The _vsnprintf family: the characters a char buffer receives (bytes). A
// wide argument holding a unit above 0xFF has no "C"-locale byte: that
// argument stops there and *conversion_error is set (the routine returns -1).
std::string format_narrow(std::string_view format, FormatArgs& args, const kemu::emu::AddressSpace& memory,
                          bool* conversion_error = nullptr);

// The _vsnwprintf/swprintf family: the UTF-16 units a wchar_t buffer
// receives. In a wide format %s and %c take wide arguments and %S and %C
// narrow ones (each narrow byte becomes the unit of the same value); h forces
// narrow, l and w force wide; %Z/%wZ as in the narrow family.
std::u16string format_wide(std::u16string_view format, FormatArgs& args, const kemu::emu::AddressSpace& memory);

// Appends the UTF-8 form of UTF-16 code units (unpaired surrogates become
// U+FFFD). Shared with other string conversions of the emulated kernel.
void append_utf16_as_utf8(std::string& out, std::u16string_view text);

}  // namespace kemu::nt::rtl
