// kemu::Session — the C++ API behind `kemu run` and driver unit tests:
// load a driver into a fresh emulated machine, run DriverEntry in a system
// thread, unload it, and collect everything that happened as a RunResult.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "emulator/ntstatus.h"
#include "harness/registry_seed.h"
#include "harness/run_result.h"

namespace kemu::harness {

// What to do when the driver calls an export kemu has no handler for (cli.md).
enum class UnimplementedPolicy { Fail, Stop };

// The token of the client process (cli.md `--as`, a scenario's `as:`).
enum class ClientToken { User, Admin };
const char* to_string(ClientToken token);

struct SessionOptions {
  uint64_t max_instructions = 200'000'000;  // --max-instructions
  double timeout_seconds = 60.0;            // --timeout (wall clock)
  uint64_t seed = 0;                        // --seed
  UnimplementedPolicy unimplemented = UnimplementedPolicy::Fail;
  bool strict_imports = false;  // refuse unknown import names, as Windows does
  bool trace = false;           // print every API call to stderr
  // --as: the client's token. Absent: `user`, unless a scenario's `as:` says otherwise.
  std::optional<ClientToken> client_token;
  bool explain = false;         // record --explain sentences (RunResult::explain)
  // --files DIR: the sandbox volume (\??\C:) starts as a copy of this host
  // folder; the host is only read, once. Empty: the volume starts empty.
  std::string files_dir;
  // --enable / --disable (cli.md): check ids of verifier/catalog.h. Empty
  // `enabled_checks` means every check; `disabled_checks` removes from that.
  std::vector<std::string> enabled_checks, disabled_checks;
  // --fail-alloc N / --fail-alloc-rate P (cli.md): the low-resources
  // simulation over the driver's allocation-like calls (see
  // nt::KernelModules::simulate_low_resources); a scenario's `fail_alloc:`
  // sets the first when the command line did not.
  std::optional<uint64_t> fail_alloc;
  std::optional<double> fail_alloc_rate;
};

// Whether the check `id` runs under these options: every check by default,
// only the enabled ones when some are enabled, never a disabled one.
bool check_enabled(const SessionOptions& options, std::string_view id);

// Thrown for failures the user must fix (bad PE, unreadable file): exit 2.
struct SessionError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Session {
 public:
  explicit Session(SessionOptions options = {});
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // The client process's token: a standard user (default) or an elevated
  // administrator. Takes effect for the next client request (an existing
  // client process gets the new token).
  void set_client_token(ClientToken token);
  // A scenario's `fail_alloc: N` (before load; the command line's options win).
  void set_fail_alloc(uint64_t nth);
  ClientToken client_token() const;
  const SessionOptions& options() const;

  // Reads, validates, maps and binds the driver. Throws SessionError.
  void load(const std::string& path);
  void load(std::span<const uint8_t> image, std::string name);

  // Calls DriverEntry(DriverObject, RegistryPath) in a system thread at
  // PASSIVE_LEVEL. Returns its status, or nullopt when the run stopped inside.
  std::optional<NtStatus> driver_entry();

  // Calls DriverUnload when set and records what was left behind.
  void unload();

