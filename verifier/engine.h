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

#include "emulator/machine.h"
#include "ntoskrnl-stubs/api/kernel_events.h"
#include "verifier/finding.h"

namespace kemu::nt {
class Kernel;
}

namespace kemu::verifier {

namespace probe_checks {
struct State;
}
namespace primitive_checks {
struct State;
}
namespace irql_checks {
struct State;
}
namespace irp_checks {
struct State;
}
namespace request_checks {
struct State;
}
namespace pool_checks {
struct State;
}

class Engine : public nt::KernelListener {
 public:
  // `enabled` says whether a check id is on (--enable / --disable).
  Engine(nt::Kernel& kernel, std::function<bool(std::string_view)> enabled);
  ~Engine() override;

  // The driver is gone (after DriverUnload): the leak checks run.
  // `unload_routine_ran`: DriverUnload was called (a driver without one is
  // never unloaded on Windows, so nothing it left is a leftover).
  void driver_unloaded(bool unload_routine_ran = true);
  const std::vector<Finding>& findings() const { return findings_; }

  // nt::KernelListener
  void api_called(const nt::ApiCall& call) override;
  void api_returned(const nt::ApiCall& call) override;
  void request_started(const nt::RequestStart& request) override;
  void request_returned(uint64_t id, NtStatus status) override;
  void handle_created(const nt::HandleCreated& event) override;
  void handle_closed(const nt::HandleClosed& event) override;
  void memory_accessed(const nt::MemoryAccess& access) override;
  void callback_started(const nt::DriverCallback& callback) override;
  void callback_returned(const nt::DriverCallback& callback) override;

  // --- for the checks ----------------------------------------------------------
  nt::Kernel& kernel() { return kernel_; }
  const nt::RequestStart* request() const { return request_.get(); }
  // A client request still in flight, by its IRP (a pending one completes later).
  const nt::RequestStart* request_of(GuestVa irp) const;
  void request_completed(GuestVa irp) { in_flight_.erase(irp.value); }
  // Whether `value` appears in the current request's caller-controlled bytes.
  bool from_request(uint64_t value) const;
  // Whether the handle names an entry the driver created (and has not closed)
  // in table `pid`.
  bool driver_made(uint32_t pid, uint64_t handle) const;
  // The innermost kernel routine the driver is in (nullptr outside).
  const nt::ApiCall* current_call() const { return calls_.empty() ? nullptr : &calls_.back(); }

  // A pointer reference the driver took (+1) or dropped (-1) on the object
  // whose body is `object`; what is left at unload is a leak.
  void note_reference(GuestVa object, int delta, GuestVa site, const std::string& routine);

  // A system mapping of pages locked for IoReadAccess (buffer.write-read-locked),
  // watched for guest writes until it is unmapped.
  struct ReadLockedMapping {
    GuestVa mdl;
    GuestVa mapping;  // MappedSystemVa (ByteOffset included)
    uint64_t size = 0;  // ByteCount
    GuestVa mapped_at;  // the driver's call that mapped it
    uint64_t watch = 0;  // the machine's write watch
  };
  using ReadLockedWrite =
      std::function<void(const ReadLockedMapping&, GuestVa address, uint32_t size, GuestVa rip)>;
  void watch_read_locked(ReadLockedMapping mapping, ReadLockedWrite on_write);
  // Stops watching the mappings of `mdl_or_mapping` (an MDL or a mapping's address).
  void unwatch_read_locked(GuestVa mdl_or_mapping);

  // The buffers of the running IOCTL as the I/O manager handed them over
  // (buffer.input-overread / output-overflow); the system buffer's tail is
  // watched until the dispatch routine returns.
  struct RequestBuffers {
    uint32_t method = 0;
    uint32_t input_length = 0, output_length = 0;
    GuestVa system_buffer;
    uint64_t system_buffer_size = 0;
    GuestVa type3_input, user_buffer;
    GuestVa slack_begin, slack_end;  // past the system buffer: never the driver's
    // The driver's system mapping of Irp->MdlAddress and, past ByteCount, the
    // rest of its last page (the caller's bytes that are not the buffer).
    GuestVa mdl, mdl_mapping;
    uint64_t mdl_length = 0;
    GuestVa mdl_tail_begin, mdl_tail_end;
  };
  const RequestBuffers* request_buffers() const { return buffers_ ? &*buffers_ : nullptr; }
  void set_request_buffers(RequestBuffers buffers) { buffers_ = buffers; }
  // Watches [begin, begin+size) until the dispatch routine returns.
  void watch_request_buffer(GuestVa begin, uint64_t size, emu::Machine::AccessWatch on_access);

