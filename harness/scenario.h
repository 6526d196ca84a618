// Scenario files (cli.md): the client's steps against a driver, in YAML.
// parse_scenario validates the whole file first and names the file, the line
// and what is wrong (exit 2); run_scenario drives a Session through it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "harness/session.h"

namespace kemu::harness {

struct ScenarioError : SessionError {
  using SessionError::SessionError;
};

struct ScenarioStep {
  std::string op;  // open | file | open_process | close | cancel | event | buffer | ioctl | read | write | run_pending | advance_time | unload
  int line = 0;
  // open
  std::string path;
  uint32_t access = 0xC0000000;
  std::string as;  // the handle's name (open, event, file), the buffer's (buffer)
  // file
  bool create = false;
  // open_process: the process id (absent: `client`, the client's own process)
  std::optional<uint32_t> pid;
  // close / cancel / ioctl
  std::string handle;
  // event
  bool synchronization = false;
  bool signaled = false;
  uint32_t event_access = 0x1F0003;  // EVENT_ALL_ACCESS (generic rights map through the Event type)
  // ioctl
  uint32_t code = 0;
  std::vector<uint8_t> input;
  std::vector<std::pair<size_t, std::string>> input_handles;  // offset, handle name (u32/u64 "{name}")
  std::vector<uint8_t> handle_widths;                        // 4 or 8 per input_handles entry
  std::optional<uint32_t> input_length;
  std::vector<uint8_t> output;
  uint32_t output_length = 0;
  Session::Placement input_placement = Session::Placement::Normal;
  Session::Placement output_placement = Session::Placement::Normal;
  // read / write; buffer: `data` in `input`, `size` in `length`, `placement` in input_placement
  uint32_t length = 0;
  std::optional<int64_t> offset;
  // advance_time
  uint64_t ms = 0;
  // section (access: SECTION_ALL_ACCESS unless given)
  uint64_t size = 0;
  std::string file;  // the client file handle backing it (empty: pagefile-backed)
  // close_during
  std::string api;
  // expect
  std::optional<uint32_t> expect_status;
  std::optional<uint64_t> expect_information;
};

struct Scenario {
  std::string path;
  std::optional<std::string> as;  // user | admin
  std::optional<uint64_t> fail_alloc;  // `fail_alloc: N`: the N-th allocation-like call fails
  std::vector<RegistrySeed> registry;  // `registry:` values, written before DriverEntry
  std::vector<ScenarioStep> steps;
};

// Throws ScenarioError ("FILE:LINE: what is wrong").
Scenario parse_scenario(const std::string& path);

// load + DriverEntry + the steps (+ unload when the scenario has none).
const RunResult& run_scenario(Session& session, const std::string& driver, const Scenario& scenario);

}  // namespace kemu::harness
