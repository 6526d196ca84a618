#include "cli/options.h"

#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "verifier/catalog.h"

namespace kemu::cli {

std::optional<uint64_t> parse_u64(std::string_view text) {
  int base = 10;
  if (text.starts_with("0x") || text.starts_with("0X")) {
    text.remove_prefix(2);
    base = 16;
  }
  std::string digits;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    // A separator only between digits: "1,000" yes, ",1" / "1," / "1,,0" no.
    if ((c == ',' || c == '_') && i > 0 && i + 1 < text.size() && text[i - 1] != ',' &&
        text[i - 1] != '_') {
      continue;
    }
    digits += c;
  }
  if (digits.empty()) return std::nullopt;
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v, base);
  if (ec != std::errc() || ptr != digits.data() + digits.size()) return std::nullopt;
  return v;
}

namespace {

// Normalises the text to decimal so CLI11's own conversion cannot misread it
// (it would take "010" as octal and "-1" as 2^64-1).
CLI::Validator unsigned_number(uint64_t min = 0) {
  return CLI::Validator(
      [min](std::string& s) -> std::string {
        auto v = parse_u64(s);
        if (!v) return fmt::format("'{}' is not a non-negative integer", s);
        if (*v < min) return fmt::format("{} is below the minimum {}", *v, min);
        s = std::to_string(*v);
        return {};
      },
      "");
}

CLI::Validator real_number(double min, bool min_inclusive, double max) {
  return CLI::Validator(
      [=](std::string& s) -> std::string {
        double v = 0;
        auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        bool above_min = min_inclusive ? v >= min : v > min;
        if (ec != std::errc() || ptr != s.data() + s.size() || !std::isfinite(v) || !above_min ||
            v > max) {
          return fmt::format("'{}' is not a number in {}{}, {}]", s, min_inclusive ? "[" : "(", min,
                             max);
        }
        return {};
      },
      "");
}

CLI::Validator shard_spec() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        auto slash = s.find('/');
        std::optional<uint64_t> i, n;
        if (slash != std::string::npos) {
          i = parse_u64(std::string_view(s).substr(0, slash));
          n = parse_u64(std::string_view(s).substr(slash + 1));
        }
        if (!i || !n || *n == 0 || *i >= *n)
          return fmt::format("'{}' is not I/N with 0 <= I < N", s);
        return {};
      },
      "I/N");
}

// An empty path would read as "option not given"; refuse it instead.
CLI::Validator non_empty() {
  return CLI::Validator(
      [](std::string& s) -> std::string { return s.empty() ? "an empty path" : ""; }, "");
}

// A check id of the catalog (checks.md); anything else is a bad argument (exit 2).
CLI::Validator known_check() {
  return CLI::Validator(
      [](std::string& id) -> std::string {
        if (verifier::find_check(id)) return {};
        return fmt::format("unknown check '{}' (kemu checks lists them)", id);
      },
      "CHECK");
}

// --enable A,B / --disable A,B: comma-separated, repeatable, every id checked.
void add_check_selection(CLI::App& app, std::vector<std::string>& enable,
                         std::vector<std::string>& disable) {
  app.add_option("--enable", enable, "run only these checks")
      ->delimiter(',')
      ->allow_extra_args(false)
      ->check(known_check())
      ->type_name("CHECK,...");
  app.add_option("--disable", disable, "run all checks but these")
      ->delimiter(',')
      ->allow_extra_args(false)
      ->check(known_check())
      ->type_name("CHECK,...");
}

void add_json_option(CLI::App& app, std::string& json) {
  app.add_option("--json", json, "write the JSON report to PATH, or to stdout with '-'")
      ->check(non_empty())
      ->type_name("PATH|-");
}

}  // namespace

