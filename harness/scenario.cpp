#include "harness/scenario.h"

#include <yaml-cpp/yaml.h>

#include <fmt/format.h>

#include "emulator/ntstatus.h"
#include "harness/scenario_registry.h"

namespace kemu::harness {

namespace {

[[noreturn]] void fail(const std::string& file, const YAML::Node& node, const std::string& what) {
  int line = node.IsDefined() ? node.Mark().line + 1 : 0;
  throw ScenarioError(fmt::format("{}:{}: {}", file, line, what));
}

uint64_t to_number(const std::string& file, const YAML::Node& node, const std::string& what) {
  std::string text = node.as<std::string>();
  try {
    size_t used = 0;
    uint64_t v = std::stoull(text, &used, 0);
    if (used != text.size()) throw std::invalid_argument(text);
    return v;
  } catch (const std::exception&) {
    fail(file, node, fmt::format("{} must be a number, not '{}'", what, text));
  }
}

uint32_t access_of(const std::string& file, const YAML::Node& node) {
  if (!node.IsSequence()) return static_cast<uint32_t>(to_number(file, node, "access"));
  uint32_t access = 0;
  for (const YAML::Node& item : node) {
    std::string a = item.as<std::string>();
    if (a == "read") access |= 0x80000000;            // GENERIC_READ
    else if (a == "write") access |= 0x40000000;      // GENERIC_WRITE
    else if (a == "all") access |= 0x10000000;        // GENERIC_ALL
    else if (a == "synchronize") access |= 0x100000;  // SYNCHRONIZE
    else access |= static_cast<uint32_t>(to_number(file, item, "an access right"));
  }
  return access;
}

Session::Placement placement_of(const std::string& file, const YAML::Node& node) {
  static const std::map<std::string, Session::Placement> kNames = {
      {"normal", Session::Placement::Normal},     {"page_end", Session::Placement::PageEnd},
      {"null", Session::Placement::Null},         {"unmapped", Session::Placement::Unmapped},
      {"kernel", Session::Placement::Kernel},     {"kernel_unmapped", Session::Placement::KernelUnmapped},
      {"readonly", Session::Placement::ReadOnly}, {"misaligned", Session::Placement::Misaligned}};
  auto it = kNames.find(node.as<std::string>());
  if (it == kNames.end()) fail(file, node, fmt::format("unknown placement '{}'", node.as<std::string>()));
  return it->second;
}

// An input/output form: hex, u32, u64, utf16 (+ nul), fill + size.
void parse_bytes(const std::string& file, const YAML::Node& node, ScenarioStep& step, bool input) {
  std::vector<uint8_t>& out = input ? step.input : step.output;
  if (!node.IsMap()) fail(file, node, "a buffer is a map: { hex: ... } / { u32: [...] } / { u64: [...] } / { utf16: ... } / { fill: N, size: N }");
  if (node["hex"]) {
    std::string hex;
    for (char c : node["hex"].as<std::string>())
      if (!std::isspace(static_cast<unsigned char>(c))) hex.push_back(c);
    if (hex.size() % 2) fail(file, node["hex"], "hex needs an even number of digits");
    for (size_t i = 0; i < hex.size(); i += 2) {
      try {
        out.push_back(static_cast<uint8_t>(std::stoul(hex.substr(i, 2), nullptr, 16)));
      } catch (const std::exception&) {
        fail(file, node["hex"], "hex digits only");
      }
    }
  } else if (node["u32"] || node["u64"]) {
    bool wide = static_cast<bool>(node["u64"]);
    const YAML::Node list = wide ? node["u64"] : node["u32"];
    if (!list.IsSequence()) fail(file, list, "u32/u64 take a list");
    for (const YAML::Node& item : list) {
      std::string text = item.as<std::string>();
      uint64_t value = 0;
      if (text.size() > 2 && text.front() == '{' && text.back() == '}') {
        if (!input) fail(file, item, "handle names are expanded in input buffers only");
        step.input_handles.emplace_back(out.size(), text.substr(1, text.size() - 2));
        step.handle_widths.push_back(wide ? 8 : 4);
      } else {
        value = to_number(file, item, "a list element");
      }
      for (int b = 0; b < (wide ? 8 : 4); ++b) out.push_back(static_cast<uint8_t>(value >> (8 * b)));
    }
  } else if (node["utf16"]) {
    std::string text = node["utf16"].as<std::string>();
    for (unsigned char c : text) {  // ASCII/Latin-1 characters
      out.push_back(c);
      out.push_back(0);
    }
    if (node["nul"] && node["nul"].as<bool>()) out.insert(out.end(), {0, 0});
  } else if (node["fill"]) {
    if (!node["size"]) fail(file, node, "fill needs a size");
    out.assign(to_number(file, node["size"], "size"),
               static_cast<uint8_t>(to_number(file, node["fill"], "fill")));
  } else {
    fail(file, node, "unknown buffer form (hex, u32, u64, utf16, fill)");
  }
}

std::string required(const std::string& file, const YAML::Node& node, const char* key) {
  if (!node[key]) fail(file, node, fmt::format("missing '{}'", key));
  return node[key].as<std::string>();
}

}  // namespace

Scenario parse_scenario(const std::string& path) {
  Scenario sc;
  sc.path = path;
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    throw ScenarioError(fmt::format("{}: cannot read the scenario file", path));
  } catch (const YAML::Exception& e) {
    throw ScenarioError(fmt::format("{}:{}: {}", path, e.mark.line + 1, e.msg));
  }
  try {
    if (!root.IsMap()) fail(path, root, "a scenario is a map with 'steps'");
    if (root["as"]) {
      std::string as = root["as"].as<std::string>();
      if (as != "user" && as != "admin") fail(path, root["as"], "'as' is user or admin");
      sc.as = as;
    }
    if (root["fail_alloc"]) {
      uint64_t n = 0;
      try {
        n = root["fail_alloc"].as<uint64_t>();
      } catch (const YAML::Exception&) {
      }
      if (n == 0) fail(path, root["fail_alloc"], "'fail_alloc' is a number from 1");
      sc.fail_alloc = n;
    }
    if (root["registry"]) sc.registry = parse_registry_seeds(path, root["registry"]);
    const YAML::Node steps = root["steps"];
    if (!steps || !steps.IsSequence()) fail(path, root, "'steps' must be a list");
    for (const YAML::Node& item : steps) {
      ScenarioStep st;
      st.line = item.Mark().line + 1;
      if (item.IsScalar()) {
        st.op = item.as<std::string>();
      } else if (item.IsMap() && item.size() == 1) {
        st.op = item.begin()->first.as<std::string>();
      } else {
        fail(path, item, "each step is a map with one key (the operation)");
      }
      const YAML::Node body = item.IsMap() ? item.begin()->second : YAML::Node();
      if (st.op == "open") {
        st.path = required(path, body, "path");
        if (body["access"]) st.access = access_of(path, body["access"]);
        if (body["as"]) st.as = body["as"].as<std::string>();
      } else if (st.op == "file") {
        st.path = required(path, body, "path");
        if (body["access"]) st.access = access_of(path, body["access"]);
        if (body["as"]) st.as = body["as"].as<std::string>();
        if (body["create"]) st.create = body["create"].as<bool>();
      } else if (st.op == "close" || st.op == "cancel") {
        st.handle = body.IsScalar() ? body.as<std::string>() : required(path, body, "handle");
      } else if (st.op == "event") {
        st.as = required(path, body, "as");
        if (body["type"]) {
          std::string type = body["type"].as<std::string>();
          if (type != "notification" && type != "synchronization")
            fail(path, body["type"], "event type is notification or synchronization");
          st.synchronization = type == "synchronization";
        }
        if (body["signaled"]) st.signaled = body["signaled"].as<bool>();
        if (body["access"]) st.event_access = access_of(path, body["access"]);
      } else if (st.op == "ioctl") {
        st.handle = required(path, body, "handle");
        st.code = static_cast<uint32_t>(to_number(path, body["code"], "code"));
        if (body["input"]) parse_bytes(path, body["input"], st, true);
        if (body["input_length"]) st.input_length = static_cast<uint32_t>(to_number(path, body["input_length"], "input_length"));
        if (body["output"]) parse_bytes(path, body["output"], st, false);
        st.output_length = body["output_length"]
                               ? static_cast<uint32_t>(to_number(path, body["output_length"], "output_length"))
                               : static_cast<uint32_t>(st.output.size());
        if (body["input_placement"]) st.input_placement = placement_of(path, body["input_placement"]);
        if (body["output_placement"]) st.output_placement = placement_of(path, body["output_placement"]);
      } else if (st.op == "buffer") {
        st.as = required(path, body, "as");
        if (body["data"]) parse_bytes(path, body["data"], st, true);
        if (!st.input_handles.empty()) fail(path, body["data"], "a buffer's data names no handles");
        if (body["size"]) st.length = static_cast<uint32_t>(to_number(path, body["size"], "size"));
        if (body["placement"]) st.input_placement = placement_of(path, body["placement"]);
      } else if (st.op == "run_pending" || st.op == "unload") {
      } else if (st.op == "advance_time") {
        st.ms = to_number(path, body["ms"], "ms");
      } else if (st.op == "read" || st.op == "write") {
        st.handle = required(path, body, "handle");
        if (st.op == "read") st.length = static_cast<uint32_t>(to_number(path, body["length"], "length"));
        if (st.op == "write") {
          if (!body["data"]) fail(path, body, "missing 'data'");
          parse_bytes(path, body["data"], st, true);
        }
        if (body["offset"]) st.offset = static_cast<int64_t>(to_number(path, body["offset"], "offset"));
        if (body["placement"]) st.input_placement = placement_of(path, body["placement"]);
      } else if (st.op == "close_during") {
        st.handle = required(path, body, "handle");
        st.api = required(path, body, "api");
      } else if (st.op == "section") {
        if (body["file"]) st.file = body["file"].as<std::string>();
        if (body["size"]) st.size = to_number(path, body["size"], "size");
        else if (st.file.empty()) fail(path, body, "a section without 'file' needs a 'size'");
        st.access = body["access"] ? access_of(path, body["access"]) : 0xF001F;  // SECTION_ALL_ACCESS
        if (body["as"]) st.as = body["as"].as<std::string>();
      } else if (st.op == "open_process") {
        std::string pid = required(path, body, "pid");
        if (pid != "client") {
          uint64_t value = to_number(path, body["pid"], "pid");
          if (value > 0xFFFFFFFFu) fail(path, body["pid"], "a process id has 32 bits");
          st.pid = static_cast<uint32_t>(value);
        }
        if (!body["access"]) fail(path, body, "missing 'access'");
        st.access = access_of(path, body["access"]);
        if (body["as"]) st.as = body["as"].as<std::string>();
      } else {
        fail(path, item, fmt::format("unknown step '{}'", st.op));
      }
      if (body.IsMap() && body["expect"]) {
        const YAML::Node e = body["expect"];
        if (e["status"]) {
          auto s = parse_status(e["status"].as<std::string>());
          if (!s) fail(path, e["status"], fmt::format("unknown status '{}'", e["status"].as<std::string>()));
          st.expect_status = *s;
        }
        if (e["information"]) st.expect_information = to_number(path, e["information"], "information");
      }
      sc.steps.push_back(std::move(st));
    }
  } catch (const YAML::Exception& e) {
    throw ScenarioError(fmt::format("{}:{}: {}", path, e.mark.line + 1, e.msg));
  }
  return sc;
}

