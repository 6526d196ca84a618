// Executive resources (ERESOURCE): shared/exclusive locks with recursion,
// kept in the driver's ERESOURCE as Windows keeps them: OwnerEntry holds the
// exclusive owner or the first shared owner, OwnerTable (kernel pool; entry 0
// holds TableSize) the other shared owners, ActiveCount the owning threads,
// Flag the exclusive bit. Contention waits are real scheduler waits: exclusive
// waiters on a synchronization event (ExclusiveWaiters), shared waiters on a
// semaphore (SharedWaiters), both allocated at the first contention. As in
// Windows, a releaser hands the resource over: to all shared waiters, or to
// one exclusive waiter with a placeholder owner the woken thread replaces.
#include <cstddef>
#include <optional>

#include "emulator/ntstatus.h"
#include "ntoskrnl-stubs/api/registry.h"
#include "ntoskrnl-stubs/ke/lock_primitives.h"
#include "ntoskrnl-stubs/ke/scheduler.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/lock_structs.h"

namespace kemu::nt {

using layout::ERESOURCE;
using layout::OWNER_ENTRY;

namespace {

constexpr uint32_t kResourceTag = 0x63727352;  // 'Rsrc'
constexpr uint32_t kInitialTableSize = 4;      // OwnerTable entries, entry 0 is the header
constexpr uint64_t kHandoffOwner = 1;  // owner of a resource handed to a waiter not yet running
constexpr uint32_t kResourceNotOwned = 0xE3;  // RESOURCE_NOT_OWNED

// ExGetCurrentResourceThread(): the current ETHREAD.
uint64_t current_resource_thread(Kernel& k) {
  return k.machine().current_thread().ethread.value;
}

// Kernel-owned nonpaged allocations (owner table, waiter objects).
GuestVa kernel_allocate(Kernel& k, uint64_t size) {
  auto block = k.machine().pool().allocate(size, 0, kResourceTag, GuestVa{});
  if (!block) return GuestVa{};
  std::vector<uint8_t> zeros(size, 0);
  k.memory().write(*block, zeros.data(), zeros.size());
  return *block;
}

void signal(Kernel& k, GuestVa object, int32_t add, bool set) {
  auto h = k.memory().read<layout::DISPATCHER_HEADER>(object);
  h.SignalState = set ? 1 : h.SignalState + add;
  k.memory().write(object, h);
  k.scheduler().signal_test();
}

// The ERESOURCE read once, edited, written back with commit(). Owner entries
// are addressed by index: -1 is OwnerEntry, 1.. are OwnerTable entries.
class ResourceView {
  Kernel& k_;
  GuestVa at_;

 public:
  ResourceView(Kernel& k, GuestVa resource)
      : k_(k), at_(resource), res(k.memory().read<ERESOURCE>(resource)) {}

  ERESOURCE res;

  void commit() {
    res.ActiveEntries = res.ActiveCount > 0 ? static_cast<uint32_t>(res.ActiveCount) : 0;
    k_.memory().write(at_, res);
  }
  bool exclusive() const { return (res.Flag & layout::kResourceOwnedExclusive) != 0; }

  uint32_t table_size() const {
    return res.OwnerTable ? k_.memory().read<OWNER_ENTRY>(GuestVa{res.OwnerTable}).CountBits : 0;
  }
  OWNER_ENTRY get(int index) const {
    if (index < 0) return res.OwnerEntry;
    return k_.memory().read<OWNER_ENTRY>(GuestVa{res.OwnerTable + 16ull * index});
  }
  void set(int index, const OWNER_ENTRY& e) {
    if (index < 0)
      res.OwnerEntry = e;
    else
      k_.memory().write(GuestVa{res.OwnerTable + 16ull * index}, e);
  }

  std::optional<int> find(uint64_t thread) const {
    if (thread == 0) return std::nullopt;  // 0 marks a free entry
    if (res.OwnerEntry.OwnerThread == thread) return -1;
    uint32_t n = table_size();
    for (uint32_t i = 1; i < n; ++i)
      if (get(static_cast<int>(i)).OwnerThread == thread) return static_cast<int>(i);
    return std::nullopt;
  }