void add_run_options(CLI::App& app, RunOptions& o) {
  app.add_option("DRIVER", o.driver, "the driver (.sys) to run")->required()->type_name("PATH");
  app.add_option("--scenario", o.scenario, "run the steps of a scenario file")
      ->check(non_empty())
      ->type_name("FILE.yaml");
  app.add_option_function<std::string>(
         "--as",
         [&o](const std::string& role) {
           o.as = role;
           o.as_given = true;
         },
         "token of the client process: user (default) or admin; overrides a scenario's as:")
      ->check(CLI::IsMember({"user", "admin"}))
      ->type_name("ROLE");
  add_json_option(app, o.json);
  app.add_option("--sarif", o.sarif, "write a SARIF 2.1.0 log to PATH")
      ->check(non_empty())
      ->type_name("PATH");
  app.add_flag("--explain", o.explain, "narrate every handle and previous-mode decision");
  app.add_flag("--trace", o.trace, "print every API call the driver makes to stderr");
  app.add_option("--max-instructions", o.max_instructions,
                 "stop after N guest instructions (default 200,000,000)")
      ->transform(unsigned_number(1))
      ->type_name("N");
  app.add_option("--timeout", o.timeout_seconds, "stop after SECONDS of wall time (default 60)")
      ->transform(real_number(0, false, 1e9))
      ->type_name("SECONDS");
  app.add_option("--seed", o.seed, "seed for every random choice (default 0)")
      ->transform(unsigned_number())
      ->type_name("N");
  app.add_option("--unimplemented", o.unimplemented,
                 "on a call kemu has no handler for: fail it (default) or stop the run")
      ->check(CLI::IsMember({"fail", "stop"}))
      ->type_name("POLICY");
  app.add_flag("--strict-imports", o.strict_imports,
               "refuse imports kemu does not know, as Windows would");
  app.add_option("--files", o.files, "seed the sandboxed file system read-only from DIR")
      ->check(non_empty())
      ->type_name("DIR");
  auto* fail_alloc = app.add_option_function<uint64_t>(
                            "--fail-alloc", [&o](const uint64_t& n) { o.fail_alloc = n; },
                            "make the N-th allocation-like call fail")
                         ->transform(unsigned_number(1))
                         ->type_name("N");
  auto* fail_rate = app.add_option_function<double>(
                           "--fail-alloc-rate", [&o](const double& p) { o.fail_alloc_rate = p; },
                           "fail each allocation-like call with probability P")
                        ->transform(real_number(0, true, 1))
                        ->type_name("P");
  fail_alloc->excludes(fail_rate);
  add_check_selection(app, o.enable, o.disable);
}

void add_info_options(CLI::App& app, InfoOptions& o) {
  app.add_option("DRIVER", o.driver, "the driver (.sys) to describe")
      ->required()
      ->type_name("PATH");
  add_json_option(app, o.json);
}

void add_exercise_options(CLI::App& app, ExerciseOptions& o) {
  app.add_option("DRIVER", o.driver, "the driver (.sys) to exercise")
      ->required()
      ->type_name("PATH");
  app.add_option("--device", o.device, "exercise only this device")->type_name("NAME");
  app.add_option("--seed", o.seed, "seed for every random choice (default 0)")
      ->transform(unsigned_number())
      ->type_name("N");
  app.add_option("--cases", o.cases, "number of cases to run")
      ->transform(unsigned_number(1))
      ->type_name("N");
  app.add_option("--as", o.as, "token of the client process (default user)")
      ->check(CLI::IsMember({"user", "admin"}))
      ->type_name("ROLE");
  add_json_option(app, o.json);
  app.add_option("--sarif", o.sarif, "write a SARIF 2.1.0 log to PATH")
      ->check(non_empty())
      ->type_name("PATH");
  add_check_selection(app, o.enable, o.disable);
}

void add_batch_options(CLI::App& app, BatchOptions& o) {
  app.add_option("INPUT", o.input, "a folder of drivers, or a file listing them")
      ->required()
      ->type_name("DIR|LIST");
  app.add_option("--jobs", o.jobs, "drivers run in parallel")
      ->transform(unsigned_number(1))
      ->type_name("N");
  app.add_option("--shard", o.shard, "run only shard I of N")->check(shard_spec());
  app.add_option("--out", o.out, "write one JSON result per line to RESULTS.jsonl")
      ->type_name("RESULTS.jsonl");
  add_check_selection(app, o.enable, o.disable);
}

std::variant<RunOptions, std::string> parse_run_options(const std::vector<std::string>& args) {
  RunOptions o;
  CLI::App app("kemu run", "run");
  add_run_options(app, o);
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 pops from the back
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    return std::string(e.what());
  }
  return o;
}

std::variant<RunOptions, std::string> parse_run_options(int argc, const char* const* argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  return parse_run_options(args);
}

std::optional<std::string> first_unimplemented_option(const RunOptions& o) {
  (void)o;  // every run option is implemented
  return std::nullopt;
}

harness::SessionOptions to_session_options(const RunOptions& o) {
  harness::SessionOptions s;
  s.max_instructions = o.max_instructions;
  s.timeout_seconds = o.timeout_seconds;
  s.seed = o.seed;
  s.fail_alloc = o.fail_alloc;
  s.fail_alloc_rate = o.fail_alloc_rate;
  s.unimplemented = o.unimplemented == "stop" ? harness::UnimplementedPolicy::Stop
                                              : harness::UnimplementedPolicy::Fail;
  s.strict_imports = o.strict_imports;
  s.trace = o.trace;
  if (o.as_given) s.client_token = o.as == "admin" ? harness::ClientToken::Admin : harness::ClientToken::User;
  s.explain = o.explain;
  s.files_dir = o.files;
  s.enabled_checks = o.enable;
  s.disabled_checks = o.disable;
  return s;
}

}  // namespace kemu::cli
