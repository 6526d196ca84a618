// The NT kernel's printf engine (see format.h for the conventions).
#include "ntoskrnl-stubs/rtl/format.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <optional>
#include <vector>

namespace kemu::nt::rtl {
namespace {

// The CRT caps integer precision at 512 digits; widths are capped here so a
// hostile format cannot make the host allocate without bound.
constexpr int kMaxIntPrecision = 512;
constexpr int kMaxWidth = 64 * 1024;

constexpr std::string_view kNullString = "(null)";
constexpr std::string_view kInvalidString = "(invalid)";

enum class Length : uint8_t { None, hh, h, l, ll, w, I, I32, I64, z, t, j, L };

struct Spec {
  bool left = false;       // '-'
  bool plus = false;       // '+'
  bool space = false;      // ' '
  bool alternate = false;  // '#'
  bool zero = false;       // '0'
  int width = 0;
  int precision = -1;  // -1: none
  Length length = Length::None;
};

bool is_wide(Length l) { return l == Length::w || l == Length::l; }

// Reads a NUL-terminated (or `max_units`-bounded) string of `unit`-byte
// characters. Returns nullopt when a byte before the end cannot be read.
std::optional<std::vector<uint8_t>> read_guest_units(const kemu::emu::AddressSpace& memory,
                                                     GuestVa va, size_t unit, size_t max_units,
                                                     bool stop_at_nul) {
  std::vector<uint8_t> bytes;
  const size_t max_bytes = std::min(max_units, kMaxStringBytes / unit) * unit;
  size_t scanned = 0;  // bytes already checked for a terminator (multiple of unit)
  uint8_t page[kPageSize];
  while (bytes.size() < max_bytes) {
    const uint64_t to_page_end = kPageSize - (va.value & (kPageSize - 1));
    const size_t chunk = static_cast<size_t>(std::min<uint64_t>(to_page_end, max_bytes - bytes.size()));
    if (!memory.accessible(va, chunk, Prot::Read) || !memory.read(va, page, chunk)) {
      return std::nullopt;
    }
    bytes.insert(bytes.end(), page, page + chunk);
    if (stop_at_nul) {
      for (; scanned + unit <= bytes.size(); scanned += unit) {
        bool nul = true;
        for (size_t k = 0; k < unit; ++k) nul = nul && bytes[scanned + k] == 0;
        if (nul) {
          bytes.resize(scanned);
          return bytes;
        }
      }
    }
    if (va.value + chunk < va.value) break;  // wrapped around the top of the address space
    va += chunk;
  }
  bytes.resize(std::min(bytes.size(), max_bytes) / unit * unit);
  return bytes;
}

std::u16string to_u16(const std::vector<uint8_t>& bytes) {
  std::u16string s(bytes.size() / 2, u'\0');
  if (!s.empty()) std::memcpy(s.data(), bytes.data(), s.size() * 2);
  return s;
}

// A formatted piece of text: narrow bytes or UTF-16 units, plus the number
// of characters the CRT counts for width padding (units for wide text, bytes
// otherwise).
struct Text {
  bool wide = false;
  std::string narrow;
  std::u16string units;
  size_t chars = 0;
};

Text narrow_text(std::string_view s) { return Text{false, std::string(s), {}, s.size()}; }
Text wide_text(std::u16string_view s) { return Text{true, {}, std::u16string(s), s.size()}; }

// Where the characters go: the report (UTF-8, DbgPrint), a narrow CRT buffer
// (bytes) or a wide CRT buffer (UTF-16 units).
class Formatter {
 public:
  Formatter(FormatArgs& args, const kemu::emu::AddressSpace& memory, OutputKind kind)
      : args_(args), memory_(memory), kind_(kind) {}

