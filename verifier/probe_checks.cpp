// The user-pointer checks of checks.md (probe.*), each naming the Windows
// rule it enforces. They watch, for the client request in the driver:
// - the probes that succeeded (ProbeForRead, ProbeForWrite,
//   MmProbeAndLockPages; the request's own direct-I/O MDL is locked already),
// - every access driver code makes to user memory (kernel_events.h
//   MemoryAccess: the instruction itself; kemu's own accesses never appear)
//   and the copies kemu's memcpy-family routines make for the driver (at the
//   driver's call),
// - the user addresses the driver hands to ZwXxx routines and to IRPs it
//   sends with RequestorMode KernelMode.
// Limits: a driver that validates a pointer by comparing it with
// MmUserProbeAddress itself (no routine call) is not seen as probing; a
// double fetch is two reads of the same bytes by different runs of
// instructions (two reads inside one basic block, as an inlined copy with
// overlapping moves makes them, are one fetch).
#include <algorithm>
#include <cstring>
#include <map>
#include <unordered_map>

#include <fmt/format.h>

#include "emulator/machine.h"
#include "ntoskrnl-stubs/api/export_table.h"
#include "ntoskrnl-stubs/api/kernel_modules.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/nt_structs.h"
#include "ntoskrnl-stubs/layout/ob_structs.h"
#include "verifier/engine.h"

namespace kemu::verifier::probe_checks {

namespace {

using layout_irp = nt::layout::IRP;
using layout_stack = nt::layout::IO_STACK_LOCATION;

constexpr uint64_t kUserHalfEnd = 0x8000'0000'0000ull;  // first address above the user half
constexpr uint8_t kMjRead = 0x03, kMjWrite = 0x04, kMjDeviceControl = 0x0E,
                  kMjInternalDeviceControl = 0x0F;
constexpr uint32_t kMethodNeither = 3;
// User bytes remembered per request for the double-fetch check (64 KiB of
// distinct bytes; later reads of new bytes are not remembered).
constexpr uint64_t kMaxTrackedReadBytes = 1u << 16;

// A user-half address a driver could mean as a pointer (not NULL or a small integer).
bool plausible_user_pointer(uint64_t v) {
  return v >= layout::kLowestUserAddress && v < layout::kUserProbeAddress;
}
bool client_kernel_buffer(uint64_t v) {
  return v >= layout::kClientKernelBuffers && v < layout::kClientKernelBuffersEnd;
}

// [begin, end) ranges, merged.
class RangeSet {
 public:
  void add(uint64_t begin, uint64_t end) {
    if (begin >= end) return;
    auto it = ranges_.upper_bound(begin);
    if (it != ranges_.begin() && std::prev(it)->second >= begin) {
      --it;
      begin = it->first;
      end = std::max(end, it->second);
      it = ranges_.erase(it);
    }
    while (it != ranges_.end() && it->first <= end) {
      end = std::max(end, it->second);
      it = ranges_.erase(it);
    }
    ranges_[begin] = end;
  }
  bool covers(uint64_t begin, uint64_t end) const {
    auto it = ranges_.upper_bound(begin);
    if (it == ranges_.begin()) return false;
    --it;
    return it->first <= begin && end <= it->second;
  }
  void clear() { ranges_.clear(); }

