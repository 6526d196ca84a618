/*
 * locks.sys - spin locks, queued spin locks, critical and guarded regions,
 * fast and guarded mutexes, executive resources, lookaside lists and
 * interlocked lists. The mutex and resource sections contend for real with a
 * system thread; each side appends a letter to a trace whose order a test pins
 * (README.md lists the exact lines).
 *   default                   every section, then "locks: done" and STATUS_SUCCESS
 *   LOCKS_RECURSIVE_SPINLOCK  acquires the same spin lock twice: on one
 *                             processor that spins forever (the run ends: deadlock)
 */
#include "kemu_sample.h"

KEMU_DRIVER_ENTRY;

static KSPIN_LOCK g_lock;

#if defined(LOCKS_RECURSIVE_SPINLOCK)

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  KIRQL first, second;
  UNREFERENCED_PARAMETER(DriverObject);
  UNREFERENCED_PARAMETER(RegistryPath);
  KeInitializeSpinLock(&g_lock);
  KeAcquireSpinLock(&g_lock, &first);
  DbgPrint("locks: acquiring the same spin lock again\n");
  KeAcquireSpinLock(&g_lock, &second);
  DbgPrint("locks: not reached\n");
  KeReleaseSpinLock(&g_lock, second);
  KeReleaseSpinLock(&g_lock, first);
  return STATUS_SUCCESS;
}

#else

static KDPC g_dpc;
static FAST_MUTEX g_fm;
static KGUARDED_MUTEX g_gm;
static ERESOURCE g_res, g_res2;
static KEVENT g_held, g_go, g_phase2;
static NPAGED_LOOKASIDE_LIST g_la;
static PAGED_LOOKASIDE_LIST g_pla;
static LOOKASIDE_LIST_EX g_lax;
static LONG g_allocate_calls, g_free_calls;
static KIRQL g_thread_irql;
static BOOLEAN g_thread_owner, g_thread_exclusive;

/* One trace per section, appended to by both threads. */
static char g_trace[32];
static int g_len;

static void mark(char c) {
  if (g_len < (int)sizeof(g_trace) - 1) g_trace[g_len++] = c;
  g_trace[g_len] = 0;
}

static void reset_trace(void) {
  g_len = 0;
  g_trace[0] = 0;
}

static VOID NTAPI LocksUnload(PDRIVER_OBJECT driver) {
  UNREFERENCED_PARAMETER(driver);
  DbgPrint("locks: unload\n");
}

static VOID NTAPI MarkDpc(PKDPC dpc, PVOID context, PVOID a1, PVOID a2) {
  UNREFERENCED_PARAMETER(dpc);
  UNREFERENCED_PARAMETER(context);
  UNREFERENCED_PARAMETER(a1);
  UNREFERENCED_PARAMETER(a2);
  mark('d');
}

/* Starts `routine` in a system thread and returns its referenced thread object. */
static PVOID start_thread(PKSTART_ROUTINE routine) {
  HANDLE handle;
  PVOID thread = NULL;
  OBJECT_ATTRIBUTES attributes;
  InitializeObjectAttributes(&attributes, NULL, OBJ_KERNEL_HANDLE, NULL, NULL);
  if (!NT_SUCCESS(PsCreateSystemThread(&handle, THREAD_ALL_ACCESS, &attributes, NULL, NULL, routine, NULL)))
    return NULL;
  ObReferenceObjectByHandle(handle, SYNCHRONIZE, *(POBJECT_TYPE*)PsThreadType, KernelMode, &thread, NULL);
  ZwClose(handle);
  return thread;
}

static void join_thread(PVOID thread) {
  KeWaitForSingleObject(thread, Executive, KernelMode, FALSE, NULL);
  ObDereferenceObject(thread);
}

static void delay_ms(LONG ms) {
  LARGE_INTEGER interval;
  interval.QuadPart = -10000LL * ms;
  KeDelayExecutionThread(KernelMode, FALSE, &interval);
}

/* ---------------------------------------------------------------- spin locks */