  // --- the client process (client.exe, a user thread, PreviousMode UserMode) ---
  struct OpenOutcome {
    std::optional<NtStatus> status;  // absent when the request never completed
    uint64_t handle = 0;             // in the client's handle table
    bool pending = false;
  };
  // NtCreateFile by the client: `path` is native (\Device\X, \??\X) or Win32 (\\.\X).
  // Each request is recorded as a step of the run.
  OpenOutcome open(const std::string& path, uint32_t desired_access = 0xC0000000);
  // The client's NtCreateFile of a file in the sandbox (cli.md `file` step):
  // `path` native (\??\C:\data.txt) or Win32 (C:\data.txt, normalized as
  // RtlDosPathNameToNtPathName does); `create` opens or creates it
  // (FILE_OPEN_IF), else it must exist (FILE_OPEN). A synchronous
  // non-directory open sharing read and write, as CreateFile makes it.
  // `information` is IO_STATUS_BLOCK.Information (FILE_OPENED, FILE_CREATED).
  struct FileOutcome {
    std::optional<NtStatus> status;
    uint64_t handle = 0;
    uint64_t information = 0;
    bool pending = false;
  };
  FileOutcome open_file(const std::string& path, uint32_t desired_access = 0xC0000000, bool create = false);
  // NtOpenProcess by the client (cli.md `open_process` step) of the process
  // `pid` (absent: the client's own): a UserMode open, checked against the
  // process's descriptor with the client's token (SeDebugPrivilege, protected
  // processes: ntoskrnl-stubs/ps/process_security.h); granted, the handle is
  // in the client's table. An unknown pid is STATUS_INVALID_CID.
  OpenOutcome open_process(std::optional<uint32_t> pid, uint32_t desired_access);
  // NtClose of a client handle (IRP_MJ_CLEANUP / IRP_MJ_CLOSE follow as Windows sends them).
  NtStatus close(uint64_t handle);
  // NtCancelIoFile by the client: IoCancelIrp for each request its thread
  // issued on the handle's file object, then it waits until they are gone;
  // their steps move from `pending` to their final status (STATUS_CANCELLED
  // when a cancel routine completes them). Absent status: the driver never
  // lets them go (the call would not return).
  std::optional<NtStatus> cancel(uint64_t handle);
  // NtDuplicateObject by the client within its own table (options:
  // DUPLICATE_CLOSE_SOURCE 1, DUPLICATE_SAME_ACCESS 2, DUPLICATE_SAME_ATTRIBUTES 4).
  OpenOutcome duplicate(uint64_t handle, uint32_t options, uint32_t desired_access = 0);

  // Where a client buffer lives (cli.md placements).
  enum class Placement { Normal, PageEnd, Null, Unmapped, Kernel, KernelUnmapped, ReadOnly, Misaligned };
  struct IoctlRequest {
    uint64_t handle = 0;
    uint32_t code = 0;
    std::vector<uint8_t> input;
    std::optional<uint32_t> input_length;  // defaults to input.size(); may lie
    std::vector<uint8_t> output;           // initial contents, padded with zeros
    uint32_t output_length = 0;
    Placement input_placement = Placement::Normal;
    Placement output_placement = Placement::Normal;
  };
  struct IoctlOutcome {
    std::optional<NtStatus> status;
    uint64_t information = 0;
    bool pending = false;
    std::vector<uint8_t> output;  // the client's output buffer afterwards (when readable)
    uint64_t input_address = 0, output_address = 0;
  };
  // NtDeviceIoControlFile by the client with buffers in its address space.
  IoctlOutcome ioctl(const IoctlRequest& request);

  // A buffer the client keeps for the rest of the run (cli.md `buffer` step,
  // an extension): `bytes` padded with zeros to `length`, placed as
  // `placement`; recorded as a step. Returns its address (0 when the run has
  // stopped), for pointers a scenario embeds in later inputs as "{name}".
  uint64_t client_buffer(const std::vector<uint8_t>& bytes, uint32_t length, Placement placement = Placement::Normal);

  // NtReadFile / NtWriteFile by the client (offset absent: the file position).
  IoctlOutcome read(uint64_t handle, uint32_t length, std::optional<int64_t> offset = std::nullopt,
                    Placement placement = Placement::Normal);
  IoctlOutcome write(uint64_t handle, const std::vector<uint8_t>& data, std::optional<int64_t> offset = std::nullopt,
                     Placement placement = Placement::Normal);

