// The human summary `kemu run` prints: what loaded where, what DriverEntry
// returned, the devices, the driver's debug output, what kemu could not do,
// how the run ended, the findings (grouped by check, most severe first, each
// group closed by the Windows rule and the fix from verifier/catalog.h), and
// the numbers.
#pragma once

#include <string>

#include "harness/run_result.h"

namespace kemu::report {

// The summary as lines ending in '\n'. ANSI colour only when `color` (the
// caller knows whether the stream is a terminal). Driver-supplied text is
// escaped so it cannot emit control sequences of its own.
std::string render_text(const harness::RunResult& result, bool color);
// The --explain narration: one sentence per handle-table and previous-mode
// decision, grouped under the request (step) that caused it.
std::string render_explain(const harness::RunResult& result);

}  // namespace kemu::report
