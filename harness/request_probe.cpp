// The unknown-request probe's requests (harness/request_probe.h). Each is
// announced to the verifier first (verifier/request_checks.h), which judges
// the driver's answer when its dispatch routine returns.
#include "harness/request_probe.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>
#include <set>

#include "ntoskrnl-stubs/api/kernel_modules.h"
#include "ntoskrnl-stubs/io/device_security.h"
#include "ntoskrnl-stubs/io/io_manager.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/nt_structs.h"
#include "ntoskrnl-stubs/ob/object_manager.h"
#include "verifier/engine.h"
#include "verifier/request_checks.h"

namespace kemu::harness {

namespace {

using verifier::request_checks::ProbeKind;
using verifier::request_checks::ProbeRequest;

constexpr uint32_t kGenericReadWrite = 0xC0000000;
constexpr uint8_t kQueryVolumeInformation = 0x0A, kDirectoryControl = 0x0C;
constexpr uint32_t kFileFsVolumeInformation = 1, kFileDirectoryInformation = 1;

constexpr uint32_t ctl_code(uint32_t type, uint32_t function, uint32_t method, uint32_t access) {
  return (type << 16) | (access << 14) | (function << 2) | method;
}

// Device types whose drivers are file systems (they do serve directory and
// volume requests).
bool file_system_type(uint32_t type) {
  switch (type) {
    case 0x03:
    case 0x08:
    case 0x09:
    case 0x0C:
    case 0x11:
    case 0x14:
    case 0x20:
    case 0x35:
      return true;
    default:
      return false;
  }
}

// A Win32 device path (\\.\X, \\?\X) as its native \??\X; native paths unchanged.
std::u16string native_device_path(const std::string& path) {
  if (path.rfind(R"(\\.\)", 0) == 0 || path.rfind(R"(\\?\)", 0) == 0)
    return nt::to_utf16(R"(\??\)" + path.substr(4));
  return nt::to_utf16(path);
}

std::vector<uint8_t> probe_bytes(size_t n) {
  std::vector<uint8_t> bytes(n);
  for (size_t i = 0; i < n; ++i) bytes[i] = static_cast<uint8_t>(0x4B + i);  // 'K', 'L', ...
  return bytes;
}

}  // namespace

std::vector<uint32_t> unknown_control_codes(uint32_t device_type) {
  // Functions at both ends of the vendor range and one in Microsoft's
  // (below 0x800, which only Microsoft's own drivers define), every
  // transfer method, every access value, the device's own type and a type
  // nobody registers.
  return {ctl_code(device_type, 0xFFF, 0 /* METHOD_BUFFERED */, 0 /* FILE_ANY_ACCESS */),
          ctl_code(device_type, 0x7FE, 3 /* METHOD_NEITHER */, 1 /* FILE_READ_ACCESS */),
          ctl_code(device_type, 0xABC, 1 /* METHOD_IN_DIRECT */, 2 /* FILE_WRITE_ACCESS */),
          ctl_code(0xEAD0 ^ (device_type & 0xF), 0x800, 2 /* METHOD_OUT_DIRECT */, 0)};
}

uint64_t send_probe_requests(Session& s, const ProbePlan& plan) {
  nt::Kernel& kernel = *plan.kernel;
  auto& mem = kernel.memory();
  auto& verdicts = plan.engine->request_probe();
  uint64_t sent = 0;
  std::vector<nt::io::DeviceView> devices = kernel.io().devices_of(GuestVa{plan.driver_object});
  auto device_type = [&](GuestVa device) {
    return mem.read<uint32_t>(device + offsetof(nt::layout::DEVICE_OBJECT, DeviceType));
  };

  // 1. irp.insecure-open: a namespace open as a standard user, for each named
  // device without FILE_DEVICE_SECURE_OPEN whose descriptor refuses that user
  // the open of the device itself (otherwise the name grants nothing more).
  if (plan.insecure_open) {
    s.set_client_token(ClientToken::User);
    for (const nt::io::DeviceView& d : devices) {
      if (s.stopped()) break;
      if (d.name.empty() || (d.characteristics & nt::io::kFileDeviceSecureOpen)) continue;
      const nt::ob::ObjectRecord* record = kernel.ob().by_body(d.device_object);
      if (!record) continue;
      NtStatus plain = STATUS_SUCCESS;
      nt::ob::ObjectId id = record->id;
      s.as_client_call("NtCreateFile", [&] {
        plain = nt::io::check_device_open(kernel, id, false, kGenericReadWrite,
                                          ProcessorMode::UserMode, 0)
                    .status;
      });
      if (nt_success(plain)) continue;
      std::string path = nt::to_utf8(d.name) + "\\kemu-probe";
      ProbeRequest rq;
      rq.kind = ProbeKind::NamespaceOpen;
      rq.path = path;
      rq.desired_access = kGenericReadWrite;
      rq.plain_open_status = plain;
      verifier::request_checks::expect(verdicts, rq);
      Session::OpenOutcome o = s.open(path, kGenericReadWrite);
      ++sent;
      verifier::request_checks::expect(verdicts, {});
      if (o.status && nt_success(*o.status) && o.handle) {
        s.close(o.handle);
        ++sent;
      }
    }
    s.set_client_token(plan.token);
  }

  if (!plan.unhandled_success && !plan.code_masked && !plan.use_after_cleanup) return sent;

  // The devices the run opened, each once (the first path that opened it).
  std::map<uint64_t, size_t> first_open;  // device object -> index into plan.opened
  std::vector<uint64_t> order;
  std::map<size_t, uint64_t> device_of_open;
  for (size_t i = 0; i < plan.opened.size(); ++i) {
    std::optional<nt::ob::LookupResult> found;
    s.as_client_call("NtCreateFile", 
        [&] { found = kernel.ob().lookup(native_device_path(plan.opened[i].path), true); });
    if (!found) continue;
    const nt::ob::ObjectRecord* r = kernel.ob().get(found->object);
    if (!r || r->type != nt::ob::TypeIndex::Device) continue;
    bool ours = std::any_of(devices.begin(), devices.end(), [&](const nt::io::DeviceView& d) {
      return d.device_object == r->body;
    });
    if (!ours) continue;
    device_of_open[i] = r->body.value;
    if (first_open.emplace(r->body.value, i).second) order.push_back(r->body.value);
  }
  std::set<uint32_t> scenario_codes;
  for (const ProbePlan::Sent& sent_rq : plan.ioctls) scenario_codes.insert(sent_rq.request.code);

  for (uint64_t device_va : order) {
    if (s.stopped()) break;
    GuestVa device{device_va};
    const ProbePlan::Opened& how = plan.opened[first_open[device_va]];
    Session::OpenOutcome opened = s.open(how.path, how.access);
    ++sent;
    if (!opened.status || !nt_success(*opened.status) || !opened.handle) continue;
    uint64_t handle = opened.handle;
    uint32_t type = device_type(device);
    std::vector<uint32_t> unknown;
    for (uint32_t code : unknown_control_codes(type))
      if (!scenario_codes.contains(code)) unknown.push_back(code);
    // The run's last request of each code on this device, and its last request.
    std::map<uint32_t, Session::IoctlRequest> own;
    std::optional<Session::IoctlRequest> last;
    for (const ProbePlan::Sent& sent_rq : plan.ioctls) {
      auto it = device_of_open.find(sent_rq.opened);
      if (it != device_of_open.end() && it->second == device_va) {
        own[sent_rq.request.code] = sent_rq.request;
        last = sent_rq.request;
      }
    }

    // 2. irp.unhandled-success: codes no driver defines...
    if (plan.unhandled_success) {
      for (uint32_t code : unknown) {
        if (s.stopped()) break;
        Session::IoctlRequest rq;
        rq.handle = handle;
        rq.code = code;
        rq.input = probe_bytes(16);
        rq.output_length = 16;
        verifier::request_checks::expect(verdicts, {ProbeKind::UnknownControl});
        s.ioctl(rq);
        verifier::request_checks::expect(verdicts, {});  // also when the I/O manager refused it
        ++sent;
      }
      // ...and the requests only a file system serves, when the driver routed
      // them to a routine it installed for several major functions (a
      // catch-all); the kernel's default routine answers them itself.
      GuestVa driver{
          mem.read<uint64_t>(device + offsetof(nt::layout::DEVICE_OBJECT, DriverObject))};
      GuestVa table = driver + offsetof(nt::layout::DRIVER_OBJECT, MajorFunction);
      uint64_t kernel_default = kernel.modules().internal_routine("IopInvalidDeviceRequest").value;
      std::map<uint64_t, int> uses;
      for (int major = 0; major <= nt::layout::kIrpMjMaximumFunction; ++major)
        ++uses[mem.read<uint64_t>(table + 8 * major)];
      for (uint8_t major : {kQueryVolumeInformation, kDirectoryControl}) {
        uint64_t routine = mem.read<uint64_t>(table + 8 * major);
        if (s.stopped() || file_system_type(type) || routine == kernel_default || uses[routine] < 2)
          continue;
        uint64_t buffer = s.client_buffer({}, 256);
        verifier::request_checks::expect(verdicts, {ProbeKind::UnsupportedMajor});
        s.as_client_call(major == kQueryVolumeInformation ? "NtQueryVolumeInformationFile" : "NtQueryDirectoryFile", [&] {
          nt::io::InformationRequest info{handle, GuestVa{buffer}, 256,
                                          major == kQueryVolumeInformation
                                              ? kFileFsVolumeInformation
                                              : kFileDirectoryInformation};
          if (major == kQueryVolumeInformation)
            kernel.io().query_volume(info);
          else
            kernel.io().query_directory(info, false, std::nullopt, true);
        });
        verifier::request_checks::expect(verdicts, {});
        ++sent;
      }
    }

    // 3. irp.ioctl-code-masked: each of the run's codes again (the reference
    // answer), then with another device type and other access bits.
    if (plan.code_masked) {
      for (auto& [code, request] : own) {
        if (s.stopped()) break;
        Session::IoctlRequest rq = request;
        rq.handle = handle;
        verifier::request_checks::expect(verdicts, {ProbeKind::OriginalControl});
        s.ioctl(rq);
        verifier::request_checks::expect(verdicts, {});
        ++sent;
        uint32_t other_type = code ^ (0x4000u << 16);
        uint32_t other_access = (code & 0xC000) ? (code & ~0xC000u) : (code | (1u << 14));
        for (uint32_t variant : {other_type, other_access}) {
          if (s.stopped() || scenario_codes.contains(variant)) continue;
          rq.code = variant;
          ProbeRequest altered;
          altered.kind = ProbeKind::AlteredControl;
          altered.original_code = code;
          verifier::request_checks::expect(verdicts, altered);
          s.ioctl(rq);
          verifier::request_checks::expect(verdicts, {});
          ++sent;
        }
      }
    }

    // 4. irp.use-after-cleanup: a request that took its reference to the file
    // object before the last handle closed (an in-flight call on another
    // thread, a filter's request) reaches the driver after IRP_MJ_CLEANUP;
    // its completion drops the last reference (IRP_MJ_CLOSE follows).
    if (plan.use_after_cleanup && !s.stopped()) {
      Session::IoctlRequest rq;
      if (last) {
        rq = *last;
      } else {
        rq.code = unknown.empty() ? unknown_control_codes(type).front() : unknown.front();
        rq.input = probe_bytes(16);
        rq.output_length = 16;
      }
      nt::ob::ObjectId file = nt::ob::kNoObject;
      nt::ob::HandleInfo info;
      NtStatus referenced = STATUS_INVALID_HANDLE;
      s.as_client_call("NtDeviceIoControlFile", [&] {
        referenced = kernel.ob().reference_by_handle(handle, 0, nt::ob::TypeIndex::File,
                                                     ProcessorMode::UserMode, &file, &info);
      });
      s.close(handle);  // IRP_MJ_CLEANUP: the last handle is gone
      ++sent;
      if (nt_success(referenced) && !s.stopped()) {
        uint32_t input_length = rq.input_length.value_or(static_cast<uint32_t>(rq.input.size()));
        // The buffers where the run placed them.
        uint64_t input =
            s.client_buffer(rq.input, static_cast<uint32_t>(rq.input.size()), rq.input_placement);
        uint64_t output = s.client_buffer(rq.output, rq.output_length, rq.output_placement);
        s.as_client_call("NtDeviceIoControlFile", [&] {
          kernel.io().device_control_file(file, info.granted_access, rq.code, GuestVa{input},
                                          input_length, GuestVa{output}, rq.output_length);
        });
        ++sent;
      }
    } else {
      s.close(handle);
      ++sent;
    }
  }
  return sent;
}

namespace {
// The probe's findings travel from its process to the run's as length-prefixed fields.
void put_u64(std::string& out, uint64_t v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}
void put_str(std::string& out, const std::string& v) {
  put_u64(out, v.size());
  out += v;
}

struct Reader {
  const std::string& in;
  size_t at = 0;
  bool ok = true;
  uint64_t u64() {
    uint64_t v = 0;
    if (at + sizeof v > in.size()) {
      ok = false;
      return 0;
    }
    std::memcpy(&v, in.data() + at, sizeof v);
    at += sizeof v;
    return v;
  }
  std::string str() {
    uint64_t n = u64();
    if (!ok || n > in.size() - at) {
      ok = false;
      return {};
    }
    std::string v = in.substr(at, n);
    at += n;
    return v;
  }
};

}  // namespace

std::string encode_probe_result(uint64_t requests, const std::vector<Finding>& findings) {
  std::string out;
  put_u64(out, requests);
  put_u64(out, findings.size());
  for (const Finding& f : findings) {
    for (const std::string* v :
         {&f.check, &f.severity, &f.title, &f.message, &f.microsoft, &f.location.module,
          &f.location.symbol, &f.location.instruction, &f.context.process, &f.context.major})
      put_str(out, *v);
    put_u64(out, f.count);
    put_u64(out, f.location.offset);
    put_u64(out, f.context.thread);
    put_u64(out, f.context.irql);
    put_u64(out, f.context.ioctl ? 1 : 0);
    put_u64(out, f.context.ioctl.value_or(0));
    put_u64(out, f.stack.size());
    for (const std::string& frame : f.stack) put_str(out, frame);
    put_u64(out, f.values.size());
    for (const auto& [k, v] : f.values) {
      put_str(out, k);
      put_str(out, v);
    }
  }
  return out;
}

bool decode_probe_result(const std::string& in, uint64_t* requests,
                         std::vector<Finding>* findings) {
  Reader r{in};
  *requests = r.u64();
  uint64_t n = r.u64();
  for (uint64_t i = 0; i < n && r.ok; ++i) {
    Finding f;
    for (std::string* v :
         {&f.check, &f.severity, &f.title, &f.message, &f.microsoft, &f.location.module,
          &f.location.symbol, &f.location.instruction, &f.context.process, &f.context.major})
      *v = r.str();
    f.count = r.u64();
    f.location.offset = r.u64();
    f.context.thread = static_cast<uint32_t>(r.u64());
    f.context.irql = static_cast<uint32_t>(r.u64());
    bool has_ioctl = r.u64() != 0;
    uint32_t ioctl = static_cast<uint32_t>(r.u64());
    if (has_ioctl) f.context.ioctl = ioctl;
    uint64_t frames = r.u64();
    for (uint64_t k = 0; k < frames && r.ok; ++k) f.stack.push_back(r.str());
    uint64_t values = r.u64();
    for (uint64_t k = 0; k < values && r.ok; ++k) {
      std::string key = r.str();
      f.values.emplace_back(std::move(key), r.str());
    }
    if (r.ok) findings->push_back(std::move(f));
  }
  return r.ok;
}

}  // namespace kemu::harness
