#include "ntoskrnl-stubs/fs/name_match.h"

#include <vector>

#include "ntoskrnl-stubs/ob/object_manager.h"

namespace kemu::nt::fs {

namespace {
constexpr char16_t kDosStar = u'<';
constexpr char16_t kDosQm = u'>';
constexpr char16_t kDosDot = u'"';
}  // namespace

bool has_wildcards(std::u16string_view expression) {
  for (char16_t c : expression)
    if (c == u'*' || c == u'?' || c == kDosStar || c == kDosQm || c == kDosDot) return true;
  return false;
}

bool name_in_expression(std::u16string_view expression, std::u16string_view name, bool ignore_case) {
  const size_t p_len = expression.size(), n_len = name.size();
  // DOS_STAR stops before the last '.' of the name.
  const size_t last_dot = name.rfind(u'.');
  // memo[p * (n_len + 1) + n]: 0 unknown, 1 no, 2 yes.
  std::vector<uint8_t> memo((p_len + 1) * (n_len + 1), 0);
  auto same = [&](char16_t a, char16_t b) { return ignore_case ? ob::upcase(a) == ob::upcase(b) : a == b; };
  auto match = [&](auto& self, size_t p, size_t n) -> bool {
    uint8_t& m = memo[p * (n_len + 1) + n];
    if (m) return m == 2;
    bool result = false;
    if (p == p_len) {
      result = n == n_len;
    } else {
      char16_t c = expression[p];
      if (c == u'*') {
        // Any run of characters, including none.
        result = self(self, p + 1, n) || (n < n_len && self(self, p, n + 1));
      } else if (c == u'?') {
        result = n < n_len && self(self, p + 1, n + 1);
      } else if (c == kDosStar) {
        // Any run that does not consume the name's final period.
        result = self(self, p + 1, n) || (n < n_len && n != last_dot && self(self, p, n + 1));
      } else if (c == kDosQm) {
        // One character; at a period or the end, the run of DOS_QMs matches nothing.
        if (n == n_len || name[n] == u'.') {
          size_t q = p;
          while (q < p_len && expression[q] == kDosQm) ++q;
          result = self(self, q, n);
        } else {
          result = self(self, p + 1, n + 1);
        }
      } else if (c == kDosDot) {
        // A period, or nothing at the end of the name.
        if (n < n_len && name[n] == u'.') result = self(self, p + 1, n + 1);
        else if (n == n_len) result = self(self, p + 1, n);
      } else {
        result = n < n_len && same(c, name[n]) && self(self, p + 1, n + 1);
      }
    }
    m = result ? 2 : 1;
    return result;
  };
  return match(match, 0, 0);
}

}  // namespace kemu::nt::fs
