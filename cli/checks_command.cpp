#include "cli/checks_command.h"

#include <algorithm>
#include <cstdio>
#include <exception>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/exit_status.h"
#include "cli/io.h"
#include "verifier/catalog.h"

namespace kemu::cli {

namespace {

std::string_view state_text(const verifier::CheckInfo& c) {
  return c.implemented ? "implemented" : "not yet";
}

// Columns on a terminal: UTF-8 continuation bytes take none ("≥" is one column).
size_t columns(std::string_view text) {
  size_t n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80;
  return n;
}

std::string padded(std::string_view text, size_t width) {
  std::string out(text);
  size_t used = columns(text);
  if (used < width) out.append(width - used, ' ');
  return out;
}

}  // namespace

void add_checks_options(CLI::App& app, ChecksOptions& o) {
  app.add_option("CHECK", o.check, "show one check in detail (its rule and fix)")
      ->type_name("CHECK");
  app.add_option("--json", o.json, "write the catalog as JSON to PATH, or to stdout with '-'")
      ->check(CLI::Validator(
          [](std::string& s) -> std::string { return s.empty() ? "an empty path" : ""; }, ""))
      ->type_name("PATH|-");
}

std::string render_checks_table() {
  const auto& all = verifier::catalog();
  const std::string_view headers[] = {"id", "severity", "state", "title", "Microsoft equivalent"};
  size_t width[4] = {headers[0].size(), headers[1].size(), headers[2].size(), headers[3].size()};
  size_t implemented = 0;
  for (const auto& c : all) {
    width[0] = std::max(width[0], columns(c.id));
    width[1] = std::max(width[1], columns(c.severity));
    width[2] = std::max(width[2], columns(state_text(c)));
    width[3] = std::max(width[3], columns(c.title));
    if (c.implemented) ++implemented;
  }
  auto row = [&](std::string_view id, std::string_view sev, std::string_view state,
                 std::string_view title, std::string_view ms) {
    return fmt::format("{}  {}  {}  {}  {}\n", padded(id, width[0]), padded(sev, width[1]),
                       padded(state, width[2]), padded(title, width[3]), ms);
  };
  std::string out = row(headers[0], headers[1], headers[2], headers[3], headers[4]);
  for (const auto& c : all) out += row(c.id, c.severity, state_text(c), c.title, c.microsoft);
  out +=
      fmt::format("{} checks, {} implemented; 'kemu checks ID' shows one with its rule and fix\n",
                  all.size(), implemented);
  return out;
}

std::string render_check_detail(const std::string& id) {
  const verifier::CheckInfo* c = verifier::find_check(id);
  if (!c) return {};
  std::string out = fmt::format("{}\n", c->id);
  out += fmt::format("  severity   {}\n", c->severity);
  out += fmt::format("  state      {}\n", state_text(*c));
  out += fmt::format("  title      {}\n", c->title);
  out += fmt::format("  seen       {}\n", c->seen);
  out += fmt::format("  microsoft  {}\n", c->microsoft);
  out += fmt::format("  rule       {}\n", c->rule);
  out += fmt::format("  fix        {}\n", c->fix);
  return out;
}

std::string render_checks_json() {
  nlohmann::ordered_json arr = nlohmann::ordered_json::array();
  for (const auto& c : verifier::catalog()) {
    nlohmann::ordered_json j;
    j["id"] = c.id;
    j["severity"] = c.severity;
    j["implemented"] = c.implemented;
    j["title"] = c.title;
    j["seen"] = c.seen;
    j["microsoft"] = c.microsoft;
    j["rule"] = c.rule;
    j["fix"] = c.fix;
    arr.push_back(std::move(j));
  }
  return arr.dump(2);
}

int checks_command(const ChecksOptions& o) {
  if (!o.check.empty() && !verifier::find_check(o.check)) {
    put(stderr, fmt::format("kemu: unknown check '{}' (kemu checks lists them)\n", o.check));
    return kExitCannotRun;
  }
  std::string text = o.check.empty() ? render_checks_table() : render_check_detail(o.check);
  if (o.json == "-") {
    put(stdout, render_checks_json() + "\n");
    return kExitClean;
  }
  put(stdout, text);
  if (!o.json.empty()) {
    try {
      write_file(o.json, render_checks_json() + "\n");
    } catch (const std::exception& e) {
      put(stderr, fmt::format("kemu: {}\n", e.what()));
      return kExitCannotRun;
    }
  }
  return kExitClean;
}

}  // namespace kemu::cli
