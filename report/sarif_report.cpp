#include "report/sarif_report.h"

#include <cctype>
#include <charconv>
#include <optional>

#include <fmt/format.h>

#include "report/format.h"
#include "verifier/catalog.h"

namespace kemu::report {

namespace {

using Json = nlohmann::ordered_json;

// The $id of the schema file the logs are validated against (tests/schemas).
constexpr std::string_view kSchemaUri =
    "https://raw.githubusercontent.com/oasis-tcs/sarif-spec/master/Schemata/sarif-schema-2.1.0.json";

Json text(std::string_view s) {
  Json j;
  j["text"] = s;
  return j;
}

// SARIF levels are the checks.md severities; anything else is reported as a warning.
std::string_view level_of(std::string_view severity) {
  return verifier::severity_rank(severity) <= 2 ? severity : std::string_view("warning");
}

// "handle.user-handle-kernel-mode" -> "HandleUserHandleKernelMode": SARIF's
// reportingDescriptor.name is a readable identifier without spaces.
std::string rule_name(std::string_view id) {
  std::string out;
  bool upper = true;
  for (char c : id) {
    if (c == '.' || c == '-') {
      upper = true;
      continue;
    }
    out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  return out;
}

std::string base_name(std::string_view path) {
  size_t slash = path.find_last_of("/\\");
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

Json rule_json(const verifier::CheckInfo& c) {
  Json r;
  r["id"] = c.id;
  r["name"] = rule_name(c.id);
  r["shortDescription"] = text(c.title);
  r["fullDescription"] = text(c.rule);
  r["help"] = text(c.fix);
  Json config;
  config["level"] = c.severity;
  r["defaultConfiguration"] = config;
  Json props;
  props["microsoft"] = c.microsoft;
  props["seen"] = c.seen;
  props["implemented"] = c.implemented;
  r["properties"] = props;
  return r;
}

// "crash.sys+0x1234" -> {module, offset}; nullopt for any other shape.
std::optional<std::pair<std::string, uint64_t>> parse_frame(std::string_view frame) {
  size_t plus = frame.rfind("+0x");
  if (plus == std::string_view::npos || plus == 0) return std::nullopt;
  std::string_view digits = frame.substr(plus + 3);
  uint64_t offset = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), offset, 16);
  if (digits.empty() || ec != std::errc() || ptr != digits.data() + digits.size())
    return std::nullopt;
  return std::pair{std::string(frame.substr(0, plus)), offset};
}

// The artifact a module lives in: the driver file itself (artifact 0) or, for
// another module (ntoskrnl.exe, hal.dll), its name.
Json artifact_location(const harness::RunResult& r, const std::string& module) {
  Json a;
  if (!r.driver.path.empty() && module == base_name(r.driver.path)) {
    a["uri"] = artifact_uri(r.driver.path);
    a["index"] = 0;
  } else {
    a["uri"] = artifact_uri(module);
  }
  return a;
}

Json physical_location(const harness::RunResult& r, const std::string& module, uint64_t offset) {
  Json p;
  p["artifactLocation"] = artifact_location(r, module);
  Json address;
  address["relativeAddress"] = offset;
  address["kind"] = "instruction";
  address["fullyQualifiedName"] = fmt::format("{}+{}", module, hex_addr(offset));
  p["address"] = address;
  return p;
}

Json location_json(const harness::RunResult& r, const harness::Finding& f) {
  Json loc;
  if (!f.location.module.empty())
    loc["physicalLocation"] = physical_location(r, f.location.module, f.location.offset);
  if (!f.location.symbol.empty()) {
    Json logical;
    std::string_view symbol = f.location.symbol;
    logical["name"] =
        std::string(symbol.substr(0, symbol.find('+')));  // "DriverEntry+0x34" -> "DriverEntry"
    logical["fullyQualifiedName"] = f.location.module.empty()
                                        ? std::string(symbol)
                                        : fmt::format("{}!{}", f.location.module, symbol);
    logical["kind"] = "function";
    loc["logicalLocations"] = Json::array({logical});
  }
  if (!f.location.instruction.empty()) loc["message"] = text(f.location.instruction);
  return loc;
}

Json stack_json(const harness::RunResult& r, const harness::Finding& f) {
  Json frames = Json::array();
  for (const std::string& s : f.stack) {
    Json frame;
    Json loc;
    if (auto parsed = parse_frame(s)) {
      loc["physicalLocation"] = physical_location(r, parsed->first, parsed->second);
      frame["module"] = parsed->first;
    }
    loc["message"] = text(s);
    frame["location"] = loc;
    frames.push_back(std::move(frame));
  }
  Json stack;
  stack["frames"] = std::move(frames);
  return stack;
}

Json result_json(const harness::RunResult& r, const harness::Finding& f) {
  Json res;
  res["ruleId"] = f.check;
  int index = verifier::check_index(f.check);
  if (index >= 0) res["ruleIndex"] = index;
  res["level"] = level_of(f.severity);
  std::string message = f.message.empty() ? f.title : f.message;
  if (f.count > 1) message += fmt::format(" (seen {} times)", f.count);
  res["message"] = text(message);
  Json loc = location_json(r, f);
  if (!loc.empty()) res["locations"] = Json::array({loc});
  res["occurrenceCount"] = std::max<uint64_t>(f.count, 1);
  if (!f.stack.empty()) res["stacks"] = Json::array({stack_json(r, f)});
  Json props;
  props["title"] = f.title;
  props["microsoft"] = f.microsoft;
  props["count"] = f.count;
  props["instruction"] = f.location.instruction;
  Json ctx;
  ctx["process"] = f.context.process;
  ctx["thread"] = f.context.thread;
  ctx["irql"] = f.context.irql;
  ctx["major"] = f.context.major.empty() ? Json(nullptr) : Json(f.context.major);
  ctx["ioctl"] = f.context.ioctl ? Json(hex32(*f.context.ioctl)) : Json(nullptr);
  props["context"] = ctx;
  Json values = Json::object();
  for (const auto& [k, v] : f.values) values[k] = v;
  props["values"] = values;
  props["stack"] = f.stack;
  res["properties"] = props;
  return res;
}

}  // namespace

std::string artifact_uri(std::string_view path) {
  // RFC 3986 unreserved characters and '/' pass; everything else is %XX.
  std::string out = path.starts_with('/') ? "file://" : "";
  for (unsigned char c : path) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/')
      out += static_cast<char>(c);
    else
      out += fmt::format("%{:02X}", c);
  }
  return out;
}

