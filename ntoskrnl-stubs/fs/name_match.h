// FsRtlIsNameInExpression's matching, as file systems apply a
// ZwQueryDirectoryFile search expression: '*' (any run), '?' (one
// character) and the DOS wildcards '<' (DOS_STAR), '>' (DOS_QM) and '"'
// (DOS_DOT), compared ignoring case when asked.
#pragma once

#include <string_view>

namespace kemu::nt::fs {

// FsRtlDoesNameContainWildCards.
bool has_wildcards(std::u16string_view expression);

// FsRtlIsNameInExpression(Expression, Name, IgnoreCase).
bool name_in_expression(std::u16string_view expression, std::u16string_view name, bool ignore_case);

}  // namespace kemu::nt::fs
