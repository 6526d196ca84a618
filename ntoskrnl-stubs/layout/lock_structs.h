// Lock and list structures drivers keep in their own memory, at their x64
// offsets (mingw-w64 ddk/wdm.h, checked with clang's record layout for
// x86_64-w64-windows-gnu): spin-lock queue handles, fast and guarded mutexes,
// executive resources, lookaside lists, singly linked and sequenced lists.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ntoskrnl-stubs/layout/nt_structs.h"

namespace kemu::nt::layout {

// KSPIN_LOCK is a ULONG_PTR: 0 free, non-zero held.
using KSPIN_LOCK = uint64_t;

struct KSPIN_LOCK_QUEUE {
  uint64_t Next;  // PKSPIN_LOCK_QUEUE
  uint64_t Lock;  // PKSPIN_LOCK
};

struct KLOCK_QUEUE_HANDLE {
  KSPIN_LOCK_QUEUE LockQueue;
  uint8_t OldIrql;
  uint8_t pad[7];
};
static_assert(offsetof(KLOCK_QUEUE_HANDLE, OldIrql) == 0x10 && sizeof(KLOCK_QUEUE_HANDLE) == 0x18);

// FAST_MUTEX and, on Windows 8 and later, KGUARDED_MUTEX share this layout
// (the guarded mutex's KGATE sits where the fast mutex's KEVENT is).
struct FAST_MUTEX {
  int32_t Count;  // bit 0 (FM_LOCK_BIT) set: free; waiters counted in units of 4
  uint32_t pad0;
  uint64_t Owner;  // PKTHREAD
  uint32_t Contention;
  uint32_t pad1;
  KEVENT Event;      // SynchronizationEvent
  uint32_t OldIrql;  // KGUARDED_MUTEX: CombinedApcDisable
  uint32_t pad2;
};
static_assert(offsetof(FAST_MUTEX, Owner) == 0x8 && offsetof(FAST_MUTEX, Contention) == 0x10);
static_assert(offsetof(FAST_MUTEX, Event) == 0x18 && offsetof(FAST_MUTEX, OldIrql) == 0x30);
static_assert(sizeof(FAST_MUTEX) == 0x38);
using KGUARDED_MUTEX = FAST_MUTEX;
constexpr int32_t kFmLockBit = 0x1;        // FM_LOCK_BIT / GM_LOCK_BIT
constexpr int32_t kFmLockWaiterInc = 0x4;  // FM_LOCK_WAITER_INC / GM_LOCK_WAITER_INC

struct KSEMAPHORE {
  DISPATCHER_HEADER Header;
  int32_t Limit;
  uint32_t pad;
};
static_assert(sizeof(KSEMAPHORE) == 0x20);

struct OWNER_ENTRY {
  uint64_t OwnerThread;  // ERESOURCE_THREAD
  // IoPriorityBoosted:1, OwnerReferenced:1, OwnerCount:30; TableSize in OwnerTable[0].
  uint32_t CountBits;
  uint32_t pad;
  uint32_t count() const { return CountBits >> 2; }
  void set_count(uint32_t n) { CountBits = (CountBits & 3u) | (n << 2); }
};
static_assert(sizeof(OWNER_ENTRY) == 0x10);

struct ERESOURCE {
  LIST_ENTRY SystemResourcesList;
  uint64_t OwnerTable;  // POWNER_ENTRY
  int16_t ActiveCount;
  uint16_t Flag;
  uint32_t pad0;
  uint64_t SharedWaiters;     // PKSEMAPHORE
  uint64_t ExclusiveWaiters;  // PKEVENT
  OWNER_ENTRY OwnerEntry;
  uint32_t ActiveEntries;
  uint32_t ContentionCount;
  uint32_t NumberOfSharedWaiters;
  uint32_t NumberOfExclusiveWaiters;
  uint64_t Reserved2;
  uint64_t Address;  // CreatorBackTraceIndex
  KSPIN_LOCK SpinLock;
};
static_assert(offsetof(ERESOURCE, OwnerTable) == 0x10 && offsetof(ERESOURCE, ActiveCount) == 0x18);
static_assert(offsetof(ERESOURCE, Flag) == 0x1A && offsetof(ERESOURCE, SharedWaiters) == 0x20);
static_assert(offsetof(ERESOURCE, ExclusiveWaiters) == 0x28 &&
              offsetof(ERESOURCE, OwnerEntry) == 0x30);
static_assert(offsetof(ERESOURCE, ActiveEntries) == 0x40 &&
              offsetof(ERESOURCE, ContentionCount) == 0x44);
static_assert(offsetof(ERESOURCE, NumberOfSharedWaiters) == 0x48);
static_assert(offsetof(ERESOURCE, NumberOfExclusiveWaiters) == 0x4C);
static_assert(offsetof(ERESOURCE, Address) == 0x58 && offsetof(ERESOURCE, SpinLock) == 0x60);
static_assert(sizeof(ERESOURCE) == 0x68);
// ERESOURCE.Flag
constexpr uint16_t kResourceOwnedExclusive = 0x80;

// SLIST_HEADER, x64 "HeaderX64" format (Windows 8 and later): Depth:16 and
// Sequence:48 in the first quadword; HeaderType:1, Reserved:3, NextEntry:60
// (the first entry's address >> 4) in the second.
struct SLIST_HEADER {
  uint64_t Alignment;
  uint64_t Region;
  uint16_t depth() const { return static_cast<uint16_t>(Alignment & 0xFFFF); }
  uint64_t sequence() const { return Alignment >> 16; }
  uint64_t first() const { return Region & ~0xFull; }
  void set(uint64_t first_entry, uint16_t depth, uint64_t sequence) {
    Alignment = (sequence << 16) | depth;
    Region = (Region & 0xFull) | (first_entry & ~0xFull);
  }
};
static_assert(sizeof(SLIST_HEADER) == 0x10);

// GENERAL_LOOKASIDE (cache aligned: NPAGED_/PAGED_LOOKASIDE_LIST are 0x80
// bytes on x64) and GENERAL_LOOKASIDE_POOL (LOOKASIDE_LIST_EX, 0x60 bytes).
struct GENERAL_LOOKASIDE_POOL {
  SLIST_HEADER ListHead;
  uint16_t Depth;
  uint16_t MaximumDepth;
  uint32_t TotalAllocates;
  uint32_t AllocateMisses;
  uint32_t TotalFrees;
  uint32_t FreeMisses;
  uint32_t Type;  // POOL_TYPE
  uint32_t Tag;
  uint32_t Size;
  uint64_t Allocate;  // PALLOCATE_FUNCTION(_EX)
  uint64_t Free;      // PFREE_FUNCTION(_EX)
  LIST_ENTRY ListEntry;
  uint32_t LastTotalAllocates;
  uint32_t LastAllocateMisses;
  uint32_t Future[2];
};
static_assert(offsetof(GENERAL_LOOKASIDE_POOL, Depth) == 0x10);
static_assert(offsetof(GENERAL_LOOKASIDE_POOL, TotalAllocates) == 0x14);
static_assert(offsetof(GENERAL_LOOKASIDE_POOL, Type) == 0x24 &&
              offsetof(GENERAL_LOOKASIDE_POOL, Size) == 0x2C);
static_assert(offsetof(GENERAL_LOOKASIDE_POOL, Allocate) == 0x30 &&
              offsetof(GENERAL_LOOKASIDE_POOL, Free) == 0x38);
static_assert(offsetof(GENERAL_LOOKASIDE_POOL, ListEntry) == 0x40);
static_assert(offsetof(GENERAL_LOOKASIDE_POOL, Future) == 0x58 &&
              sizeof(GENERAL_LOOKASIDE_POOL) == 0x60);
constexpr uint64_t kNPagedLookasideListSize = 0x80;  // sizeof(NPAGED_LOOKASIDE_LIST), x64

}  // namespace kemu::nt::layout