nlohmann::ordered_json to_sarif(const harness::RunResult& r) {
  Json driver;
  driver["name"] = "kemu";
  driver["fullName"] = r.kemu_version.empty() ? std::string("kemu") : "kemu " + r.kemu_version;
  if (!r.kemu_version.empty()) {
    driver["version"] = r.kemu_version;
    driver["semanticVersion"] = r.kemu_version;
  }
  Json rules = Json::array();
  for (const verifier::CheckInfo& c : verifier::catalog()) rules.push_back(rule_json(c));
  driver["rules"] = std::move(rules);
  Json tool;
  tool["driver"] = std::move(driver);

  Json run;
  run["tool"] = std::move(tool);
  // The run ended on its own terms unless kemu itself failed (stop reason `error`).
  Json invocation;
  invocation["executionSuccessful"] = r.stop.reason != harness::StopReason::Error;
  Json inv_props;
  inv_props["stop"] = stop_reason_name(r.stop.reason);
  if (r.stop.bugcheck) inv_props["bugcheck"] = hex32(r.stop.bugcheck->code);
  invocation["properties"] = inv_props;
  run["invocations"] = Json::array({invocation});
  if (!r.driver.path.empty()) {
    Json artifact;
    Json where;
    where["uri"] = artifact_uri(r.driver.path);
    artifact["location"] = where;
    artifact["roles"] = Json::array({"analysisTarget"});
    if (!r.driver.sha256.empty()) {
      Json hashes;
      hashes["sha-256"] = r.driver.sha256;
      artifact["hashes"] = hashes;
    }
    run["artifacts"] = Json::array({artifact});
  }
  Json results = Json::array();
  for (const harness::Finding& f : r.findings) results.push_back(result_json(r, f));
  run["results"] = std::move(results);

  Json log;
  log["$schema"] = kSchemaUri;
  log["version"] = "2.1.0";
  log["runs"] = Json::array({run});
  return log;
}

std::string render_sarif(const harness::RunResult& r) {
  return to_sarif(r).dump(2, ' ', false, Json::error_handler_t::replace);
}

}  // namespace kemu::report
