// Handle tables: one per process plus the kernel table of the System
// process (semantics.md §3). Handle values are multiples of 4 starting at 4;
// the low two bits are tag bits lookups ignore; kernel handles carry bit 31,
// sign-extended (0xFFFFFFFF80000000 | index*4).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>

#include "ntoskrnl-stubs/ob/object_types.h"

namespace kemu::nt::ob {

constexpr uint64_t kKernelHandleFlag = 0xFFFFFFFF80000000ull;
constexpr uint64_t kCurrentProcessHandle = ~0ull;      // NtCurrentProcess()
constexpr uint64_t kCurrentThreadHandle = ~0ull - 1;   // NtCurrentThread()

// Handle attributes stored in an entry.
constexpr uint32_t kObjInherit = 0x2;
constexpr uint32_t kObjPermanent = 0x10;
constexpr uint32_t kObjExclusive = 0x20;
constexpr uint32_t kObjCaseInsensitive = 0x40;
constexpr uint32_t kObjOpenIf = 0x80;
constexpr uint32_t kObjKernelHandle = 0x200;
constexpr uint32_t kObjForceAccessCheck = 0x400;
// OBJ_PROTECT_CLOSE is a handle flag (ObSetHandleAttributes / HANDLE_FLAG_PROTECT_FROM_CLOSE).
constexpr uint32_t kHandleProtectFromClose = 0x1;
constexpr uint32_t kHandleAuditOnClose = 0x4;

struct HandleEntry {
  ObjectId object = kNoObject;
  uint32_t granted_access = 0;  // generic rights already mapped
  uint32_t attributes = 0;      // OBJ_INHERIT | audit
  bool protect_from_close = false;
  bool exclusive = false;  // opened with OBJ_EXCLUSIVE
};

class HandleTable {
 public:
  // Inserts an entry at the lowest free index; returns the index.
  uint32_t insert(const HandleEntry& entry);
  HandleEntry* find(uint32_t index);
  bool erase(uint32_t index);
  // True when this index held a handle that was closed (for diagnostics).
  bool was_closed(uint32_t index) const { return closed_.contains(index); }
  const std::map<uint32_t, HandleEntry>& entries() const { return entries_; }

 private:
  std::map<uint32_t, HandleEntry> entries_;
  std::set<uint32_t> closed_;
};

// Index of a handle value (tag bits and the kernel flag removed).
constexpr uint32_t handle_index(uint64_t value) { return static_cast<uint32_t>((value & 0x7FFFFFFFull) >> 2); }
constexpr bool is_kernel_handle(uint64_t value) {
  return (value & kKernelHandleFlag) == kKernelHandleFlag && value < kCurrentThreadHandle - 4;
}
constexpr bool is_pseudo_handle(uint64_t value) { return value >= ~0ull - 5; }

}  // namespace kemu::nt::ob
