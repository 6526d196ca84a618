#include "cli/options.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace kemu::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

RunOptions ok(std::vector<std::string> args) {
  auto r = parse_run_options(args);
  if (auto* err = std::get_if<std::string>(&r)) {
    ADD_FAILURE() << "unexpected parse error: " << *err;
    return {};
  }
  return std::get<RunOptions>(r);
}

std::string error(std::vector<std::string> args) {
  auto r = parse_run_options(args);
  if (auto* err = std::get_if<std::string>(&r)) return *err;
  ADD_FAILURE() << "parsed without error";
  return {};
}

TEST(RunOptions, DefaultsMatchTheContract) {
  RunOptions o = ok({"drv.sys"});
  EXPECT_EQ(o.driver, "drv.sys");
  EXPECT_EQ(o.max_instructions, 200'000'000u);
  EXPECT_EQ(o.timeout_seconds, 60.0);
  EXPECT_EQ(o.seed, 0u);
  EXPECT_EQ(o.unimplemented, "fail");
  EXPECT_EQ(o.as, "user");
  EXPECT_FALSE(o.strict_imports);
  EXPECT_FALSE(o.trace);
  EXPECT_TRUE(o.json.empty());
  EXPECT_EQ(first_unimplemented_option(o), std::nullopt);

  harness::SessionOptions s = to_session_options(o);
  harness::SessionOptions defaults;
  EXPECT_EQ(s.max_instructions, defaults.max_instructions);
  EXPECT_EQ(s.timeout_seconds, defaults.timeout_seconds);
  EXPECT_EQ(s.unimplemented, harness::UnimplementedPolicy::Fail);
}

TEST(RunOptions, EveryImplementedOptionMapsOntoTheSession) {
  RunOptions o =
      ok({"--max-instructions", "0x1000", "--timeout", "2.5", "--seed", "42", "--unimplemented",
          "stop", "--strict-imports", "--trace", "--json", "-", "--as", "admin", "drv.sys"});
  EXPECT_EQ(o.driver, "drv.sys");
  EXPECT_EQ(o.json, "-");
  EXPECT_EQ(o.as, "admin");
  EXPECT_EQ(first_unimplemented_option(o), std::nullopt);  // --as is accepted
  harness::SessionOptions s = to_session_options(o);
  EXPECT_EQ(s.max_instructions, 0x1000u);
  EXPECT_EQ(s.timeout_seconds, 2.5);
  EXPECT_EQ(s.seed, 42u);
  EXPECT_EQ(s.unimplemented, harness::UnimplementedPolicy::Stop);
  EXPECT_TRUE(s.strict_imports);
  EXPECT_TRUE(s.trace);
}

TEST(RunOptions, NumbersAreReadStrictly) {
  EXPECT_EQ(ok({"d.sys", "--max-instructions", "200,000,000"}).max_instructions, 200'000'000u);
  EXPECT_EQ(ok({"d.sys", "--seed", "010"}).seed, 10u);  // decimal, not octal
  EXPECT_EQ(ok({"d.sys", "--seed", "18446744073709551615"}).seed, UINT64_MAX);
  EXPECT_THAT(error({"d.sys", "--seed", "-1"}), HasSubstr("--seed"));
  EXPECT_THAT(error({"d.sys", "--seed", "18446744073709551616"}), HasSubstr("--seed"));
  EXPECT_THAT(error({"d.sys", "--max-instructions", "0"}), HasSubstr("--max-instructions"));
  EXPECT_THAT(error({"d.sys", "--max-instructions", "lots"}), HasSubstr("--max-instructions"));
  EXPECT_THAT(error({"d.sys", "--timeout", "0"}), HasSubstr("--timeout"));
  EXPECT_THAT(error({"d.sys", "--timeout", "nan"}), HasSubstr("--timeout"));
  EXPECT_THAT(error({"d.sys", "--timeout", "inf"}), HasSubstr("--timeout"));
}

TEST(RunOptions, BadArgumentsAreErrors) {
  EXPECT_THAT(error({}), HasSubstr("DRIVER"));
  EXPECT_THAT(error({"d.sys", "--unimplemented", "ignore"}), HasSubstr("--unimplemented"));
  EXPECT_THAT(error({"d.sys", "--as", "root"}), HasSubstr("--as"));
  EXPECT_FALSE(error({"d.sys", "--no-such-option"}).empty());
  EXPECT_FALSE(error({"a.sys", "b.sys"}).empty());
  EXPECT_THAT(error({"d.sys", "--fail-alloc", "3", "--fail-alloc-rate", "0.5"}),
              HasSubstr("excludes"));
  EXPECT_THAT(error({"d.sys", "--fail-alloc-rate", "1.5"}), HasSubstr("--fail-alloc-rate"));
  EXPECT_THAT(error({"d.sys", "--json", ""}), HasSubstr("--json"));
}

