// The IRQL checks of checks.md: irql.api-level (a kernel routine called above
// the IRQL its documentation allows, verifier/irql_table.h), irql.unbalanced
// (a dispatch, completion, DPC or work routine returning with a spin lock it
// took still held, or at another IRQL than it was called at) and
// irql.paged-at-dispatch (pageable code run, or paged pool touched, at
// DISPATCH_LEVEL or above). kemu keeps every page resident, so the page
// fault that makes Windows bugcheck 0xD1/0xA when the page happens to be out
// is never taken: the finding is the only trace, and the run goes on.
#include <algorithm>
#include <cstring>
#include <unordered_map>

#include <fmt/format.h>

#include "emulator/machine.h"
#include "emulator/pool.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/nt_structs.h"
#include "verifier/engine.h"
#include "verifier/irql_table.h"

namespace kemu::verifier::irql_checks {

namespace {

using irql_table::level_name;
using irql_table::Limit;
using irql_table::Rule;

constexpr uint64_t kPoolFlagPaged = 0x100;  // POOL_FLAG_PAGED
constexpr uint32_t kScnMemExecute = 0x20000000, kScnCntCode = 0x20;

// What a routine does to the spin locks the driver holds.
enum class LockOp : uint8_t {
  None,
  Acquire,        // the lock is argument 0
  TryAcquire,     // argument 0, held when the routine returns TRUE
  AcquireQueued,  // the lock is argument 0, its KLOCK_QUEUE_HANDLE argument 1
  Release,        // argument 0
  ReleaseQueued,  // the KLOCK_QUEUE_HANDLE is argument 0
  AcquireCancel,  // the system-wide cancel spin lock
  ReleaseCancel,
};

LockOp lock_op(std::string_view name) {
  static const std::unordered_map<std::string_view, LockOp> kOps = {
      {"KeAcquireSpinLockRaiseToDpc", LockOp::Acquire},
      {"KeAcquireSpinLockRaiseToSynch", LockOp::Acquire},
      {"KeAcquireSpinLockAtDpcLevel", LockOp::Acquire},
      {"KeAcquireSpinLockForDpc", LockOp::Acquire},
      {"KeTryToAcquireSpinLockAtDpcLevel", LockOp::TryAcquire},
      {"KeAcquireInStackQueuedSpinLock", LockOp::AcquireQueued},
      {"KeAcquireInStackQueuedSpinLockRaiseToSynch", LockOp::AcquireQueued},
      {"KeAcquireInStackQueuedSpinLockAtDpcLevel", LockOp::AcquireQueued},
      {"KeAcquireInStackQueuedSpinLockForDpc", LockOp::AcquireQueued},
      {"KeReleaseSpinLock", LockOp::Release},
      {"KeReleaseSpinLockFromDpcLevel", LockOp::Release},
      {"KeReleaseSpinLockForDpc", LockOp::Release},
      {"KeReleaseInStackQueuedSpinLock", LockOp::ReleaseQueued},
      {"KeReleaseInStackQueuedSpinLockFromDpcLevel", LockOp::ReleaseQueued},
      {"KeReleaseInStackQueuedSpinLockForDpc", LockOp::ReleaseQueued},
      {"IoAcquireCancelSpinLock", LockOp::AcquireCancel},
      {"IoReleaseCancelSpinLock", LockOp::ReleaseCancel},
  };
  auto it = kOps.find(name);
  return it == kOps.end() ? LockOp::None : it->second;
}

// The cancel spin lock has no address a driver sees: one key stands for it.
constexpr uint64_t kCancelLockKey = 1;

const char* kind_name(nt::CallbackKind kind) {
  switch (kind) {
    case nt::CallbackKind::Dispatch: return "dispatch routine";
    case nt::CallbackKind::Completion: return "IoCompletion routine";
    case nt::CallbackKind::Dpc: return "DPC routine";
    case nt::CallbackKind::WorkItem: return "work item routine";
  }
  return "routine";
}

std::string irql_text(uint8_t irql) {
  return fmt::format("{} ({})", level_name(irql), irql);
}

}  // namespace

struct State {
  // Per routine (keyed by the ApiCall's stable name pointer): its limit and
  // what it does to spin locks, looked up once.
  struct RoutineInfo {
    const Limit* limit = nullptr;
    LockOp op = LockOp::None;
    bool allocates_pool = false;  // ExAllocatePool* (argument 0: its pool type or flags)
    bool copies = false;          // a memcpy-family routine run as host code
  };
  std::unordered_map<const std::string*, RoutineInfo> routines;

