// The JSON report of docs/cli.md ("Report"): key names and order are a
// contract that scripts and other people's tests rely on.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "harness/run_result.h"

namespace kemu::report {

// The report as an ordered JSON object, keys in cli.md order.
nlohmann::ordered_json to_json(const harness::RunResult& result);

// to_json(result) serialised (2-space indent when pretty), without a trailing
// newline. Invalid UTF-8 from the driver (DbgPrint bytes) becomes U+FFFD
// instead of failing the dump.
std::string render_json(const harness::RunResult& result, bool pretty = true);

}  // namespace kemu::report
