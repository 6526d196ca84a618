#include "harness/session.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include "emulator/bugcheck_names.h"
#include "emulator/machine.h"
#include "emulator/processor_layout.h"
#include "loader/pe_loader.h"
#include "ntoskrnl-stubs/api/kernel_modules.h"
#include "ntoskrnl-stubs/cm/config_manager.h"
#include "ntoskrnl-stubs/ex/events.h"
#include "ntoskrnl-stubs/fs/file_system.h"
#include "ntoskrnl-stubs/io/io_manager.h"
#include "ntoskrnl-stubs/ke/scheduler.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/nt_structs.h"
#include "ntoskrnl-stubs/mm/sections.h"
#include "ntoskrnl-stubs/ob/object_attributes.h"
#include "ntoskrnl-stubs/ob/object_manager.h"
#include "ntoskrnl-stubs/ps/process_manager.h"
#include "ntoskrnl-stubs/ps/process_security.h"
#include "ntoskrnl-stubs/se/token.h"
#include "harness/request_probe.h"
#include "report/format.h"
#include "verifier/catalog.h"
#include "verifier/engine.h"
#include "verifier/request_checks.h"
#include "report/sha256.h"

#ifndef KEMU_VERSION
#define KEMU_VERSION "0.0.0"
#endif

namespace kemu::harness {

namespace {
// kemu maps every driver here, far from the preferred base the linker chose,
// so that missing relocations show up at once.
constexpr GuestVa kDriverBase{0xFFFF'F806'1234'0000ull};
constexpr uint64_t kMaxDriverFileSize = 256ull << 20;

std::string hex(uint64_t v) { return fmt::format("{:#x}", v); }
}  // namespace

const char* to_string(StopReason r) {
  switch (r) {
    case StopReason::Completed: return "completed";
    case StopReason::Bugcheck: return "bugcheck";
    case StopReason::Timeout: return "timeout";
    case StopReason::InstructionLimit: return "instruction-limit";
    case StopReason::Deadlock: return "deadlock";
    case StopReason::Unimplemented: return "unimplemented";
    case StopReason::Error: return "error";
  }
  return "error";
}

struct Session::Impl {
  SessionOptions options;
  std::unique_ptr<emu::Machine> machine;
  std::unique_ptr<nt::Kernel> kernel;
  // The verifier (destroyed before the kernel it listens to).
  std::unique_ptr<verifier::Engine> engine;
  loader::LoadedImage image;
  GuestVa driver_object;
  GuestVa registry_path;
  bool loaded = false;
  bool entry_succeeded = false;
  bool entry_returned = false;
  bool trigger_armed = false;  // a close_during waits for the next client request
  bool unloaded = false;
  ClientToken client_token = ClientToken::User;
  // Registry values to seed: queued until load (the service key is named
  // after the driver), applied at once afterwards.
  std::vector<RegistrySeed> registry_seeds;
  std::string service;
  uint32_t client_thread = 0;  // created with the first client request
  uint32_t client_pid = 0;
  uint64_t user_cursor = 0x2000'0000;          // next client buffer
  uint64_t kernel_scratch = kemu::layout::kClientKernelBuffers;  // kemu-owned kernel pages for "kernel" placements

  // Client buffers are reused from one request to the next, as a client
  // program reuses its own: a region mapped once per (placement, size) and
  // refilled, so a request maps nothing new. Buffers of a request the driver
  // left pending are never reused (it may still complete into them).
  using BufferKey = std::pair<Session::Placement, uint64_t>;  // placement, region size
  std::multimap<BufferKey, GuestVa> free_buffers;
  std::vector<std::pair<BufferKey, GuestVa>> request_buffers;  // taken by the request in progress

  // Hands the current request's buffers back for reuse (unless it is pending).
  void release_request_buffers(bool pending) {
    if (!pending)
      for (auto& [key, base] : request_buffers) free_buffers.emplace(key, base);
    request_buffers.clear();
  }

  // A mapped region of `size` bytes for `placement`, reused when one is free.
  GuestVa buffer_region(Session::Placement placement, uint64_t size) {
    using P = Session::Placement;
    auto& mem = machine->memory();
    BufferKey key{placement, size};
    GuestVa base;
    if (auto it = free_buffers.find(key); it != free_buffers.end()) {
      base = it->second;
      free_buffers.erase(it);
      // Refilled from zero: the bytes of the previous request do not show.
      // (Host writes ignore the page protection of a read-only buffer.)
      std::memset(mem.host(base, size), 0, size);
    } else if (placement == P::Kernel) {
      base = GuestVa{kernel_scratch};
      kernel_scratch += size + 0x10000;
      mem.map(base, size, Prot::ReadWrite, emu::RegionKind::Scratch, "kernel scratch buffer");
    } else {
      // The next free place (a driver's ZwAllocateVirtualMemory may have taken
      // some), with an unmapped gap after every buffer.
      base = mem.find_free(GuestVa{user_cursor}, GuestVa{kemu::layout::kHighestUserAddress + 1}, size + 0x10000)
                 .value_or(GuestVa{user_cursor});
      user_cursor = base.value + size + 0x10000;
      mem.map(base, size, Prot::ReadWrite, emu::RegionKind::UserMemory, "client buffer", client_pid);
      if (placement == P::ReadOnly) mem.protect(base, size, Prot::Read);
    }
    request_buffers.emplace_back(key, base);
    return base;
  }

