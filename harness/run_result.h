// Everything a run produced, as plain data: what the report layer renders
// (text, JSON per docs/cli.md) and what tests assert on.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "verifier/finding.h"

namespace kemu::harness {

// Why a run ended (cli.md "stop.reason").
enum class StopReason { Completed, Bugcheck, Timeout, InstructionLimit, Deadlock, Unimplemented, Error };
const char* to_string(StopReason r);  // "completed", "bugcheck", "instruction-limit", ...

struct BugcheckInfo {
  uint32_t code = 0;
  std::string name;  // e.g. "SYSTEM_SERVICE_EXCEPTION"
  uint64_t params[4] = {};
  std::string module;       // where it happened, e.g. "hello.sys" (empty if unknown)
  uint64_t offset = 0;      // RVA in that module
  std::string symbol;       // nearest export/symbol, may be empty
  std::string instruction;  // Capstone text of the faulting instruction
  std::vector<std::string> stack;  // "module+0xoff" frames
  std::vector<std::pair<std::string, uint64_t>> registers;  // name, value
};

// A finding (checks.md), produced by the verifier (verifier/finding.h).
using verifier::Finding;
using verifier::FindingContext;
using verifier::FindingLocation;

struct StopInfo {
  StopReason reason = StopReason::Completed;
  std::string message;  // human detail (the unimplemented API, the error, ...)
  std::optional<BugcheckInfo> bugcheck;
};

struct DeviceInfo {
  std::string name;                // "\Device\KemuHello" (empty for unnamed devices)
  std::vector<std::string> links;  // link names as the driver created them
  uint32_t characteristics = 0;
  uint32_t device_type = 0;
  uint32_t flags = 0;
};

struct UnimplementedCall {
  std::string api;  // "ntoskrnl.exe!FooBar"
  uint64_t calls = 0;
  bool unknown_export = false;  // the name is not an export kemu knows at all
};

struct UnloadInfo {
  bool called = false;  // DriverUnload ran
  bool has_unload_routine = false;
  std::vector<std::string> devices_left;
  std::vector<std::string> links_left;
  // Work the driver left queued or running (routine addresses symbolised).
  std::vector<std::string> timers_left;
  std::vector<std::string> dpcs_left;
  std::vector<std::string> work_items_left;
  std::vector<std::string> threads_left;
};

// A call the low-resources simulation failed (--fail-alloc): which one, where.
struct FailedAllocationInfo {
  uint64_t number = 0;  // among the driver's allocation-like calls, from 1
  std::string routine;  // "ExAllocatePoolWithTag"
  std::string module;   // the driver's call instruction
  uint64_t offset = 0;
  std::string symbol;
};

struct DriverInfo {
  std::string path;
  std::string sha256;
  uint64_t image_base = 0;
  uint64_t entry = 0;
  uint64_t image_size = 0;
};

// One client request (a scenario step, or the opens `kemu run` makes by itself).
struct StepResult {
  std::string op;      // "open", "close", ...
  std::string target;  // the path or the handle's name
  std::optional<uint32_t> code;  // ioctl: the control code
  std::optional<uint32_t> status;  // absent when the request never completed
  bool pending = false;            // the driver pended it and never completed it
  uint64_t information = 0;
  uint64_t handle = 0;  // for a successful open
  std::string output_hex;
  bool expect_ok = true;
  // The run stopped (a bug check, a timeout) while this request was running:
  // it never returned to the client. Text report only (docs/cli.md's JSON keeps `status`).
  bool never_returned = false;
};

// One --explain sentence: a handle-table or previous-mode decision.
struct ExplainLine {
  int64_t step = -1;  // index into RunResult::steps; -1 before the first step (DriverEntry)
  std::string text;
};

struct RunStats {
  uint64_t instructions = 0;
  uint64_t api_calls = 0;
  uint64_t wall_ms = 0;
};

// The unknown-request probe (harness/request_probe.cpp): whether it ran and
// how many client requests it sent (on a copy of the machine; they are not
// steps of the run).
struct ProbeInfo {
  bool ran = false;
  uint64_t requests = 0;
};

struct RunResult {
  std::string kemu_version;
  DriverInfo driver;
  std::optional<uint32_t> driver_entry_status;  // absent when DriverEntry did not return
  std::vector<DeviceInfo> devices;             // devices alive after DriverEntry
  std::vector<std::string> debug_output;       // one entry per DbgPrint*, without trailing newline
  std::vector<StepResult> steps;
  std::vector<Finding> findings;
  std::vector<std::string> breakpoints;  // int3 / DbgBreakPoint sites (no debugger: execution went on)
  UnloadInfo unload;
  StopInfo stop;
  std::vector<UnimplementedCall> unimplemented;
  std::vector<FailedAllocationInfo> failed_allocations;  // --fail-alloc / --fail-alloc-rate
  std::vector<ExplainLine> explain;  // only with SessionOptions::explain
  RunStats stats;
  ProbeInfo probe;
};

}  // namespace kemu::harness
