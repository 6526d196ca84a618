// The options of each kemu command as plain data (docs/cli.md "Commands"),
// their registration on a CLI11 app, and the mapping onto SessionOptions.
// Kept apart from main() so parsing is unit-tested without running anything.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <CLI/CLI.hpp>

#include "harness/session.h"

namespace kemu::cli {

// `kemu run DRIVER.sys [options]`.
struct RunOptions {
  std::string driver;
  std::string scenario;     // --scenario FILE.yaml
  std::string as = "user";  // --as user|admin: the client's token
  bool as_given = false;    // --as was on the command line (it overrides a scenario's as:)
  std::string json;         // --json PATH, "-" for stdout, empty for none
  std::string sarif;        // --sarif PATH: the SARIF 2.1.0 log
  bool explain = false;     // --explain: narrate handle and previous-mode decisions
  bool trace = false;
  uint64_t max_instructions = 200'000'000;
  double timeout_seconds = 60.0;
  uint64_t seed = 0;
  std::string unimplemented = "fail";  // fail | stop
  bool strict_imports = false;
  std::string files;                      // --files DIR: seeds the sandbox volume (\??\C:)
  std::optional<uint64_t> fail_alloc;     // --fail-alloc N
  std::optional<double> fail_alloc_rate;  // --fail-alloc-rate P (drawn from --seed)
  std::vector<std::string> enable;        // --enable A,B: only these checks (ids of the catalog)
  std::vector<std::string> disable;       // --disable A,B: every check but these
};

// `kemu info DRIVER.sys [--json PATH|-]`.
struct InfoOptions {
  std::string driver;
  std::string json;
};

// `kemu exercise DRIVER.sys ...` (parsed only; not implemented yet).
struct ExerciseOptions {
  std::string driver;
  std::string device;
  uint64_t seed = 0;
  uint64_t cases = 0;
  std::string as = "user";
  std::string json;
  std::string sarif;
  std::vector<std::string> enable;   // --enable A,B (validated against the catalog)
  std::vector<std::string> disable;  // --disable A,B
};

// `kemu batch DIR|LIST ...` (parsed only; not implemented yet).
struct BatchOptions {
  std::string input;
  uint64_t jobs = 0;
  std::string shard;  // "I/N"
  std::string out;
  std::vector<std::string> enable;   // --enable A,B (validated against the catalog)
  std::vector<std::string> disable;  // --disable A,B
};

// Register each command's options on `app` (a subcommand), writing into `o`,
// which must outlive the parse.
void add_run_options(CLI::App& app, RunOptions& o);
void add_info_options(CLI::App& app, InfoOptions& o);
void add_exercise_options(CLI::App& app, ExerciseOptions& o);
void add_batch_options(CLI::App& app, BatchOptions& o);

// Parses the arguments after `run` (args[0] is the first of them, not a program
// name). Returns the options, or the one-line reason the arguments are bad.
std::variant<RunOptions, std::string> parse_run_options(const std::vector<std::string>& args);
// argv-style: argv[0] is skipped, as in main().
std::variant<RunOptions, std::string> parse_run_options(int argc, const char* const* argv);

// The first option given that kemu does not implement yet ("--scenario"), if any.
std::optional<std::string> first_unimplemented_option(const RunOptions& o);

harness::SessionOptions to_session_options(const RunOptions& o);

// Accepts decimal or 0x-hex, with optional ',' or '_' digit separators
// ("200,000,000"); rejects signs, garbage and values above 2^64-1.
std::optional<uint64_t> parse_u64(std::string_view text);

}  // namespace kemu::cli
