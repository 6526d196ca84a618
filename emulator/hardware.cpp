// The hardware a driver can reach with privileged instructions: the
// model-specific registers (rdmsr/wrmsr, rewritten into `int 0x2f` traps by
// instrument_privileged) and the I/O ports (in/out, Unicorn's instruction
// hooks). kemu emulates no devices and one CPU with a fixed set of MSRs:
//
// - An MSR in the table below reads its value and stores a write. Any other
//   MSR does not exist on the emulated CPU: rdmsr/wrmsr #GP, which Windows
//   raises into the driver as STATUS_PRIVILEGED_INSTRUCTION (catchable by
//   __try; unhandled in a dispatch routine it is bugcheck 0x3B).
// - A write that changes an MSR holding the kernel's entry points or
//   processor state (EFER, STAR, LSTAR, CSTAR, SFMASK, SYSENTER_*, GS_BASE)
//   leaves the processor entering the kernel through the caller's values.
//   Windows crashes at the next system call through it, or PatchGuard finds
//   it first: bugcheck 0x109 CRITICAL_STRUCTURE_CORRUPTION with type 7
//   ("critical MSR modification"). kemu stops at the write itself with
//   0x109 (P1 = P2 = 0 where PatchGuard's are obfuscated, P3 = the MSR,
//   P4 = 7): it never lets such a write succeed silently.
// - `in` reads all ones (no device decodes the port, as on a PC bus), `out`
//   goes nowhere; kemu does not model the machine resets some ports cause.
#include <fmt/format.h>

#include "emulator/machine.h"

