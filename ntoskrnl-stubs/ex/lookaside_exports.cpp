// Lookaside lists: NPAGED_/PAGED_LOOKASIDE_LIST and LOOKASIDE_LIST_EX. On
// x64 the allocate/free routines are inline in wdm.h: they pop and push the
// list's SLIST_HEADER through ExpInterlockedPop/PushEntrySList
// (ex/interlocked_exports.cpp) and call L.Allocate/L.Free when the list is
// empty or full, so those must be guest-callable: without caller routines they
// are ExAllocatePoolWithTag and ExFreePool themselves, as on Windows. The
// Paged routines are also exported (mingw's import library lists them).
#include <cstddef>

#include "emulator/ntstatus.h"
#include "ntoskrnl-stubs/api/kernel_modules.h"
#include "ntoskrnl-stubs/api/registry.h"
#include "ntoskrnl-stubs/ke/lock_primitives.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/lock_structs.h"

namespace kemu::nt {

using layout::GENERAL_LOOKASIDE_POOL;

void RtlRaiseStatus(Kernel& k, uint32_t status);  // rtl/seh_exports.cpp
GuestVa ExpInterlockedPushEntrySList(Kernel& k, GuestVa head,
                                     GuestVa entry);  // ex/interlocked_exports.cpp
GuestVa ExpInterlockedPopEntrySList(Kernel& k, GuestVa head);
GuestVa ExpInterlockedFlushSList(Kernel& k, GuestVa head);
uint16_t ExQueryDepthSList(Kernel& k, GuestVa head);

namespace {

constexpr uint32_t kNonPagedPool = 0;
constexpr uint32_t kPagedPool = 1;
constexpr uint32_t kPoolQuotaFailInsteadOfRaise = 8;    // POOL_QUOTA_FAIL_INSTEAD_OF_RAISE
constexpr uint32_t kPoolRaiseIfAllocationFailure = 16;  // POOL_RAISE_IF_ALLOCATION_FAILURE
constexpr uint32_t kPoolNxAllocation = 512;             // POOL_NX_ALLOCATION
constexpr uint32_t kLookasideExRaiseOnFail = 1;         // EX_LOOKASIDE_LIST_EX_FLAGS_RAISE_ON_FAIL
constexpr uint32_t kLookasideExFailNoRaise = 2;         // EX_LOOKASIDE_LIST_EX_FLAGS_FAIL_NO_RAISE
constexpr uint16_t kMinimumLookasideDepth = 4;    // ExMinimumLookasideDepth: the starting Depth
constexpr uint16_t kMaximumLookasideDepth = 256;  // EX_MAXIMUM_LOOKASIDE_DEPTH_BASE
constexpr NtStatus kStatusInvalidParameter5 = 0xC00000F3;

GuestVa kernel_routine(Kernel& k, const char* name) {
  return k.modules().routine_address(name).value_or(GuestVa{});
}

template <class T>
void add_field(Kernel& k, GuestVa list, size_t offset, T delta) {
  GuestVa at = list + offset;
  k.memory().write<T>(at, static_cast<T>(k.memory().read<T>(at) + delta));
}

// The lookaside header is 16-byte aligned on x64 (its SLIST_HEADER is):
// InitializeSListHead raises STATUS_DATATYPE_MISALIGNMENT otherwise.
bool initialize(Kernel& k, GuestVa list, GuestVa allocate, GuestVa free, uint32_t type,
                uint64_t size, uint32_t tag) {
  if (list.value & 0xF) {
    RtlRaiseStatus(k, STATUS_DATATYPE_MISALIGNMENT);
    return false;
  }
  GENERAL_LOOKASIDE_POOL g{};
  g.Depth = kMinimumLookasideDepth;  // the Depth argument is ignored; Windows tunes Depth itself
  g.MaximumDepth = kMaximumLookasideDepth;
  g.Type = type;
  g.Tag = tag;
  g.Size = static_cast<uint32_t>(size);
  g.Allocate = allocate ? allocate.value : kernel_routine(k, "ExAllocatePoolWithTag").value;
  g.Free = free ? free.value : kernel_routine(k, "ExFreePool").value;
  // Windows links the list into its lookaside list of lists; kemu keeps it alone.
  GuestVa links = list + offsetof(GENERAL_LOOKASIDE_POOL, ListEntry);
  g.ListEntry = {links.value, links.value};
  k.memory().write(list, g);
  return true;
}

// What the inline ExAllocateFrom*LookasideList does.
GuestVa allocate_from(Kernel& k, GuestVa list, bool ex) {
  add_field<uint32_t>(k, list, offsetof(GENERAL_LOOKASIDE_POOL, TotalAllocates), 1);
  GuestVa entry = ExpInterlockedPopEntrySList(k, list);
  if (entry) return entry;
  add_field<uint32_t>(k, list, offsetof(GENERAL_LOOKASIDE_POOL, AllocateMisses), 1);
  auto g = k.memory().read<GENERAL_LOOKASIDE_POOL>(list);
  std::vector<uint64_t> args{g.Type, g.Size, g.Tag};
  if (ex) args.push_back(list.value);
  auto result = k.machine().call(GuestVa{g.Allocate}, args);
  return GuestVa{result.value_or(0)};
}

// What the inline ExFreeTo*LookasideList does.
void free_to(Kernel& k, GuestVa list, GuestVa entry, bool ex) {
  add_field<uint32_t>(k, list, offsetof(GENERAL_LOOKASIDE_POOL, TotalFrees), 1);
  auto g = k.memory().read<GENERAL_LOOKASIDE_POOL>(list);
  if (ExQueryDepthSList(k, list) < g.Depth) {
    ExpInterlockedPushEntrySList(k, list, entry);
    return;
  }
  add_field<uint32_t>(k, list, offsetof(GENERAL_LOOKASIDE_POOL, FreeMisses), 1);
  std::vector<uint64_t> args{entry.value};
  if (ex) args.push_back(list.value);
  k.machine().call(GuestVa{g.Free}, args);
}

// Hands every cached entry to L.Free (ExDelete*LookasideList, ExFlushLookasideListEx).
void flush(Kernel& k, GuestVa list, bool ex) {
  emu::Machine& m = k.machine();
  GuestVa free{k.memory().read<GENERAL_LOOKASIDE_POOL>(list).Free};
  GuestVa entry = ExpInterlockedFlushSList(k, list);
  while (entry && !m.stopped()) {
    GuestVa next{k.memory().read<uint64_t>(entry)};
    std::vector<uint64_t> args{entry.value};
    if (ex) args.push_back(list.value);
    m.call(free, args);
    entry = next;
  }
}

}  // namespace

// Flags (Windows 8+): POOL_NX_ALLOCATION and POOL_RAISE_IF_ALLOCATION_FAILURE,
// OR-ed into the pool type the entries are allocated with.
void ExInitializeNPagedLookasideList(Kernel& k, GuestVa list, GuestVa allocate, GuestVa free,
                                     uint32_t flags, uint64_t size, uint32_t tag, uint16_t depth) {
  initialize(k, list, allocate, free, kNonPagedPool | flags, size, tag);
}

// POOL_NX_ALLOCATION has no effect here: pageable memory is always NX.
void ExInitializePagedLookasideList(Kernel& k, GuestVa list, GuestVa allocate, GuestVa free,
                                    uint32_t flags, uint64_t size, uint32_t tag, uint16_t depth) {
  initialize(k, list, allocate, free, kPagedPool | (flags & ~kPoolNxAllocation), size, tag);
}

void ExDeleteNPagedLookasideList(Kernel& k, GuestVa list) {
  flush(k, list, false);
}
void ExDeletePagedLookasideList(Kernel& k, GuestVa list) {
  flush(k, list, false);
}

GuestVa ExAllocateFromPagedLookasideList(Kernel& k, GuestVa list) {
  return allocate_from(k, list, false);
}
void ExFreeToPagedLookasideList(Kernel& k, GuestVa list, GuestVa entry) {
  free_to(k, list, entry, false);
}

// Flags: RAISE_ON_FAIL adds POOL_RAISE_IF_ALLOCATION_FAILURE to the pool type,
// FAIL_NO_RAISE adds POOL_QUOTA_FAIL_INSTEAD_OF_RAISE; the two exclude each
// other and no other bit is valid (STATUS_INVALID_PARAMETER_5).
NtStatus ExInitializeLookasideListEx(Kernel& k, GuestVa list, GuestVa allocate, GuestVa free,
                                     uint32_t pool_type, uint32_t flags, uint64_t size,
                                     uint32_t tag, uint16_t depth) {
  constexpr uint32_t kBoth = kLookasideExRaiseOnFail | kLookasideExFailNoRaise;
  if ((flags & ~kBoth) != 0 || (flags & kBoth) == kBoth) return kStatusInvalidParameter5;
  uint32_t type = pool_type;
  if (flags & kLookasideExRaiseOnFail) type |= kPoolRaiseIfAllocationFailure;
  if (flags & kLookasideExFailNoRaise) type |= kPoolQuotaFailInsteadOfRaise;
  // The default routines take one argument less than ALLOCATE_/FREE_FUNCTION_EX
  // pass; the extra Lookaside argument is ignored under the x64 convention.
  if (!initialize(k, list, allocate, free, type, size, tag)) return STATUS_DATATYPE_MISALIGNMENT;
  return STATUS_SUCCESS;
}

void ExDeleteLookasideListEx(Kernel& k, GuestVa list) {
  flush(k, list, true);
}
void ExFlushLookasideListEx(Kernel& k, GuestVa list) {
  flush(k, list, true);
}

void register_lookaside_exports(Registry& r) {
  KEMU_EXPORT(r, ExInitializeNPagedLookasideList);
  KEMU_EXPORT(r, ExInitializePagedLookasideList);
  KEMU_EXPORT(r, ExDeleteNPagedLookasideList);
  KEMU_EXPORT(r, ExDeletePagedLookasideList);
  KEMU_EXPORT(r, ExAllocateFromPagedLookasideList);
  KEMU_EXPORT(r, ExFreeToPagedLookasideList);
  KEMU_EXPORT(r, ExInitializeLookasideListEx);
  KEMU_EXPORT(r, ExDeleteLookasideListEx);
  KEMU_EXPORT(r, ExFlushLookasideListEx);
}

}  // namespace kemu::nt
