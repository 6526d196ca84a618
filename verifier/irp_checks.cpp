// IRP state checks: what a dispatch routine did with its IRP by the time it
// returned, and how the driver completes and passes IRPs on (checks.md "IRPs
// and dispatch").
//
// A dispatch frame opens when a request reaches a dispatch routine of the
// driver — a client's request (request_started) or an IRP the driver passes
// to a device with IoCallDriver (including its own devices) — and closes
// when that routine returns (request_returned / IofCallDriver's return, whose
// value is the routine's). While it is open the frame notes whether the
// routine completed the IRP (and the status, Information and the stack
// location's Control at that moment: IoCompleteRequest clears the location
// and may free the IRP) or passed it on with IoCallDriver. IoMarkIrpPending is
// a macro (SL_PENDING_RETURNED in the current location's Control): it is read
// from the location when the routine returns, or as it was at completion.
// - irp.lost: returned neither STATUS_PENDING nor with the IRP completed,
//   marked pending or passed on: nobody will ever complete it.
// - irp.pending-mismatch: STATUS_PENDING returned without SL_PENDING_RETURNED,
//   or SL_PENDING_RETURNED set and another status returned.
// - irp.status-mismatch: completed, and returned a status other than the
//   IoStatus.Status it was completed with (STATUS_PENDING aside).
// - irp.bad-completion-status: IoCompleteRequest with IoStatus.Status
//   STATUS_PENDING or -1, or with Irp->CancelRoutine still set (at the call);
//   a dispatch routine returning -1.
// - irp.double-completion: IoCompleteRequest on an IRP whose completion
//   already gave it back to the I/O manager (bug check 0x44 follows).
// - irp.stack-copy: IoCallDriver with a next stack location that carries the
//   current location's completion routine and context (a whole-structure copy).
// Findings made at a dispatch routine's return are located at the routine's
// entry (the MajorFunction the request reached): kemu sees the return, not the
// `ret` instruction. A routine that passed the IRP on is judged only for a
// returned -1: what it returns is the lower driver's answer.
#include <map>
#include <memory>
#include <set>
#include <vector>

#include <fmt/format.h>

#include "ntoskrnl-stubs/io/io_manager.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/nt_structs.h"
#include "verifier/engine.h"

