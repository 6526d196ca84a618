// The pool and unload checks of checks.md: pool.leak, pool.overrun,
// pool.use-after-free, pool.bad-free, pool.must-succeed, pool.null-unchecked
// and unload.leftovers. Each names the Windows rule it enforces.
//
// How they are seen (no per-access hook on pool):
// - The driver's own ExAllocatePool* calls (the return address is in a driver
//   image) are recorded with their call site; what is still allocated when
//   DriverUnload has run is a leak (Verifier 0xC4/0x62).
// - Those allocations are placed against an unmapped guard page and lose all
//   access when freed (emu::Pool guarded placement). The fault of a guest
//   access there is the finding; the memory is then made accessible and the
//   instruction runs again, as plain Windows (where it is mapped pool) would
//   run it. The copy routines kemu runs as host code are checked at the
//   driver's call the same way.
// - ExFreePool* arguments against the pool's live blocks and the driver's
//   earlier frees (the bugcheck 0xC2 that follows is Windows's own).
// - Allocation arguments (NonPagedPoolMustSucceed, tag 0).
// - After a call the low-resources simulation failed, a driver access to the
//   first 64 KiB (a NULL pointer plus an offset) or a copy routine handed a
//   NULL pointer is the failure left unchecked.
// - At unload: the scheduler's timers, queued DPCs and work items, the
//   driver's running threads, devices, symbolic links and notify routines
//   still registered, each pointed at the driver's call that made it.
#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "emulator/machine.h"
#include "emulator/pool.h"
#include "ntoskrnl-stubs/api/kernel_modules.h"
#include "ntoskrnl-stubs/io/io_manager.h"
#include "ntoskrnl-stubs/ke/scheduler.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/ps/process_manager.h"
#include "verifier/engine.h"

