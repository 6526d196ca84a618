#include "emulator/pool.h"

#include <fmt/format.h>

namespace kemu::emu {

namespace {
constexpr uint64_t kQuarantineBytes = 8ull << 20;
constexpr uint64_t kArenaSpan = 64ull << 30;  // address span reserved per arena
}  // namespace

Pool::Pool(AddressSpace& space, uint64_t cap_bytes) : space_(space), cap_(cap_bytes) {}

GuestVa Pool::bump(Arena& arena, uint64_t bytes, uint64_t align) {
  uint64_t start = (arena.next.value + align - 1) & ~(align - 1);
  uint64_t end = start + bytes;
  while (end > arena.mapped.value) {
    space_.map(arena.mapped, kArenaChunk, Prot::ReadWrite, RegionKind::Pool,
               fmt::format("{} {:#x}", arena.name, arena.mapped.value));
    arena.mapped += kArenaChunk;
  }
  arena.next = GuestVa{end};
  return GuestVa{start};
}

void Pool::write_header(GuestVa block, uint64_t capacity, uint32_t type, uint32_t tag) {
  // POOL_HEADER (x64): PreviousSize:8 PoolIndex:8 BlockSize:8 PoolType:8, PoolTag, ProcessBilled.
  uint32_t units = static_cast<uint32_t>(std::min<uint64_t>((capacity + kHeaderSize) / 16, 0xFF));
  uint32_t first = (units << 16) | (((type & 0x7F) + 1) << 24);
  space_.write<uint32_t>(block, first);
  space_.write<uint32_t>(block + 4, tag);
  space_.write<uint64_t>(block + 8, 0);
}

std::optional<GuestVa> Pool::allocate(uint64_t size, uint32_t type, uint32_t tag, GuestVa caller) {
  // Larger than an arena can never succeed; rejecting it first also keeps the
  // size arithmetic below from wrapping (e.g. size 2^64-16 or 2^64-0x2000).
  if (size > kArenaSpan) return std::nullopt;
  bool paged = (type & pool_type::kBaseTypeMask) != 0;
  bool big = size + kHeaderSize > kPageSize;
  uint64_t capacity = big ? page_up(size == 0 ? 1 : size) : ((size + 15) & ~15ull);
  if (capacity == 0) capacity = 16;
  if (capacity < size) return std::nullopt;  // size wrapped
  if (in_use_ + capacity > cap_) return std::nullopt;

  GuestVa address;
  auto& list = free_lists_[{paged, capacity}];
  if (!list.empty()) {
    address = list.back();
    list.pop_back();
  } else {
    Arena& arena = paged ? paged_ : nonpaged_;
    uint64_t footprint = big ? capacity : capacity + kHeaderSize;
    if (arena.next.value + footprint > arena.base.value + kArenaSpan) return std::nullopt;
    if (reserved_ + footprint > cap_) return std::nullopt;
    try {
      if (big) {
        address = bump(arena, capacity, kPageSize);
      } else {
        address = bump(arena, footprint, 16) + kHeaderSize;
      }
    } catch (const GuestMemoryExhausted&) {
      return std::nullopt;
    }
    reserved_ += footprint;
  }
  if (!big) write_header(address - kHeaderSize, capacity, type, tag);

  PoolBlock block;
  block.address = address;
  block.size = size;
  block.capacity = capacity;
  block.tag = tag;
  block.type = type;
  block.caller = caller;
  block.serial = ++serial_;
  live_[address.value] = block;
  in_use_ += capacity;
  return address;
}

Pool::FreeResult Pool::free(GuestVa address, std::optional<uint32_t> tag, PoolBlock* freed) {
  auto it = live_.find(address.value);
  if (it == live_.end()) return FreeResult::NotAllocated;
  // ExFreePoolWithTag compares the tag ignoring PROTECTED_POOL (bit 31).
  if (tag && ((*tag ^ it->second.tag) & 0x7FFFFFFF) != 0) return FreeResult::TagMismatch;
  PoolBlock block = it->second;
  if (freed) *freed = block;
  live_.erase(it);
  in_use_ -= block.capacity;
  quarantine_.push_back(block);
  quarantine_bytes_ += block.capacity;
  while (quarantine_bytes_ > kQuarantineBytes) {
    const PoolBlock& old = quarantine_.front();
    free_lists_[{old.paged(), old.capacity}].push_back(old.address);
    quarantine_bytes_ -= old.capacity;
    quarantine_.pop_front();
  }
  return FreeResult::Ok;
}

const PoolBlock* Pool::block_at(GuestVa address) const {
  auto it = live_.find(address.value);
  return it == live_.end() ? nullptr : &it->second;
}

const PoolBlock* Pool::block_containing(GuestVa va) const {
  auto it = live_.upper_bound(va.value);
  if (it == live_.begin()) return nullptr;
  --it;
  const PoolBlock& b = it->second;
  return va.value < b.address.value + std::max<uint64_t>(b.size, 1) ? &b : nullptr;
}

bool Pool::in_pool(GuestVa va) const {
  return (va >= nonpaged_.base && va < nonpaged_.mapped) || (va >= paged_.base && va < paged_.mapped);
}

bool Pool::is_paged_address(GuestVa va) const { return va >= paged_.base && va < paged_.mapped; }

}  // namespace kemu::emu
