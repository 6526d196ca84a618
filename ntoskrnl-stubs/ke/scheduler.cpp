#include "ntoskrnl-stubs/ke/scheduler.h"

#include <algorithm>

#include <fmt/format.h>

#include "emulator/machine.h"
#include "emulator/processor_layout.h"
#include "ntoskrnl-stubs/api/kernel_events.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/nt_structs.h"
#include "ntoskrnl-stubs/ob/object_manager.h"
#include "ntoskrnl-stubs/ps/process_manager.h"

namespace kemu::nt::ke {

namespace dt = dispatcher_type;
using layout::DISPATCHER_HEADER;

namespace {
constexpr uint32_t kWorkerThreadReturnedAtBadIrql = 0xE1;
constexpr int kMaxSteps = 1'000'000;  // a wait loop that makes this many steps is a livelock
}

Scheduler::Scheduler(Kernel& kernel) : kernel_(kernel) {}

void Scheduler::initialize() {
  worker_ = kernel_.ps().create_system_thread(ps::kSystemPid).tid;
  kernel_.machine().set_interrupt_handler([this] { on_interrupt(); });
  kernel_.machine().bind_trap(kernel_.machine().thread_exit_thunk(), this, 0);
}

void Scheduler::on_trap(emu::Machine& machine, uint32_t) {
  // PspSystemThreadStartup: a start routine that returns terminates its thread.
  terminate_current(static_cast<NtStatus>(machine.cpu().reg(UC_X86_REG_RAX)));
}

// --- dispatcher object state --------------------------------------------------

bool Scheduler::is_signalled(GuestVa object, GuestVa thread) const {
  auto& mem = kernel_.memory();
  auto h = mem.read<DISPATCHER_HEADER>(object);
  switch (h.Type) {
    case dt::kMutant:
      // A mutant is available when free or already owned by the waiter (recursion).
      return h.SignalState > 0 || mem.read<uint64_t>(object + offsets::kMutantOwnerThread) == thread.value;
    case dt::kNotificationEvent:
    case dt::kSynchronizationEvent:
    case dt::kSemaphore:
    case dt::kNotificationTimer:
    case dt::kSynchronizationTimer:
    case dt::kProcess:
    case dt::kThread:
      return h.SignalState > 0;
    default:
      return false;  // not a dispatcher object: nothing ever signals it
  }
}

void Scheduler::acquire(GuestVa object, GuestVa thread) {
  auto& mem = kernel_.memory();
  auto h = mem.read<DISPATCHER_HEADER>(object);
  switch (h.Type) {
    case dt::kSynchronizationEvent:
    case dt::kSynchronizationTimer:
      h.SignalState = 0;  // auto-reset objects satisfy one waiter
      break;
    case dt::kSemaphore:
      --h.SignalState;
      break;
    case dt::kMutant:
      --h.SignalState;
      mem.write<uint64_t>(object + offsets::kMutantOwnerThread, thread.value);
      break;
    default:
      return;  // notification objects stay signalled
  }
  mem.write(object, h);
}

bool Scheduler::try_satisfy(uint32_t tid, WaitRecord& w) {
  if (w.result) return true;
  const emu::Thread* t = kernel_.machine().find_thread(tid);
  GuestVa thread = t ? t->ethread : GuestVa{};
  if (!w.objects.empty()) {
    if (w.wait_all) {
      bool all = std::all_of(w.objects.begin(), w.objects.end(),
                             [&](GuestVa o) { return is_signalled(o, thread); });
      if (all) {
        for (GuestVa o : w.objects) acquire(o, thread);
        w.result = STATUS_SUCCESS;
        return true;
      }
    } else {
      for (size_t i = 0; i < w.objects.size(); ++i) {
        if (is_signalled(w.objects[i], thread)) {
          acquire(w.objects[i], thread);
          w.result = static_cast<NtStatus>(STATUS_SUCCESS + i);  // STATUS_WAIT_0 + index
          return true;
        }
      }
    }
  }
  if (w.deadline && kernel_.machine().interrupt_time() >= *w.deadline) {
    w.result = w.delay ? STATUS_SUCCESS : STATUS_TIMEOUT;
    return true;
  }
  return false;
}

void Scheduler::signal_test() {
  // Waiters are tested in the order they started waiting (KiWaitTest).
  std::vector<std::pair<uint64_t, uint32_t>> order;
  for (auto& [tid, w] : waits_)
    if (!w.result) order.emplace_back(w.sequence, tid);
  std::sort(order.begin(), order.end());
  for (auto& [seq, tid] : order) try_satisfy(tid, waits_.at(tid));
}

std::string Scheduler::describe_object(GuestVa object) const {
  auto h = kernel_.memory().try_read<DISPATCHER_HEADER>(object);
  if (!h) return fmt::format("object {} (unreadable)", object.hex());
  static const char* kNames[] = {"notification event", "synchronization event", "mutex", "process",
                                 "queue", "semaphore", "thread", "?", "notification timer",
                                 "synchronization timer"};
  const char* name = h->Type < 10 ? kNames[h->Type] : "non-dispatcher object";
  std::string where;
  if (auto s = kernel_.machine().symbolize(object)) where = " (" + s->text() + ")";
  return fmt::format("{} at {}{}", name, object.hex(), where);
}

// --- waits ----------------------------------------------------------------------

NtStatus Scheduler::wait(const std::vector<GuestVa>& objects, bool wait_all, std::optional<int64_t> timeout,
                         bool delay, bool alertable) {
  emu::Machine& m = kernel_.machine();
  uint32_t me = m.current_thread().id;
  auto it = waits_.find(me);
  if (it == waits_.end() || !it->second.suspended) {
    // A new wait. (A suspended one is this same wait, re-executed on resume.)
    WaitRecord w;
    w.objects = objects;
    w.wait_all = wait_all;
    w.delay = delay;
    w.alertable = alertable;
    w.sequence = ++sequence_;
    if (timeout) {
      uint64_t now = m.interrupt_time();
      if (*timeout < 0) w.deadline = now + static_cast<uint64_t>(-*timeout);
      else if (static_cast<uint64_t>(*timeout) <= emu::Machine::kBootSystemTime) w.deadline = now;
      else w.deadline = static_cast<uint64_t>(*timeout) - emu::Machine::kBootSystemTime;
    }
    it = waits_.insert_or_assign(me, std::move(w)).first;
  }
  it->second.suspended = false;
  for (int n = 0; n < kMaxSteps; ++n) {
    WaitRecord& w = waits_.at(me);
    if (try_satisfy(me, w)) {
      NtStatus result = *w.result;
      waits_.erase(me);
      return result;
    }
    if (m.stopped()) {
      waits_.erase(me);
      return STATUS_UNSUCCESSFUL;
    }
    if (m.can_suspend_current()) {
      // Give the CPU away; the wait routine runs again when this thread does.
      w.suspended = true;
      m.suspend_current();
      return STATUS_PENDING;
    }
    if (!step(true)) {
      // Nothing can run, no timer or deadline will come: this wait is forever.
      std::string what = w.objects.empty() ? std::string("nothing") : describe_object(w.objects.front());
      if (w.objects.size() > 1) what += fmt::format(" and {} more", w.objects.size() - 1);
      m.request_stop({emu::StopKind::Deadlock,
                      fmt::format("thread {} waits forever on {}: nothing left can signal it", me, what),
                      {}});
      waits_.erase(me);
      return STATUS_UNSUCCESSFUL;
    }
  }
  m.request_stop({emu::StopKind::Deadlock, fmt::format("thread {} livelocked in a wait", me), {}});
  waits_.erase(me);
  return STATUS_UNSUCCESSFUL;
}

NtStatus Scheduler::wait_for_completion(GuestVa event) {
  emu::Machine& m = kernel_.machine();
  for (int n = 0; n < kMaxSteps && !m.stopped(); ++n) {
    if (is_signalled(event, m.current_thread().ethread)) return STATUS_SUCCESS;
    if (!step(true)) break;
  }
  return is_signalled(event, m.current_thread().ethread) ? STATUS_SUCCESS : STATUS_PENDING;
}

// --- progress --------------------------------------------------------------------

std::optional<uint64_t> Scheduler::earliest_deadline() const {
  std::optional<uint64_t> best;
  for (const TimerRecord& t : timers_)
    if (!best || t.due < *best) best = t.due;
  for (auto& [tid, w] : waits_)
    if (!w.result && w.deadline && (!best || *w.deadline < *best)) best = *w.deadline;
  return best;
}

bool Scheduler::step(bool allow_time_jump) {
  emu::Machine& m = kernel_.machine();
  if (m.stopped()) return false;
  uint64_t now = m.interrupt_time();
  // 1. Due timers, then queued DPCs (the current IRQL must allow them).
  bool timers_due = std::any_of(timers_.begin(), timers_.end(), [&](auto& t) { return t.due <= now; });
  if (timers_due) {
    fire_due_timers();
    return true;
  }
  if (!dpcs_.empty() && m.irql() < irql::kDispatch && !running_dpcs_) {
    run_dpcs();
    return true;
  }
  // 2. A ready free-running thread (round robin, in creation order).
  size_t n = free_running_.size();
  for (size_t k = 0; k < n; ++k) {
    uint32_t tid = free_running_[(round_robin_ + k) % n];
    emu::Thread* t = m.find_thread(tid);
    if (!t || t->terminated || tid == m.current_thread().id || m.thread_busy(tid)) continue;
    auto w = waits_.find(tid);
    if (w != waits_.end() && !try_satisfy(tid, w->second)) continue;
    round_robin_ = (round_robin_ + k + 1) % n;
    m.run_thread(tid);
    return true;
  }
  // 3. A work item on the system worker thread.
  if (!work_.empty() && !m.thread_busy(worker_) && m.current_thread().id != worker_) {
    WorkItem item = work_.front();
    work_.pop_front();
    uint32_t previous = m.current_thread().id;
    m.switch_to(worker_);
    uint8_t irql = m.irql();
    m.set_irql(irql::kPassive);
    m.set_previous_mode(ProcessorMode::KernelMode);
    m.current_thread().context = emu::ExecutionContext::SystemThread;
    DriverCallback callback{CallbackKind::WorkItem, item.routine, item.item, m.irql()};
    if (kernel_.observed()) kernel_.publish([&](KernelListener& l) { l.callback_started(callback); });
    m.call(item.routine, item.args);
    if (kernel_.observed() && !m.stopped()) {
      callback.irql = m.irql();
      kernel_.publish([&](KernelListener& l) { l.callback_returned(callback); });
    }
    // A worker routine must return at PASSIVE_LEVEL: the system worker thread
    // bugchecks WORKER_THREAD_RETURNED_AT_BAD_IRQL (P1 the routine, P2 the
    // IRQL, P3 its parameter, P4 the work item) when it is still raised.
    if (!m.stopped() && m.irql() >= irql::kDispatch) {
      m.bugcheck(kWorkerThreadReturnedAtBadIrql, item.routine.value, m.irql(),
                 item.args.empty() ? 0 : item.args.back(), item.item.value, GuestVa{});
      m.switch_to(previous);
      return true;
    }
    m.set_irql(irql);
    m.switch_to(previous);
    if (item.referenced_object) {
      if (auto* r = kernel_.ob().by_body(item.referenced_object)) kernel_.ob().dereference(r->id);
    }
    return true;
  }
  // 4. Idle: let virtual time jump to the next timer or wait deadline.
  if (allow_time_jump) {
    if (auto next = earliest_deadline(); next && *next > now) {
      m.advance_time(*next - now);
      fire_due_timers();
      signal_test();
      return true;
    }
  }
  return false;
}

void Scheduler::run_pending() {
  for (int n = 0; n < kMaxSteps && step(false); ++n) {
  }
}

void Scheduler::advance_time(uint64_t units) {
  kernel_.machine().advance_time(units);
  fire_due_timers();
  signal_test();
}

// --- timers and DPCs -------------------------------------------------------------

void Scheduler::update_next_timer() {
  uint64_t next = ~0ull;
  for (const TimerRecord& t : timers_) next = std::min(next, t.due);
  kernel_.machine().set_next_timer(next);
}

bool Scheduler::set_timer(GuestVa timer, int64_t due_time, uint32_t period_ms, GuestVa dpc) {
  emu::Machine& m = kernel_.machine();
  bool was_set = cancel_timer(timer);
  uint64_t now = m.interrupt_time();
  uint64_t due;
  if (due_time < 0) due = now + static_cast<uint64_t>(-due_time);
  else if (static_cast<uint64_t>(due_time) <= emu::Machine::kBootSystemTime) due = now;
  else due = static_cast<uint64_t>(due_time) - emu::Machine::kBootSystemTime;
  auto& mem = kernel_.memory();
  auto h = mem.read<DISPATCHER_HEADER>(timer);
  h.SignalState = 0;
  mem.write(timer, h);
  mem.write<uint64_t>(timer + offsets::kTimerDueTime, due);
  mem.write<uint64_t>(timer + offsets::kTimerDpc, dpc.value);
  mem.write<uint32_t>(timer + offsets::kTimerPeriod, period_ms);
  timers_.push_back({timer, due, ++sequence_, period_ms, dpc});
  update_next_timer();
  return was_set;
}

bool Scheduler::cancel_timer(GuestVa timer) {
  auto it = std::find_if(timers_.begin(), timers_.end(), [&](auto& t) { return t.timer == timer; });
  if (it == timers_.end()) return false;
  timers_.erase(it);
  update_next_timer();
  return true;
}

void Scheduler::fire_due_timers() {
  emu::Machine& m = kernel_.machine();
  uint64_t now = m.interrupt_time();
  // Expire in due order; periodic timers are re-armed one period later.
  std::vector<TimerRecord> due;
  for (auto it = timers_.begin(); it != timers_.end();) {
    if (it->due <= now) {
      due.push_back(*it);
      it = timers_.erase(it);
    } else {
      ++it;
    }
  }
  std::sort(due.begin(), due.end(), [](auto& a, auto& b) { return std::tie(a.due, a.sequence) < std::tie(b.due, b.sequence); });
  auto& mem = kernel_.memory();
  for (TimerRecord& t : due) {
    auto h = mem.read<DISPATCHER_HEADER>(t.timer);
    h.SignalState = 1;
    mem.write(t.timer, h);
    if (t.period_ms) {
      TimerRecord again = t;
      again.due = t.due + static_cast<uint64_t>(t.period_ms) * 10'000;
      if (again.due <= now) again.due = now + 1;
      again.sequence = ++sequence_;
      timers_.push_back(again);
    }
    // The timer's DPC gets the expiration time as its system arguments.
    if (t.dpc) insert_dpc(t.dpc, static_cast<uint32_t>(m.system_time()), m.system_time() >> 32);
  }
  update_next_timer();
  signal_test();
}

bool Scheduler::insert_dpc(GuestVa dpc, uint64_t argument1, uint64_t argument2) {
  auto& mem = kernel_.memory();
  if (mem.read<uint64_t>(dpc + offsets::kDpcData) != 0) return false;  // already queued
  mem.write<uint64_t>(dpc + offsets::kDpcArgument1, argument1);
  mem.write<uint64_t>(dpc + offsets::kDpcArgument2, argument2);
  // DpcData points at the processor's DPC data while the DPC is queued.
  mem.write<uint64_t>(dpc + offsets::kDpcData, (kernel_.machine().kpcr() + 0x3000).value);
  if (mem.read<uint8_t>(dpc + offsets::kDpcImportance) == 2) dpcs_.push_front(dpc);  // HighImportance
  else dpcs_.push_back(dpc);
  return true;
}

bool Scheduler::remove_dpc(GuestVa dpc) {
  auto it = std::find(dpcs_.begin(), dpcs_.end(), dpc);
  if (it == dpcs_.end()) return false;
  dpcs_.erase(it);
  kernel_.memory().write<uint64_t>(dpc + offsets::kDpcData, 0);
  return true;
}

void Scheduler::run_dpcs() {
  if (running_dpcs_) return;
  emu::Machine& m = kernel_.machine();
  running_dpcs_ = true;
  auto& mem = kernel_.memory();
  while (!dpcs_.empty() && !m.stopped()) {
    GuestVa dpc = dpcs_.front();
    dpcs_.pop_front();
    mem.write<uint64_t>(dpc + offsets::kDpcData, 0);
    GuestVa routine{mem.read<uint64_t>(dpc + offsets::kDpcRoutine)};
    uint64_t context = mem.read<uint64_t>(dpc + offsets::kDpcContext);
    uint64_t a1 = mem.read<uint64_t>(dpc + offsets::kDpcArgument1);
    uint64_t a2 = mem.read<uint64_t>(dpc + offsets::kDpcArgument2);
    // DeferredRoutine(Dpc, DeferredContext, SystemArgument1, SystemArgument2) at DISPATCH_LEVEL.
    emu::Thread& t = m.current_thread();
    uint8_t irql = t.irql;
    auto exec = t.context;
    m.set_irql(irql::kDispatch);
    t.context = emu::ExecutionContext::Dpc;
    DriverCallback callback{CallbackKind::Dpc, routine, dpc, m.irql()};
    if (kernel_.observed()) kernel_.publish([&](KernelListener& l) { l.callback_started(callback); });
    m.call(routine, {dpc.value, context, a1, a2});
    if (kernel_.observed() && !m.stopped()) {
      callback.irql = m.irql();
      kernel_.publish([&](KernelListener& l) { l.callback_returned(callback); });
    }
    m.current_thread().context = exec;
    m.set_irql(irql);
  }
  running_dpcs_ = false;
}

void Scheduler::on_interrupt() {
  fire_due_timers();
  if (kernel_.machine().irql() < irql::kDispatch) run_dpcs();
}

// --- threads and work ---------------------------------------------------------------

uint32_t Scheduler::create_system_thread(uint32_t pid, GuestVa start, uint64_t context) {
  uint32_t tid = kernel_.ps().create_system_thread(pid).tid;
  kernel_.machine().prepare_thread_start(tid, start, context);
  free_running_.push_back(tid);
  return tid;
}

void Scheduler::terminate_current(NtStatus status) {
  emu::Machine& m = kernel_.machine();
  emu::Thread& t = m.current_thread();
  if (std::find(free_running_.begin(), free_running_.end(), t.id) == free_running_.end() ||
      !m.can_suspend_current()) {
    m.request_stop({emu::StopKind::Error,
                    fmt::format("PsTerminateSystemThread on thread {}, which is not a system thread "
                                "started by PsCreateSystemThread or is inside a nested call",
                                t.id),
                    {}});
    return;
  }
  // The thread object becomes signalled: waiters on the thread are released.
  auto& mem = kernel_.memory();
  auto h = mem.read<DISPATCHER_HEADER>(t.ethread);
  h.SignalState = 1;
  mem.write(t.ethread, h);
  waits_.erase(t.id);
  m.end_current_run();
  signal_test();
  (void)status;
}

void Scheduler::queue_work(WorkItem item) {
  if (item.referenced_object) {
    if (auto* r = kernel_.ob().by_body(item.referenced_object)) kernel_.ob().reference(r->id);
  }
  work_.push_back(std::move(item));
}

std::vector<uint32_t> Scheduler::live_threads() const {
  std::vector<uint32_t> out;
  for (uint32_t tid : free_running_) {
    const emu::Thread* t = kernel_.machine().find_thread(tid);
    if (t && !t->terminated) out.push_back(tid);
  }
  return out;
}

}  // namespace kemu::nt::ke
