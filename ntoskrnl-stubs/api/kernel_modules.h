// kemu's synthesized kernel modules — ntoskrnl.exe and hal.dll — mapped in
// the kernel half as real PE images with export directories, so imports bind,
// MmGetSystemRoutineAddress finds routines and drivers that walk export
// tables see what Windows would show. Every function export is a 16-byte
// thunk that traps into its C++ handler; every data export is a real
// variable. This class is the loader's ExportResolver and the machine's
// TrapTarget, and applies the documented policy for routines without a
// handler and for import names kemu does not know (cli.md).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "emulator/machine.h"
#include "loader/pe_loader.h"
#include "ntoskrnl-stubs/api/export_table.h"
#include "ntoskrnl-stubs/api/registry.h"

namespace kemu::nt {

class Kernel;

struct ApiCall;

struct ApiEntry {
  std::string module;
  std::string name;
  const ExportDesc* desc = nullptr;  // null for unknown imports and internal routines
  HandlerFn handler = nullptr;
  GuestVa address;
  bool unknown_import = false;  // bound by bind_unknown: not an export kemu knows
  bool internal = false;        // a kernel routine that is not exported
  uint64_t calls = 0;
};

// One allocation-like call the low-resources simulation failed.
struct FailedAllocation {
  uint64_t number = 0;   // its place among the driver's allocation-like calls (1-based)
  std::string routine;   // "ExAllocatePoolWithTag"
  GuestVa call_site;     // the driver's call instruction
  std::string module;    // ... symbolised when it failed (the driver may be gone later)
  uint64_t offset = 0;
  std::string symbol;
};

struct UnimplementedRecord {
  std::string api;  // "ntoskrnl.exe!Name"
  uint64_t calls = 0;
  bool unknown_export = false;
};

class KernelModules : public emu::TrapTarget, public loader::ExportResolver {
 public:
  static constexpr GuestVa kNtoskrnlBase{0xFFFF'F800'1000'0000ull};
  static constexpr GuestVa kHalBase{0xFFFF'F800'1800'0000ull};
  static constexpr GuestVa kUnknownImportThunks{0xFFFF'F800'1F00'0000ull};
  static constexpr uint64_t kUnknownImportCapacity = 4096;

  KernelModules(Kernel& kernel, const Registry& registry, const std::vector<ExportDesc>& exports);

  // Maps the images; internal routines (not exported) are named up front.
  void build(const std::vector<std::pair<std::string, HandlerFn>>& internal_routines);
  // Runs the data-export initializers (after the object manager exists).
  void initialize_data();

  // MmGetSystemRoutineAddress: ntoskrnl.exe first, then hal.dll.
  std::optional<GuestVa> routine_address(std::string_view name) const;
  GuestVa internal_routine(std::string_view name) const;
  // Address of a data export's variable (e.g. "IoFileObjectType").
  std::optional<GuestVa> data_export(std::string_view name) const;

  std::vector<UnimplementedRecord> unimplemented() const;
  // A routine kemu implements reached a case it does not model (an
  // information class, an option): recorded like a call without a handler,
  // as "module!Routine (detail)", and stops the run under --unimplemented
  // stop. The handler then returns the failure it documents.
  void unimplemented_case(std::string_view routine, std::string_view detail);
  // A one-shot trigger (the scenario's close_during): `fire` runs when driver
  // code next calls `routine`, just before kemu's handler for that call.
  void arm_trigger(std::string routine, std::function<void()> fire) {
    trigger_routine_ = std::move(routine);
    trigger_ = std::move(fire);
  }
  void disarm_trigger() { trigger_ = nullptr; }
  // The routine a driver called that is running now (innermost), or null.
  const ApiEntry* current_call() const { return calls_.empty() ? nullptr : calls_.back(); }

  // Low-resources simulation (cli.md --fail-alloc N / --fail-alloc-rate P):
  // the driver's allocation-like calls are counted from the start of the run
  // and the N-th fails (or each fails with probability P, drawn from `seed`),
  // returning NULL without doing anything. See allocation_like() for which
  // calls count. kemu's own allocations never fail.
  void simulate_low_resources(std::optional<uint64_t> nth, std::optional<double> rate, uint64_t seed);
  const std::vector<FailedAllocation>& failed_allocations() const { return failed_; }
  uint64_t allocation_calls() const { return allocation_calls_; }
  const std::vector<ApiEntry>& entries() const { return entries_; }
  bool has_handler(std::string_view module, std::string_view name) const;

  // emu::TrapTarget
  void on_trap(emu::Machine& machine, uint32_t id) override;
  // loader::ExportResolver
  std::optional<GuestVa> by_name(std::string_view module, std::string_view name) override;
  std::optional<GuestVa> by_ordinal(std::string_view module, uint16_t ordinal) override;
  std::optional<GuestVa> bind_unknown(std::string_view module, std::string_view name,
                                      std::optional<uint16_t> ordinal) override;

 private:
  struct Image {
    std::string name;
    GuestVa base;
    uint64_t size = 0;
    std::vector<uint32_t> ordinal_to_entry;            // ordinal - 1 -> entry index
    std::map<std::string, uint32_t, std::less<>> by_name;  // name -> entry index
  };
  void build_image(Image& image, const std::vector<const ExportDesc*>& exports,
                   const std::vector<std::pair<std::string, HandlerFn>>& internal);
  const Image* find_image(std::string_view module) const;
  void unimplemented_call(emu::Machine& machine, ApiEntry& entry);
  ApiCall describe_call(emu::Machine& machine, const ApiEntry& e) const;
  void trace_call(emu::Machine& machine, const ApiEntry& entry, bool before);

  Kernel& kernel_;
  const Registry& registry_;
  const std::vector<ExportDesc>& exports_;
  std::vector<ApiEntry> entries_;
  std::vector<Image> images_;
  std::map<std::string, GuestVa, std::less<>> internal_;
  uint64_t unknown_used_ = 0;
  std::map<std::string, uint32_t> unknown_by_key_;
  std::map<std::string, uint64_t> unimplemented_cases_;
  std::vector<const ApiEntry*> calls_;  // routines running now, outermost first
  std::string trigger_routine_;
  std::function<void()> trigger_;
  bool should_fail(emu::Machine& machine, const ApiEntry& e);
  std::optional<uint64_t> fail_nth_;
  std::optional<double> fail_rate_;
  uint64_t fail_state_ = 0;  // splitmix64 state (from --seed)
  uint64_t allocation_calls_ = 0;
  std::vector<FailedAllocation> failed_;
};

}  // namespace kemu::nt
