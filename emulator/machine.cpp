#include "emulator/machine.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

#include "emulator/processor_layout.h"

namespace kemu::emu {

namespace {

// Capstone register id -> x64 GPR index (0 = rax ... 15 = r15), or -1.
int gpr_index(unsigned cs_reg) {
  switch (cs_reg) {
    case X86_REG_RAX: return 0;
    case X86_REG_RCX: return 1;
    case X86_REG_RDX: return 2;
    case X86_REG_RBX: return 3;
    case X86_REG_RSP: return 4;
    case X86_REG_RBP: return 5;
    case X86_REG_RSI: return 6;
    case X86_REG_RDI: return 7;
    case X86_REG_R8: return 8;
    case X86_REG_R9: return 9;
    case X86_REG_R10: return 10;
    case X86_REG_R11: return 11;
    case X86_REG_R12: return 12;
    case X86_REG_R13: return 13;
    case X86_REG_R14: return 14;
    case X86_REG_R15: return 15;
    default: return -1;
  }
}

constexpr uint32_t kBlockCacheSize = 1u << 16;

}  // namespace

std::string Symbolized::text() const {
  if (symbol.empty()) return fmt::format("{}+{:#x}", module, offset);
  if (symbol_offset == 0) return fmt::format("{}!{}", module, symbol);
  return fmt::format("{}!{}+{:#x}", module, symbol, symbol_offset);
}

Machine::Machine(MachineOptions options)
    : options_(options), space_(options.guest_memory_cap), pool_(space_, options.pool_cap) {
  space_.attach(cpu_.uc());
  if (cs_open(CS_ARCH_X86, CS_MODE_64, &capstone_) != CS_ERR_OK)
    throw std::runtime_error("capstone: cs_open failed");
  cs_option(capstone_, CS_OPT_DETAIL, CS_OPT_ON);
  block_cache_.resize(kBlockCacheSize);

  uc_hook h;
  uc_hook_add(cpu_.uc(), &h, UC_HOOK_INTR, reinterpret_cast<void*>(&Machine::hook_interrupt), this,
              1, 0);
  uc_hook_add(cpu_.uc(), &h, UC_HOOK_BLOCK, reinterpret_cast<void*>(&Machine::hook_block), this, 1,
              0);
  uc_hook_add(cpu_.uc(), &h, UC_HOOK_MEM_INVALID,
              reinterpret_cast<void*>(&Machine::hook_invalid_memory), this, 1, 0);
  // Unicorn leaves RIP at the start of the translation block after a memory
  // fault (unicorn#1323) unless a memory-access hook exists, which makes it
  // save RIP before every access. This no-op hook on address 0 alone buys an
  // exact faulting RIP (the exception CONTEXT and the bugcheck depend on it).
  uc_hook_add(cpu_.uc(), &h, UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE,
              reinterpret_cast<void*>(+[](uc_engine*, uc_mem_type, uint64_t, int, int64_t, void*) {}),
              nullptr, 0, 0);

  setup_processor_block();
  setup_shared_data();
  setup_hardware();

  // Machine-owned thunks: slot 0 is where host-initiated calls return to.
  Region& thunks = space_.map(kMachineThunks, kPageSize, Prot::ReadExec, RegionKind::KernelImage,
                              "kemu machine thunks");
  write_thunk(thunks.host);
  write_thunk(thunks.host + kThunkSize);  // thread exit: the kernel binds a trap to it
  return_thunk_ = kMachineThunks;
  started_ = std::chrono::steady_clock::now();
}

Machine::~Machine() {
  if (capstone_) cs_close(&capstone_);
}

void Machine::setup_processor_block() {
  space_.map(kKpcrBase, kpcr::kSize, Prot::ReadWrite, RegionKind::ProcessorBlock, "KPCR");
  space_.write<uint64_t>(kKpcrBase + kpcr::kSelf, kKpcrBase.value);
  space_.write<uint64_t>(kKpcrBase + kpcr::kCurrentPrcb, (kKpcrBase + kpcr::kPrcb).value);
  space_.write<uint16_t>(kKpcrBase + kpcr::kMajorVersion, 1);
  space_.write<uint16_t>(kKpcrBase + kpcr::kMinorVersion, 1);
  space_.write<uint32_t>(kKpcrBase + kpcr::kPrcb + kprcb::kNumber, 0);
  cpu_.set_reg(UC_X86_REG_GS_BASE, kKpcrBase.value);
}

void Machine::setup_shared_data() {
  namespace sd = shared_data;
  // Windows 10 20H1+ maps the kernel view of KUSER_SHARED_DATA read-only.
  Region& r = space_.map(GuestVa{layout::kSharedUserData}, sd::kSize, Prot::Read,
                         RegionKind::SharedData, "KUSER_SHARED_DATA");
  shared_data_ = r.host;
  auto put32 = [&](uint64_t off, uint32_t v) { std::memcpy(shared_data_ + off, &v, 4); };
  auto put16 = [&](uint64_t off, uint16_t v) { std::memcpy(shared_data_ + off, &v, 2); };
  auto put64 = [&](uint64_t off, uint64_t v) { std::memcpy(shared_data_ + off, &v, 8); };
  put32(sd::kTickCountMultiplier, 0x0FA00000);
  put16(sd::kImageNumberLow, 0x8664);
  put16(sd::kImageNumberHigh, 0x8664);
  const char16_t root[] = u"C:\\Windows";
  std::memcpy(shared_data_ + sd::kNtSystemRoot, root, sizeof(root));
  put32(sd::kNtBuildNumber, 19045);
  put32(sd::kNtProductType, 1);  // NtProductWinNt
  shared_data_[sd::kProductTypeIsValid] = 1;
  put16(sd::kNativeProcessorArchitecture, 9);  // PROCESSOR_ARCHITECTURE_AMD64
  put32(sd::kNtMajorVersion, 10);
  put32(sd::kNtMinorVersion, 0);
  put32(sd::kNumberOfPhysicalPages, 0x100000);  // 4 GiB
  put64(sd::kQpcFrequency, 10'000'000);
  put32(sd::kActiveProcessorCount, 1);
  update_shared_time();
  // The same page is mapped read-only at 0x7FFE0000 in every process's user
  // half (SharedUserData for user code): one set of bytes, two addresses; a
  // write through the user alias faults as a write to a read-only user page.
  space_.map_alias(GuestVa{layout::kSharedUserDataUserAlias}, r, 0, sd::kSize, Prot::Read, RegionKind::SharedData,
                   "KUSER_SHARED_DATA (user alias)");
}

uint64_t Machine::interrupt_time() const {
  return instructions_ / kInstructionsPer100ns + time_offset_;
}

void Machine::advance_time(uint64_t units_100ns) {
  time_offset_ += units_100ns;
  update_shared_time();
}

void Machine::update_shared_time() {
  namespace sd = shared_data;
  // KSYSTEM_TIME is written High2Time, LowPart, High1Time so that a reader
  // comparing High1Time and High2Time never sees a torn value.
  auto put_time = [&](uint64_t off, uint64_t value) {
    uint32_t low = static_cast<uint32_t>(value), high = static_cast<uint32_t>(value >> 32);
    std::memcpy(shared_data_ + off + 8, &high, 4);
    std::memcpy(shared_data_ + off, &low, 4);
    std::memcpy(shared_data_ + off + 4, &high, 4);
  };
  uint64_t it = interrupt_time();
  // Called for every basic block: the fields change only every 100 instructions.
  if (it == shared_time_written_) return;
  shared_time_written_ = it;
  put_time(sd::kInterruptTime, it);
  put_time(sd::kSystemTime, kBootSystemTime + it);
  uint64_t ticks = it / kTimeIncrement;
  put_time(sd::kTickCount, ticks);
  uint32_t low_ticks = static_cast<uint32_t>(ticks);
  std::memcpy(shared_data_ + sd::kTickCountLowDeprecated, &low_ticks, 4);
}

// ---------------------------------------------------------------------------
// Traps

void Machine::write_thunk(uint8_t* dst) {
  // int 0x2e ; ret ; int3 padding (a thunk is never entered anywhere but its start).
  std::memset(dst, 0xCC, kThunkSize);
  dst[0] = 0xCD;
  dst[1] = kApiTrapVector;
  dst[2] = 0xC3;
}

void Machine::bind_trap(GuestVa thunk, TrapTarget* target, uint32_t id) {
  traps_[thunk.value] = TrapBinding{target, id};
}

size_t Machine::instrument_privileged(GuestVa begin, uint64_t size) {
  uint8_t* code = space_.host(begin, size);
  if (!code) throw std::invalid_argument("instrument_privileged: range not in one region");
  cs_option(capstone_, CS_OPT_SKIPDATA, CS_OPT_ON);
  cs_insn* insn = cs_malloc(capstone_);
  const uint8_t* p = code;
  size_t left = size;
  uint64_t address = begin.value;
  std::vector<std::pair<uint64_t, PrivilegedSite>> found;
  while (cs_disasm_iter(capstone_, &p, &left, &address, insn)) {
    // rdmsr / wrmsr (0F 32 / 0F 30): the trap's two bytes replace them exactly.
    if ((insn->id == X86_INS_RDMSR || insn->id == X86_INS_WRMSR) && insn->size == 2) {
      found.push_back({insn->address,
                       {insn->id == X86_INS_WRMSR ? PrivilegedSite::Kind::Wrmsr : PrivilegedSite::Kind::Rdmsr, 0,
                        static_cast<uint8_t>(insn->size)}});
      continue;
    }
    if (insn->id == X86_INS_MOV && insn->detail && insn->detail->x86.op_count == 2) {
      const cs_x86_op& dst = insn->detail->x86.operands[0];
      const cs_x86_op& src = insn->detail->x86.operands[1];
      if (dst.type == X86_OP_REG && src.type == X86_OP_REG) {
        if (dst.reg == X86_REG_CR8 && gpr_index(src.reg) >= 0)
          found.push_back({insn->address,
                           {PrivilegedSite::Kind::WriteCr8, static_cast<uint8_t>(gpr_index(src.reg)),
                            static_cast<uint8_t>(insn->size)}});
        else if (src.reg == X86_REG_CR8 && gpr_index(dst.reg) >= 0)
          found.push_back({insn->address,
                           {PrivilegedSite::Kind::ReadCr8, static_cast<uint8_t>(gpr_index(dst.reg)),
                            static_cast<uint8_t>(insn->size)}});
        else if (src.reg == X86_REG_CR3 && gpr_index(dst.reg) >= 0)
          found.push_back({insn->address,
                           {PrivilegedSite::Kind::ReadCr3, static_cast<uint8_t>(gpr_index(dst.reg)),
                            static_cast<uint8_t>(insn->size)}});
      }
    }
  }
  cs_free(insn, 1);
  cs_option(capstone_, CS_OPT_SKIPDATA, CS_OPT_OFF);
  for (auto& [addr, site] : found) {
    // `int 0x2f` followed by one-byte NOPs over the rest of the instruction.
    uint8_t* at = code + (addr - begin.value);
    at[0] = 0xCD;
    at[1] = kPrivilegedTrapVector;
    std::memset(at + 2, 0x90, site.length - 2);
    privileged_[addr] = site;
  }
  if (!found.empty()) uc_ctl_remove_cache(cpu_.uc(), begin.value, begin.value + size);
  return found.size();
}

void Machine::hook_interrupt(uc_engine*, uint32_t intno, void* self) {
  static_cast<Machine*>(self)->on_interrupt(intno);
}

void Machine::hook_block(uc_engine*, uint64_t address, uint32_t size, void* self) {
  static_cast<Machine*>(self)->on_block(address, size);
}

bool Machine::hook_invalid_memory(uc_engine*, uc_mem_type type, uint64_t address, int size, int64_t,
                                  void* self) {
  auto* m = static_cast<Machine*>(self);
  m->last_fault_ = Fault{type, address};
  // Unicorn calls read hooks only for mapped memory (writes always): a watched
  // read of an unmapped address is reported here, before its fault.
  if (m->observer_ && type == UC_MEM_READ_UNMAPPED) {
    for (const auto& [first, last] : m->watched_)
      if (address >= first && address <= last) {
        m->on_watched(UC_MEM_READ, address, size);
        break;
      }
  }
  return false;  // stop; handle_fault() decides what Windows would do
}

void Machine::hook_watched(uc_engine*, uc_mem_type type, uint64_t address, int size, int64_t, void* self) {
  static_cast<Machine*>(self)->on_watched(type, address, size);
}

void Machine::on_watched(uc_mem_type type, uint64_t address, int size) {
  if (!observer_) return;
  bool write = type == UC_MEM_WRITE;
  uint64_t rip = cpu_.rip();
  if (!write) {
    if (split_.size == size && split_.rip == rip && (address == split_.halves[0] || address == split_.halves[1])) {
      if (address == split_.halves[1]) split_ = {};
      return;
    }
    split_ = {};
    if (size > 1 && page_down(address) != page_down(address + size - 1)) {
      uint64_t first = address & ~static_cast<uint64_t>(size - 1);
      split_ = {rip, {first, first + size}, size};
    }
  }
  observer_->guest_access(GuestVa{rip}, GuestVa{address}, static_cast<uint32_t>(size), write);
}

void Machine::watch_accesses(const std::vector<std::pair<GuestVa, GuestVa>>& ranges, AccessObserver* observer) {
  split_ = {};
  observer_ = observer;
  // The same ranges again (every client request watches the same ones): the
  // hooks are still installed, nothing to do in Unicorn.
  bool same = ranges.size() == watched_.size();
  for (size_t i = 0; same && i < ranges.size(); ++i)
    same = ranges[i].first.value == watched_[i].first && ranges[i].second.value == watched_[i].second;
  if (same) return;
  std::vector<std::pair<uint64_t, uint64_t>> wanted;
  for (const auto& [first, last] : ranges) wanted.emplace_back(first.value, last.value);
  remove_watch_hooks();
  for (const auto& [first, last] : wanted) {
    uc_hook h;
    if (uc_hook_add(cpu_.uc(), &h, UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE,
                    reinterpret_cast<void*>(&Machine::hook_watched), this, first, last) == UC_ERR_OK)
      watch_hooks_.push_back(h);
  }
  watched_ = std::move(wanted);
}

void Machine::unwatch_accesses() {
  // The hooks stay until other ranges are watched: with no observer their
  // callback returns at once, and watching again costs no Unicorn call.
  observer_ = nullptr;
  split_ = {};
}

void Machine::remove_watch_hooks() {
  for (uc_hook h : watch_hooks_) uc_hook_del(cpu_.uc(), h);
  watch_hooks_.clear();
  watched_.clear();
}

void Machine::on_interrupt(uint32_t intno) {
  ++hook_depth_;
  uint64_t rip = cpu_.rip();
  switch (intno) {
    case kApiTrapVector: {
      uint64_t thunk = rip - 2;
      if (thunk == return_thunk_.value) {
        if (calls_.empty()) {
          request_stop({StopKind::Error, "return to kemu with no call in progress", {}});
          break;
        }
        PendingCall& c = calls_.back();
        if (cpu_.rsp() != c.expected_rsp) {
          request_stop({StopKind::Error,
                        fmt::format("the called routine returned with rsp {:#x}, expected {:#x} "
                                    "(stack imbalance)",
                                    cpu_.rsp(), c.expected_rsp),
                        {}});
          break;
        }
        c.returned = true;
        c.value = cpu_.reg(UC_X86_REG_RAX);
        cpu_.stop();
        break;
      }
      auto it = traps_.find(thunk);
      if (it == traps_.end()) {
        request_stop({StopKind::Error, fmt::format("int 0x2e at {:#x} outside kemu's thunks", rip), {}});
        break;
      }
      ++api_calls_;
      try {
        it->second.target->on_trap(*this, it->second.id);
      } catch (const GuestAccessError& e) {
        // A kernel routine touched bad memory on the driver's behalf: a bad
        // kernel address bugchecks; a bad user address raises
        // STATUS_ACCESS_VIOLATION into the driver, as if the routine faulted.
        GuestVa where = call_site();
        if (is_kernel_address(e.address) && is_canonical(e.address)) {
          if (irql() >= irql::kDispatch)
            bugcheck(0xD1, e.address.value, irql(), e.write ? 1 : 0, where.value, where);
          else
            bugcheck(0x50, e.address.value, e.write ? 2 : 0, where.value, 2, where);
        } else {
          ExceptionInfo info;
          info.code = 0xC0000005;
          info.address = return_address();
          info.params = {e.write ? 1ull : 0ull,
                         is_canonical(e.address) ? e.address.value : ~0ull};
          info.location = where;
          RegisterContext ctx = cpu_.save();
          ctx.rip = thunk;  // the routine's frame: a leaf below the driver's call
          raise_exception(info, ctx);
        }
      } catch (const std::exception& e) {
        request_stop({StopKind::Error, fmt::format("internal error in a kernel routine: {}", e.what()), {}});
      }
      break;
    }
    case kPrivilegedTrapVector: {
      auto it = privileged_.find(rip - 2);
      if (it == privileged_.end()) {
        request_stop({StopKind::Error, fmt::format("int 0x2f at {:#x} outside instrumented code", rip), {}});
        break;
      }
      on_privileged(it->second);
      break;
    }
    case 3:  // int3 / DbgBreakPoint with no kernel debugger attached: recorded, execution goes on.
      breakpoints_.push_back(GuestVa{rip - 1});
      break;
    case 0x29:  // __fastfail(code): KERNEL_SECURITY_CHECK_FAILURE, P1 = the code (2 = /GS cookie).
      bugcheck(0x139, cpu_.reg(UC_X86_REG_RCX), 0, 0, 0, GuestVa{rip - 2});
      break;
    case 0x2C: {  // __assertfail / NT_ASSERT without a debugger: STATUS_ASSERTION_FAILURE.
      RegisterContext ctx = cpu_.save();
      ctx.rip = rip - 2;
      raise_exception({0xC0000420, 0, GuestVa{rip - 2}, {}}, ctx);
      break;
    }
    case 0x2D:  // debug service call: no debugger, nothing to do.
      break;
    case 0: {  // #DE: STATUS_INTEGER_DIVIDE_BY_ZERO at the faulting instruction.
      RegisterContext ctx = cpu_.save();
      raise_exception({0xC0000094, 0, GuestVa{ctx.rip}, {}}, ctx);
      break;
    }
    default: {
      RegisterContext ctx = cpu_.save();
      raise_exception({0xC0000096, 0, GuestVa{rip}, {}}, ctx);  // STATUS_PRIVILEGED_INSTRUCTION
      break;
    }
  }
  apply_transfer_if_mine();
  // Stop this run when the machine stopped or control goes to an outer call level.
  if (stop_ || (transfer_ && transfer_->level < calls_.size())) cpu_.stop();
  // The handler may have switched processes (and back): the interrupted code
  // resumes with the engine showing the current process's user half.
  space_.sync_engine();
  --hook_depth_;
}

void Machine::apply_transfer_if_mine() {
  if (transfer_ && transfer_->level == calls_.size()) {
    cpu_.restore(transfer_->context);
    transfer_.reset();
  }
}

void Machine::on_privileged(const PrivilegedSite& site) {
  int reg = uc_gpr(site.reg);
  switch (site.kind) {
    case PrivilegedSite::Kind::ReadCr8:
      cpu_.set_reg(reg, irql());
      break;
    case PrivilegedSite::Kind::WriteCr8: {
      uint8_t old = irql();
      set_irql(static_cast<uint8_t>(cpu_.reg(reg) & 0xF));
      // Lowering below DISPATCH_LEVEL lets queued DPCs run (here, in the trap).
      if (old >= irql::kDispatch && irql() < irql::kDispatch) deliver_interrupt();
      break;
    }
    case PrivilegedSite::Kind::ReadCr3: {
      uint64_t dtb = 0;
      const Thread& t = current_thread();
      if (t.eprocess) dtb = space_.read<uint64_t>(t.eprocess + eprocess::kDirectoryTableBase);
      cpu_.set_reg(reg, dtb);
      break;
    }
    case PrivilegedSite::Kind::Rdmsr:
    case PrivilegedSite::Kind::Wrmsr:
      on_msr(site.kind == PrivilegedSite::Kind::Wrmsr, GuestVa{cpu_.rip() - 2});
      break;
  }
}

void Machine::on_block(uint64_t address, uint32_t size) {
  instructions_ += count_instructions(address, size);
  update_shared_time();
  if (interrupt_time() >= next_timer_ && irql() < irql::kDispatch && !in_interrupt_) {
    next_timer_ = ~0ull;
    interrupt_pending_ = true;  // a timer expired: deliver at the next safe point
    cpu_.stop();
  }
  if (instructions_ > options_.max_instructions) {
    request_stop({StopKind::InstructionLimit,
                  fmt::format("instruction budget of {} exhausted", options_.max_instructions),
                  {}});
    cpu_.stop();
    return;
  }
  if ((++blocks_ & 0x3FFF) == 0) {
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    if (elapsed > options_.timeout_seconds) {
      request_stop({StopKind::Timeout,
                    fmt::format("wall-clock budget of {:g} s exhausted", options_.timeout_seconds),
                    {}});
      cpu_.stop();
    }
  }
}

uint32_t Machine::count_instructions(uint64_t address, uint32_t size) {
  BlockCount& slot = block_cache_[(address ^ (address >> 16)) & (kBlockCacheSize - 1)];
  if (slot.address == address && slot.size == size) return slot.count;
  uint32_t count = 0;
  if (const uint8_t* code = space_.host(GuestVa{address}, size)) {
    cs_option(capstone_, CS_OPT_DETAIL, CS_OPT_OFF);
    cs_insn* insn = cs_malloc(capstone_);
    const uint8_t* p = code;
    size_t left = size;
    uint64_t a = address;
    while (left > 0 && cs_disasm_iter(capstone_, &p, &left, &a, insn)) ++count;
    cs_free(insn, 1);
    cs_option(capstone_, CS_OPT_DETAIL, CS_OPT_ON);
  }
  if (count == 0) count = 1;
  slot = {address, size, count};
  return count;
}

// ---------------------------------------------------------------------------
// Arguments

uint64_t Machine::arg(unsigned index) const {
  switch (index) {
    case 0: return cpu_.reg(UC_X86_REG_RCX);
    case 1: return cpu_.reg(UC_X86_REG_RDX);
    case 2: return cpu_.reg(UC_X86_REG_R8);
    case 3: return cpu_.reg(UC_X86_REG_R9);
    default:
      // [rsp] is the return address, then 0x20 bytes of home space.
      return space_.read<uint64_t>(GuestVa{cpu_.rsp() + 8 + 8ull * index});
  }
}

void Machine::set_return(uint64_t value) { cpu_.set_reg(UC_X86_REG_RAX, value); }

GuestVa Machine::return_address() const {
  return GuestVa{space_.try_read<uint64_t>(GuestVa{cpu_.rsp()}).value_or(0)};
}

GuestVa Machine::call_site() const {
  GuestVa ret = return_address();
  if (!ret) return ret;
  // Find the call instruction that ends exactly at the return address.
  cs_insn* insn = cs_malloc(capstone_);
  GuestVa found = ret;
  for (unsigned len : {5u, 6u, 2u, 3u, 7u, 4u}) {
    const uint8_t* code = space_.host(ret - len, len);
    if (!code) continue;
    const uint8_t* p = code;
    size_t left = len;
    uint64_t a = ret.value - len;
    if (cs_disasm_iter(capstone_, &p, &left, &a, insn) && left == 0 && insn->id == X86_INS_CALL) {
      found = ret - len;
      break;
    }
  }
  cs_free(insn, 1);
  return found;
}

// ---------------------------------------------------------------------------
// Threads

Thread& Machine::create_thread(uint32_t id, uint32_t process_id, GuestVa ethread, GuestVa eprocess,
                               bool system) {
  // Kernel stacks sit 64 KiB apart with an unmapped guard below each.
  GuestVa limit = kStackArena + (static_cast<uint64_t>(stacks_allocated_++) * 0x10000) + kPageSize;
  space_.map(limit, kKernelStackSize, Prot::ReadWrite, RegionKind::Stack,
             fmt::format("kernel stack of thread {}", id));
  auto t = std::make_unique<Thread>();
  t->id = id;
  t->process_id = process_id;
  t->space_process_id = process_id;
  t->ethread = ethread;
  t->eprocess = eprocess;
  t->system = system;
  t->stack_limit = limit;
  t->stack_base = limit + kKernelStackSize;
  t->registers.rsp = t->stack_base.value - 0x100;
  if (ethread) {
    space_.write<uint64_t>(ethread + kthread::kInitialStack, t->stack_base.value);
    space_.write<uint64_t>(ethread + kthread::kStackLimit, t->stack_limit.value);
    space_.write<uint64_t>(ethread + kthread::kStackBase, t->stack_base.value);
  }
  Thread& ref = *t;
  bool first = threads_.empty();
  threads_[id] = std::move(t);
  if (first) {
    current_ = id;
    space_.write<uint64_t>(kKpcrBase + kpcr::kPrcb + kprcb::kCurrentThread, ethread.value);
    cpu_.restore(ref.registers);
  }
  return ref;
}

Thread* Machine::find_thread(uint32_t id) {
  auto it = threads_.find(id);
  return it == threads_.end() ? nullptr : it->second.get();
}

void Machine::switch_to(uint32_t id) {
  if (id == current_) return;
  Thread* next = find_thread(id);
  if (!next) throw std::invalid_argument(fmt::format("switch_to: no thread {}", id));
  current_thread().registers = cpu_.save();
  uint32_t previous_process = current_thread().space_process_id;
  current_ = id;
  cpu_.restore(next->registers);
  // The user half belongs to the current process (or the one the thread is attached to).
  if (previous_process != next->space_process_id) {
    space_.set_owner_visible(previous_process, false);
    space_.set_owner_visible(next->space_process_id, true);
  }
  space_.write<uint64_t>(kKpcrBase + kpcr::kPrcb + kprcb::kCurrentThread, next->ethread.value);
  space_.write<uint8_t>(kKpcrBase + kpcr::kIrql, next->irql);
}

void Machine::attach_current_thread(uint32_t process_id, GuestVa eprocess) {
  Thread& t = current_thread();
  if (t.space_process_id != process_id) {
    space_.set_owner_visible(t.space_process_id, false);
    space_.set_owner_visible(process_id, true);
    t.space_process_id = process_id;
  }
  space_.write<uint64_t>(t.ethread + kthread::kApcStateProcess, eprocess.value);
}

void Machine::set_irql(uint8_t value) {
  current_thread().irql = value;
  space_.write<uint8_t>(kKpcrBase + kpcr::kIrql, value);
}

ProcessorMode Machine::previous_mode() const {
  const Thread& t = current_thread();
  if (!t.ethread) return ProcessorMode::KernelMode;
  return space_.read<uint8_t>(t.ethread + kthread::kPreviousMode) ? ProcessorMode::UserMode
                                                                  : ProcessorMode::KernelMode;
}

void Machine::set_previous_mode(ProcessorMode mode) {
  const Thread& t = current_thread();
  if (t.ethread) space_.write<uint8_t>(t.ethread + kthread::kPreviousMode, static_cast<uint8_t>(mode));
}

// ---------------------------------------------------------------------------
// Calls

std::optional<uint64_t> Machine::call(GuestVa fn, std::initializer_list<uint64_t> args) {
  return call(fn, std::vector<uint64_t>(args), std::nullopt);
}

std::optional<uint64_t> Machine::call(GuestVa fn, const std::vector<uint64_t>& args,
                                      std::optional<uint64_t> stack_top) {
  if (stop_) return std::nullopt;
  if (threads_.empty()) throw std::logic_error("Machine::call with no thread");
  if (calls_.size() >= 64) {
    request_stop({StopKind::Error, "kernel-to-driver call nesting deeper than 64 levels", {}});
    return std::nullopt;
  }
  // Nested when the thread already runs guest code below us (a trap handler,
  // a DPC at a safe point); otherwise a fresh call at the top of its stack.
  bool nested = thread_busy(current_);
  RegisterContext saved = cpu_.save();
  Thread& t = current_thread();
  // A top-level call starts near the top of the thread's stack; a nested one
  // below the interrupted frame. The Win64 ABI wants rsp = 8 (mod 16) at
  // entry, with 0x20 bytes of home space above the return address followed
  // by the stack arguments.
  uint64_t top = stack_top ? *stack_top : (nested ? saved.rsp - 0x100 : t.stack_base.value - 0x40);
  uint64_t slots = std::max<size_t>(args.size(), 4);
  uint64_t entry_rsp = ((top - 8 * slots) & ~0xFull) - 8;
  if (entry_rsp < t.stack_limit.value + 0x200 || entry_rsp >= t.stack_base.value) {
    // Kernel stack exhausted: UNEXPECTED_KERNEL_MODE_TRAP with a double fault.
    bugcheck(0x7F, 8, 0, 0, 0, GuestVa{saved.rip});
    return std::nullopt;
  }
  space_.write<uint64_t>(GuestVa{entry_rsp}, return_thunk_.value);
  for (size_t i = 0; i < args.size(); ++i)
    space_.write<uint64_t>(GuestVa{entry_rsp + 8 + 8 * i}, args[i]);
  static const int kArgRegs[4] = {UC_X86_REG_RCX, UC_X86_REG_RDX, UC_X86_REG_R8, UC_X86_REG_R9};
  for (size_t i = 0; i < 4; ++i) cpu_.set_reg(kArgRegs[i], i < args.size() ? args[i] : 0);
  cpu_.set_reg(UC_X86_REG_RSP, entry_rsp);
  cpu_.set_reg(UC_X86_REG_RIP, fn.value);

  PendingCall pending{entry_rsp + 8};
  if (nested) pending.outer = saved;
  pending.tid = current_;
  calls_.push_back(pending);
  const size_t level = calls_.size();
  int saved_depth = hook_depth_;
  hook_depth_ = 0;
  run_loop(level, [this] { return calls_.back().returned; });
  hook_depth_ = saved_depth;
  PendingCall done = calls_.back();
  calls_.pop_back();
  cpu_.restore(saved);
  if (!done.returned) return std::nullopt;
  return done.value;
}

// Runs the CPU until `done`, the machine stops, or control must go to an
// outer call level; faults are dispatched and interrupts delivered here.
void Machine::run_loop(size_t level, const std::function<bool()>& done) {
  while (!done() && !stop_ && !(transfer_ && transfer_->level < level)) {
    last_fault_.reset();
    space_.sync_engine();  // the current process's user half, as the engine must see it
    uc_err err = cpu_.start(cpu_.rip());
    if (err != UC_ERR_OK) {
      handle_fault(err);
    } else if (interrupt_pending_) {
      deliver_interrupt();
    } else if (!done() && !stop_ && !transfer_) {
      GuestVa rip{cpu_.rip()};
      request_stop({StopKind::Error,
                    fmt::format("emulation halted at {} ({}) without returning",
                                symbolize(rip) ? symbolize(rip)->text() : rip.hex(),
                                disassemble_one(rip)),
                    {}});
    }
    apply_transfer_if_mine();
  }
}

void Machine::request_interrupt() {
  interrupt_pending_ = true;
  if (hook_depth_ > 0) cpu_.stop();
}

void Machine::deliver_interrupt() {
  interrupt_pending_ = false;
  if (in_interrupt_ || !interrupt_handler_) return;
  in_interrupt_ = true;
  interrupt_handler_();
  in_interrupt_ = false;
}

bool Machine::thread_busy(uint32_t id) const {
  for (const PendingCall& c : calls_)
    if (c.tid == id) return true;
  for (const ActiveRun& r : runs_)
    if (r.tid == id) return true;
  return false;
}

void Machine::prepare_thread_start(uint32_t id, GuestVa start, uint64_t argument) {
  Thread& t = *threads_.at(id);
  RegisterContext ctx;
  uint64_t rsp = ((t.stack_base.value - 0x40) & ~0xFull) - 8 - 0x20;
  space_.write<uint64_t>(GuestVa{rsp}, thread_exit_thunk().value);
  ctx.rsp = rsp;
  ctx.rip = start.value;
  ctx.rcx = argument;
  t.registers = ctx;
}

void Machine::run_thread(uint32_t id) {
  if (stop_) return;
  if (id == current_) throw std::logic_error("run_thread of the current thread");
  Thread* t = find_thread(id);
  if (!t || t->terminated) return;
  uint32_t previous = current_;
  switch_to(id);
  runs_.push_back({id, calls_.size()});
  int saved_depth = hook_depth_;
  hook_depth_ = 0;
  run_loop(calls_.size(), [this] { return runs_.back().ended; });
  hook_depth_ = saved_depth;
  // Writing RIP inside a trap restarts emulation there, so a suspension
  // rewinds the thread to its trap instruction only now that the run is over.
  if (runs_.back().resume_rip) cpu_.set_reg(UC_X86_REG_RIP, runs_.back().resume_rip);
  runs_.pop_back();
  switch_to(previous);
}

bool Machine::can_suspend_current() const {
  return !runs_.empty() && runs_.back().tid == current_ && calls_.size() == runs_.back().call_level &&
         hook_depth_ == 1;
}

void Machine::suspend_current() {
  // Back on the thunk's `int 0x2e`: resuming calls the routine again.
  runs_.back().resume_rip = cpu_.rip() - 2;
  runs_.back().ended = true;
  cpu_.stop();
}

void Machine::end_current_run() {
  current_thread().terminated = true;
  runs_.back().ended = true;
  cpu_.stop();
}

// ---------------------------------------------------------------------------
// Faults and stops

// The widest guest access (an AVX-512 load or store) may start this far before a watch.
constexpr uint64_t kWidestWrite = 64;

uint64_t Machine::add_write_watch(GuestVa begin, uint64_t size, WriteWatch on_write) {
  return add_watch(begin, size, UC_HOOK_MEM_WRITE,
                   [on_write = std::move(on_write)](GuestVa address, uint32_t n, GuestVa rip, bool) {
                     on_write(address, n, rip);
                   });
}

uint64_t Machine::add_access_watch(GuestVa begin, uint64_t size, AccessWatch on_access) {
  return add_watch(begin, size, UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE, std::move(on_access));
}

uint64_t Machine::add_watch(GuestVa begin, uint64_t size, int hook_types, AccessWatch on_access) {
  retired_watches_.clear();
  auto entry = std::make_unique<WriteWatchEntry>();
  entry->machine = this;
  entry->begin = begin;
  entry->size = size;
  entry->on_access = std::move(on_access);
  // Unicorn bounds a hook by the access's first byte: start early enough to
  // see an access that begins before the range and runs into it.
  uint64_t first = begin.value >= kWidestWrite ? begin.value - kWidestWrite : 0;
  uint64_t last = begin.value + (size ? size - 1 : 0);
  uc_hook_add(cpu_.uc(), &entry->hook, hook_types, reinterpret_cast<void*>(&Machine::hook_watched_access),
              entry.get(), first, last);
  uint64_t id = next_watch_id_++;
  write_watches_[id] = std::move(entry);
  return id;
}

uint64_t Machine::add_block_watch(GuestVa begin, uint64_t size, BlockWatch on_block) {
  retired_watches_.clear();
  auto entry = std::make_unique<WriteWatchEntry>();
  entry->machine = this;
  entry->begin = begin;
  entry->size = size;
  entry->on_access = [on_block = std::move(on_block)](GuestVa address, uint32_t, GuestVa, bool) {
    on_block(address);
  };
  // Every translation block already reports its entry (the machine's own
  // block hook), so a bounded block hook costs nothing outside its range.
  uc_hook_add(cpu_.uc(), &entry->hook, UC_HOOK_BLOCK, reinterpret_cast<void*>(&Machine::hook_watched_block),
              entry.get(), begin.value, begin.value + (size ? size - 1 : 0));
  uint64_t id = next_watch_id_++;
  write_watches_[id] = std::move(entry);
  return id;
}

void Machine::hook_watched_block(uc_engine*, uint64_t address, uint32_t size, void* e) {
  auto* entry = static_cast<WriteWatchEntry*>(e);
  if (address < entry->begin.value || address >= entry->begin.value + entry->size) return;
  entry->on_access(GuestVa{address}, size, GuestVa{address}, false);
}

void Machine::remove_watch(uint64_t id) {
  auto it = write_watches_.find(id);
  if (it == write_watches_.end()) return;
  uc_hook_del(cpu_.uc(), it->second->hook);
  retired_watches_.push_back(std::move(it->second));
  write_watches_.erase(it);
}

void Machine::hook_watched_access(uc_engine*, uc_mem_type type, uint64_t address, int size, int64_t, void* e) {
  auto* entry = static_cast<WriteWatchEntry*>(e);
  if (size <= 0 || address + static_cast<uint64_t>(size) <= entry->begin.value ||
      address >= entry->begin.value + entry->size)
    return;  // near the range, not in it
  entry->on_access(GuestVa{address}, static_cast<uint32_t>(size), GuestVa{entry->machine->cpu_.rip()},
                   type == UC_MEM_WRITE);
}

uint64_t Machine::add_fault_observer(FaultObserver observer) {
  uint64_t id = next_watch_id_++;
  fault_observers_[id] = std::move(observer);
  return id;
}

void Machine::remove_fault_observer(uint64_t id) { fault_observers_.erase(id); }

void Machine::handle_fault(uc_err err) {
  GuestVa rip{cpu_.rip()};
  switch (err) {
    case UC_ERR_READ_UNMAPPED:
    case UC_ERR_WRITE_UNMAPPED:
    case UC_ERR_FETCH_UNMAPPED:
    case UC_ERR_READ_PROT:
    case UC_ERR_WRITE_PROT:
    case UC_ERR_FETCH_PROT: {
      bool write = err == UC_ERR_WRITE_UNMAPPED || err == UC_ERR_WRITE_PROT;
      bool fetch = err == UC_ERR_FETCH_UNMAPPED || err == UC_ERR_FETCH_PROT;
      bool prot = err == UC_ERR_READ_PROT || err == UC_ERR_WRITE_PROT || err == UC_ERR_FETCH_PROT;
      GuestVa address{last_fault_ ? last_fault_->address : 0};
      if (fetch && !last_fault_) address = rip;
      if (!fetch) {
        // A guard page or freed block of the pool's guarded placement: mapped
        // memory on Windows, so the access goes through (and is reported).
        if (auto hit = pool_.resolve_guard_fault(address)) {
          if (pool_guard_observer_) pool_guard_observer_(*hit, rip, address, write);
          return;
        }
        // Copied: an observer may remove itself.
        std::vector<FaultObserver> observers;
        for (const auto& [id, o] : fault_observers_) observers.push_back(o);
        for (const FaultObserver& o : observers) o(rip, address, write);
      }
      RegisterContext ctx = cpu_.save();
      for (const Module& gone : unloaded_) {
        if (gone.contains(address)) {
          // Code or data of an unloaded driver: a timer, DPC, work item or
          // thread it left behind has run.
          bugcheck(0xCE, address.value, write ? 1 : 0, rip.value, 0, rip);
          if (stop_) stop_->message = fmt::format("{} ran or touched {} after it was unloaded",
                                                  gone.name, address.hex());
          return;
        }
      }
      if (!is_canonical(address)) {
        // A non-canonical address raises #GP, which Windows turns into a
        // catchable STATUS_ACCESS_VIOLATION with address -1.
        raise_exception({0xC0000005, 0, rip, {0, ~0ull}}, ctx);
        return;
      }
      if (irql() >= irql::kDispatch) {
        // A page fault at IRQL >= DISPATCH_LEVEL: DRIVER_IRQL_NOT_LESS_OR_EQUAL.
        bugcheck(0xD1, address.value, irql(), fetch ? 8 : (write ? 1 : 0), rip.value, rip);
        return;
      }
      if (is_kernel_address(address)) {
        if (prot && write) {
          bugcheck(0xBE, address.value, 0, 0, 0, rip);  // ATTEMPTED_WRITE_TO_READONLY_MEMORY
        } else if (prot && fetch) {
          bugcheck(0xFC, address.value, 0, 0, 0, rip);  // ATTEMPTED_EXECUTE_OF_NOEXECUTE_MEMORY
        } else {
          // PAGE_FAULT_IN_NONPAGED_AREA: P2 is 0 read, 2 write, 0x10 execute.
          bugcheck(0x50, address.value, fetch ? 0x10 : (write ? 2 : 0), rip.value, 2, rip);
        }
        return;
      }
      // A bad user address: STATUS_ACCESS_VIOLATION, catchable by __try.
      raise_exception({0xC0000005, 0, rip, {fetch ? 8ull : (write ? 1ull : 0ull), address.value}}, ctx);
      return;
    }
    case UC_ERR_INSN_INVALID:
      raise_exception({0xC000001D, 0, rip, {}}, cpu_.save());
      return;
    default:
      request_stop({StopKind::Error, fmt::format("CPU error at {}: {}", rip.hex(), uc_strerror(err)), {}});
      return;
  }
}

void Machine::unhandled_exception(const ExceptionInfo& info, const RegisterContext& context,
                                  const std::string& what, GuestVa record, GuestVa context_record) {
  // No handler took the exception: the bugcheck depends on what was running
  // (semantics.md §4).
  GuestVa where = info.location ? info.location : info.address;
  uint64_t info0 = info.params.size() > 0 ? info.params[0] : 0;
  uint64_t info1 = info.params.size() > 1 ? info.params[1] : 0;
  switch (current_thread().context) {
    case ExecutionContext::SystemService:  // P3 = context record
      bugcheck(0x3B, info.code, info.address.value, context_record.value, 0, where, &context);
      break;
    case ExecutionContext::Dpc:  // P3, P4 = the first exception parameters
      bugcheck(0x1E, info.code, info.address.value, info0, info1, where, &context);
      break;
    case ExecutionContext::SystemThread:  // P3 = exception record, P4 = context record
      bugcheck(0x7E, info.code, info.address.value, record.value, context_record.value, where, &context);
      break;
  }
  if (stop_ && !what.empty()) stop_->message = what;
}

void Machine::request_stop(Stop stop) {
  if (stop_) return;  // the first reason wins
  stop_ = std::move(stop);
  if (hook_depth_ > 0) cpu_.stop();
}

void Machine::bugcheck(uint32_t code, uint64_t p1, uint64_t p2, uint64_t p3, uint64_t p4,
                       GuestVa where, const RegisterContext* registers) {
  BugcheckRecord record;
  record.code = code;
  record.params[0] = p1;
  record.params[1] = p2;
  record.params[2] = p3;
  record.params[3] = p4;
  record.rip = where;
  record.registers = registers ? *registers : cpu_.save();
  record.thread = current_thread().id;
  record.process = current_thread().process_id;
  record.irql = irql();
  // A null location: kernel work with no driver code running (e.g. a check
  // made while unloading). There is no faulting instruction and no stack.
  if (where.is_null()) {
    record.registers = RegisterContext{};
    request_stop({StopKind::Bugcheck, {}, std::move(record)});
    return;
  }
  record.stack = walk_stack(record.registers);
  // When the report points at the driver's call into a kernel routine, the
  // walk's first frame is that call's return address: the call site replaces it.
  if (where.value != record.registers.rip && !record.stack.empty() &&
      record.stack.front() > where && record.stack.front() - where <= 16)
    record.stack.erase(record.stack.begin());
  request_stop({StopKind::Bugcheck, {}, std::move(record)});
}

// The guest stack walk of a bugcheck: return addresses found by unwinding
// with .pdata (leaf frames by their return address), across nested calls.
std::vector<GuestVa> Machine::walk_stack(const RegisterContext& regs) const {
  std::vector<GuestVa> frames;
  FrameCursor cursor{regs, calls_.size()};
  for (int n = 0; n < 32; ++n) {
    FrameStep step = step_frame(cursor, 0);
    if (step.kind != FrameStep::Frame) break;
    if (GuestVa{cursor.ctx.rip} == return_thunk_) continue;
    frames.push_back(GuestVa{cursor.ctx.rip});
  }
  return frames;
}

// ---------------------------------------------------------------------------
// Modules

void Machine::add_module(Module module) {
  std::sort(module.symbols.begin(), module.symbols.end());
  modules_.push_back(std::move(module));
  std::sort(modules_.begin(), modules_.end(),
            [](const Module& a, const Module& b) { return a.base < b.base; });
}

void Machine::unload_module(GuestVa base) {
  auto it = std::find_if(modules_.begin(), modules_.end(), [&](const Module& m) { return m.base == base; });
  if (it == modules_.end()) return;
  Module m = *it;
  modules_.erase(it);
  space_.unmap(base);
  uc_ctl_remove_cache(cpu_.uc(), base.value, base.value + m.size);
  m.name += " (unloaded)";
  m.functions.clear();
  unloaded_.push_back(std::move(m));
}

std::optional<Symbolized> Machine::symbolize(GuestVa va) const {
  for (const Module& m : unloaded_) {
    if (m.contains(va)) return Symbolized{m.name, va - m.base, {}, 0};
  }
  for (const Module& m : modules_) {
    if (!m.contains(va)) continue;
    Symbolized s;
    s.module = m.name;
    s.offset = va - m.base;
    auto it = std::upper_bound(m.symbols.begin(), m.symbols.end(),
                               std::make_pair(static_cast<uint32_t>(s.offset), std::string("\xff")));
    if (it != m.symbols.begin()) {
      --it;
      // A symbol names only its own function: past the end of the function
      // that contains it (from .pdata), the address belongs to another one.
      const RuntimeFunctionEntry* owner = lookup_function(m.functions, it->first);
      if (!owner || s.offset < owner->end) {
        s.symbol = it->second;
        s.symbol_offset = s.offset - it->first;
      }
    }
    // Inside a function the symbols do not name, call it by its start
    // (from .pdata) rather than by a symbol of another function.
    if (const RuntimeFunctionEntry* fn = lookup_function(m.functions, static_cast<uint32_t>(s.offset))) {
      if (s.symbol.empty() || s.offset - s.symbol_offset < fn->begin) {
        s.symbol = fmt::format("sub_{:x}", fn->begin);
        s.symbol_offset = s.offset - fn->begin;
      }
    }
    return s;
  }
  return std::nullopt;
}

std::string Machine::disassemble_one(GuestVa va) const {
  // An MSR access instrument_privileged rewrote: the driver's instruction, not the trap.
  if (auto site = privileged_.find(va.value); site != privileged_.end()) {
    if (site->second.kind == PrivilegedSite::Kind::Wrmsr) return "wrmsr";
    if (site->second.kind == PrivilegedSite::Kind::Rdmsr) return "rdmsr";
  }
  const uint8_t* code = nullptr;
  size_t len = 16;
  while (len > 0 && !(code = space_.host(va, len))) --len;
  if (!code) return {};
  cs_insn* insn = cs_malloc(capstone_);
  const uint8_t* p = code;
  size_t left = len;
  uint64_t a = va.value;
  std::string text;
  if (cs_disasm_iter(capstone_, &p, &left, &a, insn))
    text = insn->op_str[0] ? fmt::format("{} {}", insn->mnemonic, insn->op_str) : insn->mnemonic;
  cs_free(insn, 1);
  return text;
}

}  // namespace kemu::emu