  // The format as units (a narrow format's bytes widened one to one).
  void run(std::u16string_view fmt) {
    size_t i = 0;
    while (i < fmt.size() && !full()) {
      const size_t pct = fmt.find(u'%', i);
      if (pct == std::u16string_view::npos) {
        literal_text(fmt.substr(i));
        break;
      }
      literal_text(fmt.substr(i, pct - i));
      i = conversion(fmt, pct);
    }
    if (narrow_.size() > kMaxOutputBytes) narrow_.resize(kMaxOutputBytes);
    if (wide_.size() > kMaxOutputBytes) wide_.resize(kMaxOutputBytes);
  }

  std::string take_narrow() { return std::move(narrow_); }
  std::u16string take_wide() { return std::move(wide_); }
  bool conversion_error() const { return conversion_error_; }

 private:
  size_t size() const { return kind_ == OutputKind::Wide ? wide_.size() : narrow_.size(); }
  bool full() const { return size() >= kMaxOutputBytes; }
  size_t room() const { return kMaxOutputBytes - std::min(size(), kMaxOutputBytes); }

  // Narrow text: copied as bytes; into a wide buffer each byte becomes the
  // unit of the same value (mbtowc of the "C" locale).
  void put(std::string_view s) {
    s = s.substr(0, std::min(s.size(), room()));
    if (kind_ == OutputKind::Wide) {
      for (char c : s) wide_.push_back(static_cast<uint8_t>(c));
    } else {
      narrow_.append(s);
    }
  }
  // Wide text: UTF-8 in the report; units in a wide buffer; into a narrow
  // buffer each unit is converted with wctomb of the "C" locale, which has no
  // byte for a unit above 0xFF: the CRT's output() stops that argument there
  // and the routine's result becomes -1.
  void put_wide(std::u16string_view s) {
    s = s.substr(0, std::min(s.size(), room()));
    switch (kind_) {
      case OutputKind::Report:
        append_utf16_as_utf8(narrow_, s);
        break;
      case OutputKind::Wide:
        wide_.append(s);
        break;
      case OutputKind::Narrow:
        for (char16_t c : s) {
          if (c > 0xFF) {
            conversion_error_ = true;
            break;
          }
          narrow_.push_back(static_cast<char>(c));
        }
        break;
    }
  }
  void put_text(const Text& t) {
    if (t.wide) put_wide(t.units);
    else put(t.narrow);
  }
  // A run of the format string outside conversions.
  void literal_text(std::u16string_view s) {
    if (kind_ == OutputKind::Wide) {
      put_wide(s);
      return;
    }
    std::string bytes;
    bytes.reserve(s.size());
    for (char16_t c : s) bytes.push_back(static_cast<char>(c));
    put(bytes);
  }
  void pad(size_t n, char c) { put(std::string(std::min(n, room()), c)); }

  int int_arg() { return static_cast<int32_t>(static_cast<uint32_t>(args_.next())); }

