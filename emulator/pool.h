// The kernel pool: nonpaged and paged arenas in the kernel half, 16-byte
// aligned blocks behind a 16-byte POOL_HEADER (x64), page-aligned "big pool"
// blocks for large requests, per-block bookkeeping (size, tag, type, caller)
// and a quarantine so freed memory is not handed out again at once. Every
// decision is deterministic: the same calls give the same addresses.
//
// Guarded placement (the verifier's pool.overrun / pool.use-after-free, like
// Driver Verifier's special pool): when enabled, an allocation the driver
// asks for directly gets pages of its own in a separate arena, its end
// against the end of the last page and an unmapped guard page after it; when
// freed, its pages lose all access (quarantine) and later are unmapped, and
// that address range is never handed out again. A guest access to a guard
// page or a freed block faults; resolve_guard_fault() makes the access
// possible as plain Windows memory would be (the guard page becomes a mapped
// zero page, the freed pages accessible again) and says what was hit.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <unordered_map>
#include <vector>

#include "emulator/address_space.h"

namespace kemu::emu {

// POOL_TYPE values (wdm.h) kemu distinguishes.
namespace pool_type {
constexpr uint32_t kNonPaged = 0;
constexpr uint32_t kPaged = 1;
constexpr uint32_t kNonPagedMustSucceed = 2;
constexpr uint32_t kNonPagedCacheAligned = 4;
constexpr uint32_t kPagedCacheAligned = 5;
constexpr uint32_t kNonPagedNx = 512;
constexpr uint32_t kBaseTypeMask = 1;  // odd types are paged
}  // namespace pool_type

struct PoolBlock {
  GuestVa address;     // what the driver got
  uint64_t size = 0;   // bytes requested
  uint64_t capacity = 0;  // bytes reserved for the block (>= size)
  uint32_t tag = 0;
  uint32_t type = 0;
  GuestVa caller;       // return address of the allocating call
  uint64_t serial = 0;  // allocation order
  bool guarded = false;  // placed in the guarded arena (pages of its own, guard page after)
  bool paged() const { return (type & pool_type::kBaseTypeMask) != 0; }
};

class Pool {
 public:
  static constexpr GuestVa kNonPagedBase{0xFFFF'C000'0000'0000ull};
  static constexpr GuestVa kPagedBase{0xFFFF'A000'0000'0000ull};
  static constexpr uint64_t kHeaderSize = 16;
  static constexpr uint64_t kArenaChunk = 1ull << 20;

  Pool(AddressSpace& space, uint64_t cap_bytes = 1ull << 30);

  static constexpr GuestVa kGuardedBase{0xFFFF'C800'0000'0000ull};
  // Guarded placement stops (allocations take the normal arenas again, as
  // special pool falls back to normal pool) while this many bytes of guarded
  // pages are live, so a driver allocating in a loop stays bounded and fast:
  // every guarded block is an engine region, and Unicorn's map/protect cost
  // grows with their number (64 MiB of them made a 100,000-block loop 50x slower).
  static constexpr uint64_t kGuardedLiveBytes = 1ull << 20;
  // Freed guarded blocks keep their (inaccessible) pages this long, then are unmapped.
  static constexpr size_t kGuardedQuarantineBlocks = 64;
  // How many unmapped freed blocks are still remembered (older ones: an access is a plain fault).
  static constexpr size_t kGuardedForgetAfter = 1u << 16;

  // nullopt when the pool cap is reached (the caller returns NULL, as Windows does).
  // `guarded`: place the block in the guarded arena if guarded placement is enabled.
  std::optional<GuestVa> allocate(uint64_t size, uint32_t type, uint32_t tag, GuestVa caller,
                                  bool guarded = false);

  void enable_guarded_placement(bool on) { guarded_enabled_ = on; }
  bool guarded_placement() const { return guarded_enabled_; }
  enum class GuardHit { Overrun, UseAfterFree };
  struct GuardFault {
    GuardHit hit;
    PoolBlock block;  // the block overrun, or the freed block touched
    bool freed = false;  // the block was already freed (an overrun of a freed block)
  };
  // A guest access to `va` faulted: if va is a guard page or a freed guarded
  // block, makes it accessible and says which block it belongs to.
  std::optional<GuardFault> resolve_guard_fault(GuestVa va);
  // The same for a range kemu's host code is about to touch for the driver
  // (a copy routine): every guard page or freed block [va, va+size) meets.
  std::vector<GuardFault> resolve_guard_range(GuestVa va, uint64_t size);
  bool in_guarded_arena(GuestVa va) const { return va >= kGuardedBase && va < guarded_next_; }
  // A guarded block's bytes between its size and the next 16-byte boundary
  // (before the guard page) hold kSlackPattern from allocation on, as special
  // pool fills them; the offset of the first one changed since, if any.
  static constexpr uint8_t kSlackPattern = 0xA5;
  std::optional<uint64_t> slack_overwritten(GuestVa block) const;

  enum class FreeResult { Ok, NotAllocated, TagMismatch };
  // tag: the tag ExFreePoolWithTag was given (nullopt for ExFreePool).
  FreeResult free(GuestVa address, std::optional<uint32_t> tag, PoolBlock* freed = nullptr);

  const PoolBlock* block_at(GuestVa address) const;     // exact start of a live block
  const PoolBlock* block_containing(GuestVa va) const;  // any byte of a live block
  const std::map<uint64_t, PoolBlock>& live() const { return live_; }
  uint64_t bytes_in_use() const { return in_use_; }
  bool in_pool(GuestVa va) const;
  bool is_paged_address(GuestVa va) const;

 private:
  struct Arena {
    GuestVa base;
    GuestVa next;     // bump pointer
    GuestVa mapped;   // end of mapped chunks
    const char* name;
  };
  GuestVa bump(Arena& arena, uint64_t bytes, uint64_t align);
  void write_header(GuestVa block, uint64_t capacity, uint32_t type, uint32_t tag);

  struct GuardedSlot {
    GuestVa base;           // first data page
    uint64_t pages = 0;     // data pages; the guard page follows
    PoolBlock block;
    enum class State { Live, Quarantined, Reopened, Unmapped } state = State::Live;
    bool guard_mapped = false;  // an overrun mapped the guard page
    GuestVa end() const { return base + (pages + 1) * kPageSize; }  // guard included
  };
  std::optional<GuestVa> allocate_guarded(uint64_t size, uint32_t type, uint32_t tag, GuestVa caller);
  void free_guarded(GuardedSlot& slot);
  void unmap_guarded(GuardedSlot& slot);
  GuardedSlot* slot_containing(GuestVa va);

  AddressSpace& space_;
  uint64_t cap_;
  bool guarded_enabled_ = false;
  GuestVa guarded_next_ = kGuardedBase;
  uint64_t guarded_live_bytes_ = 0;
  std::map<uint64_t, GuardedSlot> guarded_slots_;  // by base
  std::deque<uint64_t> guarded_quarantine_;       // slot bases, oldest first
  std::deque<uint64_t> guarded_unmapped_;         // slot bases, oldest first
  uint64_t reserved_ = 0;
  uint64_t in_use_ = 0;
  uint64_t serial_ = 0;
  Arena nonpaged_{kNonPagedBase, kNonPagedBase, kNonPagedBase, "nonpaged pool"};
  Arena paged_{kPagedBase, kPagedBase, kPagedBase, "paged pool"};
  std::map<uint64_t, PoolBlock> live_;  // by address
  // Freed blocks wait in quarantine before joining the free lists.
  std::deque<PoolBlock> quarantine_;
  uint64_t quarantine_bytes_ = 0;
  // Free lists keyed by (paged, capacity).
  std::map<std::pair<bool, uint64_t>, std::vector<GuestVa>> free_lists_;
};

}  // namespace kemu::emu