  // A free owner entry: OwnerEntry first, then the table, which grows (doubling).
  std::optional<int> find_free() {
    if (res.OwnerEntry.OwnerThread == 0) return -1;
    uint32_t n = table_size();
    for (uint32_t i = 1; i < n; ++i)
      if (get(static_cast<int>(i)).OwnerThread == 0) return static_cast<int>(i);
    uint32_t grown = n ? n * 2 : kInitialTableSize;
    GuestVa table = kernel_allocate(k_, 16ull * grown);
    if (!table) return std::nullopt;
    for (uint32_t i = 1; i < n; ++i) k_.memory().write(table + 16ull * i, get(static_cast<int>(i)));
    OWNER_ENTRY header{};
    header.CountBits = grown;  // OwnerTable[0].TableSize
    k_.memory().write(table, header);
    if (res.OwnerTable) k_.machine().pool().free(GuestVa{res.OwnerTable}, std::nullopt);
    res.OwnerTable = table.value;
    return static_cast<int>(n ? n : 1);
  }

  GuestVa exclusive_waiters() {
    if (!res.ExclusiveWaiters) {
      GuestVa event = kernel_allocate(k_, sizeof(layout::KEVENT));
      if (!event) return event;
      layout::KEVENT e{};
      e.Header.Type = ke::dispatcher_type::kSynchronizationEvent;
      e.Header.Size = sizeof(layout::KEVENT) / 4;
      e.Header.WaitListHead = {(event + 8).value, (event + 8).value};
      k_.memory().write(event, e);
      res.ExclusiveWaiters = event.value;
    }
    return GuestVa{res.ExclusiveWaiters};
  }

  GuestVa shared_waiters() {
    if (!res.SharedWaiters) {
      GuestVa semaphore = kernel_allocate(k_, sizeof(layout::KSEMAPHORE));
      if (!semaphore) return semaphore;
      layout::KSEMAPHORE s{};
      s.Header.Type = ke::dispatcher_type::kSemaphore;
      s.Header.Size = sizeof(layout::KSEMAPHORE) / 4;
      s.Header.WaitListHead = {(semaphore + 8).value, (semaphore + 8).value};
      s.Limit = 0x7FFFFFFF;
      k_.memory().write(semaphore, s);
      res.SharedWaiters = semaphore.value;
    }
    return GuestVa{res.SharedWaiters};
  }

  // Makes `thread` the exclusive owner, acquired once.
  void own_exclusive(uint64_t thread) {
    res.Flag |= layout::kResourceOwnedExclusive;
    res.OwnerEntry.OwnerThread = thread;
    res.OwnerEntry.set_count(1);
    res.ActiveCount = 1;
  }

  // Hands the resource on after its last owner left: all shared waiters at
  // once, else one exclusive waiter (Windows' order on an exclusive release).
  void hand_over(bool shared_first) {
    if (shared_first && res.NumberOfSharedWaiters > 0) return wake_shared();
    if (res.NumberOfExclusiveWaiters > 0) {
      own_exclusive(kHandoffOwner);
      res.NumberOfExclusiveWaiters -= 1;
      commit();
      signal(k_, GuestVa{res.ExclusiveWaiters}, 0, true);
      return;
    }
    if (res.NumberOfSharedWaiters > 0) return wake_shared();
    res.Flag &= static_cast<uint16_t>(~layout::kResourceOwnedExclusive);
    commit();
  }

