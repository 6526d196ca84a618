// Helpers for Machine tests: a machine with a code page, a data page and one
// system thread; a tiny x64 emitter for the few instructions tests need
// (encodings checked against llvm-mc-14); and a TrapTarget that records calls.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <vector>

#include "emulator/machine.h"

namespace kemu::emu::test {

inline constexpr GuestVa kCode{0xFFFF'F806'1000'0000ull};  // test code, R-X
inline constexpr uint64_t kCodeSize = 0x10000;
inline constexpr GuestVa kThunks = kCode + 0xF000;            // thunks near the code (rel32 reach)
inline constexpr GuestVa kData{0xFFFF'F806'1010'0000ull};     // RW scratch
inline constexpr GuestVa kObjects{0xFFFF'F806'1020'0000ull};  // ETHREAD/EPROCESS bodies
inline constexpr GuestVa kEprocess = kObjects;
inline constexpr GuestVa kEthread1 = kObjects + 0x1000;
inline constexpr GuestVa kEthread2 = kObjects + 0x2000;
inline constexpr GuestVa kUnmappedKernel{0xFFFF'F806'7770'0000ull};

// x64 GPR numbers as encoded in ModRM/REX.
enum Gpr : uint8_t { rax = 0, rcx = 1, rdx = 2, rbx = 3, rsp = 4, r8 = 8, r9 = 9 };

// Emits code for a known address.
class Asm {
 public:
  explicit Asm(GuestVa at) : at_(at) {}
  GuestVa here() const { return at_ + bytes_.size(); }
  GuestVa start() const { return at_; }
  const std::vector<uint8_t>& bytes() const { return bytes_; }

  Asm& raw(std::initializer_list<uint8_t> b) {
    bytes_.insert(bytes_.end(), b);
    return *this;
  }
  Asm& u32(uint32_t v) { return put(&v, 4); }
  Asm& u64(uint64_t v) { return put(&v, 8); }
  // movabs r64, imm64: REX.W(+B) B8+r imm64
  Asm& mov(Gpr r, uint64_t imm) {
    raw({static_cast<uint8_t>(0x48 | (r >> 3)), static_cast<uint8_t>(0xB8 + (r & 7))});
    return u64(imm);
  }
  // mov [rsp+disp8], rax: 48 89 44 24 disp8
  Asm& store_rax_at_rsp(uint8_t disp) { return raw({0x48, 0x89, 0x44, 0x24, disp}); }
  Asm& sub_rsp(uint8_t n) { return raw({0x48, 0x83, 0xEC, n}); }  // sub rsp, imm8
  Asm& add_rsp(uint8_t n) { return raw({0x48, 0x83, 0xC4, n}); }  // add rsp, imm8
  Asm& add_rax(uint8_t n) { return raw({0x48, 0x83, 0xC0, n}); }  // add rax, imm8
  Asm& call_rax() { return raw({0xFF, 0xD0}); }                   // call rax
  // call rel32: E8 rel32
  Asm& call(GuestVa target) {
    raw({0xE8});
    return u32(static_cast<uint32_t>(target.value - (here().value + 4)));
  }
  // call qword ptr [rip+disp32]: FF 15 disp32
  Asm& call_indirect(GuestVa slot) {
    raw({0xFF, 0x15});
    return u32(static_cast<uint32_t>(slot.value - (here().value + 4)));
  }
  Asm& ret() { return raw({0xC3}); }

 private:
  Asm& put(const void* p, size_t n) {
    auto* b = static_cast<const uint8_t*>(p);
    bytes_.insert(bytes_.end(), b, b + n);
    return *this;
  }
  GuestVa at_;
  std::vector<uint8_t> bytes_;
};

// Records every trap: its id, the first `nargs` arguments, the return
// address and the call site; returns `result`; runs `action` if set.
struct Recorder : TrapTarget {
  struct Call {
    uint32_t id = 0;
    std::vector<uint64_t> args;
    GuestVa return_address;
    GuestVa call_site;
    uint8_t irql = 0;
  };
  std::vector<Call> calls;
  unsigned nargs = 0;
  uint64_t result = 0;
  std::function<void(Machine&, uint32_t)> action;

  void on_trap(Machine& m, uint32_t id) override {
    Call c;
    c.id = id;
    for (unsigned i = 0; i < nargs; ++i) c.args.push_back(m.arg(i));
    c.return_address = m.return_address();
    c.call_site = m.call_site();
    c.irql = m.irql();
    calls.push_back(c);
    m.set_return(result);
    if (action) action(m, id);
  }
};

// A Machine with kCode (R-X), kData (RW), kObjects (RW) mapped and thread 1
// (ETHREAD kEthread1, EPROCESS kEprocess) current, unless `with_thread` is
// false (a kernel built on the machine creates its own threads).
class TestMachine {
 public:
  explicit TestMachine(MachineOptions options = {}, bool with_thread = true) : m(options) {
    m.memory().map(kCode, kCodeSize, Prot::ReadExec, RegionKind::DriverImage, "test code");
    m.memory().map(kData, 0x4000, Prot::ReadWrite, RegionKind::Scratch, "test data");
    m.memory().map(kObjects, 0x4000, Prot::ReadWrite, RegionKind::KernelObjects, "test objects");
    if (with_thread) m.create_thread(1, 4, kEthread1, kEprocess, true);
  }

  // Where the next code() or place() goes (16-byte aligned).
  GuestVa next_code() const { return kCode + cursor_; }

  GuestVa code(std::initializer_list<uint8_t> bytes) {
    return place_bytes(std::vector<uint8_t>(bytes));
  }
  GuestVa place(const Asm& a) {
    EXPECT_EQ(a.start(), next_code()) << "Asm built for another address";
    return place_bytes(a.bytes());
  }

  // A thunk in kThunks bound to `target` with `id`.
  GuestVa thunk(TrapTarget& target, uint32_t id) {
    GuestVa at = kThunks + Machine::kThunkSize * thunks_++;
    Machine::write_thunk(m.memory().host(at, Machine::kThunkSize));
    m.bind_trap(at, &target, id);
    return at;
  }

  StopKind stop_kind() const { return m.stop() ? m.stop()->kind : StopKind::Error; }
  const BugcheckRecord& bugcheck() const {
    static const BugcheckRecord kNone{};
    if (!m.stop() || !m.stop()->bugcheck) {
      ADD_FAILURE() << "no bugcheck; stop: " << (m.stop() ? m.stop()->message : "none");
      return kNone;
    }
    return *m.stop()->bugcheck;
  }

  Machine m;

 private:
  GuestVa place_bytes(const std::vector<uint8_t>& bytes) {
    GuestVa at = next_code();
    EXPECT_LE(cursor_ + bytes.size(), kThunks - kCode) << "test code overflows into the thunks";
    m.memory().write(at, bytes.data(), bytes.size());
    cursor_ = (cursor_ + bytes.size() + 15) & ~15ull;
    return at;
  }
  uint64_t cursor_ = 0;
  uint64_t thunks_ = 0;
};

// Guest code that calls `thunk` with the first n of `v` as arguments laid out
// per the Win64 ABI (rcx, rdx, r8, r9, then [rsp+0x20+8k] at the call), then
// adds 0x11 to what the thunk returned: proof that the caller ran on.
inline GuestVa place_win64_call(TestMachine& t, GuestVa thunk, unsigned n,
                                const std::vector<uint64_t>& v) {
  static constexpr Gpr kRegs[4] = {rcx, rdx, r8, r9};
  Asm a(t.next_code());
  a.sub_rsp(0x58);  // 0x20 home space + 6 stack slots + 8: rsp % 16 == 0 at the call
  for (unsigned k = 4; k < n; ++k)
    a.mov(rax, v[k]).store_rax_at_rsp(static_cast<uint8_t>(0x20 + 8 * (k - 4)));
  for (unsigned k = 0; k < n && k < 4; ++k) a.mov(kRegs[k], v[k]);
  a.mov(rax, thunk.value).call_rax();
  a.add_rax(0x11).add_rsp(0x58).ret();
  return t.place(a);
}

}  // namespace kemu::emu::test
