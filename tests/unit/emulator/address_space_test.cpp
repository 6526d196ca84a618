// AddressSpace without a CPU: the region table, protections, the memory cap
// and the host view of guest bytes.
#include "emulator/address_space.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <limits>
#include <string>

namespace kemu::emu {
namespace {

constexpr GuestVa kBase{0xFFFF'F800'0010'0000ull};

TEST(AddressSpaceTest, MapCreatesAZeroFilledRegionWithOwnerKindAndPerPageProtection) {
  AddressSpace space;
  Region& r = space.map(kBase, 3 * kPageSize, Prot::ReadWrite, RegionKind::Pool, "pool", 7);
  EXPECT_EQ(r.base, kBase);
  EXPECT_EQ(r.size, 3 * kPageSize);
  EXPECT_EQ(r.end(), kBase + 3 * kPageSize);
  EXPECT_EQ(r.kind, RegionKind::Pool);
  EXPECT_EQ(r.owner, 7u);
  EXPECT_EQ(r.name, "pool");
  ASSERT_EQ(r.page_prot.size(), 3u);
  for (Prot p : r.page_prot) EXPECT_EQ(p, Prot::ReadWrite);
  for (uint64_t i = 0; i < r.size; ++i) ASSERT_EQ(r.host[i], 0) << i;
  EXPECT_EQ(space.mapped_bytes(), 3 * kPageSize);

  EXPECT_EQ(space.find(kBase), &r);
  EXPECT_EQ(space.find(kBase + 3 * kPageSize - 1), &r);
  EXPECT_EQ(space.find(kBase + 3 * kPageSize), nullptr);
  EXPECT_EQ(space.find(kBase - 1), nullptr);
  EXPECT_TRUE(space.is_mapped(kBase + 0x1234));
}

TEST(AddressSpaceTest, UnmapRemovesTheRegionAndReturnsItsBytesToTheCap) {
  AddressSpace space(4 * kPageSize);
  space.map(kBase, 4 * kPageSize, Prot::ReadWrite, RegionKind::Scratch, "a");
  space.unmap(kBase);
  EXPECT_FALSE(space.is_mapped(kBase));
  EXPECT_EQ(space.mapped_bytes(), 0u);
  EXPECT_TRUE(space.regions().empty());
  // The bytes are free again: the same range maps once more under the cap.
  EXPECT_NO_THROW(space.map(kBase, 4 * kPageSize, Prot::Read, RegionKind::Scratch, "b"));
}

TEST(AddressSpaceTest, UnmapOfAnAddressThatStartsNoRegionThrows) {
  AddressSpace space;
  space.map(kBase, 2 * kPageSize, Prot::ReadWrite, RegionKind::Scratch, "a");
  EXPECT_THROW(space.unmap(kBase + kPageSize), std::invalid_argument);
  EXPECT_THROW(space.unmap(GuestVa{0x10000}), std::invalid_argument);
  EXPECT_TRUE(space.is_mapped(kBase));
}

TEST(AddressSpaceTest, OverlappingMapsAreRejectedOnEitherSide) {
  AddressSpace space;
  space.map(kBase, 2 * kPageSize, Prot::ReadWrite, RegionKind::Scratch, "middle");
  // Starts inside, ends inside, covers, identical.
  EXPECT_THROW(space.map(kBase + kPageSize, 2 * kPageSize, Prot::Read, RegionKind::Scratch, "x"),
               std::invalid_argument);
  EXPECT_THROW(space.map(kBase - kPageSize, 2 * kPageSize, Prot::Read, RegionKind::Scratch, "x"),
               std::invalid_argument);
  EXPECT_THROW(space.map(kBase - kPageSize, 4 * kPageSize, Prot::Read, RegionKind::Scratch, "x"),
               std::invalid_argument);
  EXPECT_THROW(space.map(kBase, 2 * kPageSize, Prot::Read, RegionKind::Scratch, "x"),
               std::invalid_argument);
  EXPECT_EQ(space.regions().size(), 1u);
  EXPECT_EQ(space.mapped_bytes(), 2 * kPageSize);
  // Touching neighbours are fine.
  EXPECT_NO_THROW(
      space.map(kBase - kPageSize, kPageSize, Prot::Read, RegionKind::Scratch, "below"));
  EXPECT_NO_THROW(
      space.map(kBase + 2 * kPageSize, kPageSize, Prot::Read, RegionKind::Scratch, "above"));
  EXPECT_EQ(space.regions().size(), 3u);
}

TEST(AddressSpaceTest, UnalignedEmptyOrWrappingMapsAreRejected) {
  AddressSpace space;
  EXPECT_THROW(space.map(kBase + 1, kPageSize, Prot::Read, RegionKind::Scratch, "x"),
               std::invalid_argument);
  EXPECT_THROW(space.map(kBase, kPageSize + 1, Prot::Read, RegionKind::Scratch, "x"),
               std::invalid_argument);
  EXPECT_THROW(space.map(kBase, 0, Prot::Read, RegionKind::Scratch, "x"), std::invalid_argument);
  EXPECT_THROW(space.map(GuestVa{0xFFFF'FFFF'FFFF'F000ull}, 2 * kPageSize, Prot::Read,
                         RegionKind::Scratch, "x"),
               std::invalid_argument);
  // A region ending exactly at 2^64 would have end() == 0: refused as well.
  EXPECT_THROW(
      space.map(GuestVa{0xFFFF'FFFF'FFFF'F000ull}, kPageSize, Prot::Read, RegionKind::Scratch, "x"),
      std::invalid_argument);
  EXPECT_TRUE(space.regions().empty());
}

TEST(AddressSpaceTest, MapsBeyondTheCapThrowGuestMemoryExhaustedAndChangeNothing) {
  AddressSpace space(8 * kPageSize);
  space.map(kBase, 6 * kPageSize, Prot::ReadWrite, RegionKind::Scratch, "a");
  EXPECT_THROW(
      space.map(kBase + 0x10'0000, 3 * kPageSize, Prot::ReadWrite, RegionKind::Scratch, "b"),
      GuestMemoryExhausted);
  EXPECT_EQ(space.mapped_bytes(), 6 * kPageSize);
  EXPECT_FALSE(space.is_mapped(kBase + 0x10'0000));
  // Exactly up to the cap is allowed.
  EXPECT_NO_THROW(
      space.map(kBase + 0x10'0000, 2 * kPageSize, Prot::ReadWrite, RegionKind::Scratch, "c"));
  EXPECT_EQ(space.mapped_bytes(), space.cap_bytes());
}

TEST(AddressSpaceTest, ReadAndWriteCrossTwoAdjacentRegions) {
  AddressSpace space;
  space.map(kBase, kPageSize, Prot::ReadWrite, RegionKind::Scratch, "low");
  space.map(kBase + kPageSize, kPageSize, Prot::Read, RegionKind::Scratch, "high");
  std::array<uint8_t, 16> in{};
  for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<uint8_t>(0xA0 + i);
  GuestVa at = kBase + kPageSize - 8;
  ASSERT_TRUE(space.write(at, in.data(), in.size())) << "host writes ignore protections";
  std::array<uint8_t, 16> out{};
  ASSERT_TRUE(space.read(at, out.data(), out.size()));
  EXPECT_EQ(out, in);
  EXPECT_EQ(space.find(kBase)->host[kPageSize - 1], 0xA7);
  EXPECT_EQ(space.find(kBase + kPageSize)->host[0], 0xA8);
  EXPECT_EQ(space.read<uint64_t>(kBase + kPageSize - 4), 0xABAAA9A8'A7A6A5A4ull);
}

TEST(AddressSpaceTest, AFailedWriteChangesNothing) {
  AddressSpace space;
  space.map(kBase, kPageSize, Prot::ReadWrite, RegionKind::Scratch, "only");
  std::array<uint8_t, 16> in;
  in.fill(0xEE);
  // The first 8 bytes are mapped, the next 8 are not.
  EXPECT_FALSE(space.write(kBase + kPageSize - 8, in.data(), in.size()));
  EXPECT_EQ(space.read<uint64_t>(kBase + kPageSize - 8), 0u);
  // Across a hole between two regions, too.
  space.map(kBase + 2 * kPageSize, kPageSize, Prot::ReadWrite, RegionKind::Scratch, "after hole");
  std::vector<uint8_t> big(2 * kPageSize + 16, 0xEE);
  EXPECT_FALSE(space.write(kBase + kPageSize - 8, big.data(), big.size()));
  EXPECT_EQ(space.read<uint64_t>(kBase + kPageSize - 8), 0u);
  EXPECT_EQ(space.read<uint64_t>(kBase + 2 * kPageSize), 0u);
  EXPECT_THROW(space.write<uint64_t>(kBase + kPageSize - 4, 1), GuestAccessError);
  EXPECT_EQ(space.read<uint32_t>(kBase + kPageSize - 4), 0u);
}

TEST(AddressSpaceTest, ReadsOfUnmappedBytesFailOrThrowWithTheAddress) {
  AddressSpace space;
  space.map(kBase, kPageSize, Prot::ReadWrite, RegionKind::Scratch, "only");
  uint64_t v = 0;
  EXPECT_FALSE(space.read(kBase + kPageSize - 4, &v, 8));
  EXPECT_FALSE(space.try_read<uint64_t>(kBase + kPageSize - 4).has_value());
  EXPECT_TRUE(space.try_read<uint32_t>(kBase + kPageSize - 4).has_value());
  try {
    space.read<uint64_t>(kBase - 8);
    FAIL() << "no GuestAccessError";
  } catch (const GuestAccessError& e) {
    EXPECT_EQ(e.address, kBase - 8);
    EXPECT_FALSE(e.write);
  }
  try {
    space.write<uint16_t>(GuestVa{0x1000}, 1);
    FAIL() << "no GuestAccessError";
  } catch (const GuestAccessError& e) {
    EXPECT_EQ(e.address, GuestVa{0x1000});
    EXPECT_TRUE(e.write);
  }
}

TEST(AddressSpaceTest, FindFreeReturnsTheLowestPageAlignedGapThatFits) {
  AddressSpace space;
  GuestVa lo{0x10000}, hi{0x40000};
  EXPECT_EQ(space.find_free(lo, hi, 0x3000), lo);
  EXPECT_EQ(space.find_free(GuestVa{0x10001}, hi, 0x1000), GuestVa{0x11000}) << "rounded up";
  // Regions at 0x10000-0x12000 and 0x13000-0x14000.
  space.map(GuestVa{0x10000}, 0x2000, Prot::Read, RegionKind::UserMemory, "a", 4);
  space.map(GuestVa{0x13000}, 0x1000, Prot::Read, RegionKind::UserMemory, "b", 4);
  EXPECT_EQ(space.find_free(lo, hi, 0x1000), GuestVa{0x12000}) << "the one-page hole";
  EXPECT_EQ(space.find_free(lo, hi, 0x2000), GuestVa{0x14000}) << "hole too small";
  EXPECT_EQ(space.find_free(GuestVa{0x11000}, hi, 0x1000), GuestVa{0x12000})
      << "lo inside a region";
  EXPECT_EQ(space.find_free(lo, hi, 0x2C000), GuestVa{0x14000});
  EXPECT_FALSE(space.find_free(lo, hi, 0x2D000).has_value()) << "does not fit below hi";
  EXPECT_FALSE(space.find_free(lo, GuestVa{0x12000}, 0x1000).has_value());
  EXPECT_FALSE(
      space.find_free(GuestVa{0xFFFF'FFFF'FFFF'E000ull}, GuestVa{~0ull}, 0x4000).has_value())
      << "a range that would wrap";
}

TEST(AddressSpaceTest, AccessibleChecksEveryPageAgainstTheNeededProtection) {
  AddressSpace space;
  space.map(kBase, 4 * kPageSize, Prot::ReadWrite, RegionKind::Scratch, "rw");
  space.protect(kBase + kPageSize, kPageSize, Prot::Read);
  space.protect(kBase + 2 * kPageSize, kPageSize, Prot::None);
  EXPECT_EQ(space.find(kBase)->prot_at(kBase + kPageSize + 5), Prot::Read);

  EXPECT_TRUE(space.accessible(kBase, kPageSize, Prot::ReadWrite));
  EXPECT_FALSE(space.accessible(kBase, kPageSize + 1, Prot::ReadWrite)) << "one byte on page 1";
  EXPECT_TRUE(space.accessible(kBase, 2 * kPageSize, Prot::Read));
  EXPECT_FALSE(space.accessible(kBase + 2 * kPageSize - 1, 2, Prot::Read)) << "page 2 is no-access";
  EXPECT_TRUE(space.accessible(kBase + 3 * kPageSize, kPageSize, Prot::ReadWrite));
  EXPECT_FALSE(space.accessible(kBase + 3 * kPageSize, kPageSize, Prot::Exec));
  EXPECT_FALSE(space.accessible(kBase + 4 * kPageSize - 1, 2, Prot::Read)) << "runs off the region";
  EXPECT_TRUE(space.accessible(GuestVa{0}, 0, Prot::All)) << "an empty range is always accessible";
  EXPECT_FALSE(space.accessible(kBase, ~0ull, Prot::Read)) << "wraps";
}

TEST(AddressSpaceTest, ProtectAcceptsOnlyWholePagesOfOneRegion) {
  AddressSpace space;
  space.map(kBase, 2 * kPageSize, Prot::ReadWrite, RegionKind::Scratch, "a");
  space.map(kBase + 2 * kPageSize, kPageSize, Prot::ReadWrite, RegionKind::Scratch, "b");
  EXPECT_THROW(space.protect(kBase + 1, kPageSize, Prot::Read), std::invalid_argument);
  EXPECT_THROW(space.protect(kBase, kPageSize + 1, Prot::Read), std::invalid_argument);
  EXPECT_THROW(space.protect(kBase + kPageSize, 2 * kPageSize, Prot::Read), std::invalid_argument)
      << "spans two regions";
  EXPECT_THROW(space.protect(kBase + 8 * kPageSize, kPageSize, Prot::Read), std::invalid_argument);
  for (Prot p : space.find(kBase)->page_prot) EXPECT_EQ(p, Prot::ReadWrite);
}

TEST(AddressSpaceTest, ReadCstringStopsAtNulOrTheLimitAndThrowsPastTheRegion) {
  AddressSpace space;
  space.map(kBase, kPageSize, Prot::ReadWrite, RegionKind::Scratch, "s");
  const char hello[] = "hello";
  space.write(kBase, hello, sizeof(hello));
  EXPECT_EQ(space.read_cstring(kBase), "hello");
  EXPECT_EQ(space.read_cstring(kBase, 3), "hel");
  EXPECT_EQ(space.read_cstring(kBase, 0), "");

  // An unterminated string at the end of the region: bounded read is fine,
  // reading on into unmapped memory throws.
  GuestVa tail = kBase + kPageSize - 4;
  space.write(tail, "abcd", 4);
  EXPECT_EQ(space.read_cstring(tail, 4), "abcd");
  EXPECT_THROW(space.read_cstring(tail, 5), GuestAccessError);
  EXPECT_THROW(space.read_cstring(GuestVa{0x1000}), GuestAccessError);
}

TEST(AddressSpaceTest, ReadWstringStopsAtNulOrTheLimitAndThrowsPastTheRegion) {
  AddressSpace space;
  space.map(kBase, kPageSize, Prot::ReadWrite, RegionKind::Scratch, "s");
  const char16_t name[] = u"\\Device\\Kemu";
  space.write(kBase, name, sizeof(name));
  EXPECT_EQ(space.read_wstring(kBase), u"\\Device\\Kemu");
  EXPECT_EQ(space.read_wstring(kBase, 7), u"\\Device");

  GuestVa tail = kBase + kPageSize - 4;
  space.write(tail, u"xy", 4);
  EXPECT_EQ(space.read_wstring(tail, 2), u"xy");
  EXPECT_THROW(space.read_wstring(tail, 3), GuestAccessError);
  // The last byte mapped is half a character: that is an unmapped read too.
  EXPECT_THROW(space.read_wstring(kBase + kPageSize - 1), GuestAccessError);
}

TEST(AddressSpaceTest, HostGivesAPointerOnlyForRangesInsideOneRegion) {
  AddressSpace space;
  Region& a = space.map(kBase, kPageSize, Prot::ReadWrite, RegionKind::Scratch, "a");
  space.map(kBase + kPageSize, kPageSize, Prot::ReadWrite, RegionKind::Scratch, "b");
  EXPECT_EQ(space.host(kBase + 0x10, 0x20), a.host + 0x10);
  EXPECT_EQ(space.host(kBase, kPageSize), a.host);
  EXPECT_EQ(space.host(kBase + kPageSize - 4, 8), nullptr) << "spans two regions";
  EXPECT_EQ(space.host(kBase - 4, 4), nullptr);
  const AddressSpace& cspace = space;
  EXPECT_EQ(cspace.host(kBase + 1, 1), a.host + 1);
  // The pointer is the guest memory itself.
  *space.host(kBase + 0x40, 4) = 0x5A;
  EXPECT_EQ(space.read<uint8_t>(kBase + 0x40), 0x5A);
}

TEST(AddressSpaceTest, HostRejectsASizeThatWrapsAroundTheRegionOffset) {
  // A length taken from the guest must not turn into a pointer to a few bytes.
  AddressSpace space;
  space.map(kBase, kPageSize, Prot::ReadWrite, RegionKind::Scratch, "a");
  EXPECT_EQ(space.host(kBase + 0x10, std::numeric_limits<size_t>::max()), nullptr);
  EXPECT_EQ(space.host(kBase + 0x10, std::numeric_limits<size_t>::max() - 0x8), nullptr);
  const AddressSpace& cspace = space;
  EXPECT_EQ(cspace.host(kBase + 0x10, std::numeric_limits<size_t>::max()), nullptr);
}

TEST(AddressSpaceTest, TheLastRegionLookedUpIsNotReturnedAfterItIsUnmapped) {
  AddressSpace space;
  space.map(kBase, kPageSize, Prot::ReadWrite, RegionKind::Scratch, "a");
  ASSERT_NE(space.find(kBase), nullptr);  // primes the lookup cache
  space.unmap(kBase);
  EXPECT_EQ(space.find(kBase), nullptr);
  EXPECT_FALSE(space.try_read<uint8_t>(kBase).has_value());
}

TEST(AddressSpaceTest, RegionKindsHaveStableNames) {
  EXPECT_STREQ(to_string(RegionKind::DriverImage), "driver-image");
  EXPECT_STREQ(to_string(RegionKind::Pool), "pool");
  EXPECT_STREQ(to_string(RegionKind::SharedData), "shared-data");
  EXPECT_STREQ(to_string(RegionKind::UserMemory), "user-memory");
}

}  // namespace
}  // namespace kemu::emu

namespace {

// The user half switches with the process: another process's user memory is
// not accessible, and comes back with its protections when shown again.
TEST(AddressSpaceUserHalf, HiddenUserMemoryIsNotAccessibleAndKeepsItsProtections) {
  kemu::emu::AddressSpace space;
  using kemu::GuestVa;
  using kemu::Prot;
  space.map(GuestVa{0x20000000}, 0x2000, Prot::ReadWrite, kemu::emu::RegionKind::UserMemory, "client", 0x1234);
  space.protect(GuestVa{0x20001000}, 0x1000, Prot::Read);
  EXPECT_TRUE(space.accessible(GuestVa{0x20000000}, 1, Prot::Write));
  space.set_owner_visible(0x1234, false);
  EXPECT_FALSE(space.accessible(GuestVa{0x20000000}, 1, Prot::Read));
  EXPECT_FALSE(space.accessible(GuestVa{0x20001000}, 1, Prot::Read));
  space.set_owner_visible(0x1234, true);
  EXPECT_TRUE(space.accessible(GuestVa{0x20000000}, 1, Prot::Write));
  EXPECT_TRUE(space.accessible(GuestVa{0x20001000}, 1, Prot::Read));
  EXPECT_FALSE(space.accessible(GuestVa{0x20001000}, 1, Prot::Write));
}

}  // namespace

namespace {

using kemu::GuestVa;
using kemu::Prot;
using kemu::emu::AddressSpace;
using kemu::emu::RegionKind;

constexpr GuestVa kUser{0x30000000};

// Releasing part of an allocation: the region splits around the hole, both
// parts keep their bytes, owner, kind and per-page protections.
TEST(AddressSpaceUnmapPages, AHoleInTheMiddleSplitsTheRegionInTwo) {
  AddressSpace space;
  space.map(kUser, 4 * kemu::kPageSize, Prot::ReadWrite, RegionKind::UserMemory, "alloc", 0x1234);
  space.protect(kUser + 3 * kemu::kPageSize, kemu::kPageSize, Prot::Read);
  space.write<uint32_t>(kUser + 0x10, 0xAABBCCDD);
  space.write<uint32_t>(kUser + 0x3010, 0x11223344);
  space.unmap_pages(kUser + kemu::kPageSize, 2 * kemu::kPageSize);

  const auto* left = space.find(kUser);
  const auto* right = space.find(kUser + 3 * kemu::kPageSize);
  ASSERT_NE(left, nullptr);
  ASSERT_NE(right, nullptr);
  EXPECT_NE(left, right);
  EXPECT_EQ(left->base, kUser);
  EXPECT_EQ(left->size, kemu::kPageSize);
  EXPECT_EQ(right->base, kUser + 3 * kemu::kPageSize);
  EXPECT_EQ(right->size, kemu::kPageSize);
  EXPECT_EQ(right->owner, 0x1234u);
  EXPECT_EQ(right->kind, RegionKind::UserMemory);
  EXPECT_EQ(right->name, "alloc");
  EXPECT_EQ(right->prot_at(right->base), Prot::Read);
  EXPECT_EQ(left->prot_at(kUser), Prot::ReadWrite);
  EXPECT_FALSE(space.is_mapped(kUser + kemu::kPageSize));
  EXPECT_FALSE(space.is_mapped(kUser + 3 * kemu::kPageSize - 1));
  EXPECT_EQ(space.read<uint32_t>(kUser + 0x10), 0xAABBCCDDu);
  EXPECT_EQ(space.read<uint32_t>(kUser + 0x3010), 0x11223344u);
  EXPECT_EQ(space.mapped_bytes(), 2 * kemu::kPageSize);
}

TEST(AddressSpaceUnmapPages, AHoleAtEitherEndShrinksTheRegionAndTheWholeRegionUnmapsIt) {
  AddressSpace space;
  space.map(kUser, 3 * kemu::kPageSize, Prot::ReadWrite, RegionKind::UserMemory, "alloc", 0x1234);
  space.write<uint8_t>(kUser + 0x2000, 0x5A);
  space.unmap_pages(kUser, kemu::kPageSize);
  ASSERT_NE(space.find(kUser + 0x1000), nullptr);
  EXPECT_EQ(space.find(kUser + 0x1000)->base, kUser + 0x1000);
  EXPECT_EQ(space.find(kUser + 0x1000)->size, 2 * kemu::kPageSize);
  space.unmap_pages(kUser + 0x2000 + 0, kemu::kPageSize);
  ASSERT_NE(space.find(kUser + 0x1000), nullptr);
  EXPECT_EQ(space.find(kUser + 0x1000)->size, kemu::kPageSize);
  space.unmap_pages(kUser + 0x1000, kemu::kPageSize);
  EXPECT_TRUE(space.regions().empty());
  EXPECT_EQ(space.mapped_bytes(), 0u);
}

TEST(AddressSpaceUnmapPages, PagesOutsideOneRegionOrNotWholeAreRejected) {
  AddressSpace space;
  space.map(kUser, 2 * kemu::kPageSize, Prot::ReadWrite, RegionKind::UserMemory, "alloc", 0x1234);
  EXPECT_THROW(space.unmap_pages(kUser + 0x800, kemu::kPageSize), std::invalid_argument);
  EXPECT_THROW(space.unmap_pages(kUser + 0x1000, 2 * kemu::kPageSize), std::invalid_argument);
  EXPECT_THROW(space.unmap_pages(kUser + 0x4000, kemu::kPageSize), std::invalid_argument);
  EXPECT_EQ(space.find(kUser)->size, 2 * kemu::kPageSize);
}

TEST(AddressSpaceUnmapPages, APartOfHiddenUserMemoryStaysHidden) {
  AddressSpace space;
  space.map(kUser, 3 * kemu::kPageSize, Prot::ReadWrite, RegionKind::UserMemory, "alloc", 0x1234);
  space.set_owner_visible(0x1234, false);
  space.unmap_pages(kUser + kemu::kPageSize, kemu::kPageSize);
  EXPECT_FALSE(space.accessible(kUser, 1, Prot::Read));
  EXPECT_FALSE(space.accessible(kUser + 0x2000, 1, Prot::Read));
  space.set_owner_visible(0x1234, true);
  EXPECT_TRUE(space.accessible(kUser, 1, Prot::Write));
  EXPECT_TRUE(space.accessible(kUser + 0x2000, 1, Prot::Write));
}

// Decommitted pages come back zero-filled; the pages around them keep their bytes.
TEST(AddressSpaceUnmapPages, DiscardedPagesReadZerosAndTheOthersKeepTheirBytes) {
  AddressSpace space;
  space.map(kUser, 3 * kemu::kPageSize, Prot::ReadWrite, RegionKind::UserMemory, "alloc", 0x1234);
  for (uint64_t page = 0; page < 3; ++page) space.write<uint64_t>(kUser + page * 0x1000 + 8, 0x0102030405060708ull);
  space.discard_pages(kUser + 0x1000, kemu::kPageSize);
  EXPECT_EQ(space.read<uint64_t>(kUser + 8), 0x0102030405060708ull);
  EXPECT_EQ(space.read<uint64_t>(kUser + 0x1008), 0u);
  EXPECT_EQ(space.read<uint64_t>(kUser + 0x2008), 0x0102030405060708ull);
  EXPECT_THROW(space.discard_pages(kUser + 0x2000, 2 * kemu::kPageSize), std::invalid_argument);
}

}  // namespace
