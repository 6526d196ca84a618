// Memory descriptor lists: allocation (IoAllocateMdl, IoFreeMdl, MmCreateMdl,
// MmSizeOfMdl), describing nonpaged buffers (MmBuildMdlForNonPagedPool),
// probing and locking (MmProbeAndLockPages, MmUnlockPages), system mappings
// (MmMapLockedPages*, MmUnmapLockedPages) and MmGetPhysicalAddress.
//
// The DDK's inline helpers (MmGetSystemAddressForMdlSafe, MmGetMdlVirtualAddress,
// MmGetMdlByteCount, MmInitializeMdl, ...) read and write MDL fields directly,
// so every routine here keeps those fields exactly as Windows does.
//
// A system mapping of locked pages is an alias of the pages' host memory
// (AddressSpace::map_alias) at an address of kemu's system PTE range: the
// same bytes at two addresses, as the user may still change them through the
// original address (semantics.md §4).
#include <vector>

#include <fmt/format.h>

#include "emulator/exception_layout.h"
#include "emulator/ntstatus.h"
#include "emulator/pool.h"
#include "ntoskrnl-stubs/api/registry.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/nt_structs.h"
#include "ntoskrnl-stubs/mm/mm.h"

namespace kemu::nt {

void ExFreePool(Kernel& k, GuestVa p);  // ex/ex_exports.cpp

namespace {

using layout::MDL;
using namespace mm;

constexpr uint32_t kMdlTag = 0x206C644D;  // 'Mdl '
constexpr uint64_t kFixedSizeMdlPfns =
    23;  // IOP_FIXED_SIZE_MDL_PFNS: the I/O manager's lookaside size
constexpr uint64_t kMaxMdlLength = 0xFFFF'F000;  // Windows 7 and later: 4 GB - PAGE_SIZE
// MM_PAGE_PRIORITY flags (Windows 8 and later), or-ed into Priority.
constexpr uint32_t kMdlMappingNoWrite = 0x80000000;
constexpr uint32_t kMdlMappingNoExecute = 0x40000000;

// Bug checks (Microsoft's bug check reference).
constexpr uint32_t kMemoryManagement = 0x1A;
constexpr uint64_t kMmMdlOfNonResidentRange =
    0x1240;  // MmBuildMdlForNonPagedPool over pages not resident
constexpr uint64_t kMmMdlWithInvalidPfn = 0x1236;  // an MDL with an unlocked or invalid page
constexpr uint32_t kNoMoreSystemPtes = 0x3F;
constexpr uint32_t kSystemPteMisuse = 0xDA;
constexpr uint64_t kPteMisuseNotMapped = 0x06;  // the MDL being freed was never (or is not) mapped

GuestVa mdl_va(const MDL& d) {
  return GuestVa{d.StartVa + d.ByteOffset};
}
GuestVa pfn_slot(GuestVa mdl, uint64_t index) {
  return mdl + sizeof(MDL) + index * 8;
}

uint64_t size_of_mdl(uint64_t va, uint64_t length) {
  return sizeof(MDL) + span_pages(va, length) * 8;
}

// MmInitializeMdl: Next, Size, MdlFlags, StartVa, ByteOffset, ByteCount (the
// other fields are left to the routine that fills them; kemu zeroes them).
MDL initialized_mdl(GuestVa va, uint64_t length) {
  MDL d{};
  d.Size = static_cast<int16_t>(size_of_mdl(va.value, length));  // CSHORT, as the macro truncates
  d.StartVa = page_down(va.value);
  d.ByteOffset = static_cast<uint32_t>(va.value & (kPageSize - 1));
  d.ByteCount = static_cast<uint32_t>(length);
  return d;
}

uint64_t pfn_of(const emu::AddressSpace& mem, GuestVa page) {
  return *physical_address(mem, page) >> 12;
}

void fill_pfns(emu::AddressSpace& mem, GuestVa mdl, const MDL& d) {
  uint64_t pages = span_pages(mdl_va(d).value, d.ByteCount);
  for (uint64_t i = 0; i < pages; ++i)
    mem.write<uint64_t>(pfn_slot(mdl, i), pfn_of(mem, GuestVa{d.StartVa + i * kPageSize}));
}

// Why a range cannot be locked: the first page that fails and whether touching
// it page-faults (unmapped / no access) rather than failing a PTE check.
struct LockFailure {
  GuestVa page;
  bool fault = false;
};

// MmProbeAndLockPages' checks, in its order: for UserMode, the range must lie
// in the user half and not be empty or wrap; then every page is touched (read)
// — a fault there is a failure — and for IoWriteAccess/IoModifyAccess every
// page must also be writable.
std::optional<LockFailure> lock_failure(const emu::AddressSpace& mem, const MDL& d,
                                        ProcessorMode mode, uint32_t operation) {
  uint64_t va = mdl_va(d).value;
  uint64_t end = va + d.ByteCount;
  if (mode == ProcessorMode::UserMode && (end > kemu::layout::kUserProbeAddress || va >= end))
    return LockFailure{GuestVa{va}, false};
  uint64_t pages = span_pages(va, d.ByteCount);
  for (uint64_t i = 0; i < pages; ++i) {
    GuestVa at{i == 0 ? va : d.StartVa + i * kPageSize};
    if (!mem.accessible(at, 1, Prot::Read)) return LockFailure{at, true};
  }
  if (operation != kIoReadAccess) {
    for (uint64_t i = 0; i < pages; ++i) {
      GuestVa page{d.StartVa + i * kPageSize};
      if (!mem.accessible(page, 1, Prot::Write)) return LockFailure{page, false};
    }
  }
  return std::nullopt;
}

// The lock itself: PFNs, MDL_PAGES_LOCKED (MDL_WRITE_OPERATION unless for
// reading), and Process = the current process for user pages, NULL otherwise.
void lock(Kernel& k, GuestVa mdl, MDL d, uint32_t operation) {
  auto& mem = k.memory();
  fill_pfns(mem, mdl, d);
  d.Process = is_user_address(mdl_va(d)) ? k.machine().current_thread().eprocess.value : 0;
  d.MdlFlags = static_cast<int16_t>(d.MdlFlags | kMdlPagesLocked |
                                    (operation != kIoReadAccess ? kMdlWriteOperation : 0));
  mem.write(mdl, d);
}

// Unmaps the system mapping that starts at the page of `base` and covers
// `pages` pages: every page must belong to a mapping MmMapLockedPages* made.
bool unmap_system_mapping(emu::AddressSpace& mem, GuestVa base, uint64_t pages) {
  GuestVa first{page_down(base.value)};
  GuestVa end = first + pages * kPageSize;
  if (pages == 0 || first < kSystemMappingBase || end > kSystemMappingEnd || end < first)
    return false;
  std::vector<GuestVa> regions;
  for (GuestVa cursor = first; cursor < end;) {
    const emu::Region* r = mem.find(cursor);
    if (!r || !r->alias_of || r->base != cursor || r->end() > end) return false;
    regions.push_back(r->base);
    cursor = r->end();
  }
  for (GuestVa r : regions) mem.unmap(r);
  return true;
}

GuestVa allocate_mdl(Kernel& k, uint64_t bytes) {
  auto& m = k.machine();
  return m.pool()
      .allocate(bytes, emu::pool_type::kNonPaged, kMdlTag, m.return_address())
      .value_or(GuestVa{});
}

}  // namespace

namespace mm {

std::optional<uint64_t> physical_address(const emu::AddressSpace& memory, GuestVa va) {
  auto frame = memory.frame_of(va);
  if (!frame) return std::nullopt;
  return (*frame << 12) | (va.value & (kPageSize - 1));
}

std::optional<GuestVa> page_of_pfn(const emu::AddressSpace& memory, uint64_t pfn) {
  return memory.page_of_frame(pfn);
}

NtStatus probe_and_lock(Kernel& k, GuestVa mdl, ProcessorMode mode, uint32_t operation) {
  MDL d = k.memory().read<MDL>(mdl);
  if (lock_failure(k.memory(), d, mode, operation)) return STATUS_ACCESS_VIOLATION;
  lock(k, mdl, d, operation);
  return STATUS_SUCCESS;
}

NtStatus probe_and_lock_caught(Kernel& k, GuestVa mdl, ProcessorMode mode, uint32_t operation) {
  MDL d = k.memory().read<MDL>(mdl);
  if (auto failure = lock_failure(k.memory(), d, mode, operation)) {
    if (failure->fault && is_kernel_address(failure->page) && is_canonical(failure->page))
      throw emu::GuestAccessError(failure->page, false);  // PAGE_FAULT_IN_NONPAGED_AREA
    if (failure->fault) page_fault_bugchecks(k, failure->page, false);
    return STATUS_ACCESS_VIOLATION;
  }
  lock(k, mdl, d, operation);
  return STATUS_SUCCESS;
}

}  // namespace mm

// MmSizeOfMdl: the MDL header and one PFN per page the range spans.
uint64_t MmSizeOfMdl(Kernel& k, GuestVa base, uint64_t length) {
  return size_of_mdl(base.value, length);
}

// IoAllocateMdl: NULL beyond 4 GB - PAGE_SIZE; small MDLs come from the I/O
// manager's fixed-size lookaside (room for 23 PFNs, MDL_ALLOCATED_FIXED_SIZE),
// larger ones from nonpaged pool; then MmInitializeMdl, and the IRP link:
// Irp->MdlAddress for a primary buffer, the end of its chain for a secondary.
GuestVa IoAllocateMdl(Kernel& k, GuestVa va, uint32_t length, bool secondary, bool charge_quota,
                      GuestVa irp) {
  (void)charge_quota;  // reserved: drivers pass FALSE
  if (length > kMaxMdlLength) return GuestVa{};
  uint64_t pages = span_pages(va.value, length);
  bool fixed = pages <= kFixedSizeMdlPfns;
  GuestVa mdl = allocate_mdl(k, sizeof(MDL) + (fixed ? kFixedSizeMdlPfns : pages) * 8);
  if (!mdl) return GuestVa{};
  auto& mem = k.memory();
  MDL d = initialized_mdl(va, length);
  if (fixed) d.MdlFlags = kMdlAllocatedFixedSize;
  mem.write(mdl, d);
  if (irp) {
    GuestVa head = irp + offsetof(layout::IRP, MdlAddress);
    if (!secondary) {
      mem.write<uint64_t>(head, mdl.value);
    } else {
      // Append: follow Next from Irp->MdlAddress to the last MDL.
      GuestVa link = head;
      for (uint64_t next = mem.read<uint64_t>(link); next != 0; next = mem.read<uint64_t>(link))
        link = GuestVa{next} + offsetof(MDL, Next);
      mem.write<uint64_t>(link, mdl.value);
    }
  }
  return mdl;
}

// IoFreeMdl: a partial MDL still mapped is unmapped first; then the memory
// goes back to the pool (a bad pointer is BAD_POOL_CALLER, as ExFreePool).
void IoFreeMdl(Kernel& k, GuestVa mdl) {
  MDL d = k.memory().read<MDL>(mdl);
  if (d.MdlFlags & kMdlPartialHasBeenMapped) {
    MmUnmapLockedPages(k, GuestVa{d.MappedSystemVa}, mdl);
    if (k.machine().stopped()) return;
  }
  ExFreePool(k, mdl);
}

// MmCreateMdl (obsolete): MmInitializeMdl over the caller's MDL, or over a new
// nonpaged one of MmSizeOfMdl bytes when none is given.
GuestVa MmCreateMdl(Kernel& k, GuestVa mdl, GuestVa base, uint64_t length) {
  if (!mdl) {
    mdl = allocate_mdl(k, size_of_mdl(base.value, length));
    if (!mdl) return GuestVa{};
  }
  k.memory().write(mdl, initialized_mdl(base, length));
  return mdl;
}

// MmBuildMdlForNonPagedPool: Process NULL, MappedSystemVa = the buffer, the
// PFNs of its pages, MDL_SOURCE_IS_NONPAGED_POOL. A page that is not resident
// is MEMORY_MANAGEMENT 0x1240 (P2 the MDL; P3 is the page's PTE on Windows,
// the page itself in kemu, which has no page tables).
void MmBuildMdlForNonPagedPool(Kernel& k, GuestVa mdl) {
  auto& mem = k.memory();
  auto& m = k.machine();
  MDL d = mem.read<MDL>(mdl);
  uint64_t pages = span_pages(mdl_va(d).value, d.ByteCount);
  for (uint64_t i = 0; i < pages; ++i) {
    GuestVa page{d.StartVa + i * kPageSize};
    if (!mem.is_mapped(page)) {
      m.bugcheck(kMemoryManagement, kMmMdlOfNonResidentRange, mdl.value, page.value, 0,
                 m.call_site());
      return;
    }
  }
  fill_pfns(mem, mdl, d);
  d.Process = 0;
  d.MappedSystemVa = mdl_va(d).value;
  d.MdlFlags = static_cast<int16_t>(d.MdlFlags | kMdlSourceIsNonPagedPool);
  mem.write(mdl, d);
}

// MmProbeAndLockPages: every failure is re-raised by ExRaiseStatus as
// STATUS_ACCESS_VIOLATION (non-continuable, no parameters) — the routine
// catches its own probe faults — except where the probe's fault itself is
// fatal: an invalid kernel address (0x50) or any fault at DISPATCH_LEVEL.
void MmProbeAndLockPages(Kernel& k, GuestVa mdl, uint8_t mode, uint32_t operation) {
  ProcessorMode access = mode == 0 ? ProcessorMode::KernelMode : ProcessorMode::UserMode;
  MDL d = k.memory().read<MDL>(mdl);
  if (auto failure = lock_failure(k.memory(), d, access, operation)) {
    if (failure->fault && is_kernel_address(failure->page) && is_canonical(failure->page))
      throw emu::GuestAccessError(failure->page, false);  // PAGE_FAULT_IN_NONPAGED_AREA
    if (failure->fault && page_fault_bugchecks(k, failure->page, false)) return;
    k.raise_in_caller(STATUS_ACCESS_VIOLATION, emu::seh::kExceptionNoncontinuable);
    return;
  }
  lock(k, mdl, d, operation);
}

// MmUnlockPages: a system mapping still in place is released first (Windows
// calls MmUnmapLockedPages itself), then the MDL is no longer locked.
void MmUnlockPages(Kernel& k, GuestVa mdl) {
  auto& mem = k.memory();
  MDL d = mem.read<MDL>(mdl);
  if (d.MdlFlags & kMdlMappedToSystemVa) {
    MmUnmapLockedPages(k, GuestVa{d.MappedSystemVa}, mdl);
    if (k.machine().stopped()) return;
    d = mem.read<MDL>(mdl);
  }
  d.MdlFlags = static_cast<int16_t>(d.MdlFlags & ~kMdlPagesLocked);
  mem.write(mdl, d);
}

// MmMapLockedPagesSpecifyCache, KernelMode: maps the pages the MDL's PFNs name
// at a new system address and returns it plus ByteOffset, recording it in
// MappedSystemVa with MDL_MAPPED_TO_SYSTEM_VA (and MDL_PARTIAL_HAS_BEEN_MAPPED
// for a partial MDL). An MDL of nonpaged pool (MDL_SOURCE_IS_NONPAGED_POOL)
// is already mapped: its MappedSystemVa is the answer. Failure: NULL, or
// NO_MORE_SYSTEM_PTES when BugCheckOnFailure.
//
// Protection: as on Windows, the system mapping of pages locked for
// IoReadAccess is writable (a write through it is a verifier finding,
// buffer.write-read-locked, not a crash); MdlMappingNoWrite /
// MdlMappingNoExecute in Priority are honoured. A guard page follows each
// mapping. CacheType does not matter.
GuestVa MmMapLockedPagesSpecifyCache(Kernel& k, GuestVa mdl, uint8_t mode, uint32_t cache_type,
                                     GuestVa requested, uint32_t bugcheck_on_failure,
                                     uint32_t priority) {
  (void)cache_type;
  (void)requested;  // only meaningful for UserMode
  auto& mem = k.memory();
  auto& m = k.machine();
  if (mode != 0) {
    m.request_stop(
        {emu::StopKind::Unimplemented,
         "MmMapLockedPagesSpecifyCache with UserMode (mapping into a user process) is not "
         "implemented yet",
         {}});
    return GuestVa{};
  }
  MDL d = mem.read<MDL>(mdl);
  if (d.MdlFlags & kMdlSourceIsNonPagedPool) return GuestVa{d.MappedSystemVa};

  auto fail = [&](uint64_t pages) {
    if (bugcheck_on_failure) m.bugcheck(kNoMoreSystemPtes, 0, pages, 0, 0, m.call_site());
    return GuestVa{};
  };
  uint64_t pages = span_pages(mdl_va(d).value, d.ByteCount);
  if (pages == 0) return fail(pages);

  // The pages the PFNs name: each must be a page kemu has.
  std::vector<GuestVa> sources(pages);
  for (uint64_t i = 0; i < pages; ++i) {
    uint64_t pfn = mem.read<uint64_t>(pfn_slot(mdl, i));
    auto page = page_of_pfn(mem, pfn);
    sources[i] = page.value_or(GuestVa{});
    if (!page) {
      m.bugcheck(kMemoryManagement, kMmMdlWithInvalidPfn, mdl.value, pfn_slot(mdl, i).value, pfn,
                 m.call_site());
      return GuestVa{};
    }
  }

  auto base = mem.find_free(kSystemMappingBase, kSystemMappingEnd, (pages + 1) * kPageSize);
  if (!base) return fail(pages);
  Prot prot = Prot::All;
  if (priority & kMdlMappingNoWrite) prot = Prot::ReadExec;
  if (priority & kMdlMappingNoExecute) prot = static_cast<Prot>(static_cast<uint8_t>(prot) & ~0x4);

  // One alias per run of pages that are consecutive in one source region.
  std::string name = fmt::format("mdl {} mapping", mdl.hex());
  try {
    for (uint64_t i = 0; i < pages;) {
      const emu::Region* source = mem.find(sources[i]);
      uint64_t j = i + 1;
      while (j < pages && sources[j] == sources[j - 1] + kPageSize && source->contains(sources[j]))
        ++j;
      mem.map_alias(*base + i * kPageSize, *source, sources[i] - source->base, (j - i) * kPageSize,
                    prot, emu::RegionKind::Scratch, name);
      i = j;
    }
  } catch (const emu::GuestMemoryExhausted&) {
    for (GuestVa cursor = *base; cursor < *base + pages * kPageSize;) {
      const emu::Region* r = mem.find(cursor);
      if (!r || r->base != cursor) break;
      cursor = r->end();
      mem.unmap(r->base);
    }
    return fail(pages);
  }

  d.MappedSystemVa = base->value + d.ByteOffset;
  d.MdlFlags = static_cast<int16_t>(d.MdlFlags | kMdlMappedToSystemVa |
                                    ((d.MdlFlags & kMdlPartial) ? kMdlPartialHasBeenMapped : 0));
  mem.write(mdl, d);
  return GuestVa{d.MappedSystemVa};
}

// MmMapLockedPages: MmCached, no requested address, bug check on failure,
// HighPagePriority.
GuestVa MmMapLockedPages(Kernel& k, GuestVa mdl, uint8_t mode) {
  return MmMapLockedPagesSpecifyCache(k, mdl, mode, 1, GuestVa{}, 1, 32);
}

// MmUnmapLockedPages: releases the system mapping at BaseAddress (span: the
// MDL's ByteCount) and clears MDL_MAPPED_TO_SYSTEM_VA and
// MDL_PARTIAL_HAS_BEEN_MAPPED. An address that is not such a mapping is
// SYSTEM_PTE_MISUSE 0x06 (P2 MDL, P3 address, P4 pages), as Windows reports it
// when it tracks system PTEs.
void MmUnmapLockedPages(Kernel& k, GuestVa base, GuestVa mdl) {
  auto& mem = k.memory();
  auto& m = k.machine();
  MDL d = mem.read<MDL>(mdl);
  uint64_t pages = span_pages(base.value, d.ByteCount);
  if (!unmap_system_mapping(mem, base, pages)) {
    m.bugcheck(kSystemPteMisuse, kPteMisuseNotMapped, mdl.value, base.value, pages, m.call_site());
    return;
  }
  d.MdlFlags =
      static_cast<int16_t>(d.MdlFlags & ~(kMdlMappedToSystemVa | kMdlPartialHasBeenMapped));
  mem.write(mdl, d);
}

// MmGetPhysicalAddress: kemu's deterministic "physical" address (mm.h); 0 for
// an address that is not mapped, as Windows returns for an invalid one.
uint64_t MmGetPhysicalAddress(Kernel& k, GuestVa va) {
  return physical_address(k.memory(), va).value_or(0);
}

void register_mdl_exports(Registry& r) {
  KEMU_EXPORT(r, IoAllocateMdl);
  KEMU_EXPORT(r, IoFreeMdl);
  KEMU_EXPORT(r, MmSizeOfMdl);
  KEMU_EXPORT(r, MmCreateMdl);
  KEMU_EXPORT(r, MmBuildMdlForNonPagedPool);
  KEMU_EXPORT(r, MmProbeAndLockPages);
  KEMU_EXPORT(r, MmUnlockPages);
  KEMU_EXPORT(r, MmMapLockedPagesSpecifyCache);
  KEMU_EXPORT(r, MmMapLockedPages);
  KEMU_EXPORT(r, MmUnmapLockedPages);
  KEMU_EXPORT(r, MmGetPhysicalAddress);
}

}  // namespace kemu::nt
