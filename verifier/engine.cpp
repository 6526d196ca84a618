#include "verifier/engine.h"

#include <cstring>

#include <fmt/format.h>

#include "emulator/machine.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/ob/handle_table.h"
#include "ntoskrnl-stubs/ob/object_manager.h"
#include "ntoskrnl-stubs/ps/process_manager.h"
#include "verifier/catalog.h"

namespace kemu::verifier {

const char* major_name(uint8_t major) {
  static const char* const kNames[] = {
      "IRP_MJ_CREATE", "IRP_MJ_CREATE_NAMED_PIPE", "IRP_MJ_CLOSE", "IRP_MJ_READ", "IRP_MJ_WRITE",
      "IRP_MJ_QUERY_INFORMATION", "IRP_MJ_SET_INFORMATION", "IRP_MJ_QUERY_EA", "IRP_MJ_SET_EA",
      "IRP_MJ_FLUSH_BUFFERS", "IRP_MJ_QUERY_VOLUME_INFORMATION", "IRP_MJ_SET_VOLUME_INFORMATION",
      "IRP_MJ_DIRECTORY_CONTROL", "IRP_MJ_FILE_SYSTEM_CONTROL", "IRP_MJ_DEVICE_CONTROL",
      "IRP_MJ_INTERNAL_DEVICE_CONTROL", "IRP_MJ_SHUTDOWN", "IRP_MJ_LOCK_CONTROL", "IRP_MJ_CLEANUP",
      "IRP_MJ_CREATE_MAILSLOT", "IRP_MJ_QUERY_SECURITY", "IRP_MJ_SET_SECURITY", "IRP_MJ_POWER",
      "IRP_MJ_SYSTEM_CONTROL", "IRP_MJ_DEVICE_CHANGE", "IRP_MJ_QUERY_QUOTA", "IRP_MJ_SET_QUOTA", "IRP_MJ_PNP"};
  return major < std::size(kNames) ? kNames[major] : "IRP_MJ_?";
}

Engine::Engine(nt::Kernel& kernel, std::function<bool(std::string_view)> enabled)
    : kernel_(kernel),
      enabled_(std::move(enabled)),
      probes_(probe_checks::make_state()),
      primitives_(primitive_checks::make_state()),
      irql_(irql_checks::make_state()),
      irps_(irp_checks::make_state()),
      request_probe_(request_checks::make_state()),
      pool_(pool_checks::make_state()) {
  kernel_.add_listener(this);
  fault_observer_ = kernel_.machine().add_fault_observer(
      [this](GuestVa rip, GuestVa address, bool write) {
        mdl_checks::on_fault(*this, rip, address, write);
        bounds_checks::on_fault(*this, rip, address, write);
        primitive_checks::on_fault(*this, *primitives_, rip, address, write);
        pool_checks::on_fault(*this, rip, address, write);
      });
  kernel_.machine().set_pool_guard_observer(
      [this](const emu::Pool::GuardFault& hit, GuestVa rip, GuestVa address, bool write) {
        pool_checks::on_guard_fault(*this, *pool_, hit, rip, address, write);
      });
  hardware_observer_ = kernel_.machine().add_hardware_observer(
      [this](const emu::HardwareAccess& access) { primitive_checks::on_hardware(*this, *primitives_, access); });
}

Engine::~Engine() {
  kernel_.remove_listener(this);
  irql_checks::shutdown(*this, *irql_);
  emu::Machine& m = kernel_.machine();
  m.remove_fault_observer(fault_observer_);
  m.remove_hardware_observer(hardware_observer_);
  m.set_pool_guard_observer(nullptr);
  for (const auto& [watch, mapping] : read_locked_) m.remove_watch(watch);
  for (uint64_t watch : request_buffer_watches_) m.remove_watch(watch);
}

void Engine::watch_request_buffer(GuestVa begin, uint64_t size, emu::Machine::AccessWatch on_access) {
  request_buffer_watches_.push_back(kernel_.machine().add_access_watch(begin, size, std::move(on_access)));
}

void Engine::end_request_buffers() {
  for (uint64_t watch : request_buffer_watches_) kernel_.machine().remove_watch(watch);
  request_buffer_watches_.clear();
  buffers_.reset();
}

void Engine::watch_read_locked(ReadLockedMapping mapping, ReadLockedWrite on_write) {
  emu::Machine& m = kernel_.machine();
  // A second mapping of the same MDL replaces the first. A mapping kemu's I/O
  // manager removes at completion (no driver event) keeps its watch; the
  // check asks at each write whether the mapping is still in place.
  unwatch_read_locked(mapping.mdl);
  mapping.watch = m.add_write_watch(
      mapping.mapping, mapping.size,
      [this, on_write = std::move(on_write), mdl = mapping.mdl](GuestVa address, uint32_t size,
                                                                                   GuestVa rip) {
        for (const auto& [watch, w] : read_locked_)
          if (w.mdl == mdl && address + size > w.mapping && address < w.mapping + w.size) {
            on_write(w, address, size, rip);
            return;
          }
      });
  read_locked_[mapping.watch] = mapping;
}

void Engine::unwatch_read_locked(GuestVa mdl_or_mapping) {
  for (auto it = read_locked_.begin(); it != read_locked_.end();) {
    if (it->second.mdl == mdl_or_mapping || it->second.mapping == mdl_or_mapping) {
      kernel_.machine().remove_watch(it->first);
      it = read_locked_.erase(it);
    } else {
      ++it;
    }
  }
}

void Engine::api_called(const nt::ApiCall& call) {
  calls_.push_back(call);
  irp_checks::on_call(*this, *irps_, call);  // before buffer_checks ends the in-flight record
  handle_checks::on_call(*this, call);
  buffer_checks::on_call(*this, call);
  mdl_checks::on_call(*this, call);
  bounds_checks::on_call(*this, call);
  probe_checks::on_call(*this, *probes_, call);
  primitive_checks::on_call(*this, *primitives_, call);
  irql_checks::on_call(*this, *irql_, call);
  request_checks::on_call(*this, *request_probe_, call);
  pool_checks::on_call(*this, *pool_, call);
}

void Engine::api_returned(const nt::ApiCall& call) {
  handle_checks::on_return(*this, call);
  probe_checks::on_return(*this, *probes_, call);
  primitive_checks::on_return(*this, *primitives_, call);
  if (!calls_.empty()) calls_.pop_back();
  // After the routine: the mapping it made is the driver's to use.
  mdl_checks::on_return(*this, call);
  bounds_checks::on_return(*this, call);
  irql_checks::on_return(*this, *irql_, call);
  irp_checks::on_return(*this, *irps_, call);
  request_checks::on_return(*this, *request_probe_, call);
  pool_checks::on_return(*this, *pool_, call);
}

void Engine::callback_started(const nt::DriverCallback& callback) {
  irql_checks::on_callback_started(*this, *irql_, callback);
}

void Engine::callback_returned(const nt::DriverCallback& callback) {
  irql_checks::on_callback_returned(*this, *irql_, callback);
}

void Engine::request_started(const nt::RequestStart& request) {
  request_ = std::make_shared<const nt::RequestStart>(request);
  in_flight_[request.irp.value] = request_;
  end_request_buffers();
  bounds_checks::on_request_started(*this, request);
  probe_checks::on_request(*this, *probes_, request);
  primitive_checks::on_request(*this, *primitives_, request);
  irp_checks::on_request(*this, *irps_, request);
  request_checks::on_request(*this, *request_probe_, request);
}

const nt::RequestStart* Engine::request_of(GuestVa irp) const {
  auto it = in_flight_.find(irp.value);
  return it == in_flight_.end() ? nullptr : it->second.get();
}

void Engine::request_returned(uint64_t id, NtStatus status) {
  irp_checks::on_request_returned(*this, *irps_, id, status);
  if (request_ && request_->id == id) {
    request_checks::on_request_end(*this, *request_probe_, status);
    probe_checks::on_request_end(*this, *probes_);
    primitive_checks::on_request_end(*this, *primitives_);
    request_.reset();
    end_request_buffers();
  }
}

void Engine::user_access_outside_try(GuestVa site, GuestVa address, uint32_t size, bool write) {
  primitive_checks::on_user_access_outside_try(*this, *primitives_, site, address, size, write);
}

void Engine::memory_accessed(const nt::MemoryAccess& access) { probe_checks::on_access(*this, *probes_, access); }

void Engine::handle_created(const nt::HandleCreated& event) {
  if (!event.by_driver) return;
  const nt::ApiCall* call = current_call();
  driver_handles_[{event.pid, nt::ob::handle_index(event.value)}] =
      DriverHandle{event.attributes, call ? call->call_site : GuestVa{}, call ? *call->name : std::string()};
  handle_checks::on_created(*this, event);
}

void Engine::handle_closed(const nt::HandleClosed& event) {
  driver_handles_.erase({event.pid, nt::ob::handle_index(event.value)});
}

bool Engine::from_request(uint64_t value) const {
  if (!request_ || value == 0) return false;
  const std::vector<uint8_t>& bytes = request_->caller_bytes;
  auto contains = [&](const void* pattern, size_t width) {
    if (bytes.size() < width) return false;
    for (size_t i = 0; i + width <= bytes.size(); ++i)
      if (std::memcmp(bytes.data() + i, pattern, width) == 0) return true;
    return false;
  };
  if (contains(&value, 8)) return true;
  uint32_t narrow = static_cast<uint32_t>(value);
  return (value >> 32) == 0 && contains(&narrow, 4);
}

bool Engine::driver_made(uint32_t pid, uint64_t handle) const {
  return driver_handles_.contains({pid, nt::ob::handle_index(handle)});
}

void Engine::note_reference(GuestVa object, int delta, GuestVa site, const std::string& routine) {
  DriverReference& r = driver_references_[object.value];
  if (r.count <= 0 && delta > 0) {
    r.site = site;
    r.routine = routine;
  }
  r.count += delta;
}

void Engine::driver_unloaded(bool unload_routine_ran) {
  if (unload_routine_ran) pool_checks::on_unload(*this, *pool_);
  // References the driver took and never dropped keep their objects alive.
  for (const auto& [body, r] : driver_references_) {
    if (r.count <= 0 || !kernel_.ob().by_body(GuestVa{body})) continue;
    const nt::ob::ObjectRecord* o = kernel_.ob().by_body(GuestVa{body});
    report("handle.leak", r.site,
           fmt::format("{} reference(s) that {} took on {} were never dropped: the object outlives the driver.",
                       r.count, r.routine, kernel_.ob().describe(o->id)),
           {{"object", fmt::format("{:#x}", body)}, {"references", std::to_string(r.count)}, {"taken_by", r.routine}});
  }
  // Handles the driver opened in the kernel table and never closed outlive it.
  for (const auto& [key, h] : driver_handles_) {
    if (key.first != nt::ps::kSystemPid) continue;
    report("handle.leak", h.site,
           fmt::format("the handle {:#x} that {} created is still open after DriverUnload: the object it "
                       "names can never be released.",
                       static_cast<uint64_t>(key.second) * 4 | nt::ob::kKernelHandleFlag, h.routine),
           {{"handle", fmt::format("{:#x}", static_cast<uint64_t>(key.second) * 4 | nt::ob::kKernelHandleFlag)},
            {"created_by", h.routine}});
  }
}

Finding Engine::locate(std::string_view check, GuestVa site) const {
  emu::Machine& m = kernel_.machine();
  Finding f;
  f.check = std::string(check);
  if (const CheckInfo* info = find_check(check)) {
    f.severity = std::string(info->severity);
    f.title = std::string(info->title);
    f.microsoft = std::string(info->microsoft);
  } else {
    f.severity = "error";
  }
  if (auto s = m.symbolize(site)) {
    f.location.module = s->module;
    f.location.offset = s->offset;
    f.location.symbol = s->symbol;
  }
  if (site) f.location.instruction = m.disassemble_one(site);
  // The frames above the driver's call (the caller's context while a routine
  // runs), or above the offending instruction while it executes.
  std::vector<GuestVa> frames;
  if (!calls_.empty()) frames = m.walk_stack(m.caller_context());
  else if (site && site.value == m.cpu().rip()) frames = m.walk_stack(m.cpu().save());
  for (GuestVa ret : frames) {
    auto s = m.symbolize(ret);
    f.stack.push_back(s ? fmt::format("{}+{:#x}", s->module, s->offset) : ret.hex());
  }
  const emu::Thread& t = m.current_thread();
  const nt::ps::ProcessRecord* p = kernel_.ps().process(t.space_process_id);
  f.context.process = p ? p->image_name : "System";
  f.context.thread = t.id;
  f.context.irql = m.irql();
  if (request_) {
    f.context.major = major_name(request_->major);
    if (request_->ioctl) f.context.ioctl = request_->ioctl;
  }
  return f;
}

void Engine::report(std::string_view check, GuestVa site, std::string message,
                    std::vector<std::pair<std::string, std::string>> values) {
  if (enabled_ && !enabled_(check)) return;
  Finding f = locate(check, site);
  std::string key = fmt::format("{}|{}|{:#x}|{}|{}", check, f.location.module, f.location.offset, f.context.major,
                                f.context.ioctl.value_or(0));
  if (auto it = by_key_.find(key); it != by_key_.end()) {
    ++findings_[it->second].count;
    return;
  }
  f.message = std::move(message);
  f.values = std::move(values);
  by_key_[key] = findings_.size();
  findings_.push_back(std::move(f));
}

}  // namespace kemu::verifier
