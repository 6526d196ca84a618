// The check engine: listens to the kernel's events (api/kernel_events.h),
// keeps what the checks need to know about the running request (the bytes
// its caller controls, the handles the driver made) and turns a check's
// verdict into a finding with a location, stack, context and values,
// de-duplicated per (check, location, request kind) with a count.
//
// Value origin (checks.md "request-derived"): a value came from the caller
// when it appears, as a 4- or 8-byte little-endian integer, in the bytes the
// caller controlled when the request started (the input buffer's contents,
// a METHOD_NEITHER input, a write's data, an open's file name). kemu plants
// no markers yet: a value the driver computed that happens to equal caller
// bytes would count as derived — the checks narrow it further (a handle must
// also be one of the caller's handles, not one the driver made).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ntoskrnl-stubs/api/kernel_events.h"
#include "verifier/finding.h"

namespace kemu::nt {
class Kernel;
}

namespace kemu::verifier {

namespace probe_checks {
struct State;
}

class Engine : public nt::KernelListener {
 public:
  // `enabled` says whether a check id is on (--enable / --disable).
  Engine(nt::Kernel& kernel, std::function<bool(std::string_view)> enabled);
  ~Engine() override;

  // The driver is gone (after DriverUnload): the leak checks run.
  void driver_unloaded();
  const std::vector<Finding>& findings() const { return findings_; }

  // nt::KernelListener
  void api_called(const nt::ApiCall& call) override;
  void api_returned(const nt::ApiCall& call) override;
  void request_started(const nt::RequestStart& request) override;
  void request_returned(uint64_t id, NtStatus status) override;
  void handle_created(const nt::HandleCreated& event) override;
  void handle_closed(const nt::HandleClosed& event) override;
  void memory_accessed(const nt::MemoryAccess& access) override;

  // --- for the checks ----------------------------------------------------------
  nt::Kernel& kernel() { return kernel_; }
  const nt::RequestStart* request() const { return request_ ? &*request_ : nullptr; }
  // Whether `value` appears in the current request's caller-controlled bytes.
  bool from_request(uint64_t value) const;
  // Whether the handle names an entry the driver created (and has not closed)
  // in table `pid`.
  bool driver_made(uint32_t pid, uint64_t handle) const;
  // The innermost kernel routine the driver is in (nullptr outside).
  const nt::ApiCall* current_call() const { return calls_.empty() ? nullptr : &calls_.back(); }

  // Reports a finding of `check` at `site` (the driver's call instruction or
  // the offending instruction); a second one at the same place in the same
  // kind of request only counts.
  void report(std::string_view check, GuestVa site, std::string message,
              std::vector<std::pair<std::string, std::string>> values);

 private:
  struct DriverHandle {
    uint32_t attributes = 0;
    GuestVa site;  // where the driver created it
    std::string routine;
  };
  Finding locate(std::string_view check, GuestVa site) const;

  nt::Kernel& kernel_;
  std::function<bool(std::string_view)> enabled_;
  std::optional<nt::RequestStart> request_;
  std::vector<nt::ApiCall> calls_;
  std::map<std::pair<uint32_t, uint32_t>, DriverHandle> driver_handles_;  // (pid, index) -> how it was made
  std::vector<Finding> findings_;
  std::map<std::string, size_t> by_key_;  // de-duplication key -> index in findings_
  std::shared_ptr<probe_checks::State> probes_;  // the user-pointer checks' bookkeeping
};

// The handle checks (verifier/handle_checks.cpp), called by the engine.
namespace handle_checks {
void on_call(Engine& engine, const nt::ApiCall& call);
void on_return(Engine& engine, const nt::ApiCall& call);
void on_created(Engine& engine, const nt::HandleCreated& event);
}  // namespace handle_checks

// The user-pointer checks (verifier/probe_checks.cpp): probes, user-memory
// accesses of driver code, user addresses handed to ZwXxx or in KernelMode IRPs.
namespace probe_checks {
std::shared_ptr<State> make_state();
void on_request(Engine& engine, State& state, const nt::RequestStart& request);
void on_request_end(Engine& engine, State& state);
void on_call(Engine& engine, State& state, const nt::ApiCall& call);
void on_return(Engine& engine, State& state, const nt::ApiCall& call);
void on_access(Engine& engine, State& state, const nt::MemoryAccess& access);
}  // namespace probe_checks

}  // namespace kemu::verifier