  // Parses one conversion starting at fmt[pct] == '%'; returns the index just
  // past it.
  size_t conversion(std::u16string_view fmt, size_t pct) {
    size_t i = pct + 1;
    auto literal = [&](size_t end) {
      literal_text(fmt.substr(pct, end - pct));
      return end;
    };
    if (i >= fmt.size()) return literal(i);
    if (fmt[i] == '%') {
      put("%");
      return i + 1;
    }

    Spec spec;
    for (; i < fmt.size(); ++i) {
      const char16_t c = fmt[i];
      if (c == '-') spec.left = true;
      else if (c == '+') spec.plus = true;
      else if (c == ' ') spec.space = true;
      else if (c == '#') spec.alternate = true;
      else if (c == '0') spec.zero = true;
      else break;
    }
    if (i < fmt.size() && fmt[i] == '*') {
      int w = int_arg();
      if (w < 0) {
        spec.left = true;
        w = w == INT32_MIN ? INT32_MAX : -w;
      }
      spec.width = std::min(w, kMaxWidth);
      ++i;
    } else {
      int w = 0;
      for (; i < fmt.size() && fmt[i] >= '0' && fmt[i] <= '9'; ++i) {
        w = std::min(w * 10 + (fmt[i] - '0'), kMaxWidth);
      }
      spec.width = w;
    }
    if (i < fmt.size() && fmt[i] == '.') {
      ++i;
      if (i < fmt.size() && fmt[i] == '*') {
        const int p = int_arg();
        spec.precision = p < 0 ? -1 : std::min(p, kMaxWidth);
        ++i;
      } else {
        int p = 0;
        for (; i < fmt.size() && fmt[i] >= '0' && fmt[i] <= '9'; ++i) {
          p = std::min(p * 10 + (fmt[i] - '0'), kMaxWidth);
        }
        spec.precision = p;
      }
    }

    // Length modifier.
    if (i < fmt.size()) {
      const std::u16string_view rest = fmt.substr(i);
      if (rest.starts_with(u"hh")) spec.length = Length::hh, i += 2;
      else if (rest.starts_with(u"h")) spec.length = Length::h, i += 1;
      else if (rest.starts_with(u"ll")) spec.length = Length::ll, i += 2;
      else if (rest.starts_with(u"l")) spec.length = Length::l, i += 1;
      else if (rest.starts_with(u"w")) spec.length = Length::w, i += 1;
      else if (rest.starts_with(u"I64")) spec.length = Length::I64, i += 3;
      else if (rest.starts_with(u"I32")) spec.length = Length::I32, i += 3;
      else if (rest.starts_with(u"I")) spec.length = Length::I, i += 1;
      else if (rest.starts_with(u"z")) spec.length = Length::z, i += 1;
      else if (rest.starts_with(u"t")) spec.length = Length::t, i += 1;
      else if (rest.starts_with(u"j")) spec.length = Length::j, i += 1;
      else if (rest.starts_with(u"L")) spec.length = Length::L, i += 1;
    }
    if (i >= fmt.size()) return literal(i);

    const char conv = fmt[i] < 0x80 ? static_cast<char>(fmt[i]) : '\0';
    switch (conv) {
      case 'd':
      case 'i':
        integer(spec, args_.next(), true, 10, false);
        break;
      case 'u':
        integer(spec, args_.next(), false, 10, false);
        break;
      case 'o':
        integer(spec, args_.next(), false, 8, false);
        break;
      case 'x':
        integer(spec, args_.next(), false, 16, false);
        break;
      case 'X':
        integer(spec, args_.next(), false, 16, true);
        break;
      case 'p':
        pointer(spec, args_.next());
        break;
      case 'c':
      case 'C':
        character(spec, conv, args_.next());
        break;
      case 's':
      case 'S':
        string(spec, conv, args_.next());
        break;
      case 'Z':
        counted_string(spec, args_.next());
        break;
      case '%':
        put("%");  // "%5%" and the like: the CRT prints a bare percent sign
        break;
      case 'n':
        args_.next();  // %n writes nothing in kemu (and is disabled in modern CRTs)
        break;
      case 'e':
      case 'E':
      case 'f':
      case 'F':
      case 'g':
      case 'G':
      case 'a':
      case 'A':
        floating(spec, conv, args_.next());
        break;
      default:
        return literal(i + 1);
    }
    return i + 1;
  }

  // Writes prefix + body padded to the width the CRT way: spaces before
  // (right-justified), zeros between prefix and body ('0' flag), or spaces
  // after ('-').
  void emit(const Spec& spec, std::string_view prefix, const Text& body, bool zero_pad) {
    const size_t len = prefix.size() + body.chars;
    const size_t padding = static_cast<size_t>(spec.width) > len ? spec.width - len : 0;
    if (!spec.left && !zero_pad) pad(padding, ' ');
    put(prefix);
    if (!spec.left && zero_pad) pad(padding, '0');
    put_text(body);
    if (spec.left) pad(padding, ' ');
  }

