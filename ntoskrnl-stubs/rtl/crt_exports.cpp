// The C runtime string and formatting routines of ntoskrnl (see crt.h). They
// run on the host over guest memory with the rights a driver's own code has:
// reading or writing an inaccessible byte raises the access violation the
// routine would take there (GuestAccessError, turned into an exception or a
// bugcheck by the API bridge), after the bytes before it were written.
#include "ntoskrnl-stubs/rtl/crt.h"

#include <algorithm>
#include <string>
#include <type_traits>

#include "emulator/machine.h"
#include "ntoskrnl-stubs/api/registry.h"
#include "ntoskrnl-stubs/kernel.h"

namespace kemu::nt {

namespace {

constexpr size_t kMaxFormatChars = 64 * 1024;

template <class C>
C load(Kernel& k, GuestVa va) {
  if (!k.memory().accessible(va, sizeof(C), Prot::Read)) throw emu::GuestAccessError(va, false);
  return k.memory().read<C>(va);
}

template <class C>
void store(Kernel& k, GuestVa va, C value) {
  if (!k.memory().accessible(va, sizeof(C), Prot::Write)) throw emu::GuestAccessError(va, true);
  k.memory().write<C>(va, value);
}

// Writes `count` units page by page, so a fault leaves the bytes before the
// faulting page written, as the routine's own stores would.
template <class C>
void store_units(Kernel& k, GuestVa dst, const C* units, uint64_t count) {
  uint64_t bytes = count * sizeof(C), done = 0;
  while (done < bytes) {
    GuestVa at = dst + done;
    uint64_t chunk = std::min(bytes - done, kPageSize - (at.value & (kPageSize - 1)));
    if (!k.memory().accessible(at, chunk, Prot::Write)) {
      // The first unit that is not writable.
      for (uint64_t off = 0; off < chunk; off += sizeof(C))
        if (!k.memory().accessible(at + off, sizeof(C), Prot::Write))
          throw emu::GuestAccessError(at + off, true);
    }
    k.memory().write(at, reinterpret_cast<const uint8_t*>(units) + done, chunk);
    done += chunk;
  }
}

// Reads `count` bytes page by page; the first unreadable byte faults.
std::string load_bytes(Kernel& k, GuestVa src, uint64_t count) {
  std::string bytes(count, '\0');
  uint64_t done = 0;
  while (done < count) {
    GuestVa at = src + done;
    uint64_t chunk = std::min(count - done, kPageSize - (at.value & (kPageSize - 1)));
    if (!k.memory().accessible(at, chunk, Prot::Read)) throw emu::GuestAccessError(at, false);
    k.memory().read(at, bytes.data() + done, chunk);
    done += chunk;
  }
  return bytes;
}

// memmove over guest memory in bounded chunks (backwards when the
// destination overlaps the source's tail), so a lying count never makes the
// host allocate more than one chunk.
void move_bytes(Kernel& k, GuestVa dst, GuestVa src, uint64_t count) {
  constexpr uint64_t kChunk = 64 * 1024;
  if (dst > src && dst < src + count) {
    for (uint64_t left = count; left > 0;) {
      uint64_t n = std::min(left, kChunk);
      left -= n;
      std::string bytes = load_bytes(k, src + left, n);
      store_units<char>(k, dst + left, bytes.data(), n);
    }
    return;
  }
  for (uint64_t off = 0; off < count; off += kChunk) {
    uint64_t n = std::min(count - off, kChunk);
    std::string bytes = load_bytes(k, src + off, n);
    store_units<char>(k, dst + off, bytes.data(), n);
  }
}

template <class C>
GuestVa at(GuestVa base, uint64_t index) {
  return base + index * sizeof(C);
}

// The "C" locale's case mapping: ASCII letters only.
template <class C>
C ascii_lower(C c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<C>(c + ('a' - 'A')) : c;
}
template <class C>
C ascii_upper(C c) {
  return (c >= 'a' && c <= 'z') ? static_cast<C>(c - ('a' - 'A')) : c;
}

// Character values as the CRT compares them: unsigned char / wchar_t.
template <class C>
int32_t value(C c) {
  if constexpr (sizeof(C) == 1)
    return static_cast<uint8_t>(c);
  else
    return static_cast<uint16_t>(c);
}

template <class C>
uint64_t length(Kernel& k, GuestVa s) {
  uint64_t n = 0;
  while (load<C>(k, at<C>(s, n)) != 0) ++n;
  return n;
}

// strcmp/wcscmp: -1, 0 or 1.
template <class C>
int32_t compare(Kernel& k, GuestVa a, GuestVa b) {
  for (uint64_t i = 0;; ++i) {
    int32_t x = value(load<C>(k, at<C>(a, i))), y = value(load<C>(k, at<C>(b, i)));
    if (x != y) return x < y ? -1 : 1;
    if (x == 0) return 0;
  }
}

// strncmp/wcsncmp: the difference of the first differing characters.
template <class C>
int32_t compare_n(Kernel& k, GuestVa a, GuestVa b, uint64_t count) {
  if (count == 0) return 0;
  for (uint64_t i = 0;; ++i) {
    int32_t x = value(load<C>(k, at<C>(a, i))), y = value(load<C>(k, at<C>(b, i)));
    if (i + 1 == count || x == 0 || x != y) return x - y;
  }
}

// _stricmp/_strnicmp/_wcsicmp/_wcsnicmp: both sides lowered, then the
// difference (so '_' sorts before letters).
template <class C>
int32_t compare_icase(Kernel& k, GuestVa a, GuestVa b, uint64_t count) {
  if (count == 0) return 0;
  for (uint64_t i = 0;; ++i) {
    int32_t x = value(ascii_lower(load<C>(k, at<C>(a, i)))),
            y = value(ascii_lower(load<C>(k, at<C>(b, i))));
    if (i + 1 == count || x == 0 || x != y) return x - y;
  }
}

// strchr/wcschr: the first c, the terminator itself when c is 0.
template <class C>
GuestVa find_char(Kernel& k, GuestVa s, C c) {
  for (uint64_t i = 0;; ++i) {
    C x = load<C>(k, at<C>(s, i));
    if (x == c) return at<C>(s, i);
    if (x == 0) return GuestVa{};
  }
}

template <class C>
GuestVa find_last_char(Kernel& k, GuestVa s, C c) {
  GuestVa found;
  for (uint64_t i = 0;; ++i) {
    C x = load<C>(k, at<C>(s, i));
    if (x == c) found = at<C>(s, i);
    if (x == 0) return found;
  }
}

// strstr/wcsstr: an empty needle matches at the start.
template <class C>
GuestVa find_string(Kernel& k, GuestVa haystack, GuestVa needle) {
  if (load<C>(k, needle) == 0) return haystack;
  for (uint64_t i = 0; load<C>(k, at<C>(haystack, i)) != 0; ++i) {
    for (uint64_t j = 0;; ++j) {
      C n = load<C>(k, at<C>(needle, j));
      if (n == 0) return at<C>(haystack, i);
      if (load<C>(k, at<C>(haystack, i + j)) != n) break;
    }
  }
  return GuestVa{};
}

// strcpy: units up to and including the terminator, one by one (the source
// may overlap the destination; the CRT copies forwards).
template <class C>
GuestVa copy(Kernel& k, GuestVa dst, GuestVa src) {
  for (uint64_t i = 0;; ++i) {
    C c = load<C>(k, at<C>(src, i));
    store<C>(k, at<C>(dst, i), c);
    if (c == 0) return dst;
  }
}

// strncpy: at most count units; a shorter source is padded with zeros to
// count; a source of count or more units leaves no terminator.
template <class C>
GuestVa copy_n(Kernel& k, GuestVa dst, GuestVa src, uint64_t count) {
  uint64_t i = 0;
  for (; i < count; ++i) {
    C c = load<C>(k, at<C>(src, i));
    store<C>(k, at<C>(dst, i), c);
    if (c == 0) break;
  }
  for (++i; i < count; ++i) store<C>(k, at<C>(dst, i), 0);
  return dst;
}

template <class C>
GuestVa concat(Kernel& k, GuestVa dst, GuestVa src) {
  copy<C>(k, at<C>(dst, length<C>(k, dst)), src);
  return dst;
}

// strncat: at most count units of the source, always terminated.
template <class C>
GuestVa concat_n(Kernel& k, GuestVa dst, GuestVa src, uint64_t count) {
  GuestVa end = at<C>(dst, length<C>(k, dst));
  uint64_t i = 0;
  for (; i < count; ++i) {
    C c = load<C>(k, at<C>(src, i));
    store<C>(k, at<C>(end, i), c);
    if (c == 0) return dst;
  }
  store<C>(k, at<C>(end, i), 0);
  return dst;
}

// --- the secure routines (tcscpy_s.inl, tcscat_s.inl, tcsncpy_s.inl,
// tcsncat_s.inl): on a bad argument they return the errno value; where the
// CRT "resets" the string, dst[0] becomes 0 (after any units already copied).

template <class C>
int32_t copy_s(Kernel& k, GuestVa dst, uint64_t size, GuestVa src) {
  if (!dst || size == 0) return crt_errno::kEinval;
  if (!src) {
    store<C>(k, dst, 0);
    return crt_errno::kEinval;
  }
  uint64_t available = size;
  for (uint64_t i = 0;; ++i) {
    C c = load<C>(k, at<C>(src, i));
    store<C>(k, at<C>(dst, i), c);
    if (c == 0) return 0;
    if (--available == 0) break;
  }
  store<C>(k, dst, 0);
  return crt_errno::kErange;
}

template <class C>
int32_t concat_s(Kernel& k, GuestVa dst, uint64_t size, GuestVa src) {
  if (!dst || size == 0) return crt_errno::kEinval;
  if (!src) {
    store<C>(k, dst, 0);
    return crt_errno::kEinval;
  }
  uint64_t p = 0, available = size;
  while (available > 0 && load<C>(k, at<C>(dst, p)) != 0) {
    ++p;
    --available;
  }
  if (available == 0) {  // the destination is not terminated within size
    store<C>(k, dst, 0);
    return crt_errno::kEinval;
  }
  for (uint64_t i = 0;; ++i) {
    C c = load<C>(k, at<C>(src, i));
    store<C>(k, at<C>(dst, p + i), c);
    if (c == 0) return 0;
    if (--available == 0) break;
  }
  store<C>(k, dst, 0);
  return crt_errno::kErange;
}

template <class C>
int32_t copy_n_s(Kernel& k, GuestVa dst, uint64_t size, GuestVa src, uint64_t count) {
  if (count == 0 && !dst && size == 0) return 0;
  if (!dst || size == 0) return crt_errno::kEinval;
  if (count == 0) {
    store<C>(k, dst, 0);
    return 0;
  }
  if (!src) {
    store<C>(k, dst, 0);
    return crt_errno::kEinval;
  }
  uint64_t p = 0, available = size;
  bool terminated = false;
  if (count == kTruncate) {
    for (;;) {
      C c = load<C>(k, at<C>(src, p));
      store<C>(k, at<C>(dst, p++), c);
      if (c == 0) return 0;
      if (--available == 0) break;
    }
  } else {
    for (;;) {
      C c = load<C>(k, at<C>(src, p));
      store<C>(k, at<C>(dst, p++), c);
      if (c == 0) {
        terminated = true;
        break;
      }
      if (--available == 0) break;
      if (--count == 0) break;
    }
    if (!terminated && count == 0) {
      store<C>(k, at<C>(dst, p), 0);
      return 0;
    }
    if (terminated) return 0;
  }
  if (count == kTruncate) {
    store<C>(k, at<C>(dst, size - 1), 0);
    return crt_errno::kStruncate;
  }
  store<C>(k, dst, 0);
  return crt_errno::kErange;
}

template <class C>
int32_t concat_n_s(Kernel& k, GuestVa dst, uint64_t size, GuestVa src, uint64_t count) {
  if (count == 0 && !dst && size == 0) return 0;
  if (!dst || size == 0) return crt_errno::kEinval;
  if (count != 0 && !src) {
    store<C>(k, dst, 0);
    return crt_errno::kEinval;
  }
  uint64_t p = 0, available = size;
  while (available > 0 && load<C>(k, at<C>(dst, p)) != 0) {
    ++p;
    --available;
  }
  if (available == 0) {
    store<C>(k, dst, 0);
    return crt_errno::kEinval;
  }
  uint64_t i = 0;
  if (count == kTruncate) {
    for (;;) {
      C c = load<C>(k, at<C>(src, i++));
      store<C>(k, at<C>(dst, p++), c);
      if (c == 0) return 0;
      if (--available == 0) break;
    }
    store<C>(k, at<C>(dst, size - 1), 0);
    return crt_errno::kStruncate;
  }
  for (;;) {
    if (count == 0) break;
    C c = load<C>(k, at<C>(src, i++));
    store<C>(k, at<C>(dst, p++), c);
    if (c == 0) return 0;
    if (--available == 0) break;
    --count;
  }
  if (count == 0) {
    store<C>(k, at<C>(dst, p), 0);
    return 0;
  }
  store<C>(k, dst, 0);
  return crt_errno::kErange;
}

// --- formatting -----------------------------------------------------------------

// Variadic arguments of the trapped call from argument `first` on.
class CallArgs final : public rtl::FormatArgs {
 public:
  CallArgs(emu::Machine& m, unsigned first) : m_(m), next_(first) {}
  uint64_t next() override { return next_ < 256 ? m_.arg(next_++) : 0; }

