// Pins the Unicorn 2.0.1 behaviours kemu is built on
// (shared/reference/dependency-notes.md, "Unicorn" table). When Unicorn is
// upgraded, a failure here says which assumption of the emulator layer moved.
#include <unicorn/unicorn.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

#include "emulator/address_space.h"
#include "emulator/cpu.h"

namespace kemu::emu {
namespace {

constexpr uint64_t kCode = 0xFFFF'F800'0010'0000ull;
constexpr uint64_t kData = 0xFFFF'F800'0020'0000ull;
constexpr uint64_t kUnmapped = 0xFFFF'F800'0030'0000ull;

// A bare engine with one executable code page and one writable data page.
class UnicornTest : public ::testing::Test {
 protected:
  UnicornTest() {
    EXPECT_EQ(uc_mem_map(uc(), kCode, kPageSize, UC_PROT_ALL), UC_ERR_OK);
    EXPECT_EQ(uc_mem_map(uc(), kData, kPageSize, UC_PROT_READ | UC_PROT_WRITE), UC_ERR_OK);
  }

  uc_engine* uc() const { return cpu.uc(); }

  // Runs `code` from the start of the code page until just past its last byte.
  uc_err run(const std::vector<uint8_t>& code) {
    code_size = code.size();
    EXPECT_EQ(uc_mem_write(uc(), kCode, code.data(), code.size()), UC_ERR_OK);
    // Tests reuse the code page; drop translations of earlier code (see the notes).
    uc_ctl_remove_cache(uc(), kCode, kCode + kPageSize);
    return uc_emu_start(uc(), kCode, kCode + code.size(), 0, 0);
  }

  // Records interrupts; stops the engine on every one unless `resume` is set.
  struct Interrupts {
    std::vector<uint32_t> vectors;
    std::vector<uint64_t> rips;
    bool resume = false;
  };
  void hook_interrupts(Interrupts& seen) {
    uc_hook h;
    auto cb = +[](uc_engine* uc, uint32_t intno, void* user) {
      auto* s = static_cast<Interrupts*>(user);
      uint64_t rip = 0;
      uc_reg_read(uc, UC_X86_REG_RIP, &rip);
      s->vectors.push_back(intno);
      s->rips.push_back(rip);
      if (!s->resume) uc_emu_stop(uc);
    };
    ASSERT_EQ(uc_hook_add(uc(), &h, UC_HOOK_INTR, reinterpret_cast<void*>(cb), &seen, 1, 0),
              UC_ERR_OK);
  }

  struct InvalidAccess {
    int type = -1;
    uint64_t address = 0;
    int calls = 0;
  };
  void hook_invalid(InvalidAccess& seen) {
    uc_hook h;
    auto cb = +[](uc_engine*, uc_mem_type type, uint64_t address, int, int64_t, void* user) {
      auto* s = static_cast<InvalidAccess*>(user);
      s->type = type;
      s->address = address;
      ++s->calls;
      return false;
    };
    ASSERT_EQ(uc_hook_add(uc(), &h, UC_HOOK_MEM_INVALID, reinterpret_cast<void*>(cb), &seen, 1, 0),
              UC_ERR_OK);
  }

