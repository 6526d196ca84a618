#include <cstdio>
#include <exception>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/exit_status.h"
#include "cli/io.h"
#include "harness/scenario.h"
#include "harness/session.h"
#include "report/json_report.h"
#include "report/sarif_report.h"
#include "report/text_report.h"

namespace kemu::cli {

int run_command(const RunOptions& o) {
  if (auto missing = first_unimplemented_option(o)) {
    put(stderr, fmt::format("kemu: {} is not implemented yet\n", *missing));
    return kExitCannotRun;
  }

  harness::RunResult result;
  try {
    harness::Session session(to_session_options(o));
    if (o.scenario.empty()) {
      result = session.run(o.driver);
    } else {
      // The whole scenario is validated before the driver runs (exit 2 on an error).
      harness::Scenario scenario = harness::parse_scenario(o.scenario);
      result = harness::run_scenario(session, o.driver, scenario);
    }
  } catch (const std::exception& e) {
    // SessionError (bad PE, unreadable file) and anything else host-side.
    put(stderr, fmt::format("kemu: {}\n", e.what()));
    return kExitCannotRun;
  }
  if (result.kemu_version.empty()) result.kemu_version = KEMU_VERSION;

  if (o.json == "-") {
    // JSON alone on stdout; the human summary moves to stderr.
    put(stdout, report::render_json(result) + "\n");
    put(stderr, report::render_text(result, want_color(stderr)));
    if (o.explain) put(stderr, report::render_explain(result));
  } else {
    put(stdout, report::render_text(result, want_color(stdout)));
    if (o.explain) put(stdout, report::render_explain(result));
    if (!o.json.empty()) {
      try {
        write_file(o.json, report::render_json(result) + "\n");
      } catch (const std::exception& e) {
        put(stderr, fmt::format("kemu: {}\n", e.what()));
        return kExitCannotRun;
      }
    }
  }
  if (!o.sarif.empty()) {
    try {
      write_file(o.sarif, report::render_sarif(result) + "\n");
    } catch (const std::exception& e) {
      put(stderr, fmt::format("kemu: {}\n", e.what()));
      return kExitCannotRun;
    }
  }
  return exit_status(result);
}

}  // namespace kemu::cli