  // The probe checks saw driver code touch user memory outside every __try.
  void user_access_outside_try(GuestVa site, GuestVa address, uint32_t size, bool write);
  // The unknown-request probe's state (verifier/request_checks.h): the harness
  // announces its requests there.
  request_checks::State& request_probe() { return *request_probe_; }

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
  // The request being dispatched, and every request not yet completed (one
  // record shared by both).
  std::shared_ptr<const nt::RequestStart> request_;
  std::map<uint64_t, std::shared_ptr<const nt::RequestStart>> in_flight_;  // by IRP
  std::vector<nt::ApiCall> calls_;
  std::map<std::pair<uint32_t, uint32_t>, DriverHandle> driver_handles_;  // (pid, index) -> how it was made
  struct DriverReference {
    int64_t count = 0;
    GuestVa site;  // where the oldest reference still held was taken
    std::string routine;
  };
  std::map<uint64_t, DriverReference> driver_references_;  // by object body
  std::map<uint64_t, ReadLockedMapping> read_locked_;  // by watch id
  uint64_t fault_observer_ = 0;
  std::optional<RequestBuffers> buffers_;
  std::vector<uint64_t> request_buffer_watches_;
  void end_request_buffers();
  std::vector<Finding> findings_;
  std::map<std::string, size_t> by_key_;  // de-duplication key -> index in findings_
  std::shared_ptr<probe_checks::State> probes_;  // the user-pointer checks' bookkeeping
  std::shared_ptr<primitive_checks::State> primitives_;  // the dangerous-primitive checks' bookkeeping
  uint64_t hardware_observer_ = 0;
  std::shared_ptr<irql_checks::State> irql_;     // the IRQL checks' bookkeeping
  std::shared_ptr<irp_checks::State> irps_;      // the IRP checks' dispatch frames
  std::shared_ptr<request_checks::State> request_probe_;  // the unknown-request probe's verdicts
  std::shared_ptr<pool_checks::State> pool_;     // the pool and unload checks' bookkeeping
};

// "IRP_MJ_DEVICE_CONTROL" for 0x0E ("IRP_MJ_?" past IRP_MJ_PNP).
const char* major_name(uint8_t major);

// memcpy, memmove, RtlCopyMemory, RtlMoveMemory: (Destination, Source, Length),
// copies kemu runs as host code on the driver's behalf.
inline bool is_copy_routine(std::string_view name) {
  return name == "memcpy" || name == "memmove" || name == "RtlCopyMemory" || name == "RtlMoveMemory";
}

// The ranges a memcpy-family or fill routine (memset, RtlFillMemory,
// RtlZeroMemory) writes and reads for the driver; nullopt for other routines.
// `source` is 0 for the fills.
struct CopyCall {
  uint64_t destination = 0, source = 0, length = 0;
};
inline std::optional<CopyCall> copy_call(const nt::ApiCall& call) {
  auto arg = [&](size_t i) { return i < call.args.size() ? call.args[i] : 0; };
  std::string_view name = *call.name;
  if (is_copy_routine(name)) return CopyCall{arg(0), arg(1), arg(2)};
  if (name == "memset") return CopyCall{arg(0), 0, arg(2)};
  if (name == "RtlFillMemory" || name == "RtlZeroMemory") return CopyCall{arg(0), 0, arg(1)};
  return std::nullopt;
}

// The buffer checks at completion (verifier/buffer_checks.cpp).
namespace buffer_checks {
void on_call(Engine& engine, const nt::ApiCall& call);
}  // namespace buffer_checks

// The handle checks (verifier/handle_checks.cpp), called by the engine.
namespace handle_checks {
void on_call(Engine& engine, const nt::ApiCall& call);
void on_return(Engine& engine, const nt::ApiCall& call);
void on_created(Engine& engine, const nt::HandleCreated& event);
}  // namespace handle_checks

// The MDL checks (verifier/mdl_checks.cpp): buffer.null-mdl, buffer.write-read-locked.
namespace mdl_checks {
void on_call(Engine& engine, const nt::ApiCall& call);
void on_return(Engine& engine, const nt::ApiCall& call);
void on_fault(Engine& engine, GuestVa rip, GuestVa address, bool write);
}  // namespace mdl_checks

// The bounds checks (verifier/buffer_bounds_checks.cpp): buffer.input-overread,
// buffer.output-overflow.
namespace bounds_checks {
void on_request_started(Engine& engine, const nt::RequestStart& request);
void on_call(Engine& engine, const nt::ApiCall& call);
void on_return(Engine& engine, const nt::ApiCall& call);
void on_fault(Engine& engine, GuestVa rip, GuestVa address, bool write);
}  // namespace bounds_checks

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

// The dangerous-primitive checks (verifier/primitive_checks.cpp): primitive.*
// and irp.any-access-dangerous.
namespace primitive_checks {
std::shared_ptr<State> make_state();
void on_request(Engine& engine, State& state, const nt::RequestStart& request);
void on_request_end(Engine& engine, State& state);
void on_call(Engine& engine, State& state, const nt::ApiCall& call);
void on_return(Engine& engine, State& state, const nt::ApiCall& call);
void on_hardware(Engine& engine, State& state, const emu::HardwareAccess& access);
void on_fault(Engine& engine, State& state, GuestVa rip, GuestVa address, bool write);
// A driver access to user memory outside every __try (probe.outside-try): a
// view the driver mapped into that process is section.user-view-unsafe too.
void on_user_access_outside_try(Engine& engine, State& state, GuestVa site, GuestVa address, uint32_t size,
                                bool write);
}  // namespace primitive_checks
// The IRQL checks (verifier/irql_checks.cpp): irql.api-level, irql.unbalanced,
// irql.paged-at-dispatch.
namespace irql_checks {
std::shared_ptr<State> make_state();
void on_call(Engine& engine, State& state, const nt::ApiCall& call);
void on_return(Engine& engine, State& state, const nt::ApiCall& call);
void on_callback_started(Engine& engine, State& state, const nt::DriverCallback& callback);
void on_callback_returned(Engine& engine, State& state, const nt::DriverCallback& callback);
void shutdown(Engine& engine, State& state);  // removes its machine watches
}  // namespace irql_checks
// The IRP state checks (verifier/irp_checks.cpp): what each dispatch routine did
// with its IRP when it returned, completions, whole-stack-location copies.
namespace irp_checks {
std::shared_ptr<State> make_state();
void on_request(Engine& engine, State& state, const nt::RequestStart& request);
void on_request_returned(Engine& engine, State& state, uint64_t id, NtStatus status);
void on_call(Engine& engine, State& state, const nt::ApiCall& call);
void on_return(Engine& engine, State& state, const nt::ApiCall& call);
}  // namespace irp_checks
// The unknown-request probe's verdicts (verifier/request_checks.cpp): irp.unhandled-success,
// irp.ioctl-code-masked, irp.insecure-open, irp.use-after-cleanup.
namespace request_checks {
std::shared_ptr<State> make_state();
void on_request(Engine& engine, State& state, const nt::RequestStart& request);
void on_request_end(Engine& engine, State& state, NtStatus returned);
void on_call(Engine& engine, State& state, const nt::ApiCall& call);
void on_return(Engine& engine, State& state, const nt::ApiCall& call);
}  // namespace request_checks
// The pool and unload checks (verifier/pool_checks.cpp): pool.*, unload.leftovers.
namespace pool_checks {
std::shared_ptr<State> make_state();
void on_call(Engine& engine, State& state, const nt::ApiCall& call);
void on_return(Engine& engine, State& state, const nt::ApiCall& call);
void on_guard_fault(Engine& engine, State& state, const emu::Pool::GuardFault& hit, GuestVa rip, GuestVa address,
                    bool write);
void on_fault(Engine& engine, GuestVa rip, GuestVa address, bool write);
void on_unload(Engine& engine, State& state);
}  // namespace pool_checks

}  // namespace kemu::verifier
