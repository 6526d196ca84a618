// The exit status contract of docs/cli.md: 0 clean, 1 something was wrong
// with the driver, 2 kemu could not run it.
#pragma once

#include "harness/run_result.h"

namespace kemu::cli {

constexpr int kExitClean = 0;
constexpr int kExitProblem = 1;
constexpr int kExitCannotRun = 2;

// Exit status of `kemu run` for a finished run: 1 for any finding, an
// `expect` that did not hold, or a stop other than `completed`. A stop reason
// of `error` (kemu itself failed mid-run) counts as "could not run": 2, even
// with findings, since the run is incomplete.
int exit_status(const harness::RunResult& result);

}  // namespace kemu::cli