static void spin_locks(void) {
  KIRQL old, inside, after, raised, dpc_old, dpc_inside, dpc_after;
  int held, freed, try_held, try_free, test_held, test_free;
  KLOCK_QUEUE_HANDLE handle, handle2;
  int q_held, q_try, q_free, q2_held, q2_free;
  KIRQL q_irql, q_after, q2_irql;

  KeInitializeSpinLock(&g_lock);
  KeInitializeDpc(&g_dpc, MarkDpc, NULL);
  reset_trace();
  KeAcquireSpinLock(&g_lock, &old);
  inside = KeGetCurrentIrql();
  held = *(volatile KSPIN_LOCK*)&g_lock != 0;
  /* A DPC queued at DISPATCH_LEVEL runs when the IRQL drops on release. */
  mark('q');
  KeInsertQueueDpc(&g_dpc, NULL, NULL);
  mark('h');
  KeReleaseSpinLock(&g_lock, old);
  mark('x');
  after = KeGetCurrentIrql();
  freed = *(volatile KSPIN_LOCK*)&g_lock == 0;
  DbgPrint("locks: spin lock irql %u (old %u) held %d, released irql %u free %d, dpc trace %s\n", inside, old,
           held, after, freed, g_trace);

  raised = KeRaiseIrqlToDpcLevel();
  KeAcquireSpinLockAtDpcLevel(&g_lock);
  try_held = KeTryToAcquireSpinLockAtDpcLevel(&g_lock);
  test_held = KeTestSpinLock(&g_lock);
  KeReleaseSpinLockFromDpcLevel(&g_lock);
  try_free = KeTryToAcquireSpinLockAtDpcLevel(&g_lock);
  KeReleaseSpinLockFromDpcLevel(&g_lock);
  test_free = KeTestSpinLock(&g_lock);
  inside = KeGetCurrentIrql();
  KeLowerIrql(raised);
  dpc_old = KeAcquireSpinLockForDpc(&g_lock);
  dpc_inside = KeGetCurrentIrql();
  KeReleaseSpinLockForDpc(&g_lock, dpc_old);
  dpc_after = KeGetCurrentIrql();
  DbgPrint("locks: at dpc level irql %u try held %d try free %d test held %d test free %d, "
           "for dpc irql %u (old %u) then %u\n",
           inside, try_held, try_free, test_held, test_free, dpc_inside, dpc_old, dpc_after);

  KeAcquireInStackQueuedSpinLock(&g_lock, &handle);
  q_irql = KeGetCurrentIrql();
  q_held = *(volatile KSPIN_LOCK*)&g_lock != 0;
  q_try = KeTryToAcquireSpinLockAtDpcLevel(&g_lock);
  KeReleaseInStackQueuedSpinLock(&handle);
  q_after = KeGetCurrentIrql();
  q_free = *(volatile KSPIN_LOCK*)&g_lock == 0;
  raised = KeRaiseIrqlToDpcLevel();
  KeAcquireInStackQueuedSpinLockAtDpcLevel(&g_lock, &handle2);
  q2_held = *(volatile KSPIN_LOCK*)&g_lock != 0;
  KeReleaseInStackQueuedSpinLockFromDpcLevel(&handle2);
  q2_irql = KeGetCurrentIrql();
  q2_free = *(volatile KSPIN_LOCK*)&g_lock == 0;
  KeLowerIrql(raised);
  DbgPrint("locks: queued spin lock irql %u held %d try %d, released irql %u free %d; "
           "at dpc level held %d irql %u free %d\n",
           q_irql, q_held, q_try, q_after, q_free, q2_held, q2_irql, q2_free);
}

/* ---------------------------------------------------------------- regions */

static void regions(void) {
  BOOLEAN before, critical, critical_all, guarded_all, left_guarded, left_critical, apc_all;
  KIRQL old;
  before = KeAreApcsDisabled();
  KeEnterCriticalRegion();
  critical = KeAreApcsDisabled();
  critical_all = KeAreAllApcsDisabled();
  KeEnterGuardedRegion();
  guarded_all = KeAreAllApcsDisabled();
  KeLeaveGuardedRegion();
  left_guarded = KeAreAllApcsDisabled();
  KeLeaveCriticalRegion();
  left_critical = KeAreApcsDisabled();
  KeRaiseIrql(APC_LEVEL, &old);
  apc_all = KeAreAllApcsDisabled();
  KeLowerIrql(old);
  DbgPrint("locks: apcs disabled %d, critical %d (all %d), guarded all %d, left %d %d, at apc level all %d\n",
           before, critical, critical_all, guarded_all, left_guarded, left_critical, apc_all);
}