  // A client buffer holding `bytes` (padded to `length`) where the placement says.
  GuestVa place_buffer(const std::vector<uint8_t>& bytes, uint32_t length, Session::Placement placement) {
    using P = Session::Placement;
    auto& mem = machine->memory();
    const uint64_t content_size = std::max<uint64_t>(bytes.size(), length);
    switch (placement) {
      case P::Null: return GuestVa{};
      case P::Unmapped: return GuestVa{0xDEAD'0000};  // a user address never mapped
      case P::KernelUnmapped: return GuestVa{0xFFFF'81FF'DEAD'0000};  // never mapped, in kClientKernelBuffers
      case P::Kernel: {
        GuestVa base = buffer_region(placement, page_up(std::max<uint64_t>(content_size, 1)));
        mem.write(base, bytes.data(), bytes.size());  // padded with the region's zeros
        return base;
      }
      default: {
        bool misaligned = placement == P::Misaligned;
        uint64_t need = content_size + (misaligned ? 1 : 0);
        uint64_t size = page_up(std::max<uint64_t>(need, 1));
        GuestVa base = buffer_region(placement, size);
        GuestVa at = base + (misaligned ? 1 : 0);
        // page_end: the real bytes end on the last byte of the page; the next page is unmapped.
        if (placement == P::PageEnd) at = base + size - content_size;
        mem.write(at, bytes.data(), bytes.size());
        return at;
      }
    }
  }
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

  // Client requests the driver left pending: their steps take the final
  // status, information and output when the driver completes them later.
  struct PendingStep {
    size_t step = 0;
    uint64_t request = 0;
    GuestVa output;              // the client's buffer (ioctl output, read buffer)
    uint64_t output_length = 0;  // bytes of it the step shows
    bool read = false;           // a read shows only the bytes transferred
  };
  std::vector<PendingStep> pending_steps;
  struct Expectation {
    std::optional<uint32_t> status;
    std::optional<uint64_t> information;
  };
  std::map<size_t, Expectation> expectations;  // by step index
  std::optional<size_t> stopped_in_step;        // the step whose request was running when the run stopped

  // What the run opened and sent, for the unknown-request probe.
  std::vector<ProbePlan::Opened> opened_paths;
  std::map<uint64_t, size_t> handle_paths;  // client handle -> index into opened_paths
  std::vector<ProbePlan::Sent> sent_ioctls;
  bool probed = false;
  std::vector<Finding> probe_findings;  // found on the probe's copy of the machine

  void check_expectation(size_t index) {
    auto e = expectations.find(index);
    if (e == expectations.end()) return;
    StepResult& st = result.steps[index];
    bool ok = true;
    if (e->second.status && (!st.status || *st.status != *e->second.status)) ok = false;
    if (e->second.information && st.information != *e->second.information) ok = false;
    st.expect_ok = ok;
  }

  void track_pending(uint64_t request, GuestVa output, uint64_t output_length, bool read) {
    if (request) pending_steps.push_back({result.steps.size() - 1, request, output, output_length, read});
  }

  // Steps whose request the driver has completed since they were recorded
  // (their output is read in the client's address space).
  void refresh_pending_steps() {
    if (!kernel || !client_thread || pending_steps.empty()) return;
    uint32_t previous = machine->current_thread().id;
    machine->switch_to(client_thread);
    for (auto it = pending_steps.begin(); it != pending_steps.end();) {
      std::optional<nt::io::IoResult> outcome;
      guarded([&] { outcome = kernel->io().request_outcome(it->request); });
      if (!outcome) {
        ++it;
        continue;
      }
      StepResult& step = result.steps[it->step];
      step.status = outcome->status;
      step.pending = false;
      step.information = outcome->information;
      std::vector<uint8_t> out(it->read ? std::min<uint64_t>(outcome->information, it->output_length)
                                        : it->output_length);
      if (!machine->memory().read(it->output, out.data(), out.size())) out.clear();
      step.output_hex = report::hex_bytes(out);
      check_expectation(it->step);
      it = pending_steps.erase(it);
    }
    machine->switch_to(previous);
  }
  RunResult result;

  // Kernel work the harness drives (scheduling, timers, bookkeeping) can
  // touch guest memory the driver corrupted or freed: that ends the run as
  // Windows would (a bugcheck), never as a host error.
  template <class Fn>
  void guarded(Fn fn) {
    // --explain lines are tagged with the step about to be recorded (-1 before DriverEntry returned).
    if (kernel) kernel->explainer().set_step(entry_returned ? static_cast<int64_t>(result.steps.size()) : -1);
    try {
      fn();
    } catch (const emu::GuestAccessError& e) {
      machine->bugcheck(0x50, e.address.value, e.write ? 2 : 0, 0, 2, GuestVa{});
    } catch (const emu::GuestMemoryExhausted& e) {
      machine->request_stop({emu::StopKind::Error, e.what(), {}});
    }
  }

  void record_devices() {
    result.devices.clear();
    for (const nt::io::DeviceView& d : kernel->io().devices_of(driver_object)) {
      DeviceInfo info;
      info.name = nt::to_utf8(d.name);
      info.characteristics = d.characteristics;
      info.device_type = d.type;
      info.flags = d.flags;
      for (const nt::io::LinkRecord& l : kernel->io().links())
        if (!l.deleted && !d.name.empty() && nt::ob::names_equal(l.target, d.name, true))
          info.links.push_back(nt::to_utf8(l.name));
      result.devices.push_back(std::move(info));
    }
  }

  void finalize() {
    result.kemu_version = KEMU_VERSION;
    result.debug_output = kernel ? kernel->debug_output() : std::vector<std::string>{};
    result.explain.clear();
    if (kernel)
      for (const nt::Explainer::Line& l : kernel->explainer().lines()) result.explain.push_back({l.step, l.text});
    result.unimplemented.clear();
    if (kernel) {
      for (const nt::UnimplementedRecord& u : kernel->modules().unimplemented())
        result.unimplemented.push_back({u.api, u.calls, u.unknown_export});
    }
    result.failed_allocations.clear();
    if (kernel) {
      for (const nt::FailedAllocation& f : kernel->modules().failed_allocations()) {
        result.failed_allocations.push_back({f.number, f.routine, f.module, f.offset, f.symbol});
      }
    }
    if (machine) {
      result.stats.instructions = machine->instructions();
      result.stats.api_calls = machine->api_calls();
    }
    result.stats.wall_ms = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count());
    result.stop = StopInfo{};
    result.findings.clear();
    if (machine && machine->stop()) {
      const emu::Stop& s = *machine->stop();
      result.stop.message = s.message;
      switch (s.kind) {
        case emu::StopKind::Bugcheck: result.stop.reason = StopReason::Bugcheck; break;
        case emu::StopKind::Timeout: result.stop.reason = StopReason::Timeout; break;
        case emu::StopKind::InstructionLimit: result.stop.reason = StopReason::InstructionLimit; break;
        case emu::StopKind::Deadlock: result.stop.reason = StopReason::Deadlock; break;
        case emu::StopKind::Unimplemented: result.stop.reason = StopReason::Unimplemented; break;
        case emu::StopKind::Error: result.stop.reason = StopReason::Error; break;
      }
      if (stopped_in_step && *stopped_in_step < result.steps.size())
        result.steps[*stopped_in_step].never_returned = true;
      if (s.bugcheck) {
        result.stop.bugcheck = describe(*s.bugcheck);
        result.findings.push_back(bugcheck_finding(*s.bugcheck, *result.stop.bugcheck, s.message));
      }
    }
    if (engine)
      for (const Finding& f : engine->findings()) result.findings.push_back(f);
    for (const Finding& f : probe_findings) result.findings.push_back(f);
    // Checks the user turned off report nothing (--enable/--disable); a
    // bugcheck still ends the run, so the stop reason stays.
    std::erase_if(result.findings,
                  [this](const Finding& f) { return !check_enabled(options, f.check); });
    sync_breakpoints();
  }

  // Breakpoints are named while their module is still loaded.
  void sync_breakpoints() {
    if (!machine) return;
    const auto& all = machine->breakpoints();
    for (size_t i = result.breakpoints.size(); i < all.size(); ++i) result.breakpoints.push_back(frame_text(all[i]));
  }

  // Every bugcheck is the finding crash.bugcheck (checks.md).
  Finding bugcheck_finding(const emu::BugcheckRecord& b, const BugcheckInfo& info, const std::string& why) const {
    Finding f;
    f.check = "crash.bugcheck";
    f.severity = "error";
    f.title = fmt::format("the driver crashed the emulated system: bug check {:#x} {}", info.code,
                          info.name.empty() ? "(unnamed)" : info.name);
    f.message = why.empty() ? fmt::format("Windows would stop with bug check {:#010x} here.", info.code) : why;
    // The catalog's rule is every bug check's; the message says what this one means.
    if (std::string_view meaning = emu::bugcheck_meaning(info.code); !meaning.empty()) {
      if (!f.message.empty() && f.message.back() != '.') f.message += '.';
      f.message += fmt::format(" Bug check {:#x} {} means {}.", info.code, info.name, meaning);
    }
    f.microsoft = fmt::format("bug check {:#x}", info.code);
    f.location = {info.module, info.offset, info.symbol, info.instruction};
    f.stack = info.stack;
    const nt::ps::ProcessRecord* p = kernel->ps().process(b.process);
    f.context.process = p ? p->image_name : "System";
    f.context.thread = b.thread;
    f.context.irql = b.irql;
    for (int i = 0; i < 4; ++i) f.values.emplace_back(fmt::format("p{}", i + 1), fmt::format("{:#x}", info.params[i]));
    return f;
  }

  BugcheckInfo describe(const emu::BugcheckRecord& b) const {
    BugcheckInfo info;
    info.code = b.code;
    info.name = std::string(emu::bugcheck_name(b.code));
    for (int i = 0; i < 4; ++i) info.params[i] = b.params[i];
    if (auto s = machine->symbolize(b.rip)) {
      info.module = s->module;
      info.offset = s->offset;
      info.symbol = s->symbol;
    }
    if (b.rip.is_null()) return info;  // raised by kernel work, not at a driver instruction
    info.instruction = machine->disassemble_one(b.rip);
    info.stack.push_back(frame_text(b.rip));
    for (GuestVa ret : b.stack) info.stack.push_back(frame_text(ret));
    const emu::RegisterContext& r = b.registers;
    info.registers = {{"rip", r.rip}, {"rsp", r.rsp}, {"rax", r.rax}, {"rbx", r.rbx}, {"rcx", r.rcx},
                      {"rdx", r.rdx}, {"rsi", r.rsi}, {"rdi", r.rdi}, {"rbp", r.rbp}, {"r8", r.r8},
                      {"r9", r.r9},   {"r10", r.r10}, {"r11", r.r11}, {"r12", r.r12}, {"r13", r.r13},
                      {"r14", r.r14}, {"r15", r.r15}, {"rflags", r.rflags}};
    return info;
  }

  // MmUnloadSystemImage refuses to free an image that still holds a queued
  // timer or DPC object: TIMER_OR_DPC_INVALID (0xC7), P1 0 timer / 1 DPC.
  void check_image_objects() {
    const nt::ke::Scheduler& sched = kernel->scheduler();
    uint64_t start = image.base.value, end = image.base.value + image.size;
    auto inside = [&](GuestVa va) { return va.value >= start && va.value < end; };
    for (const nt::ke::TimerRecord& t : sched.timers()) {
      if (inside(t.timer)) {
        machine->bugcheck(0xC7, 0, t.timer.value, start, end, GuestVa{});
        return;
      }
    }
    for (GuestVa dpc : sched.queued_dpcs()) {
      if (inside(dpc)) {
        machine->bugcheck(0xC7, 1, dpc.value, start, end, GuestVa{});
        return;
      }
    }
  }

  void record_leftovers() {
    const nt::ke::Scheduler& sched = kernel->scheduler();
    auto& u = result.unload;
    u.timers_left.clear();
    u.dpcs_left.clear();
    u.work_items_left.clear();
    u.threads_left.clear();
    auto& mem = machine->memory();
    for (const nt::ke::TimerRecord& t : sched.timers()) {
      std::string dpc;
      if (t.dpc) {
        GuestVa routine{mem.read<uint64_t>(t.dpc + nt::ke::offsets::kDpcRoutine)};
        dpc = fmt::format(", DPC routine {}", frame_text(routine));
      }
      u.timers_left.push_back(fmt::format("timer at {} due in {} ms{}{}", frame_text(t.timer),
                                          (t.due - std::min(t.due, machine->interrupt_time())) / 10'000,
                                          t.period_ms ? fmt::format(", every {} ms", t.period_ms) : "", dpc));
    }
    for (GuestVa dpc : sched.queued_dpcs()) {
      GuestVa routine{mem.read<uint64_t>(dpc + nt::ke::offsets::kDpcRoutine)};
      u.dpcs_left.push_back(fmt::format("DPC at {} routine {}", frame_text(dpc), frame_text(routine)));
    }
    for (const nt::ke::WorkItem& w : sched.queued_work())
      u.work_items_left.push_back(fmt::format("work item routine {}", frame_text(w.routine)));
    for (uint32_t tid : sched.live_threads()) {
      const emu::Thread* t = machine->find_thread(tid);
      u.threads_left.push_back(fmt::format("thread {} at {}", tid, t ? frame_text(GuestVa{t->registers.rip}) : "?"));
    }
  }

  std::string frame_text(GuestVa va) const {
    auto s = machine->symbolize(va);
    if (!s) return hex(va.value);
    return fmt::format("{}+{:#x}", s->module, s->offset);
  }
};

Session::Session(SessionOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = options;
  impl_->client_token = options.client_token.value_or(ClientToken::User);
}

const char* to_string(ClientToken token) { return token == ClientToken::Admin ? "admin" : "user"; }

bool check_enabled(const SessionOptions& options, std::string_view id) {
  auto named = [id](const std::vector<std::string>& ids) {
    return std::find(ids.begin(), ids.end(), id) != ids.end();
  };
  // cli.md: --enable runs only the named checks, --disable removes from the default (all).
  if (!options.enabled_checks.empty() && !named(options.enabled_checks)) return false;
  return !named(options.disabled_checks);
}

namespace {
nt::se::TokenKind token_kind(ClientToken token) {
  return token == ClientToken::Admin ? nt::se::TokenKind::Admin : nt::se::TokenKind::User;
}
}  // namespace

void Session::set_fail_alloc(uint64_t nth) {
  if (impl_->loaded) throw SessionError("fail_alloc is set before the driver loads");
  if (!impl_->options.fail_alloc && !impl_->options.fail_alloc_rate) impl_->options.fail_alloc = nth;
}

void Session::set_client_token(ClientToken token) {
  Impl& s = *impl_;
  s.client_token = token;
  // An existing client gets the new primary token for its next request.
  if (s.client_pid && s.kernel) s.kernel->ps().set_process_token(s.client_pid, token_kind(token));
}

ClientToken Session::client_token() const { return impl_->client_token; }

const SessionOptions& Session::options() const { return impl_->options; }

Session::~Session() = default;

void Session::load(const std::string& path) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  if (ec) throw SessionError(fmt::format("cannot read {}: {}", path, ec.message()));
  if (size > kMaxDriverFileSize)
    throw SessionError(fmt::format("{} is {} bytes; kemu refuses driver files over 256 MiB", path, size));
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> bytes(size);
  if (!in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size)))
    throw SessionError(fmt::format("cannot read {}", path));
  impl_->result.driver.path = path;
  load(bytes, std::filesystem::path(path).filename().string());
}

