// The emulated machine: one x86-64 CPU (Unicorn), the guest address space,
// the kernel pool, the processor block (KPCR/KPRCB) behind GS, threads with
// their IRQL and kernel stacks, KUSER_SHARED_DATA with virtual time, the trap
// bridge that turns `int 0x2e` thunks into C++ handlers, interception of the
// privileged instructions Unicorn does not model (CR8 = IRQL; rdmsr/wrmsr
// and in/out reach emulator/hardware.cpp's MSRs and ports), and the
// instruction and wall-clock budgets that end a run with a precise reason.
#pragma once

#include <capstone/capstone.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "emulator/address_space.h"
#include "emulator/cpu.h"
#include "emulator/pool.h"
#include "emulator/types.h"
#include "emulator/unwind.h"

namespace kemu::emu {

class Machine;

// Receives the traps of the thunks bound to it (the kernel's API bridge).
class TrapTarget {
 public:
  virtual ~TrapTarget() = default;
  virtual void on_trap(Machine& machine, uint32_t id) = 0;
};

// Receives the data accesses guest instructions make to the watched ranges
// (Machine::watch_accesses): the verifier's view of user memory.
class AccessObserver {
 public:
  virtual ~AccessObserver() = default;
  // `rip` is the accessing instruction; a read of an unmapped address is
  // reported too (before the fault it takes).
  virtual void guest_access(GuestVa rip, GuestVa address, uint32_t size, bool write) = 0;
};

// A frame an exception raised at some RIP would be offered to: its function
// has an exception handler (UNW_FLAG_EHANDLER) that covers the frame's PC.
struct HandlerFrame {
  GuestVa control_pc;  // the faulting RIP for the first frame, else the return address
  GuestVa image_base;
  GuestVa handler;       // the language handler
  GuestVa handler_data;  // what follows the handler RVA (a C scope table)
};

// A loaded image kemu can symbolise addresses against.
struct Module {
  std::string name;
  GuestVa base;
  uint64_t size = 0;
  std::vector<std::pair<uint32_t, std::string>> symbols;  // (rva, name), sorted by rva
  std::vector<RuntimeFunctionEntry> functions;  // .pdata, sorted by begin
  GuestVa pdata;                                // the mapped exception directory
  bool contains(GuestVa va) const { return va >= base && va < base + size; }
};

// An exception to raise into the guest (EXCEPTION_RECORD contents).
struct ExceptionInfo {
  uint32_t code = 0;
  uint32_t flags = 0;
  GuestVa address;
  std::vector<uint64_t> params;
  GuestVa location;  // where a report points (the driver's call for a raising routine); default: address
};

struct Symbolized {
  std::string module;
  uint64_t offset = 0;  // RVA in module
  std::string symbol;   // nearest preceding symbol, may be empty
  uint64_t symbol_offset = 0;
  std::string text() const;  // "hello.sys+0x1234" or "ntoskrnl.exe!DbgPrint+0x2"
};

enum class StopKind { Bugcheck, Timeout, InstructionLimit, Deadlock, Unimplemented, Error };

struct BugcheckRecord {
  uint32_t code = 0;
  uint64_t params[4] = {};
  GuestVa rip;  // faulting instruction or the call site
  RegisterContext registers;
  uint32_t thread = 0;   // the thread running when it happened
  uint32_t process = 0;  // its process id
  uint8_t irql = 0;
  std::vector<GuestVa> stack;  // return addresses, innermost first
};

struct Stop {
  StopKind kind = StopKind::Error;
  std::string message;
  std::optional<BugcheckRecord> bugcheck;
};

// What kind of code the current thread is running, which decides the
// bugcheck code of an unhandled exception (semantics.md §4).
enum class ExecutionContext : uint8_t { SystemThread, SystemService, Dpc };

struct Thread {
  uint32_t id = 0;
  bool terminated = false;
  uint32_t process_id = 0;
  GuestVa ethread;   // ETHREAD body (KTHREAD first)
  GuestVa eprocess;  // owning EPROCESS body
  // The process whose user half is visible while the thread runs: its own,
  // or the one it is attached to (KeStackAttachProcess).
  uint32_t space_process_id = 0;
  bool system = true;
  uint8_t irql = irql::kPassive;
  ExecutionContext context = ExecutionContext::SystemThread;
  GuestVa stack_base;   // highest address (exclusive)
  GuestVa stack_limit;  // lowest mapped address
  RegisterContext registers;
};

struct MachineOptions {
  uint64_t max_instructions = 200'000'000;
  double timeout_seconds = 60.0;
  uint64_t guest_memory_cap = 3ull << 30;
  uint64_t pool_cap = 1ull << 30;
};

// A driver instruction that reached the hardware: rdmsr/wrmsr (`target` is
// ECX, `value` EDX:EAX) or in/out (`target` is the port, `size` its width in
// bytes, `value` what was written or will be read). Observers hear it before
// it takes effect, so a finding precedes the bugcheck the write may cause.
struct HardwareAccess {
  enum class Kind : uint8_t { ReadMsr, WriteMsr, PortIn, PortOut } kind = Kind::ReadMsr;
  GuestVa rip;
  uint32_t target = 0;
  uint32_t size = 0;
  uint64_t value = 0;
};

// A privileged instruction kemu emulates in place of the CPU.
struct PrivilegedSite {
  enum class Kind : uint8_t { ReadCr8, WriteCr8, ReadCr3, Rdmsr, Wrmsr } kind;
  uint8_t reg = 0;     // GPR index for the CR moves
  uint8_t length = 0;  // original instruction length
};

class Machine {
 public:
  static constexpr uint8_t kApiTrapVector = 0x2E;
  static constexpr uint8_t kPrivilegedTrapVector = 0x2F;
  static constexpr uint64_t kThunkSize = 16;
  static constexpr GuestVa kKpcrBase{0xFFFF'F800'0100'0000ull};
  static constexpr GuestVa kStackArena{0xFFFF'D000'0000'0000ull};
  static constexpr GuestVa kMachineThunks{0xFFFF'F800'0200'0000ull};
  static constexpr uint64_t kKernelStackSize = 0x6000;  // KERNEL_STACK_SIZE
  // FILETIME of the emulated boot: 2024-01-01T00:00:00Z.
  static constexpr uint64_t kBootSystemTime = 133'485'408'000'000'000ull;
  static constexpr uint64_t kTimeIncrement = 156'250;  // 15.625 ms per tick
  static constexpr uint64_t kInstructionsPer100ns = 100;  // virtual 1 GHz CPU

  explicit Machine(MachineOptions options = {});
  ~Machine();
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;

  AddressSpace& memory() { return space_; }
  const AddressSpace& memory() const { return space_; }
  Cpu& cpu() { return cpu_; }
  Pool& pool() { return pool_; }
  const MachineOptions& options() const { return options_; }

  // --- traps ---------------------------------------------------------------
  // Writes the 16-byte thunk (`int 0x2e; ret; int3...`) at dst.
  static void write_thunk(uint8_t* dst);
  void bind_trap(GuestVa thunk, TrapTarget* target, uint32_t id);
  // The thunk address of a trap bound with bind_trap, looked up by id.
  // Rewrites privileged instructions in [begin, begin+size) into traps.
  size_t instrument_privileged(GuestVa begin, uint64_t size);
  const std::map<uint64_t, PrivilegedSite>& privileged_sites() const { return privileged_; }

  // --- inside a trap: Win64 arguments and result ---------------------------
  uint64_t arg(unsigned index) const;  // 0..3 registers, then the stack
  void set_return(uint64_t value);
  GuestVa return_address() const;  // [rsp] while a thunk traps
  GuestVa call_site() const;       // the call instruction that reached the thunk (best effort)

  // --- threads -------------------------------------------------------------
  // Creates a thread with a fresh kernel stack; ethread/eprocess are laid out
  // by the process manager. The first thread created becomes current.
  Thread& create_thread(uint32_t id, uint32_t process_id, GuestVa ethread, GuestVa eprocess,
                        bool system);
  Thread& current_thread() { return *threads_.at(current_); }
  const Thread& current_thread() const { return *threads_.at(current_); }
  Thread* find_thread(uint32_t id);
  void switch_to(uint32_t id);
  // KeAttachProcess / KeStackAttachProcess for the current thread: the user
  // half and KTHREAD.ApcState.Process become `eprocess`'s (pid `process_id`).
  void attach_current_thread(uint32_t process_id, GuestVa eprocess);
  uint8_t irql() const { return current_thread().irql; }
  void set_irql(uint8_t value);
  ProcessorMode previous_mode() const;
  void set_previous_mode(ProcessorMode mode);

  // --- running guest code --------------------------------------------------
  // Calls fn(args...) on the current thread and runs until it returns.
  // Returns RAX, or nullopt when the machine stopped (see stop()).
  // May be called from inside a trap handler: the call then runs nested on
  // the current thread below the current stack pointer (or below
  // `stack_top`), and the interrupted context is restored afterwards.
  // Returns nullopt when the machine stopped or an exception unwound past
  // this call (a control transfer to an outer frame is pending).
  std::optional<uint64_t> call(GuestVa fn, std::initializer_list<uint64_t> args);
  std::optional<uint64_t> call(GuestVa fn, const std::vector<uint64_t>& args,
                               std::optional<uint64_t> stack_top = std::nullopt);
  bool in_trap() const { return hook_depth_ > 0; }

  // --- free-running threads -------------------------------------------------
  // Sets a thread up to start at `start(argument)` with its return address
  // at the thread-exit thunk (bind a trap there to end the thread).
  void prepare_thread_start(uint32_t id, GuestVa start, uint64_t argument);
  GuestVa thread_exit_thunk() const { return kMachineThunks + kThunkSize; }
  // Runs thread `id` from its saved context until it suspends, ends its run
  // or the machine stops; the previously current thread is current again
  // afterwards. May be called from inside a trap handler (nested).
  void run_thread(uint32_t id);
  // Inside a trap handler of a run: true when the current thread can be
  // suspended (its run made no nested call that is still active).
  bool can_suspend_current() const;
  // Suspends the current thread at the trapping thunk: when it runs again,
  // the routine is called again with the same arguments (restartable waits).
  void suspend_current();
  // Ends the current run (the thread terminated).
  void end_current_run();
  bool thread_busy(uint32_t id) const;  // has frames of kemu calls or runs on the host stack

  // --- interrupts: DPCs and timers at safe points ----------------------------
  // The kernel's hook, run at the next safe point after request_interrupt()
  // or when the IRQL drops below DISPATCH_LEVEL.
  void set_interrupt_handler(std::function<void()> handler) { interrupt_handler_ = std::move(handler); }
  void request_interrupt();
  // Virtual time (interrupt time) at which the next timer expires.
  void set_next_timer(uint64_t interrupt_time) { next_timer_ = interrupt_time; }

  // --- exceptions (machine_exceptions.cpp) ---------------------------------
  // RtlDispatchException: builds the EXCEPTION_RECORD and CONTEXT on the
  // thread's stack and offers the exception to each frame's language handler
  // (found through .pdata). When it returns, either the machine stopped (no
  // handler: bugcheck 0x7E / 0x3B / 0x1E) or the context to continue with is
  // in place (applied here, or by the outer call level it belongs to).
  void raise_exception(const ExceptionInfo& info, const RegisterContext& context);
  // RtlUnwindEx: unwinds from the exception being dispatched (or from the
  // caller's frame when none is) up to target_frame, calling each frame's
  // termination handlers, then continues at target_ip with RAX = return_value.
  // target_frame 0 is an exit unwind. exception_record may be null.
  void unwind(uint64_t target_frame, GuestVa target_ip, GuestVa exception_record,
              uint64_t return_value);
  // The register context of the caller of the trapped routine (rip = return
  // address, rsp above it): what RtlCaptureContext reports.
  RegisterContext caller_context() const;
  // Return addresses of the frames above `regs` (unwinding by .pdata).
  std::vector<GuestVa> walk_stack(const RegisterContext& regs) const;
  // Guest CONTEXT conversions.
  void write_context(GuestVa at, const RegisterContext& ctx);
  RegisterContext read_context(GuestVa at) const;
  // The frames with an exception handler that RtlDispatchException would walk
  // for an exception raised with `regs` (innermost first, across kemu's call
  // boundaries as the dispatcher crosses them); no guest code runs.
  std::vector<HandlerFrame> handler_frames(const RegisterContext& regs) const;
  // The module and RUNTIME_FUNCTION covering va (RtlLookupFunctionEntry).
  const Module* module_at(GuestVa va) const;
  const RuntimeFunctionEntry* function_entry(GuestVa va, const Module** module = nullptr,
                                             GuestVa* entry_address = nullptr) const;

  // --- watches for the verifier ---------------------------------------------
  // A write watch: `on_write(address, size, rip)` runs before each guest
  // instruction's write that overlaps [begin, begin+size), with the writing
  // instruction's address. kemu's own host writes (AddressSpace::write) are
  // not seen: they are not guest instructions.
  using WriteWatch = std::function<void(GuestVa address, uint32_t size, GuestVa rip)>;
  uint64_t add_write_watch(GuestVa begin, uint64_t size, WriteWatch on_write);
  // The same for reads and writes alike.
  using AccessWatch = std::function<void(GuestVa address, uint32_t size, GuestVa rip, bool write)>;
  uint64_t add_access_watch(GuestVa begin, uint64_t size, AccessWatch on_access);
  // An execution watch: `on_block(address)` runs when guest code enters a
  // basic block that starts inside [begin, begin+size) (e.g. a driver's
  // pageable section); removed with remove_watch like the others.
  using BlockWatch = std::function<void(GuestVa block)>;
  uint64_t add_block_watch(GuestVa begin, uint64_t size, BlockWatch on_block);
  void remove_watch(uint64_t id);
  // A fault observer: told of every page fault of guest code (the faulting
  // instruction, the address, whether it wrote) before kemu decides what
  // Windows does with it; it cannot change that decision.
  using FaultObserver = std::function<void(GuestVa rip, GuestVa address, bool write)>;
  uint64_t add_fault_observer(FaultObserver observer);
  void remove_fault_observer(uint64_t id);
  // Told when a guest access faulted on a guard page or a freed block of the
  // pool's guarded placement (Pool::resolve_guard_fault); the access was then
  // made possible and the instruction runs again, as on plain Windows, where
  // that memory is mapped.
  using PoolGuardObserver = std::function<void(const Pool::GuardFault& hit, GuestVa rip, GuestVa address, bool write)>;
  void set_pool_guard_observer(PoolGuardObserver observer) { pool_guard_observer_ = std::move(observer); }

  // A hardware observer: told of every rdmsr/wrmsr and in/out a guest
  // instruction executes (emulator/hardware.cpp), before its effect.
  using HardwareObserver = std::function<void(const HardwareAccess&)>;
  uint64_t add_hardware_observer(HardwareObserver observer);
  void remove_hardware_observer(uint64_t id);

  // --- model-specific registers and I/O ports (emulator/hardware.cpp) -------
  // The MSRs the emulated CPU implements, with their current values; any other
  // MSR does not exist on it (rdmsr/wrmsr raise #GP).
  std::optional<uint64_t> msr(uint32_t index) const;

  // --- stopping ------------------------------------------------------------
  void request_stop(Stop stop);
  // KeBugCheckEx semantics: ends the run with code/params at `where`.
  void bugcheck(uint32_t code, uint64_t p1, uint64_t p2, uint64_t p3, uint64_t p4, GuestVa where,
                const RegisterContext* registers = nullptr);
  bool stopped() const { return stop_.has_value(); }
  const std::optional<Stop>& stop() const { return stop_; }

  // --- watching guest accesses (the verifier) -------------------------------
  // Until unwatch_accesses(), every data read and write a guest instruction
  // makes inside one of `ranges` ([first, last], inclusive) goes to
  // `observer`. kemu's own accesses (AddressSpace reads and writes from the
  // host) never do. Nothing is hooked until the first watch; afterwards the
  // hooks of the last ranges stay installed, inert, so watching them again
  // (once per client request) costs no Unicorn call.
  void watch_accesses(const std::vector<std::pair<GuestVa, GuestVa>>& ranges, AccessObserver* observer);
  void unwatch_accesses();
  bool watching() const { return observer_ != nullptr; }
  // Counts basic blocks entered: accesses with the same serial were made by
  // one straight run of instructions (no branch, call or trap in between).
  uint64_t block_serial() const { return blocks_; }

  // --- modules and symbols -------------------------------------------------
  void add_module(Module module);
  // Unmaps a driver image and remembers its range: executing or touching it
  // later is DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS (0xCE).
  void unload_module(GuestVa base);
  const std::vector<Module>& modules() const { return modules_; }
  std::optional<Symbolized> symbolize(GuestVa va) const;
  std::string disassemble_one(GuestVa va) const;  // "mov qword ptr [rax], rcx" or ""

  // --- time and statistics -------------------------------------------------
  uint64_t instructions() const { return instructions_; }
  uint64_t interrupt_time() const;  // 100 ns units since boot
  uint64_t system_time() const { return kBootSystemTime + interrupt_time(); }
  void advance_time(uint64_t units_100ns);
  uint64_t api_calls() const { return api_calls_; }
  void count_api_call() { ++api_calls_; }
  std::vector<GuestVa>& breakpoints() { return breakpoints_; }

  // Guest address of the KPCR and of KUSER_SHARED_DATA.
  GuestVa kpcr() const { return kKpcrBase; }

 private:
  static void hook_interrupt(uc_engine* uc, uint32_t intno, void* self);
  static void hook_block(uc_engine* uc, uint64_t address, uint32_t size, void* self);
  static bool hook_invalid_memory(uc_engine* uc, uc_mem_type type, uint64_t address, int size,
                                  int64_t value, void* self);
  static void hook_watched(uc_engine* uc, uc_mem_type type, uint64_t address, int size, int64_t value,
                           void* self);
  void on_watched(uc_mem_type type, uint64_t address, int size);
  void remove_watch_hooks();
  void on_interrupt(uint32_t intno);
  void on_block(uint64_t address, uint32_t size);
  void on_privileged(const PrivilegedSite& site);
  void on_msr(bool write, GuestVa rip);
  static uint32_t hook_port_in(uc_engine* uc, uint32_t port, int size, void* self);
  static void hook_port_out(uc_engine* uc, uint32_t port, int size, uint32_t value, void* self);
  void notify_hardware(const HardwareAccess& access);
  void setup_hardware();
  void handle_fault(uc_err err);
  void update_shared_time();
  void setup_processor_block();
  void setup_shared_data();
  uint32_t count_instructions(uint64_t address, uint32_t size);
  void unhandled_exception(const ExceptionInfo& info, const RegisterContext& context,
                           const std::string& what, GuestVa record = GuestVa{},
                           GuestVa context_record = GuestVa{});
  // Frame walking shared by dispatch and unwind.
  struct FrameCursor {
    RegisterContext ctx;
    size_t level;  // the call level whose stack the frame is on
  };
  struct FrameStep {
    enum Kind { Frame, End, Invalid } kind = End;
    const Module* module = nullptr;
    const RuntimeFunctionEntry* function = nullptr;
    GuestVa function_address;
    UnwindResult unwind;
    size_t level = 0;
    std::string error;
  };
  FrameStep step_frame(FrameCursor& cursor, uint32_t handler_type) const;
  void apply_transfer_if_mine();

  MachineOptions options_;
  Cpu cpu_;
  AddressSpace space_;
  Pool pool_;
  csh capstone_ = 0;

  struct TrapBinding {
    TrapTarget* target;
    uint32_t id;
  };
  std::unordered_map<uint64_t, TrapBinding> traps_;
  std::map<uint64_t, PrivilegedSite> privileged_;
  GuestVa return_thunk_;  // where a host-initiated call returns to

  std::map<uint32_t, std::unique_ptr<Thread>> threads_;
  uint32_t current_ = 0;
  uint32_t stacks_allocated_ = 0;

  // Host-initiated call bookkeeping.
  struct PendingCall {
    uint64_t expected_rsp;
    bool returned = false;
    uint64_t value = 0;
    std::optional<RegisterContext> outer;  // the interrupted context of a nested call
    uint32_t tid = 0;
  };
  struct ActiveRun {
    uint32_t tid;
    size_t call_level;  // calls_.size() when the run started
    bool ended = false;
    uint64_t resume_rip = 0;  // set by suspend_current: where the thread resumes
  };
  std::vector<ActiveRun> runs_;
  std::function<void()> interrupt_handler_;
  bool interrupt_pending_ = false;
  bool in_interrupt_ = false;
  uint64_t next_timer_ = ~0ull;
  void run_loop(size_t level, const std::function<bool()>& done);
  void deliver_interrupt();
  std::vector<PendingCall> calls_;
  int hook_depth_ = 0;

  // Exceptions being dispatched (innermost last) and a pending transfer of
  // control to a call level (set by unwind or ContinueExecution).
  struct ActiveDispatch {
    size_t level;
    RegisterContext context;
    GuestVa record;
    GuestVa context_record;
    uint64_t call_top;
  };
  std::vector<ActiveDispatch> dispatches_;
  struct Transfer {
    size_t level;
    RegisterContext context;
  };
  std::optional<Transfer> transfer_;

  std::optional<Stop> stop_;
  struct Fault {
    uc_mem_type type;
    uint64_t address;
  };
  std::optional<Fault> last_fault_;
  struct WriteWatchEntry {
    Machine* machine = nullptr;
    GuestVa begin;
    uint64_t size = 0;
    AccessWatch on_access;
    uc_hook hook = 0;
  };
  uint64_t add_watch(GuestVa begin, uint64_t size, int hook_types, AccessWatch on_access);
  static void hook_watched_block(uc_engine* uc, uint64_t address, uint32_t size, void* entry);
  static void hook_watched_access(uc_engine* uc, uc_mem_type type, uint64_t address, int size, int64_t value,
                                  void* entry);
  std::map<uint64_t, std::unique_ptr<WriteWatchEntry>> write_watches_;
  // Removed watches are kept until the next add: one may be removed from
  // inside its own callback.
  std::vector<std::unique_ptr<WriteWatchEntry>> retired_watches_;
  std::map<uint64_t, FaultObserver> fault_observers_;
  std::map<uint64_t, HardwareObserver> hardware_observers_;
  PoolGuardObserver pool_guard_observer_;
  uint64_t next_watch_id_ = 1;
  std::map<uint32_t, uint64_t> msrs_;  // the MSRs the emulated CPU has

  // watch_accesses: the Unicorn hooks and who hears about them.
  AccessObserver* observer_ = nullptr;
  std::vector<uc_hook> watch_hooks_;
  std::vector<std::pair<uint64_t, uint64_t>> watched_;
  // A read that crosses a page is replayed by Unicorn as two aligned reads
  // (hooked again): those halves are not the instruction's own accesses.
  struct SplitRead {
    uint64_t rip = 0;
    uint64_t halves[2] = {};
    int size = 0;
  };
  SplitRead split_{};

  std::vector<Module> modules_;
  std::vector<Module> unloaded_;
  std::vector<GuestVa> breakpoints_;

  uint64_t instructions_ = 0;
  uint64_t api_calls_ = 0;
  uint64_t time_offset_ = 0;  // advance_time() jumps
  uint64_t blocks_ = 0;
  std::chrono::steady_clock::time_point started_;
  bool clock_started_ = false;
  uint8_t* shared_data_ = nullptr;
  uint64_t shared_time_written_ = ~0ull;  // interrupt time last written to KUSER_SHARED_DATA

  struct BlockCount {
    uint64_t address = ~0ull;
    uint32_t size = 0;
    uint32_t count = 0;
  };
  std::vector<BlockCount> block_cache_;
};

}  // namespace kemu::emu
