// Executive pool routines: ExAllocatePool* and ExFreePool*, over emu::Pool.
#include <fmt/format.h>

#include "emulator/ntstatus.h"
#include "ntoskrnl-stubs/api/registry.h"
#include "ntoskrnl-stubs/kernel.h"

namespace kemu::nt {

namespace {
constexpr uint32_t kTagNone = 0x656E6F4E;  // 'None', the tag ExAllocatePool uses

// POOL_FLAGS of ExAllocatePool2/3 (wdm.h, Windows 10 2004+).
constexpr uint64_t kPoolFlagUseQuota = 0x1;
constexpr uint64_t kPoolFlagUninitialized = 0x2;
constexpr uint64_t kPoolFlagCacheAligned = 0x4;
constexpr uint64_t kPoolFlagRaiseOnFailure = 0x20;
constexpr uint64_t kPoolFlagNonPaged = 0x40;
constexpr uint64_t kPoolFlagNonPagedExecute = 0x80;
constexpr uint64_t kPoolFlagPaged = 0x100;
constexpr uint64_t kPoolFlagsRequiredMask = kPoolFlagNonPaged | kPoolFlagNonPagedExecute | kPoolFlagPaged;

// A call made by driver code itself (not by kemu on its behalf, e.g. a
// lookaside list's Allocate): the return address is in a driver image.
bool called_by_driver(emu::Machine& m) {
  const emu::Region* r = m.memory().find(m.return_address());
  return r && r->kind == emu::RegionKind::DriverImage;
}

GuestVa allocate(Kernel& k, uint32_t type, uint64_t size, uint32_t tag, bool zero) {
  auto& m = k.machine();
  // NonPagedPoolMustSucceed (and its cache-aligned and session variants) is
  // no longer supported: BAD_POOL_CALLER 0x9A (P2 pool type, P3 size, P4 tag).
  if ((type & 3) == emu::pool_type::kNonPagedMustSucceed) {
    m.bugcheck(0xC2, 0x9A, type, size, tag, m.call_site());
    return GuestVa{};
  }
  // The driver's own allocations take the guarded placement when the
  // verifier asked for it (Pool::enable_guarded_placement).
  auto block = m.pool().allocate(size, type, tag, m.return_address(), called_by_driver(m));
  if (!block) return GuestVa{};
  if (zero) {
    std::vector<uint8_t> zeros(std::min<uint64_t>(size, 1 << 20), 0);
    for (uint64_t off = 0; off < size; off += zeros.size())
      k.memory().write(*block + off, zeros.data(), std::min<uint64_t>(zeros.size(), size - off));
  }
  return *block;
}

void free_block(Kernel& k, GuestVa p, std::optional<uint32_t> tag) {
  auto& m = k.machine();
  emu::PoolBlock freed;
  switch (m.pool().free(p, tag, &freed)) {
    case emu::Pool::FreeResult::Ok:
      return;
    case emu::Pool::FreeResult::TagMismatch:
      // BAD_POOL_CALLER 0x0A: freed with a tag other than the allocator's.
      m.bugcheck(0xC2, 0x0A, p.value, m.pool().block_at(p)->tag, *tag, m.call_site());
      return;
    case emu::Pool::FreeResult::NotAllocated:
      // BAD_POOL_CALLER 0x07 for a block already freed, 0x46 for an address
      // that never was a pool block (NULL included).
      m.bugcheck(0xC2, m.pool().in_pool(p) ? 0x07 : 0x46, p.value, 0, 0, m.call_site());
      return;
  }
}
}  // namespace

GuestVa ExAllocatePoolWithTag(Kernel& k, uint32_t pool_type, uint64_t size, uint32_t tag) {
  return allocate(k, pool_type, size, tag, false);
}

GuestVa ExAllocatePool(Kernel& k, uint32_t pool_type, uint64_t size) {
  return allocate(k, pool_type, size, kTagNone, false);
}

GuestVa ExAllocatePoolWithQuotaTag(Kernel& k, uint32_t pool_type, uint64_t size, uint32_t tag) {
  return allocate(k, pool_type, size, tag, false);
}

// ExAllocatePoolWithTagPriority: the priority only matters under memory pressure.
GuestVa ExAllocatePoolWithTagPriority(Kernel& k, uint32_t pool_type, uint64_t size, uint32_t tag,
                                      uint32_t priority) {
  return allocate(k, pool_type, size, tag, false);
}

// ExAllocatePool2: zeroed unless POOL_FLAG_UNINITIALIZED; exactly one of the
// pool-type flags is required; NULL (or a raise) on failure.
GuestVa ExAllocatePool2(Kernel& k, uint64_t flags, uint64_t size, uint32_t tag) {
  uint64_t kind = flags & kPoolFlagsRequiredMask;
  if (kind != kPoolFlagNonPaged && kind != kPoolFlagNonPagedExecute && kind != kPoolFlagPaged) return GuestVa{};
  if (tag == 0) return GuestVa{};
  uint32_t type = kind == kPoolFlagPaged ? 1 : 0;
  if (flags & kPoolFlagCacheAligned) type |= 4;
  GuestVa p = allocate(k, type, size, tag, (flags & kPoolFlagUninitialized) == 0);
  if (!p && (flags & kPoolFlagRaiseOnFailure)) {
    // Raising STATUS_INSUFFICIENT_RESOURCES needs exception dispatch.
    k.machine().request_stop({emu::StopKind::Error,
                              "ExAllocatePool2 failed with POOL_FLAG_RAISE_ON_FAILURE: raising "
                              "exceptions into the driver is not implemented yet",
                              {}});
  }
  (void)kPoolFlagUseQuota;
  return p;
}

void ExFreePoolWithTag(Kernel& k, GuestVa p, uint32_t tag) { free_block(k, p, tag); }
void ExFreePool(Kernel& k, GuestVa p) { free_block(k, p, std::nullopt); }
void ExFreePool2(Kernel& k, GuestVa p, uint32_t tag, GuestVa params, uint32_t count) {
  free_block(k, p, tag);
}

void register_ex_exports(Registry& r) {
  KEMU_EXPORT(r, ExAllocatePoolWithTag);
  KEMU_EXPORT(r, ExAllocatePool);
  KEMU_EXPORT(r, ExAllocatePoolWithQuotaTag);
  KEMU_EXPORT(r, ExAllocatePoolWithTagPriority);
  KEMU_EXPORT(r, ExAllocatePool2);
  KEMU_EXPORT(r, ExFreePoolWithTag);
  KEMU_EXPORT(r, ExFreePool);
  KEMU_EXPORT(r, ExFreePool2);
}

}  // namespace kemu::nt
