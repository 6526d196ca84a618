// Previous-mode routing of system services (semantics.md §3). A kernel
// caller's ZwXxx goes through the system-service dispatcher, which sets the
// thread's PreviousMode to KernelMode for the call and restores it after; an
// NtXxx called from kernel code keeps whatever PreviousMode the thread has
// (UserMode inside a dispatch routine serving a client's request).
//
// Every ZwXxx handler is written as
//   NtStatus ZwFoo(Kernel& k, ...) { return as_kernel_caller(k, [&] { return NtFoo(k, ...); }); }
// and NtFoo reads k.machine().previous_mode() for its probes and access checks.
#pragma once

#include <type_traits>

#include "emulator/machine.h"
#include "emulator/processor_layout.h"
#include "emulator/types.h"
#include "ntoskrnl-stubs/kernel.h"

namespace kemu::nt {

// Runs fn with the current thread's PreviousMode set to KernelMode and then
// restores the mode it had (also when fn throws: a guest access error
// unwinding through a handler must not leave the thread in KernelMode).
template <class Fn>
auto as_kernel_caller(Kernel& k, Fn&& fn) -> std::invoke_result_t<Fn&> {
  emu::Machine& m = k.machine();
  struct Restore {
    emu::AddressSpace& memory;
    GuestVa ethread;
    ProcessorMode saved;
    ~Restore() {
      // The caller's thread, even if the service switched threads while it waited.
      const auto mode = static_cast<uint8_t>(saved);
      if (ethread) memory.write(ethread + emu::kthread::kPreviousMode, &mode, 1);  // never throws
    }
  } restore{m.memory(), m.current_thread().ethread, m.previous_mode()};
  if (restore.saved == ProcessorMode::UserMode && k.explainer().enabled())
    k.explainer().say(k.caller_description() +
                      ": a ZwXxx call from kernel code runs with PreviousMode KernelMode (it was UserMode), so the "
                      "handles and pointers it is given are trusted: no access check, no probe.");
  m.set_previous_mode(ProcessorMode::KernelMode);
  return fn();
}

// KPROCESSOR_MODE argument of a kernel routine (KernelMode 0, UserMode 1).
constexpr ProcessorMode processor_mode(uint8_t raw) {
  return raw ? ProcessorMode::UserMode : ProcessorMode::KernelMode;
}

}  // namespace kemu::nt
