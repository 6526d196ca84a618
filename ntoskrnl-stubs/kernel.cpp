#include "ntoskrnl-stubs/kernel.h"

#include <cctype>

#include "ntoskrnl-stubs/api/kernel_events.h"
#include "ntoskrnl-stubs/api/kernel_modules.h"
#include "ntoskrnl-stubs/cm/config_manager.h"
#include "ntoskrnl-stubs/fs/file_system.h"
#include "ntoskrnl-stubs/io/io_manager.h"
#include "ntoskrnl-stubs/ke/scheduler.h"
#include "ntoskrnl-stubs/layout/nt_structs.h"
#include "ntoskrnl-stubs/mm/sections.h"
#include "ntoskrnl-stubs/ob/object_manager.h"
#include "ntoskrnl-stubs/ps/process_manager.h"

namespace kemu::nt {

emu::Machine& machine_of(Kernel& k) { return k.machine(); }

// Internal (non-exported) kernel routines drivers can reach through pointers.
NtStatus IopInvalidDeviceRequest(Kernel& k, GuestVa device_object, GuestVa irp);
void IopCsqCancelRoutine(Kernel& k, GuestVa device_object, GuestVa irp);  // io/csq.cpp
// The sandbox file system's dispatch routines (fs/file_system.cpp).
NtStatus KemuFsdCreate(Kernel& k, GuestVa device, GuestVa irp);
NtStatus KemuFsdClose(Kernel& k, GuestVa device, GuestVa irp);
NtStatus KemuFsdRead(Kernel& k, GuestVa device, GuestVa irp);
NtStatus KemuFsdWrite(Kernel& k, GuestVa device, GuestVa irp);
NtStatus KemuFsdQueryInformation(Kernel& k, GuestVa device, GuestVa irp);
NtStatus KemuFsdSetInformation(Kernel& k, GuestVa device, GuestVa irp);
NtStatus KemuFsdFlushBuffers(Kernel& k, GuestVa device, GuestVa irp);
NtStatus KemuFsdQueryVolumeInformation(Kernel& k, GuestVa device, GuestVa irp);
NtStatus KemuFsdDirectoryControl(Kernel& k, GuestVa device, GuestVa irp);
NtStatus KemuFsdCleanup(Kernel& k, GuestVa device, GuestVa irp);

namespace {
const Registry& builtin_registry() {
  static const Registry registry = [] {
    Registry r;
    register_rtl_exports(r);
    register_seh_exports(r);
    register_dbg_exports(r);
    register_ex_exports(r);
    register_io_exports(r);
    register_file_exports(r);
    register_irp_exports(r);
    register_ke_exports(r);
    register_ke_sync_exports(r);
    register_thread_exports(r);
    register_handle_exports(r);
    register_lock_exports(r);
    register_mm_exports(r);
    register_ob_exports(r);
    register_namespace_exports(r);
    register_query_exports(r);
    register_process_exports(r);
    register_ps_exports(r);
    register_cm_exports(r);
    register_event_exports(r);
    register_crt_exports(r);
    register_time_exports(r);
    register_se_exports(r);
    register_rtl_security_exports(r);
    register_ob_security_exports(r);
    register_data_exports(r);
    return r;
  }();
  return registry;
}
}  // namespace

bool has_builtin_handler(std::string_view module, std::string_view name) {
  auto lower = [](std::string_view v) {
    std::string out(v);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
  };
  std::string mod = lower(module);
  for (const ExportDesc& d : builtin_exports()) {
    if (d.name != name || lower(d.module) != mod) continue;
    const Registry& r = builtin_registry();
    return d.kind == ExportKind::Function ? r.handler(name) != nullptr : r.data(name) != nullptr;
  }
  return false;
}

Kernel::Kernel(emu::Machine& machine, KernelOptions options)
    : machine_(machine), options_(options) {
  modules_ = std::make_unique<KernelModules>(*this, builtin_registry(), builtin_exports());
  explainer_.enable(options.explain);
  ob_ = std::make_unique<ob::ObjectManager>(*this);
  io_ = std::make_unique<io::IoManager>(*this);
  ps_ = std::make_unique<ps::ProcessManager>(*this);
  scheduler_ = std::make_unique<ke::Scheduler>(*this);
  cm_ = std::make_unique<cm::ConfigManager>(*this);
  fs_ = std::make_unique<fs::FileSystem>(*this);
  modules_->build({{"IopInvalidDeviceRequest", &invoke<&IopInvalidDeviceRequest>},
                   {"IopCsqCancelRoutine", &invoke<&IopCsqCancelRoutine>},
                   {"KemuFsdCreate", &invoke<&KemuFsdCreate>},
                   {"KemuFsdClose", &invoke<&KemuFsdClose>},
                   {"KemuFsdRead", &invoke<&KemuFsdRead>},
                   {"KemuFsdWrite", &invoke<&KemuFsdWrite>},
                   {"KemuFsdQueryInformation", &invoke<&KemuFsdQueryInformation>},
                   {"KemuFsdSetInformation", &invoke<&KemuFsdSetInformation>},
                   {"KemuFsdFlushBuffers", &invoke<&KemuFsdFlushBuffers>},
                   {"KemuFsdQueryVolumeInformation", &invoke<&KemuFsdQueryVolumeInformation>},
                   {"KemuFsdDirectoryControl", &invoke<&KemuFsdDirectoryControl>},
                   {"KemuFsdCleanup", &invoke<&KemuFsdCleanup>}});

  ob_->initialize();
  cm_->initialize();
  ps_->initialize();
  scheduler_->initialize();
  io_->initialize();
  fs_->initialize();
  mm::initialize_sections(*this);
  modules_->initialize_data();
}

Kernel::~Kernel() = default;

std::string Kernel::caller_description() const {
  const ApiEntry* e = modules_->current_call();
  if (!e) return "the client";
  auto where = machine_.symbolize(machine_.call_site());
  return e->name + " from " + (where ? where->text() : machine_.call_site().hex());
}

void Kernel::watch_client_memory(bool on) {
  if (!on || listeners_.empty()) {
    if (machine_.watching()) machine_.unwatch_accesses();
    return;
  }
  // One range (each hooked range costs every guest access a bound check):
  // the user half, the non-canonical gap nothing can be mapped in, and the
  // bottom of the kernel half up to the end of the client's kernel buffers.
  static const std::vector<std::pair<GuestVa, GuestVa>> kClientMemory = {
      {GuestVa{0}, GuestVa{kemu::layout::kClientKernelBuffersEnd - 1}}};
  machine_.watch_accesses(kClientMemory, &access_relay_);
}

void Kernel::AccessRelay::guest_access(GuestVa rip, GuestVa address, uint32_t size, bool write) {
  MemoryAccess access{rip, address, size, write};
  kernel->publish([&](KernelListener& l) { l.memory_accessed(access); });
}

void Kernel::raise_in_caller(uint32_t code, uint32_t flags, std::vector<uint64_t> params,
                             std::optional<GuestVa> address) {
  ++raises_;
  emu::RegisterContext ctx = machine_.cpu().save();
  ctx.rip -= 2;  // back on the thunk's trap instruction
  machine_.raise_exception(
      {code, flags, address.value_or(machine_.return_address()), std::move(params), machine_.call_site()}, ctx);
}

std::u16string Kernel::read_unicode_string(GuestVa us) const {
  auto s = machine_.memory().read<layout::UNICODE_STRING>(us);
  std::u16string out(s.Length / 2, u'\0');
  if (!out.empty() && !machine_.memory().read(GuestVa{s.Buffer}, out.data(), out.size() * 2))
    throw emu::GuestAccessError(GuestVa{s.Buffer}, false);
  return out;
}

std::string Kernel::read_ansi_string(GuestVa as) const {
  auto s = machine_.memory().read<layout::ANSI_STRING>(as);
  std::string out(s.Length, '\0');
  if (!out.empty() && !machine_.memory().read(GuestVa{s.Buffer}, out.data(), out.size()))
    throw emu::GuestAccessError(GuestVa{s.Buffer}, false);
  return out;
}

GuestVa Kernel::new_unicode_string(std::u16string_view text, uint32_t pool_type, uint32_t tag) {
  uint64_t bytes = text.size() * 2;
  auto block = machine_.pool().allocate(sizeof(layout::UNICODE_STRING) + bytes + 2, pool_type, tag, GuestVa{});
  if (!block) throw emu::GuestMemoryExhausted("pool exhausted allocating a string");
  GuestVa buffer = *block + sizeof(layout::UNICODE_STRING);
  layout::UNICODE_STRING us{};
  us.Length = static_cast<uint16_t>(bytes);
  us.MaximumLength = static_cast<uint16_t>(bytes + 2);
  us.Buffer = buffer.value;
  machine_.memory().write(*block, us);
  machine_.memory().write(buffer, text.data(), bytes);
  machine_.memory().write<uint16_t>(buffer + bytes, 0);
  return *block;
}

std::string to_utf8(std::u16string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    uint32_t c = s[i];
    if (c >= 0xD800 && c <= 0xDBFF && i + 1 < s.size() && s[i + 1] >= 0xDC00 && s[i + 1] <= 0xDFFF) {
      c = 0x10000 + ((c - 0xD800) << 10) + (s[i + 1] - 0xDC00);
      ++i;
    } else if (c >= 0xD800 && c <= 0xDFFF) {
      c = 0xFFFD;
    }
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if (c < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (c >> 12)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (c >> 18)));
      out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

std::u16string to_utf16(std::string_view s) {
  std::u16string out;
  for (size_t i = 0; i < s.size();) {
    uint8_t b = static_cast<uint8_t>(s[i]);
    uint32_t c;
    int extra;
    if (b < 0x80) { c = b; extra = 0; }
    else if ((b >> 5) == 6) { c = b & 0x1F; extra = 1; }
    else if ((b >> 4) == 14) { c = b & 0x0F; extra = 2; }
    else if ((b >> 3) == 30) { c = b & 0x07; extra = 3; }
    else { out.push_back(0xFFFD); ++i; continue; }
    if (i + extra >= s.size()) {  // truncated sequence
      out.push_back(0xFFFD);
      break;
    }
    for (int k = 1; k <= extra; ++k) c = (c << 6) | (static_cast<uint8_t>(s[i + k]) & 0x3F);
    i += 1 + extra;
    if (c >= 0x10000) {
      c -= 0x10000;
      out.push_back(static_cast<char16_t>(0xD800 + (c >> 10)));
      out.push_back(static_cast<char16_t>(0xDC00 + (c & 0x3FF)));
    } else {
      out.push_back(static_cast<char16_t>(c));
    }
  }
  return out;
}

}  // namespace kemu::nt