namespace kemu::emu {

namespace {

constexpr uint32_t kMsrApicBase = 0x1B, kMsrFeatureControl = 0x3A, kMsrPlatformInfo = 0xCE,
                   kMsrSysenterCs = 0x174, kMsrSysenterEsp = 0x175, kMsrSysenterEip = 0x176,
                   kMsrPerfStatus = 0x198, kMsrPerfCtl = 0x199, kMsrThermStatus = 0x19C,
                   kMsrMiscEnable = 0x1A0, kMsrTemperatureTarget = 0x1A2, kMsrDebugCtl = 0x1D9,
                   kMsrPat = 0x277, kMsrEfer = 0xC0000080, kMsrStar = 0xC0000081, kMsrLstar = 0xC0000082,
                   kMsrCstar = 0xC0000083, kMsrSfmask = 0xC0000084, kMsrFsBase = 0xC0000100,
                   kMsrGsBase = 0xC0000101, kMsrKernelGsBase = 0xC0000102, kMsrTscAux = 0xC0000103;

// Where LSTAR points: kemu has no system-call entry (requests enter through
// the I/O manager); an address inside its ntoskrnl.exe stands for KiSystemCall64.
constexpr uint64_t kSystemCallEntry = 0xFFFF'F800'1000'1000ull;

// The MSRs whose change hands kernel entry to whoever wrote them.
bool critical_msr(uint32_t index) {
  switch (index) {
    case kMsrEfer: case kMsrStar: case kMsrLstar: case kMsrCstar: case kMsrSfmask:
    case kMsrSysenterCs: case kMsrSysenterEsp: case kMsrSysenterEip: case kMsrGsBase:
      return true;
    default:
      return false;
  }
}

// Read-only MSRs: a write #GPs.
bool read_only_msr(uint32_t index) {
  return index == kMsrPlatformInfo || index == kMsrPerfStatus || index == kMsrTemperatureTarget;
}

// Unicorn's instruction hooks for in/out see RIP as last synchronised (the
// block's start, or the last instruction that accessed memory), not the
// in/out itself: the instruction is the first one of the right kind, width
// (and, for an immediate port, port) from there on. Two such instructions in
// one straight run with no memory access between them are told apart only
// by those operands.
GuestVa port_instruction(const AddressSpace& space, csh capstone, GuestVa synced, bool out, uint32_t port, int size) {
  constexpr size_t kSearch = 256;
  size_t len = kSearch;
  const uint8_t* code = nullptr;
  while (len > 0 && !(code = space.host(synced, len))) len = len > 16 ? len - 16 : len - 1;
  if (!code) return synced;
  cs_insn* insn = cs_malloc(capstone);
  const uint8_t* p = code;
  size_t left = len;
  uint64_t address = synced.value;
  GuestVa found = synced;
  while (cs_disasm_iter(capstone, &p, &left, &address, insn)) {
    bool kind = out ? (insn->id == X86_INS_OUT || insn->id == X86_INS_OUTSB || insn->id == X86_INS_OUTSW ||
                       insn->id == X86_INS_OUTSD)
                    : (insn->id == X86_INS_IN || insn->id == X86_INS_INSB || insn->id == X86_INS_INSW ||
                       insn->id == X86_INS_INSD);
    if (!kind) continue;
    bool match = true;
    if ((insn->id == X86_INS_IN || insn->id == X86_INS_OUT) && insn->detail && insn->detail->x86.op_count == 2) {
      const cs_x86_op& data = insn->detail->x86.operands[out ? 1 : 0];
      const cs_x86_op& where = insn->detail->x86.operands[out ? 0 : 1];
      match = data.size == size && (where.type != X86_OP_IMM || static_cast<uint32_t>(where.imm) == port);
    }
    if (match) {
      found = GuestVa{insn->address};
      break;
    }
  }
  cs_free(insn, 1);
  return found;
}

}  // namespace

void Machine::setup_hardware() {
  // The values a Windows 10 x64 boot leaves on a 4 GHz part (ratio 0x28).
  msrs_ = {
      {kMsrApicBase, 0xFEE0'0900},  // BSP, xAPIC enabled at 0xFEE00000
      {kMsrFeatureControl, 0x5},     // locked, VMX outside SMX
      {kMsrPlatformInfo, 0x2800},
      {kMsrSysenterCs, 0}, {kMsrSysenterEsp, 0}, {kMsrSysenterEip, 0},  // unused by 64-bit Windows
      {kMsrPerfStatus, 0x2800}, {kMsrPerfCtl, 0x2800},
      {kMsrThermStatus, 0x8842'0000},  // reading valid, 66 degrees below TjMax
      {kMsrMiscEnable, 0x85'0089},
      {kMsrTemperatureTarget, 0x64'0000},  // TjMax 100 C
      {kMsrDebugCtl, 0},
      {kMsrPat, 0x0007'0106'0007'0106ull},
      {kMsrEfer, 0xD01},  // SCE, LME, LMA, NXE
      {kMsrStar, 0x0023'0010'0000'0000ull},
      {kMsrLstar, kSystemCallEntry},
      {kMsrCstar, kSystemCallEntry + 0x40},
      {kMsrSfmask, 0x4700},  // TF, IF, DF, NT cleared on system calls
      {kMsrFsBase, 0},
      {kMsrGsBase, kKpcrBase.value},
      {kMsrKernelGsBase, 0},
      {kMsrTscAux, 0},  // processor 0
  };
  uc_hook h;
  uc_hook_add(cpu_.uc(), &h, UC_HOOK_INSN, reinterpret_cast<void*>(&Machine::hook_port_in), this, 1, 0,
              UC_X86_INS_IN);
  uc_hook_add(cpu_.uc(), &h, UC_HOOK_INSN, reinterpret_cast<void*>(&Machine::hook_port_out), this, 1, 0,
              UC_X86_INS_OUT);
}

std::optional<uint64_t> Machine::msr(uint32_t index) const {
  auto it = msrs_.find(index);
  if (it == msrs_.end()) return std::nullopt;
  return it->second;
}

uint64_t Machine::add_hardware_observer(HardwareObserver observer) {
  uint64_t id = next_watch_id_++;
  hardware_observers_[id] = std::move(observer);
  return id;
}

void Machine::remove_hardware_observer(uint64_t id) { hardware_observers_.erase(id); }

void Machine::notify_hardware(const HardwareAccess& access) {
  for (const auto& [id, observer] : hardware_observers_) observer(access);
}

// rdmsr / wrmsr at `rip` (the trap's 2 bytes replace the instruction's 2).
void Machine::on_msr(bool write, GuestVa rip) {
  uint32_t index = static_cast<uint32_t>(cpu_.reg(UC_X86_REG_RCX));
  uint64_t written = (cpu_.reg(UC_X86_REG_RDX) << 32) | (cpu_.reg(UC_X86_REG_RAX) & 0xFFFF'FFFFull);
  auto it = msrs_.find(index);
  HardwareAccess access{write ? HardwareAccess::Kind::WriteMsr : HardwareAccess::Kind::ReadMsr, rip, index, 8,
                        write ? written : (it == msrs_.end() ? 0 : it->second)};
  notify_hardware(access);
  if (it == msrs_.end() || (write && read_only_msr(index))) {
    // #GP: an MSR the CPU does not have, or a write to a read-only one.
    RegisterContext ctx = cpu_.save();
    ctx.rip = rip.value;
    raise_exception({0xC0000096, 0, rip, {}}, ctx);  // STATUS_PRIVILEGED_INSTRUCTION
    return;
  }
  if (!write) {
    cpu_.set_reg(UC_X86_REG_RAX, it->second & 0xFFFF'FFFFull);
    cpu_.set_reg(UC_X86_REG_RDX, it->second >> 32);
    return;
  }
  if (critical_msr(index) && written != it->second) {
    // CRITICAL_STRUCTURE_CORRUPTION, type 7: critical MSR modification (at the wrmsr).
    RegisterContext ctx = cpu_.save();
    ctx.rip = rip.value;
    bugcheck(0x109, 0, 0, index, 7, rip, &ctx);
    return;
  }
  it->second = written;
}

uint32_t Machine::hook_port_in(uc_engine*, uint32_t port, int size, void* self) {
  auto* m = static_cast<Machine*>(self);
  // No device decodes the port: the bus reads all ones.
  uint32_t value = size >= 4 ? 0xFFFF'FFFFu : size == 2 ? 0xFFFFu : 0xFFu;
  if (m->hardware_observers_.empty()) return value;
  GuestVa rip = port_instruction(m->space_, m->capstone_, GuestVa{m->cpu_.rip()}, false, port, size);
  m->notify_hardware({HardwareAccess::Kind::PortIn, rip, port & 0xFFFF, static_cast<uint32_t>(size), value});
  return value;
}

void Machine::hook_port_out(uc_engine*, uint32_t port, int size, uint32_t value, void* self) {
  auto* m = static_cast<Machine*>(self);
  if (m->hardware_observers_.empty()) return;
  GuestVa rip = port_instruction(m->space_, m->capstone_, GuestVa{m->cpu_.rip()}, true, port, size);
  m->notify_hardware({HardwareAccess::Kind::PortOut, rip, port & 0xFFFF, static_cast<uint32_t>(size), value});
}

}  // namespace kemu::emu