  // A driver routine kemu called and that has not returned yet.
  struct Frame {
    nt::DriverCallback callback;
    bool driver = false;  // the routine is driver code (not one of kemu's own)
    GuestVa raise_site;   // the driver's call that first left the entry IRQL
    std::string raise_routine;
  };
  std::vector<Frame> frames;

  struct HeldLock {
    uint64_t lock = 0;
    uint64_t handle = 0;  // the in-stack queue handle
    GuestVa site;         // the driver's acquiring call
    std::string routine;
    int frame = -1;       // the frame that took it (-1: outside any, or already reported)
  };
  std::vector<HeldLock> held;

  // Pageable sections of the driver images and the watches over them.
  size_t modules_scanned = 0;
  std::vector<uint64_t> watches;
  bool paged_pool_watched = false;
};

std::shared_ptr<State> make_state() { return std::make_shared<State>(); }

namespace {

bool driver_module(const emu::Module& m) {
  return m.name != "ntoskrnl.exe" && m.name != "hal.dll" && m.name != "unknown-imports";
}

bool driver_code(Engine& e, GuestVa va) {
  for (const emu::Module& m : e.kernel().machine().modules())
    if (m.contains(va)) return driver_module(m);
  return false;
}

const State::RoutineInfo& info_of(State& s, const nt::ApiCall& call) {
  auto [it, inserted] = s.routines.try_emplace(call.name);
  if (inserted) {
    it->second.limit = irql_table::find(*call.name);
    it->second.op = lock_op(*call.name);
    const std::string& n = *call.name;
    it->second.allocates_pool = n == "ExAllocatePool2" || n == "ExAllocatePool" || n == "ExAllocatePoolWithTag" ||
                                n == "ExAllocatePoolWithQuotaTag" || n == "ExAllocatePoolWithTagPriority";
    it->second.copies = is_copy_routine(n) || n == "memset" || n == "RtlFillMemory" || n == "RtlZeroMemory" ||
                        n == "memcmp" || n == "RtlCompareMemory";
  }
  return it->second;
}

// Whether a DbgPrint format converts Unicode text (%C, %S, %lc, %ls, %wc,
// %ws, %wZ): the conversion may touch pageable code, so PASSIVE_LEVEL only.
bool unicode_conversion(std::string_view format) {
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') continue;
    size_t j = i + 1;
    if (j < format.size() && format[j] == '%') {
      i = j;
      continue;
    }
    while (j < format.size() && std::strchr("-+ #0123456789.*", format[j])) ++j;
    if (j >= format.size()) break;
    char c = format[j];
    if (c == 'S' || c == 'C') return true;
    if ((c == 'l' || c == 'w') && j + 1 < format.size()) {
      char n = format[j + 1];
      if (n == 's' || n == 'c' || (c == 'w' && n == 'Z')) return true;
    }
    i = j;
  }
  return false;
}

// The highest IRQL `call` may be made at, with its argument rules applied.
uint8_t max_irql(Engine& e, const Limit& limit, const nt::ApiCall& call) {
  auto arg = [&](size_t i) { return i < call.args.size() ? call.args[i] : 0; };
  const emu::AddressSpace& mem = e.kernel().memory();
  emu::Pool& pool = e.kernel().machine().pool();
  switch (limit.rule) {
    case Rule::Fixed: return limit.max_irql;
    case Rule::PoolTypeArg0:
      return (arg(0) & emu::pool_type::kBaseTypeMask) ? irql_table::kApc : irql_table::kDispatch;
    case Rule::PoolFlagsArg0: return (arg(0) & kPoolFlagPaged) ? irql_table::kApc : irql_table::kDispatch;
    case Rule::FreedBlockArg0: {
      const emu::PoolBlock* b = pool.block_at(GuestVa{arg(0)});
      return b && b->paged() ? irql_table::kApc : irql_table::kDispatch;
    }
    case Rule::WaitTimeoutArg4:
    case Rule::WaitTimeoutArg6: {
      uint64_t timeout = arg(limit.rule == Rule::WaitTimeoutArg4 ? 4 : 6);
      auto value = timeout ? mem.try_read<int64_t>(GuestVa{timeout}) : std::nullopt;
      return value && *value == 0 ? irql_table::kDispatch : irql_table::kApc;
    }
    case Rule::SetEventWaitArg2: return (arg(2) & 0xFF) ? irql_table::kApc : irql_table::kDispatch;
    case Rule::AccessModeArg1: return (arg(1) & 0xFF) ? irql_table::kApc : irql_table::kDispatch;
    case Rule::UserMappingArg0: return is_user_address(GuestVa{arg(0)}) ? irql_table::kApc : irql_table::kDispatch;
    case Rule::FormatArg0:
    case Rule::FormatArg2:
    case Rule::FormatArg3: {
      size_t index = limit.rule == Rule::FormatArg0 ? 0 : limit.rule == Rule::FormatArg2 ? 2 : 3;
      if (!arg(index)) return limit.max_irql;
      std::string format;
      for (uint64_t i = 0; i < 1024; ++i) {
        auto c = mem.try_read<char>(GuestVa{arg(index)} + i);
        if (!c || *c == 0) break;
        format.push_back(*c);
      }
      return unicode_conversion(format) ? irql_table::kPassive : limit.max_irql;
    }
    case Rule::ProbedRangeArg0: {
      auto start = mem.try_read<uint64_t>(GuestVa{arg(0)} + offsetof(nt::layout::MDL, StartVa));
      bool pageable = start && (is_user_address(GuestVa{*start}) || pool.is_paged_address(GuestVa{*start}));
      return pageable ? irql_table::kApc : irql_table::kDispatch;
    }
  }
  return limit.max_irql;
}

int innermost_driver_frame(const State& s) {
  for (int i = static_cast<int>(s.frames.size()) - 1; i >= 0; --i)
    if (s.frames[i].driver) return i;
  return -1;
}

void report_paged(Engine& e, GuestVa rip, GuestVa address, bool code) {
  uint8_t irql = e.kernel().machine().irql();
  if (code) {
    e.report("irql.paged-at-dispatch", rip,
             fmt::format("pageable code (a PAGE section) runs at {}: Windows may have paged it out, and a page "
                         "fault at DISPATCH_LEVEL or above is bugcheck 0xD1 (kemu keeps it resident, so this "
                         "run goes on).",
                         level_name(irql)),
             {{"address", rip.hex()}, {"irql", irql_text(irql)}});
    return;
  }
  e.report("irql.paged-at-dispatch", rip,
           fmt::format("pageable memory at {} is touched at {}: Windows may have paged it out, and a page fault "
                       "at DISPATCH_LEVEL or above is bugcheck 0xD1 (kemu keeps it resident, so this run goes on).",
                       address.hex(), level_name(irql)),
           {{"address", address.hex()}, {"irql", irql_text(irql)}});
}

// Watches the pageable sections (PAGE*) of driver images loaded since the last look.
void scan_modules(Engine& e, State& s) {
  emu::Machine& m = e.kernel().machine();
  const auto& modules = m.modules();
  if (s.modules_scanned == modules.size()) return;
  for (size_t i = s.modules_scanned; i < modules.size(); ++i) {
    const emu::Module& mod = modules[i];
    if (!driver_module(mod)) continue;
    emu::AddressSpace& mem = m.memory();
    auto lfanew = mem.try_read<uint32_t>(mod.base + 0x3C);
    if (!lfanew) continue;
    GuestVa nt = mod.base + *lfanew;
    auto sections = mem.try_read<uint16_t>(nt + 6);
    auto optional_size = mem.try_read<uint16_t>(nt + 20);
    if (!sections || !optional_size) continue;
    GuestVa table = nt + 24 + *optional_size;
    for (uint16_t k = 0; k < *sections; ++k) {
      GuestVa header = table + k * 40ull;
      char name[9] = {};
      if (!mem.read(header, name, 8)) break;
      // Windows pages sections whose name starts with PAGE (PAGE, PAGELK, PAGEDATA...).
      if (std::strncmp(name, "PAGE", 4) != 0) continue;
      auto virtual_size = mem.try_read<uint32_t>(header + 8);
      auto rva = mem.try_read<uint32_t>(header + 12);
      auto characteristics = mem.try_read<uint32_t>(header + 36);
      if (!virtual_size || !rva || !characteristics || *virtual_size == 0) continue;
      GuestVa begin = mod.base + *rva;
      Engine* engine = &e;
      if (*characteristics & (kScnMemExecute | kScnCntCode)) {
        s.watches.push_back(m.add_block_watch(begin, *virtual_size, [engine, &m](GuestVa block) {
          if (m.irql() >= irql_table::kDispatch) report_paged(*engine, block, block, true);
        }));
      } else {
        s.watches.push_back(m.add_access_watch(begin, *virtual_size,
                                               [engine, &m](GuestVa address, uint32_t, GuestVa rip, bool) {
                                                 if (m.irql() >= irql_table::kDispatch && driver_code(*engine, rip))
                                                   report_paged(*engine, rip, address, false);
                                               }));
      }
    }
  }
  s.modules_scanned = modules.size();
}

// The guarded arena's addresses are never reused: a span no run reaches.
constexpr uint64_t kGuardedArenaSpan = 1ull << 40;

// From the driver's first paged-pool allocation on, its instructions' accesses
// to the paged arena are looked at (only those at DISPATCH_LEVEL or above count).
void watch_paged_pool(Engine& e, State& s) {
  if (s.paged_pool_watched) return;
  s.paged_pool_watched = true;
  emu::Machine& m = e.kernel().machine();
  Engine* engine = &e;
  s.watches.push_back(m.add_access_watch(emu::Pool::kPagedBase, m.options().pool_cap,
                                         [engine, &m](GuestVa address, uint32_t, GuestVa rip, bool) {
                                           if (m.irql() < irql_table::kDispatch) return;
                                           if (!m.pool().block_containing(address)) return;
                                           if (driver_code(*engine, rip)) report_paged(*engine, rip, address, false);
                                         }));
  // With guarded placement (pool.overrun / pool.use-after-free) the driver's
  // own blocks, paged ones included, live in the guarded arena instead.
  if (m.pool().guarded_placement())
    s.watches.push_back(m.add_access_watch(emu::Pool::kGuardedBase, kGuardedArenaSpan,
                                           [engine, &m](GuestVa address, uint32_t, GuestVa rip, bool) {
                                             if (m.irql() < irql_table::kDispatch) return;
                                             if (!m.pool().is_paged_address(address)) return;
                                             if (!m.pool().block_containing(address)) return;
                                             if (driver_code(*engine, rip))
                                               report_paged(*engine, rip, address, false);
                                           }));
}

bool is_paged_allocation(const nt::ApiCall& call) {
  const std::string& n = *call.name;
  if (call.args.empty() || call.result == 0) return false;  // called only for ExAllocatePool*
  if (n == "ExAllocatePool2") return (call.args[0] & kPoolFlagPaged) != 0;
  if (n == "ExAllocatePool" || n == "ExAllocatePoolWithTag" || n == "ExAllocatePoolWithQuotaTag" ||
      n == "ExAllocatePoolWithTagPriority")
    return (call.args[0] & emu::pool_type::kBaseTypeMask) != 0;
  return false;
}

// The ranges a host-side copy routine reads or writes for the driver.
void check_copy(Engine& e, const nt::ApiCall& call) {
  const std::string& n = *call.name;
  emu::Machine& m = e.kernel().machine();
  if (m.irql() < irql_table::kDispatch || call.args.size() < 2) return;
  std::vector<uint64_t> addresses;
  if (is_copy_routine(n)) addresses = {call.args[0], call.args[1]};
  else if (n == "memset" || n == "RtlFillMemory" || n == "RtlZeroMemory") addresses = {call.args[0]};
  else if (n == "memcmp" || n == "RtlCompareMemory") addresses = {call.args[0], call.args[1]};
  else return;
  for (uint64_t a : addresses)
    if (m.pool().is_paged_address(GuestVa{a}) && m.pool().block_containing(GuestVa{a})) {
      report_paged(e, call.call_site, GuestVa{a}, false);
      return;
    }
}

}  // namespace

