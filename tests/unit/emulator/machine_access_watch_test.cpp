// Machine::watch_accesses: the data accesses guest instructions make to the
// watched ranges, with the accessing instruction, and nothing else (kemu's own
// host-side accesses, code fetches, other ranges, after unwatch).
#include <gtest/gtest.h>

#include <vector>

#include "unit/emulator/machine_harness.h"

namespace kemu::emu {
namespace {

using test::kData;
using test::TestMachine;

struct Seen {
  GuestVa rip;
  GuestVa address;
  uint32_t size = 0;
  bool write = false;
  bool operator==(const Seen&) const = default;
};

struct Collector : AccessObserver {
  std::vector<Seen> seen;
  void guest_access(GuestVa rip, GuestVa address, uint32_t size, bool write) override {
    seen.push_back({rip, address, size, write});
  }
};

// mov rax, [rcx]; mov [rdx], eax; ret
constexpr std::initializer_list<uint8_t> kLoadStore = {0x48, 0x8b, 0x01, 0x89, 0x02, 0xc3};

TEST(MachineAccessWatchTest, ReportsEachInstructionsReadsAndWritesInsideTheWatchedRange) {
  TestMachine t;
  GuestVa fn = t.code(kLoadStore);
  Collector c;
  t.m.watch_accesses({{kData + 0x1000, kData + 0x1FFF}}, &c);
  t.m.memory().write<uint64_t>(kData + 0x1010, 0x1122334455667788);
  ASSERT_EQ(t.m.call(fn, {(kData + 0x1010).value, (kData + 0x1800).value}),
            std::optional<uint64_t>{0x1122334455667788});
  EXPECT_EQ(c.seen,
            (std::vector<Seen>{{fn, kData + 0x1010, 8, false}, {fn + 3, kData + 0x1800, 4, true}}));
  // Outside the range (the read) and inside it (the write): only the second.
  c.seen.clear();
  ASSERT_TRUE(t.m.call(fn, {(kData + 0x10).value, (kData + 0x1804).value}).has_value());
  EXPECT_EQ(c.seen, (std::vector<Seen>{{fn + 3, kData + 0x1804, 4, true}}));
  // kemu's own reads and writes are host accesses: never reported.
  c.seen.clear();
  t.m.memory().write<uint32_t>(kData + 0x1900, 7);
  EXPECT_EQ(t.m.memory().read<uint32_t>(kData + 0x1900), 7u);
  EXPECT_TRUE(c.seen.empty());
  EXPECT_TRUE(t.m.watching());
  t.m.unwatch_accesses();
  EXPECT_FALSE(t.m.watching());
  ASSERT_TRUE(t.m.call(fn, {(kData + 0x1010).value, (kData + 0x1800).value}).has_value());
  EXPECT_TRUE(c.seen.empty());
}

TEST(MachineAccessWatchTest, AReadAcrossAPageIsOneAccessAtItsOwnAddress) {
  TestMachine t;
  GuestVa fn = t.code(kLoadStore);
  Collector c;
  t.m.watch_accesses({{kData, kData + 0x3FFF}}, &c);
  // 8 bytes from 0xFFD: three on the first page, five on the next.
  ASSERT_TRUE(t.m.call(fn, {(kData + 0xFFD).value, (kData + 0x2000).value}).has_value());
  EXPECT_EQ(c.seen,
            (std::vector<Seen>{{fn, kData + 0xFFD, 8, false}, {fn + 3, kData + 0x2000, 4, true}}));
  // Misaligned inside one page: one access too.
  c.seen.clear();
  ASSERT_TRUE(t.m.call(fn, {(kData + 0x1003).value, (kData + 0x2001).value}).has_value());
  EXPECT_EQ(c.seen,
            (std::vector<Seen>{{fn, kData + 0x1003, 8, false}, {fn + 3, kData + 0x2001, 4, true}}));
}

TEST(MachineAccessWatchTest, AReadOfAnUnmappedWatchedAddressIsReportedBeforeItsFault) {
  TestMachine t;
  GuestVa fn = t.code(kLoadStore);
  Collector c;
  t.m.watch_accesses({{test::kUnmappedKernel, test::kUnmappedKernel + 0xFFFF}}, &c);
  EXPECT_FALSE(t.m.call(fn, {(test::kUnmappedKernel + 0x20).value, kData.value}).has_value());
  EXPECT_EQ(c.seen, (std::vector<Seen>{{fn, test::kUnmappedKernel + 0x20, 8, false}}));
  EXPECT_EQ(t.bugcheck().code, 0x50u);
}

TEST(MachineAccessWatchTest, BlockSerialsSeparateRunsOfInstructions) {
  TestMachine t;
  GuestVa fn = t.code(kLoadStore);
  struct Serials : AccessObserver {
    Machine* m = nullptr;
    std::vector<uint64_t> serials;
    void guest_access(GuestVa, GuestVa, uint32_t, bool) override {
      serials.push_back(m->block_serial());
    }
  } s;
  s.m = &t.m;
  t.m.watch_accesses({{kData, kData + 0x3FFF}}, &s);
  ASSERT_TRUE(t.m.call(fn, {(kData + 0x10).value, (kData + 0x20).value}).has_value());
  ASSERT_TRUE(t.m.call(fn, {(kData + 0x10).value, (kData + 0x20).value}).has_value());
  ASSERT_EQ(s.serials.size(), 4u);
  EXPECT_EQ(s.serials[0], s.serials[1]) << "one straight run";
  EXPECT_NE(s.serials[1], s.serials[2]) << "another call";
}

}  // namespace
}  // namespace kemu::emu
