// Physical memory as drivers reach it (kemu's model: emulator/address_space.h
// frame table and kRamRanges): MmMapIoSpace(Ex)/MmUnmapIoSpace map physical
// pages at system addresses (a page already in use shows the same bytes as
// every other mapping of it; a RAM page nothing used, or a page of the MMIO
// hole, is materialised zero-filled — kemu emulates no device behind MMIO),
// contiguous and non-cached allocations with real physical addresses, and
// MmGetPhysicalMemoryRanges.
#include <map>
#include <vector>

#include <fmt/format.h>

#include "emulator/ntstatus.h"
#include "ntoskrnl-stubs/api/kernel_modules.h"
#include "ntoskrnl-stubs/api/registry.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/mm/mm.h"

namespace kemu::nt {

namespace mm {

// Where kemu keeps the pages it materialises for physical addresses nothing
// used: one page per frame, at a fixed place (kernel-only, never handed out).
constexpr GuestVa kPhysicalStoreBase{0xFFFF'B300'0000'0000ull};

const emu::Region* page_for_frame(Kernel& k, uint64_t pfn, uint64_t* offset) {
  auto& mem = k.memory();
  auto page = mem.page_of_frame(pfn);
  if (!page) {
    GuestVa at = kPhysicalStoreBase + pfn * kPageSize;
    if (!mem.find(at)) {
      mem.map(at, kPageSize, Prot::ReadWrite, emu::RegionKind::Scratch,
              emu::AddressSpace::is_ram_frame(pfn) ? fmt::format("physical page {:#x}", pfn << 12)
                                                   : fmt::format("device (MMIO) page {:#x}", pfn << 12));
    }
    mem.bind_frame(at, pfn);
    page = at;
  }
  const emu::Region* r = mem.find(*page);
  *offset = *page - r->base;
  return r;
}

}  // namespace mm

namespace {

constexpr GuestVa kIoSpaceBase{0xFFFF'B100'0000'0000ull};
constexpr GuestVa kIoSpaceEnd{0xFFFF'B180'0000'0000ull};
constexpr GuestVa kContiguousBase{0xFFFF'B200'0000'0000ull};
constexpr GuestVa kContiguousEnd{0xFFFF'B280'0000'0000ull};
constexpr uint32_t kPoolTag = 0x6D4D6D4D;  // 'MmMm'

// PAGE_* protections (MmMapIoSpaceEx).
constexpr uint32_t kPageReadOnly = 0x02, kPageReadWrite = 0x04, kPageExecuteRead = 0x20,
                   kPageExecuteReadWrite = 0x40;

struct Mapping {
  uint64_t pages = 0;
  uint64_t physical = 0;
};

// Per-kernel bookkeeping of the mappings and allocations made here.
struct PhysicalState {
  std::map<uint64_t, Mapping> io_mappings;     // by base VA (page aligned)
  std::map<uint64_t, uint64_t> contiguous;     // base VA -> bytes
};
PhysicalState& state(Kernel& k) { return k.state<PhysicalState>(); }

GuestVa map_physical(Kernel& k, uint64_t physical, uint64_t bytes, Prot prot, const char* routine) {
  auto& mem = k.memory();
  if (bytes == 0) return GuestVa{};
  uint64_t pages = mm::span_pages(physical, bytes);
  auto base = mem.find_free(kIoSpaceBase, kIoSpaceEnd, (pages + 1) * kPageSize);
  if (!base) return GuestVa{};
  uint64_t first_pfn = physical >> 12;
  for (uint64_t i = 0; i < pages; ++i) {
    uint64_t offset = 0;
    const emu::Region* source = mm::page_for_frame(k, first_pfn + i, &offset);
    mem.map_alias(*base + i * kPageSize, *source, offset, kPageSize, prot, emu::RegionKind::Scratch,
                  fmt::format("{} of {:#x}", routine, physical));
  }
  state(k).io_mappings[base->value] = {pages, physical};
  return *base + (physical & (kPageSize - 1));
}

// Pages at `base` whose frames are consecutive and lie in [lowest, highest].
bool bind_contiguous_frames(Kernel& k, GuestVa base, uint64_t pages, uint64_t lowest, uint64_t highest,
                            uint64_t boundary) {
  auto& mem = k.memory();
  uint64_t first = std::max<uint64_t>(lowest >> 12, 1);
  for (uint64_t start = first; (start + pages - 1) <= (highest >> 12); ++start) {
    if (boundary && ((start << 12) / boundary) != (((start + pages) << 12) - 1) / boundary) continue;
    bool free = true;
    for (uint64_t i = 0; i < pages && free; ++i)
      free = emu::AddressSpace::is_ram_frame(start + i) && !mem.page_of_frame(start + i);
    if (!free) continue;
    for (uint64_t i = 0; i < pages; ++i) mem.bind_frame(base + i * kPageSize, start + i);
    return true;
  }
  return false;
}

}  // namespace

// MmMapIoSpace(PhysicalAddress, NumberOfBytes, CacheType).
GuestVa MmMapIoSpace(Kernel& k, uint64_t physical, uint64_t bytes, uint32_t cache_type) {
  return map_physical(k, physical, bytes, Prot::ReadWrite, "MmMapIoSpace");
}

// MmMapIoSpaceEx(PhysicalAddress, NumberOfBytes, Protect): PAGE_* protection.
GuestVa MmMapIoSpaceEx(Kernel& k, uint64_t physical, uint64_t bytes, uint32_t protect) {
  Prot prot = Prot::ReadWrite;
  switch (protect & 0xFF) {
    case kPageReadOnly: prot = Prot::Read; break;
    case kPageReadWrite: prot = Prot::ReadWrite; break;
    case kPageExecuteRead: prot = Prot::ReadExec; break;
    case kPageExecuteReadWrite: prot = Prot::All; break;
    default: return GuestVa{};  // other protections are refused
  }
  return map_physical(k, physical, bytes, prot, "MmMapIoSpaceEx");
}

// MmUnmapIoSpace(BaseAddress, NumberOfBytes).
void MmUnmapIoSpace(Kernel& k, GuestVa base, uint64_t bytes) {
  auto& mappings = state(k).io_mappings;
  auto it = mappings.find(page_down(base.value));
  if (it == mappings.end()) {
    // Not a mapping MmMapIoSpace made: the system PTEs it names are not the
    // caller's (Windows corrupts or bugchecks; kemu leaves memory alone).
    k.modules().unimplemented_case("MmUnmapIoSpace", "an address MmMapIoSpace did not return");
    return;
  }
  for (uint64_t i = 0; i < it->second.pages; ++i) k.memory().unmap(GuestVa{it->first} + i * kPageSize);
  mappings.erase(it);
}

// MmAllocateContiguousMemorySpecifyCache(NumberOfBytes, Lowest, Highest, BoundaryMultiple, CacheType):
// physically contiguous pages in [Lowest, Highest], mapped in system space.
GuestVa MmAllocateContiguousMemorySpecifyCache(Kernel& k, uint64_t bytes, uint64_t lowest, uint64_t highest,
                                                uint64_t boundary, uint32_t cache_type) {
  auto& mem = k.memory();
  if (bytes == 0) return GuestVa{};
  uint64_t pages = (bytes + kPageSize - 1) / kPageSize;
  auto base = mem.find_free(kContiguousBase, kContiguousEnd, (pages + 1) * kPageSize);
  if (!base) return GuestVa{};
  try {
    mem.map(*base, pages * kPageSize, Prot::ReadWrite, emu::RegionKind::Pool,
            fmt::format("contiguous memory ({} bytes)", bytes));
  } catch (const emu::GuestMemoryExhausted&) {
    return GuestVa{};
  }
  if (!bind_contiguous_frames(k, *base, pages, lowest, highest, boundary)) {
    mem.unmap(*base);
    return GuestVa{};  // no such run of free frames
  }
  state(k).contiguous[base->value] = bytes;
  return *base;
}

// MmAllocateContiguousMemory(NumberOfBytes, HighestAcceptableAddress).
GuestVa MmAllocateContiguousMemory(Kernel& k, uint64_t bytes, uint64_t highest) {
  return MmAllocateContiguousMemorySpecifyCache(k, bytes, 0, highest, 0, 1 /* MmCached */);
}

void MmFreeContiguousMemory(Kernel& k, GuestVa base) {
  auto& contiguous = state(k).contiguous;
  auto it = contiguous.find(base.value);
  if (it == contiguous.end()) {
    // BAD_POOL_CALLER-style misuse: not an address MmAllocateContiguousMemory returned.
    k.machine().bugcheck(0xC2, 0x60, base.value, 0, 0, k.machine().call_site());
    return;
  }
  k.memory().unmap(base);
  contiguous.erase(it);
}

void MmFreeContiguousMemorySpecifyCache(Kernel& k, GuestVa base, uint64_t bytes, uint32_t cache_type) {
  MmFreeContiguousMemory(k, base);
}

// MmAllocateNonCachedMemory / MmFreeNonCachedMemory: page-granular
// allocations in system space (kemu models no caching).
GuestVa MmAllocateNonCachedMemory(Kernel& k, uint64_t bytes) {
  return MmAllocateContiguousMemorySpecifyCache(k, bytes, 0, ~0ull, 0, 0 /* MmNonCached */);
}
void MmFreeNonCachedMemory(Kernel& k, GuestVa base, uint64_t bytes) { MmFreeContiguousMemory(k, base); }

// MmGetPhysicalMemoryRanges(): the RAM ranges, ended by a zero entry, in
// nonpaged pool the caller frees.
GuestVa MmGetPhysicalMemoryRanges(Kernel& k) {
  constexpr size_t kCount = std::size(emu::kRamRanges) + 1;
  auto block = k.machine().pool().allocate(kCount * 16, 0, kPoolTag, k.machine().return_address());
  if (!block) return GuestVa{};
  std::vector<uint64_t> words;
  for (const emu::PhysicalRange& r : emu::kRamRanges) {
    words.push_back(r.base);
    words.push_back(r.size);
  }
  words.push_back(0);
  words.push_back(0);
  k.memory().write(*block, words.data(), words.size() * 8);
  return *block;
}

void register_physical_exports(Registry& r) {
  KEMU_EXPORT(r, MmMapIoSpace);
  KEMU_EXPORT(r, MmMapIoSpaceEx);
  KEMU_EXPORT(r, MmUnmapIoSpace);
  KEMU_EXPORT(r, MmAllocateContiguousMemory);
  KEMU_EXPORT(r, MmAllocateContiguousMemorySpecifyCache);
  KEMU_EXPORT(r, MmFreeContiguousMemory);
  KEMU_EXPORT(r, MmFreeContiguousMemorySpecifyCache);
  KEMU_EXPORT(r, MmAllocateNonCachedMemory);
  KEMU_EXPORT(r, MmFreeNonCachedMemory);
  KEMU_EXPORT(r, MmGetPhysicalMemoryRanges);
}

}  // namespace kemu::nt
