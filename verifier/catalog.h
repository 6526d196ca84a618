// The check catalog of ../shared/reference/checks.md as data: every check id
// (a contract: JSON `check`, SARIF `ruleId`, --enable/--disable, tests) with
// its severity, title, how kemu sees it, the Microsoft equivalent, the Windows
// rule it enforces and how to fix a driver that breaks it.
#pragma once

#include <string_view>
#include <vector>

namespace kemu::verifier {

struct CheckInfo {
  std::string_view id;         // "handle.user-handle-kernel-mode"
  std::string_view severity;   // "error" | "warning" | "note"
  std::string_view title;      // one line, as in checks.md
  std::string_view seen;       // how kemu sees it, short
  std::string_view microsoft;  // the Microsoft equivalent (Verifier code, CA rule, doc page)
  std::string_view rule;       // the Windows rule the check enforces, one or two sentences
  std::string_view fix;        // what to change in the driver
  bool implemented = false;    // kemu raises this finding today
};

// Every check, in checks.md order (crash, handles, probing, buffers, IRPs,
// pool/unload/IRQL/sections/primitives). Ids are unique.
const std::vector<CheckInfo>& catalog();

// The check with this id, or nullptr for an id the catalog does not have.
const CheckInfo* find_check(std::string_view id);

// Position of `id` in catalog() (the SARIF ruleIndex), or -1 when unknown.
int check_index(std::string_view id);

// Sort key of a severity: error 0, warning 1, note 2, anything else 3.
int severity_rank(std::string_view severity);

}  // namespace kemu::verifier
