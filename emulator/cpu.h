// A thin wrapper over one Unicorn x86-64 engine: registers, the full guest
// register context (for thread switches), and emulation start/stop.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include <unicorn/unicorn.h>

#include "emulator/types.h"

namespace kemu::emu {

// The integer and SSE state a thread switch saves and restores.
struct RegisterContext {
  uint64_t rax = 0, rcx = 0, rdx = 0, rbx = 0, rsp = 0, rbp = 0, rsi = 0, rdi = 0;
  uint64_t r8 = 0, r9 = 0, r10 = 0, r11 = 0, r12 = 0, r13 = 0, r14 = 0, r15 = 0;
  uint64_t rip = 0, rflags = 0x202;
  uint32_t mxcsr = 0x1F80;
  std::array<std::array<uint8_t, 16>, 16> xmm{};
};

// General-purpose registers in x64 encoding order (0 = rax ... 15 = r15).
int uc_gpr(unsigned index);
const char* gpr_name(unsigned index);

class Cpu {
 public:
  Cpu();
  ~Cpu();
  Cpu(const Cpu&) = delete;
  Cpu& operator=(const Cpu&) = delete;

  uc_engine* uc() const { return uc_; }

  uint64_t reg(int uc_reg) const;
  void set_reg(int uc_reg, uint64_t value);
  uint64_t rip() const { return reg(UC_X86_REG_RIP); }
  uint64_t rsp() const { return reg(UC_X86_REG_RSP); }

  RegisterContext save() const;
  void restore(const RegisterContext& ctx);

  // Runs from `begin` until uc_emu_stop() or an error; returns Unicorn's code.
  uc_err start(uint64_t begin);
  void stop();

 private:
  uc_engine* uc_ = nullptr;
};

}  // namespace kemu::emu
