// The commands behind `kemu run` and `kemu info`. Each returns the process
// exit status and has already written its output and any error line.
#pragma once

#include "cli/options.h"

namespace kemu::cli {

int run_command(const RunOptions& options);
int info_command(const InfoOptions& options);

}  // namespace kemu::cli