  Cpu cpu;
  size_t code_size = 0;
};

TEST_F(UnicornTest, Cr8WrittenByMovIsNotKeptSoKemuMustInterceptIt) {
  uc_err err = run({
      0xb8, 0x02, 0x00, 0x00, 0x00,  // mov eax, 2
      0x44, 0x0f, 0x22, 0xc0,        // mov cr8, rax
      0xb8, 0x55, 0x00, 0x00, 0x00,  // mov eax, 0x55
      0x44, 0x0f, 0x20, 0xc0,        // mov rax, cr8
  });
  ASSERT_EQ(err, UC_ERR_OK);
  EXPECT_EQ(cpu.reg(UC_X86_REG_RAX), 0u) << "Unicorn now keeps CR8: kemu's interception may go";
}

TEST_F(UnicornTest, Cr8WrittenThroughTheApiIsLostToo) {
  cpu.set_reg(UC_X86_REG_CR8, 2);
  cpu.set_reg(UC_X86_REG_RAX, 0x55);
  ASSERT_EQ(run({0x44, 0x0f, 0x20, 0xc0}), UC_ERR_OK);  // mov rax, cr8
  EXPECT_EQ(cpu.reg(UC_X86_REG_RAX), 0u);
}

TEST_F(UnicornTest, GsBaseWrittenThroughTheApiIsUsedByGsRelativeLoads) {
  uint64_t thread = 0xFFFF'B00B'1234'5678ull;
  ASSERT_EQ(uc_mem_write(uc(), kData + 0x188, &thread, 8), UC_ERR_OK);
  cpu.set_reg(UC_X86_REG_GS_BASE, kData);
  ASSERT_EQ(run({0x65, 0x48, 0x8b, 0x04, 0x25, 0x88, 0x01, 0x00, 0x00}),  // mov rax, gs:[0x188]
            UC_ERR_OK);
  EXPECT_EQ(cpu.reg(UC_X86_REG_RAX), thread);
}

TEST_F(UnicornTest, UnmappedReadStopsWithReadUnmappedAndTheHookSeesTypeAndAddress) {
  InvalidAccess seen;
  hook_invalid(seen);
  cpu.set_reg(UC_X86_REG_RCX, kUnmapped + 0x10);
  EXPECT_EQ(run({0x48, 0x8b, 0x01}), UC_ERR_READ_UNMAPPED);  // mov rax, [rcx]
  EXPECT_EQ(cpu.rip(), kCode);
  EXPECT_EQ(seen.calls, 1);
  EXPECT_EQ(seen.type, UC_MEM_READ_UNMAPPED);
  EXPECT_EQ(seen.address, kUnmapped + 0x10);
}

TEST_F(UnicornTest, UnmappedWriteStopsWithWriteUnmapped) {
  InvalidAccess seen;
  hook_invalid(seen);
  cpu.set_reg(UC_X86_REG_RCX, kUnmapped);
  EXPECT_EQ(run({0x48, 0x89, 0x01}), UC_ERR_WRITE_UNMAPPED);  // mov [rcx], rax
  EXPECT_EQ(cpu.rip(), kCode);
  EXPECT_EQ(seen.type, UC_MEM_WRITE_UNMAPPED);
  EXPECT_EQ(seen.address, kUnmapped);
}

TEST_F(UnicornTest, WriteToReadOnlyPageStopsWithWriteProt) {
  ASSERT_EQ(uc_mem_protect(uc(), kData, kPageSize, UC_PROT_READ), UC_ERR_OK);
  InvalidAccess seen;
  hook_invalid(seen);
  cpu.set_reg(UC_X86_REG_RCX, kData + 8);
  EXPECT_EQ(run({0x48, 0x89, 0x01}), UC_ERR_WRITE_PROT);  // mov [rcx], rax
  EXPECT_EQ(cpu.rip(), kCode);
  EXPECT_EQ(seen.type, UC_MEM_WRITE_PROT);
  EXPECT_EQ(seen.address, kData + 8);
}

// Unicorn issue #1323: at a memory fault RIP is only exact when the faulting
// instruction starts its translation block. Earlier instructions of the block
// have already run (their register effects are kept) but RIP still points at
// the block's first instruction.
TEST_F(UnicornTest, FaultInsideABlockLeavesRipAtTheBlockStartWithoutAMemoryHook) {
  InvalidAccess seen;
  hook_invalid(seen);
  cpu.set_reg(UC_X86_REG_RCX, kUnmapped);
  cpu.set_reg(UC_X86_REG_RDX, 1);
  uc_err err = run({
      0x48, 0xff, 0xc2,  // inc rdx
      0x48, 0x8b, 0x01,  // mov rax, [rcx]   <- faults
  });
  EXPECT_EQ(err, UC_ERR_READ_UNMAPPED);
  EXPECT_EQ(cpu.reg(UC_X86_REG_RDX), 2u) << "the inc before the fault has run";
  EXPECT_EQ(cpu.rip(), kCode) << "Unicorn now reports the faulting instruction (#1323 fixed?)";
}

TEST_F(UnicornTest, AnyMemoryAccessHookMakesRipExactAtAFault) {
  // A UC_HOOK_MEM_READ|WRITE hook, even limited to a range nothing touches,
  // makes Unicorn store RIP before every memory access.
  uc_hook h;
  auto noop = +[](uc_engine*, uc_mem_type, uint64_t, int, int64_t, void*) {};
  ASSERT_EQ(uc_hook_add(uc(), &h, UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE,
                        reinterpret_cast<void*>(noop), nullptr, 0, 0),
            UC_ERR_OK);
  ASSERT_EQ(uc_mem_protect(uc(), kData, kPageSize, UC_PROT_READ), UC_ERR_OK);
  cpu.set_reg(UC_X86_REG_RCX, kUnmapped);
  // inc rdx; mov rax, [rcx]
  EXPECT_EQ(run({0x48, 0xff, 0xc2, 0x48, 0x8b, 0x01}), UC_ERR_READ_UNMAPPED);
  EXPECT_EQ(cpu.rip(), kCode + 3);
  cpu.set_reg(UC_X86_REG_RCX, kData);
  // inc rdx; mov [rcx], rax
  EXPECT_EQ(run({0x48, 0xff, 0xc2, 0x48, 0x89, 0x01}), UC_ERR_WRITE_PROT);
  EXPECT_EQ(cpu.rip(), kCode + 3);
}

TEST_F(UnicornTest, Int3ReachesTheInterruptHookWithVector3AndRipAfterIt) {
  Interrupts seen;
  seen.resume = true;
  hook_interrupts(seen);
  uc_err err = run({
      0xcc,                          // int3
      0xb8, 0x05, 0x00, 0x00, 0x00,  // mov eax, 5
  });
  ASSERT_EQ(err, UC_ERR_OK);
  ASSERT_EQ(seen.vectors.size(), 1u);
  EXPECT_EQ(seen.vectors[0], 3u);
  EXPECT_EQ(seen.rips[0], kCode + 1);
  EXPECT_EQ(cpu.reg(UC_X86_REG_RAX), 5u) << "execution continues after int3";
}

TEST_F(UnicornTest, IntNReachesTheInterruptHookWithItsVectorAndRipAfterIt) {
  Interrupts seen;
  seen.resume = true;
  hook_interrupts(seen);
  ASSERT_EQ(run({0xcd, 0x2e, 0x90}), UC_ERR_OK);  // int 0x2e; nop
  ASSERT_EQ(seen.vectors.size(), 1u);
  EXPECT_EQ(seen.vectors[0], 0x2Eu);
  EXPECT_EQ(seen.rips[0], kCode + 2);
}

TEST_F(UnicornTest, DivideByZeroReachesTheInterruptHookWithVector0) {
  Interrupts seen;
  hook_interrupts(seen);
  uc_err err = run({
      0x31, 0xc9,  // xor ecx, ecx
      0xf7, 0xf1,  // div ecx
  });
  EXPECT_EQ(err, UC_ERR_OK);
  ASSERT_EQ(seen.vectors.size(), 1u);
  EXPECT_EQ(seen.vectors[0], 0u);
  // #DE is a fault: RIP is the div itself (kemu reports it as the exception address).
  EXPECT_EQ(seen.rips[0], kCode + 2);
}

TEST_F(UnicornTest, Ud2StopsWithInsnInvalidAndNoInterrupt) {
  Interrupts seen;
  hook_interrupts(seen);
  EXPECT_EQ(run({0x90, 0x0f, 0x0b}), UC_ERR_INSN_INVALID);  // nop; ud2
  EXPECT_TRUE(seen.vectors.empty());
  EXPECT_EQ(cpu.rip(), kCode + 1);
}

TEST_F(UnicornTest, MapPtrRegionReprotectedOnASubRangeBehavesPerPageAndStaysShared) {
  // AddressSpace maps with uc_mem_map_ptr and later protects single pages.
  constexpr uint64_t kBase = 0xFFFF'F800'0100'0000ull;
  std::vector<uint8_t> host(4 * kPageSize, 0);
  ASSERT_EQ(uc_mem_map_ptr(uc(), kBase, host.size(), UC_PROT_READ | UC_PROT_WRITE, host.data()),
            UC_ERR_OK);
  ASSERT_EQ(uc_mem_protect(uc(), kBase + kPageSize, 2 * kPageSize, UC_PROT_READ), UC_ERR_OK);

  auto store = [&](uint64_t va) {
    cpu.set_reg(UC_X86_REG_RCX, va);
    cpu.set_reg(UC_X86_REG_RAX, 0x1122334455667788ull ^ va);
    return run({0x48, 0x89, 0x01});  // mov [rcx], rax
  };
  auto load = [&](uint64_t va) {
    cpu.set_reg(UC_X86_REG_RCX, va);
    EXPECT_EQ(run({0x48, 0x8b, 0x01}), UC_ERR_OK);  // mov rax, [rcx]
    return cpu.reg(UC_X86_REG_RAX);
  };
  auto host_at = [&](uint64_t va) {
    uint64_t v;
    std::memcpy(&v, host.data() + (va - kBase), 8);
    return v;
  };

  EXPECT_EQ(store(kBase + 0x10), UC_ERR_OK);
  EXPECT_EQ(store(kBase + kPageSize + 0x10), UC_ERR_WRITE_PROT);
  EXPECT_EQ(store(kBase + 2 * kPageSize + 0x10), UC_ERR_WRITE_PROT);
  EXPECT_EQ(store(kBase + 3 * kPageSize + 0x10), UC_ERR_OK);

  // The guest still writes into the host buffer on both sides of the split.
  EXPECT_EQ(host_at(kBase + 0x10), 0x1122334455667788ull ^ (kBase + 0x10));
  EXPECT_EQ(host_at(kBase + 3 * kPageSize + 0x10),
            0x1122334455667788ull ^ (kBase + 3 * kPageSize + 0x10));
  EXPECT_EQ(host_at(kBase + kPageSize + 0x10), 0u);

  // And reads host writes from every part, the read-only middle included.
  for (uint64_t page = 0; page < 4; ++page) {
    uint64_t va = kBase + page * kPageSize + 0x100;
    uint64_t value = 0xA5A5'0000'0000'0000ull | page;
    std::memcpy(host.data() + (va - kBase), &value, 8);
    EXPECT_EQ(load(va), value) << "page " << page;
  }

  // Unicorn now lists three regions for the one mapping.
  uc_mem_region* regions = nullptr;
  uint32_t count = 0;
  ASSERT_EQ(uc_mem_regions(uc(), &regions, &count), UC_ERR_OK);
  int parts = 0;
  for (uint32_t i = 0; i < count; ++i)
    if (regions[i].begin >= kBase && regions[i].end < kBase + host.size()) ++parts;
  uc_free(regions);
  EXPECT_EQ(parts, 3);

  ASSERT_EQ(uc_mem_unmap(uc(), kBase, host.size()), UC_ERR_OK);
}

TEST_F(UnicornTest, AddressSpaceProtectOfOnePageIsEnforcedByTheCpu) {
  // The same through kemu's own mirror (AddressSpace::protect -> uc_mem_protect).
  AddressSpace space;
  space.attach(uc());
  constexpr GuestVa kBase{0xFFFF'F800'0200'0000ull};
  space.map(kBase, 3 * kPageSize, Prot::ReadWrite, RegionKind::Scratch, "scratch");
  space.protect(kBase + kPageSize, kPageSize, Prot::Read);

  cpu.set_reg(UC_X86_REG_RAX, 0x77);
  cpu.set_reg(UC_X86_REG_RCX, (kBase + 2 * kPageSize).value);
  EXPECT_EQ(run({0x48, 0x89, 0x01}), UC_ERR_OK);  // mov [rcx], rax
  EXPECT_EQ(space.read<uint64_t>(kBase + 2 * kPageSize), 0x77u);
  cpu.set_reg(UC_X86_REG_RCX, (kBase + kPageSize + 8).value);
  EXPECT_EQ(run({0x48, 0x89, 0x01}), UC_ERR_WRITE_PROT);

  // Unmapping a region Unicorn holds as several parts works, and so does a remap.
  space.unmap(kBase);
  cpu.set_reg(UC_X86_REG_RCX, kBase.value);
  EXPECT_EQ(run({0x48, 0x8b, 0x01}), UC_ERR_READ_UNMAPPED);
  space.map(kBase, kPageSize, Prot::ReadWrite, RegionKind::Scratch, "again");
  space.write<uint64_t>(kBase, 0x99);
  EXPECT_EQ(run({0x48, 0x8b, 0x01}), UC_ERR_OK);  // mov rax, [rcx]
  EXPECT_EQ(cpu.reg(UC_X86_REG_RAX), 0x99u);
}

TEST_F(UnicornTest, NonCanonicalReadIsReportedAsAnUnmappedReadOfTheFullAddress) {
  // x86 raises #GP for a non-canonical address; Unicorn reports an unmapped
  // access instead, with the untruncated address, so kemu tells the two apart
  // with is_canonical() on the hook's address.
  InvalidAccess seen;
  Interrupts interrupts;
  hook_invalid(seen);
  hook_interrupts(interrupts);
  uc_err err = run({
      // movabs rax, [0x8000000000000000]
      0x48,
      0xa1,
      0x00,
      0x00,
      0x00,
      0x00,
      0x00,
      0x00,
      0x00,
      0x80,
  });
  EXPECT_TRUE(interrupts.vectors.empty()) << "no #GP (vector 13) is delivered";
  EXPECT_EQ(err, UC_ERR_READ_UNMAPPED);
  EXPECT_EQ(seen.type, UC_MEM_READ_UNMAPPED);
  EXPECT_EQ(seen.address, 0x8000'0000'0000'0000ull);
  EXPECT_EQ(cpu.rip(), kCode);
}

TEST_F(UnicornTest, NonCanonicalWriteIsReportedAsAnUnmappedWrite) {
  InvalidAccess seen;
  hook_invalid(seen);
  cpu.set_reg(UC_X86_REG_RCX, 0x0000'8000'0000'1000ull);      // just above the user half
  EXPECT_EQ(run({0x48, 0x89, 0x01}), UC_ERR_WRITE_UNMAPPED);  // mov [rcx], rax
  EXPECT_EQ(seen.type, UC_MEM_WRITE_UNMAPPED);
  EXPECT_EQ(seen.address, 0x0000'8000'0000'1000ull);
}

}  // namespace
}  // namespace kemu::emu