/* ---------------------------------------------------------------- fast mutex */

static VOID NTAPI FastMutexThread(PVOID context) {
  UNREFERENCED_PARAMETER(context);
  ExAcquireFastMutex(&g_fm);
  g_thread_irql = KeGetCurrentIrql();
  g_thread_owner = g_fm.Owner == (PVOID)KeGetCurrentThread();
  mark('A');
  KeSetEvent(&g_held, IO_NO_INCREMENT, FALSE);
  KeWaitForSingleObject(&g_go, Executive, KernelMode, FALSE, NULL); /* holding the mutex */
  mark('R');
  ExReleaseFastMutex(&g_fm);
  KeWaitForSingleObject(&g_phase2, Executive, KernelMode, FALSE, NULL);
  mark('w');
  ExAcquireFastMutex(&g_fm); /* DriverEntry holds it: this thread waits */
  mark('T');
  ExReleaseFastMutex(&g_fm);
  PsTerminateSystemThread(STATUS_SUCCESS);
}

static void fast_mutex(void) {
  PVOID thread;
  BOOLEAN try_held;
  KIRQL inside, after;
  LONG contended_count;
  ExInitializeFastMutex(&g_fm);
  KeInitializeEvent(&g_held, SynchronizationEvent, FALSE);
  KeInitializeEvent(&g_go, SynchronizationEvent, FALSE);
  KeInitializeEvent(&g_phase2, SynchronizationEvent, FALSE);
  reset_trace();
  thread = start_thread(FastMutexThread);
  if (!thread) return;
  KeWaitForSingleObject(&g_held, Executive, KernelMode, FALSE, NULL);
  mark('W');
  try_held = ExTryToAcquireFastMutex(&g_fm);
  KeSetEvent(&g_go, IO_NO_INCREMENT, FALSE);
  ExAcquireFastMutex(&g_fm); /* the thread holds it: DriverEntry waits */
  mark('G');
  inside = KeGetCurrentIrql();
  KeSetEvent(&g_phase2, IO_NO_INCREMENT, FALSE);
  delay_ms(10); /* the thread runs and blocks on the mutex */
  mark('D');
  contended_count = g_fm.Count;
  ExReleaseFastMutex(&g_fm);
  after = KeGetCurrentIrql();
  join_thread(thread);
  mark('J');
  DbgPrint("locks: fast mutex trace %s, thread irql %u owner %d, try while held %d, irql %u then %u, "
           "count while contended %ld\n",
           g_trace, g_thread_irql, g_thread_owner, try_held, inside, after, contended_count);
}

/* ---------------------------------------------------------------- guarded mutex */

static void guarded_mutex(void) {
  BOOLEAN all, try_held, after, try_free;
  KIRQL irql;
  KeInitializeGuardedMutex(&g_gm);
  KeAcquireGuardedMutex(&g_gm);
  all = KeAreAllApcsDisabled();
  irql = KeGetCurrentIrql();
  try_held = KeTryToAcquireGuardedMutex(&g_gm);
  KeReleaseGuardedMutex(&g_gm);
  after = KeAreAllApcsDisabled();
  try_free = KeTryToAcquireGuardedMutex(&g_gm);
  if (try_free) KeReleaseGuardedMutex(&g_gm);
  KeEnterGuardedRegion();
  KeAcquireGuardedMutexUnsafe(&g_gm);
  KeReleaseGuardedMutexUnsafe(&g_gm);
  KeLeaveGuardedRegion();
  KeEnterCriticalRegion();
  ExAcquireFastMutexUnsafe(&g_fm);
  ExReleaseFastMutexUnsafe(&g_fm);
  KeLeaveCriticalRegion();
  DbgPrint("locks: guarded mutex all apcs disabled %d irql %u, try held %d, after %d, try free %d, "
           "apcs after %d\n",
           all, irql, try_held, after, try_free, KeAreApcsDisabled());
}

