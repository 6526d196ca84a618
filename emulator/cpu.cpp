#include "emulator/cpu.h"

#include <stdexcept>

#include <fmt/format.h>

namespace kemu::emu {

namespace {
constexpr int kGprs[16] = {UC_X86_REG_RAX, UC_X86_REG_RCX, UC_X86_REG_RDX, UC_X86_REG_RBX,
                           UC_X86_REG_RSP, UC_X86_REG_RBP, UC_X86_REG_RSI, UC_X86_REG_RDI,
                           UC_X86_REG_R8,  UC_X86_REG_R9,  UC_X86_REG_R10, UC_X86_REG_R11,
                           UC_X86_REG_R12, UC_X86_REG_R13, UC_X86_REG_R14, UC_X86_REG_R15};
constexpr const char* kGprNames[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                       "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
}  // namespace

int uc_gpr(unsigned index) { return kGprs[index & 15]; }
const char* gpr_name(unsigned index) { return kGprNames[index & 15]; }

Cpu::Cpu() {
  uc_err err = uc_open(UC_ARCH_X86, UC_MODE_64, &uc_);
  if (err != UC_ERR_OK) throw std::runtime_error(fmt::format("uc_open: {}", uc_strerror(err)));
}

Cpu::~Cpu() {
  if (uc_) uc_close(uc_);
}

uint64_t Cpu::reg(int uc_reg) const {
  uint64_t v = 0;
  uc_reg_read(uc_, uc_reg, &v);
  return v;
}

void Cpu::set_reg(int uc_reg, uint64_t value) { uc_reg_write(uc_, uc_reg, &value); }

namespace {
// Every register a RegisterContext holds, in one list, so a save or a
// restore is one batched Unicorn call (GPRs, RIP, RFLAGS, MXCSR, XMM0-15).
constexpr int kContextRegs = 16 + 3 + 16;

template <class Ctx, class Ptr>
void context_slots(Ctx& c, int* regs, Ptr* vals) {
  Ptr gpr[16] = {&c.rax, &c.rcx, &c.rdx, &c.rbx, &c.rsp, &c.rbp, &c.rsi, &c.rdi,
                 &c.r8,  &c.r9,  &c.r10, &c.r11, &c.r12, &c.r13, &c.r14, &c.r15};
  for (int i = 0; i < 16; ++i) {
    regs[i] = kGprs[i];
    vals[i] = gpr[i];
  }
  regs[16] = UC_X86_REG_RIP;
  vals[16] = &c.rip;
  regs[17] = UC_X86_REG_RFLAGS;
  vals[17] = &c.rflags;
  regs[18] = UC_X86_REG_MXCSR;  // Unicorn reads and writes 32 bits
  vals[18] = &c.mxcsr;
  for (int i = 0; i < 16; ++i) {
    regs[19 + i] = UC_X86_REG_XMM0 + i;
    vals[19 + i] = c.xmm[i].data();
  }
}
}  // namespace

RegisterContext Cpu::save() const {
  RegisterContext c;
  int regs[kContextRegs];
  void* vals[kContextRegs];
  context_slots(c, regs, vals);
  uc_reg_read_batch(uc_, regs, vals, kContextRegs);
  return c;
}

void Cpu::restore(const RegisterContext& c) {
  int regs[kContextRegs];
  const void* vals[kContextRegs];
  context_slots(c, regs, vals);
  uc_reg_write_batch(uc_, regs, const_cast<void* const*>(vals), kContextRegs);
}

uc_err Cpu::start(uint64_t begin) { return uc_emu_start(uc_, begin, 0, 0, 0); }

void Cpu::stop() { uc_emu_stop(uc_); }

}  // namespace kemu::emu