  struct EventOutcome {
    NtStatus status = STATUS_SUCCESS;
    uint64_t handle = 0;
  };
  // NtCreateEvent by the client (default EVENT_ALL_ACCESS), a handle in its table.
  EventOutcome create_event(bool synchronization, bool signaled, uint32_t access = 0x1F0003);
  // NtCreateSection by the client (cli.md `section`): an unnamed SEC_COMMIT
  // section, pagefile-backed (`size` bytes) or backed by the client's file
  // handle `file` (size 0: the file's size), a handle in its table. The
  // protection is PAGE_READWRITE when `access` (generic rights mapped
  // through the Section type) includes SECTION_MAP_WRITE, else PAGE_READONLY.
  // Default access SECTION_ALL_ACCESS.
  EventOutcome create_section(uint64_t size, std::optional<uint64_t> file = std::nullopt,
                              uint32_t access = 0xF001F);
  // The scenario's close_during: arms a one-shot trigger for the next client
  // request; when driver code first calls `api` during it, the client's
  // UserMode NtClose of `handle` runs just before kemu's handler for that
  // call. Recorded as a step whose status is the close's, or absent
  // ("not_triggered") when the API was not called.
  void close_during(uint64_t handle, const std::string& api);
  // Runs queued work items, DPCs and system threads until they wait or end.
  void run_pending();
  // Moves virtual time forward (timers fire) and runs what became ready.
  void advance_time_ms(uint64_t ms);
  // Records a step that is not a client request (e.g. a scenario's unload).
  void add_step(StepResult step);
  // Records whether the last step's `expect` held (false makes the exit status 1).
  void mark_last_step_expectation(bool ok);
  // Records the last step's `expect` { status, information } and checks it
  // now, and again when a pending step reaches its final status.
  void expect_last_step(std::optional<uint32_t> status, std::optional<uint64_t> information);

  // --- the registry (cli.md `registry:`) ---
  // Seeds a value: `key` is relative to the driver's service key
  // ("Parameters"; "" is the service key itself) or absolute (\Registry\...);
  // missing keys are created. Before load the value is queued and written
  // before DriverEntry can run. Throws SessionError for a key outside \Registry.
  void set_registry_value(const std::string& key, const std::string& name, RegistryValue value);
  // Creates a key (and its missing parents) the same way.
  void create_registry_key(const std::string& key);
  // What the registry holds now (after load): nullopt for a missing key or value.
  std::optional<RegistryValue> registry_value(const std::string& key, const std::string& name) const;
  bool registry_key_exists(const std::string& key) const;

  // True once the run has stopped (bugcheck, limit, unimplemented with Stop, ...).
  bool stopped() const;

  // The unknown-request probe (checks.md irp.unhandled-success and friends,
  // harness/request_probe.cpp): on a copy of the machine, sends each device
  // the run opened control codes no driver defines, the scenario's codes with
  // other bits, a namespace open as a standard user and a request after
  // IRP_MJ_CLEANUP; its findings join the run's. Runs once, from unload(),
  // when one of its checks is enabled.
  void probe_unknown_requests();
  // Runs `fn` as a system call of the client's thread (PreviousMode UserMode,
  // PASSIVE_LEVEL), guarded as every client request: for the probe's
  // requests that have no method here. Records no step. `service` names the
  // Nt service it stands for (bugcheck 0x4A's first parameter).
  void as_client_call(std::string_view service, const std::function<void()>& fn);

  // load + driver_entry + unload, as `kemu run` without a scenario.
  const RunResult& run(const std::string& path);

  // The result so far (complete after run() or unload()).
  const RunResult& result();

 private:
  std::optional<NtStatus> driver_entry_unguarded();
  // Runs fn as the client's system call `service` (NtDeviceIoControlFile...).
  template <class Fn>
  void as_client(Fn fn, std::string_view service);
  IoctlOutcome transfer(uint64_t handle, bool is_write, const std::vector<uint8_t>& data, uint32_t length,
                        std::optional<int64_t> offset, Placement placement);
  void unload_unguarded();

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kemu::harness
