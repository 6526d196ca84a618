// The verdicts of the unknown-request probe (checks.md "IRPs and dispatch"):
// - irp.unhandled-success: a control code no driver defines, or a request
//   only a file system serves sent to a device's catch-all routine, answered
//   with success. Located at the driver's IofCompleteRequest call that
//   completed it (the dispatch routine's entry when it never completed).
// - irp.ioctl-code-masked: a scenario control code with its device-type or
//   access bits changed is answered exactly as the original (same success
//   status, same Information, the same kernel calls from the same call sites,
//   completed at the same place): the dispatch compared only part of the code.
// - irp.insecure-open: \Device\X\<name> opened by a standard user succeeds
//   while the device's descriptor refuses that user the same access to
//   \Device\X itself. Located at the IoCreateDevice call that made the device.
// - irp.use-after-cleanup: pool the driver freed while handling a file
//   object's IRP_MJ_CLEANUP, read or written (or handed to a kernel routine)
//   during a later request on that file object before its IRP_MJ_CLOSE.
#include "verifier/request_checks.h"

#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "emulator/machine.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/nt_structs.h"
#include "verifier/engine.h"

namespace kemu::verifier::request_checks {

using nt::layout::DEVICE_OBJECT;
using nt::layout::DRIVER_OBJECT;
using nt::layout::FILE_OBJECT;
using nt::layout::IRP;

namespace {
constexpr uint8_t kCleanup = 0x12, kClose = 0x02;
constexpr uint32_t kFoCleanupComplete = 0x4000;  // FO_CLEANUP_COMPLETE

const char* method_name(uint32_t code) {
  static const char* const kMethods[] = {"METHOD_BUFFERED", "METHOD_IN_DIRECT", "METHOD_OUT_DIRECT",
                                         "METHOD_NEITHER"};
  return kMethods[code & 3];
}

const char* access_name(uint32_t code) {
  static const char* const kAccess[] = {"FILE_ANY_ACCESS", "FILE_READ_ACCESS", "FILE_WRITE_ACCESS",
                                        "FILE_READ_ACCESS | FILE_WRITE_ACCESS"};
  return kAccess[(code >> 14) & 3];
}

std::string describe_code(uint32_t code) {
  return fmt::format("{:#010x} (device type {:#x}, function {:#x}, {}, {})", code, code >> 16,
                     (code >> 2) & 0xFFF, method_name(code), access_name(code));
}

// A driver address as module+offset (the raw address outside any module).
std::string where(Engine& e, GuestVa va) {
  auto s = e.kernel().machine().symbolize(va);
  return s ? fmt::format("{}+{:#x}", s->module, s->offset) : hex(va.value);
}

bool is_free_routine(const std::string& name) {
  return name == "ExFreePoolWithTag" || name == "ExFreePool" || name == "ExFreePool2";
}
}  // namespace

// A block the driver freed during a file object's IRP_MJ_CLEANUP.
struct FreedBlock {
  uint64_t address = 0, size = 0;
  uint32_t tag = 0;
  GuestVa freed_at;  // the driver's call that freed it
  std::string routine;
};

// What a request did, as far as the verdicts need it.
struct Answer {
  bool completed = false;
  GuestVa completion_site;
  uint32_t io_status = 0;
  uint64_t information = 0;
  std::vector<uint64_t> call_sites;  // every kernel routine the driver called, in order
  std::vector<uint8_t> returned;     // METHOD_BUFFERED: the Information bytes handed back