void Session::load(std::span<const uint8_t> bytes, std::string name) {
  Impl& s = *impl_;
  if (s.loaded) throw SessionError("a session loads one driver");
  emu::MachineOptions mo;
  mo.max_instructions = s.options.max_instructions;
  mo.timeout_seconds = s.options.timeout_seconds;
  s.machine = std::make_unique<emu::Machine>(mo);
  nt::KernelOptions ko;
  ko.unimplemented = s.options.unimplemented == UnimplementedPolicy::Stop ? nt::UnimplementedPolicy::Stop
                                                                           : nt::UnimplementedPolicy::Fail;
  ko.strict_imports = s.options.strict_imports;
  ko.trace = s.options.trace;
  ko.explain = s.options.explain;
  ko.seed = s.options.seed;
  s.kernel = std::make_unique<nt::Kernel>(*s.machine, ko);
  // The verifier listens only when at least one check is on: with every check
  // disabled the kernel publishes no events at all (the "checks off" cost).
  const auto& ids = verifier::catalog();
  if (std::any_of(ids.begin(), ids.end(),
                  [&s](const verifier::CheckInfo& c) { return check_enabled(s.options, c.id); }))
    s.engine = std::make_unique<verifier::Engine>(
        *s.kernel, [options = s.options](std::string_view id) { return check_enabled(options, id); });
  // Driver allocations against guard pages (pool.overrun, pool.use-after-free).
  if (check_enabled(s.options, "pool.overrun") || check_enabled(s.options, "pool.use-after-free"))
    s.machine->pool().enable_guarded_placement(true);
  if (s.options.fail_alloc || s.options.fail_alloc_rate)
    s.kernel->modules().simulate_low_resources(s.options.fail_alloc, s.options.fail_alloc_rate, s.options.seed);
  if (!s.options.files_dir.empty()) {
    // --files: the sandbox volume starts as a copy of the host folder.
    if (auto error = s.kernel->fs().seed_from(s.options.files_dir)) throw SessionError(*error);
  }
  try {
    s.image = loader::load_driver(bytes, name, s.machine->memory(), kDriverBase, s.kernel->modules(),
                                  s.options.seed);
  } catch (const loader::LoadError& e) {
    throw SessionError(fmt::format("{}: {}", name, e.what()));
  }
  // Unicorn does not keep CR8: rewrite the driver's CR8 moves into traps.
  for (const loader::SectionInfo& sec : s.image.headers.sections) {
    if (!sec.executable() || sec.virtual_size == 0) continue;
    s.machine->instrument_privileged(s.image.base + sec.rva, sec.virtual_size);
  }
  emu::Module module{name, s.image.base, s.image.size, {}, {}, {}};
  module.symbols.emplace_back(s.image.headers.entry_rva, "DriverEntry");
  for (const loader::RuntimeFunction& f : s.image.runtime_functions)
    module.functions.push_back({f.begin, f.end, f.unwind_info});
  // IMAGE_DIRECTORY_ENTRY_EXCEPTION of the mapped headers: where .pdata lives.
  {
    auto& mem = s.machine->memory();
    uint32_t lfanew = mem.read<uint32_t>(s.image.base + 0x3C);
    module.pdata = s.image.base + mem.read<uint32_t>(s.image.base + lfanew + 0x18 + 0x70 + 3 * 8);
  }
  for (const loader::DriverExport& e : s.image.headers.exports)
    if (!e.name.empty()) module.symbols.emplace_back(e.rva, e.name);
  s.machine->add_module(std::move(module));

  std::string service = std::filesystem::path(name).stem().string();
  // The service key exists before the driver loads (the service control
  // manager created it); seeded values go in first and keep their data.
  s.service = service;
  for (const RegistrySeed& seed : s.registry_seeds) {
    try {
      apply_registry_seed(*s.kernel, service, seed);
    } catch (const std::invalid_argument& e) {
      throw SessionError(e.what());
    }
  }
  s.kernel->cm().install_service(nt::to_utf16(service));
  nt::io::DriverRecord& drv = s.kernel->io().create_driver_object(service, s.image.base, s.image.size, s.image.entry);
  s.driver_object = drv.driver_object;
  s.registry_path = drv.registry_path;
  s.result.driver.sha256 = report::sha256_hex(bytes);
  if (s.result.driver.path.empty()) s.result.driver.path = name;
  s.result.driver.image_base = s.image.base.value;
  s.result.driver.entry = s.image.entry.value;
  s.result.driver.image_size = s.image.size;
  s.loaded = true;
}