  void integer(const Spec& spec, uint64_t raw, bool is_signed, unsigned radix, bool upper) {
    bool wide64 = false;
    switch (spec.length) {
      case Length::ll:
      case Length::I64:
      case Length::I:
      case Length::z:
      case Length::t:
      case Length::j:
        wide64 = true;
        break;
      default:
        break;
    }
    bool negative = false;
    uint64_t magnitude;
    if (is_signed) {
      int64_t v;
      if (wide64) v = static_cast<int64_t>(raw);
      else if (spec.length == Length::h) v = static_cast<int16_t>(raw);
      else if (spec.length == Length::hh) v = static_cast<int8_t>(raw);
      else v = static_cast<int32_t>(raw);
      negative = v < 0;
      magnitude = negative ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
    } else {
      if (wide64) magnitude = raw;
      else if (spec.length == Length::h) magnitude = static_cast<uint16_t>(raw);
      else if (spec.length == Length::hh) magnitude = static_cast<uint8_t>(raw);
      else magnitude = static_cast<uint32_t>(raw);
    }
    integer_text(spec, magnitude, negative, is_signed, radix, upper);
  }

  void integer_text(Spec spec, uint64_t magnitude, bool negative, bool is_signed, unsigned radix,
                    bool upper) {
    int precision = spec.precision;
    if (precision < 0) {
      precision = 1;
    } else {
      spec.zero = false;
      precision = std::min(precision, kMaxIntPrecision);
    }
    const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    std::string body;
    for (uint64_t v = magnitude; v != 0; v /= radix) body.push_back(digits[v % radix]);
    while (static_cast<int>(body.size()) < precision) body.push_back('0');
    if (radix == 8 && spec.alternate && (body.empty() || body.back() != '0')) body.push_back('0');
    std::reverse(body.begin(), body.end());

    std::string prefix;
    if (is_signed) {
      if (negative) prefix = "-";
      else if (spec.plus) prefix = "+";
      else if (spec.space) prefix = " ";
    }
    if (radix == 16 && spec.alternate && magnitude != 0) prefix = upper ? "0X" : "0x";
    emit(spec, prefix, narrow_text(body), spec.zero);
  }

  void pointer(Spec spec, uint64_t value) {
    // The CRT forces the precision to 2 * sizeof(void*) and uppercase digits.
    spec.precision = 16;
    integer_text(spec, value, false, false, 16, true);
  }

  // %c/%s take the routine's own character width, %C/%S the other one; h
  // forces narrow, l and w force wide.
  bool wide_argument(const Spec& spec, char conv) const {
    const bool upper = conv == 'C' || conv == 'S';
    if (spec.length == Length::h) return false;
    if (is_wide(spec.length)) return true;
    const bool routine_wide = kind_ == OutputKind::Wide;
    return upper ? !routine_wide : routine_wide;
  }

  void character(const Spec& spec, char conv, uint64_t raw) {
    const bool wide = wide_argument(spec, conv);
    if (wide) {
      const char16_t c = static_cast<char16_t>(raw);
      emit(spec, "", wide_text(std::u16string_view(&c, 1)), spec.zero);
    } else {
      const char c = static_cast<char>(raw);
      emit(spec, "", narrow_text(std::string_view(&c, 1)), spec.zero);
    }
  }

  void string(const Spec& spec, char conv, uint64_t ptr) {
    const bool wide = wide_argument(spec, conv);
    const size_t max_units = spec.precision < 0 ? SIZE_MAX : static_cast<size_t>(spec.precision);
    if (ptr == 0) {
      emit(spec, "", narrow_text(kNullString.substr(0, std::min(max_units, kNullString.size()))),
           spec.zero);
      return;
    }
    const auto bytes = read_guest_units(memory_, GuestVa{ptr}, wide ? 2 : 1, max_units, true);
    if (!bytes) {
      emit(spec, "", narrow_text(kInvalidString), spec.zero);
      return;
    }
    if (wide) {
      emit(spec, "", wide_text(to_u16(*bytes)), spec.zero);
    } else {
      emit(spec, "", narrow_text(std::string_view(reinterpret_cast<const char*>(bytes->data()),
                                                  bytes->size())),
           spec.zero);
    }
  }

