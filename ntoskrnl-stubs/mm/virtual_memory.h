// The user-mode virtual memory of processes (the work behind
// Nt/ZwAllocateVirtualMemory, ZwFreeVirtualMemory, ZwProtectVirtualMemory,
// ZwQueryVirtualMemory and MmCopyVirtualMemory).
//
// Each allocation is one RegionKind::UserMemory region of the shared address
// space, owned by its process (kemu keeps every process's user half in one
// map, so a placement never collides with another process's memory; regions
// of processes that are not current are hidden). The memory manager keeps,
// per allocation, the protection it was reserved with and each page's state:
// reserved (mapped with no access) or committed with a PAGE_* protection.
// Releasing part of an allocation splits it, as Windows splits the VAD.
//
// User-half regions kemu made itself (client buffers, a process's image
// header page, KUSER_SHARED_DATA's alias) are committed private memory for
// queries; an alias region (another mapping of existing pages) is a mapped
// view. Freeing those is not modelled (reported as unimplemented).
#pragma once

#include <cstdint>
#include <optional>

#include "emulator/address_space.h"
#include "emulator/ntstatus.h"
#include "emulator/types.h"
#include "ntoskrnl-stubs/layout/nt_structs.h"

namespace kemu::nt {

class Kernel;
class Registry;

void register_virtual_memory_exports(Registry& r);  // mm/virtual_memory_exports.cpp

namespace mm {

// MEM_* allocation types, free types, states and types (winnt.h).
constexpr uint32_t kMemCommit = 0x1000;
constexpr uint32_t kMemReserve = 0x2000;
constexpr uint32_t kMemDecommit = 0x4000;
constexpr uint32_t kMemRelease = 0x8000;
constexpr uint32_t kMemFree = 0x10000;
constexpr uint32_t kMemPrivate = 0x20000;
constexpr uint32_t kMemMapped = 0x40000;
constexpr uint32_t kMemReset = 0x80000;
constexpr uint32_t kMemTopDown = 0x100000;
constexpr uint32_t kMemWriteWatch = 0x200000;
constexpr uint32_t kMemPhysical = 0x400000;
constexpr uint32_t kMemResetUndo = 0x1000000;
constexpr uint32_t kMemImage = 0x1000000;
constexpr uint32_t kMemLargePages = 0x20000000;

// PAGE_* protections (winnt.h).
constexpr uint32_t kPageNoAccess = 0x01;
constexpr uint32_t kPageReadOnly = 0x02;
constexpr uint32_t kPageReadWrite = 0x04;
constexpr uint32_t kPageWriteCopy = 0x08;
constexpr uint32_t kPageExecute = 0x10;
constexpr uint32_t kPageExecuteRead = 0x20;
constexpr uint32_t kPageExecuteReadWrite = 0x40;
constexpr uint32_t kPageExecuteWriteCopy = 0x80;
constexpr uint32_t kPageGuard = 0x100;
constexpr uint32_t kPageNoCache = 0x200;
constexpr uint32_t kPageWriteCombine = 0x400;

// Allocation granularity and the user range allocations may use: from
// 64 KiB up to MM_HIGHEST_VAD_ADDRESS, 64 KiB below MmHighestUserAddress.
constexpr uint64_t kAllocationGranularity = 0x10000;
constexpr uint64_t kLowestUserAddress = 0x10000;
constexpr uint64_t kHighestVadAddress = kemu::layout::kHighestUserAddress - kAllocationGranularity;

// MiMakeProtectionMask's rule: exactly one base protection (one bit of the
// low byte), at most one of GUARD/NOCACHE/WRITECOMBINE, none with NOACCESS.
bool valid_protection(uint32_t protect);
// What a committed page with that protection allows (x64 pages that execute
// can be read; PAGE_WRITECOPY is writable).
Prot page_access(uint32_t protect);

// ZeroBits as NtAllocateVirtualMemory reads it: 0 no limit, 1..21 a count of
// high bits within the low 32 (address below 2^(32 - ZeroBits)), 32 and from
// 0xFFFF on a mask of acceptable address bits. The highest address an
// allocation may use (inclusive), or nullopt for an invalid value.
std::optional<uint64_t> zero_bits_limit(uint64_t zero_bits);

// --- the model (addresses and sizes already validated by the caller) -------------
// Reserves (and with `and_commit` commits) `size` bytes (whole pages) in process
// `pid`: at *base (64 KiB aligned) or, when *base is 0, at the lowest (or
// with top_down the highest) free 64 KiB-aligned place ending at or below
// `highest`. STATUS_CONFLICTING_ADDRESSES when *base is taken,
// STATUS_NO_MEMORY when nothing fits.
NtStatus reserve(Kernel& k, uint32_t pid, uint64_t* base, uint64_t size, uint64_t highest,
                 bool top_down, bool and_commit, uint32_t protect);
// MEM_COMMIT of [start, start+size) (whole pages) inside one allocation:
// new pages read zeros, committed ones keep their bytes and take `protect`.
NtStatus commit(Kernel& k, uint32_t pid, uint64_t start, uint64_t size, uint32_t protect);
// MEM_RESET / MEM_RESET_UNDO: the range must lie in one allocation; its
// contents stay (Windows may discard them; nothing is paged out in kemu, so
// a later MEM_RESET_UNDO always finds them intact).
NtStatus reset(Kernel& k, uint32_t pid, uint64_t start, uint64_t size);
// MEM_RELEASE / MEM_DECOMMIT of [*base, *base + *size) (*size 0: the whole
// allocation, *base in its first page). On success *base/*size describe the
// pages freed.
NtStatus release(Kernel& k, uint32_t pid, uint64_t* base, uint64_t* size);
NtStatus decommit(Kernel& k, uint32_t pid, uint64_t* base, uint64_t* size);
// NtProtectVirtualMemory's work: every page must be committed; *old gets the
// first page's protection; *base/*size become the whole pages changed.
NtStatus protect(Kernel& k, uint32_t pid, uint64_t* base, uint64_t* size, uint32_t new_protect,
                 uint32_t* old);
// MemoryBasicInformation for `address` (a user address) of process `pid`.
layout::MEMORY_BASIC_INFORMATION query(Kernel& k, uint32_t pid, uint64_t address);

// Whether process `pid` (its user half current) may access `va` with `need`:
// a user page must be one of its own (or shared) regions with that access;
// a kernel page must be mapped with it.
bool accessible_in(const emu::AddressSpace& memory, uint32_t pid, GuestVa va, Prot need);

}  // namespace mm
}  // namespace kemu::nt