std::optional<NtStatus> Session::driver_entry() {
  Impl& s = *impl_;
  if (!s.loaded) throw SessionError("driver_entry before load");
  std::optional<NtStatus> result;
  s.guarded([&] { result = driver_entry_unguarded(); });
  return result;
}

std::optional<NtStatus> Session::driver_entry_unguarded() {
  Impl& s = *impl_;
  emu::Machine& m = *s.machine;
  // DriverEntry runs in a system thread of the System process at
  // PASSIVE_LEVEL with PreviousMode KernelMode.
  m.switch_to(s.kernel->ps().loader_thread());
  m.set_irql(irql::kPassive);
  m.set_previous_mode(ProcessorMode::KernelMode);
  m.current_thread().context = emu::ExecutionContext::SystemThread;
  auto rax = m.call(s.image.entry, {s.driver_object.value, s.registry_path.value});
  if (!rax) {
    s.record_devices();
    return std::nullopt;
  }
  NtStatus status = static_cast<NtStatus>(*rax);
  s.result.driver_entry_status = status;
  s.entry_returned = true;
  s.entry_succeeded = nt_success(status);
  if (s.entry_succeeded) s.kernel->io().finish_initialization(s.driver_object);
  // Threads, work items and DPCs the driver started run when DriverEntry returns.
  s.kernel->scheduler().run_pending();
  s.record_devices();
  return status;
}

void Session::unload() {
  Impl& s = *impl_;
  if (!s.loaded || s.unloaded) return;
  probe_unknown_requests();
  s.guarded([&] { unload_unguarded(); });
}

