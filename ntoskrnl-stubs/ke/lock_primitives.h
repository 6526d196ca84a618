// The building blocks the lock routines share (ke/lock_exports.cpp,
// ex/resource_exports.cpp, ex/lookaside_exports.cpp, ex/interlocked_exports.cpp):
// IRQL changes, the spin-lock word with its one-processor deadlock rule,
// critical and guarded regions, and restartable waits.
#pragma once

#include <cstdint>
#include <string_view>

#include "emulator/types.h"

namespace kemu::nt {
class Kernel;
class Registry;

// The ex/ parts of the lock routines, registered by register_lock_exports.
void register_resource_exports(Registry& r);
void register_lookaside_exports(Registry& r);
void register_interlocked_exports(Registry& r);
}  // namespace kemu::nt

namespace kemu::nt::ke {

// KTHREAD fields of Windows 10 x64 (1507 to 22H2): KernelApcDisable and
// SpecialApcDisable are SHORTs overlaid by the ULONG CombinedApcDisable.
namespace kthread_apc {
constexpr uint64_t kKernelApcDisable = 0x1E4;
constexpr uint64_t kSpecialApcDisable = 0x1E6;
constexpr uint64_t kCombinedApcDisable = 0x1E4;
}  // namespace kthread_apc

constexpr uint8_t kSynchLevel = 12;  // SYNCH_LEVEL on x64

// KfRaiseIrql: returns the IRQL before the change.
uint8_t raise_irql(Kernel& k, uint8_t level);
// KfLowerIrql: dropping from DISPATCH_LEVEL or above to below it runs the
// queued DPCs, as the DISPATCH interrupt would.
void lower_irql(Kernel& k, uint8_t level);

// Takes the spin-lock word at `lock`, writing `held_value` (non-zero). A lock
// that is already held can never be released on a one-processor machine (its
// holder is this processor): the run stops with reason `deadlock` naming the
// lock and `routine`, where Windows would spin forever. Returns false then.
bool take_spin_lock(Kernel& k, GuestVa lock, uint64_t held_value, std::string_view routine);
// Clears the spin-lock word.
void drop_spin_lock(Kernel& k, GuestVa lock);

// KeEnter/LeaveCriticalRegion and KeEnter/LeaveGuardedRegion on the current thread.
void enter_critical_region(Kernel& k);
void leave_critical_region(Kernel& k);
void enter_guarded_region(Kernel& k);
void leave_guarded_region(Kernel& k);

// True when the current thread is calling a lock routine again after a wait
// inside it suspended the thread: the steps before that wait already happened
// (a waiter already counted itself) and must not be repeated.
bool resuming_wait(Kernel& k);

}  // namespace kemu::nt::ke
