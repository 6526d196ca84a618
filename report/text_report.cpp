#include "report/text_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <string_view>
#include <tuple>

#include "report/format.h"
#include "verifier/catalog.h"

namespace kemu::report {

namespace {

constexpr size_t kLabelWidth = 15;

// ANSI styling that collapses to plain text when colour is off.
class Style {
 public:
  explicit Style(bool on) : on_(on) {}
  std::string bold(std::string_view s) const { return wrap("1", s); }
  std::string dim(std::string_view s) const { return wrap("2", s); }
  std::string red(std::string_view s) const { return wrap("1;31", s); }
  std::string green(std::string_view s) const { return wrap("32", s); }
  std::string yellow(std::string_view s) const { return wrap("33", s); }
  std::string cyan(std::string_view s) const { return wrap("36", s); }

 private:
  std::string wrap(std::string_view code, std::string_view s) const {
    if (!on_) return std::string(s);
    return fmt::format("\x1b[{}m{}\x1b[0m", code, s);
  }
  bool on_;
};

std::string with_commas(uint64_t v) {
  std::string digits = std::to_string(v);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string plural(uint64_t n, std::string_view one, std::string_view many) {
  return fmt::format("{} {}", with_commas(n), n == 1 ? one : many);
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += sep;
    out += parts[i];
  }
  return out;
}

std::string base_name(std::string_view path) {
  size_t slash = path.find_last_of("/\\");
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

class Writer {
 public:
  explicit Writer(bool color) : s(color) {}

  // "label        value" with the label padded before it is styled.
  void field(std::string_view label, std::string_view value) {
    std::string padded(label);
    if (padded.size() < kLabelWidth)
      padded.resize(kLabelWidth, ' ');
    else
      padded += ' ';
    out += s.bold(padded);
    out += value;
    out += '\n';
  }
  // A continuation line under the value column.
  void cont(std::string_view value) {
    out.append(kLabelWidth, ' ');
    out += value;
    out += '\n';
  }
  void indented(size_t depth, std::string_view value) {
    out.append(2 * depth, ' ');
    out += value;
    out += '\n';
  }

  Style s;
  std::string out;
};

std::string status_text(const Style& s, NtStatus st) {
  std::string name = status_label(st);
  std::string text = name == hex32(st) ? name : fmt::format("{} ({})", name, hex32(st));
  if (nt_success(st)) return s.green(text);
  return nt_error(st) ? s.red(text) : s.yellow(text);
}

void write_driver(Writer& w, const harness::RunResult& r) {
  const auto& d = r.driver;
  w.field("driver", printable(d.path));
  std::string where = fmt::format("base {}  entry {}", hex_addr(d.image_base), hex_addr(d.entry));
  if (d.image_size != 0) where += fmt::format("  size {}", hex_addr(d.image_size));
  w.cont(where);
  if (!d.sha256.empty()) w.cont("sha256 " + d.sha256);
}

void write_driver_entry(Writer& w, const harness::RunResult& r) {
  if (r.driver_entry_status) {
    w.field("DriverEntry", status_text(w.s, *r.driver_entry_status));
  } else {
    w.field("DriverEntry", w.s.red("did not return (the run stopped inside it)"));
  }
}

void write_devices(Writer& w, const harness::RunResult& r) {
  if (r.devices.empty()) {
    w.field("devices", "none");
    return;
  }
  w.field("devices", std::to_string(r.devices.size()));
  for (const auto& d : r.devices) {
    std::string name = d.name.empty() ? "(unnamed)" : printable(d.name);
    w.indented(1, fmt::format("{}  {}", w.s.bold(name), device_type_name(d.device_type)));
    std::vector<std::string> bits = characteristic_names(d.characteristics);
    std::string chars = hex32(d.characteristics);
    if (!bits.empty()) chars += " " + join(bits, " | ");
    w.indented(2, "characteristics " + chars);
    if (d.links.empty()) {
      w.indented(2, "no symbolic link");
    } else {
      for (const auto& link : d.links) w.indented(2, "link " + printable(link));
    }
  }
}

void write_debug_output(Writer& w, const harness::RunResult& r) {
  if (r.debug_output.empty()) {
    w.field("debug output", "none");
    return;
  }
  w.field("debug output", plural(r.debug_output.size(), "line", "lines"));
  for (const auto& msg : r.debug_output) {
    // One DbgPrint may hold several lines; each gets the gutter.
    std::string text = printable(msg);
    size_t start = 0;
    while (true) {
      size_t nl = text.find('\n', start);
      std::string_view line = std::string_view(text).substr(start, nl - start);
      w.indented(1, w.s.dim("|") + " " + std::string(line));
      if (nl == std::string::npos) break;
      start = nl + 1;
    }
  }
}

void write_unimplemented(Writer& w, const harness::RunResult& r) {
  if (r.unimplemented.empty()) {
    w.field("unimplemented", "none");
    return;
  }
  bool stopped_there = r.stop.reason == harness::StopReason::Unimplemented;
  std::string hint = stopped_there ? "the run stopped at the first call (--unimplemented stop)"
                                   : "returned STATUS_NOT_IMPLEMENTED / 0 (--unimplemented fail)";
  w.field("unimplemented", w.s.yellow(plural(r.unimplemented.size(), "API", "APIs")) + ", " + hint);
  size_t width = 0;
  for (const auto& u : r.unimplemented) width = std::max(width, u.api.size());
  for (const auto& u : r.unimplemented) {
    std::string api = printable(u.api);
    api.resize(std::max(width, api.size()), ' ');
    std::string line = fmt::format("{}  {}", api, plural(u.calls, "call", "calls"));
    if (u.unknown_export) line += "  (not an export kemu knows)";
    w.indented(1, line);
  }
}

// --fail-alloc / --fail-alloc-rate: which calls the simulation failed.
void write_failed_allocations(Writer& w, const harness::RunResult& r) {
  if (r.failed_allocations.empty()) return;
  w.field("low resources", fmt::format("{} made to fail", plural(r.failed_allocations.size(), "call", "calls")));
  for (const harness::FailedAllocationInfo& f : r.failed_allocations)
    w.indented(1, fmt::format("allocation-like call #{}: {} from {}+{:#x}{}", f.number, printable(f.routine),
                              printable(f.module), f.offset,
                              f.symbol.empty() ? std::string() : " (" + printable(f.symbol) + ")"));
}

void write_steps(Writer& w, const harness::RunResult& r) {
  if (r.steps.empty()) return;
  w.field("requests", plural(r.steps.size(), "request", "requests"));
  for (const harness::StepResult& st : r.steps) {
    std::string status = st.status ? status_label(*st.status) + " (" + hex32(*st.status) + ")"
                                   : (st.pending ? std::string("pending") : std::string("not triggered"));
    // The run stopped inside the request: any status recorded is not the driver's.
    if (st.never_returned)
      status = r.stop.bugcheck
                   ? fmt::format("did not return: the system stopped (bug check {:#x})", r.stop.bugcheck->code)
                   : fmt::format("did not return: the run stopped ({})", stop_reason_name(r.stop.reason));
    std::string what = printable(st.op);
    if (!st.target.empty()) what += " " + printable(st.target);
    if (st.code) what += " " + hex32(*st.code);
    if (st.op == "ioctl" || st.op == "read") what += fmt::format(", information {}", st.information);
    w.indented(1, fmt::format("{}: {}{}", what, status, st.expect_ok ? "" : w.s.red("  (expect did not hold)")));
  }
}

// The unknown-request probe: it ran on a copy of the machine, its requests are not steps.
void write_probe(Writer& w, const harness::RunResult& r) {
  if (!r.probe.ran) return;
  if (r.probe.requests == 0) {
    w.field("probe", "nothing to send (the run opened no device)");
    return;
  }
  w.field("probe", fmt::format("{} sent on a copy of the machine (not steps of this run)",
                               plural(r.probe.requests, "request", "requests")));
}

void write_unload(Writer& w, const harness::RunResult& r) {
  const auto& u = r.unload;
  std::string what;
  if (u.called) {
    what = "DriverUnload called";
  } else if (u.has_unload_routine) {
    what = "DriverUnload not called";
  } else {
    what = "no DriverUnload routine (the driver cannot be unloaded)";
  }
  bool clean = u.devices_left.empty() && u.links_left.empty() && u.timers_left.empty() &&
               u.dpcs_left.empty() && u.work_items_left.empty() && u.threads_left.empty();
  if (u.called && clean) what += ", nothing left behind";
  w.field("unload", what);
  for (const auto& d : u.devices_left) w.indented(1, w.s.yellow("device left: ") + printable(d));
  for (const auto& l : u.links_left) w.indented(1, w.s.yellow("link left: ") + printable(l));
  for (const auto& t : u.timers_left) w.indented(1, w.s.yellow("timer left: ") + printable(t));
  for (const auto& d : u.dpcs_left) w.indented(1, w.s.yellow("DPC left: ") + printable(d));
  for (const auto& i : u.work_items_left) w.indented(1, w.s.yellow("work item left: ") + printable(i));
  for (const auto& t : u.threads_left) w.indented(1, w.s.yellow("thread left: ") + printable(t));
}

void write_bugcheck(Writer& w, const harness::BugcheckInfo& b) {
  std::vector<std::string> params;
  for (uint64_t p : b.params) params.push_back(hex_addr(p));
  w.indented(1, "params       " + join(params, " "));
  std::string at =
      b.module.empty() ? "unknown" : fmt::format("{}+{}", printable(b.module), hex_addr(b.offset));
  if (!b.symbol.empty()) at += fmt::format(" ({})", printable(b.symbol));
  w.indented(1, "at           " + at);
  if (!b.instruction.empty()) w.indented(1, "instruction  " + b.instruction);
  if (!b.stack.empty()) {
    for (size_t i = 0; i < b.stack.size(); ++i)
      w.indented(1, (i == 0 ? "stack        " : "             ") + printable(b.stack[i]));
  }
  if (!b.registers.empty()) {
    constexpr size_t kPerLine = 4;
    for (size_t i = 0; i < b.registers.size(); i += kPerLine) {
      std::vector<std::string> regs;
      for (size_t k = i; k < std::min(i + kPerLine, b.registers.size()); ++k)
        regs.push_back(fmt::format("{}={}", b.registers[k].first, hex_addr(b.registers[k].second)));
      w.indented(1, (i == 0 ? "registers    " : "             ") + join(regs, " "));
    }
  }
}

void write_stop(Writer& w, const harness::RunResult& r) {
  const auto& stop = r.stop;
  std::string reason(stop_reason_name(stop.reason));
  switch (stop.reason) {
    case harness::StopReason::Completed:
      reason = w.s.green(reason);
      break;
    case harness::StopReason::Bugcheck:
    case harness::StopReason::Error:
      reason = w.s.red(reason);
      break;
    default:
      reason = w.s.yellow(reason);
      break;
  }
  if (stop.bugcheck) {
    const auto& b = *stop.bugcheck;
    w.field("stop", fmt::format("{} {} {}", reason, hex32(b.code),
                                w.s.red(b.name.empty() ? "(unnamed)" : b.name)));
    write_bugcheck(w, b);
    if (!stop.message.empty()) w.indented(1, "message      " + printable(stop.message));
    return;
  }
  if (stop.message.empty()) {
    w.field("stop", reason);
  } else {
    w.field("stop", reason + ": " + printable(stop.message));
  }
}

std::string severity_text(const Style& s, std::string_view severity) {
  switch (verifier::severity_rank(severity)) {
    case 0:
      return s.red(severity);
    case 1:
      return s.yellow(severity);
    case 2:
      return s.cyan(severity);
    default:
      return std::string(severity);
  }
}

// One check's findings, in the order the run produced them.
struct FindingGroup {
  std::string check;
  std::string severity;  // the most severe of its findings
  std::vector<const harness::Finding*> findings;
};

// Findings grouped by check: errors first, then warnings, then notes; within
// a severity in catalog order (ids the catalog lacks last, by name).
std::vector<FindingGroup> group_findings(const std::vector<harness::Finding>& findings) {
  std::vector<FindingGroup> groups;
  for (const harness::Finding& f : findings) {
    auto it = std::find_if(groups.begin(), groups.end(),
                           [&](const FindingGroup& g) { return g.check == f.check; });
    if (it == groups.end()) {
      groups.push_back({f.check, f.severity, {}});
      it = std::prev(groups.end());
    }
    if (verifier::severity_rank(f.severity) < verifier::severity_rank(it->severity))
      it->severity = f.severity;
    it->findings.push_back(&f);
  }
  auto catalog_position = [](const std::string& id) {
    int i = verifier::check_index(id);
    return i < 0 ? std::numeric_limits<int>::max() : i;
  };
  std::stable_sort(groups.begin(), groups.end(), [&](const FindingGroup& a, const FindingGroup& b) {
    return std::tuple(verifier::severity_rank(a.severity), catalog_position(a.check), a.check) <
           std::tuple(verifier::severity_rank(b.severity), catalog_position(b.check), b.check);
  });
  return groups;
}

std::string context_text(const harness::FindingContext& c) {
  std::string out = fmt::format("{}, thread {}, IRQL {}",
                                c.process.empty() ? "?" : printable(c.process), c.thread, c.irql);
  if (!c.major.empty()) out += ", " + printable(c.major);
  if (c.ioctl) out += ", IOCTL " + hex32(*c.ioctl);
  return out;
}

void write_finding(Writer& w, const harness::Finding& f, size_t number,
                   std::string_view catalog_title) {
  auto line = [&](std::string_view label, std::string_view value) {
    w.indented(3, " " + w.s.dim(fmt::format("{:<12}", label)) + " " + std::string(value));
  };
  std::string at = f.location.module.empty() ? std::string("no driver instruction")
                                             : fmt::format("{}+{}", printable(f.location.module),
                                                           hex_addr(f.location.offset));
  if (!f.location.symbol.empty()) at += fmt::format(" ({})", printable(f.location.symbol));
  w.indented(2, w.s.bold(fmt::format("#{}", number)) + " at " + at);
  if (!f.location.instruction.empty()) line("instruction", printable(f.location.instruction));
  if (!f.title.empty() && f.title != catalog_title) line("what", printable(f.title));
  if (!f.message.empty() && f.message != f.title) line("message", printable(f.message));
  line("context", context_text(f.context));
  if (!f.values.empty()) {
    std::vector<std::string> values;
    for (const auto& [k, v] : f.values) values.push_back(printable(k) + "=" + printable(v));
    line("values", join(values, " "));
  }
  if (f.count > 1) line("seen", plural(f.count, "time", "times"));
  if (!f.stack.empty()) {
    std::vector<std::string> frames;
    for (const std::string& frame : f.stack) frames.push_back(printable(frame));
    line("stack", join(frames, " <- "));
  }
}

// cli.md findings: grouped by check, most severe first; each group with its
// findings (location, instruction, context, values), then the Windows rule
// the check enforces and the fix, from the catalog.
void write_findings(Writer& w, const harness::RunResult& r) {
  if (r.findings.empty()) {
    w.field("findings", w.s.green("none"));
    return;
  }
  std::vector<FindingGroup> groups = group_findings(r.findings);
  size_t per_severity[3] = {};
  for (const harness::Finding& f : r.findings) {
    int rank = verifier::severity_rank(f.severity);
    if (rank < 3) ++per_severity[rank];
  }
  std::vector<std::string> counts;
  const char* names[3][2] = {{"error", "errors"}, {"warning", "warnings"}, {"note", "notes"}};
  for (int i = 0; i < 3; ++i)
    if (per_severity[i]) counts.push_back(plural(per_severity[i], names[i][0], names[i][1]));
  std::string summary = plural(r.findings.size(), "finding", "findings");
  if (!counts.empty()) summary += ": " + join(counts, ", ");
  w.field("findings", per_severity[0] ? w.s.red(summary) : w.s.yellow(summary));
  for (const FindingGroup& g : groups) {
    const verifier::CheckInfo* info = verifier::find_check(g.check);
    std::string_view title = info ? info->title : std::string_view(g.findings.front()->title);
    uint64_t seen = 0;
    for (const harness::Finding* f : g.findings) seen += std::max<uint64_t>(f->count, 1);
    std::string count = plural(g.findings.size(), "finding", "findings");
    if (seen > g.findings.size()) count += fmt::format(", seen {} times", with_commas(seen));
    w.indented(1, severity_text(w.s, g.severity) + " " + w.s.bold(printable(g.check)) + "  " +
                      printable(title) + "  (" + count + ")");
    for (size_t i = 0; i < g.findings.size(); ++i) write_finding(w, *g.findings[i], i + 1, title);
    if (info) {
      w.indented(2, w.s.bold("why") + "  " + std::string(info->rule));
      w.indented(2, w.s.bold("fix") + "  " + std::string(info->fix));
    } else {
      w.indented(2, "(not a check of kemu's catalog)");
    }
  }
}

}  // namespace

std::string render_text(const harness::RunResult& r, bool color) {
  Writer w(color);
  std::string title = r.kemu_version.empty() ? "kemu" : "kemu " + r.kemu_version;
  w.out += w.s.bold(fmt::format("{}: {}", title, printable(base_name(r.driver.path)))) + "\n";
  write_driver(w, r);
  write_driver_entry(w, r);
  write_devices(w, r);
  write_debug_output(w, r);
  write_unimplemented(w, r);
  write_failed_allocations(w, r);
  write_steps(w, r);
  write_probe(w, r);
  write_unload(w, r);
  write_stop(w, r);
  write_findings(w, r);
  for (const std::string& bp : r.breakpoints) w.field("breakpoint", printable(bp) + " (no debugger: execution continued)");
  w.field("stats",
          fmt::format("{}, {}, {} ms", plural(r.stats.instructions, "instruction", "instructions"),
                      plural(r.stats.api_calls, "API call", "API calls"),
                      with_commas(r.stats.wall_ms)));
  return std::move(w.out);
}

// --explain: the decisions in order, under the step that caused them.
std::string render_explain(const harness::RunResult& r) {
  std::string out = "explain\n";
  int64_t current = -2;
  for (const harness::ExplainLine& l : r.explain) {
    if (l.step != current) {
      current = l.step;
      if (l.step < 0 || static_cast<size_t>(l.step) >= r.steps.size()) {
        out += l.step < 0 ? "  load and DriverEntry\n" : "  after the last request\n";
      } else {
        const harness::StepResult& st = r.steps[static_cast<size_t>(l.step)];
        std::string what = printable(st.op);
        if (!st.target.empty()) what += " " + printable(st.target);
        if (st.code) what += " " + hex32(*st.code);
        out += fmt::format("  step {}: {}\n", l.step + 1, what);
      }
    }
    out += "    - " + printable(l.text) + "\n";
  }
  if (r.explain.empty()) out += "  (no handle or previous-mode decision was made)\n";
  return out;
}

}  // namespace kemu::report