void Session::unload_unguarded() {
  Impl& s = *impl_;
  s.unloaded = true;
  emu::Machine& m = *s.machine;
  // The client's thread ends before the driver unloads: its outstanding
  // requests are cancelled and waited for as IoCancelThreadIo does.
  if (s.client_thread && !m.stopped()) {
    uint32_t previous = m.current_thread().id;
    m.switch_to(s.client_thread);
    m.set_irql(irql::kPassive);
    s.kernel->io().cancel_thread_io();
    m.switch_to(previous);
    s.refresh_pending_steps();
  }
  GuestVa unload_routine{m.memory().read<uint64_t>(s.driver_object + offsetof(nt::layout::DRIVER_OBJECT, DriverUnload))};
  s.result.unload.has_unload_routine = !unload_routine.is_null();
  // A driver whose DriverEntry failed is unloaded without calling DriverUnload.
  if (s.entry_succeeded && unload_routine && !m.stopped()) {
    m.switch_to(s.kernel->ps().loader_thread());
    m.set_irql(irql::kPassive);
    m.set_previous_mode(ProcessorMode::KernelMode);
    m.current_thread().context = emu::ExecutionContext::SystemThread;
    s.result.unload.called = true;
    m.call(unload_routine, {s.driver_object.value});
  }
  if (!m.stopped()) s.kernel->scheduler().run_pending();
  s.record_leftovers();
  if (s.engine && !m.stopped()) s.engine->driver_unloaded(s.result.unload.called);
  // Windows unmaps the image now; whatever the driver left queued runs later
  // (virtual time moves on to every pending timer) and finds it gone.
  if (s.entry_succeeded && !m.stopped()) {
    s.check_image_objects();
  }
  if (s.entry_succeeded && !m.stopped()) {
    s.sync_breakpoints();
    m.unload_module(s.image.base);
    for (int n = 0; n < 256 && !m.stopped() && !s.kernel->scheduler().timers().empty(); ++n)
      if (!s.kernel->scheduler().step(true)) break;
    if (!m.stopped()) s.kernel->scheduler().run_pending();
  }
  s.result.unload.devices_left.clear();
  s.result.unload.links_left.clear();
  for (const nt::io::DeviceView& d : s.kernel->io().devices_of(s.driver_object))
    s.result.unload.devices_left.push_back(d.name.empty() ? fmt::format("(unnamed device at {})", hex(d.device_object.value))
                                                          : nt::to_utf8(d.name));
  for (const nt::io::LinkRecord& l : s.kernel->io().links())
    if (!l.deleted) s.result.unload.links_left.push_back(nt::to_utf8(l.name));
}

void Session::set_registry_value(const std::string& key, const std::string& name, RegistryValue value) {
  Impl& s = *impl_;
  RegistrySeed seed{key, name, std::move(value)};
  if (!registry_key_path(key, "")) throw SessionError(fmt::format("registry key '{}' is not below \\Registry", key));
  if (!s.loaded) {
    s.registry_seeds.push_back(std::move(seed));
    return;
  }
  try {
    apply_registry_seed(*s.kernel, s.service, seed);
  } catch (const std::invalid_argument& e) {
    throw SessionError(e.what());
  }
}

void Session::create_registry_key(const std::string& key) {
  Impl& s = *impl_;
  RegistrySeed seed{key, std::nullopt, {}};
  if (!registry_key_path(key, "")) throw SessionError(fmt::format("registry key '{}' is not below \\Registry", key));
  if (!s.loaded) {
    s.registry_seeds.push_back(std::move(seed));
    return;
  }
  try {
    apply_registry_seed(*s.kernel, s.service, seed);
  } catch (const std::invalid_argument& e) {
    throw SessionError(e.what());
  }
}

std::optional<RegistryValue> Session::registry_value(const std::string& key, const std::string& name) const {
  if (!impl_->loaded) return std::nullopt;
  return read_registry_value(*impl_->kernel, impl_->service, key, name);
}

bool Session::registry_key_exists(const std::string& key) const {
  return impl_->loaded && harness::registry_key_exists(*impl_->kernel, impl_->service, key);
}

bool Session::stopped() const { return impl_->machine && impl_->machine->stopped(); }

template <class Fn>
void Session::as_client(Fn fn, std::string_view service) {
  Impl& s = *impl_;
  if (!s.loaded) throw SessionError("a client request before load");
  emu::Machine& m = *s.machine;
  if (!s.client_thread) {
    const nt::ps::ProcessRecord& p = s.kernel->ps().create_user_process("client.exe");
    // The client's primary token: a user process starts as `user`; `admin`
    // (--as, a scenario's as:) replaces it.
    if (s.client_token != ClientToken::User) s.kernel->ps().set_process_token(p.pid, token_kind(s.client_token));
    s.client_pid = p.pid;
    s.client_thread = s.kernel->ps().create_user_thread(p.pid).tid;
  }
  // A system call: the client's thread enters the kernel with PreviousMode
  // UserMode at PASSIVE_LEVEL; the current process is the client.
  uint32_t previous = m.current_thread().id;
  m.switch_to(s.client_thread);
  m.set_irql(irql::kPassive);
  bool disarm_after = s.trigger_armed;
  bool running = !m.stopped();
  s.guarded(fn);
  // Back to user mode: a thread returning from a system call above
  // PASSIVE_LEVEL (a driver left a spin lock held or the IRQL raised) is
  // IRQL_GT_ZERO_AT_SYSTEM_SERVICE (P1 the service, P2 the IRQL).
  if (!m.stopped() && m.irql() != irql::kPassive) {
    auto address = s.kernel->modules().routine_address(service);
    m.bugcheck(0x4A, address ? address->value : 0, m.irql(), 0, 0, GuestVa{});
  }
  // Every step records itself after its request ran: it is the next one.
  if (running && m.stopped()) s.stopped_in_step = s.result.steps.size();
  // close_during arms its trigger for one request only.
  if (disarm_after) {
    s.kernel->modules().disarm_trigger();
    s.trigger_armed = false;
  }
  m.switch_to(previous);
}

void Session::close_during(uint64_t handle, const std::string& api) {
  Impl& s = *impl_;
  StepResult step;
  step.op = "close_during";
  step.target = fmt::format("{:#x} at {}", handle, api);
  size_t index = s.result.steps.size();
  s.result.steps.push_back(step);
  if (!s.loaded || !s.machine || s.machine->stopped()) return;
  s.trigger_armed = true;
  s.kernel->modules().arm_trigger(api, [&s, handle, index] {
    // The client's NtClose, as another of its threads would make it racing
    // the request: PreviousMode UserMode, the client's handle table.
    emu::Machine& m = *s.machine;
    const nt::ps::ProcessRecord* client = s.kernel->ps().process(s.client_pid);
    if (!client) return;
    uint32_t space = m.current_thread().space_process_id;
    GuestVa process{m.memory().read<uint64_t>(m.current_thread().ethread + emu::kthread::kApcStateProcess)};
    ProcessorMode mode = m.previous_mode();
    m.attach_current_thread(client->pid, client->eprocess);
    m.set_previous_mode(ProcessorMode::UserMode);
    NtStatus status = s.kernel->ob().close_handle(handle, ProcessorMode::UserMode).value_or(STATUS_INVALID_HANDLE);
    m.set_previous_mode(mode);
    m.attach_current_thread(space, process);
    s.result.steps[index].status = status;
  });
}

