// The highest IRQL each kernel routine kemu implements may be called at
// (irql.api-level), from Microsoft's documentation of each routine (its
// "IRQL" requirement). Families where the documentation agrees: system
// services (Zw*/Nt*) PASSIVE_LEVEL; pageable security, registry and string
// routines (Se*, most Rtl*) PASSIVE_LEVEL; the C runtime on resident memory,
// interlocked and time routines any IRQL. Where the limit depends on an
// argument (paged or nonpaged pool, a wait with or without a timeout, a user
// or kernel mapping) the entry names the rule and the argument.
// tests/unit/verifier/irql_table_test.cpp fails when a routine with a
// handler has no entry.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace kemu::verifier::irql_table {

constexpr uint8_t kPassive = 0;
constexpr uint8_t kApc = 1;
constexpr uint8_t kDispatch = 2;
constexpr uint8_t kSynch = 12;  // SYNCH_LEVEL on x64
constexpr uint8_t kHigh = 15;   // any IRQL

enum class Rule : uint8_t {
  Fixed,
  // POOL_TYPE in the first argument: paged pool <= APC_LEVEL, nonpaged <= DISPATCH_LEVEL.
  PoolTypeArg0,
  // ExAllocatePool2's POOL_FLAGS: POOL_FLAG_PAGED <= APC_LEVEL.
  PoolFlagsArg0,
  // The block being freed: paged pool <= APC_LEVEL.
  FreedBlockArg0,
  // KeWaitFor*: a zero timeout may be used at DISPATCH_LEVEL, any other
  // (or none) only at <= APC_LEVEL. The timeout pointer's argument index.
  WaitTimeoutArg4,
  WaitTimeoutArg6,
  // KeSetEvent(Wait = TRUE): <= APC_LEVEL (the IrqlKeSetEvent rule).
  SetEventWaitArg2,
  // MmMapLockedPages*(AccessMode = UserMode): <= APC_LEVEL.
  AccessModeArg1,
  // MmUnmapLockedPages of a user-space mapping: <= APC_LEVEL.
  UserMappingArg0,
  // MmProbeAndLockPages of pageable memory (user space, paged pool): <= APC_LEVEL.
  ProbedRangeArg0,
  // The DbgPrint family: any IRQL, but a format with a Unicode conversion
  // (%C, %S, %lc, %ls, %wc, %ws, %wZ) only at PASSIVE_LEVEL. The format's argument index.
  FormatArg0,
  FormatArg2,
  FormatArg3,
};

struct Limit {
  std::string_view routine;
  uint8_t max_irql;  // with Rule::Fixed; otherwise the least restrictive case
  Rule rule;
};

// Every entry, sorted by routine name.
std::span<const Limit> all();
// The entry of `routine`, or nullptr.
const Limit* find(std::string_view routine);
// "PASSIVE_LEVEL", "DISPATCH_LEVEL", ... ("IRQL 5" otherwise).
std::string_view level_name(uint8_t irql);

}  // namespace kemu::verifier::irql_table