  // Grants shared access to every shared waiter (they record their owner
  // entries when they run).
  void wake_shared() {
    uint32_t n = res.NumberOfSharedWaiters;
    res.Flag &= static_cast<uint16_t>(~layout::kResourceOwnedExclusive);
    res.ActiveCount = static_cast<int16_t>(res.ActiveCount + n);
    res.NumberOfSharedWaiters = 0;
    commit();
    signal(k_, GuestVa{res.SharedWaiters}, static_cast<int32_t>(n), false);
  }
};

// ExAcquireResourceExclusiveLite. When the wait suspends the thread, this is
// called again on resume and goes straight back to the wait.
bool acquire_exclusive(Kernel& k, GuestVa resource, bool wait) {
  emu::Machine& m = k.machine();
  uint64_t me = current_resource_thread(k);
  if (!ke::resuming_wait(k)) {
    ResourceView v(k, resource);
    // 1. Not owned: the caller becomes the exclusive owner.
    if (v.res.ActiveCount == 0) {
      v.own_exclusive(me);
      v.commit();
      return true;
    }
    // 2. Already the exclusive owner: recursive acquisition.
    if (v.exclusive() && v.res.OwnerEntry.OwnerThread == me) {
      v.res.OwnerEntry.set_count(v.res.OwnerEntry.count() + 1);
      v.commit();
      return true;
    }
    // 3. Owned by others (or shared by the caller: that waits forever, as on Windows).
    if (!wait) return false;
    if (!v.exclusive_waiters()) return false;
    v.res.ContentionCount += 1;
    v.res.NumberOfExclusiveWaiters += 1;
    v.commit();
  }
  GuestVa event{k.memory().read<ERESOURCE>(resource).ExclusiveWaiters};
  NtStatus s = k.scheduler().wait({event}, false, std::nullopt);
  if (s == STATUS_PENDING || m.stopped())
    return false;  // suspended (called again on resume) or stopped
  // 4. The releaser handed the resource over with a placeholder owner.
  ResourceView v(k, resource);
  v.res.OwnerEntry.OwnerThread = me;
  v.commit();
  return true;
}

enum class SharedKind { Lite, StarveExclusive, WaitForExclusive };

// ExAcquireResourceSharedLite, ExAcquireSharedStarveExclusive,
// ExAcquireSharedWaitForExclusive: they differ only when the resource is
// shared and exclusive waiters exist.
bool acquire_shared(Kernel& k, GuestVa resource, bool wait, SharedKind kind) {
  emu::Machine& m = k.machine();
  uint64_t me = current_resource_thread(k);
  if (!ke::resuming_wait(k)) {
    ResourceView v(k, resource);
    // 1. Not owned: shared access at once.
    if (v.res.ActiveCount == 0) {
      auto slot = v.find_free();
      if (!slot) return false;
      v.set(*slot, OWNER_ENTRY{me, 1u << 2, 0});
      v.res.Flag &= static_cast<uint16_t>(~layout::kResourceOwnedExclusive);
      v.res.ActiveCount = 1;
      v.commit();
      return true;
    }
    bool exclusive_waiting = v.res.NumberOfExclusiveWaiters > 0;
    if (v.exclusive()) {
      // 2. The caller owns it exclusively: recursive acquisition of that same access.
      if (v.res.OwnerEntry.OwnerThread == me) {
        v.res.OwnerEntry.set_count(v.res.OwnerEntry.count() + 1);
        v.commit();
        return true;
      }
    } else if (auto mine = v.find(me)) {
      // 3. The caller already shares it: recursion, except that
      //    ExAcquireSharedWaitForExclusive lets exclusive waiters go first.
      if (!(kind == SharedKind::WaitForExclusive && exclusive_waiting)) {
        OWNER_ENTRY e = v.get(*mine);
        e.set_count(e.count() + 1);
        v.set(*mine, e);
        v.commit();
        return true;
      }
    } else if (!exclusive_waiting || kind == SharedKind::StarveExclusive) {
      // 4. Shared by others: granted unless exclusive waiters exist
      //    (ExAcquireSharedStarveExclusive grants it anyway).
      auto slot = v.find_free();
      if (!slot) return false;
      v.set(*slot, OWNER_ENTRY{me, 1u << 2, 0});
      v.res.ActiveCount = static_cast<int16_t>(v.res.ActiveCount + 1);
      v.commit();
      return true;
    }
    // 5. Otherwise the caller waits (or gets FALSE without Wait).
    if (!wait) return false;
    if (!v.shared_waiters()) return false;
    v.res.ContentionCount += 1;
    v.res.NumberOfSharedWaiters += 1;
    v.commit();
  }
  GuestVa semaphore{k.memory().read<ERESOURCE>(resource).SharedWaiters};
  NtStatus s = k.scheduler().wait({semaphore}, false, std::nullopt);
  if (s == STATUS_PENDING || m.stopped()) return false;
  // 6. Granted: the releaser counted this thread in ActiveCount; record it as an owner.
  ResourceView v(k, resource);
  if (auto mine = v.find(me)) {
    OWNER_ENTRY e = v.get(*mine);  // a WaitForExclusive caller already counted as an owner
    e.set_count(e.count() + 1);
    v.set(*mine, e);
    v.res.ActiveCount = static_cast<int16_t>(v.res.ActiveCount - 1);
  } else if (auto slot = v.find_free()) {
    v.set(*slot, OWNER_ENTRY{me, 1u << 2, 0});
  }
  v.commit();
  return true;
}

// ExReleaseResourceForThreadLite: a thread that does not own the resource
// bugchecks RESOURCE_NOT_OWNED (resource, thread, owner table, 0).
void release_for_thread(Kernel& k, GuestVa resource, uint64_t thread) {
  emu::Machine& m = k.machine();
  ResourceView v(k, resource);
  if (v.exclusive()) {
    if (v.res.OwnerEntry.OwnerThread != thread) {
      m.bugcheck(kResourceNotOwned, resource.value, thread, v.res.OwnerTable, 0, m.call_site());
      return;
    }
    uint32_t count = v.res.OwnerEntry.count() - 1;
    v.res.OwnerEntry.set_count(count);
    if (count > 0) return v.commit();
    v.res.OwnerEntry.OwnerThread = 0;
    v.res.ActiveCount = 0;
    return v.hand_over(true);
  }
  auto mine = v.find(thread);
  if (!mine) {
    m.bugcheck(kResourceNotOwned, resource.value, thread, v.res.OwnerTable, 0, m.call_site());
    return;
  }
  OWNER_ENTRY e = v.get(*mine);
  uint32_t count = e.count() - 1;
  e.set_count(count);
  if (count == 0) e.OwnerThread = 0;
  v.set(*mine, e);
  if (count > 0) return v.commit();
  v.res.ActiveCount = static_cast<int16_t>(v.res.ActiveCount - 1);
  if (v.res.ActiveCount > 0) return v.commit();
  v.hand_over(false);
}

// Resets the owner state, keeping (and resetting) the waiter objects and table.
void reset(Kernel& k, GuestVa resource, bool keep_allocations) {
  ERESOURCE old = k.memory().read<ERESOURCE>(resource);
  ERESOURCE res{};
  // Windows links the resource into the system resource list; kemu keeps it on its own.
  res.SystemResourcesList = {resource.value, resource.value};
  if (keep_allocations) {
    res.OwnerTable = old.OwnerTable;
    res.SharedWaiters = old.SharedWaiters;
    res.ExclusiveWaiters = old.ExclusiveWaiters;
    ResourceView v(k, resource);
    for (uint32_t i = 1; i < v.table_size(); ++i) v.set(static_cast<int>(i), OWNER_ENTRY{});
    for (uint64_t object : {old.SharedWaiters, old.ExclusiveWaiters}) {
      if (!object) continue;
      auto h = k.memory().read<layout::DISPATCHER_HEADER>(GuestVa{object});
      h.SignalState = 0;
      k.memory().write(GuestVa{object}, h);
    }
  }
  k.memory().write(resource, res);
}

}  // namespace

NtStatus ExInitializeResourceLite(Kernel& k, GuestVa resource) {
  reset(k, resource, false);
  return STATUS_SUCCESS;
}

NtStatus ExReinitializeResourceLite(Kernel& k, GuestVa resource) {
  reset(k, resource, true);
  return STATUS_SUCCESS;
}

// Frees what the kernel allocated for the resource.
NtStatus ExDeleteResourceLite(Kernel& k, GuestVa resource) {
  ERESOURCE res = k.memory().read<ERESOURCE>(resource);
  for (uint64_t block : {res.OwnerTable, res.SharedWaiters, res.ExclusiveWaiters})
    if (block) k.machine().pool().free(GuestVa{block}, std::nullopt);
  res.OwnerTable = res.SharedWaiters = res.ExclusiveWaiters = 0;
  k.memory().write(resource, res);
  return STATUS_SUCCESS;
}

bool ExAcquireResourceExclusiveLite(Kernel& k, GuestVa resource, bool wait) {
  return acquire_exclusive(k, resource, wait);
}

bool ExAcquireResourceSharedLite(Kernel& k, GuestVa resource, bool wait) {
  return acquire_shared(k, resource, wait, SharedKind::Lite);
}

bool ExAcquireSharedStarveExclusive(Kernel& k, GuestVa resource, bool wait) {
  return acquire_shared(k, resource, wait, SharedKind::StarveExclusive);
}

bool ExAcquireSharedWaitForExclusive(Kernel& k, GuestVa resource, bool wait) {
  return acquire_shared(k, resource, wait, SharedKind::WaitForExclusive);
}

void ExReleaseResourceLite(Kernel& k, GuestVa resource) {
  release_for_thread(k, resource, current_resource_thread(k));
}

void ExReleaseResourceForThreadLite(Kernel& k, GuestVa resource, uint64_t thread) {
  release_for_thread(k, resource, thread);
}

bool ExIsResourceAcquiredExclusiveLite(Kernel& k, GuestVa resource) {
  ResourceView v(k, resource);
  return v.exclusive() && v.res.OwnerEntry.OwnerThread == current_resource_thread(k);
}

// The number of times the caller acquired the resource, shared or exclusive.
uint32_t ExIsResourceAcquiredSharedLite(Kernel& k, GuestVa resource) {
  ResourceView v(k, resource);
  auto mine = v.find(current_resource_thread(k));
  return mine ? v.get(*mine).count() : 0;
}

uint32_t ExGetExclusiveWaiterCount(Kernel& k, GuestVa resource) {
  return k.memory().read<ERESOURCE>(resource).NumberOfExclusiveWaiters;
}

uint32_t ExGetSharedWaiterCount(Kernel& k, GuestVa resource) {
  return k.memory().read<ERESOURCE>(resource).NumberOfSharedWaiters;
}

// The exclusive owner keeps its acquisitions as shared ones; shared waiters
// are granted access at once.
void ExConvertExclusiveToSharedLite(Kernel& k, GuestVa resource) {
  ResourceView v(k, resource);
  if (!v.exclusive()) return;
  if (v.res.NumberOfSharedWaiters > 0) return v.wake_shared();
  v.res.Flag &= static_cast<uint16_t>(~layout::kResourceOwnedExclusive);
  v.commit();
}

// The owner becomes an owner pointer (low two bits set) that
// ExReleaseResourceForThreadLite later names.
void ExSetResourceOwnerPointer(Kernel& k, GuestVa resource, uint64_t owner) {
  ResourceView v(k, resource);
  if (auto mine = v.find(current_resource_thread(k))) {
    OWNER_ENTRY e = v.get(*mine);
    e.OwnerThread = owner;
    v.set(*mine, e);
    v.commit();
  }
}

void ExSetResourceOwnerPointerEx(Kernel& k, GuestVa resource, uint64_t owner, uint32_t flags) {
  ExSetResourceOwnerPointer(k, resource, owner);
}

// Priority boosts of resource owners are not modelled: nothing to disable.
void ExDisableResourceBoostLite(Kernel& k, GuestVa resource) {}

// These return KeGetCurrentThread()->Win32Thread, NULL for system threads;
// drivers are told to ignore the value.
GuestVa ExEnterCriticalRegionAndAcquireResourceExclusive(Kernel& k, GuestVa resource) {
  if (!ke::resuming_wait(k)) ke::enter_critical_region(k);
  acquire_exclusive(k, resource, true);
  return GuestVa{};
}

GuestVa ExEnterCriticalRegionAndAcquireResourceShared(Kernel& k, GuestVa resource) {
  if (!ke::resuming_wait(k)) ke::enter_critical_region(k);
  acquire_shared(k, resource, true, SharedKind::Lite);
  return GuestVa{};
}

GuestVa ExEnterCriticalRegionAndAcquireSharedWaitForExclusive(Kernel& k, GuestVa resource) {
  if (!ke::resuming_wait(k)) ke::enter_critical_region(k);
  acquire_shared(k, resource, true, SharedKind::WaitForExclusive);
  return GuestVa{};
}

void ExReleaseResourceAndLeaveCriticalRegion(Kernel& k, GuestVa resource) {
  release_for_thread(k, resource, current_resource_thread(k));
  ke::leave_critical_region(k);
}

void register_resource_exports(Registry& r) {
  KEMU_EXPORT(r, ExInitializeResourceLite);
  KEMU_EXPORT(r, ExReinitializeResourceLite);
  KEMU_EXPORT(r, ExDeleteResourceLite);
  KEMU_EXPORT(r, ExAcquireResourceExclusiveLite);
  KEMU_EXPORT(r, ExAcquireResourceSharedLite);
  KEMU_EXPORT(r, ExAcquireSharedStarveExclusive);
  KEMU_EXPORT(r, ExAcquireSharedWaitForExclusive);
  KEMU_EXPORT(r, ExReleaseResourceLite);
  KEMU_EXPORT(r, ExReleaseResourceForThreadLite);
  KEMU_EXPORT(r, ExIsResourceAcquiredExclusiveLite);
  KEMU_EXPORT(r, ExIsResourceAcquiredSharedLite);
  KEMU_EXPORT(r, ExGetExclusiveWaiterCount);
  KEMU_EXPORT(r, ExGetSharedWaiterCount);
  KEMU_EXPORT(r, ExConvertExclusiveToSharedLite);
  KEMU_EXPORT(r, ExSetResourceOwnerPointer);
  KEMU_EXPORT(r, ExSetResourceOwnerPointerEx);
  KEMU_EXPORT(r, ExDisableResourceBoostLite);
  KEMU_EXPORT(r, ExEnterCriticalRegionAndAcquireResourceExclusive);
  KEMU_EXPORT(r, ExEnterCriticalRegionAndAcquireResourceShared);
  KEMU_EXPORT(r, ExEnterCriticalRegionAndAcquireSharedWaitForExclusive);
  KEMU_EXPORT(r, ExReleaseResourceAndLeaveCriticalRegion);
}

}  // namespace kemu::nt
