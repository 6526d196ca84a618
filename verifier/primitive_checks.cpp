// The dangerous-primitive checks of checks.md (primitive.*),
// irp.any-access-dangerous, and section.user-view-unsafe (a view shared with
// the caller's process made against "Security issues for section objects and
// views"). Primitives: a value the caller controls (engine.h's
// request-derived) reaching an operation that gives the caller the machine —
// a physical mapping, an MSR write, port I/O, a kernel-half access, a process
// opened without the caller's rights. Each finding carries the routine or
// instruction, the caller's values, the control code and its access bits.
//
// The rule for a fixed driver: kemu cannot see whether the driver validated a
// value it passes on verbatim (no taint tracking yet), so a value that reaches
// the sink unchanged counts as the caller's. A safe driver takes an index or a
// choice from the request and uses its own constant or table (its own
// register window, an allow-listed MSR with a value it computes, a port of its
// own range), or, for processes, keeps the caller's rights
// (OBJ_FORCE_ACCESS_CHECK or the requestor's mode): neither fires.
#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "emulator/machine.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/mm/sections.h"
#include "ntoskrnl-stubs/ob/handle_table.h"
#include "ntoskrnl-stubs/ob/object_manager.h"
#include "ntoskrnl-stubs/ps/process_manager.h"
#include "verifier/engine.h"