 private:
  std::map<uint64_t, uint64_t> ranges_;
};

// A buffer of the request the caller passed as a raw pointer (METHOD_NEITHER,
// neither-I/O reads and writes).
struct RawBuffer {
  uint64_t begin = 0, end = 0;
  const char* name = "";
};

struct ByteRead {
  GuestVa rip;
  uint64_t block = 0;
};

// One access to check: by an instruction, or by a routine for the driver.
struct Access {
  GuestVa site;  // the instruction, or the driver's call of the routine
  uint64_t address = 0;
  uint64_t size = 0;
  bool write = false;
  uint64_t block = 0;         // accesses with the same value were one straight run
  emu::RegisterContext regs;  // where an exception raised by the access would start
  std::string routine;        // the copy routine, for routine accesses
};

}  // namespace

struct State {
  // The client request in the driver (UserMode requests only).
  bool active = false;
  uint32_t pid = 0;
  RangeSet probed;                 // successful probes and locks of this request
  std::vector<RawBuffer> raw;      // the request's own raw pointers
  std::vector<uint64_t> embedded;  // user-half pointer values found in the caller's bytes
  std::unordered_map<uint64_t, ByteRead> reads;  // user bytes read in this request
  uint64_t routine_blocks = 0;                   // a fresh "block" for each routine copy
  // User memory the driver allocated or mapped itself, per process (kept
  // across requests): its addresses did not come from the caller.
  std::map<uint32_t, RangeSet> driver_user_memory;
  // IRPs built by IoBuild* already reported at the build.
  std::vector<uint64_t> reported_irps;
  std::optional<GuestVa> c_specific_handler;
};

std::shared_ptr<State> make_state() {
  return std::make_shared<State>();
}

namespace {

// Code of the driver (not kemu's thunks and kernel images).
bool driver_code(emu::Machine& m, GuestVa rip) {
  const emu::Module* mod = m.module_at(rip);
  if (!mod) return false;
  return mod->name != "ntoskrnl.exe" && mod->name != "hal.dll" && mod->name != "unknown-imports";
}

// Where a `jmp qword ptr [rip+disp32]` import stub goes (two hops at most).
GuestVa follow_import_stub(const emu::AddressSpace& mem, GuestVa at) {
  for (int hop = 0; hop < 2; ++hop) {
    auto op = mem.try_read<uint16_t>(at);
    auto disp = mem.try_read<int32_t>(at + 2);
    if (!op || !disp || *op != 0x25FF) break;
    auto target = mem.try_read<uint64_t>(GuestVa{at.value + 6 + static_cast<int64_t>(*disp)});
    if (!target) break;
    at = GuestVa{*target};
  }
  return at;
}

// A SCOPE_TABLE entry of __C_specific_handler (RVAs).
struct ScopeRecord {
  uint32_t begin, end, handler, jump_target;
};

// Whether an exception raised with `regs` would meet a __try/__except scope
// of __C_specific_handler covering its frame's PC (a __finally catches nothing).
// (Not cached: the same instruction at the same stack depth can be reached
// through callers with and without a __try.)
bool inside_except_scope(Engine& e, State& s, const emu::RegisterContext& regs) {
  nt::Kernel& k = e.kernel();
  emu::Machine& m = k.machine();
  const auto& mem = k.memory();
  if (!s.c_specific_handler)
    s.c_specific_handler = k.modules().routine_address("__C_specific_handler").value_or(GuestVa{});
  bool covered = false;
  for (const emu::HandlerFrame& f : m.handler_frames(regs)) {
    if (follow_import_stub(mem, f.handler) != *s.c_specific_handler || !f.handler_data) continue;
    auto count = mem.try_read<uint32_t>(f.handler_data);
    if (!count || *count > 4096) continue;
    uint64_t pc = f.control_pc - f.image_base;
    for (uint32_t i = 0; i < *count && !covered; ++i) {
      auto r = mem.try_read<ScopeRecord>(f.handler_data + 4 + 16ull * i);
      if (r && pc >= r->begin && pc < r->end && r->jump_target != 0) covered = true;
    }
    if (covered) break;
  }
  return covered;
}

const RawBuffer* raw_buffer_at(const State& s, uint64_t address) {
  for (const RawBuffer& b : s.raw)
    if (address >= b.begin && address < b.end) return &b;
  return nullptr;
}

// The pointer from the caller's bytes that `address` lies behind: a value V
// with V <= address inside the client memory region V points into.
std::optional<uint64_t> embedded_pointer_for(Engine& e, const State& s, uint64_t address) {
  for (uint64_t v : s.embedded) {
    if (address < v) continue;
    const emu::Region* r = e.kernel().memory().find(GuestVa{v});
    uint64_t end = r ? r->end().value : v + kPageSize;
    if (address < end) return v;
  }
  return std::nullopt;
}

std::string where(Engine& e, GuestVa va) {
  auto s = e.kernel().machine().symbolize(va);
  return s ? s->text() : va.hex();
}

void check_access(Engine& e, State& s, const Access& a) {
  const uint64_t end = a.address + a.size;
  const char* verb = a.write ? "wrote" : "read";
  std::string by = a.routine.empty() ? "" : fmt::format(" (through {})", a.routine);
  std::vector<std::pair<std::string, std::string>> values = {
      {"address", hex(a.address)},
      {"size", std::to_string(a.size)},
      {"access", a.write ? "write" : "read"}};
  if (!a.routine.empty()) values.emplace_back("routine", a.routine);

  // A kernel address the caller supplied where a user pointer belongs: kemu's
  // kernel-placed client buffers exist only because the request named them.
  if (client_kernel_buffer(a.address)) {
    const RawBuffer* raw = raw_buffer_at(s, a.address);
    e.report(
        "probe.kernel-address-accepted", a.site,
        fmt::format(
            "the driver {} {} byte(s) at {:#x}{}, a kernel address the caller supplied as {}: "
            "without ProbeForRead/ProbeForWrite a caller can make the driver read or write any "
            "kernel memory.",
            verb, a.size, a.address, by, raw ? raw->name : "a pointer in its request"),
        values);
    return;
  }
  if (a.address >= kUserHalfEnd) return;

  const RawBuffer* raw = raw_buffer_at(s, a.address);
  bool driver_made = s.driver_user_memory[s.pid].covers(a.address, end);
  // Every user address the caller could have chosen must be probed first in
  // this request (MmProbeAndLockPages'd pages, the request's own direct-I/O
  // MDL included).
  if (!driver_made && !s.probed.covers(a.address, end)) {
    std::string what = raw ? fmt::format("the caller's {}", raw->name) : "a user address";
    e.report("probe.missing", a.site,
             fmt::format(
                 "the driver {} {} byte(s) at {:#x}{}, {} that no ProbeForRead/ProbeForWrite/"
                 "MmProbeAndLockPages of this request covers: the caller chooses the address, and "
                 "an unprobed one may point into the kernel.",
                 verb, a.size, a.address, by, what),
             values);
    if (!raw) {
      if (auto v = embedded_pointer_for(e, s, a.address)) {
        auto v_values = values;
        v_values.emplace_back("pointer", hex(*v));
        e.report(
            "probe.embedded-pointer", a.site,
            fmt::format(
                "the driver {} {} byte(s) at {:#x}{}, behind the pointer {:#x} it took from the "
                "request's input buffer, without probing it: the I/O manager checks only the "
                "buffer "
                "itself, never the pointers inside it.",
                verb, a.size, a.address, by, *v),
            v_values);
      }
    }
  }

  // User memory can be freed or protected by the caller at any moment: every
  // access belongs inside __try/__except.
  if (!inside_except_scope(e, s, a.regs)) {
    e.report(
        "probe.outside-try", a.site,
        fmt::format(
            "the driver {} user memory at {:#x}{} outside any __try/__except: if the caller frees "
            "or protects the page, the access violation is an unhandled exception (bug check "
            "0x3B).",
            verb, a.address, by),
        values);
    e.user_access_outside_try(a.site, GuestVa{a.address}, static_cast<uint32_t>(a.size), a.write);
  }

  // A second read of bytes already read in this request sees what the caller
  // changed in between: check one value, use another.
  uint64_t tracked = std::min<uint64_t>(a.size, kMaxTrackedReadBytes);
  if (a.write) {
    for (uint64_t i = 0; i < tracked; ++i) s.reads.erase(a.address + i);
    return;
  }
  const ByteRead* first = nullptr;
  for (uint64_t i = 0; i < tracked && !first; ++i) {
    auto it = s.reads.find(a.address + i);
    if (it != s.reads.end() && it->second.block != a.block) first = &it->second;
  }
  if (first) {
    auto df = values;
    df.emplace_back("first_read", where(e, first->rip));
    e.report(
        "probe.double-fetch", a.site,
        fmt::format(
            "the driver read user memory at {:#x}{} that it had already read in this request (at "
            "{}): the caller can change it in between, so a value checked once is not the value "
            "used. Copy it to kernel memory once.",
            a.address, by, where(e, first->rip)),
        df);
  }
  if (s.reads.size() + tracked <= kMaxTrackedReadBytes)
    for (uint64_t i = 0; i < tracked; ++i)
      s.reads.try_emplace(a.address + i, ByteRead{a.site, a.block});
}

// --- the copy routines: the driver's accesses made by kemu for it -----------

struct CopyRoutine {
  const char* name;
  int dst, src, length;  // argument indexes, -1 when absent
  bool compare;          // reads at least the first byte of each (stops at a difference)
};
constexpr CopyRoutine kCopyRoutines[] = {
    {"memcpy", 0, 1, 2, false},           {"memmove", 0, 1, 2, false},
    {"RtlCopyMemory", 0, 1, 2, false},    {"RtlMoveMemory", 0, 1, 2, false},
    {"memset", 0, -1, 2, false},          {"RtlZeroMemory", 0, -1, 1, false},
    {"RtlFillMemory", 0, -1, 1, false},   {"memcmp", -1, 0, 2, true},
    {"RtlCompareMemory", -1, 0, 2, true},
};

void copy_routine_accesses(Engine& e, State& s, const nt::ApiCall& call) {
  const std::string& name = *call.name;
  const CopyRoutine* r = nullptr;
  for (const CopyRoutine& c : kCopyRoutines)
    if (name == c.name) r = &c;
  bool memcpy_s = name == "memcpy_s" || name == "memmove_s";  // (dest, destsz, src, count)
  if (!r && !memcpy_s) return;
  emu::Machine& m = e.kernel().machine();
  Access a;
  a.site = call.call_site;
  a.routine = name;
  a.block = (1ull << 63) | ++s.routine_blocks;
  // An access violation in the routine is raised from its frame, a leaf below the driver's call.
  a.regs = m.cpu().save();
  a.regs.rip -= 2;
  auto arg = [&](int i) {
    return i >= 0 && static_cast<size_t>(i) < call.args.size() ? call.args[i] : 0;
  };
  std::vector<std::pair<uint64_t, bool>> ranges;  // address, write
  uint64_t length = 0;
  if (memcpy_s) {
    length = arg(3);
    if (length > arg(1)) return;  // refused without copying
    ranges = {{arg(2), false}, {arg(0), true}};
  } else {
    length = arg(r->length);
    if (r->compare) {
      length = std::min<uint64_t>(length, 1);
      ranges = {{arg(r->src), false}, {arg(r->src + 1), false}};
    } else {
      if (r->src >= 0) ranges.push_back({arg(r->src), false});
      ranges.push_back({arg(r->dst), true});
    }
  }
  if (length == 0) return;
  for (auto [address, write] : ranges) {
    if (address >= kUserHalfEnd && !client_kernel_buffer(address)) continue;
    a.address = address;
    a.size = length;
    a.write = write;
    check_access(e, s, a);
  }
}

// --- ZwXxx arguments ------------------------------------------------------------

// The parameter's type and name from the prototype ("PVOID Buffer").
std::pair<std::string, std::string> parameter(const nt::ApiCall& call, size_t i) {
  if (!call.desc || i >= call.desc->parameters.size()) return {};
  const std::string& p = call.desc->parameters[i];
  auto last = p.find_last_of(" *");
  if (last == std::string::npos) return {p, ""};
  std::string type = p.substr(0, last + 1);
  while (!type.empty() && type.back() == ' ') type.pop_back();
  return {type, p.substr(last + 1)};
}

// A parameter the routine dereferences as a buffer or structure. Opaque
// values typed PVOID (APC and timer contexts, audit ids) and an address in a
// process (BaseAddress of ZwQueryVirtualMemory, ZwUnmapViewOfSection, ...)
// are not read through.
bool pointer_parameter(const std::string& type, const std::string& name) {
  if (name == "ApcContext" || name == "TimerContext" || name == "HandleId" ||
      name == "EnlistmentKey" || name == "KeyContext" || (type == "PVOID" && name == "BaseAddress"))
    return false;
  if (type.find('*') != std::string::npos) return true;
  if (type == "PROCESSINFOCLASS" || type.starts_with("POWER_") || type.ends_with("_ROUTINE"))
    return false;
  return type.starts_with("P") || type.starts_with("LP");
}

// What is wrong with a UNICODE_STRING the driver passes, or "".
std::string bad_unicode_string(nt::Kernel& k, uint64_t at) {
  auto us = k.memory().try_read<nt::layout::UNICODE_STRING>(GuestVa{at});
  if (!us) return "";
  if (us->Length > us->MaximumLength)
    return fmt::format("a UNICODE_STRING whose Length {} exceeds its MaximumLength {}", us->Length,
                       us->MaximumLength);
  if (us->Length % 2 || us->MaximumLength % 2)
    return fmt::format("a UNICODE_STRING with an odd byte count (Length {}, MaximumLength {})",
                       us->Length, us->MaximumLength);
  if (!us->Buffer && us->Length)
    return fmt::format("a UNICODE_STRING with a NULL Buffer and Length {}", us->Length);
  if (us->Buffer && us->Buffer < kUserHalfEnd)
    return fmt::format("a UNICODE_STRING whose Buffer {:#x} is a user address", us->Buffer);
  return "";
}

void zw_arguments(Engine& e, State& s, const nt::ApiCall& call) {
  const nt::RequestStart* rq = e.request();
  if (!rq || rq->requestor != ProcessorMode::UserMode || !call.desc) return;
  nt::Kernel& k = e.kernel();
  // User memory the driver allocated or mapped itself is not the caller's choice.
  auto caller_chosen = [&](uint64_t v) { return !s.driver_user_memory[s.pid].covers(v, v + 1); };
  auto report = [&](const std::string& param, std::string problem, uint64_t value) {
    e.report(
        "probe.user-pointer-to-zw", call.call_site,
        fmt::format(
            "{} got {} in {}: a ZwXxx routine runs with PreviousMode KernelMode and trusts its "
            "arguments, so it neither probes nor validates them (Driver Verifier bug check 0xC4/"
            "0xE3, 0xE4). Capture the caller's data into kernel memory first.",
            *call.name, problem, param),
        {{"routine", *call.name}, {"parameter", param}, {"value", hex(value)}});
  };
  for (size_t i = 0; i < call.args.size(); ++i) {
    auto [type, name] = parameter(call, i);
    uint64_t v = call.args[i];
    if (!pointer_parameter(type, name) || !v) continue;
    if (plausible_user_pointer(v)) {
      if (caller_chosen(v)) report(name, fmt::format("the user address {:#x}", v), v);
      continue;
    }
    if (v < kUserHalfEnd) continue;
    if (type == "PUNICODE_STRING" || type == "PCUNICODE_STRING") {
      std::string bad = bad_unicode_string(k, v);
      if (!bad.empty()) report(name, bad, v);
    } else if (type == "POBJECT_ATTRIBUTES") {
      auto oa = k.memory().try_read<nt::layout::OBJECT_ATTRIBUTES>(GuestVa{v});
      if (!oa) continue;
      if (plausible_user_pointer(oa->ObjectName)) {
        report(name + "->ObjectName", fmt::format("the user address {:#x}", oa->ObjectName),
               oa->ObjectName);
      } else if (oa->ObjectName >= kUserHalfEnd) {
        std::string bad = bad_unicode_string(k, oa->ObjectName);
        if (!bad.empty()) report(name + "->ObjectName", bad, oa->ObjectName);
      }
      if (plausible_user_pointer(oa->SecurityDescriptor))
        report(name + "->SecurityDescriptor",
               fmt::format("the user address {:#x}", oa->SecurityDescriptor),
               oa->SecurityDescriptor);
    }
  }
}

// --- IRPs the driver builds ----------------------------------------------------

bool io_build_routine(const std::string& name) {
  return name == "IoBuildDeviceIoControlRequest" || name == "IoBuildSynchronousFsdRequest" ||
         name == "IoBuildAsynchronousFsdRequest";
}

// IoBuild* with a user buffer: the IRP it builds has RequestorMode KernelMode.
void io_build_user_buffers(Engine& e, State& s, const nt::ApiCall& call) {
  const std::string& name = *call.name;
  std::vector<std::pair<std::string, uint64_t>> buffers;
  auto arg = [&](size_t i) { return i < call.args.size() ? call.args[i] : 0; };
  if (name == "IoBuildDeviceIoControlRequest") {
    buffers = {{"InputBuffer", arg(2)}, {"OutputBuffer", arg(4)}};
  } else {
    buffers = {{"Buffer", arg(2)}};
  }
  for (auto& [param, v] : buffers) {
    if (!plausible_user_pointer(v)) continue;
    if (call.result) s.reported_irps.push_back(call.result);
    e.report(
        "probe.kernel-irp-user-buffer", call.call_site,
        fmt::format(
            "{} built an IRP with RequestorMode KernelMode over the user address {:#x} ({}): the "
            "driver below trusts a KernelMode request's buffers and will not probe them (Driver "
            "Verifier bug check 0xC4/0xE2).",
            name, v, param),
        {{"routine", name}, {"parameter", param}, {"address", hex(v)}});
    return;
  }
}

// IoCallDriver with a KernelMode IRP whose buffers are user addresses.
void call_driver_irp(Engine& e, State& s, const nt::ApiCall& call) {
  if (call.args.size() < 2 || !call.args[1]) return;
  uint64_t irp_va = call.args[1];
  if (auto it = std::find(s.reported_irps.begin(), s.reported_irps.end(), irp_va);
      it != s.reported_irps.end()) {
    s.reported_irps.erase(it);  // reported where it was built
    return;
  }
  auto& mem = e.kernel().memory();
  auto irp = mem.try_read<layout_irp>(GuestVa{irp_va});
  if (!irp || irp->RequestorMode != 0) return;
  std::vector<std::pair<std::string, uint64_t>> fields = {
      {"Irp->UserBuffer", irp->UserBuffer},
      {"Irp->AssociatedIrp.SystemBuffer", irp->AssociatedIrp}};
  if (irp->MdlAddress) {
    if (auto mdl = mem.try_read<nt::layout::MDL>(GuestVa{irp->MdlAddress}))
      fields.emplace_back("Irp->MdlAddress (its buffer)", mdl->StartVa + mdl->ByteOffset);
  }
  // The location IoCallDriver makes current: the one below the current.
  if (auto next =
          mem.try_read<layout_stack>(GuestVa{irp->CurrentStackLocation - sizeof(layout_stack)})) {
    if ((next->MajorFunction == kMjDeviceControl ||
         next->MajorFunction == kMjInternalDeviceControl) &&
        (next->IoControlCode & 3) == kMethodNeither)
      fields.emplace_back("Parameters.DeviceIoControl.Type3InputBuffer", next->Type3InputBuffer);
  }
  for (auto& [field, v] : fields) {
    if (!plausible_user_pointer(v)) continue;
    e.report(
        "probe.kernel-irp-user-buffer", call.call_site,
        fmt::format(
            "{} sent an IRP with RequestorMode KernelMode whose {} is the user address {:#x}: the "
            "driver below trusts a KernelMode request's buffers and will not probe them (Driver "
            "Verifier bug check 0xC4/0xE2).",
            *call.name, field, v),
        {{"irp", hex(irp_va)}, {"field", field}, {"address", hex(v)}});
    return;
  }
}

// --- probes and driver-made user memory ------------------------------------------

void add_mdl_range(nt::Kernel& k, RangeSet& set, uint64_t mdl_va) {
  auto mdl = k.memory().try_read<nt::layout::MDL>(GuestVa{mdl_va});
  if (!mdl) return;
  uint64_t begin = mdl->StartVa + mdl->ByteOffset;
  if (begin < kUserHalfEnd) set.add(begin, begin + mdl->ByteCount);
}

}  // namespace

void on_request(Engine& e, State& s, const nt::RequestStart& rq) {
  nt::Kernel& k = e.kernel();
  auto& mem = k.memory();
  s.active = rq.requestor == ProcessorMode::UserMode;
  s.pid = rq.pid;
  s.probed.clear();
  s.raw.clear();
  s.embedded.clear();
  s.reads.clear();
  if (!s.active) return;
  auto irp = mem.try_read<layout_irp>(rq.irp);
  if (!irp) return;
  // The request's direct-I/O buffer: probed and locked by the I/O manager.
  if (irp->MdlAddress) add_mdl_range(k, s.probed, irp->MdlAddress);
  // The dispatch routine's stack location (IofCallDriver has not moved to it yet).
  auto sl = mem.try_read<layout_stack>(GuestVa{irp->CurrentStackLocation - sizeof(layout_stack)});
  if (sl && (rq.major == kMjDeviceControl || rq.major == kMjInternalDeviceControl) &&
      (rq.ioctl & 3) == kMethodNeither) {
    if (sl->Type3InputBuffer)
      s.raw.push_back({sl->Type3InputBuffer,
                       sl->Type3InputBuffer + std::max<uint64_t>(sl->InputBufferLength, 1),
                       "Type3InputBuffer"});
    if (irp->UserBuffer)
      s.raw.push_back({irp->UserBuffer,
                       irp->UserBuffer + std::max<uint64_t>(sl->OutputBufferLength, 1),
                       "Irp->UserBuffer"});
  } else if (sl && (rq.major == kMjRead || rq.major == kMjWrite) && !irp->AssociatedIrp &&
             !irp->MdlAddress && irp->UserBuffer) {
    // Neither buffered nor direct: the caller's raw buffer.
    s.raw.push_back({irp->UserBuffer,
                     irp->UserBuffer + std::max<uint64_t>(sl->OutputBufferLength, 1),
                     "Irp->UserBuffer"});
  }
  // Pointer-sized values of the caller's bytes that point into the user half.
  const std::vector<uint8_t>& bytes = rq.caller_bytes;
  for (size_t i = 0; i + 8 <= bytes.size() && s.embedded.size() < 4096; ++i) {
    uint64_t v;
    std::memcpy(&v, bytes.data() + i, 8);
    if (plausible_user_pointer(v) &&
        std::find(s.embedded.begin(), s.embedded.end(), v) == s.embedded.end())
      s.embedded.push_back(v);
  }
}

void on_request_end(Engine& e, State& s) {
  s.active = false;
  s.probed.clear();
  s.raw.clear();
  s.embedded.clear();
  s.reads.clear();
}

namespace {

// A probe raises on a bad pointer: it belongs inside __try as much as the
// accesses it guards (semantics.md §4).
void probe_routine_outside_try(Engine& e, State& s, const nt::ApiCall& call) {
  const std::string& name = *call.name;
  auto arg = [&](size_t i) { return i < call.args.size() ? call.args[i] : 0; };
  if (name == "ProbeForRead" || name == "ProbeForWrite") {
    if (arg(1) == 0) return;  // a zero length checks nothing and never raises
  } else if (name == "MmProbeAndLockPages") {
    // Locking the caller's pages (not the driver's own pool).
    auto mdl = e.kernel().memory().try_read<nt::layout::MDL>(GuestVa{arg(0)});
    if (!mdl || mdl->StartVa >= kUserHalfEnd) return;
  } else {
    return;
  }
  emu::RegisterContext regs = e.kernel().machine().cpu().save();
  regs.rip -= 2;  // raised from the routine's frame, a leaf below the driver's call
  if (inside_except_scope(e, s, regs)) return;
  e.report(
      "probe.outside-try", call.call_site,
      fmt::format("{} was called outside any __try/__except: it raises STATUS_ACCESS_VIOLATION (or "
                  "STATUS_DATATYPE_MISALIGNMENT) for a bad pointer, and with no handler that is an "
                  "unhandled exception (bug check 0x3B).",
                  name),
      {{"routine", name}, {"address", hex(arg(0))}});
}

}  // namespace

void on_call(Engine& e, State& s, const nt::ApiCall& call) {
  const std::string& name = *call.name;
  if (s.active) probe_routine_outside_try(e, s, call);
  if (name.starts_with("Zw")) zw_arguments(e, s, call);
  if (name == "IofCallDriver" || name == "IoCallDriver") call_driver_irp(e, s, call);
  if (s.active) copy_routine_accesses(e, s, call);
}

void on_return(Engine& e, State& s, const nt::ApiCall& call) {
  const std::string& name = *call.name;
  nt::Kernel& k = e.kernel();
  auto arg = [&](size_t i) { return i < call.args.size() ? call.args[i] : 0; };
  if (io_build_routine(name)) io_build_user_buffers(e, s, call);
  if (call.raised) return;
  // A probe that returned without raising validated its range for this request.
  if (s.active && (name == "ProbeForRead" || name == "ProbeForWrite")) {
    if (arg(0) < kUserHalfEnd && arg(1)) s.probed.add(arg(0), arg(0) + arg(1));
  } else if (s.active && name == "MmProbeAndLockPages") {
    add_mdl_range(k, s.probed, arg(0));
  }
  // User memory the driver allocated or mapped itself.
  uint32_t pid = k.machine().current_thread().space_process_id;
  auto& mem = k.memory();
  bool ok = static_cast<int32_t>(call.result) >= 0;
  if ((name == "ZwAllocateVirtualMemory" || name == "NtAllocateVirtualMemory") && ok) {
    auto base = mem.try_read<uint64_t>(GuestVa{arg(1)});
    auto size = mem.try_read<uint64_t>(GuestVa{arg(3)});
    if (base && size && *base < kUserHalfEnd) s.driver_user_memory[pid].add(*base, *base + *size);
  } else if ((name == "ZwMapViewOfSection" || name == "NtMapViewOfSection") && ok) {
    auto base = mem.try_read<uint64_t>(GuestVa{arg(2)});
    auto size = mem.try_read<uint64_t>(GuestVa{arg(6)});
    if (base && size && *base < kUserHalfEnd) s.driver_user_memory[pid].add(*base, *base + *size);
  } else if ((name == "MmMapLockedPagesSpecifyCache" || name == "MmMapLockedPages") &&
             call.result && call.result < kUserHalfEnd) {
    if (auto mdl = mem.try_read<nt::layout::MDL>(GuestVa{arg(0)}))
      s.driver_user_memory[pid].add(call.result, call.result + mdl->ByteCount);
  }
}

void on_access(Engine& e, State& s, const nt::MemoryAccess& access) {
  if (!s.active) return;
  emu::Machine& m = e.kernel().machine();
  if (!driver_code(m, access.rip)) return;
  // The first 64 KiB are never user memory (MM_LOWEST_USER_ADDRESS): an
  // access there is a NULL-pointer dereference (a NULL MDL's MdlFlags, a
  // NULL structure's field), not a use of a caller's pointer.
  if (access.address.value < 0x10000) return;
  Access a;
  a.site = access.rip;
  a.address = access.address.value;
  a.size = access.size;
  a.write = access.write;
  a.block = m.block_serial();
  a.regs = m.cpu().save();
  check_access(e, s, a);
}

}  // namespace kemu::verifier::probe_checks
