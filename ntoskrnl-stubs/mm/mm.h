// Memory manager pieces shared by mm/*.cpp and other components: the MDL
// flags, kemu's "physical" address scheme, faults the probing routines take,
// and the MDL routines as C++ functions, so the I/O manager (direct I/O) can
// describe, lock and map buffers the way the kernel does for it.
#pragma once

#include <cstdint>
#include <optional>

#include "emulator/address_space.h"
#include "emulator/ntstatus.h"
#include "emulator/types.h"

namespace kemu::nt {

class Kernel;
class Registry;

// Registration of mm/probe_exports.cpp and mm/mdl_exports.cpp (called by
// register_mm_exports).
void register_probe_exports(Registry& r);
void register_mdl_exports(Registry& r);
void register_physical_exports(Registry& r);  // mm/physical_exports.cpp

namespace mm {

// MDL_* flags (wdm.h).
constexpr uint16_t kMdlMappedToSystemVa = 0x0001;
constexpr uint16_t kMdlPagesLocked = 0x0002;
constexpr uint16_t kMdlSourceIsNonPagedPool = 0x0004;
constexpr uint16_t kMdlAllocatedFixedSize = 0x0008;
constexpr uint16_t kMdlPartial = 0x0010;
constexpr uint16_t kMdlPartialHasBeenMapped = 0x0020;
constexpr uint16_t kMdlWriteOperation = 0x0080;

// LOCK_OPERATION.
constexpr uint32_t kIoReadAccess = 0;
constexpr uint32_t kIoWriteAccess = 1;
constexpr uint32_t kIoModifyAccess = 2;

// System addresses MmMapLockedPages* hands out (kemu's system PTE range).
constexpr GuestVa kSystemMappingBase{0xFFFF'B000'0000'0000ull};
constexpr GuestVa kSystemMappingEnd{0xFFFF'B080'0000'0000ull};

// Pages spanned by [va, va+length) (ADDRESS_AND_SIZE_TO_SPAN_PAGES), without
// overflow for any length.
constexpr uint64_t span_pages(uint64_t va, uint64_t length) {
  return (length >> 12) + (((va & 0xFFF) + (length & 0xFFF) + 0xFFF) >> 12);
}

// Physical addresses come from the address space's frame table
// (AddressSpace::frame_of): a page gets a RAM frame the first time its
// physical address is asked for, and every mapping of that page shares it.
// A PFN is that address >> 12. Unmapped: nullopt.
std::optional<uint64_t> physical_address(const emu::AddressSpace& memory, GuestVa va);
// A mapped page showing the frame (nullopt when no page has it).
std::optional<GuestVa> page_of_pfn(const emu::AddressSpace& memory, uint64_t pfn);
// The region and page offset showing frame `pfn`: a page already mapped, or
// one kemu materialises zero-filled for a frame nothing used (RAM or the
// MMIO hole; kemu emulates no device behind MMIO). What MmMapIoSpace and
// views of \Device\PhysicalMemory alias.
const emu::Region* page_for_frame(Kernel& k, uint64_t pfn, uint64_t* offset);

// A page fault the kernel takes on a bad user address while probing: at IRQL
// >= DISPATCH_LEVEL it bugchecks 0xD1 at the driver's call (as kemu reports
// faults of kernel routines, semantics.md §4) and returns true; below, the
// caller raises what the routine raises.
bool page_fault_bugchecks(Kernel& k, GuestVa address, bool write);

// MmProbeAndLockPages without raising: STATUS_SUCCESS and the MDL locked, or
// the status the routine would raise (the MDL unchanged).
NtStatus probe_and_lock(Kernel& k, GuestVa mdl, ProcessorMode mode, uint32_t operation);
// MmProbeAndLockPages called inside a kernel routine's own __try (as
// IoBuildDeviceIoControlRequest and IoBuild*FsdRequest call it): the status
// it raises, except where the probe's fault itself is fatal — an invalid
// kernel address (0x50, thrown as a GuestAccessError) or a fault at
// DISPATCH_LEVEL or above (0xD1; the machine stops and the status is returned).
NtStatus probe_and_lock_caught(Kernel& k, GuestVa mdl, ProcessorMode mode, uint32_t operation);

}  // namespace mm

// The exported routines (mm/mdl_exports.cpp), callable from other components.
GuestVa IoAllocateMdl(Kernel& k, GuestVa va, uint32_t length, bool secondary, bool charge_quota,
                      GuestVa irp);
void IoFreeMdl(Kernel& k, GuestVa mdl);
void MmBuildMdlForNonPagedPool(Kernel& k, GuestVa mdl);
void MmProbeAndLockPages(Kernel& k, GuestVa mdl, uint8_t mode, uint32_t operation);
void MmUnlockPages(Kernel& k, GuestVa mdl);
GuestVa MmMapLockedPagesSpecifyCache(Kernel& k, GuestVa mdl, uint8_t mode, uint32_t cache_type,
                                     GuestVa requested, uint32_t bugcheck_on_failure,
                                     uint32_t priority);
void MmUnmapLockedPages(Kernel& k, GuestVa base, GuestVa mdl);

}  // namespace kemu::nt
