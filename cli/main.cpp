// kemu: run Windows x64 kernel drivers in an emulated NT kernel and report
// what they did (docs/cli.md is the contract for everything parsed here).
#include <cstdio>
#include <exception>
#include <string>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "cli/checks_command.h"
#include "cli/commands.h"
#include "cli/exit_status.h"
#include "cli/io.h"
#include "cli/options.h"

int main(int argc, char** argv) {
  using namespace kemu::cli;

  CLI::App app(
      "kemu: run Windows x64 kernel drivers (.sys) in an emulated NT kernel and "
      "report what they did",
      "kemu");
  app.set_version_flag("--version", "kemu " KEMU_VERSION);
  app.require_subcommand(1);

  RunOptions run;
  auto* run_cmd = app.add_subcommand(
      "run", "load a driver, call DriverEntry, open its devices, unload it, and report");
  add_run_options(*run_cmd, run);

  ExerciseOptions exercise;
  auto* exercise_cmd = app.add_subcommand(
      "exercise", "send the Device Path Exerciser matrix of bad requests to a driver's devices");
  add_exercise_options(*exercise_cmd, exercise);

  InfoOptions info;
  auto* info_cmd =
      app.add_subcommand("info", "headers, sections, imports (implemented or not), exports");
  add_info_options(*info_cmd, info);

  BatchOptions batch;
  auto* batch_cmd = app.add_subcommand("batch", "run many drivers");
  add_batch_options(*batch_cmd, batch);

  ChecksOptions checks;
  auto* checks_cmd = app.add_subcommand(
      "checks",
      "the catalog of checks: id, severity, implemented or not, title, Microsoft equivalent");
  add_checks_options(*checks_cmd, checks);

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help, --version
  } catch (const CLI::ParseError& e) {
    std::string help = "kemu --help";
    for (const CLI::App* sub : app.get_subcommands())
      help = fmt::format("kemu {} --help", sub->get_name());
    std::string why = e.what();
    if (app.get_subcommands().empty() && argc > 1 && argv[1][0] != '-')
      why = fmt::format("unknown command '{}'", argv[1]);
    put(stderr, fmt::format("kemu: {} (see '{}')\n", why, help));
    return kExitCannotRun;
  }

  try {
    if (run_cmd->parsed()) return run_command(run);
    if (info_cmd->parsed()) return info_command(info);
    if (checks_cmd->parsed()) return checks_command(checks);
    if (exercise_cmd->parsed() || batch_cmd->parsed()) {
      const char* name = exercise_cmd->parsed() ? "exercise" : "batch";
      put(stderr, fmt::format("kemu: {} is not implemented yet\n", name));
      return kExitCannotRun;
    }
  } catch (const std::exception& e) {
    put(stderr, fmt::format("kemu: internal error: {}\n", e.what()));
    return kExitCannotRun;
  }
  return kExitCannotRun;
}