/* ---------------------------------------------------------------- resources */

static VOID NTAPI ResourceThread(PVOID context) {
  UNREFERENCED_PARAMETER(context);
  KeEnterCriticalRegion();
  ExAcquireResourceExclusiveLite(&g_res, TRUE);
  mark('x');
  KeSetEvent(&g_held, IO_NO_INCREMENT, FALSE);
  KeWaitForSingleObject(&g_go, Executive, KernelMode, FALSE, NULL); /* holding it exclusively */
  mark('r');
  ExReleaseResourceLite(&g_res);
  KeLeaveCriticalRegion();
  KeWaitForSingleObject(&g_phase2, Executive, KernelMode, FALSE, NULL);
  KeEnterCriticalRegion();
  mark('w');
  ExAcquireResourceExclusiveLite(&g_res, TRUE); /* DriverEntry shares it: this thread waits */
  mark('X');
  g_thread_exclusive = ExIsResourceAcquiredExclusiveLite(&g_res);
  ExReleaseResourceLite(&g_res);
  KeLeaveCriticalRegion();
  PsTerminateSystemThread(STATUS_SUCCESS);
}

static void resources(void) {
  PVOID thread;
  BOOLEAN try_shared, exclusive;
  ULONG shared_count, exclusive_waiters, shared_waiters;
  ExInitializeResourceLite(&g_res);
  KeInitializeEvent(&g_held, SynchronizationEvent, FALSE);
  KeInitializeEvent(&g_go, SynchronizationEvent, FALSE);
  KeInitializeEvent(&g_phase2, SynchronizationEvent, FALSE);
  reset_trace();
  thread = start_thread(ResourceThread);
  if (!thread) return;
  KeWaitForSingleObject(&g_held, Executive, KernelMode, FALSE, NULL);
  mark('W');
  KeEnterCriticalRegion();
  try_shared = ExAcquireResourceSharedLite(&g_res, FALSE);
  exclusive = ExIsResourceAcquiredExclusiveLite(&g_res);
  KeSetEvent(&g_go, IO_NO_INCREMENT, FALSE);
  ExAcquireResourceSharedLite(&g_res, TRUE); /* the thread owns it exclusively: DriverEntry waits */
  mark('S');
  shared_count = ExIsResourceAcquiredSharedLite(&g_res);
  KeSetEvent(&g_phase2, IO_NO_INCREMENT, FALSE);
  delay_ms(10); /* the thread runs and blocks on the resource */
  mark('B');
  exclusive_waiters = ExGetExclusiveWaiterCount(&g_res);
  shared_waiters = ExGetSharedWaiterCount(&g_res);
  ExReleaseResourceLite(&g_res); /* hands it to the exclusive waiter */
  KeLeaveCriticalRegion();
  join_thread(thread);
  mark('J');
  ExDeleteResourceLite(&g_res);
  DbgPrint("locks: resource trace %s, try shared %d, exclusive %d, shared count %lu, "
           "exclusive waiters %lu shared waiters %lu, thread exclusive %d\n",
           g_trace, try_shared, exclusive, shared_count, exclusive_waiters, shared_waiters, g_thread_exclusive);
}

