// The user-mode virtual memory model (see virtual_memory.h): allocations as
// regions of the shared address space plus per-page state, in the order
// Windows' memory manager makes its decisions (MiInsertVad, the commit path
// of NtAllocateVirtualMemory, NtFreeVirtualMemory's release and decommit
// cases, MiProtectVirtualMemory, MiQueryMemoryBasicInformation).
#include "ntoskrnl-stubs/mm/virtual_memory.h"

#include <bit>
#include <map>
#include <vector>

#include "ntoskrnl-stubs/api/kernel_modules.h"
#include "ntoskrnl-stubs/kernel.h"

namespace kemu::nt::mm {

namespace {

struct PageState {
  bool committed = false;
  uint32_t protect = 0;  // PAGE_* of a committed page
};

// One allocation (a VAD of private memory): its process, the protection it
// was reserved with, and its pages.
struct Allocation {
  uint32_t pid = 0;
  uint32_t allocation_protect = 0;
  std::vector<PageState> pages;
  uint64_t size() const { return pages.size() * kPageSize; }
};

// Per-kernel state: the allocations made through NtAllocateVirtualMemory, by
// base address (user halves share one map in kemu, so bases are unique).
struct VirtualMemoryState {
  std::map<uint64_t, Allocation> allocations;
};
VirtualMemoryState& state(Kernel& k) {
  return k.state<VirtualMemoryState>();
}

constexpr uint64_t align_down(uint64_t v, uint64_t a) {
  return v & ~(a - 1);
}
constexpr uint64_t align_up(uint64_t v, uint64_t a) {
  return (v + a - 1) & ~(a - 1);
}

// The allocation of process `pid` containing `va`, with its base.
std::pair<uint64_t, Allocation*> allocation_at(Kernel& k, uint32_t pid, uint64_t va) {
  auto& all = state(k).allocations;
  auto it = all.upper_bound(va);
  if (it == all.begin()) return {0, nullptr};
  --it;
  if (it->second.pid != pid || va >= it->first + it->second.size()) return {0, nullptr};
  return {it->first, &it->second};
}

bool visible_to(const emu::Region& r, uint32_t pid) {
  // Another process's user memory is not part of this process's user half.
  return !(r.kind == emu::RegionKind::UserMemory && r.owner != emu::kKernelOwner && r.owner != pid);
}

// The region at a user address as process `pid` sees it (null: free).
const emu::Region* region_of(const emu::AddressSpace& mem, uint32_t pid, uint64_t va) {
  if (va >= kemu::layout::kUserProbeAddress) return nullptr;
  const emu::Region* r = mem.find(GuestVa{va});
  return r && visible_to(*r, pid) ? r : nullptr;
}

// A mapped view (another mapping of existing pages); KUSER_SHARED_DATA's
// user alias is private memory for queries, as on Windows.
bool is_view(const emu::Region& r) {
  return r.alias_of.has_value() && r.kind != emu::RegionKind::SharedData;
}

// PAGE_* for what a page kemu mapped itself allows.
uint32_t page_protect_of(Prot p) {
  switch (p) {
    case Prot::None:
      return kPageNoAccess;
    case Prot::Read:
      return kPageReadOnly;
    case Prot::Write:
    case Prot::ReadWrite:
      return kPageReadWrite;
    case Prot::Exec:
      return kPageExecute;
    case Prot::ReadExec:
      return kPageExecuteRead;
    default:
      return kPageExecuteReadWrite;
  }
}

// The lowest (or highest) 64 KiB-aligned free range of `size` bytes inside
// [lo, hi] (hi inclusive). Every region counts, whatever its process.
std::optional<uint64_t> find_place(const emu::AddressSpace& mem, uint64_t lo, uint64_t hi,
                                   uint64_t size, bool top_down) {
  const auto& regions = mem.regions();
  if (hi < lo || hi - lo + 1 < size) return std::nullopt;
  if (!top_down) {
    uint64_t cursor = align_up(lo, kAllocationGranularity);
    auto it = regions.upper_bound(cursor);
    if (it != regions.begin() && std::prev(it)->second.end().value > cursor)
      cursor = align_up(std::prev(it)->second.end().value, kAllocationGranularity);
    for (; it != regions.end(); ++it) {
      if (cursor > hi || hi - cursor + 1 < size) return std::nullopt;
      if (it->first >= cursor + size) break;
      cursor = std::max(cursor, align_up(it->second.end().value, kAllocationGranularity));
    }
    if (cursor > hi || hi - cursor + 1 < size) return std::nullopt;
    return cursor;
  }
  uint64_t candidate = align_down(hi + 1 - size, kAllocationGranularity);
  auto it = regions.lower_bound(candidate + size);
  while (it != regions.begin()) {
    --it;
    const emu::Region& r = it->second;
    if (r.end().value <= candidate) break;  // regions below end lower still
    if (r.base.value < lo + size) return std::nullopt;
    candidate = align_down(r.base.value - size, kAllocationGranularity);
  }
  if (candidate < lo) return std::nullopt;
  return candidate;
}

// Applies the pages' states to the region's protections, one call per run.
void apply_protections(Kernel& k, uint64_t base, const Allocation& a, size_t first, size_t count) {
  size_t i = first;
  while (i < first + count) {
    size_t j = i;
    const PageState& s = a.pages[i];
    while (j < first + count && a.pages[j].committed == s.committed &&
           a.pages[j].protect == s.protect)
      ++j;
    k.memory().protect(GuestVa{base + i * kPageSize}, (j - i) * kPageSize,
                       s.committed ? page_access(s.protect) : Prot::None);
    i = j;
  }
}

}  // namespace

bool valid_protection(uint32_t protect) {
  if (protect >= (kPageWriteCombine << 1)) return false;
  uint32_t low = protect & 0xF, high = (protect >> 4) & 0xF;
  if ((low == 0) == (high == 0)) return false;  // exactly one of the two fields
  uint32_t field = low ? low : high;
  if (!std::has_single_bit(field)) return false;
  uint32_t modifiers = protect & (kPageGuard | kPageNoCache | kPageWriteCombine);
  if (modifiers && !std::has_single_bit(modifiers)) return false;
  if (modifiers && (protect & 0xFF) == kPageNoAccess) return false;
  return true;
}

Prot page_access(uint32_t protect) {
  switch (protect & 0xFF) {
    case kPageReadOnly:
      return Prot::Read;
    case kPageReadWrite:
    case kPageWriteCopy:
      return Prot::ReadWrite;
    case kPageExecute:
    case kPageExecuteRead:
      return Prot::ReadExec;
    case kPageExecuteReadWrite:
    case kPageExecuteWriteCopy:
      return Prot::All;
    default:
      return Prot::None;
  }
}

std::optional<uint64_t> zero_bits_limit(uint64_t zero_bits) {
  if (zero_bits == 0) return kHighestVadAddress;
  // 22..31 name more high bits than an address below 4 GiB has; 33..0xFFFE
  // is neither a count nor a usable mask.
  if ((zero_bits > 21 && zero_bits < 32) || (zero_bits > 32 && zero_bits < 0xFFFF))
    return std::nullopt;
  uint64_t limit =
      zero_bits < 32 ? (0xFFFF'FFFFull >> zero_bits) : (~0ull >> std::countl_zero(zero_bits));
  return std::min(limit, kHighestVadAddress);
}

NtStatus reserve(Kernel& k, uint32_t pid, uint64_t* base, uint64_t size, uint64_t highest,
                 bool top_down, bool and_commit, uint32_t protect) {
  auto& mem = k.memory();
  uint64_t start = *base;
  if (start) {
    // The range must be free in this process's user half.
    bool conflict = false, foreign = false;
    const auto& regions = mem.regions();
    auto it = regions.upper_bound(start);
    if (it != regions.begin()) --it;
    for (; it != regions.end() && it->first < start + size; ++it) {
      if (it->second.end().value <= start) continue;
      (visible_to(it->second, pid) ? conflict : foreign) = true;
    }
    if (conflict) return STATUS_CONFLICTING_ADDRESSES;
    if (foreign) {
      k.modules().unimplemented_case(
          "NtAllocateVirtualMemory",
          "an address another process's memory occupies (kemu keeps every user half in one map)");
      return STATUS_NOT_IMPLEMENTED;
    }
  } else {
    auto place = find_place(mem, kLowestUserAddress, highest, size, top_down);
    if (!place) return STATUS_NO_MEMORY;
    start = *place;
  }
  try {
    mem.map(GuestVa{start}, size, and_commit ? page_access(protect) : Prot::None,
            emu::RegionKind::UserMemory, "virtual memory", pid);
  } catch (const emu::GuestMemoryExhausted&) {
    return STATUS_NO_MEMORY;
  }
  // Memory of a process that is not current is not visible.
  if (k.machine().current_thread().space_process_id != pid) mem.set_owner_visible(pid, false);
  Allocation a;
  a.pid = pid;
  a.allocation_protect = protect;
  a.pages.assign(size / kPageSize, PageState{and_commit, and_commit ? protect : 0});
  state(k).allocations[start] = std::move(a);
  *base = start;
  return STATUS_SUCCESS;
}

NtStatus commit(Kernel& k, uint32_t pid, uint64_t start, uint64_t size, uint32_t protect) {
  auto& mem = k.memory();
  // The range must lie inside one allocation (a VAD) of the process.
  const emu::Region* r = region_of(mem, pid, start);
  if (!r || start + size > r->end().value) return STATUS_CONFLICTING_ADDRESSES;
  if (is_view(*r)) {
    k.modules().unimplemented_case("NtAllocateVirtualMemory", "MEM_COMMIT in a mapped view");
    return STATUS_NOT_IMPLEMENTED;
  }
  // Copy-on-write protections are for views only.
  if (protect & (kPageWriteCopy | kPageExecuteWriteCopy)) return STATUS_INVALID_PAGE_PROTECTION;
  auto [base, a] = allocation_at(k, pid, start);
  if (!a) {
    // Memory kemu placed itself is committed already: the protection changes.
    mem.protect(GuestVa{start}, size, page_access(protect));
    return STATUS_SUCCESS;
  }
  size_t first = (start - base) / kPageSize, count = size / kPageSize;
  for (size_t i = first; i < first + count; ++i) {
    PageState& p = a->pages[i];
    // A newly committed page is demand-zero; a committed one keeps its bytes.
    if (!p.committed) mem.discard_pages(GuestVa{base + i * kPageSize}, kPageSize);
    p = {true, protect};
  }
  apply_protections(k, base, *a, first, count);
  return STATUS_SUCCESS;
}

NtStatus reset(Kernel& k, uint32_t pid, uint64_t start, uint64_t size) {
  const emu::Region* r = region_of(k.memory(), pid, start);
  if (!r || start + size > r->end().value) return STATUS_CONFLICTING_ADDRESSES;
  // Nothing is paged out in kemu: the contents stay, which Windows allows.
  return STATUS_SUCCESS;
}

namespace {

// NtFreeVirtualMemory's common checks: the allocation holding the first
// page, the range inside it, private memory, and with a zero size the base.
NtStatus locate_for_free(Kernel& k, uint32_t pid, uint64_t* start, uint64_t* end, bool whole,
                         const char* what, uint64_t* alloc_base, Allocation** alloc) {
  const emu::Region* r = region_of(k.memory(), pid, *start);
  if (!r) return STATUS_MEMORY_NOT_ALLOCATED;
  if (!whole && *end > r->end().value) return STATUS_UNABLE_TO_FREE_VM;
  if (is_view(*r)) return STATUS_UNABLE_TO_DELETE_SECTION;  // a section view: ZwUnmapViewOfSection
  auto [base, a] = allocation_at(k, pid, *start);
  if (!a) {
    k.modules().unimplemented_case(
        "NtFreeVirtualMemory",
        std::string(what) + " of memory kemu placed itself (" + r->name + ")");
    return STATUS_NOT_IMPLEMENTED;
  }
  if (whole) {
    // A zero size frees the whole allocation, named by an address in its first page.
    if (*start != base) return STATUS_FREE_VM_NOT_AT_BASE;
    *end = base + a->size();
  }
  *alloc_base = base;
  *alloc = a;
  return STATUS_SUCCESS;
}

}  // namespace

NtStatus release(Kernel& k, uint32_t pid, uint64_t* base_io, uint64_t* size_io) {
  uint64_t start = align_down(*base_io, kPageSize);
  uint64_t end = *size_io ? align_up(*base_io + *size_io, kPageSize) : start;
  uint64_t base = 0;
  Allocation* a = nullptr;
  if (NtStatus st = locate_for_free(k, pid, &start, &end, *size_io == 0, "MEM_RELEASE", &base, &a);
      !nt_success(st))
    return st;
  auto& mem = k.memory();
  auto& all = state(k).allocations;
  uint64_t alloc_end = base + a->size();
  if (start == base && end == alloc_end) {
    mem.unmap(GuestVa{base});
    all.erase(base);
  } else {
    // Part of the allocation: it shrinks or splits in two, as the VAD does.
    mem.unmap_pages(GuestVa{start}, end - start);
    Allocation whole = std::move(*a);
    all.erase(base);
    auto keep = [&](uint64_t from, uint64_t to) {
      Allocation part;
      part.pid = whole.pid;
      part.allocation_protect = whole.allocation_protect;
      part.pages.assign(whole.pages.begin() + (from - base) / kPageSize,
                        whole.pages.begin() + (to - base) / kPageSize);
      all[from] = std::move(part);
    };
    if (start > base) keep(base, start);
    if (end < alloc_end) keep(end, alloc_end);
  }
  *base_io = start;
  *size_io = end - start;
  return STATUS_SUCCESS;
}

NtStatus decommit(Kernel& k, uint32_t pid, uint64_t* base_io, uint64_t* size_io) {
  uint64_t start = align_down(*base_io, kPageSize);
  uint64_t end = *size_io ? align_up(*base_io + *size_io, kPageSize) : start;
  uint64_t base = 0;
  Allocation* a = nullptr;
  if (NtStatus st = locate_for_free(k, pid, &start, &end, *size_io == 0, "MEM_DECOMMIT", &base, &a);
      !nt_success(st))
    return st;
  size_t first = (start - base) / kPageSize, count = (end - start) / kPageSize;
  // Decommitting reserved pages is no error; the pages read zeros when committed again.
  for (size_t i = first; i < first + count; ++i) a->pages[i] = PageState{};
  k.memory().protect(GuestVa{start}, end - start, Prot::None);
  k.memory().discard_pages(GuestVa{start}, end - start);
  *base_io = start;
  *size_io = end - start;
  return STATUS_SUCCESS;
}

NtStatus protect(Kernel& k, uint32_t pid, uint64_t* base_io, uint64_t* size_io,
                 uint32_t new_protect, uint32_t* old) {
  auto& mem = k.memory();
  uint64_t start = align_down(*base_io, kPageSize);
  uint64_t end = align_up(*base_io + *size_io, kPageSize);
  // The range must lie inside one allocation.
  const emu::Region* r = region_of(mem, pid, start);
  if (!r || end > r->end().value) return STATUS_CONFLICTING_ADDRESSES;
  if (is_view(*r)) {
    k.modules().unimplemented_case("NtProtectVirtualMemory", "a mapped view");
    return STATUS_NOT_IMPLEMENTED;
  }
  // Private memory cannot be made copy-on-write.
  if (new_protect & (kPageWriteCopy | kPageExecuteWriteCopy)) return STATUS_INVALID_PARAMETER_4;
  auto [base, a] = allocation_at(k, pid, start);
  if (!a) {
    // Memory kemu placed itself: committed, its protection is the region's.
    *old = page_protect_of(r->prot_at(GuestVa{start}));
    mem.protect(GuestVa{start}, end - start, page_access(new_protect));
  } else {
    size_t first = (start - base) / kPageSize, count = (end - start) / kPageSize;
    for (size_t i = first; i < first + count; ++i)
      if (!a->pages[i].committed) return STATUS_NOT_COMMITTED;
    *old = a->pages[first].protect;
    for (size_t i = first; i < first + count; ++i) a->pages[i].protect = new_protect;
    apply_protections(k, base, *a, first, count);
  }
  *base_io = start;
  *size_io = end - start;
  return STATUS_SUCCESS;
}

layout::MEMORY_BASIC_INFORMATION query(Kernel& k, uint32_t pid, uint64_t address) {
  const auto& mem = k.memory();
  layout::MEMORY_BASIC_INFORMATION info{};
  uint64_t va = align_down(address, kPageSize);
  info.BaseAddress = va;
  const emu::Region* r = region_of(mem, pid, va);
  if (!r) {
    // Free: up to the next allocation of this process or the end of the VAD range.
    uint64_t end =
        va <= kHighestVadAddress ? kHighestVadAddress + 1 : kemu::layout::kHighestUserAddress + 1;
    for (auto it = mem.regions().upper_bound(va); it != mem.regions().end() && it->first < end;
         ++it) {
      if (visible_to(it->second, pid)) {
        end = it->first;
        break;
      }
    }
    info.RegionSize = end - va;
    info.State = kMemFree;
    info.Protect = kPageNoAccess;
    return info;
  }
  auto [base, a] = allocation_at(k, pid, va);
  if (a) {
    size_t i = (va - base) / kPageSize, j = i;
    const PageState s = a->pages[i];
    while (j < a->pages.size() && a->pages[j].committed == s.committed &&
           a->pages[j].protect == s.protect)
      ++j;
    info.AllocationBase = base;
    info.AllocationProtect = a->allocation_protect;
    info.RegionSize = (j - i) * kPageSize;
    info.State = s.committed ? kMemCommit : kMemReserve;
    info.Protect = s.committed ? s.protect : 0;
    info.Type = kMemPrivate;
    return info;
  }
  // A region kemu mapped itself: committed, one protection per run of pages.
  Prot p = r->prot_at(GuestVa{va});
  uint64_t end = va;
  while (end < r->end().value && r->prot_at(GuestVa{end}) == p) end += kPageSize;
  info.AllocationBase = r->base.value;
  info.AllocationProtect = page_protect_of(r->page_prot.front());
  info.RegionSize = end - va;
  info.State = kMemCommit;
  info.Protect = page_protect_of(p);
  info.Type = is_view(*r) ? kMemMapped : kMemPrivate;
  return info;
}

bool accessible_in(const emu::AddressSpace& memory, uint32_t pid, GuestVa va, Prot need) {
  if (is_user_address(va)) {
    const emu::Region* r = region_of(memory, pid, va.value);
    return r && has(r->prot_at(va), need);
  }
  const emu::Region* r = memory.find(va);
  return r && has(r->prot_at(va), need);
}

}  // namespace kemu::nt::mm
