// Rtl string routines and the C runtime memory/string routines ntoskrnl
// exports (memcpy, memset, strlen, ...), run on the host over guest memory.
#include <algorithm>
#include <array>

#include "emulator/ntstatus.h"
#include "ntoskrnl-stubs/api/registry.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/nt_structs.h"
#include "ntoskrnl-stubs/ob/object_manager.h"

namespace kemu::nt {

namespace {

using layout::UNICODE_STRING;
constexpr uint32_t kStringTag = 0x53727447;  // 'GtrS', the tag Rtl string allocations carry
constexpr size_t kChunk = 64 * 1024;

// Copies in bounded chunks so a driver-supplied length can never make kemu
// allocate unbounded host memory; faults raise GuestAccessError.
void copy_guest(emu::AddressSpace& mem, GuestVa dst, GuestVa src, uint64_t size, bool overlapping) {
  std::array<uint8_t, kChunk> buf;
  if (overlapping && dst > src && dst < src + size) {
    // memmove backwards when the destination overlaps the source's tail.
    uint64_t left = size;
    while (left > 0) {
      uint64_t n = std::min<uint64_t>(left, kChunk);
      left -= n;
      if (!mem.read(src + left, buf.data(), n)) throw emu::GuestAccessError(src + left, false);
      if (!mem.write(dst + left, buf.data(), n)) throw emu::GuestAccessError(dst + left, true);
    }
    return;
  }
  for (uint64_t off = 0; off < size; off += kChunk) {
    uint64_t n = std::min<uint64_t>(size - off, kChunk);
    if (!mem.read(src + off, buf.data(), n)) throw emu::GuestAccessError(src + off, false);
    if (!mem.write(dst + off, buf.data(), n)) throw emu::GuestAccessError(dst + off, true);
  }
}

void fill_guest(emu::AddressSpace& mem, GuestVa dst, uint8_t value, uint64_t size) {
  std::array<uint8_t, kChunk> buf;
  buf.fill(value);
  for (uint64_t off = 0; off < size; off += kChunk) {
    uint64_t n = std::min<uint64_t>(size - off, kChunk);
    if (!mem.write(dst + off, buf.data(), n)) throw emu::GuestAccessError(dst + off, true);
  }
}

}  // namespace

// --- C runtime -------------------------------------------------------------

GuestVa memcpy(Kernel& k, GuestVa dst, GuestVa src, uint64_t size) {
  copy_guest(k.memory(), dst, src, size, false);
  return dst;
}

GuestVa memmove(Kernel& k, GuestVa dst, GuestVa src, uint64_t size) {
  copy_guest(k.memory(), dst, src, size, true);
  return dst;
}

GuestVa memset(Kernel& k, GuestVa dst, int32_t value, uint64_t size) {
  fill_guest(k.memory(), dst, static_cast<uint8_t>(value), size);
  return dst;
}

int32_t memcmp(Kernel& k, GuestVa a, GuestVa b, uint64_t size) {
  for (uint64_t i = 0; i < size; ++i) {
    uint8_t x = k.memory().read<uint8_t>(a + i), y = k.memory().read<uint8_t>(b + i);
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

uint64_t strlen(Kernel& k, GuestVa s) {
  uint64_t n = 0;
  while (k.memory().read<char>(s + n) != 0) ++n;
  return n;
}

uint64_t wcslen(Kernel& k, GuestVa s) {
  uint64_t n = 0;
  while (k.memory().read<char16_t>(s + 2 * n) != 0) ++n;
  return n;
}

// RtlCompareMemory returns the number of leading bytes that match.
uint64_t RtlCompareMemory(Kernel& k, GuestVa a, GuestVa b, uint64_t size) {
  uint64_t i = 0;
  for (; i < size; ++i)
    if (k.memory().read<uint8_t>(a + i) != k.memory().read<uint8_t>(b + i)) break;
  return i;
}

void RtlCopyMemory(Kernel& k, GuestVa dst, GuestVa src, uint64_t size) {
  copy_guest(k.memory(), dst, src, size, true);
}
void RtlMoveMemory(Kernel& k, GuestVa dst, GuestVa src, uint64_t size) {
  copy_guest(k.memory(), dst, src, size, true);
}
void RtlZeroMemory(Kernel& k, GuestVa dst, uint64_t size) { fill_guest(k.memory(), dst, 0, size); }
void RtlFillMemory(Kernel& k, GuestVa dst, uint64_t size, uint8_t value) {
  fill_guest(k.memory(), dst, value, size);
}

// --- counted strings -------------------------------------------------------

// RtlInitUnicodeString: Length = wcslen*2 (capped at MAXUSHORT-1 rounded
// down to a character), MaximumLength = Length + 2; NULL gives an empty string.
void RtlInitUnicodeString(Kernel& k, GuestVa dst, GuestVa src) {
  UNICODE_STRING us{};
  if (src) {
    uint64_t bytes = wcslen(k, src) * 2;
    if (bytes > 0xFFFC) bytes = 0xFFFC;
    us.Length = static_cast<uint16_t>(bytes);
    us.MaximumLength = static_cast<uint16_t>(bytes + 2);
    us.Buffer = src.value;
  }
  k.memory().write(dst, us);
}

// RtlInitAnsiString: Length = strlen, MaximumLength = Length + 1.
void RtlInitAnsiString(Kernel& k, GuestVa dst, GuestVa src) {
  layout::ANSI_STRING as{};
  if (src) {
    uint64_t bytes = strlen(k, src);
    if (bytes > 0xFFFE) bytes = 0xFFFE;
    as.Length = static_cast<uint16_t>(bytes);
    as.MaximumLength = static_cast<uint16_t>(bytes + 1);
    as.Buffer = src.value;
  }
  k.memory().write(dst, as);
}

void RtlInitString(Kernel& k, GuestVa dst, GuestVa src) { RtlInitAnsiString(k, dst, src); }

// RtlCopyUnicodeString copies min(Source.Length, Destination.MaximumLength)
// bytes and NUL-terminates when there is room; a NULL source empties the
// destination.
void RtlCopyUnicodeString(Kernel& k, GuestVa dst, GuestVa src) {
  auto& mem = k.memory();
  auto d = mem.read<UNICODE_STRING>(dst);
  if (!src) {
    d.Length = 0;
    mem.write(dst, d);
    return;
  }
  auto s = mem.read<UNICODE_STRING>(src);
  uint16_t n = std::min(s.Length, d.MaximumLength);
  n &= ~1u;
  copy_guest(mem, GuestVa{d.Buffer}, GuestVa{s.Buffer}, n, true);
  d.Length = n;
  mem.write(dst, d);
  if (static_cast<uint32_t>(n) + 2 <= d.MaximumLength) mem.write<uint16_t>(GuestVa{d.Buffer} + n, 0);
}

int32_t RtlCompareUnicodeString(Kernel& k, GuestVa a, GuestVa b, uint8_t case_insensitive) {
  std::u16string x = k.read_unicode_string(a), y = k.read_unicode_string(b);
  size_t n = std::min(x.size(), y.size());
  for (size_t i = 0; i < n; ++i) {
    char16_t c1 = case_insensitive ? ob::upcase(x[i]) : x[i];
    char16_t c2 = case_insensitive ? ob::upcase(y[i]) : y[i];
    if (c1 != c2) return static_cast<int32_t>(c1) - static_cast<int32_t>(c2);
  }
  return static_cast<int32_t>(x.size()) - static_cast<int32_t>(y.size());
}

uint8_t RtlEqualUnicodeString(Kernel& k, GuestVa a, GuestVa b, uint8_t case_insensitive) {
  return ob::names_equal(k.read_unicode_string(a), k.read_unicode_string(b), case_insensitive != 0);
}

int32_t RtlCompareString(Kernel& k, GuestVa a, GuestVa b, uint8_t case_insensitive) {
  std::string x = k.read_ansi_string(a), y = k.read_ansi_string(b);
  size_t n = std::min(x.size(), y.size());
  for (size_t i = 0; i < n; ++i) {
    int c1 = static_cast<uint8_t>(x[i]), c2 = static_cast<uint8_t>(y[i]);
    if (case_insensitive) {
      c1 = ob::upcase(static_cast<char16_t>(c1));
      c2 = ob::upcase(static_cast<char16_t>(c2));
    }
    if (c1 != c2) return c1 - c2;
  }
  return static_cast<int32_t>(x.size()) - static_cast<int32_t>(y.size());
}

uint8_t RtlEqualString(Kernel& k, GuestVa a, GuestVa b, uint8_t case_insensitive) {
  std::string x = k.read_ansi_string(a), y = k.read_ansi_string(b);
  return x.size() == y.size() && RtlCompareString(k, a, b, case_insensitive) == 0;
}

// RtlAnsiStringToUnicodeString: each ANSI byte becomes one UTF-16 unit (kemu's
// ANSI code page is Latin-1, which matches Windows-1252 except 0x80-0x9F).
// The size needed counts the terminator; Destination->Length is set before
// the room check (so a STATUS_BUFFER_OVERFLOW leaves it changed), and the
// result is always terminated.
NtStatus RtlAnsiStringToUnicodeString(Kernel& k, GuestVa dst, GuestVa src, uint8_t allocate) {
  auto& mem = k.memory();
  std::string s = k.read_ansi_string(src);
  uint64_t total = s.size() * 2 + 2;
  if (total > 0xFFFF) return STATUS_INVALID_PARAMETER_2;
  auto d = mem.read<UNICODE_STRING>(dst);
  d.Length = static_cast<uint16_t>(total - 2);
  if (allocate) {
    auto block = k.machine().pool().allocate(total, 1, kStringTag, k.machine().return_address());
    if (!block) return STATUS_NO_MEMORY;
    d.Buffer = block->value;
    d.MaximumLength = static_cast<uint16_t>(total);
  } else if (total > d.MaximumLength) {
    mem.write(dst, d);
    return STATUS_BUFFER_OVERFLOW;
  }
  std::u16string wide(s.size() + 1, u'\0');
  for (size_t i = 0; i < s.size(); ++i) wide[i] = static_cast<uint8_t>(s[i]);
  mem.write(GuestVa{d.Buffer}, wide.data(), total);
  mem.write(dst, d);
  return STATUS_SUCCESS;
}

// RtlUnicodeStringToAnsiString: characters above 0xFF become '?'.
NtStatus RtlUnicodeStringToAnsiString(Kernel& k, GuestVa dst, GuestVa src, uint8_t allocate) {
  auto& mem = k.memory();
  std::u16string s = k.read_unicode_string(src);
  uint64_t bytes = s.size();
  auto d = mem.read<layout::ANSI_STRING>(dst);
  if (allocate) {
    auto block = k.machine().pool().allocate(bytes + 1, 1, kStringTag, k.machine().return_address());
    if (!block) return STATUS_NO_MEMORY;
    d.Buffer = block->value;
    d.MaximumLength = static_cast<uint16_t>(bytes + 1);
  } else if (bytes >= d.MaximumLength) {
    return STATUS_BUFFER_OVERFLOW;
  }
  std::string narrow;
  for (char16_t c : s) narrow.push_back(c <= 0xFF ? static_cast<char>(c) : '?');
  mem.write(GuestVa{d.Buffer}, narrow.data(), bytes);
  mem.write<uint8_t>(GuestVa{d.Buffer} + bytes, 0);
  d.Length = static_cast<uint16_t>(bytes);
  mem.write(dst, d);
  return STATUS_SUCCESS;
}

// RtlFreeUnicodeString frees a buffer an Rtl routine allocated and zeroes the string.
void RtlFreeUnicodeString(Kernel& k, GuestVa us) {
  auto s = k.memory().read<UNICODE_STRING>(us);
  if (s.Buffer) k.machine().pool().free(GuestVa{s.Buffer}, std::nullopt);
  k.memory().write(us, UNICODE_STRING{});
}

void RtlFreeAnsiString(Kernel& k, GuestVa as) { RtlFreeUnicodeString(k, as); }

// --- more counted strings ---------------------------------------------------

// RtlAppendUnicodeToString: the NUL-terminated Source goes after
// Destination's Length bytes; STATUS_BUFFER_TOO_SMALL (nothing changed) when
// it does not fit in MaximumLength; terminated when room is left.
NtStatus RtlAppendUnicodeToString(Kernel& k, GuestVa dst, GuestVa src) {
  if (!src) return STATUS_SUCCESS;
  auto& mem = k.memory();
  auto d = mem.read<UNICODE_STRING>(dst);
  uint64_t n = static_cast<uint16_t>(wcslen(k, src)) * 2ull;  // the length as a USHORT count of characters
  if (n + d.Length > d.MaximumLength) return STATUS_BUFFER_TOO_SMALL;
  copy_guest(mem, GuestVa{d.Buffer} + d.Length, src, n, true);
  d.Length = static_cast<uint16_t>(d.Length + n);
  mem.write(dst, d);
  if (d.Length < d.MaximumLength) mem.write<uint16_t>(GuestVa{d.Buffer} + d.Length, 0);
  return STATUS_SUCCESS;
}

// RtlAppendUnicodeStringToString: the same with a counted Source.
NtStatus RtlAppendUnicodeStringToString(Kernel& k, GuestVa dst, GuestVa src) {
  auto& mem = k.memory();
  auto s = mem.read<UNICODE_STRING>(src);
  if (s.Length == 0) return STATUS_SUCCESS;
  auto d = mem.read<UNICODE_STRING>(dst);
  if (static_cast<uint32_t>(s.Length) + d.Length > d.MaximumLength) return STATUS_BUFFER_TOO_SMALL;
  copy_guest(mem, GuestVa{d.Buffer} + d.Length, GuestVa{s.Buffer}, s.Length, true);
  d.Length = static_cast<uint16_t>(d.Length + s.Length);
  mem.write(dst, d);
  if (d.Length < d.MaximumLength) mem.write<uint16_t>(GuestVa{d.Buffer} + d.Length, 0);
  return STATUS_SUCCESS;
}

namespace {
// Digits of `value` in `base` (2, 8, 10 or 16), uppercase, most significant first.
std::string digits_of(uint32_t value, uint32_t base) {
  std::string out;
  do {
    uint32_t digit = value % base;
    out.insert(out.begin(), static_cast<char>(digit < 10 ? '0' + digit : 'A' + digit - 10));
    value /= base;
  } while (value != 0);
  return out;
}
bool valid_base(uint32_t base) { return base == 2 || base == 8 || base == 10 || base == 16; }
}  // namespace

// RtlIntegerToChar(Value, Base, OutputLength, String): Base 0 means 10; a
// negative OutputLength pads with leading zeros to its magnitude; more digits
// than OutputLength is STATUS_BUFFER_OVERFLOW; terminated only when room is left.
NtStatus RtlIntegerToChar(Kernel& k, uint32_t value, uint32_t base, int32_t output_length, GuestVa string) {
  if (base == 0) base = 10;
  if (!valid_base(base)) return STATUS_INVALID_PARAMETER;
  std::string text = digits_of(value, base);
  if (output_length < 0) {
    int64_t width = -static_cast<int64_t>(output_length);
    if (static_cast<int64_t>(text.size()) < width) text.insert(0, static_cast<size_t>(width - text.size()), '0');
    output_length = static_cast<int32_t>(width);
  }
  if (static_cast<int64_t>(text.size()) > output_length) return STATUS_BUFFER_OVERFLOW;
  if (static_cast<int64_t>(text.size()) < output_length) text.push_back('\0');
  if (!k.memory().write(string, text.data(), text.size())) throw emu::GuestAccessError(string, true);
  return STATUS_SUCCESS;
}

// RtlIntegerToUnicodeString(Value, Base, String): String->Length is set to
// the digits' size first; no room for them and a terminator is
// STATUS_BUFFER_OVERFLOW; otherwise digits and terminator are stored.
NtStatus RtlIntegerToUnicodeString(Kernel& k, uint32_t value, uint32_t base, GuestVa string) {
  if (base == 0) base = 10;
  if (!valid_base(base)) return STATUS_INVALID_PARAMETER;
  auto& mem = k.memory();
  std::string text = digits_of(value, base);
  auto d = mem.read<UNICODE_STRING>(string);
  d.Length = static_cast<uint16_t>(text.size() * 2);
  mem.write(string, d);
  if (d.Length >= d.MaximumLength) return STATUS_BUFFER_OVERFLOW;
  std::u16string wide(text.begin(), text.end());
  wide.push_back(u'\0');
  if (d.Buffer && !mem.write(GuestVa{d.Buffer}, wide.data(), wide.size() * 2))
    throw emu::GuestAccessError(GuestVa{d.Buffer}, true);
  return STATUS_SUCCESS;
}

// RtlUnicodeStringToInteger(String, Base, Value*): leading characters up to
// ' ' are skipped, then one '+' or '-'; Base 0 reads a "0b", "0o" or "0x"
// prefix (lowercase only) and defaults to 10; digits are taken while they
// are valid in the base (letters either case); a result that overflows
// wraps; the sign negates it. STATUS_INVALID_PARAMETER for another base.
NtStatus RtlUnicodeStringToInteger(Kernel& k, GuestVa string, uint32_t base, GuestVa value_out) {
  std::u16string s = k.read_unicode_string(string);
  size_t i = 0;
  while (i < s.size() && s[i] <= u' ') ++i;
  bool negative = false;
  if (i < s.size() && (s[i] == u'+' || s[i] == u'-')) negative = s[i++] == u'-';
  if (base == 0) {
    base = 10;
    if (i + 2 <= s.size() && s[i] == u'0') {
      if (s[i + 1] == u'b') base = 2;
      else if (s[i + 1] == u'o') base = 8;
      else if (s[i + 1] == u'x') base = 16;
      if (base != 10) i += 2;
    }
  } else if (!valid_base(base)) {
    return STATUS_INVALID_PARAMETER;
  }
  if (!value_out) return STATUS_ACCESS_VIOLATION;
  uint32_t total = 0;
  for (; i < s.size(); ++i) {
    char16_t c = s[i];
    uint32_t digit;
    if (c >= u'0' && c <= u'9') digit = c - u'0';
    else if (c >= u'A' && c <= u'Z') digit = c - u'A' + 10;
    else if (c >= u'a' && c <= u'z') digit = c - u'a' + 10;
    else break;
    if (digit >= base) break;
    total = total * base + digit;
  }
  k.memory().write<uint32_t>(value_out, negative ? 0u - total : total);
  return STATUS_SUCCESS;
}

// RtlUpcaseUnicodeChar: kemu's upcase table covers Basic Latin and Latin-1
// (ob::upcase); other characters come back unchanged.
uint16_t RtlUpcaseUnicodeChar(Kernel& k, uint16_t c) { return ob::upcase(static_cast<char16_t>(c)); }

// RtlUpcaseUnicodeString(Destination, Source, Allocate): Length bytes, no terminator.
NtStatus RtlUpcaseUnicodeString(Kernel& k, GuestVa dst, GuestVa src, uint8_t allocate) {
  auto& mem = k.memory();
  std::u16string s = k.read_unicode_string(src);
  uint16_t bytes = mem.read<UNICODE_STRING>(src).Length & ~1u;
  auto d = mem.read<UNICODE_STRING>(dst);
  if (allocate) {
    auto block = k.machine().pool().allocate(std::max<uint64_t>(bytes, 1), 1, kStringTag, k.machine().return_address());
    if (!block) return STATUS_NO_MEMORY;
    d.Buffer = block->value;
    d.MaximumLength = bytes;
  } else if (bytes > d.MaximumLength) {
    return STATUS_BUFFER_OVERFLOW;
  }
  for (auto& c : s) c = ob::upcase(c);
  if (!mem.write(GuestVa{d.Buffer}, s.data(), bytes)) throw emu::GuestAccessError(GuestVa{d.Buffer}, true);
  d.Length = bytes;
  mem.write(dst, d);
  return STATUS_SUCCESS;
}

// RtlPrefixUnicodeString(String1, String2, CaseInSensitive): String1 starts String2.
uint8_t RtlPrefixUnicodeString(Kernel& k, GuestVa prefix, GuestVa string, uint8_t case_insensitive) {
  std::u16string p = k.read_unicode_string(prefix), s = k.read_unicode_string(string);
  if (p.size() > s.size()) return 0;
  return ob::names_equal(p, std::u16string_view(s).substr(0, p.size()), case_insensitive != 0);
}

// RtlCopyString: min(Source.Length, Destination.MaximumLength) bytes,
// terminated when room is left; a NULL source empties the destination.
void RtlCopyString(Kernel& k, GuestVa dst, GuestVa src) {
  auto& mem = k.memory();
  auto d = mem.read<layout::ANSI_STRING>(dst);
  if (!src) {
    d.Length = 0;
    mem.write(dst, d);
    return;
  }
  auto s = mem.read<layout::ANSI_STRING>(src);
  uint16_t n = std::min(s.Length, d.MaximumLength);
  copy_guest(mem, GuestVa{d.Buffer}, GuestVa{s.Buffer}, n, true);
  d.Length = n;
  mem.write(dst, d);
  if (n < d.MaximumLength) mem.write<uint8_t>(GuestVa{d.Buffer} + n, 0);
}

void register_rtl_exports(Registry& r) {
  KEMU_EXPORT(r, memcpy);
  KEMU_EXPORT(r, memmove);
  KEMU_EXPORT(r, memset);
  KEMU_EXPORT(r, memcmp);
  KEMU_EXPORT(r, strlen);
  KEMU_EXPORT(r, wcslen);
  KEMU_EXPORT(r, RtlCompareMemory);
  KEMU_EXPORT(r, RtlCopyMemory);
  KEMU_EXPORT(r, RtlMoveMemory);
  KEMU_EXPORT(r, RtlZeroMemory);
  KEMU_EXPORT(r, RtlFillMemory);
  KEMU_EXPORT(r, RtlInitUnicodeString);
  KEMU_EXPORT(r, RtlInitAnsiString);
  KEMU_EXPORT(r, RtlInitString);
  KEMU_EXPORT(r, RtlCopyUnicodeString);
  KEMU_EXPORT(r, RtlCompareUnicodeString);
  KEMU_EXPORT(r, RtlEqualUnicodeString);
  KEMU_EXPORT(r, RtlCompareString);
  KEMU_EXPORT(r, RtlEqualString);
  KEMU_EXPORT(r, RtlAnsiStringToUnicodeString);
  KEMU_EXPORT(r, RtlUnicodeStringToAnsiString);
  KEMU_EXPORT(r, RtlFreeUnicodeString);
  KEMU_EXPORT(r, RtlFreeAnsiString);
  KEMU_EXPORT(r, RtlAppendUnicodeToString);
  KEMU_EXPORT(r, RtlAppendUnicodeStringToString);
  KEMU_EXPORT(r, RtlIntegerToChar);
  KEMU_EXPORT(r, RtlIntegerToUnicodeString);
  KEMU_EXPORT(r, RtlUnicodeStringToInteger);
  KEMU_EXPORT(r, RtlUpcaseUnicodeChar);
  KEMU_EXPORT(r, RtlUpcaseUnicodeString);
  KEMU_EXPORT(r, RtlPrefixUnicodeString);
  KEMU_EXPORT(r, RtlCopyString);
}

}  // namespace kemu::nt
