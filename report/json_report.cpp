#include "report/json_report.h"

#include "report/format.h"

namespace kemu::report {

namespace {

using Json = nlohmann::ordered_json;

Json driver_json(const harness::DriverInfo& d) {
  Json j;
  j["path"] = d.path;
  j["sha256"] = d.sha256;
  j["image_base"] = hex_addr(d.image_base);
  j["entry"] = hex_addr(d.entry);
  return j;
}

Json driver_entry_json(const std::optional<uint32_t>& status) {
  // null: DriverEntry never returned (the run stopped inside it).
  if (!status) return nullptr;
  Json j;
  j["status"] = hex32(*status);
  j["status_name"] = status_label(*status);
  return j;
}

Json devices_json(const std::vector<harness::DeviceInfo>& devices) {
  Json arr = Json::array();
  for (const auto& d : devices) {
    Json j;
    j["name"] = d.name;
    j["links"] = d.links;
    j["characteristics"] = hex32(d.characteristics);
    arr.push_back(std::move(j));
  }
  return arr;
}

Json unload_json(const harness::UnloadInfo& u) {
  Json j;
  j["called"] = u.called;
  j["devices_left"] = u.devices_left;
  j["links_left"] = u.links_left;
  j["timers_left"] = u.timers_left;
  j["dpcs_left"] = u.dpcs_left;
  j["work_items_left"] = u.work_items_left;
  j["threads_left"] = u.threads_left;
  return j;
}

Json stop_json(const harness::StopInfo& s) {
  Json j;
  j["reason"] = stop_reason_name(s.reason);
  if (s.bugcheck) {
    const auto& b = *s.bugcheck;
    Json bc;
    bc["code"] = hex32(b.code);
    bc["name"] = b.name;
    Json params = Json::array();
    for (uint64_t p : b.params) params.push_back(hex_addr(p));
    bc["params"] = std::move(params);
    j["bugcheck"] = std::move(bc);
  }
  if (!s.message.empty()) j["message"] = s.message;
  return j;
}

Json unimplemented_json(const std::vector<harness::UnimplementedCall>& calls) {
  Json arr = Json::array();
  for (const auto& c : calls) {
    Json j;
    j["api"] = c.api;
    j["calls"] = c.calls;
    arr.push_back(std::move(j));
  }
  return arr;
}

Json steps_json(const std::vector<harness::StepResult>& steps) {
  Json arr = Json::array();
  for (const harness::StepResult& st : steps) {
    Json j;
    j["op"] = st.op;
    if (st.code) {
      j["code"] = hex32(*st.code);
      j["handle"] = st.target;
    } else if (!st.target.empty()) {
      j[st.op == "open" ? "path" : "target"] = st.target;
    }
    if (st.status) {
      j["status"] = hex32(*st.status);
      j["status_name"] = status_label(*st.status);
    } else {
      j["status"] = st.pending ? "pending" : "not_triggered";
    }
    j["information"] = st.information;
    if (st.handle && !st.code) j["handle"] = hex_addr(st.handle);
    j["output_hex"] = st.output_hex;
    j["expect_ok"] = st.expect_ok;
    arr.push_back(std::move(j));
  }
  return arr;
}

Json findings_json(const std::vector<harness::Finding>& findings) {
  Json arr = Json::array();
  for (const harness::Finding& f : findings) {
    Json j;
    j["check"] = f.check;
    j["severity"] = f.severity;
    j["count"] = f.count;
    j["title"] = f.title;
    j["message"] = f.message;
    j["microsoft"] = f.microsoft;
    Json loc;
    loc["module"] = f.location.module;
    loc["offset"] = hex_addr(f.location.offset);
    loc["symbol"] = f.location.symbol;
    loc["instruction"] = f.location.instruction;
    j["location"] = loc;
    j["stack"] = f.stack;
    Json ctx;
    ctx["process"] = f.context.process;
    ctx["thread"] = f.context.thread;
    ctx["irql"] = f.context.irql;
    // cli.md lists both keys; outside a request (DriverEntry, unload, a DPC) they are null.
    ctx["major"] = f.context.major.empty() ? Json(nullptr) : Json(f.context.major);
    ctx["ioctl"] = f.context.ioctl ? Json(hex32(*f.context.ioctl)) : Json(nullptr);
    j["context"] = ctx;
    Json values = Json::object();
    for (const auto& [k, v] : f.values) values[k] = v;
    j["values"] = values;
    arr.push_back(std::move(j));
  }
  return arr;
}

Json stats_json(const harness::RunStats& s) {
  Json j;
  j["instructions"] = s.instructions;
  j["api_calls"] = s.api_calls;
  j["wall_ms"] = s.wall_ms;
  return j;
}

}  // namespace

nlohmann::ordered_json to_json(const harness::RunResult& r) {
  Json j;
  j["kemu_version"] = r.kemu_version;
  j["driver"] = driver_json(r.driver);
  j["driver_entry"] = driver_entry_json(r.driver_entry_status);
  j["devices"] = devices_json(r.devices);
  j["debug_output"] = r.debug_output;
  j["steps"] = steps_json(r.steps);
  j["unload"] = unload_json(r.unload);
  j["findings"] = findings_json(r.findings);
  j["stop"] = stop_json(r.stop);
  j["unimplemented"] = unimplemented_json(r.unimplemented);
  j["stats"] = stats_json(r.stats);
  if (r.probe.ran) {  // extension: the unknown-request probe ran (on a copy of the machine)
    Json probe;
    probe["requests"] = r.probe.requests;
    j["probe"] = probe;
  }
  if (!r.breakpoints.empty()) j["breakpoints"] = r.breakpoints;  // extension
  if (!r.failed_allocations.empty()) {  // --fail-alloc / --fail-alloc-rate: the calls made to fail
    Json failed = Json::array();
    for (const harness::FailedAllocationInfo& f : r.failed_allocations) {
      Json one;
      one["call"] = f.number;
      one["routine"] = f.routine;
      Json loc;
      loc["module"] = f.module;
      loc["offset"] = hex_addr(f.offset);
      loc["symbol"] = f.symbol;
      one["location"] = std::move(loc);
      failed.push_back(std::move(one));
    }
    j["failed_allocations"] = std::move(failed);
  }
  if (!r.explain.empty()) {  // extension: --explain
    Json lines = Json::array();
    for (const harness::ExplainLine& l : r.explain) {
      Json line;
      line["step"] = l.step;
      line["text"] = l.text;
      lines.push_back(line);
    }
    j["explain"] = lines;
  }
  return j;
}

std::string render_json(const harness::RunResult& r, bool pretty) {
  return to_json(r).dump(pretty ? 2 : -1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace kemu::report