static void resource_recursion(void) {
  ULONG twice, thrice, converted_shared;
  BOOLEAN converted_exclusive, starve, critical, exclusive, after;
  NTSTATUS deleted;
  ExInitializeResourceLite(&g_res2);
  KeEnterCriticalRegion();
  ExAcquireResourceExclusiveLite(&g_res2, TRUE);
  ExAcquireResourceExclusiveLite(&g_res2, TRUE);
  twice = ExIsResourceAcquiredSharedLite(&g_res2);
  ExAcquireResourceSharedLite(&g_res2, TRUE); /* the exclusive owner: recursion */
  thrice = ExIsResourceAcquiredSharedLite(&g_res2);
  ExConvertExclusiveToSharedLite(&g_res2);
  converted_exclusive = ExIsResourceAcquiredExclusiveLite(&g_res2);
  converted_shared = ExIsResourceAcquiredSharedLite(&g_res2);
  starve = ExAcquireSharedStarveExclusive(&g_res2, FALSE);
  ExReleaseResourceLite(&g_res2);
  ExReleaseResourceLite(&g_res2);
  ExReleaseResourceLite(&g_res2);
  ExReleaseResourceForThreadLite(&g_res2, ExGetCurrentResourceThread());
  KeLeaveCriticalRegion();
  ExEnterCriticalRegionAndAcquireResourceExclusive(&g_res2);
  critical = KeAreApcsDisabled();
  exclusive = ExIsResourceAcquiredExclusiveLite(&g_res2);
  ExReleaseResourceAndLeaveCriticalRegion(&g_res2);
  after = KeAreApcsDisabled() || ExIsResourceAcquiredSharedLite(&g_res2) != 0;
  deleted = ExDeleteResourceLite(&g_res2);
  DbgPrint("locks: resource recursion %lu then %lu, converted exclusive %d shared %lu, starve %d, "
           "critical region apcs %d exclusive %d, after %d, delete 0x%08x\n",
           twice, thrice, converted_exclusive, converted_shared, starve, critical, exclusive, after, deleted);
}

/* ---------------------------------------------------------------- lookaside lists */

#ifndef POOL_NX_ALLOCATION
#define POOL_NX_ALLOCATION 512 /* wdm.h (Windows 8 and later); mingw lacks it */
#endif

static PVOID NTAPI CountingAllocate(POOL_TYPE type, SIZE_T bytes, ULONG tag) {
  InterlockedIncrement(&g_allocate_calls);
  return ExAllocatePoolWithTag(type, bytes, tag);
}

static VOID NTAPI CountingFree(PVOID buffer) {
  InterlockedIncrement(&g_free_calls);
  ExFreePoolWithTag(buffer, 'pLmK');
}

static void lookaside(void) {
  PVOID p, q, entries[5];
  USHORT depth, depth_after_flush;
  LONG frees_before_delete;
  NTSTATUS ex_status;
  int i, same, same_ex;

  ExInitializeNPagedLookasideList(&g_la, NULL, NULL, POOL_NX_ALLOCATION, 48, 'aLmK', 0);
  p = ExAllocateFromNPagedLookasideList(&g_la); /* empty: from pool */
  ExFreeToNPagedLookasideList(&g_la, p);        /* kept in the list */
  depth = ExQueryDepthSList(&g_la.L.ListHead);
  q = ExAllocateFromNPagedLookasideList(&g_la); /* the same block back */
  same = p != NULL && p == q;
  ExFreeToNPagedLookasideList(&g_la, q);
  DbgPrint("locks: lookaside same entry %d, depth %u, allocates %lu misses %lu, type %lu, depth limit %u\n",
           same, depth, g_la.L.TotalAllocates, g_la.L.AllocateMisses, (ULONG)g_la.L.Type, g_la.L.Depth);
  ExDeleteNPagedLookasideList(&g_la);

  ExInitializePagedLookasideList(&g_pla, CountingAllocate, CountingFree, 0, 32, 'pLmK', 0);
  for (i = 0; i < 5; ++i) entries[i] = ExAllocateFromPagedLookasideList(&g_pla);
  for (i = 0; i < 5; ++i) ExFreeToPagedLookasideList(&g_pla, entries[i]); /* the fifth overflows the depth */
  frees_before_delete = g_free_calls;
  ExDeletePagedLookasideList(&g_pla);

  ex_status = ExInitializeLookasideListEx(&g_lax, NULL, NULL, NonPagedPoolNx, 0, 64, 'xLmK', 0);
  p = ExAllocateFromLookasideListEx(&g_lax);
  ExFreeToLookasideListEx(&g_lax, p);
  q = ExAllocateFromLookasideListEx(&g_lax);
  same_ex = p != NULL && p == q;
  ExFreeToLookasideListEx(&g_lax, q);
  ExFlushLookasideListEx(&g_lax);
  depth_after_flush = ExQueryDepthSList(&g_lax.L.ListHead);
  ExDeleteLookasideListEx(&g_lax);
  DbgPrint("locks: paged lookaside allocate calls %ld free calls %ld then %ld; lookaside ex 0x%08x same entry %d "
           "depth after flush %u\n",
           g_allocate_calls, frees_before_delete, g_free_calls, ex_status, same_ex, depth_after_flush);
}