 private:
  emu::Machine& m_;
  unsigned next_;
};

std::string narrow_format(Kernel& k, GuestVa format) {
  return k.memory().read_cstring(format, kMaxFormatChars);
}
std::u16string wide_format(Kernel& k, GuestVa format) {
  return k.memory().read_wstring(format, kMaxFormatChars);
}

// The counted store of _snprintf/_snwprintf (see crt.h).
template <class C>
int32_t store_counted(Kernel& k, GuestVa buffer, uint64_t count, const std::basic_string<C>& text,
                      bool error) {
  const uint64_t len = text.size();
  if (!buffer && count == 0) return error ? -1 : static_cast<int32_t>(len);
  const uint64_t n = std::min(len, count);
  store_units<C>(k, buffer, text.data(), n);
  if (len < count) store<C>(k, at<C>(buffer, n), 0);
  if (error || len > count) return -1;
  return static_cast<int32_t>(len);
}

template <class C>
int32_t store_all(Kernel& k, GuestVa buffer, const std::basic_string<C>& text, bool error) {
  store_units<C>(k, buffer, text.data(), text.size());
  store<C>(k, at<C>(buffer, text.size()), 0);
  return error ? -1 : static_cast<int32_t>(text.size());
}

}  // namespace

// --- narrow strings ---------------------------------------------------------------
int32_t strcmp(Kernel& k, GuestVa a, GuestVa b) {
  return compare<char>(k, a, b);
}
int32_t strncmp(Kernel& k, GuestVa a, GuestVa b, uint64_t count) {
  return compare_n<char>(k, a, b, count);
}
int32_t _stricmp(Kernel& k, GuestVa a, GuestVa b) {
  return compare_icase<char>(k, a, b, ~0ull);
}
int32_t _strnicmp(Kernel& k, GuestVa a, GuestVa b, uint64_t count) {
  return compare_icase<char>(k, a, b, count);
}
GuestVa strchr(Kernel& k, GuestVa s, int32_t c) {
  return find_char<char>(k, s, static_cast<char>(c));
}
GuestVa strrchr(Kernel& k, GuestVa s, int32_t c) {
  return find_last_char<char>(k, s, static_cast<char>(c));
}
GuestVa strstr(Kernel& k, GuestVa haystack, GuestVa needle) {
  return find_string<char>(k, haystack, needle);
}
GuestVa strcpy(Kernel& k, GuestVa dst, GuestVa src) {
  return copy<char>(k, dst, src);
}
GuestVa strncpy(Kernel& k, GuestVa dst, GuestVa src, uint64_t count) {
  return copy_n<char>(k, dst, src, count);
}
GuestVa strcat(Kernel& k, GuestVa dst, GuestVa src) {
  return concat<char>(k, dst, src);
}
GuestVa strncat(Kernel& k, GuestVa dst, GuestVa src, uint64_t count) {
  return concat_n<char>(k, dst, src, count);
}
int32_t strcpy_s(Kernel& k, GuestVa dst, uint64_t size, GuestVa src) {
  return copy_s<char>(k, dst, size, src);
}
int32_t strcat_s(Kernel& k, GuestVa dst, uint64_t size, GuestVa src) {
  return concat_s<char>(k, dst, size, src);
}
int32_t strncpy_s(Kernel& k, GuestVa dst, uint64_t size, GuestVa src, uint64_t count) {
  return copy_n_s<char>(k, dst, size, src, count);
}
int32_t strncat_s(Kernel& k, GuestVa dst, uint64_t size, GuestVa src, uint64_t count) {
  return concat_n_s<char>(k, dst, size, src, count);
}

// _strupr/_strlwr change the string in place and return it.
GuestVa _strupr(Kernel& k, GuestVa s) {
  for (uint64_t i = 0;; ++i) {
    char c = load<char>(k, s + i);
    if (c == 0) return s;
    if (ascii_upper(c) != c) store<char>(k, s + i, ascii_upper(c));
  }
}
GuestVa _strlwr(Kernel& k, GuestVa s) {
  for (uint64_t i = 0;; ++i) {
    char c = load<char>(k, s + i);
    if (c == 0) return s;
    if (ascii_lower(c) != c) store<char>(k, s + i, ascii_lower(c));
  }
}
int32_t tolower(Kernel& k, int32_t c) {
  return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}
int32_t toupper(Kernel& k, int32_t c) {
  return (c >= 'a' && c <= 'z') ? c - ('a' - 'A') : c;
}

// --- wide strings -----------------------------------------------------------------
int32_t wcscmp(Kernel& k, GuestVa a, GuestVa b) {
  return compare<char16_t>(k, a, b);
}
int32_t wcsncmp(Kernel& k, GuestVa a, GuestVa b, uint64_t count) {
  return compare_n<char16_t>(k, a, b, count);
}
int32_t _wcsicmp(Kernel& k, GuestVa a, GuestVa b) {
  return compare_icase<char16_t>(k, a, b, ~0ull);
}
int32_t _wcsnicmp(Kernel& k, GuestVa a, GuestVa b, uint64_t count) {
  return compare_icase<char16_t>(k, a, b, count);
}
GuestVa wcschr(Kernel& k, GuestVa s, uint16_t c) {
  return find_char<char16_t>(k, s, c);
}
GuestVa wcsrchr(Kernel& k, GuestVa s, uint16_t c) {
  return find_last_char<char16_t>(k, s, c);
}
GuestVa wcsstr(Kernel& k, GuestVa haystack, GuestVa needle) {
  return find_string<char16_t>(k, haystack, needle);
}
GuestVa wcscpy(Kernel& k, GuestVa dst, GuestVa src) {
  return copy<char16_t>(k, dst, src);
}
GuestVa wcsncpy(Kernel& k, GuestVa dst, GuestVa src, uint64_t count) {
  return copy_n<char16_t>(k, dst, src, count);
}
GuestVa wcscat(Kernel& k, GuestVa dst, GuestVa src) {
  return concat<char16_t>(k, dst, src);
}
GuestVa wcsncat(Kernel& k, GuestVa dst, GuestVa src, uint64_t count) {
  return concat_n<char16_t>(k, dst, src, count);
}
int32_t wcscpy_s(Kernel& k, GuestVa dst, uint64_t size, GuestVa src) {
  return copy_s<char16_t>(k, dst, size, src);
}
int32_t wcscat_s(Kernel& k, GuestVa dst, uint64_t size, GuestVa src) {
  return concat_s<char16_t>(k, dst, size, src);
}
int32_t wcsncpy_s(Kernel& k, GuestVa dst, uint64_t size, GuestVa src, uint64_t count) {
  return copy_n_s<char16_t>(k, dst, size, src, count);
}
int32_t wcsncat_s(Kernel& k, GuestVa dst, uint64_t size, GuestVa src, uint64_t count) {
  return concat_n_s<char16_t>(k, dst, size, src, count);
}
GuestVa _wcsupr(Kernel& k, GuestVa s) {
  for (uint64_t i = 0;; ++i) {
    char16_t c = load<char16_t>(k, at<char16_t>(s, i));
    if (c == 0) return s;
    if (ascii_upper(c) != c) store<char16_t>(k, at<char16_t>(s, i), ascii_upper(c));
  }
}
GuestVa _wcslwr(Kernel& k, GuestVa s) {
  for (uint64_t i = 0;; ++i) {
    char16_t c = load<char16_t>(k, at<char16_t>(s, i));
    if (c == 0) return s;
    if (ascii_lower(c) != c) store<char16_t>(k, at<char16_t>(s, i), ascii_lower(c));
  }
}
uint16_t towlower(Kernel& k, uint16_t c) {
  return ascii_lower(c);
}
uint16_t towupper(Kernel& k, uint16_t c) {
  return ascii_upper(c);
}

// memcpy_s: count 0 succeeds; a NULL destination is EINVAL; a NULL source or
// a destination smaller than count zeroes the destination first (EINVAL /
// ERANGE).
int32_t memcpy_s(Kernel& k, GuestVa dst, uint64_t size, GuestVa src, uint64_t count) {
  if (count == 0) return 0;
  if (!dst) return crt_errno::kEinval;
  if (!src || size < count) {
    std::string zeros(std::min<uint64_t>(size, 64 * 1024), '\0');
    for (uint64_t done = 0; done < size; done += zeros.size())
      store_units<char>(k, dst + done, zeros.data(), std::min<uint64_t>(zeros.size(), size - done));
    return src ? crt_errno::kErange : crt_errno::kEinval;
  }
  move_bytes(k, dst, src, count);
  return 0;
}

// memmove_s: the same checks without zeroing; overlapping ranges are fine.
int32_t memmove_s(Kernel& k, GuestVa dst, uint64_t size, GuestVa src, uint64_t count) {
  if (count == 0) return 0;
  if (!dst || !src) return crt_errno::kEinval;
  if (size < count) return crt_errno::kErange;
  move_bytes(k, dst, src, count);
  return 0;
}

// --- formatting -----------------------------------------------------------------------
int32_t snprintf_with_args(Kernel& k, GuestVa buffer, uint64_t count, GuestVa format,
                           rtl::FormatArgs& args) {
  bool error = false;
  std::string text = rtl::format_narrow(narrow_format(k, format), args, k.memory(), &error);
  return store_counted<char>(k, buffer, count, text, error);
}

int32_t snwprintf_with_args(Kernel& k, GuestVa buffer, uint64_t count, GuestVa format,
                            rtl::FormatArgs& args) {
  std::u16string text = rtl::format_wide(wide_format(k, format), args, k.memory());
  return store_counted<char16_t>(k, buffer, count, text, false);
}

int32_t sprintf_with_args(Kernel& k, GuestVa buffer, GuestVa format, rtl::FormatArgs& args) {
  bool error = false;
  std::string text = rtl::format_narrow(narrow_format(k, format), args, k.memory(), &error);
  return store_all<char>(k, buffer, text, error);
}

int32_t swprintf_with_args(Kernel& k, GuestVa buffer, GuestVa format, rtl::FormatArgs& args) {
  std::u16string text = rtl::format_wide(wide_format(k, format), args, k.memory());
  return store_all<char16_t>(k, buffer, text, false);
}

// _snprintf(buffer, count, format, ...)
int32_t _snprintf(Kernel& k, GuestVa buffer, uint64_t count, GuestVa format) {
  CallArgs args(k.machine(), 3);
  return snprintf_with_args(k, buffer, count, format, args);
}

int32_t _snwprintf(Kernel& k, GuestVa buffer, uint64_t count, GuestVa format) {
  CallArgs args(k.machine(), 3);
  return snwprintf_with_args(k, buffer, count, format, args);
}

int32_t sprintf(Kernel& k, GuestVa buffer, GuestVa format) {
  CallArgs args(k.machine(), 2);
  return sprintf_with_args(k, buffer, format, args);
}

int32_t swprintf(Kernel& k, GuestVa buffer, GuestVa format) {
  CallArgs args(k.machine(), 2);
  return swprintf_with_args(k, buffer, format, args);
}

// The va_list forms: an x64 va_list points at consecutive 8-byte slots.
int32_t _vsnprintf(Kernel& k, GuestVa buffer, uint64_t count, GuestVa format, GuestVa va_list) {
  rtl::GuestSlotArgs args(k.memory(), va_list);
  return snprintf_with_args(k, buffer, count, format, args);
}

int32_t _vsnwprintf(Kernel& k, GuestVa buffer, uint64_t count, GuestVa format, GuestVa va_list) {
  rtl::GuestSlotArgs args(k.memory(), va_list);
  return snwprintf_with_args(k, buffer, count, format, args);
}

int32_t vsprintf(Kernel& k, GuestVa buffer, GuestVa format, GuestVa va_list) {
  rtl::GuestSlotArgs args(k.memory(), va_list);
  return sprintf_with_args(k, buffer, format, args);
}

void register_crt_exports(Registry& r) {
  KEMU_EXPORT(r, strcmp);
  KEMU_EXPORT(r, strncmp);
  KEMU_EXPORT(r, _stricmp);
  KEMU_EXPORT(r, _strnicmp);
  KEMU_EXPORT(r, strchr);
  KEMU_EXPORT(r, strrchr);
  KEMU_EXPORT(r, strstr);
  KEMU_EXPORT(r, strcpy);
  KEMU_EXPORT(r, strncpy);
  KEMU_EXPORT(r, strcat);
  KEMU_EXPORT(r, strncat);
  KEMU_EXPORT(r, strcpy_s);
  KEMU_EXPORT(r, strcat_s);
  KEMU_EXPORT(r, strncpy_s);
  KEMU_EXPORT(r, strncat_s);
  KEMU_EXPORT(r, _strupr);
  KEMU_EXPORT(r, _strlwr);
  KEMU_EXPORT(r, tolower);
  KEMU_EXPORT(r, toupper);
  KEMU_EXPORT(r, wcscmp);
  KEMU_EXPORT(r, wcsncmp);
  KEMU_EXPORT(r, _wcsicmp);
  KEMU_EXPORT(r, _wcsnicmp);
  KEMU_EXPORT(r, wcschr);
  KEMU_EXPORT(r, wcsrchr);
  KEMU_EXPORT(r, wcsstr);
  KEMU_EXPORT(r, wcscpy);
  KEMU_EXPORT(r, wcsncpy);
  KEMU_EXPORT(r, wcscat);
  KEMU_EXPORT(r, wcsncat);
  KEMU_EXPORT(r, wcscpy_s);
  KEMU_EXPORT(r, wcscat_s);
  KEMU_EXPORT(r, wcsncpy_s);
  KEMU_EXPORT(r, wcsncat_s);
  KEMU_EXPORT(r, _wcsupr);
  KEMU_EXPORT(r, _wcslwr);
  KEMU_EXPORT(r, towlower);
  KEMU_EXPORT(r, towupper);
  KEMU_EXPORT(r, memcpy_s);
  KEMU_EXPORT(r, memmove_s);
  KEMU_EXPORT(r, _snprintf);
  KEMU_EXPORT(r, _snwprintf);
  KEMU_EXPORT(r, sprintf);
  KEMU_EXPORT(r, swprintf);
  KEMU_EXPORT(r, _vsnprintf);
  KEMU_EXPORT(r, _vsnwprintf);
  KEMU_EXPORT(r, vsprintf);
}

}  // namespace kemu::nt