const RunResult& run_scenario(Session& session, const std::string& driver, const Scenario& sc) {
  // The scenario's `as:` picks the client's token unless the command line did (--as wins).
  if (sc.as && !session.options().client_token)
    session.set_client_token(*sc.as == "admin" ? ClientToken::Admin : ClientToken::User);
  // The scenario's `fail_alloc:` unless the command line chose --fail-alloc(-rate).
  if (sc.fail_alloc) session.set_fail_alloc(*sc.fail_alloc);
  // The registry the driver finds: seeded before it loads.
  for (const RegistrySeed& seed : sc.registry) {
    if (seed.name) session.set_registry_value(seed.key, *seed.name, seed.value);
    else session.create_registry_key(seed.key);
  }
  session.load(driver);
  session.driver_entry();
  std::map<std::string, uint64_t> handles;
  bool unloaded = false;
  auto handle_of = [&](const ScenarioStep& st, const std::string& name) -> uint64_t {
    auto it = handles.find(name);
    // A raw handle value (an extension: "0x8") names whatever the client's
    // table holds there, e.g. a handle a driver created in it.
    if (it == handles.end() && name.size() > 2 && name.starts_with("0x")) {
      try {
        return std::stoull(name, nullptr, 16);
      } catch (const std::exception&) {
      }
    }
    if (it == handles.end())
      throw ScenarioError(fmt::format("{}:{}: no handle named '{}' (a failed open leaves the name unbound)",
                                      sc.path, st.line, name));
    return it->second;
  };
  for (const ScenarioStep& st : sc.steps) {
    if (session.stopped()) break;
    if (st.op == "open") {
      auto o = session.open(st.path, st.access);
      if (o.status && nt_success(*o.status) && !st.as.empty()) handles[st.as] = o.handle;
    } else if (st.op == "file") {
      auto f = session.open_file(st.path, st.access, st.create);
      if (f.status && nt_success(*f.status) && !st.as.empty()) handles[st.as] = f.handle;
    } else if (st.op == "open_process") {
      auto o = session.open_process(st.pid, st.access);
      if (o.status && nt_success(*o.status) && !st.as.empty()) handles[st.as] = o.handle;
    } else if (st.op == "close") {
      session.close(handle_of(st, st.handle));
      handles.erase(st.handle);
    } else if (st.op == "cancel") {
      session.cancel(handle_of(st, st.handle));
    } else if (st.op == "section") {
      std::optional<uint64_t> file;
      if (!st.file.empty()) file = handle_of(st, st.file);
      auto o = session.create_section(st.size, file, st.access);
      if (nt_success(o.status) && !st.as.empty()) handles[st.as] = o.handle;
    } else if (st.op == "event") {
      auto e = session.create_event(st.synchronization, st.signaled, st.event_access);
      if (nt_success(e.status)) handles[st.as] = e.handle;
    } else if (st.op == "buffer") {
      // Its address is what "{name}" expands to in later inputs.
      handles[st.as] = session.client_buffer(st.input, st.length, st.input_placement);
    } else if (st.op == "ioctl") {
      Session::IoctlRequest rq;
      rq.handle = handle_of(st, st.handle);
      rq.code = st.code;
      rq.input = st.input;
      for (size_t i = 0; i < st.input_handles.size(); ++i) {
        uint64_t v = handle_of(st, st.input_handles[i].second);
        for (int b = 0; b < st.handle_widths[i]; ++b) rq.input[st.input_handles[i].first + b] = static_cast<uint8_t>(v >> (8 * b));
      }
      rq.input_length = st.input_length;
      rq.output = st.output;
      rq.output_length = st.output_length;
      rq.input_placement = st.input_placement;
      rq.output_placement = st.output_placement;
      session.ioctl(rq);
    } else if (st.op == "read" || st.op == "write") {
      if (st.op == "read")
        session.read(handle_of(st, st.handle), st.length, st.offset, st.input_placement);
      else
        session.write(handle_of(st, st.handle), st.input, st.offset, st.input_placement);
    } else if (st.op == "close_during") {
      session.close_during(handle_of(st, st.handle), st.api);
    } else if (st.op == "run_pending") {
      session.run_pending();
    } else if (st.op == "advance_time") {
      session.advance_time_ms(st.ms);
    } else if (st.op == "unload") {
      session.unload();
      unloaded = true;
      StepResult step;
      step.op = "unload";
      step.status = STATUS_SUCCESS;
      session.add_step(step);
    }
    // Checked now, and again if the step was pending and completes later.
    if (st.expect_status || st.expect_information) session.expect_last_step(st.expect_status, st.expect_information);
  }
  if (!unloaded) session.unload();
  return session.result();
}

}  // namespace kemu::harness
