// The SARIF 2.1.0 log of a run (cli.md `--sarif`): one run whose
// tool.driver.rules is the whole check catalog (verifier/catalog.h) and one
// result per finding, located at the driver binary and the offending RVA.
// tests/schemas/sarif-schema-2.1.0.json is the schema it is validated against.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "harness/run_result.h"

namespace kemu::report {

// The log as an ordered JSON object.
nlohmann::ordered_json to_sarif(const harness::RunResult& result);

// to_sarif(result) serialised with a 2-space indent, without a trailing
// newline; invalid UTF-8 from the driver becomes U+FFFD.
std::string render_sarif(const harness::RunResult& result);

// A driver path as a SARIF artifact URI: "file:///abs/path.sys" for an
// absolute path, a relative reference for a relative one, bytes outside the
// URI's unreserved set and '/' percent-encoded ("a b.sys" -> "a%20b.sys").
std::string artifact_uri(std::string_view path);

}  // namespace kemu::report