namespace kemu::verifier::pool_checks {

struct Allocation {
  GuestVa site;  // the driver's call
  std::string routine;
  uint64_t size = 0;
  uint32_t tag = 0;
  uint32_t type = 0;
  uint64_t serial = 0;
};

struct Made {  // something the driver started or created that must be undone before unload
  GuestVa site;
  std::string routine;
};

struct State {
  std::map<uint64_t, Allocation> allocations;  // the driver's live ExAllocatePool* blocks, by address
  struct Freed {
    GuestVa site;        // the driver's ExFreePool* call
    GuestVa alloc_site;  // the driver's allocating call, when it was one
  };
  std::map<uint64_t, Freed> freed;  // by address
  std::map<uint64_t, Made> timers, dpcs, work_items;  // by object address
  std::map<uint32_t, Made> threads;                   // by thread id
  std::set<uint32_t> threads_before;                  // live threads when PsCreateSystemThread was called
  std::map<uint64_t, Made> devices;                   // by DEVICE_OBJECT
  std::set<uint64_t> driver_objects;
  std::map<std::u16string, Made> links;               // by link name
  std::map<uint64_t, Made> notify_routines;           // by routine
};

namespace {

constexpr size_t kFreedMemory = 1u << 16;  // frees remembered for double-free reports
constexpr uint64_t kNullRegion = 0x10000;  // Windows never maps the first 64 KiB

bool in_driver_image(Engine& e, GuestVa va) {
  const emu::Region* r = e.kernel().memory().find(va);
  return r && r->kind == emu::RegionKind::DriverImage;
}

std::string tag_text(uint32_t tag) {
  std::string s;
  for (int i = 0; i < 4; ++i) {
    char c = static_cast<char>((tag >> (8 * i)) & 0xFF);
    s += (c >= 0x20 && c < 0x7F) ? c : '.';
  }
  return fmt::format("'{}' ({:#x})", s, tag);
}

std::string where(Engine& e, GuestVa va) {
  if (!va) return "?";
  auto s = e.kernel().machine().symbolize(va);
  return s ? fmt::format("{}+{:#x}", s->module, s->offset) : va.hex();
}

bool is_allocation(const std::string& n) {
  return n == "ExAllocatePool" || n == "ExAllocatePoolWithTag" || n == "ExAllocatePoolWithTagPriority" ||
         n == "ExAllocatePoolWithQuota" || n == "ExAllocatePoolWithQuotaTag" || n == "ExAllocatePool2" ||
         n == "ExAllocatePool3";
}

bool takes_pool_type(const std::string& n) { return n != "ExAllocatePool2" && n != "ExAllocatePool3"; }

bool is_free(const std::string& n) { return n == "ExFreePool" || n == "ExFreePoolWithTag" || n == "ExFreePool2"; }

const char* mode_of(bool write) { return write ? "wrote" : "read"; }

void report_guard_hit(Engine& e, State& st, const emu::Pool::GuardFault& hit, GuestVa site, GuestVa address,
                      uint64_t size, bool write, bool by_copy) {
  const emu::PoolBlock& b = hit.block;
  int64_t offset = static_cast<int64_t>(address.value - b.address.value);
  std::string access = by_copy ? fmt::format("the copy routine called here {} {} byte(s)", write ? "writes" : "reads", size)
                               : fmt::format("the driver {}", mode_of(write));
  // The driver's allocating call (the block's caller is its return address).
  GuestVa alloc_site = b.caller;
  if (auto a = st.allocations.find(b.address.value); a != st.allocations.end()) alloc_site = a->second.site;
  auto freed = st.freed.find(b.address.value);
  if (freed != st.freed.end() && freed->second.alloc_site) alloc_site = freed->second.alloc_site;
  std::string allocated = where(e, alloc_site);
  if (hit.hit == emu::Pool::GuardHit::Overrun) {
    uint64_t past = address.value - (b.address.value + b.size);
    e.report("pool.overrun", site,
             fmt::format("{} at offset {:#x} of a {}-byte pool block (tag {}, allocated at {}): {}, into memory that "
                         "is not the block's. On Windows this silently corrupts the next allocation (special pool: "
                         "bugcheck 0xD6). Keep every access inside the size that was allocated.",
                         access, offset, b.size, tag_text(b.tag), allocated,
                         past == 0 ? std::string("the first byte after its end")
                                   : fmt::format("{} byte(s) beyond its end", past)),
             {{"address", address.hex()},
              {"block", b.address.hex()},
              {"block_size", std::to_string(b.size)},
              {"offset", hex(static_cast<uint64_t>(offset))},
              {"tag", tag_text(b.tag)},
              {"allocated_at", allocated},
              {"access", write ? "write" : "read"}});
    return;
  }
  std::string freed_at = freed != st.freed.end() ? where(e, freed->second.site) : "?";
  e.report("pool.use-after-free", site,
           fmt::format("{} at offset {:#x} of a {}-byte pool block (tag {}, allocated at {}) that was already freed "
                       "(at {}). Freed pool may already belong to another allocation (special pool: bugcheck 0xD5). "
                       "Drop every pointer to a block when freeing it, and free it only after its last use.",
                       access, offset, b.size, tag_text(b.tag), allocated, freed_at),
           {{"address", address.hex()},
            {"block", b.address.hex()},
            {"block_size", std::to_string(b.size)},
            {"offset", hex(static_cast<uint64_t>(offset))},
            {"tag", tag_text(b.tag)},
            {"allocated_at", allocated},
            {"freed_at", freed_at},
            {"access", write ? "write" : "read"}});
}

void report_null_use(Engine& e, GuestVa site, GuestVa address, const char* how) {
  const auto& failed = e.kernel().modules().failed_allocations();
  if (failed.empty() || address.value >= kNullRegion) return;
  const nt::FailedAllocation& f = failed.back();
  std::string failed_at = f.module.empty() ? f.call_site.hex() : fmt::format("{}+{:#x}", f.module, f.offset);
  e.report("pool.null-unchecked", site,
           fmt::format("{} address {} after {} (allocation-like call #{}, at {}) returned NULL under the "
                       "low-resources simulation: the failure was not checked. Allocations can fail on Windows; "
                       "test the result and fail the request (STATUS_INSUFFICIENT_RESOURCES).",
                       how, address.hex(), f.routine, f.number, failed_at),
           {{"address", address.hex()},
            {"failed_routine", f.routine},
            {"failed_call", std::to_string(f.number)},
            {"failed_at", failed_at}});
}

void check_allocation_arguments(Engine& e, const nt::ApiCall& call) {
  const std::string& name = *call.name;
  auto arg = [&](size_t i) { return i < call.args.size() ? call.args[i] : 0; };
  if (takes_pool_type(name)) {
    uint32_t type = static_cast<uint32_t>(arg(0));
    if ((type & 3) == emu::pool_type::kNonPagedMustSucceed)
      e.report("pool.must-succeed", call.call_site,
               fmt::format("{} asked for a must-succeed pool type ({:#x}): drivers may not use "
                           "NonPagedPoolMustSucceed, and Windows 10 no longer supports it (bugcheck 0xC2/0x9A). Use "
                           "NonPagedPoolNx and handle a NULL result.",
                           name, type),
               {{"pool_type", hex(type)}, {"size", std::to_string(arg(1))}, {"routine", name}});
  }
  bool has_tag = name != "ExAllocatePool" && name != "ExAllocatePoolWithQuota";
  if (has_tag && static_cast<uint32_t>(arg(2)) == 0)
    e.report("pool.must-succeed", call.call_site,
             fmt::format("{} was given pool tag 0: the allocation cannot be told apart in pool tracking and leak "
                         "reports (Driver Verifier: bugcheck 0xC2/0x9B). Give every allocation a distinctive "
                         "four-character tag.",
                         name),
             {{"tag", "0x0"}, {"size", std::to_string(arg(1))}, {"routine", name}});
}

// Bytes past a guarded block's end (its rounding slack) overwritten: seen only
// now, when it is freed or the driver unloads (special pool: 0xC1).
void check_slack(Engine& e, State& st, GuestVa block, GuestVa site, const char* when) {
  emu::Pool& pool = e.kernel().machine().pool();
  auto offset = pool.slack_overwritten(block);
  const emu::PoolBlock* b = pool.block_at(block);
  if (!offset || !b) return;
  GuestVa alloc_site = b->caller;
  if (auto a = st.allocations.find(block.value); a != st.allocations.end()) alloc_site = a->second.site;
  e.report("pool.overrun", site,
           fmt::format("the bytes after the end of a {}-byte pool block (tag {}, allocated at {}) were overwritten "
                       "(first at offset {:#x}), found {}: some instruction wrote past the size that was allocated. "
                       "On Windows this corrupts the next allocation (special pool: bugcheck 0xC1). Keep every "
                       "access inside the size that was allocated.",
                       b->size, tag_text(b->tag), where(e, alloc_site), *offset, when),
           {{"address", (block + *offset).hex()},
            {"block", block.hex()},
            {"block_size", std::to_string(b->size)},
            {"offset", hex(*offset)},
            {"tag", tag_text(b->tag)},
            {"allocated_at", where(e, alloc_site)},
            {"access", "write"}});
}

void check_free(Engine& e, State& st, const nt::ApiCall& call) {
  const std::string& name = *call.name;
  GuestVa p{call.args.empty() ? 0 : call.args[0]};
  std::optional<uint32_t> tag;
  if (name != "ExFreePool" && call.args.size() > 1) tag = static_cast<uint32_t>(call.args[1]);
  emu::Pool& pool = e.kernel().machine().pool();
  const emu::PoolBlock* block = pool.block_at(p);
  if (block && tag && ((*tag ^ block->tag) & 0x7FFFFFFF) != 0) {
    e.report("pool.bad-free", call.call_site,
             fmt::format("{} of {} with tag {}, but the block was allocated with tag {}: the wrong tag means the "
                         "wrong block or another component's memory (bugcheck 0xC2/0x0A). Free with the tag the "
                         "block was allocated with.",
                         name, p.hex(), tag_text(*tag), tag_text(block->tag)),
             {{"address", p.hex()}, {"tag", tag_text(*tag)}, {"allocation_tag", tag_text(block->tag)}, {"routine", name}});
    return;
  }
  if (block) {
    check_slack(e, st, p, call.call_site, "when it was freed here");
    GuestVa alloc_site;
    if (auto a = st.allocations.find(p.value); a != st.allocations.end()) alloc_site = a->second.site;
    st.allocations.erase(p.value);
    if (st.freed.size() < kFreedMemory || st.freed.contains(p.value)) st.freed[p.value] = {call.call_site, alloc_site};
    return;
  }
  auto earlier = st.freed.find(p.value);
  if (earlier != st.freed.end()) {
    e.report("pool.bad-free", call.call_site,
             fmt::format("{} of {}, a block this driver already freed at {}: a double free (bugcheck 0xC2/0x07). "
                         "Free each block once and clear the pointer that held it.",
                         name, p.hex(), where(e, earlier->second.site)),
             {{"address", p.hex()}, {"first_freed_at", where(e, earlier->second.site)}, {"routine", name}});
    return;
  }
  const emu::PoolBlock* inside = pool.block_containing(p);
  e.report("pool.bad-free", call.call_site,
           fmt::format("{} of {}, which is {}: only the address an allocation returned may be freed "
                       "(bugcheck 0xC2).",
                       name, p.hex(),
                       !p ? "NULL" : inside ? fmt::format("inside the pool block at {}, not its start", inside->address.hex())
                                            : std::string("not a pool block")),
           {{"address", p.hex()}, {"routine", name}});
}

void check_copy(Engine& e, State& st, const nt::ApiCall& call) {
  auto copy = copy_call(call);
  if (!copy) return;
  auto [dst, src, length] = *copy;
  if (length == 0) return;
  if (dst < kNullRegion) report_null_use(e, call.call_site, GuestVa{dst}, "the copy routine called here writes to");
  if (src && src < kNullRegion) report_null_use(e, call.call_site, GuestVa{src}, "the copy routine called here reads");
  emu::Pool& pool = e.kernel().machine().pool();
  // The host copy would fail where the guest's access would fault: make the
  // range what Windows has there (mapped pool) first, and report it.
  for (auto [va, write] : {std::pair{dst, true}, std::pair{src, false}}) {
    if (!va) continue;
    for (const emu::Pool::GuardFault& hit : pool.resolve_guard_range(GuestVa{va}, length)) {
      GuestVa at = hit.hit == emu::Pool::GuardHit::Overrun ? std::max(GuestVa{va}, hit.block.address + hit.block.size)
                                                            : std::max(GuestVa{va}, hit.block.address);
      report_guard_hit(e, st, hit, call.call_site, at, length, write, true);
    }
  }
}

void note_leftover_calls(Engine& e, State& st, const nt::ApiCall& call) {
  const std::string& name = *call.name;
  auto arg = [&](size_t i) { return i < call.args.size() ? call.args[i] : 0; };
  Made made{call.call_site, name};
  if (name == "KeSetTimer" || name == "KeSetTimerEx" || name == "KeSetCoalescableTimer") {
    st.timers[arg(0)] = made;
  } else if (name == "KeInsertQueueDpc") {
    st.dpcs[arg(0)] = made;
  } else if (name == "IoQueueWorkItem" || name == "IoQueueWorkItemEx" || name == "ExQueueWorkItem") {
    st.work_items[arg(0)] = made;
  } else if (name == "PsCreateSystemThread") {
    auto live = e.kernel().scheduler().live_threads();
    st.threads_before = std::set<uint32_t>(live.begin(), live.end());
  } else if (name == "PsSetCreateProcessNotifyRoutine" || name == "PsSetCreateThreadNotifyRoutine" ||
             name == "PsSetLoadImageNotifyRoutine") {
    if (name == "PsSetCreateProcessNotifyRoutine" && (arg(1) & 0xFF)) st.notify_routines.erase(arg(0));
    else st.notify_routines[arg(0)] = made;
  } else if (name == "PsSetCreateProcessNotifyRoutineEx" || name == "PsSetCreateProcessNotifyRoutineEx2") {
    uint64_t routine = name == "PsSetCreateProcessNotifyRoutineEx" ? arg(0) : arg(1);
    bool remove = (name == "PsSetCreateProcessNotifyRoutineEx" ? arg(1) : arg(2)) & 0xFF;
    if (remove) st.notify_routines.erase(routine);
    else st.notify_routines[routine] = made;
  } else if (name == "PsRemoveCreateThreadNotifyRoutine" || name == "PsRemoveLoadImageNotifyRoutine") {
    st.notify_routines.erase(arg(0));
  }
}

void note_leftover_returns(Engine& e, State& st, const nt::ApiCall& call) {
  const std::string& name = *call.name;
  auto arg = [&](size_t i) { return i < call.args.size() ? call.args[i] : 0; };
  bool ok = nt_success(static_cast<NtStatus>(call.result & 0xFFFFFFFF));
  Made made{call.call_site, name};
  const emu::AddressSpace& mem = e.kernel().memory();
  if (name == "PsCreateSystemThread" && ok) {
    for (uint32_t tid : e.kernel().scheduler().live_threads())
      if (!st.threads_before.contains(tid) && !st.threads.contains(tid)) st.threads[tid] = made;
  } else if (name == "IoCreateDevice" && ok) {
    if (auto device = mem.try_read<uint64_t>(GuestVa{arg(6)})) st.devices[*device] = made;
    st.driver_objects.insert(arg(0));
  } else if (name == "IoCreateSymbolicLink" && ok) {
    auto length = mem.try_read<uint16_t>(GuestVa{arg(0)});
    auto buffer = mem.try_read<uint64_t>(GuestVa{arg(0) + 8});
    if (length && buffer) {
      std::u16string link(*length / 2, u'\0');
      if (mem.read(GuestVa{*buffer}, link.data(), link.size() * 2)) st.links[link] = made;
    }
  }
}

}  // namespace

std::shared_ptr<State> make_state() { return std::make_shared<State>(); }

void on_call(Engine& e, State& st, const nt::ApiCall& call) {
  if (!in_driver_image(e, call.call_site)) return;  // kemu's own nested calls
  const std::string& name = *call.name;
  if (is_allocation(name)) check_allocation_arguments(e, call);
  else if (is_free(name)) check_free(e, st, call);
  else check_copy(e, st, call);
  note_leftover_calls(e, st, call);
}

void on_return(Engine& e, State& st, const nt::ApiCall& call) {
  if (!in_driver_image(e, call.call_site)) return;
  const std::string& name = *call.name;
  note_leftover_returns(e, st, call);
  if (!is_allocation(name) || call.result == 0) return;
  const emu::PoolBlock* block = e.kernel().machine().pool().block_at(GuestVa{call.result});
  if (!block) return;
  st.allocations[call.result] = Allocation{call.call_site, name, block->size, block->tag, block->type, block->serial};
  st.freed.erase(call.result);
}

void on_guard_fault(Engine& e, State& st, const emu::Pool::GuardFault& hit, GuestVa rip, GuestVa address, bool write) {
  report_guard_hit(e, st, hit, rip, address, 0, write, false);
}

void on_fault(Engine& e, GuestVa rip, GuestVa address, bool write) {
  if (!in_driver_image(e, rip)) return;
  report_null_use(e, rip, address, write ? "the driver wrote to" : "the driver read");
}

void on_unload(Engine& e, State& st) {
  nt::Kernel& k = e.kernel();
  emu::Pool& pool = k.machine().pool();
  // pool.leak: the driver's allocations still live (Verifier 0xC4/0x62 at unload).
  for (const auto& [address, a] : st.allocations) {
    const emu::PoolBlock* block = pool.block_at(GuestVa{address});
    if (!block || block->serial != a.serial) continue;
    check_slack(e, st, GuestVa{address}, a.site, "at unload (the block was never freed; reported at its allocation)");
    e.report("pool.leak", a.site,
             fmt::format("{} bytes of pool (tag {}) that {} allocated here were never freed: the driver unloaded "
                         "and the memory is lost until reboot (Driver Verifier: bugcheck 0xC4/0x62). Free every "
                         "allocation in the unload or cleanup path.",
                         a.size, tag_text(a.tag), a.routine),
             {{"address", hex(address)},
              {"size", std::to_string(a.size)},
              {"tag", tag_text(a.tag)},
              {"pool_type", hex(a.type)},
              {"allocated_by", a.routine}});
  }
  // unload.leftovers: work the driver started and objects it made that outlive it.
  auto leftover = [&](const Made* made, const std::string& what, std::vector<std::pair<std::string, std::string>> values,
                      const char* fix) {
    if (made) values.emplace_back("made_by", made->routine);
    e.report("unload.leftovers", made ? made->site : GuestVa{},
             fmt::format("{} is still live after DriverUnload returned{}: {}", what,
                         made ? fmt::format(" ({} made it here)", made->routine) : std::string(), fix),
             std::move(values));
  };
  auto find = [](const auto& m, const auto& key) -> const Made* {
    auto it = m.find(key);
    return it == m.end() ? nullptr : &it->second;
  };
  const emu::AddressSpace& mem = k.memory();
  nt::ke::Scheduler& sched = k.scheduler();
  for (const nt::ke::TimerRecord& t : sched.timers()) {
    GuestVa routine = t.dpc ? GuestVa{mem.try_read<uint64_t>(t.dpc + nt::ke::offsets::kDpcRoutine).value_or(0)} : GuestVa{};
    const Made* made = find(st.timers, t.timer.value);
    if (!made && !in_driver_image(e, t.timer) && !in_driver_image(e, routine)) continue;
    leftover(made,
             fmt::format("the timer at {}{}{}", where(e, t.timer), t.period_ms ? fmt::format(" (every {} ms)", t.period_ms) : "",
                         routine ? fmt::format(" with DPC routine {}", where(e, routine)) : ""),
             {{"timer", t.timer.hex()}, {"dpc_routine", routine.hex()}},
             "when it expires its DPC runs code that is gone, and a queued KTIMER inside the unloaded image is "
             "bugcheck 0xC7. Cancel it with KeCancelTimer (and KeFlushQueuedDpcs) in DriverUnload.");
  }
  for (GuestVa dpc : sched.queued_dpcs()) {
    GuestVa routine{mem.try_read<uint64_t>(dpc + nt::ke::offsets::kDpcRoutine).value_or(0)};
    const Made* made = find(st.dpcs, dpc.value);
    if (!made && !in_driver_image(e, routine)) continue;
    leftover(made, fmt::format("the DPC at {} (routine {})", where(e, dpc), where(e, routine)),
             {{"dpc", dpc.hex()}, {"routine", routine.hex()}},
             "it runs after the image is gone. Remove it with KeRemoveQueueDpc or wait with KeFlushQueuedDpcs "
             "in DriverUnload.");
  }
  for (const nt::ke::WorkItem& w : sched.queued_work()) {
    const Made* made = find(st.work_items, w.item.value);
    if (!made && !in_driver_image(e, w.routine)) continue;
    leftover(made, fmt::format("the work item with routine {}", where(e, w.routine)),
             {{"work_item", w.item.hex()}, {"routine", w.routine.hex()}},
             "its routine runs after the image is gone. Wait for queued work items to finish before unloading.");
  }
  for (uint32_t tid : sched.live_threads()) {
    const Made* made = find(st.threads, tid);
    if (!made) continue;
    const emu::Thread* t = k.machine().find_thread(tid);
    leftover(made, fmt::format("the system thread {} (at {})", tid, t ? where(e, GuestVa{t->registers.rip}) : "?"),
             {{"thread", std::to_string(tid)}},
             "when it wakes it runs in, or waits on objects of, the unloaded image (bugcheck 0xCE or 0x50). Signal it to exit and wait on its thread "
             "object (KeWaitForSingleObject) in DriverUnload.");
  }
  for (uint64_t driver : st.driver_objects)
    for (const nt::io::DeviceView& d : k.io().devices_of(GuestVa{driver})) {
      const Made* made = find(st.devices, d.device_object.value);
      std::string name = d.name.empty() ? std::string("(unnamed)") : nt::to_utf8(d.name);
      leftover(made, fmt::format("the device object {} at {}", name, d.device_object.hex()),
               {{"device", d.device_object.hex()}, {"name", name}},
               "the driver object stays referenced and the driver can never unload cleanly. Delete every device "
               "with IoDeleteDevice in DriverUnload.");
    }
  for (const nt::io::LinkRecord& l : k.io().links()) {
    if (l.deleted) continue;
    const Made* made = find(st.links, l.name);
    if (!made) continue;
    std::string name = nt::to_utf8(l.name);
    leftover(made, fmt::format("the symbolic link {}", name), {{"link", name}},
             "the name keeps pointing at a device that is going away. Delete it with IoDeleteSymbolicLink in "
             "DriverUnload.");
  }
  const nt::ps::ProcessManager::NotifyRoutines& notify = k.ps().notify_routines();
  for (const auto* list : {&notify.process, &notify.process_ex, &notify.thread, &notify.image})
    for (GuestVa routine : *list) {
      const Made* made = find(st.notify_routines, routine.value);
      if (!made && !in_driver_image(e, routine)) continue;
      leftover(made, fmt::format("the notify routine {}", where(e, routine)), {{"notify_routine", routine.hex()}},
               "the next process, thread or image event calls into unloaded code. Remove it (the Remove "
               "routine, or Remove = TRUE) in DriverUnload.");
    }
}

}  // namespace kemu::verifier::pool_checks
