// What the bug-pair e2e tests share: running one twin of a samples/bugs pair
// under its scenario, and reading its findings.
#pragma once

#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "e2e/e2e_paths.h"
#include "harness/scenario.h"
#include "harness/session.h"
#include "verifier/finding.h"

namespace kemu::e2e {

// samples/bugs/<topic>/<name>.yaml run against the sample
// <sample_prefix><name>_<variant>.sys (variant "bug" or "fixed").
inline harness::RunResult run_bug_pair(const std::string& topic, const std::string& name,
                                       const std::string& variant, harness::SessionOptions options = {},
                                       const std::string& sample_prefix = {}) {
  auto scenario =
      harness::parse_scenario(std::string(KEMU_SOURCE_DIR) + "/samples/bugs/" + topic + "/" + name + ".yaml");
  harness::Session session(options);
  harness::run_scenario(session, sample(sample_prefix + name + "_" + variant), scenario);
  return session.result();
}

// The first finding of `check`, or nullptr.
inline const verifier::Finding* find_finding(const harness::RunResult& r, const std::string& check) {
  for (const auto& f : r.findings)
    if (f.check == check) return &f;
  return nullptr;
}

// Every finding of `check`, in report order.
inline std::vector<const verifier::Finding*> findings_of(const harness::RunResult& r, const std::string& check) {
  std::vector<const verifier::Finding*> out;
  for (const auto& f : r.findings)
    if (f.check == check) out.push_back(&f);
  return out;
}

// The check ids the run reported.
inline std::set<std::string> check_ids(const harness::RunResult& r) {
  std::set<std::string> ids;
  for (const auto& f : r.findings) ids.insert(f.check);
  return ids;
}

// A finding's value named `key`, or "<none>" when it has none.
inline std::string finding_value(const verifier::Finding& f, const std::string& key) {
  for (const auto& [k, v] : f.values)
    if (k == key) return v;
  return "<none>";
}

}  // namespace kemu::e2e

// gtest names a pair by its `field` in failure messages. PrintTo must be
// declared in the pair type's own namespace (gtest finds it by argument-dependent
// lookup), so each test file expands this next to its pair type.
#define KEMU_PRINT_PAIR_BY(Type, field) \
  [[maybe_unused]] void PrintTo(const Type& pair, std::ostream* os) { *os << pair.field; }