namespace kemu::verifier::irp_checks {

using nt::layout::DEVICE_OBJECT;
using nt::layout::DRIVER_OBJECT;
using nt::layout::IO_STACK_LOCATION;
using nt::layout::IRP;

namespace {

constexpr uint8_t kSlPendingReturned = 0x01;
constexpr uint32_t kStatusPending = 0x103;
constexpr uint32_t kStatusMinusOne = 0xFFFFFFFF;
constexpr uint8_t kDeviceControl = 0x0E, kInternalDeviceControl = 0x0F;

}  // namespace

struct State {
  struct Frame {
    GuestVa irp;
    GuestVa stack;     // the stack location the routine got
    GuestVa dispatch;  // the routine
    uint8_t major = 0;
    uint32_t ioctl = 0;
    uint64_t request = 0;  // the client request's id, 0 for an IoCallDriver
    bool judged = false;   // a dispatch routine of the driver (not the I/O manager's default)
    bool forwarded = false;
    bool completed = false;
    uint32_t completed_status = 0;
    uint64_t completed_information = 0;
    uint8_t completed_control = 0;  // the location's Control when IoCompleteRequest was called
  };
  std::vector<Frame> frames;
  // IRPs the I/O manager built whose completion gave them back (finished and
  // freed), by address, with the call that completed them.
  std::map<uint64_t, GuestVa> given_back;
  // IoCompleteRequest calls under way on an IRP the I/O manager built.
  std::vector<uint64_t> completing;
};

std::shared_ptr<State> make_state() {
  return std::make_shared<State>();
}

namespace {

// Whether `va` is driver code: in a module, not kemu's kernel (whose call
// trampolines have no module).
bool in_driver_image(Engine& e, GuestVa va) {
  auto s = e.kernel().machine().symbolize(va);
  return s && s->module != "ntoskrnl.exe" && s->module != "hal.dll";
}

// Where a finding about the driver's call goes: the call instruction, or for a
// tail call (a jmp to the routine leaves no call instruction; the return
// address is kemu's) the dispatch routine the IRP is in, when there is one.
GuestVa call_site(Engine& e, const State& s, const nt::ApiCall& call, GuestVa irp) {
  if (in_driver_image(e, call.call_site)) return call.call_site;
  for (size_t i = s.frames.size(); i-- > 0;)
    if (s.frames[i].irp == irp && s.frames[i].judged) return s.frames[i].dispatch;
  return call.call_site;
}

// The dispatch routine `device`'s driver has for `major`, and whether it is
// the driver's code (a routine inside a loaded driver's image).
GuestVa dispatch_of(Engine& e, GuestVa device, uint8_t major, bool* driver_code) {
  auto& mem = e.kernel().memory();
  *driver_code = false;
  auto driver = mem.try_read<uint64_t>(device + offsetof(DEVICE_OBJECT, DriverObject));
  if (!driver || !*driver) return GuestVa{};
  auto routine = mem.try_read<uint64_t>(GuestVa{*driver} + offsetof(DRIVER_OBJECT, MajorFunction) +
                                        8ull * (major & 0x1F));
  if (!routine) return GuestVa{};
  if (const nt::io::DriverRecord* d = e.kernel().io().driver(GuestVa{*driver}))
    *driver_code =
        *routine >= d->image_base.value && *routine < d->image_base.value + d->image_size;
  return GuestVa{*routine};
}

State::Frame open_frame(Engine& e, GuestVa irp, GuestVa device, uint64_t request) {
  auto& mem = e.kernel().memory();
  State::Frame f;
  f.irp = irp;
  f.request = request;
  // The routine gets the location below the current one (IofCallDriver moves down).
  auto current = mem.try_read<uint64_t>(irp + offsetof(IRP, CurrentStackLocation));
  if (!current) return f;
  f.stack = GuestVa{*current - sizeof(IO_STACK_LOCATION)};
  auto major = mem.try_read<uint8_t>(f.stack + offsetof(IO_STACK_LOCATION, MajorFunction));
  if (!major) return f;
  f.major = *major;
  if (f.major == kDeviceControl || f.major == kInternalDeviceControl)
    f.ioctl =
        mem.try_read<uint32_t>(f.stack + offsetof(IO_STACK_LOCATION, IoControlCode)).value_or(0);
  f.dispatch = dispatch_of(e, device, f.major, &f.judged);
  return f;
}

std::vector<std::pair<std::string, std::string>> frame_values(const State::Frame& f,
                                                              uint32_t returned) {
  std::vector<std::pair<std::string, std::string>> v{{"irp", hex(f.irp.value)},
                                                     {"major", major_name(f.major)}};
  if (f.major == kDeviceControl || f.major == kInternalDeviceControl)
    v.emplace_back("ioctl", hex(f.ioctl));
  v.emplace_back("returned_status", hex(returned));
  return v;
}

// The routine of `f` returned `returned`: what it did with the IRP must match.
void judge(Engine& e, const State::Frame& f, uint32_t returned) {
  if (!f.judged || !f.dispatch) return;
  if (returned == kStatusMinusOne)
    e.report(
        "irp.bad-completion-status", f.dispatch,
        fmt::format("the {} dispatch routine returned -1 (0xFFFFFFFF), which is not an NTSTATUS a "
                    "dispatch routine "
                    "may return: the I/O manager hands it to the caller as the request's status.",
                    major_name(f.major)),
        frame_values(f, returned));
  if (f.forwarded) return;  // what it returns is the lower driver's answer
  auto& mem = e.kernel().memory();
  uint8_t control = f.completed_control;
  if (!f.completed) {
    auto c = mem.try_read<uint8_t>(f.stack + offsetof(IO_STACK_LOCATION, Control));
    if (!c) return;
    control = *c;
  }
  bool marked = (control & kSlPendingReturned) != 0;
  bool pending_mismatch = (returned == kStatusPending) != marked;
  bool lost = !f.completed && !marked && returned != kStatusPending;
  bool status_mismatch =
      f.completed && returned != kStatusPending && returned != f.completed_status;
  if (!pending_mismatch && !lost && !status_mismatch) return;  // the common case: nothing to build
  auto values = frame_values(f, returned);
  if (f.completed) {
    values.emplace_back("io_status", hex(f.completed_status));
    values.emplace_back("information", hex(f.completed_information));
  }
  values.emplace_back("stack_control", hex(control));

  if (returned == kStatusPending && !marked)
    e.report(
        "irp.pending-mismatch", f.dispatch,
        fmt::format(
            "the {} dispatch routine returned STATUS_PENDING without marking the IRP pending "
            "(IoMarkIrpPending, SL_PENDING_RETURNED in the stack location's Control {:#x}){}: "
            "completion "
            "then does not tell the layers above and the I/O manager that the request went "
            "asynchronous.",
            major_name(f.major), control, f.completed ? ", and it had already completed it" : ""),
        values);
  else if (returned != kStatusPending && marked)
    e.report("irp.pending-mismatch", f.dispatch,
             fmt::format("the {} dispatch routine marked the IRP pending (IoMarkIrpPending) but "
                         "returned {:#x} instead "
                         "of STATUS_PENDING: the caller takes the returned status as final while "
                         "completion treats the "
                         "request as asynchronous.",
                         major_name(f.major), returned),
             values);

  if (lost)
    e.report("irp.lost", f.dispatch,
             fmt::format("the {} dispatch routine returned {:#x} without completing the IRP, "
                         "passing it on or marking "
                         "it pending: nothing will ever complete it, and the caller waiting for it "
                         "never gets an "
                         "answer.",
                         major_name(f.major), returned),
             values);

  if (status_mismatch)
    e.report("irp.status-mismatch", f.dispatch,
             fmt::format("the {} dispatch routine completed the IRP with IoStatus.Status {:#x} but "
                         "returned {:#x}: the "
                         "caller sees the returned status, its IO_STATUS_BLOCK the other one.",
                         major_name(f.major), f.completed_status, returned),
             values);
}

void close_frame(Engine& e, State& s, const std::function<bool(const State::Frame&)>& is_it,
                 uint32_t returned) {
  for (size_t i = s.frames.size(); i-- > 0;) {
    if (!is_it(s.frames[i])) continue;
    State::Frame f = s.frames[i];
    s.frames.erase(s.frames.begin() + static_cast<std::ptrdiff_t>(i));
    // A stopped machine (a bug check inside) returns no real status.
    if (!e.kernel().machine().stopped()) judge(e, f, returned);
    return;
  }
}

void on_complete(Engine& e, State& s, const nt::ApiCall& call) {
  if (call.args.empty()) return;
  GuestVa irp{call.args[0]};
  auto& mem = e.kernel().memory();
  if (auto it = s.given_back.find(irp.value); it != s.given_back.end()) {
    // Freed IRPs have Type 0 (IoFreeIrp); an IRP allocated there since is another IRP.
    if (mem.try_read<int16_t>(irp + offsetof(IRP, Type)).value_or(0) == nt::layout::kIoTypeIrp) {
      s.given_back.erase(it);
    } else {
      auto first = e.kernel().machine().symbolize(it->second);
      e.report(
          "irp.double-completion", call_site(e, s, call, irp),
          fmt::format("IoCompleteRequest was called on the IRP at {:#x}, which an earlier "
                      "IoCompleteRequest already "
                      "completed and gave back to the I/O manager (it is freed): bug check 0x44 "
                      "MULTIPLE_IRP_COMPLETE_REQUESTS.",
                      irp.value),
          {{"irp", hex(irp.value)},
           {"first_completion", first ? first->text() : it->second.hex()}});
      return;
    }
  }
  auto status = mem.try_read<uint32_t>(irp + offsetof(IRP, IoStatus));
  auto information = mem.try_read<uint64_t>(irp + offsetof(IRP, IoStatus) + 8);
  auto cancel_routine = mem.try_read<uint64_t>(irp + offsetof(IRP, CancelRoutine));
  if (!status || !information || !cancel_routine) return;

  std::vector<std::pair<std::string, std::string>> values;
  bool bad_status = *status == kStatusPending || *status == kStatusMinusOne;
  if (bad_status || *cancel_routine) {
    values = {
        {"irp", hex(irp.value)}, {"io_status", hex(*status)}, {"information", hex(*information)}};
    if (const nt::RequestStart* rq = e.request_of(irp)) {
      values.emplace_back("major", major_name(rq->major));
      if (rq->ioctl) values.emplace_back("ioctl", hex(rq->ioctl));
    }
  }
  if (*status == kStatusPending || *status == kStatusMinusOne)
    e.report("irp.bad-completion-status", call_site(e, s, call, irp),
             fmt::format("IoCompleteRequest was called with IoStatus.Status {}: an IRP is "
                         "completed with its final "
                         "status, and the caller receives this one as the request's outcome.",
                         *status == kStatusPending ? "STATUS_PENDING (0x103)" : "-1 (0xFFFFFFFF)"),
             values);
  if (*cancel_routine) {
    auto with_routine = values;
    with_routine.emplace_back("cancel_routine", hex(*cancel_routine));
    e.report("irp.bad-completion-status", call_site(e, s, call, irp),
             fmt::format("IoCompleteRequest was called while Irp->CancelRoutine still held {:#x}: "
                         "IoCancelIrp on the "
                         "completed (freed) IRP would call it.",
                         *cancel_routine),
             with_routine);
  }

  // The dispatch routines the IRP is in see it completed, with what they set.
  for (auto& f : s.frames) {
    if (f.irp != irp || f.completed) continue;
    f.completed = true;
    f.completed_status = *status;
    f.completed_information = *information;
    f.completed_control =
        mem.try_read<uint8_t>(f.stack + offsetof(IO_STACK_LOCATION, Control)).value_or(0);
  }
  // An IRP the I/O manager built is given back once completion reaches it.
  if (e.kernel().io().threaded_irps().contains(irp.value)) s.completing.push_back(irp.value);
}

// IoCallDriver(DeviceObject, Irp): the IRP leaves the calling routine (it is
// forwarded), and a dispatch routine of `device` starts on it.
void on_call_driver(Engine& e, State& s, const nt::ApiCall& call) {
  if (call.args.size() < 2) return;
  GuestVa device{call.args[0]}, irp{call.args[1]};
  auto& mem = e.kernel().memory();
  for (size_t i = s.frames.size(); i-- > 0;)
    if (s.frames[i].irp == irp) {
      s.frames[i].forwarded = true;
      break;
    }
  s.given_back.erase(irp.value);

  // irp.stack-copy: the next location carries the current one's completion
  // routine and context — the caller copied the whole IO_STACK_LOCATION.
  auto count = mem.try_read<int8_t>(irp + offsetof(IRP, StackCount));
  auto location = mem.try_read<int8_t>(irp + offsetof(IRP, CurrentLocation));
  auto current = mem.try_read<uint64_t>(irp + offsetof(IRP, CurrentStackLocation));
  if (count && location && current && *location <= *count && *location > 1) {
    GuestVa cur{*current}, next{*current - sizeof(IO_STACK_LOCATION)};
    auto cur_routine = mem.try_read<uint64_t>(cur + offsetof(IO_STACK_LOCATION, CompletionRoutine));
    auto cur_context = mem.try_read<uint64_t>(cur + offsetof(IO_STACK_LOCATION, Context));
    auto next_routine =
        mem.try_read<uint64_t>(next + offsetof(IO_STACK_LOCATION, CompletionRoutine));
    auto next_context = mem.try_read<uint64_t>(next + offsetof(IO_STACK_LOCATION, Context));
    if (cur_routine && *cur_routine && next_routine && *next_routine == *cur_routine &&
        cur_context && next_context && *next_context == *cur_context) {
      auto sym = e.kernel().machine().symbolize(GuestVa{*cur_routine});
      e.report(
          "irp.stack-copy", call_site(e, s, call, irp),
          fmt::format("the IRP was passed to the next driver with a stack location that holds this "
                      "location's "
                      "completion routine {} and context {:#x}: the whole IO_STACK_LOCATION was "
                      "copied, so the "
                      "routine the layer above set runs for the lower layer's completion too.",
                      sym ? sym->text() : hex(*cur_routine), *cur_context),
          {{"irp", hex(irp.value)},
           {"device", hex(device.value)},
           {"completion_routine", hex(*cur_routine)},
           {"context", hex(*cur_context)},
           {"next_control",
            hex(mem.try_read<uint8_t>(next + offsetof(IO_STACK_LOCATION, Control)).value_or(0))}});
    }
  }
  s.frames.push_back(open_frame(e, irp, device, 0));
}

}  // namespace

void on_request(Engine& e, State& s, const nt::RequestStart& request) {
  s.given_back.erase(request.irp.value);
  auto& mem = e.kernel().memory();
  // The request goes to the top of its file object's device stack.
  auto current = mem.try_read<uint64_t>(request.irp + offsetof(IRP, CurrentStackLocation));
  if (!current) return;
  auto file = mem.try_read<uint64_t>(GuestVa{*current - sizeof(IO_STACK_LOCATION)} +
                                     offsetof(IO_STACK_LOCATION, FileObject));
  if (!file || !*file) return;
  GuestVa device = e.kernel().io().related_device(GuestVa{*file});
  s.frames.push_back(open_frame(e, request.irp, device, request.id));
}

void on_request_returned(Engine& e, State& s, uint64_t id, NtStatus status) {
  close_frame(
      e, s, [id](const State::Frame& f) { return f.request == id; }, static_cast<uint32_t>(status));
}

void on_call(Engine& e, State& s, const nt::ApiCall& call) {
  const std::string& name = *call.name;
  if (name == "IofCompleteRequest")
    on_complete(e, s, call);
  else if (name == "IofCallDriver")
    on_call_driver(e, s, call);
}

void on_return(Engine& e, State& s, const nt::ApiCall& call) {
  const std::string& name = *call.name;
  if ((name == "IofCallDriver" || name == "PoCallDriver") && call.args.size() >= 2) {
    GuestVa irp{call.args[1]};
    close_frame(
        e, s, [irp](const State::Frame& f) { return f.request == 0 && f.irp == irp; },
        static_cast<uint32_t>(call.result));
  } else if (name == "IofCompleteRequest" && !call.args.empty()) {
    uint64_t irp = call.args[0];
    for (size_t i = s.completing.size(); i-- > 0;) {
      if (s.completing[i] != irp) continue;
      s.completing.erase(s.completing.begin() + static_cast<std::ptrdiff_t>(i));
      // Finished and freed by the I/O manager (no completion routine stopped it).
      if (!e.kernel().io().threaded_irps().contains(irp)) s.given_back[irp] = call.call_site;
      break;
    }
  } else if ((name == "IoAllocateIrp" || name == "IoBuildDeviceIoControlRequest" ||
              name == "IoBuildSynchronousFsdRequest" || name == "IoBuildAsynchronousFsdRequest") &&
             call.result) {
    s.given_back.erase(call.result);  // a new IRP at that address
  } else if ((name == "IoInitializeIrp" || name == "IoReuseIrp") && !call.args.empty()) {
    s.given_back.erase(call.args[0]);
  }
}

}  // namespace kemu::verifier::irp_checks
