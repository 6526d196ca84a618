// Helpers for the unwinder tests: hand-encoded UNWIND_INFO, an image region
// holding code and unwind data, a stack region, and a register context whose
// every field carries a distinct value so untouched registers can be checked.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "emulator/address_space.h"
#include "emulator/cpu.h"
#include "emulator/unwind.h"

namespace kemu::emu::test {

// Operation-info register numbers.
enum Reg : uint8_t { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };

constexpr GuestVa kImageBase{0xFFFFF80012340000};
constexpr uint64_t kImageSize = 0x10000;
constexpr uint32_t kXdataRva = 0x8000;  // unwind infos are laid out from here
constexpr uint32_t kHandlerRva = 0x1F00;
constexpr GuestVa kStackBase{0xFFFFF88000000000};
constexpr uint64_t kStackSize = 0x200000;  // large enough for the _FAR / ALLOC_LARGE forms
constexpr uint64_t kRsp = kStackBase.value + 0x1000;  // RSP at the fault in most tests
constexpr uint64_t kReturn = 0xFFFFF80099990123;      // the caller's RIP

// One UNWIND_CODE node with its operand slots.
struct Code {
  std::vector<uint16_t> slots;
};
inline uint16_t node(uint8_t offset, uint8_t op, uint8_t info) {
  return static_cast<uint16_t>(offset | (op << 8) | (info << 12));
}
inline Code push_nonvol(uint8_t off, uint8_t reg) {
  return {{node(off, 0, reg)}};
}
inline Code alloc_small(uint8_t off, uint32_t size) {
  return {{node(off, 2, static_cast<uint8_t>(size / 8 - 1))}};
}
inline Code alloc_large(uint8_t off, uint32_t size) {  // op info 0: size / 8
  return {{node(off, 1, 0), static_cast<uint16_t>(size / 8)}};
}
inline Code alloc_large_far(uint8_t off, uint32_t size) {  // op info 1: unscaled
  return {{node(off, 1, 1), static_cast<uint16_t>(size), static_cast<uint16_t>(size >> 16)}};
}
inline Code set_fpreg(uint8_t off) {
  return {{node(off, 3, 0)}};
}
inline Code save_nonvol(uint8_t off, uint8_t reg, uint32_t offset) {
  return {{node(off, 4, reg), static_cast<uint16_t>(offset / 8)}};
}
inline Code save_nonvol_far(uint8_t off, uint8_t reg, uint32_t offset) {
  return {{node(off, 5, reg), static_cast<uint16_t>(offset), static_cast<uint16_t>(offset >> 16)}};
}
inline Code save_xmm128(uint8_t off, uint8_t xmm, uint32_t offset) {
  return {{node(off, 8, xmm), static_cast<uint16_t>(offset / 16)}};
}
inline Code save_xmm128_far(uint8_t off, uint8_t xmm, uint32_t offset) {
  return {{node(off, 9, xmm), static_cast<uint16_t>(offset), static_cast<uint16_t>(offset >> 16)}};
}
inline Code push_machframe(uint8_t off, bool error_code) {
  return {{node(off, 10, error_code ? 1 : 0)}};
}
// A raw slot, for malformed codes and version-2 epilog descriptors.
inline Code raw(std::initializer_list<uint16_t> slots) {
  return {slots};
}

struct InfoSpec {
  uint8_t version = 1;
  uint8_t flags = 0;
  uint8_t prolog = 0;
  uint8_t frame_reg = 0;
  uint8_t frame_offset = 0;  // scaled: bytes / 16
  std::vector<Code> codes;   // array order: descending prolog offset
  std::optional<uint32_t> handler;
  std::vector<uint8_t> handler_data;
  std::optional<RuntimeFunctionEntry> chain;
  std::optional<uint8_t> count_override;  // lie about CountOfCodes
};

inline std::vector<uint8_t> encode(const InfoSpec& s) {
  std::vector<uint16_t> slots;
  for (const Code& c : s.codes) slots.insert(slots.end(), c.slots.begin(), c.slots.end());
  const uint8_t count = s.count_override.value_or(static_cast<uint8_t>(slots.size()));
  if (slots.size() % 2) slots.push_back(0);  // the array always has an even length
  std::vector<uint8_t> out = {static_cast<uint8_t>(s.version | (s.flags << 3)), s.prolog, count,
                              static_cast<uint8_t>(s.frame_reg | (s.frame_offset << 4))};
  for (uint16_t v : slots) {
    out.push_back(static_cast<uint8_t>(v));
    out.push_back(static_cast<uint8_t>(v >> 8));
  }
  auto put32 = [&](uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
  };
  if (s.chain) {
    put32(s.chain->begin);
    put32(s.chain->end);
    put32(s.chain->unwind_info);
  } else if (s.handler) {
    put32(*s.handler);
    out.insert(out.end(), s.handler_data.begin(), s.handler_data.end());
  }
  return out;
}

using Xmm = std::array<uint8_t, 16>;
inline Xmm xmm_pattern(uint8_t seed) {
  Xmm v{};
  for (int i = 0; i < 16; ++i) v[i] = static_cast<uint8_t>(seed * 16 + i);
  return v;
}

// Every GPR and XMM distinct, so a test can assert that nothing else moved.
inline RegisterContext seeded_context(uint64_t rip, uint64_t rsp) {
  RegisterContext c;
  c.rax = 0xA0A0'0000'0000'0000;
  c.rcx = 0xA0A0'0000'0000'0001;
  c.rdx = 0xA0A0'0000'0000'0002;
  c.rbx = 0xA0A0'0000'0000'0003;
  c.rbp = 0xA0A0'0000'0000'0005;
  c.rsi = 0xA0A0'0000'0000'0006;
  c.rdi = 0xA0A0'0000'0000'0007;
  c.r8 = 0xA0A0'0000'0000'0008;
  c.r9 = 0xA0A0'0000'0000'0009;
  c.r10 = 0xA0A0'0000'0000'000A;
  c.r11 = 0xA0A0'0000'0000'000B;
  c.r12 = 0xA0A0'0000'0000'000C;
  c.r13 = 0xA0A0'0000'0000'000D;
  c.r14 = 0xA0A0'0000'0000'000E;
  c.r15 = 0xA0A0'0000'0000'000F;
  c.rsp = rsp;
  c.rip = rip;
  c.rflags = 0x246;
  c.mxcsr = 0x1F80;
  for (uint8_t i = 0; i < 16; ++i) c.xmm[i] = xmm_pattern(static_cast<uint8_t>(0xA0 + i));
  return c;
}

inline uint64_t& reg_ref(RegisterContext& c, uint8_t r) {
  uint64_t* regs[16] = {&c.rax, &c.rcx, &c.rdx, &c.rbx, &c.rsp, &c.rbp, &c.rsi, &c.rdi,
                        &c.r8,  &c.r9,  &c.r10, &c.r11, &c.r12, &c.r13, &c.r14, &c.r15};
  return *regs[r & 15];
}

// Compares every field, naming the one that differs.
inline void expect_context_eq(const RegisterContext& a, const RegisterContext& e,
                              const std::string& where = "") {
  SCOPED_TRACE(where);
  static const char* names[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                  "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
  RegisterContext ac = a, ec = e;
  for (uint8_t r = 0; r < 16; ++r)
    EXPECT_EQ(reg_ref(ac, r), reg_ref(ec, r)) << names[r] << std::hex << " actual 0x"
                                              << reg_ref(ac, r) << " expected 0x" << reg_ref(ec, r);
  EXPECT_EQ(a.rip, e.rip) << "rip";
  EXPECT_EQ(a.rflags, e.rflags) << "rflags";
  EXPECT_EQ(a.mxcsr, e.mxcsr) << "mxcsr";
  for (int i = 0; i < 16; ++i) EXPECT_EQ(a.xmm[i], e.xmm[i]) << "xmm" << i;
}

class UnwindTest : public ::testing::Test {
 protected:
  UnwindTest() {
    space.map(kImageBase, kImageSize, Prot::ReadExec, RegionKind::DriverImage, "unwind.sys");
    space.map(kStackBase, kStackSize, Prot::ReadWrite, RegionKind::Stack, "stack");
  }

  // Writes the UNWIND_INFO (4-byte aligned) and returns the entry naming it.
  // The entry is added to the image's table unless `listed` is false.
  RuntimeFunctionEntry add_function(uint32_t begin, uint32_t end, const InfoSpec& spec,
                                    bool listed = true) {
    const std::vector<uint8_t> bytes = encode(spec);
    const uint32_t rva = next_xdata_;
    write(rva, bytes);
    next_xdata_ = (rva + static_cast<uint32_t>(bytes.size()) + 3) & ~3u;
    RuntimeFunctionEntry e{begin, end, rva};
    if (listed) {
      table.push_back(e);
      std::sort(table.begin(), table.end(),
                [](const auto& x, const auto& y) { return x.begin < y.begin; });
    }
    return e;
  }
  // Reserves the rva the next add_function will use (for self-referencing chains).
  uint32_t next_xdata() const { return next_xdata_; }

  void write(uint32_t rva, const std::vector<uint8_t>& bytes) {
    ASSERT_TRUE(space.write(kImageBase + rva, bytes.data(), bytes.size()));
  }
  void code(uint32_t rva, std::initializer_list<uint8_t> bytes) {
    write(rva, std::vector<uint8_t>(bytes));
  }
  void stack64(uint64_t va, uint64_t value) { space.write<uint64_t>(GuestVa{va}, value); }
  void stack_xmm(uint64_t va, const Xmm& value) { space.write<Xmm>(GuestVa{va}, value); }

  UnwindImage image() const { return UnwindImage{kImageBase, kImageSize, table}; }
  UnwindResult unwind(const RuntimeFunctionEntry& fn, RegisterContext& ctx,
                      uint32_t type = kUnwFlagEHandler | kUnwFlagUHandler) {
    return virtual_unwind(space, image(), fn, ctx, type);
  }
  static uint64_t va(uint32_t rva) { return kImageBase.value + rva; }

  AddressSpace space;
  std::vector<RuntimeFunctionEntry> table;

 private:
  uint32_t next_xdata_ = kXdataRva;
};

}  // namespace kemu::emu::test
