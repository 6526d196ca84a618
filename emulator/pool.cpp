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

std::optional<GuestVa> Pool::allocate(uint64_t size, uint32_t type, uint32_t tag, GuestVa caller,
                                      bool guarded) {
  // Larger than an arena can never succeed; rejecting it first also keeps the
  // size arithmetic below from wrapping (e.g. size 2^64-16 or 2^64-0x2000).
  if (size > kArenaSpan) return std::nullopt;
  if (guarded && guarded_enabled_) {
    if (auto block = allocate_guarded(size, type, tag, caller)) return block;
    if (in_use_ >= cap_) return std::nullopt;
  }
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
  if (block.guarded) {
    if (GuardedSlot* slot = slot_containing(block.address)) free_guarded(*slot);
    return FreeResult::Ok;
  }
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
  return (va >= nonpaged_.base && va < nonpaged_.mapped) || (va >= paged_.base && va < paged_.mapped) ||
         in_guarded_arena(va);
}

bool Pool::is_paged_address(GuestVa va) const {
  if (in_guarded_arena(va)) {
    auto it = guarded_slots_.upper_bound(va.value);
    if (it == guarded_slots_.begin()) return false;
    --it;
    return va < it->second.end() && it->second.block.paged();
  }
  return va >= paged_.base && va < paged_.mapped;
}

// --- guarded placement -------------------------------------------------------

std::optional<GuestVa> Pool::allocate_guarded(uint64_t size, uint32_t type, uint32_t tag, GuestVa caller) {
  uint64_t capacity = std::max<uint64_t>((size + 15) & ~15ull, 16);
  if (capacity < size) return std::nullopt;
  uint64_t pages = page_up(capacity) / kPageSize;
  uint64_t footprint = pages * kPageSize;
  if (guarded_live_bytes_ + footprint > kGuardedLiveBytes) return std::nullopt;
  if (in_use_ + footprint > cap_ || reserved_ + footprint > cap_) return std::nullopt;
  GuestVa base = guarded_next_;
  try {
    space_.map(base, footprint, Prot::ReadWrite, RegionKind::Pool, fmt::format("guarded pool {:#x}", base.value));
  } catch (const GuestMemoryExhausted&) {
    return std::nullopt;
  }
  // The block ends where the data pages end (16-byte aligned start, as
  // special pool places it): the first byte past a 16-multiple size is on
  // the guard page.
  GuestVa address = base + footprint - capacity;
  if (address - kHeaderSize >= base) write_header(address - kHeaderSize, capacity, type, tag);
  if (capacity > size) {
    std::vector<uint8_t> pattern(capacity - size, kSlackPattern);
    space_.write(address + size, pattern.data(), pattern.size());
  }
  guarded_next_ = base + footprint + kPageSize;  // the guard page stays unmapped
  reserved_ += footprint;
  in_use_ += footprint;
  guarded_live_bytes_ += footprint;

  PoolBlock block;
  block.address = address;
  block.size = size;
  block.capacity = capacity;
  block.tag = tag;
  block.type = type;
  block.caller = caller;
  block.serial = ++serial_;
  block.guarded = true;
  live_[address.value] = block;
  GuardedSlot slot;
  slot.base = base;
  slot.pages = pages;
  slot.block = block;
  guarded_slots_[base.value] = slot;
  return address;
}

std::optional<uint64_t> Pool::slack_overwritten(GuestVa block) const {
  const PoolBlock* b = block_at(block);
  if (!b || !b->guarded || b->capacity <= b->size) return std::nullopt;
  std::vector<uint8_t> slack(b->capacity - b->size);
  if (!space_.read(block + b->size, slack.data(), slack.size())) return std::nullopt;
  for (size_t i = 0; i < slack.size(); ++i)
    if (slack[i] != kSlackPattern) return b->size + i;
  return std::nullopt;
}

Pool::GuardedSlot* Pool::slot_containing(GuestVa va) {
  auto it = guarded_slots_.upper_bound(va.value);
  if (it == guarded_slots_.begin()) return nullptr;
  --it;
  return va < it->second.end() ? &it->second : nullptr;
}

