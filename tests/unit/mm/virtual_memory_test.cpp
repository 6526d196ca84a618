// Nt/ZwAllocateVirtualMemory, Nt/ZwFreeVirtualMemory, ZwProtectVirtualMemory
// and ZwQueryVirtualMemory on a client process: placement and rounding,
// reserve/commit/decommit/release states, MEMORY_BASIC_INFORMATION, and
// every failure status in Windows' order.
#include <vector>

#include "unit/mm/mm_fixture.h"

namespace kemu::nt::test {
namespace {

using namespace mm;

class VirtualMemory : public MmFixture {};

// --- allocation ---------------------------------------------------------------------
TEST_F(VirtualMemory, ABlindCommitIsPlacedAtTheLowest64KAddressRoundedToPagesAndZeroFilled) {
  as_client();
  uint64_t base = 0, size = 0x1801;
  ASSERT_EQ(allocate(&base, &size, kMemCommit | kMemReserve, kPageReadWrite), STATUS_SUCCESS);
  EXPECT_EQ(base, 0x10000u);
  EXPECT_EQ(size, 0x2000u);
  const emu::Region* r = mem().find(GuestVa{base});
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->kind, emu::RegionKind::UserMemory);
  EXPECT_EQ(r->owner, client_pid_);
  EXPECT_EQ(mem().read<uint64_t>(GuestVa{base + 0x1FF8}), 0u);
  EXPECT_TRUE(client_can(base, Prot::Write));
  // The next one goes to the next 64 KiB boundary.
  uint64_t second = 0, second_size = 0x1000;
  ASSERT_EQ(allocate(&second, &second_size, kMemCommit, kPageReadOnly), STATUS_SUCCESS);
  EXPECT_EQ(second, 0x20000u);
  EXPECT_TRUE(client_can(second, Prot::Read));
  EXPECT_FALSE(client_can(second, Prot::Write));
}

TEST_F(VirtualMemory, QueryDescribesACommittedAllocation) {
  as_client();
  uint64_t base = 0, size = 0x3000;
  ASSERT_EQ(allocate(&base, &size, kMemCommit | kMemReserve, kPageExecuteReadWrite),
            STATUS_SUCCESS);
  layout::MEMORY_BASIC_INFORMATION info = query(base + 0x1234);
  EXPECT_EQ(info.BaseAddress, base + 0x1000);
  EXPECT_EQ(info.AllocationBase, base);
  EXPECT_EQ(info.AllocationProtect, kPageExecuteReadWrite);
  EXPECT_EQ(info.PartitionId, 0u);
  EXPECT_EQ(info.RegionSize, 0x2000u);
  EXPECT_EQ(info.State, kMemCommit);
  EXPECT_EQ(info.Protect, kPageExecuteReadWrite);
  EXPECT_EQ(info.Type, kMemPrivate);
}

TEST_F(VirtualMemory, AReservationIsNoAccessUntilCommittedAndACommitOfAnyBytesCommitsWholePages) {
  as_client();
  uint64_t base = 0, size = 0x10000;
  ASSERT_EQ(allocate(&base, &size, kMemReserve, kPageReadWrite), STATUS_SUCCESS);
  EXPECT_EQ(size, 0x10000u);
  layout::MEMORY_BASIC_INFORMATION info = query(base);
  EXPECT_EQ(info.State, kMemReserve);
  EXPECT_EQ(info.Protect, 0u);
  EXPECT_EQ(info.AllocationProtect, kPageReadWrite);
  EXPECT_EQ(info.RegionSize, 0x10000u);
  EXPECT_FALSE(client_can(base, Prot::Read));

  // Two bytes across a page boundary commit both pages; the base rounds down to a page.
  uint64_t at = base + 0x2FFF, two = 2;
  ASSERT_EQ(allocate(&at, &two, kMemCommit, kPageReadOnly), STATUS_SUCCESS);
  EXPECT_EQ(at, base + 0x2000);
  EXPECT_EQ(two, 0x2000u);
  EXPECT_TRUE(client_can(base + 0x2000, Prot::Read));
  EXPECT_TRUE(client_can(base + 0x3FFF, Prot::Read));
  EXPECT_FALSE(client_can(base + 0x4000, Prot::Read));
  info = query(base);
  EXPECT_EQ(info.State, kMemReserve);
  EXPECT_EQ(info.RegionSize, 0x2000u);
  info = query(base + 0x2000);
  EXPECT_EQ(info.State, kMemCommit);
  EXPECT_EQ(info.Protect, kPageReadOnly);
  EXPECT_EQ(info.AllocationBase, base);
  EXPECT_EQ(info.RegionSize, 0x2000u);
  info = query(base + 0x4000);
  EXPECT_EQ(info.State, kMemReserve);
  EXPECT_EQ(info.RegionSize, 0xC000u);
}

TEST_F(VirtualMemory, ARequestedBaseIsRoundedDownTo64KAndTheSizeCoversTheLastPage) {
  as_client();
  uint64_t base = 0x60025000, size = 200;
  ASSERT_EQ(allocate(&base, &size, kMemCommit | kMemReserve, kPageReadWrite), STATUS_SUCCESS);
  EXPECT_EQ(base, 0x60020000u);
  EXPECT_EQ(size, 0x6000u);
  EXPECT_EQ(query(0x60020000).RegionSize, 0x6000u);
  // The same place again conflicts.
  uint64_t again = 0x60021000, one = 1;
  EXPECT_EQ(allocate(&again, &one, kMemReserve, kPageReadWrite), STATUS_CONFLICTING_ADDRESSES);
}

TEST_F(VirtualMemory, TopDownTakesTheHighest64KBlockBelowTheLastVadAddress) {
  as_client();
  uint64_t base = 0, size = 0x10000;
  ASSERT_EQ(allocate(&base, &size, kMemReserve | kMemTopDown, kPageReadWrite), STATUS_SUCCESS);
  EXPECT_EQ(base, 0x7FFF'FFFD'0000u);
  uint64_t next = 0, next_size = 0x1000;
  ASSERT_EQ(allocate(&next, &next_size, kMemCommit | kMemTopDown, kPageReadWrite), STATUS_SUCCESS);
  EXPECT_EQ(next, 0x7FFF'FFFC'0000u);
}

TEST_F(VirtualMemory, ZeroBitsIsACountUpTo21OrAMask) {
  as_client();
  uint64_t base = 0, size = 0x1000;
  EXPECT_EQ(allocate(&base, &size, kMemCommit, kPageReadWrite, 22), STATUS_INVALID_PARAMETER_3);
  EXPECT_EQ(allocate(&base, &size, kMemCommit, kPageReadWrite, 31), STATUS_INVALID_PARAMETER_3);
  EXPECT_EQ(allocate(&base, &size, kMemCommit, kPageReadWrite, 33), STATUS_INVALID_PARAMETER_3);
  // 21 high bits of 32: below 0x800, where nothing can be allocated.
  EXPECT_EQ(allocate(&base, &size, kMemCommit, kPageReadWrite, 21), STATUS_NO_MEMORY);
  base = 0;
  ASSERT_EQ(allocate(&base, &size, kMemCommit | kMemTopDown, kPageReadWrite, 1), STATUS_SUCCESS);
  EXPECT_EQ(base, 0x7FFF'0000u);  // the highest place below 2 GiB
  base = 0;
  ASSERT_EQ(allocate(&base, &size, kMemCommit | kMemTopDown, kPageReadWrite, 0x3FFF'FFFF),
            STATUS_SUCCESS);
  EXPECT_EQ(base, 0x3FFF'0000u);  // a mask: below 1 GiB
  EXPECT_EQ(zero_bits_limit(0), kHighestVadAddress);
  EXPECT_EQ(zero_bits_limit(3), 0x1FFF'FFFFu);
  EXPECT_EQ(zero_bits_limit(32), 0x3Fu);
  EXPECT_EQ(zero_bits_limit(0xFFFF), 0xFFFFu);
}

TEST_F(VirtualMemory, AllocationTypesAreCheckedBeforeAnythingIsRead) {
  as_client();
  uint64_t base = 0, size = 0x1000;
  EXPECT_EQ(allocate(&base, &size, 0, kPageReadWrite), STATUS_INVALID_PARAMETER_5);
  EXPECT_EQ(allocate(&base, &size, kMemTopDown, kPageReadWrite), STATUS_INVALID_PARAMETER_5);
  EXPECT_EQ(allocate(&base, &size, kMemCommit | kMemReset, kPageReadWrite),
            STATUS_INVALID_PARAMETER_5);
  EXPECT_EQ(allocate(&base, &size, kMemCommit | 0x40, kPageReadWrite), STATUS_INVALID_PARAMETER_5);
  EXPECT_EQ(allocate(&base, &size, kMemPhysical | kMemCommit, kPageReadWrite),
            STATUS_INVALID_PARAMETER_5);
  EXPECT_EQ(allocate(&base, &size, kMemPhysical | kMemReserve, kPageReadOnly),
            STATUS_INVALID_PARAMETER_6);
  EXPECT_EQ(allocate(&base, &size, kMemWriteWatch | kMemCommit, kPageReadWrite),
            STATUS_INVALID_PARAMETER_5);
  EXPECT_EQ(allocate(&base, &size, kMemLargePages | kMemReserve, kPageReadWrite),
            STATUS_INVALID_PARAMETER_5);
  // ZeroBits is checked first.
  EXPECT_EQ(allocate(&base, &size, 0, kPageReadWrite, 25), STATUS_INVALID_PARAMETER_3);
  EXPECT_EQ(base, 0u) << "nothing written back on failure";
}

TEST_F(VirtualMemory, ProtectionsFollowMiMakeProtectionMask) {
  as_client();
  uint64_t base = 0, size = 0x1000;
  EXPECT_EQ(allocate(&base, &size, kMemCommit, 0), STATUS_INVALID_PAGE_PROTECTION);
  EXPECT_EQ(allocate(&base, &size, kMemCommit, 0xFFFFFFFF), STATUS_INVALID_PAGE_PROTECTION);
  EXPECT_EQ(allocate(&base, &size, kMemCommit, kPageReadOnly | kPageReadWrite),
            STATUS_INVALID_PAGE_PROTECTION);
  EXPECT_EQ(allocate(&base, &size, kMemCommit, kPageReadOnly | kPageExecute),
            STATUS_INVALID_PAGE_PROTECTION);
  EXPECT_EQ(allocate(&base, &size, kMemCommit, kPageNoAccess | kPageGuard),
            STATUS_INVALID_PAGE_PROTECTION);
  EXPECT_EQ(allocate(&base, &size, kMemCommit, kPageNoAccess | kPageWriteCombine),
            STATUS_INVALID_PAGE_PROTECTION);
  EXPECT_EQ(allocate(&base, &size, kMemCommit, kPageReadWrite | kPageGuard | kPageNoCache),
            STATUS_INVALID_PAGE_PROTECTION);
  // Copy-on-write is for views only.
  EXPECT_EQ(allocate(&base, &size, kMemReserve, kPageWriteCopy), STATUS_INVALID_PAGE_PROTECTION);
  EXPECT_EQ(allocate(&base, &size, kMemReserve, kPageExecuteWriteCopy),
            STATUS_INVALID_PAGE_PROTECTION);
  ASSERT_EQ(allocate(&base, &size, kMemCommit | kMemReserve, kPageReadOnly | kPageWriteCombine),
            STATUS_SUCCESS);
  EXPECT_EQ(query(base).Protect, kPageReadOnly | kPageWriteCombine);
  EXPECT_TRUE(valid_protection(kPageExecuteRead | kPageNoCache));
  EXPECT_FALSE(valid_protection(0x800 | kPageReadWrite));
}

TEST_F(VirtualMemory, TheRangeMustLieBelowTheLastVadAddressAndNotBeEmpty) {
  as_client();
  uint64_t base = 0xFFFF'8000'0000'00C8ull, size = 0x1000;
  EXPECT_EQ(allocate(&base, &size, kMemCommit | kMemReserve, kPageReadWrite),
            STATUS_INVALID_PARAMETER_2);
  base = kHighestVadAddress + 1;
  EXPECT_EQ(allocate(&base, &size, kMemReserve, kPageReadWrite), STATUS_INVALID_PARAMETER_2);
  base = 0;
  size = 0;
  EXPECT_EQ(allocate(&base, &size, kMemCommit, kPageReadWrite), STATUS_INVALID_PARAMETER_4);
  size = ~0ull;
  EXPECT_EQ(allocate(&base, &size, kMemCommit, kPageReadWrite), STATUS_INVALID_PARAMETER_4);
  base = 0x7FFF'FFFD'0000;
  size = 0x10001;
  EXPECT_EQ(allocate(&base, &size, kMemReserve, kPageReadWrite), STATUS_INVALID_PARAMETER_4);
  // The first 64 KiB are never allocated.
  base = 0x5000;
  size = 0x1000;
  EXPECT_EQ(allocate(&base, &size, kMemReserve, kPageReadWrite), STATUS_INVALID_PARAMETER_2);
  // Committing where nothing is reserved.
  base = 0x4000'0000;
  EXPECT_EQ(allocate(&base, &size, kMemCommit, kPageReadWrite), STATUS_CONFLICTING_ADDRESSES);
}

TEST_F(VirtualMemory, AProcessHandleNeedsProcessVmOperationOnlyFromUserMode) {
  as_client();
  ob::ObjectId client_object = kernel_.ps().process(client_pid_)->object;
  uint64_t query_only =
      kernel_.ob().create_handle(client_object, 0x0400 /* PROCESS_QUERY_INFORMATION */, 0);
  // A client's NtAllocateVirtualMemory with user variables.
  mem().write<uint64_t>(kUserVars, 0);
  mem().write<uint64_t>(kUserVars + 8, 0x1000);
  EXPECT_EQ(NtAllocateVirtualMemory(kernel_, query_only, kUserVars, 0, kUserVars + 8, kMemCommit,
                                    kPageReadWrite),
            STATUS_ACCESS_DENIED);
  EXPECT_EQ(
      NtAllocateVirtualMemory(kernel_, 0, kUserVars, 0, kUserVars + 8, kMemCommit, kPageReadWrite),
      STATUS_INVALID_HANDLE);
  // Kernel variables from UserMode: the probe refuses them.
  EXPECT_EQ(NtAllocateVirtualMemory(kernel_, kCurrentProcess, kBase, 0, kSize, kMemCommit,
                                    kPageReadWrite),
            STATUS_ACCESS_VIOLATION);
  ASSERT_EQ(NtAllocateVirtualMemory(kernel_, kCurrentProcess, kUserVars, 0, kUserVars + 8,
                                    kMemCommit, kPageReadWrite),
            STATUS_SUCCESS);
  EXPECT_EQ(mem().read<uint64_t>(kUserVars), 0x10000u);
  // ZwXxx runs with KernelMode: the handle's access is not checked.
  uint64_t base = 0, size = 0x1000;
  ASSERT_EQ(allocate(&base, &size, kMemCommit, kPageReadWrite, 0, query_only), STATUS_SUCCESS);
  EXPECT_EQ(base, 0x20000u);
}

TEST_F(VirtualMemory, AnotherProcessesMemoryIsAllocatedInItsUserHalfAndHiddenFromTheCurrentOne) {
  // DriverEntry-like: the System process is current; the client is reached by handle.
  ob::ObjectId client_object = kernel_.ps().process(client_pid_)->object;
  uint64_t handle =
      kernel_.ob().create_handle(client_object, 0x1FFFFF, 0x200 /* OBJ_KERNEL_HANDLE */);
  uint64_t base = 0, size = 0x1000;
  ASSERT_EQ(allocate(&base, &size, kMemCommit, kPageReadWrite, 0, handle), STATUS_SUCCESS);
  const emu::Region* r = mem().find(GuestVa{base});
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->owner, client_pid_);
  EXPECT_TRUE(r->hidden) << "not the current process's user half";
  EXPECT_FALSE(mem().accessible(GuestVa{base}, 1, Prot::Read));
  EXPECT_EQ(query(base, handle).State, kMemCommit);
  EXPECT_EQ(query(base).State, kMemFree) << "the System process has nothing there";
  as_client();
  EXPECT_TRUE(mem().accessible(GuestVa{base}, 1, Prot::Write));
}

TEST_F(VirtualMemory, ResetKeepsTheContentsOfPagesInsideOneAllocation) {
  as_client();
  uint64_t base = 0, size = 0x2000;
  ASSERT_EQ(allocate(&base, &size, kMemCommit | kMemReserve, kPageReadWrite), STATUS_SUCCESS);
  mem().write<uint32_t>(GuestVa{base + 0x1000}, 0xABCD);
  uint64_t at = base + 0x1010, some = 0x10;
  ASSERT_EQ(allocate(&at, &some, kMemReset, kPageNoAccess), STATUS_SUCCESS);
  EXPECT_EQ(at, base + 0x1000);
  EXPECT_EQ(some, 0x1000u);
  EXPECT_EQ(query(base + 0x1000).Protect, kPageReadWrite)
      << "MEM_RESET ignores Protect (it must only be valid)";
  EXPECT_EQ(mem().read<uint32_t>(GuestVa{base + 0x1000}), 0xABCDu);
  at = base;
  some = 0x2000;
  EXPECT_EQ(allocate(&at, &some, kMemResetUndo, kPageReadWrite), STATUS_SUCCESS);
  at = base;
  some = 0x3000;
  EXPECT_EQ(allocate(&at, &some, kMemReset, kPageReadWrite), STATUS_CONFLICTING_ADDRESSES);
  at = base;
  EXPECT_EQ(allocate(&at, &some, kMemReset, 0), STATUS_INVALID_PAGE_PROTECTION);
}

// --- freeing ------------------------------------------------------------------------
TEST_F(VirtualMemory, ReleaseWithSizeZeroAtTheBaseFreesTheWholeAllocation) {
  as_client();
  uint64_t base = 0, size = 0x3000;
  ASSERT_EQ(allocate(&base, &size, kMemCommit | kMemReserve, kPageReadWrite), STATUS_SUCCESS);
  uint64_t at = base + 0x10, zero = 0;  // an address in the first page names the base
  ASSERT_EQ(free(&at, &zero, kMemRelease), STATUS_SUCCESS);
  EXPECT_EQ(at, base);
  EXPECT_EQ(zero, 0x3000u);
  EXPECT_FALSE(mem().is_mapped(GuestVa{base}));
  layout::MEMORY_BASIC_INFORMATION info = query(base);
  EXPECT_EQ(info.State, kMemFree);
  EXPECT_EQ(info.Protect, kPageNoAccess);
  EXPECT_EQ(info.AllocationBase, 0u);
  EXPECT_EQ(info.Type, 0u);
  // Freed twice: nothing is allocated there.
  at = base;
  zero = 0;
  EXPECT_EQ(free(&at, &zero, kMemRelease), STATUS_MEMORY_NOT_ALLOCATED);
}

TEST_F(VirtualMemory, ReleaseChecksTheBaseAndTheRange) {
  as_client();
  uint64_t base = 0, size = 0x3000;
  ASSERT_EQ(allocate(&base, &size, kMemCommit | kMemReserve, kPageReadWrite), STATUS_SUCCESS);
  uint64_t at = base + 0x1000, zero = 0;
  EXPECT_EQ(free(&at, &zero, kMemRelease), STATUS_FREE_VM_NOT_AT_BASE);
  at = base;
  uint64_t too_big = 0x4000;
  EXPECT_EQ(free(&at, &too_big, kMemRelease), STATUS_UNABLE_TO_FREE_VM);
  at = 0;
  zero = 0;
  EXPECT_EQ(free(&at, &zero, kMemRelease), STATUS_MEMORY_NOT_ALLOCATED);
  at = base;
  EXPECT_EQ(free(&at, &zero, 0), STATUS_INVALID_PARAMETER_4);
  EXPECT_EQ(free(&at, &zero, kMemRelease | kMemDecommit), STATUS_INVALID_PARAMETER_4);
  at = 0xFFFF'F806'0000'0000ull;
  EXPECT_EQ(free(&at, &zero, kMemRelease), STATUS_INVALID_PARAMETER_2);
  at = base;
  uint64_t huge = ~0ull;
  EXPECT_EQ(free(&at, &huge, kMemRelease), STATUS_INVALID_PARAMETER_3);
  EXPECT_TRUE(mem().is_mapped(GuestVa{base})) << "nothing freed";
}

TEST_F(VirtualMemory, ReleasingTheMiddleSplitsTheAllocationInTwo) {
  as_client();
  uint64_t base = 0, size = 0x4000;
  ASSERT_EQ(allocate(&base, &size, kMemCommit | kMemReserve, kPageReadWrite), STATUS_SUCCESS);
  mem().write<uint32_t>(GuestVa{base + 0x3000}, 0xC0FFEE);
  uint64_t at = base + 0x1000, two_pages = 0x2000;
  ASSERT_EQ(free(&at, &two_pages, kMemRelease), STATUS_SUCCESS);
  EXPECT_EQ(at, base + 0x1000);
  EXPECT_EQ(two_pages, 0x2000u);
  EXPECT_EQ(query(base + 0x1000).State, kMemFree);
  EXPECT_EQ(query(base + 0x1000).RegionSize, 0x2000u);
  layout::MEMORY_BASIC_INFORMATION tail = query(base + 0x3000);
  EXPECT_EQ(tail.AllocationBase, base + 0x3000)
      << "the part after the hole is an allocation of its own";
  EXPECT_EQ(tail.State, kMemCommit);
  EXPECT_EQ(mem().read<uint32_t>(GuestVa{base + 0x3000}), 0xC0FFEEu);
  EXPECT_EQ(query(base).AllocationBase, base);
  EXPECT_EQ(query(base).RegionSize, 0x1000u);
  // Each part is released at its own base.
  uint64_t zero = 0;
  at = base + 0x3000;
  ASSERT_EQ(free(&at, &zero, kMemRelease), STATUS_SUCCESS);
  EXPECT_EQ(zero, 0x1000u);
}

TEST_F(VirtualMemory, DecommitLeavesTheRangeReservedAndARecommitReadsZeros) {
  as_client();
  uint64_t base = 0, size = 0x3000;
  ASSERT_EQ(allocate(&base, &size, kMemCommit | kMemReserve, kPageReadWrite), STATUS_SUCCESS);
  mem().write<uint32_t>(GuestVa{base + 0x1000}, 0x12345678);
  mem().write<uint32_t>(GuestVa{base + 0x2000}, 0x9ABCDEF0);
  uint64_t at = base + 0x1800, one = 0x800;
  ASSERT_EQ(free(&at, &one, kMemDecommit), STATUS_SUCCESS);
  EXPECT_EQ(at, base + 0x1000);
  EXPECT_EQ(one, 0x1000u);
  EXPECT_EQ(query(base + 0x1000).State, kMemReserve);
  EXPECT_EQ(query(base + 0x1000).Protect, 0u);
  EXPECT_FALSE(client_can(base + 0x1000, Prot::Read));
  EXPECT_EQ(mem().read<uint32_t>(GuestVa{base + 0x2000}), 0x9ABCDEF0u);
  uint64_t again = base + 0x1000, page = 0x1000;
  ASSERT_EQ(allocate(&again, &page, kMemCommit, kPageReadWrite), STATUS_SUCCESS);
  EXPECT_EQ(mem().read<uint32_t>(GuestVa{base + 0x1000}), 0u);
  // Decommitting everything from the base with size 0.
  uint64_t zero = 0;
  at = base;
  ASSERT_EQ(free(&at, &zero, kMemDecommit), STATUS_SUCCESS);
  EXPECT_EQ(zero, 0x3000u);
  EXPECT_EQ(query(base).State, kMemReserve);
  EXPECT_EQ(query(base).RegionSize, 0x3000u);
}

TEST_F(VirtualMemory, AMappedViewIsNotFreedAndMemoryKemuPlacedIsReportedUnimplemented) {
  as_client();
  // A view: another mapping of the client's variables page in its user half.
  const emu::Region* source = mem().find(kUserVars);
  mem().map_alias(GuestVa{0x5000'0000}, *source, 0, 0x1000, Prot::Read, emu::RegionKind::UserMemory,
                  "view");
  uint64_t at = 0x5000'0000, zero = 0;
  EXPECT_EQ(free(&at, &zero, kMemRelease), STATUS_UNABLE_TO_DELETE_SECTION);
  EXPECT_EQ(free(&at, &zero, kMemDecommit), STATUS_UNABLE_TO_DELETE_SECTION);
  layout::MEMORY_BASIC_INFORMATION view = query(0x5000'0000);
  EXPECT_EQ(view.Type, kMemMapped);
  EXPECT_EQ(view.State, kMemCommit);
  EXPECT_EQ(view.Protect, kPageReadOnly);
  // The client's own variables (kemu mapped them): private, committed, not freeable here.
  layout::MEMORY_BASIC_INFORMATION vars = query(kUserVars.value + 0x1800);
  EXPECT_EQ(vars.Type, kMemPrivate);
  EXPECT_EQ(vars.AllocationBase, kUserVars.value);
  EXPECT_EQ(vars.BaseAddress, kUserVars.value + 0x1000);
  EXPECT_EQ(vars.RegionSize, 0x1000u);
  size_t before = unimplemented_count();
  at = kUserVars.value;
  zero = 0;
  EXPECT_EQ(free(&at, &zero, kMemRelease), STATUS_NOT_IMPLEMENTED);
  EXPECT_EQ(unimplemented_count(), before + 1);
  EXPECT_TRUE(mem().is_mapped(kUserVars));
}

// --- protection ---------------------------------------------------------------------
TEST_F(VirtualMemory, ProtectReturnsTheFirstPagesOldProtectionAndChangesWholePages) {
  as_client();
  uint64_t base = 0, size = 0x3000;
  ASSERT_EQ(allocate(&base, &size, kMemCommit | kMemReserve, kPageReadWrite), STATUS_SUCCESS);
  uint64_t at = base + 0x1FFF, two = 2;
  uint32_t old = 0;
  ASSERT_EQ(protect(&at, &two, kPageReadOnly, &old), STATUS_SUCCESS);
  EXPECT_EQ(old, kPageReadWrite);
  EXPECT_EQ(at, base + 0x1000);
  EXPECT_EQ(two, 0x2000u);
  EXPECT_FALSE(client_can(base + 0x1000, Prot::Write));
  EXPECT_TRUE(client_can(base + 0x1000, Prot::Read));
  EXPECT_TRUE(client_can(base, Prot::Write));
  layout::MEMORY_BASIC_INFORMATION info = query(base + 0x1000);
  EXPECT_EQ(info.Protect, kPageReadOnly);
  EXPECT_EQ(info.RegionSize, 0x2000u);
  EXPECT_EQ(info.AllocationProtect, kPageReadWrite) << "the allocation's protection stays";
  at = base;
  uint64_t all = 0x3000;
  ASSERT_EQ(protect(&at, &all, kPageNoAccess, &old), STATUS_SUCCESS);
  EXPECT_EQ(old, kPageReadWrite) << "the first page's";
  EXPECT_FALSE(client_can(base, Prot::Read));
}

TEST_F(VirtualMemory, ProtectRefusesDecommittedPagesCopyOnWriteFreeMemoryAndBadArguments) {
  as_client();
  uint64_t base = 0, size = 0x2000;
  ASSERT_EQ(allocate(&base, &size, kMemReserve, kPageReadWrite), STATUS_SUCCESS);
  uint64_t page = 0x1000, at = base;
  ASSERT_EQ(allocate(&at, &page, kMemCommit, kPageReadWrite), STATUS_SUCCESS);
  uint32_t old = 0;
  at = base;
  uint64_t both = 0x2000;
  EXPECT_EQ(protect(&at, &both, kPageReadOnly, &old), STATUS_NOT_COMMITTED);
  EXPECT_EQ(old, 0xFFFFFFFFu) << "nothing written on failure";
  at = base;
  page = 0x1000;
  EXPECT_EQ(protect(&at, &page, kPageWriteCopy, &old), STATUS_INVALID_PARAMETER_4);
  EXPECT_EQ(protect(&at, &page, kPageReadOnly | kPageExecute, &old),
            STATUS_INVALID_PAGE_PROTECTION);
  uint64_t zero = 0;
  EXPECT_EQ(protect(&at, &zero, kPageReadOnly, &old), STATUS_INVALID_PARAMETER_3);
  uint64_t kernel = 0xFFFF'F806'0000'0000ull;
  EXPECT_EQ(protect(&kernel, &page, kPageReadOnly, &old), STATUS_INVALID_PARAMETER_2);
  uint64_t nowhere = 0x4000'0000;
  EXPECT_EQ(protect(&nowhere, &page, kPageReadOnly, &old), STATUS_CONFLICTING_ADDRESSES);
  at = base + 0x1000;
  EXPECT_EQ(protect(&at, &both, kPageReadOnly, &old), STATUS_CONFLICTING_ADDRESSES)
      << "past the allocation";
}

// --- queries ------------------------------------------------------------------------
TEST_F(VirtualMemory, FreeMemoryRunsToTheNextRegionOfTheProcess) {
  as_client();
  uint64_t base = 0x6000'0000, size = 0x1000;
  ASSERT_EQ(allocate(&base, &size, kMemCommit | kMemReserve, kPageReadWrite), STATUS_SUCCESS);
  layout::MEMORY_BASIC_INFORMATION info = query(0x5FFF'0123);
  EXPECT_EQ(info.BaseAddress, 0x5FFF'0000u);
  EXPECT_EQ(info.RegionSize, 0x1'0000u);
  EXPECT_EQ(info.State, kMemFree);
  EXPECT_EQ(info.Protect, kPageNoAccess);
  // Past the last region: up to MM_HIGHEST_VAD_ADDRESS + 1.
  info = query(0x7FFF'0000'0000);
  EXPECT_EQ(info.RegionSize, kHighestVadAddress + 1 - 0x7FFF'0000'0000);
}

TEST_F(VirtualMemory, KuserSharedDataIsReadOnlyPrivateMemoryInEveryProcess) {
  as_client();
  layout::MEMORY_BASIC_INFORMATION info = query(0x7FFE'0000);
  EXPECT_EQ(info.State, kMemCommit);
  EXPECT_EQ(info.Protect, kPageReadOnly);
  EXPECT_EQ(info.Type, kMemPrivate);
  EXPECT_EQ(info.AllocationBase, 0x7FFE'0000u);
}

TEST_F(VirtualMemory, QueryChecksTheAddressTheClassAndTheLength) {
  as_client();
  EXPECT_EQ(ZwQueryVirtualMemory(kernel_, kCurrentProcess, GuestVa{0xFFFF'F800'0000'0000ull}, 0,
                                 kInfo, 48, kLen),
            STATUS_INVALID_PARAMETER);
  EXPECT_EQ(ZwQueryVirtualMemory(kernel_, kCurrentProcess, GuestVa{0x10000}, 0, kInfo, 47, kLen),
            STATUS_INFO_LENGTH_MISMATCH);
  size_t before = unimplemented_count();
  EXPECT_EQ(ZwQueryVirtualMemory(kernel_, kCurrentProcess, GuestVa{0x10000}, 2, kInfo, 48, kLen),
            STATUS_INVALID_INFO_CLASS);
  EXPECT_EQ(unimplemented_count(), before + 1);
  // From UserMode the output must be user memory.
  EXPECT_EQ(
      NtQueryVirtualMemory(kernel_, kCurrentProcess, GuestVa{0x10000}, 0, kInfo, 48, GuestVa{}),
      STATUS_ACCESS_VIOLATION);
  EXPECT_EQ(NtQueryVirtualMemory(kernel_, kCurrentProcess, GuestVa{0x10000}, 0, kUserVars, 48,
                                 kUserVars + 0x40),
            STATUS_SUCCESS);
  EXPECT_EQ(mem().read<uint64_t>(kUserVars + 0x40), 48u);
  EXPECT_EQ(mem().read<uint32_t>(kUserVars + 0x20), kMemFree);
}

}  // namespace
}  // namespace kemu::nt::test