  // The same answer by the same path through the driver.
  bool same_as(const Answer& o) const {
    return io_status == o.io_status && information == o.information &&
           completion_site == o.completion_site && call_sites == o.call_sites &&
           returned == o.returned;
  }
};

struct State {
  ProbeRequest next;  // announced for the next client request
  std::optional<LastRequest> last;
  // The running request.
  uint64_t request = 0;
  ProbeRequest probe;
  GuestVa irp, file, device, dispatch;
  Answer answer;
  std::vector<FreedBlock> watched;     // freed in this file's CLEANUP, watched now
  std::set<uint64_t> blocks_reported;  // in this request: one finding per freed block
  // Reference answers of re-sent scenario codes (by code), and the answers
  // of unknown codes (by device): a variant answered like its original
  // proves nothing when unknown codes get that answer too.
  std::map<uint32_t, Answer> originals;
  std::map<uint64_t, std::vector<Answer>> unknown_answers;
  std::set<std::pair<std::string, uint64_t>>
      reported;                            // (check, completion site): one finding per place
  std::map<uint64_t, GuestVa> created_at;  // DEVICE_OBJECT -> IoCreateDevice call
  std::map<uint64_t, std::vector<FreedBlock>> freed_in_cleanup;  // FILE_OBJECT -> blocks
};

std::shared_ptr<State> make_state() {
  return std::make_shared<State>();
}

void expect(State& state, ProbeRequest request) {
  state.next = std::move(request);
}

std::optional<LastRequest> last_request(const State& state) {
  return state.last;
}

namespace {

void report_use(Engine& e, const FreedBlock& b, GuestVa site, uint64_t address, uint64_t size,
                const char* how) {
  const nt::RequestStart* rq = e.request();
  e.report(
      "irp.use-after-cleanup", site,
      fmt::format(
          "{} {:#x} bytes at {:#x}, inside the {:#x}-byte pool block at {:#x} that {} freed while "
          "handling IRP_MJ_CLEANUP of this file object: CLEANUP means the last handle is gone, not "
          "the "
          "last reference, and this request arrived before IRP_MJ_CLOSE.",
          how, size, address, b.size, b.address, b.routine),
      {{"address", hex(address)},
       {"size", hex(size)},
       {"block", hex(b.address)},
       {"block_size", hex(b.size)},
       {"tag", hex(b.tag)},
       {"freed_by", b.routine},
       {"freed_at", where(e, b.freed_at)},
       {"major", rq ? fmt::format("{:#x}", rq->major) : std::string("?")}});
}

}  // namespace

void on_request(Engine& e, State& s, const nt::RequestStart& rq) {
  auto& mem = e.kernel().memory();
  s.request = rq.id;
  s.last = LastRequest{rq.major, rq.ioctl};
  s.probe = std::exchange(s.next, ProbeRequest{});
  s.irp = rq.irp;
  s.answer = Answer{};
  s.watched.clear();
  s.blocks_reported.clear();
  s.file = GuestVa{mem.try_read<uint64_t>(rq.irp + offsetof(IRP, OriginalFileObject)).value_or(0)};
  s.device = s.file ? GuestVa{mem.try_read<uint64_t>(s.file + offsetof(FILE_OBJECT, DeviceObject))
                                  .value_or(0)}
                    : GuestVa{};
  s.dispatch = GuestVa{};
  if (s.device) {
    GuestVa driver{
        mem.try_read<uint64_t>(s.device + offsetof(DEVICE_OBJECT, DriverObject)).value_or(0)};
    if (driver && rq.major <= nt::layout::kIrpMjMaximumFunction)
      s.dispatch = GuestVa{
          mem.try_read<uint64_t>(driver + offsetof(DRIVER_OBJECT, MajorFunction) + 8 * rq.major)
              .value_or(0)};
  }
  if (!s.file) return;
  // A new CLEANUP starts a new record; CLOSE ends the file object's life.
  if (rq.major == kCleanup) s.freed_in_cleanup[s.file.value].clear();
  if (rq.major == kClose) {
    s.freed_in_cleanup.erase(s.file.value);
    return;
  }
  // A request after this file's CLEANUP: what the driver freed then is watched.
  auto freed = s.freed_in_cleanup.find(s.file.value);
  if (freed == s.freed_in_cleanup.end() || freed->second.empty()) return;
  auto flags = mem.try_read<uint32_t>(s.file + offsetof(FILE_OBJECT, Flags));
  if (!flags || !(*flags & kFoCleanupComplete)) return;
  emu::Pool& pool = e.kernel().machine().pool();
  for (const FreedBlock& b : freed->second) {
    if (pool.block_containing(GuestVa{b.address})) continue;  // handed out again since
    s.watched.push_back(b);
    e.watch_request_buffer(GuestVa{b.address}, b.size,
                           [&e, &s, b](GuestVa address, uint32_t size, GuestVa rip, bool write) {
                             // Only while the block is still free (not handed out again).
                             if (e.kernel().machine().pool().block_containing(address)) return;
                             if (!s.blocks_reported.insert(b.address).second) return;
                             report_use(e, b, rip, address.value, size, write ? "wrote" : "read");
                           });
  }
}

void on_call(Engine& e, State& s, const nt::ApiCall& call) {
  const nt::RequestStart* rq = e.request();
  if (!rq || rq->id != s.request) return;
  const std::string& name = *call.name;
  s.answer.call_sites.push_back(call.call_site.value);
  auto& mem = e.kernel().memory();
  if (name == "IofCompleteRequest" && !call.args.empty() && call.args[0] == s.irp.value &&
      !s.answer.completed) {
    s.answer.completed = true;
    s.answer.completion_site = call.call_site;
    s.answer.io_status = mem.try_read<uint32_t>(s.irp + offsetof(IRP, IoStatus)).value_or(0);
    s.answer.information = mem.try_read<uint64_t>(s.irp + offsetof(IRP, IoStatus) + 8).value_or(0);
    // What a METHOD_BUFFERED control request hands back (the system buffer's first Information
    // bytes).
    if ((rq->major == 0x0E || rq->major == 0x0F) && (rq->ioctl & 3) == 0 &&
        s.answer.information <= 0x10000) {
      GuestVa system{mem.try_read<uint64_t>(s.irp + offsetof(IRP, AssociatedIrp)).value_or(0)};
      s.answer.returned.resize(s.answer.information);
      if (!system || !mem.read(system, s.answer.returned.data(), s.answer.returned.size()))
        s.answer.returned.clear();
    }
  }
  if (is_free_routine(name) && !call.args.empty()) {
    // Pool freed while the driver handles a CLEANUP: per-file state, likely.
    if (rq->major == kCleanup && s.file) {
      if (const emu::PoolBlock* b = e.kernel().machine().pool().block_at(GuestVa{call.args[0]}))
        s.freed_in_cleanup[s.file.value].push_back(
            FreedBlock{b->address.value, b->size, b->tag, call.call_site, name});
    }
    return;  // freeing freed pool again is the pool checks' business
  }
  // A pointer into freed per-file state handed to a kernel routine.
  for (const FreedBlock& b : s.watched)
    for (uint64_t arg : call.args)
      if (arg >= b.address && arg < b.address + b.size &&
          !e.kernel().machine().pool().block_containing(GuestVa{arg})) {
        if (!s.blocks_reported.insert(b.address).second) return;
        report_use(e, b, call.call_site, arg, 0, fmt::format("passed to {}", name).c_str());
        return;
      }
}

void on_return(Engine& e, State& s, const nt::ApiCall& call) {
  // Which call made each device (irp.insecure-open is located there).
  if (*call.name == "IoCreateDevice" && call.args.size() >= 7 &&
      nt_success(static_cast<NtStatus>(call.result))) {
    auto device = e.kernel().memory().try_read<uint64_t>(GuestVa{call.args[6]});
    if (device && *device) s.created_at[*device] = call.call_site;
  }
}

void on_request_end(Engine& e, State& s, NtStatus returned) {
  const nt::RequestStart* rq = e.request();
  if (!rq || rq->id != s.request) return;
  ProbeRequest probe = std::exchange(s.probe, ProbeRequest{});
  s.watched.clear();
  if (probe.kind == ProbeKind::None) return;
  // Only an answer counts: a request left pending or never completed is another check's.
  if (!s.answer.completed || returned == STATUS_PENDING) return;
  NtStatus status = returned;
  Answer answer = s.answer;
  answer.io_status = static_cast<uint32_t>(status);  // what the caller sees
  const Answer& a = answer;
  GuestVa site = a.completion_site ? a.completion_site : s.dispatch;
  switch (probe.kind) {
    case ProbeKind::UnknownControl:
      s.unknown_answers[s.device.value].push_back(a);
      if (!nt_success(status) || !s.reported.insert({"irp.unhandled-success", site.value}).second)
        return;
      e.report(
          "irp.unhandled-success", site,
          fmt::format(
              "the control code {}, which no driver defines, was answered {:#010x} with "
              "Information "
              "{:#x}: a request the driver does not implement must fail "
              "(STATUS_INVALID_DEVICE_REQUEST "
              "or STATUS_NOT_SUPPORTED) with Information 0, or the caller believes it happened.",
              describe_code(rq->ioctl), status, a.information),
          {{"ioctl", fmt::format("{:#010x}", rq->ioctl)},
           {"status", fmt::format("{:#010x}", status)},
           {"information", hex(a.information)},
           {"dispatch", where(e, s.dispatch)}});
      return;
    case ProbeKind::UnsupportedMajor:
      if (!nt_success(status) || !s.reported.insert({"irp.unhandled-success", site.value}).second)
        return;
      e.report(
          "irp.unhandled-success", site,
          fmt::format(
              "a request only a file system serves (major function {:#x}) reached the routine the "
              "driver installed for several major functions and was answered {:#010x} with "
              "Information {:#x}: a request the driver does not implement must fail with "
              "STATUS_INVALID_DEVICE_REQUEST and Information 0.",
              rq->major, status, a.information),
          {{"major", fmt::format("{:#x}", rq->major)},
           {"status", fmt::format("{:#010x}", status)},
           {"information", hex(a.information)},
           {"dispatch", where(e, s.dispatch)}});
      return;
    case ProbeKind::OriginalControl:
      s.originals[rq->ioctl] = a;
      return;
    case ProbeKind::AlteredControl: {
      auto it = s.originals.find(probe.original_code);
      if (it == s.originals.end() || !nt_success(status)) return;
      const Answer& o = it->second;
      if (!a.same_as(o)) return;
      for (const Answer& unknown : s.unknown_answers[s.device.value])
        if (unknown.same_as(o))
          return;  // unknown codes get this answer too: nothing shows a shared handler
      if (!s.reported.insert({"irp.ioctl-code-masked", site.value}).second) return;
      uint32_t changed = rq->ioctl ^ probe.original_code;
      std::string what = (changed & 0xFFFF0000)
                             ? fmt::format("device type {:#x} instead of {:#x}", rq->ioctl >> 16,
                                           probe.original_code >> 16)
                             : fmt::format("{} instead of {}", access_name(rq->ioctl),
                                           access_name(probe.original_code));
      e.report(
          "irp.ioctl-code-masked", site,
          fmt::format(
              "the control code {:#010x} ({}) was answered exactly as the driver's own {:#010x} "
              "(status {:#010x}, Information {:#x}, the same path through the driver): the "
              "dispatch "
              "compares only part of IoControlCode, so a caller can choose the transfer method, "
              "the "
              "access the I/O manager checks and the device type.",
              rq->ioctl, what, probe.original_code, status, a.information),
          {{"ioctl", fmt::format("{:#010x}", rq->ioctl)},
           {"original_ioctl", fmt::format("{:#010x}", probe.original_code)},
           {"status", fmt::format("{:#010x}", status)},
           {"information", hex(a.information)}});
      return;
    }
    case ProbeKind::NamespaceOpen: {
      if (!nt_success(status) || nt_success(probe.plain_open_status)) return;
      auto made = s.created_at.find(s.device.value);
      GuestVa where = made != s.created_at.end() ? made->second : s.dispatch;
      uint32_t characteristics =
          e.kernel()
              .memory()
              .try_read<uint32_t>(s.device + offsetof(DEVICE_OBJECT, Characteristics))
              .value_or(0);
      e.report(
          "irp.insecure-open", where,
          fmt::format(
              "a standard user opened {} with access {:#x}, which the device's security descriptor "
              "refuses that user for the device itself ({:#010x}): without FILE_DEVICE_SECURE_OPEN "
              "the "
              "I/O manager checks the descriptor only when nothing follows the device's name.",
              probe.path, probe.desired_access, probe.plain_open_status),
          {{"path", probe.path},
           {"desired_access", hex(probe.desired_access)},
           {"device_open_status", fmt::format("{:#010x}", probe.plain_open_status)},
           {"characteristics", fmt::format("{:#010x}", characteristics)},
           {"status", fmt::format("{:#010x}", status)}});
      return;
    }
    case ProbeKind::None:
      return;
  }
}

}  // namespace kemu::verifier::request_checks
