// The check catalog (checks.md). Interim: the reports branch brings the full
// catalog with every id, its rule and its fix.
#pragma once

#include <string_view>
#include <vector>

namespace kemu::verifier {

struct CheckInfo {
  std::string_view id, severity, title, seen, microsoft, rule, fix;
  bool implemented = false;
};
const std::vector<CheckInfo>& catalog();
const CheckInfo* find_check(std::string_view id);

}  // namespace kemu::verifier