void on_call(Engine& e, State& s, const nt::ApiCall& call) {
  scan_modules(e, s);
  const State::RoutineInfo& info = info_of(s, call);
  if (info.copies) check_copy(e, call);
  if (!info.limit) return;
  uint8_t now = e.kernel().machine().irql();
  uint8_t max = max_irql(e, *info.limit, call);
  if (now <= max) return;
  e.report("irql.api-level", call.call_site,
           fmt::format("{} is called at {}; Windows allows it only at {} or below (its documented IRQL "
                       "requirement): above that it may wait, or touch pageable code or data, which cannot "
                       "happen at this IRQL.",
                       *call.name, level_name(now), level_name(max)),
           {{"routine", *call.name}, {"irql", irql_text(now)}, {"max_irql", irql_text(max)}});
}

void on_return(Engine& e, State& s, const nt::ApiCall& call) {
  if (call.raised) return;
  const State::RoutineInfo& info = info_of(s, call);
  emu::Machine& m = e.kernel().machine();
  auto arg = [&](size_t i) { return i < call.args.size() ? call.args[i] : 0; };
  auto take = [&](uint64_t lock, uint64_t handle) {
    s.held.push_back({lock, handle, call.call_site, *call.name, innermost_driver_frame(s)});
  };
  auto drop = [&](auto matches) {
    auto it = std::find_if(s.held.rbegin(), s.held.rend(), matches);
    if (it != s.held.rend()) s.held.erase(std::next(it).base());
  };
  switch (info.op) {
    case LockOp::None: break;
    case LockOp::Acquire: take(arg(0), 0); break;
    case LockOp::TryAcquire:
      if (call.result & 0xFF) take(arg(0), 0);
      break;
    case LockOp::AcquireQueued: take(arg(0), arg(1)); break;
    case LockOp::Release: drop([&](const State::HeldLock& h) { return h.lock == arg(0); }); break;
    case LockOp::ReleaseQueued: drop([&](const State::HeldLock& h) { return h.handle == arg(0); }); break;
    case LockOp::AcquireCancel: take(kCancelLockKey, 0); break;
    case LockOp::ReleaseCancel: drop([&](const State::HeldLock& h) { return h.lock == kCancelLockKey; }); break;
  }
  if (info.allocates_pool && is_paged_allocation(call)) watch_paged_pool(e, s);
  // The call that moved the innermost driver routine off its entry IRQL.
  int f = innermost_driver_frame(s);
  if (f < 0) return;
  State::Frame& frame = s.frames[f];
  if (m.irql() == frame.callback.irql) {
    frame.raise_site = GuestVa{};
  } else if (!frame.raise_site) {
    frame.raise_site = call.call_site;
    frame.raise_routine = *call.name;
  }
}

