// Sequenced singly linked lists (SLIST_HEADER, the x64 header format of
// Windows 8 and later) and the ExInterlocked*List routines that guard a
// LIST_ENTRY or SINGLE_LIST_ENTRY list with a caller-supplied spin lock.
#include <cstddef>

#include "emulator/ntstatus.h"
#include "ntoskrnl-stubs/api/registry.h"
#include "ntoskrnl-stubs/ke/lock_primitives.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/lock_structs.h"

namespace kemu::nt {

using layout::LIST_ENTRY;
using layout::SLIST_HEADER;

void RtlRaiseStatus(Kernel& k, uint32_t status);  // rtl/seh_exports.cpp

namespace {

uint64_t read_ptr(Kernel& k, uint64_t at) {
  return k.memory().read<uint64_t>(GuestVa{at});
}
void write_ptr(Kernel& k, uint64_t at, uint64_t value) {
  k.memory().write<uint64_t>(GuestVa{at}, value);
}

// The ExInterlocked*List routines run `op` with the list's spin lock held
// (and interrupts disabled: any IRQL is allowed). A lock the caller already
// holds can never be taken on one processor: the run stops, as
// take_spin_lock explains.
template <class Op>
auto under_list_lock(Kernel& k, GuestVa lock, std::string_view routine, Op op) -> decltype(op()) {
  if (!ke::take_spin_lock(k, lock, 1, routine)) return {};
  auto result = op();
  ke::drop_spin_lock(k, lock);
  return result;
}

}  // namespace

// --- sequenced singly linked lists ---------------------------------------------------
// An entry's address is kept >> 4 (entries are 16-byte aligned, MEMORY_ALLOCATION_ALIGNMENT).

// STATUS_DATATYPE_MISALIGNMENT is raised for a header not 16-byte aligned.
void InitializeSListHead(Kernel& k, GuestVa head) {
  if (head.value & 0xF) return RtlRaiseStatus(k, STATUS_DATATYPE_MISALIGNMENT);
  k.memory().write(head, SLIST_HEADER{});
}

// Returns the previous first entry (NULL when the list was empty).
GuestVa ExpInterlockedPushEntrySList(Kernel& k, GuestVa head, GuestVa entry) {
  auto h = k.memory().read<SLIST_HEADER>(head);
  uint64_t first = h.first();
  write_ptr(k, entry.value, first);  // SLIST_ENTRY.Next
  h.set(entry.value, static_cast<uint16_t>(h.depth() + 1), h.sequence() + 1);
  k.memory().write(head, h);
  return GuestVa{first};
}

// Returns the removed first entry, NULL when the list is empty.
GuestVa ExpInterlockedPopEntrySList(Kernel& k, GuestVa head) {
  auto h = k.memory().read<SLIST_HEADER>(head);
  uint64_t first = h.first();
  if (!first) return GuestVa{};
  h.set(read_ptr(k, first), static_cast<uint16_t>(h.depth() - 1), h.sequence());
  k.memory().write(head, h);
  return GuestVa{first};
}

// Empties the list and returns its former first entry (the chain stays linked).
GuestVa ExpInterlockedFlushSList(Kernel& k, GuestVa head) {
  auto h = k.memory().read<SLIST_HEADER>(head);
  uint64_t first = h.first();
  if (!first) return GuestVa{};
  h.set(0, 0, h.sequence());
  k.memory().write(head, h);
  return GuestVa{first};
}

uint16_t ExQueryDepthSList(Kernel& k, GuestVa head) {
  return k.memory().read<SLIST_HEADER>(head).depth();
}

// RtlFirstEntrySList: the first entry without removing it.
GuestVa FirstEntrySList(Kernel& k, GuestVa head) {
  return GuestVa{k.memory().read<SLIST_HEADER>(head).first()};
}

// --- spin-lock guarded doubly and singly linked lists ---------------------------------------

// Returns the first entry before the insertion, NULL when the list was empty.
GuestVa ExInterlockedInsertHeadList(Kernel& k, GuestVa head, GuestVa entry, GuestVa lock) {
  return under_list_lock(k, lock, "ExInterlockedInsertHeadList", [&] {
    uint64_t first = k.memory().read<LIST_ENTRY>(head).Flink;
    k.memory().write(entry, LIST_ENTRY{first, head.value});
    write_ptr(k, first + offsetof(LIST_ENTRY, Blink), entry.value);
    write_ptr(k, head.value + offsetof(LIST_ENTRY, Flink), entry.value);
    return first == head.value ? GuestVa{} : GuestVa{first};
  });
}

// Returns the last entry before the insertion, NULL when the list was empty.
GuestVa ExInterlockedInsertTailList(Kernel& k, GuestVa head, GuestVa entry, GuestVa lock) {
  return under_list_lock(k, lock, "ExInterlockedInsertTailList", [&] {
    uint64_t last = k.memory().read<LIST_ENTRY>(head).Blink;
    k.memory().write(entry, LIST_ENTRY{head.value, last});
    write_ptr(k, last + offsetof(LIST_ENTRY, Flink), entry.value);
    write_ptr(k, head.value + offsetof(LIST_ENTRY, Blink), entry.value);
    return last == head.value ? GuestVa{} : GuestVa{last};
  });
}

// Returns the removed first entry, NULL when the list is empty.
GuestVa ExInterlockedRemoveHeadList(Kernel& k, GuestVa head, GuestVa lock) {
  return under_list_lock(k, lock, "ExInterlockedRemoveHeadList", [&] {
    uint64_t first = k.memory().read<LIST_ENTRY>(head).Flink;
    if (first == head.value) return GuestVa{};
    uint64_t next = read_ptr(k, first + offsetof(LIST_ENTRY, Flink));
    write_ptr(k, head.value + offsetof(LIST_ENTRY, Flink), next);
    write_ptr(k, next + offsetof(LIST_ENTRY, Blink), head.value);
    return GuestVa{first};
  });
}

// SINGLE_LIST_ENTRY lists: returns the previous first entry.
GuestVa ExInterlockedPushEntryList(Kernel& k, GuestVa head, GuestVa entry, GuestVa lock) {
  return under_list_lock(k, lock, "ExInterlockedPushEntryList", [&] {
    uint64_t first = read_ptr(k, head.value);
    write_ptr(k, entry.value, first);
    write_ptr(k, head.value, entry.value);
    return GuestVa{first};
  });
}

// Returns the removed first entry, NULL when the list is empty.
GuestVa ExInterlockedPopEntryList(Kernel& k, GuestVa head, GuestVa lock) {
  return under_list_lock(k, lock, "ExInterlockedPopEntryList", [&] {
    uint64_t first = read_ptr(k, head.value);
    if (first) write_ptr(k, head.value, read_ptr(k, first));
    return GuestVa{first};
  });
}

// Both return the addend's value before the addition.
int64_t ExInterlockedAddLargeInteger(Kernel& k, GuestVa addend, int64_t increment, GuestVa lock) {
  return under_list_lock(k, lock, "ExInterlockedAddLargeInteger", [&] {
    int64_t old = k.memory().read<int64_t>(addend);
    k.memory().write<int64_t>(addend, static_cast<int64_t>(static_cast<uint64_t>(old) + increment));
    return old;
  });
}

uint32_t ExInterlockedAddUlong(Kernel& k, GuestVa addend, uint32_t increment, GuestVa lock) {
  return under_list_lock(k, lock, "ExInterlockedAddUlong", [&] {
    uint32_t old = k.memory().read<uint32_t>(addend);
    k.memory().write<uint32_t>(addend, old + increment);
    return old;
  });
}

void register_interlocked_exports(Registry& r) {
  KEMU_EXPORT(r, InitializeSListHead);
  KEMU_EXPORT(r, ExpInterlockedPushEntrySList);
  KEMU_EXPORT(r, ExpInterlockedPopEntrySList);
  KEMU_EXPORT(r, ExpInterlockedFlushSList);
  KEMU_EXPORT(r, ExQueryDepthSList);
  KEMU_EXPORT(r, FirstEntrySList);
  KEMU_EXPORT(r, ExInterlockedInsertHeadList);
  KEMU_EXPORT(r, ExInterlockedInsertTailList);
  KEMU_EXPORT(r, ExInterlockedRemoveHeadList);
  KEMU_EXPORT(r, ExInterlockedPushEntryList);
  KEMU_EXPORT(r, ExInterlockedPopEntryList);
  KEMU_EXPORT(r, ExInterlockedAddLargeInteger);
  KEMU_EXPORT(r, ExInterlockedAddUlong);
}

}  // namespace kemu::nt