namespace {
// A Win32 path as RtlDosPathNameToNtPathName makes it native: \\.\Name and
// \\?\Name are \??\Name (the latter unchanged otherwise); a drive path
// "C:\dir\..\f.txt" has '/' read as '\', repeated separators and "." dropped
// and ".." applied (never above the drive's root), then becomes \??\C:\f.txt.
// Anything else is already native.
std::u16string native_path(const std::string& path) {
  std::string p = path;
  if (p.rfind(R"(\\.\)", 0) == 0 || p.rfind(R"(\\?\)", 0) == 0) return nt::to_utf16(R"(\??\)" + p.substr(4));
  bool drive = p.size() >= 2 && std::isalpha(static_cast<unsigned char>(p[0])) && p[1] == ':' &&
               (p.size() == 2 || p[2] == '\\' || p[2] == '/');
  if (!drive) return nt::to_utf16(p);
  std::vector<std::string> parts;
  std::string part;
  auto flush = [&] {
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    part.clear();
  };
  for (size_t i = 2; i < p.size(); ++i) {
    if (p[i] == '\\' || p[i] == '/') flush();
    else part.push_back(p[i]);
  }
  flush();
  std::string native = R"(\??\)" + p.substr(0, 2) + "\\";
  for (size_t i = 0; i < parts.size(); ++i) native += (i ? "\\" : "") + parts[i];
  return nt::to_utf16(native);
}
}  // namespace

Session::OpenOutcome Session::open(const std::string& path, uint32_t desired_access) {
  Impl& s = *impl_;
  OpenOutcome out;
  StepResult step;
  step.op = "open";
  step.target = path;
  if (s.machine && !s.machine->stopped()) {
    as_client([&] {
      nt::io::OpenRequest request;
      request.path = native_path(path);
      request.desired_access = desired_access;
      nt::io::IoResult r = s.kernel->io().open(request, &out.handle);
      out.pending = r.pending;
      if (!r.pending) out.status = r.status;
      step.information = r.information;
    }, "NtCreateFile");
  }
  step.status = out.status;
  step.pending = out.pending;
  step.handle = out.handle;
  s.result.steps.push_back(step);
  if (out.status && nt_success(*out.status) && out.handle) {
    s.handle_paths[out.handle] = s.opened_paths.size();
    s.opened_paths.push_back({path, desired_access});
  }
  return out;
}

Session::FileOutcome Session::open_file(const std::string& path, uint32_t desired_access, bool create) {
  Impl& s = *impl_;
  FileOutcome out;
  StepResult step;
  step.op = "file";
  step.target = path;
  if (s.machine && !s.machine->stopped()) {
    as_client([&] {
      nt::io::OpenRequest request;
      request.path = native_path(path);
      // CreateFile adds SYNCHRONIZE and FILE_READ_ATTRIBUTES to what is asked.
      request.desired_access = desired_access | 0x100000 | 0x80;
      request.disposition = create ? 0x3 /* FILE_OPEN_IF */ : 0x1 /* FILE_OPEN */;
      request.options = 0x20 | 0x40;  // FILE_SYNCHRONOUS_IO_NONALERT | FILE_NON_DIRECTORY_FILE
      request.file_attributes = 0x80;  // FILE_ATTRIBUTE_NORMAL
      nt::io::IoResult r = s.kernel->io().open(request, &out.handle);
      out.pending = r.pending;
      if (!r.pending) out.status = r.status;
      out.information = r.information;
    }, "NtCreateFile");
  }
  step.status = out.status;
  step.pending = out.pending;
  step.handle = out.handle;
  step.information = out.information;
  s.result.steps.push_back(step);
  return out;
}

NtStatus Session::close(uint64_t handle) {
  Impl& s = *impl_;
  NtStatus status = STATUS_INVALID_HANDLE;
  if (s.machine && !s.machine->stopped()) {
    as_client([&] {
      // NtClose from the client: PreviousMode UserMode rules (semantics.md §3).
      status = s.kernel->ob().close_handle(handle, ProcessorMode::UserMode).value_or(STATUS_INVALID_HANDLE);
    }, "NtClose");
  }
  if (nt_success(status)) s.handle_paths.erase(handle);
  StepResult step;
  step.op = "close";
  step.target = fmt::format("{:#x}", handle);
  step.status = status;
  s.result.steps.push_back(step);
  return status;
}

Session::OpenOutcome Session::open_process(std::optional<uint32_t> pid, uint32_t desired_access) {
  Impl& s = *impl_;
  OpenOutcome out;
  StepResult step;
  step.op = "open_process";
  step.target = pid ? std::to_string(*pid) : "client";
  if (s.machine && !s.machine->stopped()) {
    as_client([&] {
      // NtOpenProcess with a CLIENT_ID naming the process: an unknown id is
      // STATUS_INVALID_CID; the open itself is a UserMode one, checked against
      // the process's descriptor with the client's token.
      const nt::ps::ProcessRecord* p = s.kernel->ps().process(pid.value_or(s.client_pid));
      if (!p) {
        out.status = STATUS_INVALID_CID;
        return;
      }
      out.status = nt::ps::open_process_object(*s.kernel, p->object, desired_access, 0, ProcessorMode::UserMode,
                                               &out.handle);
    }, "NtOpenProcess");
  }
  step.status = out.status;
  step.handle = out.handle;
  s.result.steps.push_back(step);
  return out;
}

Session::OpenOutcome Session::duplicate(uint64_t handle, uint32_t options, uint32_t desired_access) {
  Impl& s = *impl_;
  OpenOutcome out;
  if (s.machine && !s.machine->stopped()) {
    as_client([&] {
      uint64_t target = 0;
      out.status = s.kernel->ob().duplicate_handle(s.client_pid, handle, s.client_pid, desired_access, 0, options,
                                                   ProcessorMode::UserMode, &target);
      out.handle = target;
    }, "NtDuplicateObject");
  }
  StepResult step;
  step.op = "duplicate";
  step.target = fmt::format("{:#x}", handle);
  step.status = out.status;
  step.handle = out.handle;
  s.result.steps.push_back(step);
  return out;
}

