// The virtual-memory system services and copy routines drivers call:
// Nt/ZwAllocateVirtualMemory, Nt/ZwFreeVirtualMemory, ZwProtectVirtualMemory,
// ZwQueryVirtualMemory (MemoryBasicInformation), MmCopyVirtualMemory and
// MmCopyMemory. Each service checks its arguments in Windows' order, captures
// its in/out parameters by the previous mode (api/caller_memory.h),
// references a process handle with the access the service needs, and leaves
// the work to the model (mm/virtual_memory.*).
#include <algorithm>
#include <string>
#include <vector>

#include "ntoskrnl-stubs/api/caller_memory.h"
#include "ntoskrnl-stubs/api/kernel_modules.h"
#include "ntoskrnl-stubs/api/previous_mode.h"
#include "ntoskrnl-stubs/api/registry.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/mm/virtual_memory.h"
#include "ntoskrnl-stubs/ob/handle_table.h"
#include "ntoskrnl-stubs/ob/object_manager.h"
#include "ntoskrnl-stubs/ps/process_manager.h"
#include "ntoskrnl-stubs/ps/process_security.h"

namespace kemu::nt {

namespace {

using namespace mm;

constexpr uint32_t kMemoryBasicInformation = 0;
constexpr uint32_t kMemCoalescePlaceholders = 0x1, kMemPreservePlaceholder = 0x2;
// MmCopyMemory's flags (ntddk.h).
constexpr uint32_t kMmCopyMemoryPhysical = 0x1, kMmCopyMemoryVirtual = 0x2;
// MmCopyVirtualMemory copies up to 512 bytes through a buffer, more through
// locked and mapped chunks of 14 pages.
constexpr uint64_t kPoolCopyBytes = 512;
constexpr uint64_t kMappedCopyChunk = 14 * kPageSize;

// An in/out pointer-sized argument: from UserMode ProbeForWrite'd (aligned,
// writable user memory) and read; from KernelMode read as is.
NtStatus capture_inout(Kernel& k, ProcessorMode mode, GuestVa va, uint64_t* value) {
  if (NtStatus st = caller::read(k, mode, va, value); !nt_success(st)) return st;
  if (mode == ProcessorMode::UserMode) return caller::write(k, mode, va, *value);
  return STATUS_SUCCESS;
}

// Writes the results back inside the service's __try: a fault there is the
// service's status.
NtStatus write_back(Kernel& k, ProcessorMode mode, GuestVa base_ptr, uint64_t base,
                    GuestVa size_ptr, uint64_t size) {
  if (NtStatus st = caller::write<uint64_t>(k, mode, size_ptr, size); !nt_success(st)) return st;
  return caller::write<uint64_t>(k, mode, base_ptr, base);
}

NtStatus allocate(Kernel& k, uint64_t process, GuestVa base_ptr, uint64_t zero_bits,
                  GuestVa size_ptr, uint32_t type, uint32_t protect) {
  const ProcessorMode mode = k.machine().previous_mode();
  // 1. ZeroBits: a count up to 21, or a mask.
  auto highest = zero_bits_limit(zero_bits);
  if (!highest) return STATUS_INVALID_PARAMETER_3;
  // 2. AllocationType: known flags; one of COMMIT, RESERVE, RESET (or RESET_UNDO), RESET alone.
  constexpr uint32_t kKnown = kMemCommit | kMemReserve | kMemReset | kMemResetUndo | kMemPhysical |
                              kMemTopDown | kMemWriteWatch | kMemLargePages;
  if (type & ~kKnown) return STATUS_INVALID_PARAMETER_5;
  if (!(type & (kMemCommit | kMemReserve | kMemReset | kMemResetUndo)))
    return STATUS_INVALID_PARAMETER_5;
  if ((type & kMemReset) && type != kMemReset) return STATUS_INVALID_PARAMETER_5;
  if ((type & kMemResetUndo) && type != kMemResetUndo) return STATUS_INVALID_PARAMETER_5;
  if ((type & kMemLargePages) && (!(type & kMemCommit) || (type & (kMemPhysical | kMemWriteWatch))))
    return STATUS_INVALID_PARAMETER_5;
  if ((type & kMemWriteWatch) && !(type & kMemReserve)) return STATUS_INVALID_PARAMETER_5;
  if (type & kMemPhysical) {
    // AWE: reserve only, read-write.
    if (!(type & kMemReserve) || (type & ~(kMemReserve | kMemTopDown | kMemPhysical)))
      return STATUS_INVALID_PARAMETER_5;
    if (protect != kPageReadWrite) return STATUS_INVALID_PARAMETER_6;
  }
  // 3. The protection.
  if (!valid_protection(protect)) return STATUS_INVALID_PAGE_PROTECTION;
  // 4. Capture *BaseAddress and *RegionSize.
  uint64_t base = 0, size = 0;
  if (NtStatus st = capture_inout(k, mode, base_ptr, &base); !nt_success(st)) return st;
  if (NtStatus st = capture_inout(k, mode, size_ptr, &size); !nt_success(st)) return st;
  // 5. The range must lie below MM_HIGHEST_VAD_ADDRESS and not be empty.
  if (base > kHighestVadAddress) return STATUS_INVALID_PARAMETER_2;
  if (kHighestVadAddress + 1 - base < size) return STATUS_INVALID_PARAMETER_4;
  if (size == 0) return STATUS_INVALID_PARAMETER_4;
  // 6. The process (PROCESS_VM_OPERATION for a handle).
  const ps::ProcessRecord* p = nullptr;
  if (NtStatus st = ps::reference_process(k, process, ps::kProcessVmOperation, mode, &p); !nt_success(st))
    return st;
  if (p->terminated) return STATUS_PROCESS_IS_TERMINATING;
  if (type & (kMemLargePages | kMemPhysical | kMemWriteWatch)) {
    k.modules().unimplemented_case("NtAllocateVirtualMemory",
                                   "MEM_LARGE_PAGES, MEM_PHYSICAL or MEM_WRITE_WATCH");
    return STATUS_NOT_IMPLEMENTED;
  }
  if ((protect & kPageGuard) && (type & kMemCommit)) {
    k.modules().unimplemented_case("NtAllocateVirtualMemory", "PAGE_GUARD (guard-page exceptions)");
    return STATUS_NOT_IMPLEMENTED;
  }
  const bool resetting = (type & (kMemReset | kMemResetUndo)) != 0;
  // 7. Reserving (or committing where the system chooses): a new allocation.
  if (!resetting && (!base || (type & kMemReserve))) {
    if (protect & (kPageWriteCopy | kPageExecuteWriteCopy)) return STATUS_INVALID_PAGE_PROTECTION;
    if (!base) {
      size = (size + kPageSize - 1) & ~(kPageSize - 1);
    } else {
      // Down to the 64 KiB allocation granularity, up to the last page.
      uint64_t end = (base + size - 1) | (kPageSize - 1);
      base &= ~(kAllocationGranularity - 1);
      if (base < kLowestUserAddress)
        return STATUS_INVALID_PARAMETER_2;  // the first 64 KiB are never allocated
      size = end + 1 - base;
    }
    NtStatus st = reserve(k, p->pid, &base, size, *highest, (type & kMemTopDown) != 0,
                          (type & kMemCommit) != 0, protect);
    if (!nt_success(st)) return st;
    // The memory is allocated: a fault writing the results back is ignored.
    write_back(k, mode, base_ptr, base, size_ptr, size);
    return STATUS_SUCCESS;
  }
  // 8. Committing (or resetting) pages of an existing allocation.
  uint64_t end = (base + size - 1) | (kPageSize - 1);
  base &= ~(kPageSize - 1);
  size = end + 1 - base;
  // MEM_RESET / MEM_RESET_UNDO name committed pages of an allocation.
  NtStatus st = resetting ? reset(k, p->pid, base, size) : commit(k, p->pid, base, size, protect);
  if (!nt_success(st)) return st;
  return write_back(k, mode, base_ptr, base, size_ptr, size);
}

NtStatus free_memory(Kernel& k, uint64_t process, GuestVa base_ptr, GuestVa size_ptr,
                     uint32_t type) {
  const ProcessorMode mode = k.machine().previous_mode();
  // 1. FreeType: MEM_RELEASE or MEM_DECOMMIT, one of them.
  if (type == (kMemRelease | kMemCoalescePlaceholders) ||
      type == (kMemRelease | kMemPreservePlaceholder)) {
    k.modules().unimplemented_case("NtFreeVirtualMemory",
                                   "placeholders (MEM_COALESCE/PRESERVE_PLACEHOLDER)");
    return STATUS_NOT_IMPLEMENTED;
  }
  if (type != kMemRelease && type != kMemDecommit) return STATUS_INVALID_PARAMETER_4;
  // 2. Capture.
  uint64_t base = 0, size = 0;
  if (NtStatus st = capture_inout(k, mode, base_ptr, &base); !nt_success(st)) return st;
  if (NtStatus st = capture_inout(k, mode, size_ptr, &size); !nt_success(st)) return st;
  // 3. The range must lie in the user half.
  if (base >= kemu::layout::kHighestUserAddress) return STATUS_INVALID_PARAMETER_2;
  if (kemu::layout::kHighestUserAddress - base < size) return STATUS_INVALID_PARAMETER_3;
  // 4. The process.
  const ps::ProcessRecord* p = nullptr;
  if (NtStatus st = ps::reference_process(k, process, ps::kProcessVmOperation, mode, &p); !nt_success(st))
    return st;
  if (p->terminated) return STATUS_PROCESS_IS_TERMINATING;
  NtStatus st =
      type == kMemRelease ? release(k, p->pid, &base, &size) : decommit(k, p->pid, &base, &size);
  if (!nt_success(st)) return st;
  // The memory is freed: a fault writing the results back is ignored.
  write_back(k, mode, base_ptr, base, size_ptr, size);
  return STATUS_SUCCESS;
}

NtStatus protect_memory(Kernel& k, uint64_t process, GuestVa base_ptr, GuestVa size_ptr,
                        uint32_t new_protect, GuestVa old_ptr) {
  const ProcessorMode mode = k.machine().previous_mode();
  // 1. The new protection.
  if (!valid_protection(new_protect)) return STATUS_INVALID_PAGE_PROTECTION;
  // 2. Probe (UserMode) and capture.
  if (mode == ProcessorMode::UserMode) {
    if (NtStatus st = caller::probe(old_ptr, 4, 4); !nt_success(st)) return st;
  }
  uint64_t base = 0, size = 0;
  if (NtStatus st = capture_inout(k, mode, base_ptr, &base); !nt_success(st)) return st;
  if (NtStatus st = capture_inout(k, mode, size_ptr, &size); !nt_success(st)) return st;
  // 3. The range: in the user half, not empty.
  if (base > kemu::layout::kHighestUserAddress) return STATUS_INVALID_PARAMETER_2;
  if (kemu::layout::kUserProbeAddress - base < size || size == 0) return STATUS_INVALID_PARAMETER_3;
  // 4. The process.
  const ps::ProcessRecord* p = nullptr;
  if (NtStatus st = ps::reference_process(k, process, ps::kProcessVmOperation, mode, &p); !nt_success(st))
    return st;
  if (p->terminated) return STATUS_PROCESS_IS_TERMINATING;
  if (new_protect & kPageGuard) {
    k.modules().unimplemented_case("NtProtectVirtualMemory", "PAGE_GUARD (guard-page exceptions)");
    return STATUS_NOT_IMPLEMENTED;
  }
  uint32_t old = 0;
  NtStatus st = protect(k, p->pid, &base, &size, new_protect, &old);
  if (!nt_success(st)) return st;
  if (NtStatus w = caller::write<uint32_t>(k, mode, old_ptr, old); !nt_success(w)) return w;
  return write_back(k, mode, base_ptr, base, size_ptr, size);
}

NtStatus query_memory(Kernel& k, uint64_t process, GuestVa address, uint32_t info_class,
                      GuestVa buffer, uint64_t length, GuestVa return_length) {
  const ProcessorMode mode = k.machine().previous_mode();
  // 1. A user address.
  if (address.value > kemu::layout::kHighestUserAddress) return STATUS_INVALID_PARAMETER;
  // 2. Probe the output (UserMode).
  if (mode == ProcessorMode::UserMode) {
    if (NtStatus st = caller::probe(buffer, length, 8); !nt_success(st)) return st;
    if (return_length) {
      if (NtStatus st = caller::probe(return_length, 8, 8); !nt_success(st)) return st;
    }
  }
  // 3. The class and its size.
  if (info_class != kMemoryBasicInformation) {
    k.modules().unimplemented_case("ZwQueryVirtualMemory",
                                   "MemoryInformationClass " + std::to_string(info_class));
    return STATUS_INVALID_INFO_CLASS;
  }
  if (length < sizeof(layout::MEMORY_BASIC_INFORMATION)) return STATUS_INFO_LENGTH_MISMATCH;
  // 4. The process (PROCESS_QUERY_INFORMATION for a handle).
  const ps::ProcessRecord* p = nullptr;
  if (NtStatus st = ps::reference_process(k, process, ps::kProcessQueryInformation, mode, &p); !nt_success(st))
    return st;
  layout::MEMORY_BASIC_INFORMATION info = query(k, p->pid, address.value);
  if (NtStatus st = caller::write(k, mode, buffer, info, 8); !nt_success(st)) return st;
  if (return_length) return caller::write<uint64_t>(k, mode, return_length, sizeof(info));
  return STATUS_SUCCESS;
}

// --- MmCopyVirtualMemory ------------------------------------------------------------
// Bytes of [va, va+length) process `pid` can access from va on, page by page.
// An invalid kernel address is not a fault the copy catches: it bugchecks
// 0x50 (thrown to the trap bridge).
uint64_t accessible_prefix(Kernel& k, uint32_t pid, uint64_t va, uint64_t length, Prot need) {
  uint64_t done = 0;
  while (done < length) {
    GuestVa at{va + done};
    if (!accessible_in(k.memory(), pid, at, need)) {
      if (!is_user_address(at) && is_canonical(at) && !k.memory().is_mapped(at))
        throw emu::GuestAccessError(at, need == Prot::Write);
      return done;
    }
    done += std::min<uint64_t>(length - done, kPageSize - ((va + done) & (kPageSize - 1)));
  }
  return length;
}

// ProbeForWrite of the target in the target process: range, then every page writable.
NtStatus probe_for_write_in(Kernel& k, uint32_t pid, uint64_t va, uint64_t length) {
  if (NtStatus st = caller::probe(GuestVa{va}, length, 1); !nt_success(st)) return st;
  return accessible_prefix(k, pid, va, length, Prot::Write) == length ? STATUS_SUCCESS
                                                                      : STATUS_ACCESS_VIOLATION;
}

NtStatus copy_virtual(Kernel& k, const ps::ProcessRecord& from, uint64_t source,
                      const ps::ProcessRecord& to, uint64_t target, uint64_t size,
                      ProcessorMode mode, uint64_t* copied) {
  auto& mem = k.memory();
  *copied = 0;
  // The source range is probed first (UserMode): below MmUserProbeAddress.
  if (mode == ProcessorMode::UserMode) {
    if (NtStatus st = caller::probe(GuestVa{source}, size, 1); !nt_success(st)) return st;
  }
  if (size <= kPoolCopyBytes) {
    // Through a buffer: the source is read whole before the target is touched.
    uint64_t readable = accessible_prefix(k, from.pid, source, size, Prot::Read);
    if (readable < size) {
      *copied = readable;  // the bytes read before the fault, though none reached the target
      return STATUS_PARTIAL_COPY;
    }
    std::vector<uint8_t> buffer(size);
    mem.read(GuestVa{source}, buffer.data(), size);
    if (mode == ProcessorMode::UserMode) {
      if (NtStatus st = probe_for_write_in(k, to.pid, target, size); !nt_success(st)) return st;
    }
    uint64_t writable = accessible_prefix(k, to.pid, target, size, Prot::Write);
    mem.write(GuestVa{target}, buffer.data(), writable);
    *copied = writable;
    return writable < size ? STATUS_PARTIAL_COPY : STATUS_SUCCESS;
  }
  // Through locked chunks: a chunk whose source pages cannot all be locked
  // ends the copy with the chunks before it.
  std::vector<uint8_t> buffer;
  for (uint64_t done = 0; done < size;) {
    uint64_t chunk = std::min(kMappedCopyChunk, size - done);
    if (accessible_prefix(k, from.pid, source + done, chunk, Prot::Read) < chunk) {
      *copied = done;
      return STATUS_PARTIAL_COPY;
    }
    buffer.resize(chunk);
    mem.read(GuestVa{source + done}, buffer.data(), chunk);
    if (done == 0 && mode == ProcessorMode::UserMode) {
      if (NtStatus st = probe_for_write_in(k, to.pid, target, size); !nt_success(st)) return st;
    }
    uint64_t writable = accessible_prefix(k, to.pid, target + done, chunk, Prot::Write);
    mem.write(GuestVa{target + done}, buffer.data(), writable);
    done += writable;
    if (writable < chunk) {
      *copied = done;
      return STATUS_PARTIAL_COPY;
    }
  }
  *copied = size;
  return STATUS_SUCCESS;
}

// --- MmCopyMemory ------------------------------------------------------------------
// The page showing physical frame `pfn`, or nullopt for RAM nothing uses
// (it reads zeros); false in *ram for a frame outside RAM (I/O space).
std::optional<GuestVa> page_of_physical(Kernel& k, uint64_t pfn, bool* ram) {
  *ram = emu::AddressSpace::is_ram_frame(pfn);
  return k.memory().page_of_frame(pfn);
}

}  // namespace

// --- exported routines ---------------------------------------------------------------
NtStatus NtAllocateVirtualMemory(Kernel& k, uint64_t process, GuestVa base_ptr, uint64_t zero_bits,
                                 GuestVa size_ptr, uint32_t type, uint32_t protect) {
  return allocate(k, process, base_ptr, zero_bits, size_ptr, type, protect);
}
NtStatus ZwAllocateVirtualMemory(Kernel& k, uint64_t process, GuestVa base_ptr, uint64_t zero_bits,
                                 GuestVa size_ptr, uint32_t type, uint32_t protect) {
  return as_kernel_caller(
      k, [&] { return allocate(k, process, base_ptr, zero_bits, size_ptr, type, protect); });
}
NtStatus NtFreeVirtualMemory(Kernel& k, uint64_t process, GuestVa base_ptr, GuestVa size_ptr,
                             uint32_t type) {
  return free_memory(k, process, base_ptr, size_ptr, type);
}
NtStatus ZwFreeVirtualMemory(Kernel& k, uint64_t process, GuestVa base_ptr, GuestVa size_ptr,
                             uint32_t type) {
  return as_kernel_caller(k, [&] { return free_memory(k, process, base_ptr, size_ptr, type); });
}
// NtProtectVirtualMemory and NtQueryVirtualMemory are not exported by
// ntoskrnl.exe; their Zw forms are.
NtStatus NtProtectVirtualMemory(Kernel& k, uint64_t process, GuestVa base_ptr, GuestVa size_ptr,
                                uint32_t new_protect, GuestVa old_ptr) {
  return protect_memory(k, process, base_ptr, size_ptr, new_protect, old_ptr);
}
NtStatus ZwProtectVirtualMemory(Kernel& k, uint64_t process, GuestVa base_ptr, GuestVa size_ptr,
                                uint32_t new_protect, GuestVa old_ptr) {
  return as_kernel_caller(
      k, [&] { return protect_memory(k, process, base_ptr, size_ptr, new_protect, old_ptr); });
}
NtStatus NtQueryVirtualMemory(Kernel& k, uint64_t process, GuestVa address, uint32_t info_class,
                              GuestVa buffer, uint64_t length, GuestVa return_length) {
  return query_memory(k, process, address, info_class, buffer, length, return_length);
}
NtStatus ZwQueryVirtualMemory(Kernel& k, uint64_t process, GuestVa address, uint32_t info_class,
                              GuestVa buffer, uint64_t length, GuestVa return_length) {
  return as_kernel_caller(k, [&] {
    return query_memory(k, process, address, info_class, buffer, length, return_length);
  });
}

// MmCopyVirtualMemory(FromProcess, FromAddress, ToProcess, ToAddress, BufferSize, PreviousMode,
// &NumberOfBytesCopied): the source is read in FromProcess's address space and written in
// ToProcess's (each attached in turn); UserMode probes both ranges.
NtStatus MmCopyVirtualMemory(Kernel& k, GuestVa from_process, GuestVa from, GuestVa to_process,
                             GuestVa to, uint64_t size, uint8_t previous_mode, GuestVa copied_ptr) {
  // Nothing to copy: success, the count untouched.
  if (size == 0) return STATUS_SUCCESS;
  const ps::ProcessRecord* source = k.ps().process_by_eprocess(from_process);
  const ps::ProcessRecord* target = k.ps().process_by_eprocess(to_process);
  if (!source || !target) {
    // Attaching to something that is not a process: INVALID_PROCESS_ATTACH_ATTEMPT.
    k.machine().bugcheck(0x5, (source ? to_process : from_process).value, 0, 0, 0,
                         k.machine().call_site());
    return STATUS_SUCCESS;
  }
  // The process other than the current one must not be exiting (its rundown protection).
  const bool source_is_current = source->pid == k.machine().current_thread().space_process_id;
  if ((source_is_current ? target : source)->terminated) return STATUS_PROCESS_IS_TERMINATING;
  uint64_t copied = 0;
  NtStatus st = copy_virtual(k, *source, from.value, *target, to.value, size,
                             processor_mode(previous_mode), &copied);
  k.memory().write<uint64_t>(copied_ptr, copied);
  return st;
}

// MmCopyMemory(TargetAddress, SourceAddress (MM_COPY_ADDRESS by value), NumberOfBytes, Flags,
// &BytesTransferred): copies from a physical address (RAM only: I/O space is refused) or a virtual
// one (system space or the current process's user half) without faulting; it stops at the first
// page it cannot read.
NtStatus MmCopyMemory(Kernel& k, GuestVa target, uint64_t source, uint64_t length, uint32_t flags,
                      GuestVa transferred_ptr) {
  // One of the two flags, alone.
  if (flags != kMmCopyMemoryPhysical && flags != kMmCopyMemoryVirtual)
    return STATUS_INVALID_PARAMETER_4;
  auto& mem = k.memory();
  mem.write<uint64_t>(transferred_ptr, 0);
  const uint32_t pid = k.machine().current_thread().space_process_id;
  uint64_t done = 0;
  std::vector<uint8_t> page(kPageSize);
  while (done < length) {
    uint64_t at = source + done;
    uint64_t chunk = std::min<uint64_t>(length - done, kPageSize - (at & (kPageSize - 1)));
    if (flags == kMmCopyMemoryPhysical) {
      bool ram = false;
      auto shown = page_of_physical(k, at >> 12, &ram);
      if (!ram) return done ? STATUS_PARTIAL_COPY : STATUS_INVALID_ADDRESS;  // I/O space
      if (shown)
        mem.read(*shown + (at & (kPageSize - 1)), page.data(), chunk);
      else
        std::fill(page.begin(), page.begin() + static_cast<std::ptrdiff_t>(chunk),
                  0);  // RAM nothing uses
    } else {
      GuestVa va{at};
      bool io_space = false;
      if (!is_user_address(va) && mem.is_mapped(va)) {
        auto frame = mem.frame_of(va);
        io_space = frame && !emu::AddressSpace::is_ram_frame(*frame);
      }
      if (io_space) return done ? STATUS_PARTIAL_COPY : STATUS_INVALID_ADDRESS;
      if (!is_canonical(va) || !accessible_in(mem, pid, va, Prot::Read))
        return done ? STATUS_PARTIAL_COPY : STATUS_INVALID_ADDRESS;
      mem.read(va, page.data(), chunk);
    }
    // The caller's buffer is nonpaged system memory: a bad one is not caught.
    if (!mem.write(target + done, page.data(), chunk))
      throw emu::GuestAccessError(target + done, true);
    done += chunk;
    mem.write<uint64_t>(transferred_ptr, done);
  }
  return STATUS_SUCCESS;
}

void register_virtual_memory_exports(Registry& r) {
  KEMU_EXPORT(r, NtAllocateVirtualMemory);
  KEMU_EXPORT(r, ZwAllocateVirtualMemory);
  KEMU_EXPORT(r, NtFreeVirtualMemory);
  KEMU_EXPORT(r, ZwFreeVirtualMemory);
  KEMU_EXPORT(r, ZwProtectVirtualMemory);
  KEMU_EXPORT(r, ZwQueryVirtualMemory);
  KEMU_EXPORT(r, MmCopyVirtualMemory);
  KEMU_EXPORT(r, MmCopyMemory);
}

}  // namespace kemu::nt