  // %Z / %wZ: ANSI_STRING / UNICODE_STRING { USHORT Length; USHORT MaximumLength; PVOID Buffer; }
  void counted_string(const Spec& spec, uint64_t ptr) {
    const bool wide = spec.length == Length::w;
    if (ptr == 0) {
      emit(spec, "", narrow_text(kNullString), spec.zero);
      return;
    }
    const auto length = memory_.try_read<uint16_t>(GuestVa{ptr});
    const auto buffer = memory_.try_read<uint64_t>(GuestVa{ptr + 8});
    if (!length || !buffer || !memory_.accessible(GuestVa{ptr}, 16, Prot::Read)) {
      emit(spec, "", narrow_text(kInvalidString), spec.zero);
      return;
    }
    if (*buffer == 0) {
      emit(spec, "", narrow_text(kNullString), spec.zero);
      return;
    }
    const size_t unit = wide ? 2 : 1;
    const auto bytes = read_guest_units(memory_, GuestVa{*buffer}, unit, *length / unit, false);
    if (!bytes) {
      emit(spec, "", narrow_text(kInvalidString), spec.zero);
      return;
    }
    if (wide) {
      emit(spec, "", wide_text(to_u16(*bytes)), spec.zero);
    } else {
      emit(spec, "",
           narrow_text(std::string_view(reinterpret_cast<const char*>(bytes->data()), bytes->size())),
           spec.zero);
    }
  }

  void floating(const Spec& spec, char conv, uint64_t raw) {
    const double value = std::bit_cast<double>(raw);
    std::string f = "%";
    if (spec.left) f += '-';
    if (spec.plus) f += '+';
    if (spec.space) f += ' ';
    if (spec.alternate) f += '#';
    if (spec.zero) f += '0';
    f += std::to_string(spec.width);
    if (spec.precision >= 0) f += "." + std::to_string(std::min(spec.precision, kMaxIntPrecision));
    f += conv;
    const int n = std::snprintf(nullptr, 0, f.c_str(), value);
    if (n <= 0) return;
    std::string buf(static_cast<size_t>(n) + 1, '\0');
    std::snprintf(buf.data(), buf.size(), f.c_str(), value);
    buf.resize(static_cast<size_t>(n));
    put(buf);
  }

  FormatArgs& args_;
  const kemu::emu::AddressSpace& memory_;
  OutputKind kind_;
  std::string narrow_;
  std::u16string wide_;
  bool conversion_error_ = false;
};

std::u16string widen_bytes(std::string_view s) {
  std::u16string out;
  out.reserve(s.size());
  for (char c : s) out.push_back(static_cast<uint8_t>(c));
  return out;
}

}  // namespace

uint64_t GuestSlotArgs::next() {
  const uint64_t value = memory_.try_read<uint64_t>(next_).value_or(0);
  next_ += 8;
  return value;
}

void append_utf16_as_utf8(std::string& out, std::u16string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    uint32_t cp = text[i];
    if (cp >= 0xD800 && cp <= 0xDBFF && i + 1 < text.size() && text[i + 1] >= 0xDC00 &&
        text[i + 1] <= 0xDFFF) {
      cp = 0x10000 + ((cp - 0xD800) << 10) + (text[i + 1] - 0xDC00);
      ++i;
    } else if (cp >= 0xD800 && cp <= 0xDFFF) {
      cp = 0xFFFD;
    }
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }
}

std::string format_windows(std::string_view format, FormatArgs& args,
                           const kemu::emu::AddressSpace& memory) {
  Formatter f(args, memory, OutputKind::Report);
  f.run(widen_bytes(format));
  return f.take_narrow();
}

std::string format_narrow(std::string_view format, FormatArgs& args, const kemu::emu::AddressSpace& memory,
                          bool* conversion_error) {
  Formatter f(args, memory, OutputKind::Narrow);
  f.run(widen_bytes(format));
  if (conversion_error) *conversion_error = f.conversion_error();
  return f.take_narrow();
}

std::u16string format_wide(std::u16string_view format, FormatArgs& args, const kemu::emu::AddressSpace& memory) {
  Formatter f(args, memory, OutputKind::Wide);
  f.run(format);
  return f.take_wide();
}

}  // namespace kemu::nt::rtl