void on_callback_started(Engine& e, State& s, const nt::DriverCallback& callback) {
  scan_modules(e, s);
  s.frames.push_back({callback, driver_code(e, callback.routine), GuestVa{}, {}});
}

void on_callback_returned(Engine& e, State& s, const nt::DriverCallback& callback) {
  // The matching frame (an exception may have unwound past inner ones).
  auto it = std::find_if(s.frames.rbegin(), s.frames.rend(), [&](const State::Frame& f) {
    return f.callback.routine == callback.routine && f.callback.object == callback.object &&
           f.callback.kind == callback.kind;
  });
  if (it == s.frames.rend()) return;
  int index = static_cast<int>(std::distance(s.frames.begin(), it.base()) - 1);
  State::Frame frame = s.frames[index];
  s.frames.resize(index);
  std::string routine = callback.routine.hex();
  if (auto sym = e.kernel().machine().symbolize(callback.routine)) routine = sym->text();
  bool reported = false;
  for (State::HeldLock& h : s.held) {
    if (h.frame < index) continue;
    h.frame = -1;  // still held; reported once
    if (!frame.driver) continue;
    std::string lock = h.lock == kCancelLockKey ? std::string("the cancel spin lock") : GuestVa{h.lock}.hex();
    e.report("irql.unbalanced", h.site,
             fmt::format("the {} {} returned with the spin lock {} that {} took still held, at {} (it was called "
                         "at {}): every path out of the routine must release the spin locks it acquired and "
                         "return at the IRQL it was called at.",
                         kind_name(callback.kind), routine, lock, h.routine, level_name(callback.irql),
                         level_name(frame.callback.irql)),
             {{"routine", routine},
              {"lock", lock},
              {"acquired_by", h.routine},
              {"irql_at_entry", irql_text(frame.callback.irql)},
              {"irql_at_return", irql_text(callback.irql)}});
    reported = true;
  }
  if (reported || !frame.driver || callback.irql == frame.callback.irql) return;
  GuestVa site = frame.raise_site ? frame.raise_site : callback.routine;
  e.report("irql.unbalanced", site,
           fmt::format("the {} {} returned at {} but was called at {}{}: a routine must give back the IRQL it "
                       "was called at on every path.",
                       kind_name(callback.kind), routine, level_name(callback.irql), level_name(frame.callback.irql),
                       frame.raise_site ? fmt::format(" (changed by {})", frame.raise_routine) : std::string()),
           {{"routine", routine},
            {"irql_at_entry", irql_text(frame.callback.irql)},
            {"irql_at_return", irql_text(callback.irql)}});
}

void shutdown(Engine& e, State& s) {
  for (uint64_t w : s.watches) e.kernel().machine().remove_watch(w);
  s.watches.clear();
}

}  // namespace kemu::verifier::irql_checks