Session::IoctlOutcome Session::ioctl(const IoctlRequest& request) {
  Impl& s = *impl_;
  IoctlOutcome out;
  StepResult step;
  step.op = "ioctl";
  step.target = fmt::format("{:#x}", request.handle);
  step.code = request.code;
  uint64_t request_id = 0;
  if (s.machine && !s.machine->stopped()) {
    as_client([&] {
      GuestVa in = s.place_buffer(request.input, 0, request.input_placement);
      GuestVa outbuf = s.place_buffer(request.output, request.output_length, request.output_placement);
      out.input_address = in.value;
      out.output_address = outbuf.value;
      uint32_t in_len = request.input_length.value_or(static_cast<uint32_t>(request.input.size()));
      nt::io::IoResult r = s.kernel->io().device_control(request.handle, request.code, in, in_len, outbuf,
                                                         request.output_length);
      request_id = r.request;
      out.pending = r.pending;
      if (!r.pending) out.status = r.status;
      out.information = r.information;
      out.output.resize(request.output_length);
      if (!s.machine->memory().read(outbuf, out.output.data(), out.output.size())) out.output.clear();
    }, "NtDeviceIoControlFile");
  }
  step.status = out.status;
  step.pending = out.pending;
  step.information = out.information;
  step.output_hex = report::hex_bytes(out.output);
  s.result.steps.push_back(std::move(step));
  if (auto it = s.handle_paths.find(request.handle); it != s.handle_paths.end())
    s.sent_ioctls.push_back({it->second, request});
  s.release_request_buffers(out.pending);
  s.track_pending(request_id, GuestVa{out.output_address}, request.output_length, false);
  s.refresh_pending_steps();
  return out;
}

uint64_t Session::client_buffer(const std::vector<uint8_t>& bytes, uint32_t length, Placement placement) {
  Impl& s = *impl_;
  GuestVa at;
  if (s.machine && !s.machine->stopped()) {
    as_client([&] {
      at = s.place_buffer(bytes, length, placement);
      // Kept: never handed back for reuse by a later request.
      s.request_buffers.clear();
    }, "NtAllocateVirtualMemory");
  }
  StepResult step;
  step.op = "buffer";
  step.target = at.hex();
  if (at || placement == Placement::Null) step.status = STATUS_SUCCESS;
  s.result.steps.push_back(step);
  return at.value;
}

Session::IoctlOutcome Session::read(uint64_t handle, uint32_t length, std::optional<int64_t> offset,
                                    Placement placement) {
  return transfer(handle, false, {}, length, offset, placement);
}

Session::IoctlOutcome Session::write(uint64_t handle, const std::vector<uint8_t>& data,
                                     std::optional<int64_t> offset, Placement placement) {
  return transfer(handle, true, data, static_cast<uint32_t>(data.size()), offset, placement);
}

Session::IoctlOutcome Session::transfer(uint64_t handle, bool is_write, const std::vector<uint8_t>& data,
                                        uint32_t length, std::optional<int64_t> offset, Placement placement) {
  Impl& s = *impl_;
  IoctlOutcome out;
  StepResult step;
  step.op = is_write ? "write" : "read";
  step.target = fmt::format("{:#x}", handle);
  uint64_t request_id = 0;
  if (s.machine && !s.machine->stopped()) {
    as_client([&] {
      GuestVa buffer = s.place_buffer(data, length, placement);
      out.output_address = buffer.value;
      nt::io::IoResult r = s.kernel->io().read_write(handle, is_write, buffer, length, offset);
      request_id = r.request;
      out.pending = r.pending;
      if (!r.pending) out.status = r.status;
      out.information = r.information;
      if (!is_write) {
        // For a read, output_hex is the bytes read.
        out.output.resize(std::min<uint64_t>(r.information, length));
        if (!s.machine->memory().read(buffer, out.output.data(), out.output.size())) out.output.clear();
      }
    }, is_write ? "NtWriteFile" : "NtReadFile");
  }
  step.status = out.status;
  step.pending = out.pending;
  step.information = out.information;
  step.output_hex = report::hex_bytes(out.output);
  s.result.steps.push_back(step);
  s.release_request_buffers(out.pending);
  s.track_pending(request_id, GuestVa{out.output_address}, is_write ? 0 : length, !is_write);
  s.refresh_pending_steps();
  return out;
}

Session::EventOutcome Session::create_event(bool synchronization, bool signaled, uint32_t access) {
  Impl& s = *impl_;
  EventOutcome out;
  if (s.machine && !s.machine->stopped()) {
    as_client([&] {
      // NtCreateEvent by the client: an unnamed event, a handle in its table.
      out.status = nt::ex::create_event(*s.kernel, {}, access,
                                        synchronization ? nt::ex::kSynchronizationEvent : nt::ex::kNotificationEvent,
                                        signaled, ProcessorMode::UserMode, &out.handle);
    }, "NtCreateEvent");
  }
  StepResult step;
  step.op = "event";
  step.target = synchronization ? "synchronization" : "notification";
  step.status = out.status;
  step.handle = out.handle;
  s.result.steps.push_back(step);
  return out;
}

Session::EventOutcome Session::create_section(uint64_t size, std::optional<uint64_t> file, uint32_t access) {
  Impl& s = *impl_;
  EventOutcome out;
  if (s.machine && !s.machine->stopped()) {
    const auto& mapping = nt::ob::descriptor(nt::ob::TypeIndex::Section).mapping;
    uint32_t protect = (nt::ob::map_generic(access, mapping) & nt::mm::kSectionMapWrite) ? nt::mm::kPageReadWrite
                                                                                          : nt::mm::kPageReadOnly;
    as_client([&] {
      uint64_t section_size = 0;
      out.status = nt::mm::create_section(*s.kernel, ProcessorMode::UserMode, {}, access,
                                          size ? std::optional<uint64_t>(size) : std::nullopt, protect,
                                          nt::mm::kSecCommit, file.value_or(0), &out.handle, &section_size);
    }, "NtCreateSection");
  }
  StepResult step;
  step.op = "section";
  step.target = file ? fmt::format("file handle {:#x}", *file) : fmt::format("{} bytes", size);
  step.status = out.status;
  step.handle = out.handle;
  s.result.steps.push_back(step);
  return out;
}

void Session::run_pending() {
  Impl& s = *impl_;
  if (s.machine && !s.machine->stopped()) {
    s.guarded([&] { s.kernel->scheduler().run_pending(); });
    if (s.machine->stopped()) s.stopped_in_step = s.result.steps.size();
  }
  StepResult step;
  step.op = "run_pending";
  step.status = STATUS_SUCCESS;
  s.result.steps.push_back(step);
  s.refresh_pending_steps();
}

