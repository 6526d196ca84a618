#include "cli/exit_status.h"

namespace kemu::cli {

int exit_status(const harness::RunResult& r) {
  using harness::StopReason;
  switch (r.stop.reason) {
    case StopReason::Completed:
      // Any finding (cli.md), and every `expect` of the scenario must have held.
      if (!r.findings.empty()) return kExitProblem;
      for (const harness::StepResult& step : r.steps)
        if (!step.expect_ok) return kExitProblem;
      return kExitClean;
    case StopReason::Bugcheck:
    case StopReason::Timeout:
    case StopReason::InstructionLimit:
    case StopReason::Deadlock:
    case StopReason::Unimplemented:
      return kExitProblem;
    case StopReason::Error:
      return kExitCannotRun;
  }
  return kExitCannotRun;
}

}  // namespace kemu::cli
