// A Kernel with a client process (its user thread in UserMode) for calling
// the memory manager's handlers directly: kernel-side argument variables
// (what a driver passes to ZwXxx) and user-side ones (what a client passes
// to NtXxx), and helpers around NtAllocateVirtualMemory and its kin.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>

#include "emulator/machine.h"
#include "ntoskrnl-stubs/api/kernel_modules.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/nt_structs.h"
#include "ntoskrnl-stubs/mm/virtual_memory.h"
#include "ntoskrnl-stubs/ob/object_manager.h"
#include "ntoskrnl-stubs/ps/process_manager.h"

namespace kemu::nt {

// The handlers under test (ntoskrnl-stubs/mm/virtual_memory_exports.cpp).
NtStatus NtAllocateVirtualMemory(Kernel& k, uint64_t process, GuestVa base_ptr, uint64_t zero_bits,
                                 GuestVa size_ptr, uint32_t type, uint32_t protect);
NtStatus ZwAllocateVirtualMemory(Kernel& k, uint64_t process, GuestVa base_ptr, uint64_t zero_bits,
                                 GuestVa size_ptr, uint32_t type, uint32_t protect);
NtStatus NtFreeVirtualMemory(Kernel& k, uint64_t process, GuestVa base_ptr, GuestVa size_ptr,
                             uint32_t type);
NtStatus ZwFreeVirtualMemory(Kernel& k, uint64_t process, GuestVa base_ptr, GuestVa size_ptr,
                             uint32_t type);
NtStatus NtProtectVirtualMemory(Kernel& k, uint64_t process, GuestVa base_ptr, GuestVa size_ptr,
                                uint32_t new_protect, GuestVa old_ptr);
NtStatus ZwProtectVirtualMemory(Kernel& k, uint64_t process, GuestVa base_ptr, GuestVa size_ptr,
                                uint32_t new_protect, GuestVa old_ptr);
NtStatus ZwQueryVirtualMemory(Kernel& k, uint64_t process, GuestVa address, uint32_t info_class,
                              GuestVa buffer, uint64_t length, GuestVa return_length);
NtStatus NtQueryVirtualMemory(Kernel& k, uint64_t process, GuestVa address, uint32_t info_class,
                              GuestVa buffer, uint64_t length, GuestVa return_length);
NtStatus MmCopyVirtualMemory(Kernel& k, GuestVa from_process, GuestVa from, GuestVa to_process,
                             GuestVa to, uint64_t size, uint8_t previous_mode, GuestVa copied_ptr);
NtStatus MmCopyMemory(Kernel& k, GuestVa target, uint64_t source, uint64_t length, uint32_t flags,
                      GuestVa transferred_ptr);

namespace test {

constexpr uint64_t kCurrentProcess = ~0ull;  // NtCurrentProcess()

class MmFixture : public ::testing::Test {
 protected:
  // Argument variables: kernel-side (a driver's locals) and user-side (a client's).
  static constexpr GuestVa kKernelVars{0xFFFF'F806'1010'0000ull};
  static constexpr GuestVa kUserVars{0x3000'0000ull};
  static constexpr GuestVa kBase = kKernelVars;             // PVOID BaseAddress
  static constexpr GuestVa kSize = kKernelVars + 8;         // SIZE_T RegionSize
  static constexpr GuestVa kOld = kKernelVars + 0x10;       // ULONG OldProtect
  static constexpr GuestVa kLen = kKernelVars + 0x18;       // SIZE_T ReturnLength
  static constexpr GuestVa kInfo = kKernelVars + 0x40;      // MEMORY_BASIC_INFORMATION
  static constexpr GuestVa kBuffer = kKernelVars + 0x1000;  // a kernel buffer (3 pages)

  MmFixture() : kernel_(machine_) {
    machine_.memory().map(kKernelVars, 0x4000, Prot::ReadWrite, emu::RegionKind::Scratch,
                          "kernel variables");
    const ps::ProcessRecord& client = kernel_.ps().create_user_process("client.exe");
    client_pid_ = client.pid;
    client_eprocess_ = client.eprocess;
    client_thread_ = kernel_.ps().create_user_thread(client_pid_).tid;
    machine_.memory().map(kUserVars, 0x2000, Prot::ReadWrite, emu::RegionKind::UserMemory,
                          "client variables", client_pid_);
    system_thread_ = machine_.current_thread().id;
  }

  void as_client() { machine_.switch_to(client_thread_); }
  void as_system() { machine_.switch_to(system_thread_); }

  emu::AddressSpace& mem() { return machine_.memory(); }

  // ZwAllocateVirtualMemory with kernel variables; *base/*size updated.
  NtStatus allocate(uint64_t* base, uint64_t* size, uint32_t type, uint32_t protect,
                    uint64_t zero_bits = 0, uint64_t process = kCurrentProcess) {
    mem().write<uint64_t>(kBase, *base);
    mem().write<uint64_t>(kSize, *size);
    NtStatus st = ZwAllocateVirtualMemory(kernel_, process, kBase, zero_bits, kSize, type, protect);
    *base = mem().read<uint64_t>(kBase);
    *size = mem().read<uint64_t>(kSize);
    return st;
  }
  NtStatus free(uint64_t* base, uint64_t* size, uint32_t type, uint64_t process = kCurrentProcess) {
    mem().write<uint64_t>(kBase, *base);
    mem().write<uint64_t>(kSize, *size);
    NtStatus st = ZwFreeVirtualMemory(kernel_, process, kBase, kSize, type);
    *base = mem().read<uint64_t>(kBase);
    *size = mem().read<uint64_t>(kSize);
    return st;
  }
  NtStatus protect(uint64_t* base, uint64_t* size, uint32_t protect, uint32_t* old) {
    mem().write<uint64_t>(kBase, *base);
    mem().write<uint64_t>(kSize, *size);
    mem().write<uint32_t>(kOld, 0xFFFFFFFF);
    NtStatus st = ZwProtectVirtualMemory(kernel_, kCurrentProcess, kBase, kSize, protect, kOld);
    *base = mem().read<uint64_t>(kBase);
    *size = mem().read<uint64_t>(kSize);
    *old = mem().read<uint32_t>(kOld);
    return st;
  }
  layout::MEMORY_BASIC_INFORMATION query(uint64_t address, uint64_t process = kCurrentProcess) {
    NtStatus st = ZwQueryVirtualMemory(kernel_, process, GuestVa{address}, 0, kInfo, 48, kLen);
    EXPECT_EQ(st, STATUS_SUCCESS);
    EXPECT_EQ(mem().read<uint64_t>(kLen), 48u);
    return mem().read<layout::MEMORY_BASIC_INFORMATION>(kInfo);
  }
  // Whether the client (its user half current) could access the address.
  bool client_can(uint64_t address, Prot need) {
    return mm::accessible_in(mem(), client_pid_, GuestVa{address}, need);
  }
  // The unimplemented cases recorded so far.
  size_t unimplemented_count() { return kernel_.modules().unimplemented().size(); }

  emu::Machine machine_;
  Kernel kernel_;
  uint32_t client_pid_ = 0;
  GuestVa client_eprocess_;
  uint32_t client_thread_ = 0;
  uint32_t system_thread_ = 0;
};

}  // namespace test
}  // namespace kemu::nt
