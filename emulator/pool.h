// The kernel pool: nonpaged and paged arenas in the kernel half, 16-byte
// aligned blocks behind a 16-byte POOL_HEADER (x64), page-aligned "big pool"
// blocks for large requests, per-block bookkeeping (size, tag, type, caller)
// and a quarantine so freed memory is not handed out again at once. Every
// decision is deterministic: the same calls give the same addresses.
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
  bool paged() const { return (type & pool_type::kBaseTypeMask) != 0; }
};

class Pool {
 public:
  static constexpr GuestVa kNonPagedBase{0xFFFF'C000'0000'0000ull};
  static constexpr GuestVa kPagedBase{0xFFFF'A000'0000'0000ull};
  static constexpr uint64_t kHeaderSize = 16;
  static constexpr uint64_t kArenaChunk = 1ull << 20;

  Pool(AddressSpace& space, uint64_t cap_bytes = 1ull << 30);

  // nullopt when the pool cap is reached (the caller returns NULL, as Windows does).
  std::optional<GuestVa> allocate(uint64_t size, uint32_t type, uint32_t tag, GuestVa caller);

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

  AddressSpace& space_;
  uint64_t cap_;
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