void Pool::free_guarded(GuardedSlot& slot) {
  uint64_t footprint = slot.pages * kPageSize;
  in_use_ -= footprint;
  guarded_live_bytes_ -= footprint;
  // Freed: no access until it leaves the quarantine (kemu's own reads and
  // writes ignore protections).
  space_.protect(slot.base, footprint, Prot::None);
  slot.state = GuardedSlot::State::Quarantined;
  guarded_quarantine_.push_back(slot.base.value);
  while (guarded_quarantine_.size() > kGuardedQuarantineBlocks) {
    uint64_t oldest = guarded_quarantine_.front();
    guarded_quarantine_.pop_front();
    if (auto it = guarded_slots_.find(oldest); it != guarded_slots_.end()) unmap_guarded(it->second);
  }
}

void Pool::unmap_guarded(GuardedSlot& slot) {
  if (slot.state != GuardedSlot::State::Unmapped) {
    space_.unmap(slot.base);
    reserved_ -= slot.pages * kPageSize;
  }
  if (slot.guard_mapped) {
    space_.unmap(slot.base + slot.pages * kPageSize);
    slot.guard_mapped = false;
  }
  slot.state = GuardedSlot::State::Unmapped;
  guarded_unmapped_.push_back(slot.base.value);
  while (guarded_unmapped_.size() > kGuardedForgetAfter) {
    guarded_slots_.erase(guarded_unmapped_.front());
    guarded_unmapped_.pop_front();
  }
}

std::optional<Pool::GuardFault> Pool::resolve_guard_fault(GuestVa va) {
  if (!in_guarded_arena(va)) return std::nullopt;
  GuardedSlot* slot = slot_containing(va);
  if (!slot) return std::nullopt;
  bool freed = slot->state != GuardedSlot::State::Live;
  GuestVa guard = slot->base + slot->pages * kPageSize;
  if (va >= guard) {
    if (slot->guard_mapped) return std::nullopt;
    // On Windows the bytes past the block are the next allocation's: the
    // access goes through. Here they become a zero page of their own.
    try {
      space_.map(guard, kPageSize, Prot::ReadWrite, RegionKind::Pool,
                 fmt::format("guarded pool {:#x} (overrun)", guard.value));
    } catch (const GuestMemoryExhausted&) {
      return std::nullopt;
    }
    slot->guard_mapped = true;
    return GuardFault{GuardHit::Overrun, slot->block, freed};
  }
  switch (slot->state) {
    case GuardedSlot::State::Live:
    case GuardedSlot::State::Reopened:
      return std::nullopt;  // accessible: not this fault's cause
    case GuardedSlot::State::Quarantined:
      // Freed pool stays mapped on Windows, its old bytes in place.
      space_.protect(slot->base, slot->pages * kPageSize, Prot::ReadWrite);
      slot->state = GuardedSlot::State::Reopened;
      return GuardFault{GuardHit::UseAfterFree, slot->block, true};
    case GuardedSlot::State::Unmapped:
      try {
        space_.map(slot->base, slot->pages * kPageSize, Prot::ReadWrite, RegionKind::Pool,
                   fmt::format("guarded pool {:#x} (used after free)", slot->base.value));
      } catch (const GuestMemoryExhausted&) {
        return std::nullopt;
      }
      reserved_ += slot->pages * kPageSize;
      slot->state = GuardedSlot::State::Reopened;
      // Keep it in the unmapped list's order: it is unmapped again when forgotten.
      return GuardFault{GuardHit::UseAfterFree, slot->block, true};
  }
  return std::nullopt;
}

std::vector<Pool::GuardFault> Pool::resolve_guard_range(GuestVa va, uint64_t size) {
  std::vector<GuardFault> hits;
  if (size == 0 || va.value + size < va.value) return hits;
  uint64_t last = va.value + size - 1;
  if (!in_guarded_arena(va) && !in_guarded_arena(GuestVa{last})) return hits;
  // Page by page: each guard page or freed block the range meets, once.
  for (uint64_t page = page_down(va.value); page <= last && hits.size() < 16; page += kPageSize) {
    GuestVa at{std::max(page, va.value)};
    GuardedSlot* slot = slot_containing(at);
    if (!slot) continue;
    bool on_guard = at >= slot->base + slot->pages * kPageSize;
    bool freed_data = !on_guard && (slot->state == GuardedSlot::State::Quarantined ||
                                    slot->state == GuardedSlot::State::Unmapped);
    if (on_guard && slot->guard_mapped) continue;
    if (!on_guard && !freed_data) continue;
    if (auto hit = resolve_guard_fault(at)) hits.push_back(*hit);
    if (page + kPageSize < page) break;
  }
  return hits;
}

}  // namespace kemu::emu
