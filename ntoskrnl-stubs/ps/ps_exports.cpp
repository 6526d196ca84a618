// Process and thread queries, previous mode, version queries.
#include "emulator/ntstatus.h"
#include "emulator/processor_layout.h"
#include "ntoskrnl-stubs/api/registry.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/ps/process_manager.h"

namespace kemu::nt {

GuestVa IoGetCurrentProcess(Kernel& k) {
  // KTHREAD.ApcState.Process: the process whose address space is current.
  GuestVa thread = k.machine().current_thread().ethread;
  return GuestVa{k.memory().read<uint64_t>(thread + emu::kthread::kApcStateProcess)};
}

GuestVa PsGetCurrentThread(Kernel& k) { return k.machine().current_thread().ethread; }

uint64_t PsGetCurrentProcessId(Kernel& k) {
  return k.memory().read<uint64_t>(IoGetCurrentProcess(k) + emu::eprocess::kUniqueProcessId);
}

uint64_t PsGetCurrentThreadId(Kernel& k) { return k.machine().current_thread().id; }

uint64_t PsGetProcessId(Kernel& k, GuestVa process) {
  return k.memory().read<uint64_t>(process + emu::eprocess::kUniqueProcessId);
}

uint8_t PsIsSystemThread(Kernel& k, GuestVa thread) {
  const ps::ThreadRecord* t = k.ps().thread_by_ethread(thread);
  if (!t) return 0;
  const emu::Thread* mt = k.machine().find_thread(t->tid);
  return mt && mt->system ? 1 : 0;
}

uint8_t ExGetPreviousMode(Kernel& k) { return static_cast<uint8_t>(k.machine().previous_mode()); }

// PsGetVersion: Windows 10 (10.0.19045), free build (returns FALSE).
uint8_t PsGetVersion(Kernel& k, GuestVa major, GuestVa minor, GuestVa build, GuestVa csd) {
  if (major) k.memory().write<uint32_t>(major, 10);
  if (minor) k.memory().write<uint32_t>(minor, 0);
  if (build) k.memory().write<uint32_t>(build, 19045);
  if (csd) {
    // CSDVersion: no service pack, an empty string.
    k.memory().write<uint16_t>(csd, 0);
  }
  return 0;
}

// RtlGetVersion fills RTL_OSVERSIONINFOW, or RTL_OSVERSIONINFOEXW when the
// caller's dwOSVersionInfoSize says so.
NtStatus RtlGetVersion(Kernel& k, GuestVa info) {
  auto& mem = k.memory();
  uint32_t size = mem.read<uint32_t>(info);
  mem.write<uint32_t>(info + 4, 10);     // dwMajorVersion
  mem.write<uint32_t>(info + 8, 0);      // dwMinorVersion
  mem.write<uint32_t>(info + 12, 19045); // dwBuildNumber
  mem.write<uint32_t>(info + 16, 2);     // VER_PLATFORM_WIN32_NT
  std::vector<uint8_t> csd(256, 0);      // szCSDVersion[128]: empty
  mem.write(info + 20, csd.data(), csd.size());
  if (size >= 0x11C) {
    mem.write<uint16_t>(info + 0x114, 0);  // wServicePackMajor
    mem.write<uint16_t>(info + 0x116, 0);  // wServicePackMinor
    mem.write<uint16_t>(info + 0x118, 0x100);  // wSuiteMask: VER_SUITE_SINGLEUSERTS
    mem.write<uint8_t>(info + 0x11A, 1);   // wProductType: VER_NT_WORKSTATION
    mem.write<uint8_t>(info + 0x11B, 0);
  }
  return STATUS_SUCCESS;
}

void register_ps_exports(Registry& r) {
  KEMU_EXPORT(r, IoGetCurrentProcess);
  KEMU_EXPORT(r, PsGetCurrentThread);
  KEMU_EXPORT(r, PsGetCurrentProcessId);
  KEMU_EXPORT(r, PsGetCurrentThreadId);
  KEMU_EXPORT(r, PsGetProcessId);
  KEMU_EXPORT(r, PsIsSystemThread);
  KEMU_EXPORT(r, ExGetPreviousMode);
  KEMU_EXPORT(r, PsGetVersion);
  KEMU_EXPORT(r, RtlGetVersion);
}

}  // namespace kemu::nt
