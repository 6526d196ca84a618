// The kernel pool over an in-memory address space (no CPU).
#include "emulator/pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

namespace kemu::emu {
namespace {

constexpr uint32_t tag(const char (&s)[5]) {
  // Pool tags are written as a four-character literal, first character lowest.
  return static_cast<uint32_t>(s[0]) | static_cast<uint32_t>(s[1]) << 8 |
         static_cast<uint32_t>(s[2]) << 16 | static_cast<uint32_t>(s[3]) << 24;
}
constexpr uint32_t kTag = tag("Kemu");
constexpr GuestVa kCaller{0xFFFF'F800'0010'1234ull};

class PoolTest : public ::testing::Test {
 protected:
  GuestVa alloc(uint64_t size, uint32_t type = pool_type::kNonPaged, uint32_t t = kTag) {
    auto va = pool.allocate(size, type, t, kCaller);
    EXPECT_TRUE(va.has_value()) << "allocate(" << size << ")";
    return va.value_or(GuestVa{});
  }

  AddressSpace space;
  Pool pool{space};
};

TEST_F(PoolTest, SmallBlocksAre16ByteAlignedBehindAPoolHeaderHoldingTheTag) {
  for (uint64_t size : {1u, 8u, 15u, 16u, 17u, 24u, 100u, 4080u}) {
    GuestVa va = alloc(size);
    EXPECT_EQ(va.value % 16, 0u) << size;
    EXPECT_TRUE(
        space.accessible(va - Pool::kHeaderSize, Pool::kHeaderSize + size, Prot::ReadWrite));
    // POOL_HEADER: PoolTag at +4 of the 16-byte header in front of the block.
    EXPECT_EQ(space.read<uint32_t>(va - Pool::kHeaderSize + 4), kTag) << size;
    uint32_t first = space.read<uint32_t>(va - Pool::kHeaderSize);
    uint64_t capacity = (size + 15) & ~15ull;
    // BlockSize counts 16-byte units, header included, saturating at its 8 bits.
    EXPECT_EQ((first >> 16) & 0xFF, std::min<uint64_t>((capacity + Pool::kHeaderSize) / 16, 0xFF))
        << "BlockSize, size " << size;
    EXPECT_EQ(first >> 24, pool_type::kNonPaged + 1) << "PoolType, size " << size;
    const PoolBlock* b = pool.block_at(va);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->size, size);
    EXPECT_EQ(b->capacity, capacity);
    EXPECT_EQ(b->tag, kTag);
    EXPECT_EQ(b->caller, kCaller);
  }
}

TEST_F(PoolTest, ConsecutiveSmallBlocksDoNotOverlapEachOthersHeaders) {
  GuestVa a = alloc(40);
  GuestVa b = alloc(40);
  EXPECT_GE(b.value, a.value + 48 + Pool::kHeaderSize);
  space.write<uint8_t>(a + 47, 0xFF);  // last byte of a's capacity
  EXPECT_EQ(space.read<uint32_t>(b - Pool::kHeaderSize + 4), kTag);
}

TEST_F(PoolTest, PagedAndNonPagedBlocksComeFromTheirOwnArenas) {
  GuestVa np = alloc(32, pool_type::kNonPaged);
  GuestVa nx = alloc(32, pool_type::kNonPagedNx);
  GuestVa pg = alloc(32, pool_type::kPaged);
  EXPECT_GE(np, Pool::kNonPagedBase);
  EXPECT_GE(nx, Pool::kNonPagedBase);
  EXPECT_GE(pg, Pool::kPagedBase);
  EXPECT_LT(pg, Pool::kNonPagedBase);
  EXPECT_FALSE(pool.is_paged_address(np));
  EXPECT_FALSE(pool.is_paged_address(nx));
  EXPECT_TRUE(pool.is_paged_address(pg));
  EXPECT_TRUE(pool.block_at(pg)->paged());
  EXPECT_FALSE(pool.block_at(np)->paged());
  EXPECT_TRUE(pool.in_pool(np));
  EXPECT_TRUE(pool.in_pool(pg));
  EXPECT_FALSE(pool.in_pool(GuestVa{0xFFFF'F800'0000'0000ull}));
  EXPECT_EQ(space.find(np)->kind, RegionKind::Pool);
}

TEST_F(PoolTest, BigAllocationsArePageAlignedAndRoundedToPages) {
  GuestVa small = alloc(100);
  GuestVa big = alloc(4081);  // 4081 + header > one page: a headerless page
  EXPECT_EQ(big.value % kPageSize, 0u);
  EXPECT_EQ(pool.block_at(big)->capacity, kPageSize);
  GuestVa huge = alloc(3 * kPageSize);
  EXPECT_EQ(huge.value % kPageSize, 0u);
  EXPECT_EQ(pool.block_at(huge)->capacity, 3 * kPageSize);
  EXPECT_TRUE(space.accessible(huge, 3 * kPageSize, Prot::ReadWrite));
  EXPECT_GE(huge.value, big.value + kPageSize);
  GuestVa after = alloc(100);
  EXPECT_NE(after, small);
  EXPECT_EQ(after.value % 16, 0u);
  // A block larger than one arena chunk maps as many chunks as it needs.
  GuestVa two_mib = alloc(2 * Pool::kArenaChunk);
  EXPECT_TRUE(space.accessible(two_mib, 2 * Pool::kArenaChunk, Prot::ReadWrite));
}

TEST_F(PoolTest, TheSameCallsInTwoFreshPoolsGiveTheSameAddresses) {
  auto script = [](Pool& p) {
    std::vector<GuestVa> out;
    std::vector<GuestVa> live;
    for (uint64_t i = 0; i < 200; ++i) {
      uint64_t size = (i * 37) % 700 + (i % 13 == 0 ? 5000 : 0);
      uint32_t type = i % 3 == 0 ? pool_type::kPaged : pool_type::kNonPaged;
      auto va = p.allocate(size, type, kTag, kCaller);
      out.push_back(va.value_or(GuestVa{}));
      live.push_back(va.value_or(GuestVa{}));
      if (i % 4 == 3) {
        EXPECT_EQ(p.free(live[live.size() / 2], kTag), Pool::FreeResult::Ok);
        live.erase(live.begin() + static_cast<std::ptrdiff_t>(live.size() / 2));
      }
    }
    return out;
  };
  AddressSpace space_a, space_b;
  Pool a(space_a), b(space_b);
  EXPECT_EQ(script(a), script(b));
}

TEST_F(PoolTest, FreeOfAnUnknownAddressOrTwiceIsNotAllocated) {
  GuestVa va = alloc(64);
  EXPECT_EQ(pool.free(va + 16, kTag), Pool::FreeResult::NotAllocated) << "inside a block";
  EXPECT_EQ(pool.free(GuestVa{0xFFFF'F800'1234'0000ull}, std::nullopt),
            Pool::FreeResult::NotAllocated);
  PoolBlock freed;
  EXPECT_EQ(pool.free(va, kTag, &freed), Pool::FreeResult::Ok);
  EXPECT_EQ(freed.address, va);
  EXPECT_EQ(freed.size, 64u);
  EXPECT_EQ(pool.block_at(va), nullptr);
  EXPECT_EQ(pool.free(va, kTag), Pool::FreeResult::NotAllocated) << "double free";
  EXPECT_EQ(pool.free(va, std::nullopt), Pool::FreeResult::NotAllocated);
}

TEST_F(PoolTest, TagMismatchIsReportedAndKeepsTheBlockAlive) {
  GuestVa va = alloc(64);
  EXPECT_EQ(pool.free(va, tag("Oops")), Pool::FreeResult::TagMismatch);
  EXPECT_NE(pool.block_at(va), nullptr);
  EXPECT_EQ(pool.bytes_in_use(), 64u);
  // ExFreePool (no tag) frees any block.
  EXPECT_EQ(pool.free(va, std::nullopt), Pool::FreeResult::Ok);
  EXPECT_EQ(pool.bytes_in_use(), 0u);
}

TEST_F(PoolTest, TagComparisonIgnoresTheProtectedPoolBit) {
  GuestVa va = alloc(64, pool_type::kNonPaged, kTag | 0x8000'0000u);
  EXPECT_EQ(pool.free(va, kTag), Pool::FreeResult::Ok);
  GuestVa vb = alloc(64, pool_type::kNonPaged, kTag);
  EXPECT_EQ(pool.free(vb, kTag | 0x8000'0000u), Pool::FreeResult::Ok);
  GuestVa vc = alloc(64, pool_type::kNonPaged, kTag);
  EXPECT_EQ(pool.free(vc, kTag ^ 0x4000'0000u), Pool::FreeResult::TagMismatch) << "bit 30 counts";
}

TEST_F(PoolTest, AFreedBlockIsNotReturnedByTheNextAllocationOfTheSameSize) {
  GuestVa a = alloc(48);
  ASSERT_EQ(pool.free(a, kTag), Pool::FreeResult::Ok);
  GuestVa b = alloc(48);
  EXPECT_NE(b, a);
  EXPECT_EQ(pool.block_containing(a), nullptr) << "a quarantined block is not live";
  GuestVa big = alloc(2 * kPageSize);
  ASSERT_EQ(pool.free(big, kTag), Pool::FreeResult::Ok);
  EXPECT_NE(alloc(2 * kPageSize), big);
}

TEST_F(PoolTest, AQuarantinedBlockIsReusedOnceEnoughMemoryWasFreedAfterIt) {
  GuestVa a = alloc(48);
  ASSERT_EQ(pool.free(a, kTag), Pool::FreeResult::Ok);
  // Push more than the quarantine holds (8 MiB) behind it.
  for (int i = 0; i < 9; ++i) {
    GuestVa big = alloc(1u << 20);
    ASSERT_EQ(pool.free(big, kTag), Pool::FreeResult::Ok);
  }
  GuestVa again = alloc(48, pool_type::kNonPaged, tag("Next"));
  EXPECT_EQ(again, a);
  EXPECT_EQ(space.read<uint32_t>(again - Pool::kHeaderSize + 4), tag("Next")) << "header rewritten";
  EXPECT_EQ(pool.block_at(again)->tag, tag("Next"));
}

TEST_F(PoolTest, BlockContainingFindsAnyByteOfALiveBlockAndNothingElse) {
  GuestVa a = alloc(40);
  GuestVa b = alloc(0);
  EXPECT_EQ(pool.block_containing(a), pool.block_at(a));
  EXPECT_EQ(pool.block_containing(a + 39), pool.block_at(a));
  EXPECT_EQ(pool.block_containing(a + 40), nullptr) << "past the requested size";
  EXPECT_EQ(pool.block_containing(a - 1), nullptr) << "the header";
  EXPECT_EQ(pool.block_containing(Pool::kNonPagedBase), nullptr);
  EXPECT_EQ(pool.block_containing(b), pool.block_at(b))
      << "a zero-byte block still owns its address";
  EXPECT_EQ(pool.block_containing(b + 1), nullptr);
  EXPECT_EQ(pool.block_containing(GuestVa{1}), nullptr);
}

TEST_F(PoolTest, LiveBlocksAndBytesInUseFollowAllocationsAndFrees) {
  GuestVa a = alloc(10);
  GuestVa b = alloc(5000);
  EXPECT_EQ(pool.live().size(), 2u);
  EXPECT_EQ(pool.bytes_in_use(), 16u + 2 * kPageSize);
  EXPECT_LT(pool.block_at(a)->serial, pool.block_at(b)->serial);
  pool.free(a, std::nullopt);
  EXPECT_EQ(pool.live().size(), 1u);
  EXPECT_EQ(pool.bytes_in_use(), 2 * kPageSize);
}

TEST(PoolCapTest, AllocationsBeyondThePoolCapReturnNullopt) {
  AddressSpace space;
  Pool pool(space, 4 * kPageSize);
  auto a = pool.allocate(4 * kPageSize, pool_type::kNonPaged, kTag, kCaller);
  ASSERT_TRUE(a.has_value()) << "exactly the cap";
  EXPECT_FALSE(pool.allocate(1, pool_type::kNonPaged, kTag, kCaller).has_value());
  EXPECT_FALSE(pool.allocate(1, pool_type::kPaged, kTag, kCaller).has_value());
  // Freeing gives the bytes back... once the block leaves quarantine; the
  // bytes in use drop at once.
  EXPECT_EQ(pool.free(*a, kTag), Pool::FreeResult::Ok);
  EXPECT_EQ(pool.bytes_in_use(), 0u);
}

TEST(PoolCapTest, AGuestMemoryCapReachedWhileGrowingAnArenaReturnsNulloptNotAnException) {
  AddressSpace space(Pool::kArenaChunk / 2);  // the first arena chunk cannot be mapped
  Pool pool(space);
  std::optional<GuestVa> va;
  EXPECT_NO_THROW(va = pool.allocate(32, pool_type::kNonPaged, kTag, kCaller));
  EXPECT_FALSE(va.has_value());
  EXPECT_EQ(space.mapped_bytes(), 0u);
}

TEST_F(PoolTest, SizesThatWrapReturnNullopt) {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  for (uint64_t size : {kMax, kMax - 7, kMax - 15, kMax - 16, kMax - kPageSize, kMax - 0x1FFF}) {
    EXPECT_FALSE(pool.allocate(size, pool_type::kNonPaged, kTag, kCaller).has_value())
        << std::hex << size;
  }
  EXPECT_EQ(pool.live().size(), 0u);
}

TEST_F(PoolTest, SizesThatWrapReturnNulloptAfterEarlierAllocationsToo) {
  // With bytes already in use, `in_use + capacity` (and the arena and
  // reservation sums) can wrap past the cap checks.
  GuestVa first = alloc(0x2000);
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  for (uint64_t size : {kMax - 15, kMax - 31, kMax - 16, kMax - 7, kMax - 0x1FFF, kMax - 0xFFF}) {
    auto va = pool.allocate(size, pool_type::kNonPaged, kTag, kCaller);
    EXPECT_FALSE(va.has_value()) << std::hex << "size 0x" << size << " gave 0x" << va->value;
  }
  EXPECT_EQ(pool.live().size(), 1u);
  EXPECT_EQ(pool.bytes_in_use(), 0x2000u);
  // And the arena still hands out fresh, non-overlapping memory.
  GuestVa next = alloc(0x100);
  EXPECT_TRUE(next.value >= first.value + 0x2000 || next.value + 0x100 <= first.value)
      << std::hex << next.value << " overlaps " << first.value;
}

}  // namespace
}  // namespace kemu::emu

namespace kemu::emu {
namespace {

// Guarded placement (the verifier's pool.overrun / pool.use-after-free).
class GuardedPoolTest : public ::testing::Test {
 protected:
  GuardedPoolTest() { pool.enable_guarded_placement(true); }
  AddressSpace space;
  Pool pool{space};
};

TEST_F(GuardedPoolTest, ADriverBlockEndsAgainstAnUnmappedGuardPage) {
  GuestVa a = *pool.allocate(32, pool_type::kNonPaged, 0x656D614E, GuestVa{0x1000}, true);
  EXPECT_EQ(a.value, Pool::kGuardedBase.value + kPageSize - 32);
  EXPECT_TRUE(space.accessible(a, 32, Prot::ReadWrite));
  EXPECT_FALSE(space.is_mapped(a + 32));  // the guard page
  ASSERT_NE(pool.block_at(a), nullptr);
  EXPECT_TRUE(pool.block_at(a)->guarded);
  EXPECT_TRUE(pool.in_pool(a));
  // A 17-byte block starts 16-byte aligned: its 15 rounding bytes precede the guard.
  GuestVa b = *pool.allocate(17, pool_type::kPaged, 0x656D614E, GuestVa{0x1000}, true);
  EXPECT_EQ(b.value, Pool::kGuardedBase.value + 3 * kPageSize - 32);
  EXPECT_TRUE(pool.is_paged_address(b));
  EXPECT_FALSE(pool.is_paged_address(a));
  // Without the request (kemu's own allocations) nothing changes.
  GuestVa c = *pool.allocate(32, pool_type::kNonPaged, 0x656D614E, GuestVa{0x1000});
  EXPECT_EQ(c.value, Pool::kNonPagedBase.value + Pool::kHeaderSize);
}

TEST_F(GuardedPoolTest, AFaultOnTheGuardIsAnOverrunAndMapsAZeroPage) {
  GuestVa a = *pool.allocate(64, pool_type::kNonPaged, 0x656D614E, GuestVa{0x1000}, true);
  auto hit = pool.resolve_guard_fault(a + 64);
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->hit, Pool::GuardHit::Overrun);
  EXPECT_EQ(hit->block.address, a);
  EXPECT_EQ(hit->block.size, 64u);
  EXPECT_FALSE(hit->freed);
  EXPECT_TRUE(space.accessible(a + 64, kPageSize, Prot::ReadWrite));
  EXPECT_EQ(space.read<uint64_t>(a + 64), 0u);
  EXPECT_FALSE(pool.resolve_guard_fault(a + 64).has_value());  // once per block
  EXPECT_FALSE(pool.resolve_guard_fault(a).has_value());       // a live block's bytes never fault
}

TEST_F(GuardedPoolTest, FreedBlocksLoseAccessKeepTheirBytesAndAreNeverReused) {
  GuestVa a = *pool.allocate(16, pool_type::kNonPaged, 0x656D614E, GuestVa{0x1000}, true);
  space.write<uint64_t>(a, 0xCA);
  ASSERT_EQ(pool.free(a, 0x656D614E), Pool::FreeResult::Ok);
  EXPECT_FALSE(space.accessible(a, 16, Prot::Read));
  EXPECT_EQ(pool.free(a, std::nullopt), Pool::FreeResult::NotAllocated);
  GuestVa b = *pool.allocate(16, pool_type::kNonPaged, 0x656D614E, GuestVa{0x1000}, true);
  EXPECT_NE(b, a);
  auto hit = pool.resolve_guard_fault(a + 8);
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->hit, Pool::GuardHit::UseAfterFree);
  EXPECT_EQ(hit->block.address, a);
  EXPECT_TRUE(space.accessible(a, 16, Prot::ReadWrite));
  EXPECT_EQ(space.read<uint64_t>(a), 0xCAu);  // as on Windows, the old bytes are still there
  // A host copy's range: every guard page or freed block it meets.
  ASSERT_EQ(pool.free(b, std::nullopt), Pool::FreeResult::Ok);
  auto hits = pool.resolve_guard_range(b, 32);
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].hit, Pool::GuardHit::UseAfterFree);
  EXPECT_EQ(hits[1].hit, Pool::GuardHit::Overrun);
}

TEST_F(GuardedPoolTest, QuarantinedBlocksAreUnmappedAndTheLiveBytesAreBounded) {
  std::vector<GuestVa> blocks;
  for (size_t i = 0; i < Pool::kGuardedQuarantineBlocks + 2; ++i)
    blocks.push_back(*pool.allocate(16, pool_type::kNonPaged, 0x656D614E, GuestVa{0x1000}, true));
  for (GuestVa b : blocks) ASSERT_EQ(pool.free(b, std::nullopt), Pool::FreeResult::Ok);
  EXPECT_FALSE(space.is_mapped(blocks[0]));  // left the quarantine
  EXPECT_TRUE(space.is_mapped(blocks.back()));
  auto hit = pool.resolve_guard_fault(blocks[0]);
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->hit, Pool::GuardHit::UseAfterFree);
  EXPECT_EQ(pool.bytes_in_use(), 0u);
  // Past kGuardedLiveBytes of live guarded pages, blocks go to the normal arenas.
  uint64_t pages = Pool::kGuardedLiveBytes / kPageSize;
  for (uint64_t i = 0; i < pages; ++i) ASSERT_TRUE(pool.allocate(16, 0, 1, GuestVa{}, true).has_value());
  GuestVa spill = *pool.allocate(16, 0, 1, GuestVa{}, true);
  EXPECT_FALSE(pool.block_at(spill)->guarded);
  EXPECT_FALSE(pool.in_guarded_arena(spill));
}

}  // namespace
}  // namespace kemu::emu

namespace kemu::emu {
namespace {

TEST(GuardedPoolSlack, TheBytesPastTheSizeHoldThePatternUntilOverwritten) {
  AddressSpace space;
  Pool pool{space};
  pool.enable_guarded_placement(true);
  GuestVa a = *pool.allocate(17, pool_type::kNonPaged, 1, GuestVa{}, true);
  EXPECT_EQ(space.read<uint8_t>(a + 17), Pool::kSlackPattern);
  EXPECT_EQ(space.read<uint8_t>(a + 31), Pool::kSlackPattern);
  EXPECT_FALSE(pool.slack_overwritten(a).has_value());
  space.write<uint8_t>(a + 16, 0);  // inside the block: fine
  EXPECT_FALSE(pool.slack_overwritten(a).has_value());
  space.write<uint8_t>(a + 18, 0);
  EXPECT_EQ(pool.slack_overwritten(a), std::optional<uint64_t>(18));
  GuestVa b = *pool.allocate(32, pool_type::kNonPaged, 1, GuestVa{}, true);  // no slack
  EXPECT_FALSE(pool.slack_overwritten(b).has_value());
}

}  // namespace
}  // namespace kemu::emu