void Session::advance_time_ms(uint64_t ms) {
  Impl& s = *impl_;
  if (s.machine && !s.machine->stopped()) {
    s.guarded([&] {
      s.kernel->scheduler().advance_time(ms * 10'000);
      s.kernel->scheduler().run_pending();
    });
    if (s.machine->stopped()) s.stopped_in_step = s.result.steps.size();
  }
  StepResult step;
  step.op = "advance_time";
  step.target = fmt::format("{} ms", ms);
  step.status = STATUS_SUCCESS;
  s.result.steps.push_back(step);
  s.refresh_pending_steps();
}

std::optional<NtStatus> Session::cancel(uint64_t handle) {
  Impl& s = *impl_;
  StepResult step;
  step.op = "cancel";
  step.target = fmt::format("{:#x}", handle);
  if (s.machine && !s.machine->stopped()) {
    as_client([&] {
      // NtCancelIoFile from the client (PreviousMode UserMode).
      nt::io::IoResult r = s.kernel->io().cancel_file_io(handle);
      step.pending = r.pending;
      if (!r.pending) step.status = r.status;
    }, "NtCancelIoFile");
  }
  s.result.steps.push_back(step);
  s.refresh_pending_steps();
  return s.result.steps.back().status;
}

void Session::add_step(StepResult step) { impl_->result.steps.push_back(std::move(step)); }

void Session::expect_last_step(std::optional<uint32_t> status, std::optional<uint64_t> information) {
  Impl& s = *impl_;
  if (s.result.steps.empty() || (!status && !information)) return;
  size_t index = s.result.steps.size() - 1;
  s.expectations[index] = {status, information};
  s.check_expectation(index);
}

void Session::mark_last_step_expectation(bool ok) {
  if (!impl_->result.steps.empty()) impl_->result.steps.back().expect_ok = ok;
}

const RunResult& Session::run(const std::string& path) {
  load(path);
  driver_entry();
  // Without a scenario, the client opens every named device the driver
  // created and closes it again (cli.md).
  if (impl_->entry_succeeded && !stopped()) {
    std::vector<std::string> names;
    for (const DeviceInfo& d : impl_->result.devices)
      if (!d.name.empty()) names.push_back(d.name);
    for (const std::string& name : names) {
      OpenOutcome o = open(name);
      if (o.status && nt_success(*o.status) && o.handle) close(o.handle);
      if (stopped()) break;
    }
  }
  unload();
  return result();
}

const RunResult& Session::result() {
  impl_->refresh_pending_steps();
  impl_->finalize();
  return impl_->result;
}

void Session::as_client_call(std::string_view service, const std::function<void()>& fn) {
  as_client([&] { fn(); }, service);
}

void Session::probe_unknown_requests() {
  Impl& s = *impl_;
  if (s.probed || !s.loaded || s.unloaded || !s.entry_succeeded || !s.machine || s.machine->stopped()) return;
  s.probed = true;
  ProbePlan plan;
  plan.unhandled_success = check_enabled(s.options, "irp.unhandled-success");
  plan.code_masked = check_enabled(s.options, "irp.ioctl-code-masked");
  plan.insecure_open = check_enabled(s.options, "irp.insecure-open");
  plan.use_after_cleanup = check_enabled(s.options, "irp.use-after-cleanup");
  if (!plan.unhandled_success && !plan.code_masked && !plan.insecure_open && !plan.use_after_cleanup) return;
  plan.machine = s.machine.get();
  plan.kernel = s.kernel.get();
  plan.engine = s.engine.get();
  plan.driver_object = s.driver_object.value;
  plan.token = s.client_token;
  plan.opened = s.opened_paths;
  plan.ioctls = s.sent_ioctls;
  s.result.probe.ran = true;
  // Nothing to send (no device opened, no namespace open to try): no copy needed.
  bool namespace_candidate = false;
  if (plan.insecure_open)
    for (const nt::io::DeviceView& d : s.kernel->io().devices_of(s.driver_object))
      if (!d.name.empty() && !(d.characteristics & nt::io::kFileDeviceSecureOpen)) namespace_candidate = true;
  if (plan.opened.empty() && !namespace_candidate) return;

  // The probe runs on a copy of the machine: a forked process holds the
  // emulated machine, the kernel's bookkeeping and the verifier as they are
  // now, sends its requests there and hands back only its findings, so
  // nothing it does (driver state, pool, handles, debug output, a crash)
  // reaches the run the scenario showed.
  int fds[2];
  if (pipe(fds) != 0) return;
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t child = fork();
  if (child < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return;
  }
  if (child == 0) {
    ::close(fds[0]);
    size_t before = s.engine->findings().size();
    uint64_t requests = 0;
    try {
      requests = send_probe_requests(*this, plan);
    } catch (const std::exception&) {
      // A host-side failure ends the probe; what it found so far still counts.
    }
    // The probe's own verdicts. Other checks' findings on its synthetic
    // requests (replays carrying inputs the scenario's later steps made
    // stale, other placements) are not what the run showed: left out.
    std::vector<Finding> found;
    for (size_t i = before; i < s.engine->findings().size(); ++i) {
      const Finding& f = s.engine->findings()[i];
      if (f.check == "irp.unhandled-success" || f.check == "irp.ioctl-code-masked" ||
          f.check == "irp.insecure-open" || f.check == "irp.use-after-cleanup")
        found.push_back(f);
    }
    // A request that crashed the copy is the crash Windows would have.
    if (s.machine->stop() && s.machine->stop()->bugcheck) {
      const emu::BugcheckRecord& b = *s.machine->stop()->bugcheck;
      Finding crash = s.bugcheck_finding(b, s.describe(b), s.machine->stop()->message);
      if (auto rq = verifier::request_checks::last_request(s.engine->request_probe())) {
        if (rq->ioctl) crash.context.ioctl = rq->ioctl;
        crash.message += fmt::format(" (kemu's unknown-request probe, on a copy of the machine after the run: the "
                                     "request of major function {:#x}{})",
                                     rq->major, rq->ioctl ? fmt::format(", control code {:#010x}", rq->ioctl) : "");
      }
      found.insert(found.begin(), std::move(crash));
    }
    std::string bytes = encode_probe_result(requests, found);
    for (size_t at = 0; at < bytes.size();) {
      ssize_t n = ::write(fds[1], bytes.data() + at, bytes.size() - at);
      if (n <= 0) break;
      at += static_cast<size_t>(n);
    }
    ::close(fds[1]);
    _exit(0);
  }
  ::close(fds[1]);
  std::string bytes;
  char chunk[65536];
  for (;;) {
    ssize_t n = ::read(fds[0], chunk, sizeof chunk);
    if (n > 0) bytes.append(chunk, static_cast<size_t>(n));
    else if (n == 0 || errno != EINTR) break;
  }
  ::close(fds[0]);
  int wstatus = 0;
  while (waitpid(child, &wstatus, 0) < 0 && errno == EINTR) {
  }
  uint64_t requests = 0;
  std::vector<Finding> found;
  if (decode_probe_result(bytes, &requests, &found)) {
    s.result.probe.requests = requests;
    s.probe_findings = std::move(found);
  }
}

}  // namespace kemu::harness