namespace kemu::verifier::primitive_checks {

using Values = std::vector<std::pair<std::string, std::string>>;

namespace {

constexpr uint32_t kObjForceAccessCheck = 0x400;
constexpr uint8_t kIrpMjDeviceControl = 0x0E;
constexpr uint32_t kPageReadWrite = 0x04;
constexpr uint64_t kKernelHalf = 0xFFFF'8000'0000'0000ull;
// A caller's pointer is watched over this many bytes: the fields of a
// structure it names.
constexpr uint64_t kWatchedSpan = 0x1000;
// At most this many kernel-half values of one request are watched.
constexpr size_t kMaxWatchedValues = 16;

}  // namespace

struct State {
  // Kernel-half values of the running request, watched for driver accesses.
  std::vector<uint64_t> kernel_values;
  std::vector<uint64_t> reported_sites;  // arbitrary-rw sites of this request (hook and fault both see one)
  // Processes the driver looked up by a pid from the request (EPROCESS -> pid).
  std::map<uint64_t, uint64_t> chosen_processes;
  // A map-view call in progress: the caller's offset and size before the call.
  struct ViewCall {
    uint64_t offset = 0, size = 0;
    bool offset_given = false, size_given = false;
  };
  std::vector<ViewCall> view_calls;
  // Views the driver mapped into a user process: (pid, base) -> size. Kept
  // across requests, until the driver unmaps them.
  std::map<std::pair<uint32_t, uint64_t>, uint64_t> user_views;
};

std::shared_ptr<State> make_state() { return std::make_shared<State>(); }

namespace {

bool driver_code(emu::Machine& m, GuestVa rip) {
  const emu::Module* mod = m.module_at(rip);
  return mod && mod->name != "ntoskrnl.exe" && mod->name != "hal.dll" && mod->name != "unknown-imports";
}

const char* access_name(uint32_t ioctl) {
  switch ((ioctl >> 14) & 3) {
    case 0: return "FILE_ANY_ACCESS";
    case 1: return "FILE_READ_ACCESS";
    case 2: return "FILE_WRITE_ACCESS";
    default: return "FILE_READ_ACCESS | FILE_WRITE_ACCESS";
  }
}

// What a primitive check's finding gives the caller, in words (its id stays
// in the `primitive` value).
std::string_view primitive_description(std::string_view check) {
  if (check == "primitive.physical-memory") return "a caller-controlled physical memory mapping";
  if (check == "primitive.msr-write") return "a caller-controlled MSR write";
  if (check == "primitive.port-io") return "caller-controlled port I/O";
  if (check == "primitive.arbitrary-rw") return "a caller-controlled kernel memory access";
  if (check == "primitive.process-access") return "kernel-mode access to a process the caller chose";
  return check;
}

// Reports `check` and, when the running request is an IOCTL defined with
// FILE_ANY_ACCESS, irp.any-access-dangerous at the same place.
void report_primitive(Engine& e, std::string_view check, GuestVa site, const std::string& message, Values values) {
  const nt::RequestStart* rq = e.request();
  bool ioctl = rq && rq->major == kIrpMjDeviceControl;
  if (ioctl) {
    values.emplace_back("ioctl", hex(rq->ioctl));
    values.emplace_back("required_access", access_name(rq->ioctl));
  }
  e.report(check, site, message, values);
  if (!ioctl || ((rq->ioctl >> 14) & 3) != 0) return;
  values.emplace_back("primitive", std::string(check));
  e.report("irp.any-access-dangerous", site,
           fmt::format("the control code {:#x} is defined with FILE_ANY_ACCESS, so the I/O manager checked no "
                       "right of the caller's handle before the request reached {}: anyone who can open the "
                       "device gets it.",
                       rq->ioctl, primitive_description(check)),
           std::move(values));
}

// Whether a 16-bit port number came from the caller: a 4- or 8-byte value
// anywhere (engine.h), or a USHORT field at an even offset (two bytes alone
// match too easily anywhere in a large buffer).
// Whether a PAGE_* protection allows writing (the modifiers PAGE_GUARD,
// PAGE_NOCACHE and PAGE_WRITECOMBINE in bits 8-10 change nothing here).
bool writable(uint32_t protect) {
  uint32_t base = protect & 0xFF;
  return base == kPageReadWrite || base == 0x08 || base == 0x40 || base == 0x80;  // RW, WRITECOPY, EXECUTE_RW/WC
}

// What a physical mapping with this protection allows, in words.
const char* mapping_access(uint32_t protect) {
  return writable(protect) ? "the mapping is readable and writable" : "the mapping is read-only";
}
const char* caller_access(uint32_t protect) { return writable(protect) ? "can read and write" : "can read"; }

bool port_from_request(const Engine& e, uint32_t port) {
  const nt::RequestStart* rq = e.request();
  if (!rq || port == 0) return false;
  if (e.from_request(port)) return true;
  const std::vector<uint8_t>& b = rq->caller_bytes;
  uint8_t lo = static_cast<uint8_t>(port), hi = static_cast<uint8_t>(port >> 8);
  for (size_t i = 0; i + 2 <= b.size(); i += 2)
    if (b[i] == lo && b[i + 1] == hi) return true;
  return false;
}

void physical_mapping(Engine& e, const nt::ApiCall& call) {
  uint64_t physical = call.args.size() > 0 ? call.args[0] : 0;
  uint64_t bytes = call.args.size() > 1 ? call.args[1] : 0;
  // MmMapIoSpace maps read/write; MmMapIoSpaceEx(..., Protect) maps as Protect says.
  uint32_t protect = *call.name == "MmMapIoSpaceEx" && call.args.size() > 2 ? static_cast<uint32_t>(call.args[2])
                                                                              : kPageReadWrite;
  bool address = e.from_request(physical), size = e.from_request(bytes);
  if (!address && !size) return;
  report_primitive(
      e, "primitive.physical-memory", call.call_site,
      fmt::format("{} mapped {:#x} bytes of physical memory at {:#x}, {} taken from the request: {}, so the "
                  "caller {} whatever physical memory it names, the kernel's included.",
                  *call.name, bytes, physical,
                  address && size ? "an address and a size" : address ? "an address" : "a size",
                  mapping_access(protect), caller_access(protect)),
      {{"routine", *call.name},
       {"physical_address", hex(physical)},
       {"size", hex(bytes)},
       {"protect", hex(protect)},
       {"caller_controlled", address && size ? "address, size" : address ? "address" : "size"}});
}

bool is_map_view(const std::string& name) {
  return name == "ZwMapViewOfSection" || name == "NtMapViewOfSection" || name == "MmMapViewOfSection";
}

// Zw/Nt/MmMapViewOfSection(Section, Process, BaseAddress*, ZeroBits, CommitSize, SectionOffset*, ViewSize*, ...)
void map_view_called(Engine& e, State& s, const nt::ApiCall& call) {
  auto& mem = e.kernel().memory();
  State::ViewCall v;
  if (call.args.size() > 6) {
    if (call.args[5]) v.offset = mem.try_read<uint64_t>(GuestVa{call.args[5]}).value_or(0);
    if (call.args[6]) v.size = mem.try_read<uint64_t>(GuestVa{call.args[6]}).value_or(0);
    v.offset_given = call.args[5] != 0;
    v.size_given = call.args[6] != 0;
  }
  s.view_calls.push_back(v);
}

// A view the driver mapped into a user process, against the documented
// protocol: the section comes from a handle of the caller's (the driver must
// create it), the caller chose the offset or size, or the driver's own
// section handle is not a kernel handle (the user process can close or
// replace it).
void user_view_mapped(Engine& e, const nt::ApiCall& call, const State::ViewCall& v, const nt::mm::ViewRecord& view) {
  const nt::RequestStart* rq = e.request();
  nt::Kernel& k = e.kernel();
  // Each problem found: its name (the `problems` value) and its sentence part.
  std::vector<std::pair<std::string, std::string>> problems;
  Values values = {{"routine", *call.name}, {"view", hex(view.base.value)}, {"size", hex(view.size)},
                   {"section_offset", hex(view.section_offset)}};
  if (*call.name != "MmMapViewOfSection") {
    uint64_t handle = call.args[0];
    values.emplace_back("section_handle", hex(handle));
    bool kernel = nt::ob::is_kernel_handle(handle);
    if (!kernel && !nt::ob::is_pseudo_handle(handle) && e.from_request(handle) && !e.driver_made(rq->pid, handle) &&
        k.ob().table(rq->pid).find(nt::ob::handle_index(handle)))
      problems.emplace_back("user-supplied handle",
                            fmt::format("the section came from the caller's handle {:#x} (the driver must create "
                                        "the section itself, never use a handle passed from user mode)",
                                        handle));
    else if (!kernel && e.driver_made(rq->pid, handle))
      problems.emplace_back("no kernel handle",
                            fmt::format("the driver's section handle {:#x} is not a kernel handle (it lives in the "
                                        "caller's handle table, where the caller can use, close or replace it)",
                                        handle));
  }
  if (v.offset_given && e.from_request(v.offset))
    problems.emplace_back("caller-chosen offset", fmt::format("the caller chose the offset {:#x}", v.offset));
  if (v.size_given && e.from_request(v.size))
    problems.emplace_back("caller-chosen size", fmt::format("the caller chose the view size {:#x}", v.size));
  if (problems.empty()) return;
  std::string why, names;
  for (size_t i = 0; i < problems.size(); ++i) {
    const char* sep = i == 0 ? "" : i + 1 == problems.size() ? (problems.size() > 2 ? ", and " : " and ") : ", ";
    why += sep + problems[i].second;
    names += (i ? ", " : "") + problems[i].first;
  }
  values.emplace_back("problems", names);
  e.report("section.user-view-unsafe", call.call_site,
           fmt::format("{} mapped a view into the caller's process at {:#x} with {} {}: {}.", *call.name,
                       view.base.value, problems.size(), problems.size() == 1 ? "problem" : "problems", why),
           std::move(values));
}

void map_view_returned(Engine& e, State& s, const nt::ApiCall& call) {
  if (s.view_calls.empty()) return;
  State::ViewCall v = s.view_calls.back();
  s.view_calls.pop_back();
  if (!nt_success(static_cast<NtStatus>(call.result)) || call.args.size() < 7) return;
  nt::Kernel& k = e.kernel();
  auto base = k.memory().try_read<uint64_t>(GuestVa{call.args[2]});
  if (!base) return;
  for (const nt::mm::ViewRecord& view : nt::mm::views(k)) {
    if (view.base.value != *base) continue;
    if (view.pid != 0 && view.base.value < kKernelHalf) {
      s.user_views[{view.pid, view.base.value}] = view.size;
      if (!view.physical) user_view_mapped(e, call, v, view);
    }
    bool offset = v.offset_given && e.from_request(v.offset), size = v.size_given && e.from_request(v.size);
    if (!view.physical || (!offset && !size)) return;
    report_primitive(
        e, "primitive.physical-memory", call.call_site,
        fmt::format("{} mapped a view of \\Device\\PhysicalMemory at physical {:#x} ({:#x} bytes), {} taken from "
                    "the request: {}, so the caller {} whatever physical memory it names.",
                    *call.name, view.section_offset, view.size,
                    offset && size ? "an offset and a size" : offset ? "an offset" : "a size",
                    mapping_access(view.protect), caller_access(view.protect)),
        {{"routine", *call.name},
         {"physical_address", hex(view.section_offset)},
         {"size", hex(view.size)},
         {"view", hex(view.base.value)},
         {"protect", hex(view.protect)},
         {"caller_controlled", offset && size ? "offset, size" : offset ? "offset" : "size"}});
    return;
  }
}

// Zw/NtUnmapViewOfSection(Process, Base), MmUnmapViewOfSection(Process, Base): the view is gone.
void unmap_view_called(Engine& e, State& s, const nt::ApiCall& call) {
  if (call.args.size() < 2) return;
  uint64_t address = call.args[1];
  for (auto it = s.user_views.begin(); it != s.user_views.end(); ++it)
    if (address >= it->first.second && address < it->first.second + it->second) {
      s.user_views.erase(it);
      return;
    }
}

// ZwOpenProcess(ProcessHandle*, DesiredAccess, ObjectAttributes*, ClientId*):
// PsOpenProcess grants a KernelMode caller every right it asks for (its
// SeDebugPrivilege test passes for PreviousMode KernelMode);
// OBJ_FORCE_ACCESS_CHECK changes only the protected-process test.
void open_process(Engine& e, const nt::ApiCall& call) {
  if (call.args.size() < 4 || !call.args[3]) return;
  auto& mem = e.kernel().memory();
  uint64_t pid = mem.try_read<uint64_t>(GuestVa{call.args[3]}).value_or(0);
  uint32_t attributes = call.args[2] ? mem.try_read<uint32_t>(GuestVa{call.args[2] + 0x18}).value_or(0) : 0;
  if (!e.from_request(pid)) return;
  uint32_t desired = static_cast<uint32_t>(call.args[1]);
  report_primitive(e, "primitive.process-access", call.call_site,
                   fmt::format("{} opened process {}, a process id taken from the request, with access {:#x}: from "
                               "kernel mode every right is granted whatever the caller may do to that process "
                               "(OBJ_FORCE_ACCESS_CHECK does not change that for processes).",
                               *call.name, pid, desired),
                   {{"routine", *call.name}, {"pid", std::to_string(pid)}, {"desired_access", hex(desired)},
                    {"attributes", hex(attributes)}});
}

// A process the driver looked up by the caller's pid, then opened with
// kernel rights: ObOpenObjectByPointer with AccessMode KernelMode and no
// OBJ_FORCE_ACCESS_CHECK checks nothing against the caller.
void chosen_process_opened(Engine& e, State& s, const nt::ApiCall& call) {
  if (call.args.size() < 6) return;
  auto it = s.chosen_processes.find(call.args[0]);
  if (it == s.chosen_processes.end()) return;
  uint32_t attributes = static_cast<uint32_t>(call.args[1]);
  uint32_t desired = static_cast<uint32_t>(call.args[3]);
  if ((call.args[5] & 0xFF) != 0 || (attributes & kObjForceAccessCheck)) return;  // the caller's rights decide
  report_primitive(e, "primitive.process-access", call.call_site,
                   fmt::format("{} opened process {} (found by PsLookupProcessByProcessId from a process id taken "
                               "from the request) with access {:#x}, AccessMode KernelMode and no "
                               "OBJ_FORCE_ACCESS_CHECK: the caller acts on a process it could not open itself.",
                               *call.name, it->second, desired),
                   {{"routine", *call.name}, {"pid", std::to_string(it->second)}, {"desired_access", hex(desired)},
                    {"attributes", hex(attributes)}});
}

// ZwTerminateProcess(ProcessHandle, ExitStatus) with a handle of the caller's.
void terminate_with_caller_handle(Engine& e, const nt::ApiCall& call) {
  const nt::RequestStart* rq = e.request();
  uint64_t handle = call.args.empty() ? 0 : call.args[0];
  if (!rq || handle == 0 || nt::ob::is_pseudo_handle(handle) || nt::ob::is_kernel_handle(handle)) return;
  if (!e.from_request(handle) || e.driver_made(rq->pid, handle)) return;
  report_primitive(e, "primitive.process-access", call.call_site,
                   fmt::format("{} terminated the process behind the caller's handle {:#x}: from kernel mode the "
                               "handle's granted access (PROCESS_TERMINATE) is never checked.",
                               *call.name, handle),
                   {{"routine", *call.name}, {"handle", hex(handle)}});
}

// The copy routines run as host code: a caller's kernel-half address as their
// source or destination is the driver's access.
void copy_arguments(Engine& e, State& s, const nt::ApiCall& call) {
  if (s.kernel_values.empty() || call.args.size() < 3) return;
  for (size_t i = 0; i < 2; ++i) {
    uint64_t address = call.args[i];
    if (address < kKernelHalf || !e.from_request(address)) continue;
    bool write = i == 0;
    report_primitive(e, "primitive.arbitrary-rw", call.call_site,
                     fmt::format("{} {} {:#x} bytes {} {:#x}, a kernel address taken from the request: the caller "
                                 "{} any kernel memory it names.",
                                 *call.name, write ? "wrote" : "read", call.args[2], write ? "to" : "from", address,
                                 write ? "overwrites" : "reads"),
                     {{"routine", *call.name},
                      {"address", hex(address)},
                      {"size", hex(call.args[2])},
                      {"access", write ? "write" : "read"}});
  }
}

void kernel_access(Engine& e, State& s, GuestVa rip, GuestVa address, uint32_t size, bool write) {
  emu::Machine& m = e.kernel().machine();
  if (!e.request() || !driver_code(m, rip)) return;
  if (std::find(s.reported_sites.begin(), s.reported_sites.end(), rip.value) != s.reported_sites.end()) return;
  auto v = std::find_if(s.kernel_values.begin(), s.kernel_values.end(), [&](uint64_t value) {
    return address.value >= value && address.value - value < kWatchedSpan;
  });
  if (v == s.kernel_values.end()) return;
  s.reported_sites.push_back(rip.value);
  Values values = {{"address", hex(address.value)}, {"access", write ? "write" : "read"}};
  if (size) values.emplace_back("size", std::to_string(size));
  if (address.value != *v) values.emplace_back("caller_pointer", hex(*v));
  report_primitive(e, "primitive.arbitrary-rw", rip,
                   fmt::format("the driver {} {:#x}, {} from the request: the caller {} any kernel memory it names.",
                               write ? "wrote to" : "read from", address.value,
                               address.value == *v ? "a kernel address taken"
                                                   : fmt::format("inside the structure at {:#x}, an address taken", *v),
                               write ? "overwrites" : "reads"),
                   std::move(values));
}

}  // namespace

void on_user_access_outside_try(Engine& e, State& s, GuestVa site, GuestVa address, uint32_t size, bool write) {
  uint32_t pid = e.kernel().ob().current_pid();
  for (const auto& [key, view_size] : s.user_views) {
    if (key.first != pid || address.value < key.second || address.value >= key.second + view_size) continue;
    e.report("section.user-view-unsafe", site,
             fmt::format("the driver {} the view it mapped into the caller's process at {:#x} outside any "
                         "__try/__except: the caller can unmap the view or change its protection at any moment, "
                         "and the access violation is then an unhandled exception.",
                         write ? "wrote" : "read", key.second),
             {{"view", hex(key.second)}, {"address", hex(address.value)}, {"size", std::to_string(size)},
              {"access", write ? "write" : "read"}});
    return;
  }
}

void on_request(Engine& e, State& s, const nt::RequestStart& request) {
  s.kernel_values.clear();
  s.reported_sites.clear();
  s.chosen_processes.clear();
  s.view_calls.clear();
  // Kernel-half 8-byte values in the caller's bytes: only such a request is
  // watched, so an ordinary request pays nothing.
  const std::vector<uint8_t>& b = request.caller_bytes;
  for (size_t i = 0; i + 8 <= b.size() && s.kernel_values.size() < kMaxWatchedValues; ++i) {
    uint64_t v = 0;
    std::memcpy(&v, b.data() + i, 8);
    if (v < kKernelHalf || std::find(s.kernel_values.begin(), s.kernel_values.end(), v) != s.kernel_values.end())
      continue;
    s.kernel_values.push_back(v);
    State* state = &s;
    e.watch_request_buffer(GuestVa{v}, std::min<uint64_t>(kWatchedSpan, ~0ull - v + 1),
                           [&e, state](GuestVa address, uint32_t size, GuestVa rip, bool write) {
                             kernel_access(e, *state, rip, address, size, write);
                           });
  }
}

void on_request_end(Engine&, State& s) {
  s.kernel_values.clear();
  s.chosen_processes.clear();
}

void on_call(Engine& e, State& s, const nt::ApiCall& call) {
  if (!e.request()) return;
  const std::string& name = *call.name;
  if (name == "MmMapIoSpace" || name == "MmMapIoSpaceEx") physical_mapping(e, call);
  else if (is_map_view(name)) map_view_called(e, s, call);
  else if (name == "ZwUnmapViewOfSection" || name == "NtUnmapViewOfSection" || name == "MmUnmapViewOfSection")
    unmap_view_called(e, s, call);
  else if (name == "ZwOpenProcess") open_process(e, call);
  else if (name == "ObOpenObjectByPointer") chosen_process_opened(e, s, call);
  else if (name == "ZwTerminateProcess") terminate_with_caller_handle(e, call);
  else if (is_copy_routine(name)) copy_arguments(e, s, call);
}

void on_return(Engine& e, State& s, const nt::ApiCall& call) {
  if (!e.request()) return;
  const std::string& name = *call.name;
  if (is_map_view(name)) {
    map_view_returned(e, s, call);
  } else if (name == "PsLookupProcessByProcessId" && nt_success(static_cast<NtStatus>(call.result)) &&
             call.args.size() > 1 && e.from_request(call.args[0])) {
    if (auto process = e.kernel().memory().try_read<uint64_t>(GuestVa{call.args[1]}))
      s.chosen_processes[*process] = call.args[0];
  }
}

void on_hardware(Engine& e, State&, const emu::HardwareAccess& a) {
  if (!e.request() || !driver_code(e.kernel().machine(), a.rip)) return;
  using Kind = emu::HardwareAccess::Kind;
  if (a.kind == Kind::WriteMsr) {
    bool index = e.from_request(a.target), value = e.from_request(a.value);
    if (!index && !value) return;
    report_primitive(
        e, "primitive.msr-write", a.rip,
        fmt::format("wrmsr wrote {:#x} to MSR {:#x}, {} taken from the request: a caller who names the MSR (LSTAR, "
                    "for one) and its value takes over kernel execution.",
                    a.value, a.target,
                    index && value ? "the register and the value" : index ? "the register" : "the value"),
        {{"instruction", "wrmsr"},
         {"msr", hex(a.target)},
         {"value", hex(a.value)},
         {"caller_controlled", index && value ? "msr, value" : index ? "msr" : "value"}});
  } else if (a.kind == Kind::PortIn || a.kind == Kind::PortOut) {
    if (!port_from_request(e, a.target)) return;
    bool out = a.kind == Kind::PortOut;
    Values values = {{"instruction", out ? "out" : "in"}, {"port", hex(a.target)}, {"width", std::to_string(a.size)}};
    if (out) values.emplace_back("value", hex(a.value));
    report_primitive(e, "primitive.port-io", a.rip,
                     fmt::format("{} {} port {:#x}, a port number taken from the request: the caller reaches any "
                                 "device on the machine (disk and PCI configuration ports included).",
                                 out ? "out wrote to" : "in read from", a.size == 1 ? "byte" : a.size == 2 ? "word" : "dword",
                                 a.target),
                     std::move(values));
  }
}

void on_fault(Engine& e, State& s, GuestVa rip, GuestVa address, bool write) {
  if (s.kernel_values.empty()) return;
  kernel_access(e, s, rip, address, 0, write);
}

}  // namespace kemu::verifier::primitive_checks
