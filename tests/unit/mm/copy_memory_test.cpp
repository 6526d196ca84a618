// MmCopyVirtualMemory between two processes' address spaces (probing by
// previous mode, partial copies, terminating processes) and MmCopyMemory from
// physical (RAM, unused RAM, I/O space) and virtual addresses.
#include <cstring>
#include <vector>

#include "unit/mm/mm_fixture.h"

namespace kemu::nt::test {
namespace {

using namespace mm;

class CopyMemory : public MmFixture {
 protected:
  static constexpr GuestVa kCount = kKernelVars + 0x20;  // SIZE_T NumberOfBytesCopied

  // Client memory: two committed pages then a reserved one, filled with a pattern.
  uint64_t client_pages() {
    as_client();
    uint64_t base = 0, size = 0x3000;
    EXPECT_EQ(allocate(&base, &size, kMemReserve, kPageReadWrite), STATUS_SUCCESS);
    uint64_t commit_size = 0x2000, at = base;
    EXPECT_EQ(allocate(&at, &commit_size, kMemCommit, kPageReadWrite), STATUS_SUCCESS);
    std::vector<uint8_t> pattern(0x2000);
    for (size_t i = 0; i < pattern.size(); ++i) pattern[i] = static_cast<uint8_t>(i * 7);
    mem().write(GuestVa{base}, pattern.data(), pattern.size());
    return base;
  }
  GuestVa system_eprocess() { return kernel_.ps().system_process().eprocess; }
  NtStatus copy(GuestVa from_process, uint64_t from, GuestVa to_process, uint64_t to, uint64_t size,
                uint8_t mode) {
    mem().write<uint64_t>(kCount, 0xDEAD);
    return MmCopyVirtualMemory(kernel_, from_process, GuestVa{from}, to_process, GuestVa{to}, size,
                               mode, kCount);
  }
  uint64_t count() { return mem().read<uint64_t>(kCount); }
};

TEST_F(CopyMemory, CopiesFromTheClientsUserHalfIntoSystemMemoryFromAnyContext) {
  uint64_t user = client_pages();
  as_system();  // the client's user half is hidden now; the copy attaches to it
  ASSERT_EQ(copy(client_eprocess_, user + 0x10, system_eprocess(), kBuffer.value, 0x100, 0),
            STATUS_SUCCESS);
  EXPECT_EQ(count(), 0x100u);
  EXPECT_EQ(mem().read<uint8_t>(kBuffer), static_cast<uint8_t>(0x10 * 7));
  EXPECT_EQ(mem().read<uint8_t>(kBuffer + 0xFF), static_cast<uint8_t>(0x10F * 7));
  // The mapped-copy path (more than 512 bytes) too.
  ASSERT_EQ(copy(client_eprocess_, user, system_eprocess(), kBuffer.value, 0x2000, 0),
            STATUS_SUCCESS);
  EXPECT_EQ(count(), 0x2000u);
  EXPECT_EQ(mem().read<uint8_t>(kBuffer + 0x1FFF), static_cast<uint8_t>(0x1FFF * 7));
}

TEST_F(CopyMemory, AZeroSizeSucceedsWithoutTouchingTheCount) {
  EXPECT_EQ(copy(client_eprocess_, 0x1234, system_eprocess(), kBuffer.value, 0, 1), STATUS_SUCCESS);
  EXPECT_EQ(count(), 0xDEADu);
}

TEST_F(CopyMemory, UserModeProbesBothRanges) {
  uint64_t user = client_pages();
  // A kernel source from UserMode: the probe's access violation, nothing copied.
  EXPECT_EQ(copy(system_eprocess(), kBuffer.value, client_eprocess_, user, 0x10, 1),
            STATUS_ACCESS_VIOLATION);
  EXPECT_EQ(count(), 0u);
  // A kernel target from UserMode.
  EXPECT_EQ(copy(client_eprocess_, user, system_eprocess(), kBuffer.value, 0x10, 1),
            STATUS_ACCESS_VIOLATION);
  EXPECT_EQ(count(), 0u);
  // A target range with a reserved page: ProbeForWrite touches it.
  EXPECT_EQ(copy(client_eprocess_, user, client_eprocess_, user + 0x1F00, 0x200, 1),
            STATUS_ACCESS_VIOLATION);
  EXPECT_EQ(count(), 0u);
  // User to user within the client: fine.
  ASSERT_EQ(copy(client_eprocess_, user, client_eprocess_, user + 0x1000, 0x20, 1), STATUS_SUCCESS);
  EXPECT_EQ(mem().read<uint8_t>(GuestVa{user + 0x1001}), 7u);
}

TEST_F(CopyMemory, AnUnreadableSourceEndsInAPartialCopy) {
  uint64_t user = client_pages();
  as_system();
  // Up to 512 bytes: the bytes read before the fault are counted, none reach the target.
  std::vector<uint8_t> marker(0x100, 0xEE);
  mem().write(kBuffer, marker.data(), marker.size());
  EXPECT_EQ(copy(client_eprocess_, user + 0x1F80, system_eprocess(), kBuffer.value, 0x100, 0),
            STATUS_PARTIAL_COPY);
  EXPECT_EQ(count(), 0x80u);
  EXPECT_EQ(mem().read<uint8_t>(kBuffer), 0xEEu) << "the buffer copy never reached the target";
  // More: chunks of 14 pages are locked whole; the first fails, nothing is copied.
  EXPECT_EQ(copy(client_eprocess_, user + 0x1000, system_eprocess(), kBuffer.value, 0x1800, 0),
            STATUS_PARTIAL_COPY);
  EXPECT_EQ(count(), 0u);
  // An address that is not the process's at all.
  EXPECT_EQ(copy(system_eprocess(), user, system_eprocess(), kBuffer.value, 0x10, 0),
            STATUS_PARTIAL_COPY);
  EXPECT_EQ(count(), 0u);
}

TEST_F(CopyMemory, AnUnwritableTargetCountsTheBytesDelivered) {
  uint64_t user = client_pages();
  as_system();
  // Kernel source, client target ending in the reserved page (KernelMode: no probe).
  std::vector<uint8_t> bytes(0x100, 0x42);
  mem().write(kBuffer, bytes.data(), bytes.size());
  EXPECT_EQ(copy(system_eprocess(), kBuffer.value, client_eprocess_, user + 0x1FC0, 0x100, 0),
            STATUS_PARTIAL_COPY);
  EXPECT_EQ(count(), 0x40u);
  EXPECT_EQ(mem().read<uint8_t>(GuestVa{user + 0x1FFF}), 0x42u);
}

TEST_F(CopyMemory, AnInvalidKernelAddressIsNotCaught) {
  as_system();
  EXPECT_THROW(
      copy(system_eprocess(), 0xFFFF'F806'7770'0000ull, system_eprocess(), kBuffer.value, 0x10, 0),
      emu::GuestAccessError);
}

TEST_F(CopyMemory, AnExitingProcessIsRefused) {
  uint64_t user = client_pages();
  as_system();
  kernel_.ps().terminate_process(client_pid_, 0);
  EXPECT_EQ(copy(client_eprocess_, user, system_eprocess(), kBuffer.value, 0x10, 0),
            STATUS_PROCESS_IS_TERMINATING);
}

// --- MmCopyMemory -------------------------------------------------------------------
constexpr uint32_t kPhysical = 1, kVirtual = 2;

TEST_F(CopyMemory, MmCopyMemoryReadsAPhysicalPageWhateverMapsIt) {
  as_system();
  mem().write<uint64_t>(kBuffer + 0x1008, 0x1122334455667788ull);
  uint64_t pa = (*mem().frame_of(kBuffer + 0x1000) << 12) + 8;
  GuestVa target = kKernelVars + 0x200;
  ASSERT_EQ(MmCopyMemory(kernel_, target, pa, 8, kPhysical, kCount), STATUS_SUCCESS);
  EXPECT_EQ(count(), 8u);
  EXPECT_EQ(mem().read<uint64_t>(target), 0x1122334455667788ull);
}

TEST_F(CopyMemory, MmCopyMemoryOfUnusedRamReadsZerosAndIoSpaceIsRefused) {
  as_system();
  GuestVa target = kKernelVars + 0x200;
  mem().write<uint64_t>(target, ~0ull);
  ASSERT_EQ(MmCopyMemory(kernel_, target, 0x2000'0000, 8, kPhysical, kCount), STATUS_SUCCESS);
  EXPECT_EQ(mem().read<uint64_t>(target), 0u);
  // 3 GiB .. 4 GiB is the PCI hole: I/O space.
  EXPECT_EQ(MmCopyMemory(kernel_, target, 0xD000'0000, 8, kPhysical, kCount),
            STATUS_INVALID_ADDRESS);
  EXPECT_EQ(count(), 0u);
  // The last RAM page below the hole, then the hole: what was copied is counted.
  EXPECT_EQ(MmCopyMemory(kernel_, target, 0xBFFF'FFF8, 0x10, kPhysical, kCount),
            STATUS_PARTIAL_COPY);
  EXPECT_EQ(count(), 8u);
}

TEST_F(CopyMemory, MmCopyMemoryOfVirtualAddressesNeverFaults) {
  uint64_t user = client_pages();
  GuestVa target = kKernelVars + 0x200;
  // The current process's user half (the client is current).
  ASSERT_EQ(MmCopyMemory(kernel_, target, user + 1, 4, kVirtual, kCount), STATUS_SUCCESS);
  EXPECT_EQ(mem().read<uint8_t>(target), 7u);
  // Into the reserved page: what could be read is counted.
  EXPECT_EQ(MmCopyMemory(kernel_, target, user + 0x1FFC, 8, kVirtual, kCount), STATUS_PARTIAL_COPY);
  EXPECT_EQ(count(), 4u);
  // An unmapped kernel address: refused, no bugcheck.
  EXPECT_EQ(MmCopyMemory(kernel_, target, 0xFFFF'F806'7770'0000ull, 8, kVirtual, kCount),
            STATUS_INVALID_ADDRESS);
  EXPECT_EQ(count(), 0u);
  // Another process's user memory is not in the current user half.
  as_system();
  EXPECT_EQ(MmCopyMemory(kernel_, target, user, 8, kVirtual, kCount), STATUS_INVALID_ADDRESS);
}

TEST_F(CopyMemory, MmCopyMemoryTakesExactlyOneOfItsTwoFlags) {
  GuestVa target = kKernelVars + 0x200;
  EXPECT_EQ(MmCopyMemory(kernel_, target, kBuffer.value, 8, 0, kCount), STATUS_INVALID_PARAMETER_4);
  EXPECT_EQ(MmCopyMemory(kernel_, target, kBuffer.value, 8, 3, kCount), STATUS_INVALID_PARAMETER_4);
  EXPECT_EQ(MmCopyMemory(kernel_, target, kBuffer.value, 8, 4, kCount), STATUS_INVALID_PARAMETER_4);
}

}  // namespace
}  // namespace kemu::nt::test
