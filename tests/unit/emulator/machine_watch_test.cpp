// The verifier's windows into guest execution: write watches (a callback per
// guest write into a range, with the writing instruction) and fault
// observers (told of a page fault before kemu decides what Windows does).
#include <gtest/gtest.h>

#include <vector>

#include "unit/emulator/machine_harness.h"

namespace kemu::emu {
namespace {

using test::kData;
using test::TestMachine;

// mov [rcx], rdx; ret   — writes 8 bytes: the second argument to the first
std::initializer_list<uint8_t> kStore = {0x48, 0x89, 0x11, 0xc3};
// mov rax, [rcx]; ret
std::initializer_list<uint8_t> kLoad = {0x48, 0x8b, 0x01, 0xc3};

struct Seen {
  GuestVa address;
  uint32_t size;
  GuestVa rip;
};

TEST(MachineWatchTest, AWriteIntoTheRangeIsSeenWithItsInstructionAndStillHappens) {
  TestMachine t;
  std::vector<Seen> seen;
  GuestVa watched = kData + 0x100;
  t.m.add_write_watch(watched, 0x10, [&](GuestVa a, uint32_t n, GuestVa rip) {
    seen.push_back({a, n, rip});
  });
  GuestVa store = t.code(kStore);
  ASSERT_TRUE(t.m.call(store, {(watched + 8).value, 0x1122334455667788}).has_value());
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].address, watched + 8);
  EXPECT_EQ(seen[0].size, 8u);
  EXPECT_EQ(seen[0].rip, store);
  EXPECT_EQ(t.m.memory().read<uint64_t>(watched + 8), 0x1122334455667788u)
      << "a watch does not stop the write";
}

TEST(MachineWatchTest, WritesBesideTheRangeAreNotSeenButOneRunningIntoItIs) {
  TestMachine t;
  std::vector<Seen> seen;
  GuestVa watched = kData + 0x100;
  t.m.add_write_watch(watched, 0x10, [&](GuestVa a, uint32_t n, GuestVa rip) {
    seen.push_back({a, n, rip});
  });
  GuestVa store = t.code(kStore);
  ASSERT_TRUE(t.m.call(store, {(watched - 8).value, 1}).has_value());  // [0xF8, 0x100): just before
  ASSERT_TRUE(t.m.call(store, {(watched + 0x10).value, 1}).has_value());  // just after
  EXPECT_TRUE(seen.empty());
  ASSERT_TRUE(t.m.call(store, {(watched - 4).value, 1}).has_value());  // [0xFC, 0x104): overlaps
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].address, watched - 4);
}

TEST(MachineWatchTest, ReadsAndHostWritesAreNotSeenAndARemovedWatchIsSilent) {
  TestMachine t;
  int calls = 0;
  GuestVa watched = kData + 0x200;
  uint64_t id = t.m.add_write_watch(watched, 8, [&](GuestVa, uint32_t, GuestVa) { ++calls; });
  t.m.memory().write<uint64_t>(watched, 5);  // kemu's own write
  ASSERT_EQ(t.m.call(t.code(kLoad), {watched.value}), std::optional<uint64_t>{5});
  EXPECT_EQ(calls, 0);
  GuestVa store = t.code(kStore);
  ASSERT_TRUE(t.m.call(store, {watched.value, 6}).has_value());
  EXPECT_EQ(calls, 1);
  t.m.remove_watch(id);
  ASSERT_TRUE(t.m.call(store, {watched.value, 7}).has_value());
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(t.m.memory().read<uint64_t>(watched), 7u);
}

TEST(MachineWatchTest, AnAccessWatchSeesReadsAndWritesAndSaysWhich) {
  TestMachine t;
  std::vector<std::pair<Seen, bool>> seen;
  GuestVa watched = kData + 0x400;
  uint64_t id =
      t.m.add_access_watch(watched, 4, [&](GuestVa a, uint32_t n, GuestVa rip, bool write) {
        seen.push_back({{a, n, rip}, write});
      });
  GuestVa load = t.code(kLoad);
  GuestVa store = t.code(kStore);
  ASSERT_TRUE(
      t.m.call(load, {(watched - 4).value}).has_value());  // 8 bytes from 4 before: runs into it
  ASSERT_TRUE(t.m.call(store, {watched.value, 3}).has_value());
  ASSERT_TRUE(t.m.call(load, {(watched + 4).value}).has_value());  // after it
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].first.address, watched - 4);
  EXPECT_EQ(seen[0].first.rip, load);
  EXPECT_FALSE(seen[0].second);
  EXPECT_EQ(seen[1].first.rip, store);
  EXPECT_TRUE(seen[1].second);
  t.m.remove_watch(id);
  ASSERT_TRUE(t.m.call(load, {watched.value}).has_value());
  EXPECT_EQ(seen.size(), 2u);
}

// The verifier adds a watch inside a kernel routine (a trap) and the driver
// writes after it returns, in code Unicorn has already translated.
TEST(MachineWatchTest, AWatchAddedInsideATrapSeesTheWriteAfterItInTranslatedCode) {
  TestMachine t;
  test::Recorder routine;
  GuestVa thunk = t.thunk(routine, 1);
  GuestVa watched = kData + 0x300;
  test::Asm a(t.next_code());
  a.sub_rsp(0x28).mov(test::rax, thunk.value).call_rax().add_rsp(0x28);
  a.mov(test::rcx, watched.value).mov(test::rdx, 9).raw({0x48, 0x89, 0x11});  // mov [rcx], rdx
  GuestVa store = a.here() - 3;
  a.ret();
  GuestVa fn = t.place(a);
  ASSERT_TRUE(t.m.call(fn, {}).has_value());  // translated once, without a watch
  std::vector<Seen> seen;
  routine.action = [&](Machine& m, uint32_t) {
    m.add_write_watch(watched, 8, [&](GuestVa ad, uint32_t n, GuestVa rip) {
      seen.push_back({ad, n, rip});
    });
  };
  ASSERT_TRUE(t.m.call(fn, {}).has_value());
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].address, watched);
  EXPECT_EQ(seen[0].rip, store);
}

TEST(MachineWatchTest, AFaultObserverSeesTheFaultAndWindowsStillDecides) {
  TestMachine t;
  std::vector<Seen> seen;
  uint64_t id = t.m.add_fault_observer([&](GuestVa rip, GuestVa a, bool write) {
    seen.push_back({a, write, rip});
  });
  GuestVa load = t.code(kLoad);
  EXPECT_FALSE(t.m.call(load, {test::kUnmappedKernel.value + 0xA}).has_value());
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].address, test::kUnmappedKernel + 0xA);
  EXPECT_EQ(seen[0].size, 0u) << "a read";
  EXPECT_EQ(seen[0].rip, load);
  EXPECT_EQ(t.bugcheck().code, 0x50u);
  t.m.remove_fault_observer(id);
}

}  // namespace
}  // namespace kemu::emu
