// The dispatcher: one emulated CPU with cooperative, deterministic
// scheduling of system threads, DPCs, timers and work items over the
// dispatcher objects drivers keep in their own memory (KEVENT, KMUTANT,
// KSEMAPHORE, KTIMER, thread and process objects, each behind a real
// DISPATCHER_HEADER).
//
// A wait that cannot be satisfied either suspends the waiting thread (when
// its host frames allow: the wait trap is re-executed when it runs again) or
// runs the other ready work inline until it is satisfied. Signalling grants
// objects to waiters in wait order at once, as KiWaitTest does. With nothing
// left to run, virtual time jumps to the next timer or wait deadline; if
// there is none, the run ends with reason `deadlock`.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "emulator/machine.h"
#include "emulator/ntstatus.h"
#include "emulator/types.h"

namespace kemu::nt {
class Kernel;
}

namespace kemu::nt::ke {

// DISPATCHER_HEADER.Type values.
namespace dispatcher_type {
constexpr uint8_t kNotificationEvent = 0;
constexpr uint8_t kSynchronizationEvent = 1;
constexpr uint8_t kMutant = 2;
constexpr uint8_t kProcess = 3;
constexpr uint8_t kQueue = 4;
constexpr uint8_t kSemaphore = 5;
constexpr uint8_t kThread = 6;
constexpr uint8_t kNotificationTimer = 8;
constexpr uint8_t kSynchronizationTimer = 9;
}  // namespace dispatcher_type

// KTIMER / KMUTANT / KSEMAPHORE / KDPC field offsets (wdm.h, x64).
namespace offsets {
constexpr uint64_t kTimerDueTime = 0x18;
constexpr uint64_t kTimerDpc = 0x30;
constexpr uint64_t kTimerPeriod = 0x3C;
constexpr uint64_t kMutantOwnerThread = 0x28;
constexpr uint64_t kMutantAbandoned = 0x30;
constexpr uint64_t kSemaphoreLimit = 0x18;
constexpr uint64_t kDpcImportance = 0x1;
constexpr uint64_t kDpcRoutine = 0x18;
constexpr uint64_t kDpcContext = 0x20;
constexpr uint64_t kDpcArgument1 = 0x28;
constexpr uint64_t kDpcArgument2 = 0x30;
constexpr uint64_t kDpcData = 0x38;
}  // namespace offsets

struct WaitRecord {
  std::vector<GuestVa> objects;
  bool wait_all = false;
  bool delay = false;                 // KeDelayExecutionThread: success when the time is up
  std::optional<uint64_t> deadline;   // interrupt time
  uint64_t sequence = 0;              // wait order
  std::optional<NtStatus> result;     // granted by a signal or a timeout
  bool suspended = false;             // the thread is suspended on its wait trap
  bool alertable = false;             // as the caller asked; no APC ever alerts it
};

struct TimerRecord {
  GuestVa timer;
  uint64_t due = 0;  // interrupt time
  uint64_t sequence = 0;
  uint32_t period_ms = 0;
  GuestVa dpc;
};

struct WorkItem {
  GuestVa routine;
  std::vector<uint64_t> args;
  GuestVa referenced_object;  // device object kept referenced until the routine returns
  GuestVa item;
};

class Scheduler : public emu::TrapTarget {
 public:
  explicit Scheduler(Kernel& kernel);
  // Creates the system worker thread and installs the machine's hooks.
  void initialize();

  // --- waits ---------------------------------------------------------------
  // KeWaitForSingleObject/MultipleObjects/KeDelayExecutionThread. `timeout`
  // is the raw LARGE_INTEGER (negative: relative, positive: absolute system
  // time) or nullopt for none.
  // `alertable` is recorded (kemu delivers no APCs, so no wait is alerted).
  NtStatus wait(const std::vector<GuestVa>& objects, bool wait_all, std::optional<int64_t> timeout,
                bool delay = false, bool alertable = false);
  // After a state change: grant signalled objects to waiters in wait order.
  void signal_test();
  // True while thread `tid` is suspended in a wait: when it runs again, the
  // routine that waited is called again and must skip its pre-wait steps
  // (lock routines count themselves as waiters before waiting).
  // The I/O manager waiting for a request it sent on behalf of a client:
  // runs other work (and lets time move to timers) until `event` is
  // signalled; STATUS_PENDING when nothing left can signal it.
  NtStatus wait_for_completion(GuestVa event);

  bool wait_suspended(uint32_t tid) const {
    auto it = waits_.find(tid);
    return it != waits_.end() && it->second.suspended;
  }

  // --- timers and DPCs -----------------------------------------------------
  bool set_timer(GuestVa timer, int64_t due_time, uint32_t period_ms, GuestVa dpc);
  bool cancel_timer(GuestVa timer);
  bool insert_dpc(GuestVa dpc, uint64_t argument1, uint64_t argument2);
  bool remove_dpc(GuestVa dpc);
  void run_dpcs();  // drains the DPC queue at DISPATCH_LEVEL
  void advance_time(uint64_t units_100ns);

  // --- threads and work items ----------------------------------------------
  uint32_t create_system_thread(uint32_t pid, GuestVa start, uint64_t context);
  // PsTerminateSystemThread / a start routine returning.
  void terminate_current(NtStatus status);
  void queue_work(WorkItem item);

  // Runs queued DPCs, due timers, ready threads and work items until every
  // thread waits or has ended (cli.md `run_pending`).
  void run_pending();
  // One unit of progress; false when nothing could run. With allow_time_jump,
  // advances virtual time to the next timer or wait deadline when idle.
  bool step(bool allow_time_jump);

  // --- bookkeeping for unload ------------------------------------------------
  const std::vector<TimerRecord>& timers() const { return timers_; }
  const std::deque<GuestVa>& queued_dpcs() const { return dpcs_; }
  const std::deque<WorkItem>& queued_work() const { return work_; }
  std::vector<uint32_t> live_threads() const;  // free-running threads not yet ended
  uint32_t worker_thread() const { return worker_; }

  // The trap at the thread-exit thunk: a start routine returned.
  void on_trap(emu::Machine& machine, uint32_t id) override;

 private:
  bool is_signalled(GuestVa object, GuestVa thread) const;
  void acquire(GuestVa object, GuestVa thread);
  bool try_satisfy(uint32_t tid, WaitRecord& w);
  void fire_due_timers();
  void update_next_timer();
  std::optional<uint64_t> earliest_deadline() const;
  void on_interrupt();
  std::string describe_object(GuestVa object) const;

  Kernel& kernel_;
  std::map<uint32_t, WaitRecord> waits_;  // by thread id
  std::vector<uint32_t> free_running_;     // threads with their own guest code, in creation order
  std::vector<TimerRecord> timers_;
  std::deque<GuestVa> dpcs_;
  std::deque<WorkItem> work_;
  uint32_t worker_ = 0;
  uint64_t sequence_ = 0;
  size_t round_robin_ = 0;
  bool running_dpcs_ = false;
};

}  // namespace kemu::nt::ke
