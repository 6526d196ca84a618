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

RegisterContext Cpu::save() const {
  RegisterContext c;
  uint64_t* gpr[16] = {&c.rax, &c.rcx, &c.rdx, &c.rbx, &c.rsp, &c.rbp, &c.rsi, &c.rdi,
                       &c.r8,  &c.r9,  &c.r10, &c.r11, &c.r12, &c.r13, &c.r14, &c.r15};
  int regs[16];
  void* vals[16];
  for (int i = 0; i < 16; ++i) {
    regs[i] = kGprs[i];
    vals[i] = gpr[i];
  }
  uc_reg_read_batch(uc_, regs, vals, 16);
  c.rip = reg(UC_X86_REG_RIP);
  c.rflags = reg(UC_X86_REG_RFLAGS);
  uint64_t mxcsr = reg(UC_X86_REG_MXCSR);
  c.mxcsr = static_cast<uint32_t>(mxcsr);
  for (int i = 0; i < 16; ++i) uc_reg_read(uc_, UC_X86_REG_XMM0 + i, c.xmm[i].data());
  return c;
}

void Cpu::restore(const RegisterContext& c) {
  const uint64_t* gpr[16] = {&c.rax, &c.rcx, &c.rdx, &c.rbx, &c.rsp, &c.rbp, &c.rsi, &c.rdi,
                             &c.r8,  &c.r9,  &c.r10, &c.r11, &c.r12, &c.r13, &c.r14, &c.r15};
  int regs[16];
  void* vals[16];
  for (int i = 0; i < 16; ++i) {
    regs[i] = kGprs[i];
    vals[i] = const_cast<uint64_t*>(gpr[i]);
  }
  uc_reg_write_batch(uc_, regs, vals, 16);
  set_reg(UC_X86_REG_RIP, c.rip);
  set_reg(UC_X86_REG_RFLAGS, c.rflags);
  set_reg(UC_X86_REG_MXCSR, c.mxcsr);
  for (int i = 0; i < 16; ++i) uc_reg_write(uc_, UC_X86_REG_XMM0 + i, c.xmm[i].data());
}

uc_err Cpu::start(uint64_t begin) { return uc_emu_start(uc_, begin, 0, 0, 0); }

void Cpu::stop() { uc_emu_stop(uc_); }

}  // namespace kemu::emu