TEST(RunOptions, EveryOptionIsImplemented) {
  // --fail-alloc and --fail-alloc-rate reach the session with the seed.
  RunOptions nth = ok({"d.sys", "--fail-alloc", "3"});
  EXPECT_EQ(first_unimplemented_option(nth), std::nullopt);
  EXPECT_EQ(to_session_options(nth).fail_alloc, std::optional<uint64_t>(3));
  EXPECT_FALSE(to_session_options(nth).fail_alloc_rate.has_value());
  RunOptions rate = ok({"d.sys", "--fail-alloc-rate", "0.25", "--seed", "7"});
  EXPECT_EQ(first_unimplemented_option(rate), std::nullopt);
  EXPECT_EQ(to_session_options(rate).fail_alloc_rate, std::optional<double>(0.25));
  EXPECT_EQ(to_session_options(rate).seed, 7u);
  // --scenario, --explain, --files, --sarif, --enable and --disable are implemented.
  EXPECT_EQ(first_unimplemented_option(ok({"d.sys", "--scenario", "s.yaml"})), std::nullopt);
  EXPECT_EQ(first_unimplemented_option(ok({"d.sys", "--explain"})), std::nullopt);
  EXPECT_EQ(first_unimplemented_option(ok({"d.sys", "--sarif", "out.sarif"})), std::nullopt);
  EXPECT_EQ(ok({"d.sys", "--sarif", "out.sarif"}).sarif, "out.sarif");
  EXPECT_EQ(first_unimplemented_option(ok({"d.sys", "--enable", "crash.bugcheck"})), std::nullopt);
  EXPECT_EQ(first_unimplemented_option(ok({"d.sys", "--disable", "handle.invalid"})), std::nullopt);
  RunOptions files = ok({"d.sys", "--files", "seed-dir"});
  EXPECT_EQ(first_unimplemented_option(files), std::nullopt);
  EXPECT_EQ(to_session_options(files).files_dir, "seed-dir");
}

TEST(RunOptions, CheckListsSplitOnCommasAndDoNotSwallowTheDriver) {
  RunOptions o = ok({"--enable", "crash.bugcheck,handle.invalid", "--enable", "probe.missing",
                     "d.sys", "--disable", "irp.stack-copy"});
  EXPECT_THAT(o.enable, ElementsAre("crash.bugcheck", "handle.invalid", "probe.missing"));
  EXPECT_THAT(o.disable, ElementsAre("irp.stack-copy"));
  EXPECT_EQ(o.driver, "d.sys");
  EXPECT_FALSE(o.fail_alloc.has_value());
  EXPECT_FALSE(o.fail_alloc_rate.has_value());
  // The selection reaches the session as given.
  harness::SessionOptions s = to_session_options(o);
  EXPECT_THAT(s.enabled_checks, ElementsAre("crash.bugcheck", "handle.invalid", "probe.missing"));
  EXPECT_THAT(s.disabled_checks, ElementsAre("irp.stack-copy"));
  EXPECT_TRUE(to_session_options(ok({"d.sys"})).enabled_checks.empty());
}

// cli.md: an unknown check id is a bad argument (exit 2), named in the one line.
TEST(RunOptions, UnknownCheckIdsAreErrorsNamingTheId) {
  EXPECT_EQ(error({"d.sys", "--enable", "handle.bogus"}),
            "--enable: unknown check 'handle.bogus' (kemu checks lists them)");
  EXPECT_EQ(error({"d.sys", "--disable", "crash.bugcheck,Crash.Bugcheck"}),
            "--disable: unknown check 'Crash.Bugcheck' (kemu checks lists them)");
  // CLI11 drops the empty item between two commas.
  EXPECT_THAT(ok({"d.sys", "--enable", "crash.bugcheck,,handle.invalid"}).enable,
              ElementsAre("crash.bugcheck", "handle.invalid"));
}

// exercise and batch take the same selection, validated the same way.
TEST(OtherCommands, ExerciseAndBatchValidateCheckSelections) {
  auto parse = [](auto add, auto& options, std::vector<std::string> args) -> std::string {
    CLI::App app("test", "test");
    add(app, options);
    std::vector<std::string> reversed(args.rbegin(), args.rend());
    try {
      app.parse(reversed);
    } catch (const CLI::ParseError& e) {
      return e.what();
    }
    return {};
  };
  ExerciseOptions e;
  EXPECT_EQ(parse(add_exercise_options, e,
                  {"d.sys", "--enable", "probe.missing", "--disable", "probe.double-fetch"}),
            "");
  EXPECT_THAT(e.enable, ElementsAre("probe.missing"));
  EXPECT_THAT(e.disable, ElementsAre("probe.double-fetch"));
  ExerciseOptions bad_exercise;
  EXPECT_EQ(parse(add_exercise_options, bad_exercise, {"d.sys", "--disable", "nope"}),
            "--disable: unknown check 'nope' (kemu checks lists them)");
  BatchOptions b;
  EXPECT_EQ(parse(add_batch_options, b, {"dir", "--disable", "pool.leak,pool.overrun"}), "");
  EXPECT_THAT(b.disable, ElementsAre("pool.leak", "pool.overrun"));
  BatchOptions bad_batch;
  EXPECT_EQ(parse(add_batch_options, bad_batch, {"dir", "--enable", "pool"}),
            "--enable: unknown check 'pool' (kemu checks lists them)");
}

TEST(RunOptions, ArgvFormSkipsTheProgramName) {
  const char* argv[] = {"run", "d.sys", "--seed", "7"};
  auto r = parse_run_options(4, argv);
  ASSERT_TRUE(std::holds_alternative<RunOptions>(r));
  EXPECT_EQ(std::get<RunOptions>(r).seed, 7u);
}

TEST(ParseU64, Forms) {
  EXPECT_EQ(parse_u64("0"), 0u);
  EXPECT_EQ(parse_u64("0x1F"), 31u);
  EXPECT_EQ(parse_u64("1_000"), 1000u);
  EXPECT_EQ(parse_u64(""), std::nullopt);
  EXPECT_EQ(parse_u64("0x"), std::nullopt);
  EXPECT_EQ(parse_u64("+5"), std::nullopt);
  EXPECT_EQ(parse_u64(",5"), std::nullopt);
  EXPECT_EQ(parse_u64("5,"), std::nullopt);
  EXPECT_EQ(parse_u64("1,,0"), std::nullopt);
  EXPECT_EQ(parse_u64("12a"), std::nullopt);
}

}  // namespace
}  // namespace kemu::cli