/* ---------------------------------------------------------------- interlocked lists */

struct item {
  LIST_ENTRY link;
  char name;
};

static struct item g_a = {{0}, 'a'}, g_b = {{0}, 'b'}, g_c = {{0}, 'c'};
static LIST_ENTRY g_list;
static KSPIN_LOCK g_list_lock;
static SINGLE_LIST_ENTRY g_single, g_s1, g_s2;
static SLIST_HEADER g_slist;
static SLIST_ENTRY g_e1, g_e2;

static char name_of(PLIST_ENTRY e) { return e ? CONTAINING_RECORD(e, struct item, link)->name : '-'; }

static char single_name(PVOID e) {
  if (e == &g_s1 || e == &g_e1) return '1';
  if (e == &g_s2 || e == &g_e2) return '2';
  return e ? '?' : '-';
}

static void interlocked_lists(void) {
  char order[4];
  char ins[3], rem[4], push[2], pop[3], spush[2], spop[2];
  PLIST_ENTRY e;
  int n = 0;
  ULONG value = 5, old_value;
  LARGE_INTEGER large, increment, old_large;
  USHORT depth, depth_after;

  InitializeListHead(&g_list);
  KeInitializeSpinLock(&g_list_lock);
  ins[0] = name_of(ExInterlockedInsertTailList(&g_list, &g_a.link, &g_list_lock));
  ins[1] = name_of(ExInterlockedInsertTailList(&g_list, &g_b.link, &g_list_lock));
  ins[2] = name_of(ExInterlockedInsertHeadList(&g_list, &g_c.link, &g_list_lock));
  for (e = g_list.Flink; e != &g_list && n < 3; e = e->Flink) order[n++] = name_of(e);
  order[n] = 0;
  for (n = 0; n < 4; ++n) rem[n] = name_of(ExInterlockedRemoveHeadList(&g_list, &g_list_lock));

  g_single.Next = NULL;
  push[0] = single_name(ExInterlockedPushEntryList(&g_single, &g_s1, &g_list_lock));
  push[1] = single_name(ExInterlockedPushEntryList(&g_single, &g_s2, &g_list_lock));
  for (n = 0; n < 3; ++n) pop[n] = single_name(ExInterlockedPopEntryList(&g_single, &g_list_lock));

  old_value = ExInterlockedAddUlong(&value, 7, &g_list_lock);
  large.QuadPart = 0xFFFFFFFFLL;
  increment.QuadPart = 1;
  old_large = ExInterlockedAddLargeInteger(&large, increment, &g_list_lock);

  InitializeSListHead(&g_slist);
  spush[0] = single_name(InterlockedPushEntrySList(&g_slist, &g_e1));
  spush[1] = single_name(InterlockedPushEntrySList(&g_slist, &g_e2));
  depth = ExQueryDepthSList(&g_slist);
  spop[0] = single_name(InterlockedPopEntrySList(&g_slist));
  spop[1] = single_name(InterlockedFlushSList(&g_slist));
  depth_after = ExQueryDepthSList(&g_slist);

  DbgPrint("locks: lists insert %c %c %c, order %s, remove %c %c %c %c, push %c %c pop %c %c %c, "
           "ulong %lu->%lu, large 0x%llx->0x%llx, lock free %d, slist push %c %c depth %u pop %c flush %c "
           "depth %u pop %c\n",
           ins[0], ins[1], ins[2], order, rem[0], rem[1], rem[2], rem[3], push[0], push[1], pop[0], pop[1],
           pop[2], old_value, value, old_large.QuadPart, large.QuadPart, g_list_lock == 0, spush[0], spush[1],
           depth, spop[0], spop[1], depth_after, single_name(InterlockedPopEntrySList(&g_slist)));
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  UNREFERENCED_PARAMETER(RegistryPath);
  DriverObject->DriverUnload = LocksUnload;
  spin_locks();
  regions();
  fast_mutex();
  guarded_mutex();
  resources();
  resource_recursion();
  lookaside();
  interlocked_lists();
  DbgPrint("locks: done\n");
  return STATUS_SUCCESS;
}

#endif
