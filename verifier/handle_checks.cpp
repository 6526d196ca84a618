// The handle checks of checks.md: each names the Windows rule it enforces.
// They look at the kernel routines the driver calls (arguments before the
// call, the status after) and at the handles the driver's calls create.
#include <fmt/format.h>

#include "emulator/machine.h"
#include "ntoskrnl-stubs/api/export_table.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/ob/object_manager.h"
#include "ntoskrnl-stubs/ps/process_manager.h"
#include "verifier/engine.h"

namespace kemu::verifier::handle_checks {

namespace {

constexpr uint32_t kObjKernelHandle = 0x200;
constexpr uint32_t kObjForceAccessCheck = 0x400;
constexpr uint32_t kGenericRights = 0xF0000000;

const char* mode_name(uint64_t mode) { return (mode & 0xFF) ? "UserMode" : "KernelMode"; }

bool is_reference_routine(const std::string& name) {
  return name == "ObReferenceObjectByHandle" || name == "ObReferenceObjectByHandleWithTag";
}

// Whether the handle names a live entry where a lookup would go: the kernel
// table for a kernel handle, else the current process's table.
bool handle_exists(nt::Kernel& k, uint64_t handle) {
  auto& ob = k.ob();
  uint32_t pid = nt::ob::is_kernel_handle(handle) ? nt::ps::kSystemPid : ob.current_pid();
  return handle != 0 && ob.table(pid).find(nt::ob::handle_index(handle)) != nullptr;
}

// A handle of the caller's: a request is running, the value came from its
// bytes, it is one of the requestor's handles and not one the driver made.
bool caller_handle(Engine& e, uint64_t handle) {
  const nt::RequestStart* rq = e.request();
  if (!rq || handle == 0 || nt::ob::is_pseudo_handle(handle) || nt::ob::is_kernel_handle(handle)) return false;
  if (!e.from_request(handle)) return false;
  if (e.driver_made(rq->pid, handle)) return false;
  return e.kernel().ob().table(rq->pid).find(nt::ob::handle_index(handle)) != nullptr;
}

// The parameter types the prototype names ("HANDLE", "POBJECT_ATTRIBUTES", ...).
std::string param_type(const nt::ApiCall& call, size_t i) {
  if (!call.desc || i >= call.desc->parameters.size()) return {};
  const std::string& p = call.desc->parameters[i];
  auto space = p.find(' ');
  return space == std::string::npos ? p : p.substr(0, space);
}

// A POBJECT_TYPE argument as a reader knows it: NULL, the type's name, or
// the raw pointer when it is no type object.
std::string object_type_value(nt::Kernel& k, uint64_t type) {
  if (!type) return "NULL";
  if (auto index = k.ob().type_by_object(GuestVa{type})) return nt::to_utf8(nt::ob::descriptor(*index).name);
  return hex(type);
}

void reference_checks(Engine& e, const nt::ApiCall& call) {
  nt::Kernel& k = e.kernel();
  uint64_t handle = call.args.size() > 0 ? call.args[0] : 0;
  uint32_t desired = call.args.size() > 1 ? static_cast<uint32_t>(call.args[1]) : 0;
  uint64_t type = call.args.size() > 2 ? call.args[2] : 0;
  uint64_t mode = call.args.size() > 3 ? (call.args[3] & 0xFF) : 0;
  if (nt::ob::is_pseudo_handle(handle)) return;
  bool user_mode = mode != 0;
  uint32_t pid = k.ob().current_pid();
  bool derived = caller_handle(e, handle);
  std::vector<std::pair<std::string, std::string>> values = {
      {"handle", hex(handle)}, {"access_mode", mode_name(mode)}, {"desired_access", hex(desired)},
      {"object_type", object_type_value(k, type)}};

  // A kernel handle is valid only with KernelMode: with UserMode the lookup fails.
  if (user_mode && nt::ob::is_kernel_handle(handle))
    e.report("handle.kernel-handle-user-mode", call.call_site,
             fmt::format("{} was called with AccessMode UserMode on the kernel handle {:#x}; a kernel handle "
                         "is valid only with KernelMode, so the call fails with STATUS_INVALID_HANDLE.",
                         *call.name, handle),
             values);

  // A handle from a user process's table referenced with KernelMode while
  // the request came from user mode: no access check, no type safety for the caller.
  if (!user_mode && k.machine().previous_mode() == ProcessorMode::UserMode && pid != nt::ps::kSystemPid &&
      !nt::ob::is_kernel_handle(handle) && handle_exists(k, handle) && !e.driver_made(pid, handle))
    e.report("handle.user-handle-kernel-mode", call.call_site,
             fmt::format("{} referenced {:#x}, a handle of {}'s table, with AccessMode KernelMode while the "
                         "request came from user mode: the object manager checked neither the caller's access "
                         "nor that the caller may use this handle.",
                         *call.name, handle, k.ps().process(pid) ? k.ps().process(pid)->image_name : "the process"),
             values);

  if (derived && type == 0)
    e.report("handle.no-object-type", call.call_site,
             fmt::format("{} referenced the caller's handle {:#x} with ObjectType NULL: any object the caller "
                         "has a handle to (a process, a section, a key) is accepted as the one the driver expects.",
                         *call.name, handle),
             values);

  if (derived && user_mode && (desired == 0 || (desired & kGenericRights)))
    e.report("handle.no-access-check", call.call_site,
             fmt::format("{} referenced the caller's handle {:#x} with DesiredAccess {:#x}: {}", *call.name, handle,
                         desired,
                         desired == 0 ? "no right is checked, so a handle opened with no access passes."
                                      : "generic rights are never granted as such, so the check fails or checks "
                                        "nothing the driver meant."),
             values);

  // A handle that names nothing (closed, never valid, NULL). A UserMode
  // reference of the caller's own value is the driver validating it: fine.
  if (!handle_exists(k, handle) && !(user_mode && (derived || e.from_request(handle) || handle == 0)) &&
      !(user_mode && nt::ob::is_kernel_handle(handle)))
    e.report("handle.invalid", call.call_site,
             fmt::format("{} was called with {:#x}, which names no handle in {}.", *call.name, handle,
                         nt::ob::is_kernel_handle(handle) ? "the kernel table" : "the current process's table"),
             values);
}

void close_checks(Engine& e, const nt::ApiCall& call) {
  nt::Kernel& k = e.kernel();
  uint64_t handle = call.args.empty() ? 0 : call.args[0];
  if (nt::ob::is_pseudo_handle(handle) || handle_exists(k, handle)) return;
  e.report("handle.invalid", call.call_site,
           fmt::format("{} closed {:#x}, which names no handle{}.", *call.name, handle,
                       *call.name == "ZwClose" && handle != 0
                           ? " (from kernel mode this is bug check 0x93 INVALID_KERNEL_HANDLE)"
                           : ""),
           {{"handle", hex(handle)}});
}

// ZwXxx runs with PreviousMode KernelMode: a handle argument is looked up
// without access checks, and may name a kernel handle the caller could never use.
void zw_handle_arguments(Engine& e, const nt::ApiCall& call) {
  const nt::RequestStart* rq = e.request();
  if (!rq || rq->requestor != ProcessorMode::UserMode) return;
  for (size_t i = 0; i < call.args.size(); ++i) {
    if (param_type(call, i) != "HANDLE") continue;
    uint64_t handle = call.args[i];
    if (!caller_handle(e, handle)) continue;
    std::string param = call.desc->parameters[i].substr(call.desc->parameters[i].find(' ') + 1);
    e.report("handle.user-handle-to-zw", call.call_site,
             fmt::format("the caller's handle {:#x} reached {} ({}): a ZwXxx routine runs with PreviousMode "
                         "KernelMode, so the handle's granted access is never checked.",
                         handle, *call.name, param),
             {{"handle", hex(handle)}, {"routine", *call.name}, {"parameter", param}});
  }
}

// A name the caller chose, opened from kernel mode without OBJ_FORCE_ACCESS_CHECK.
void object_name_arguments(Engine& e, const nt::ApiCall& call) {
  const nt::RequestStart* rq = e.request();
  if (!rq || rq->requestor != ProcessorMode::UserMode) return;
  nt::Kernel& k = e.kernel();
  auto& mem = k.memory();
  for (size_t i = 0; i < call.args.size(); ++i) {
    if (param_type(call, i) != "POBJECT_ATTRIBUTES" || !call.args[i]) continue;
    GuestVa oa{call.args[i]};
    auto attributes = mem.try_read<uint32_t>(oa + 0x18);
    auto name_ptr = mem.try_read<uint64_t>(oa + 0x10);
    if (!attributes || !name_ptr || !*name_ptr) continue;
    std::u16string name;
    try {
      name = k.read_unicode_string(GuestVa{*name_ptr});
    } catch (const emu::GuestAccessError&) {
      continue;
    }
    if (name.size() < 2 || (*attributes & kObjForceAccessCheck)) continue;
    const std::vector<uint8_t>& bytes = rq->caller_bytes;
    const auto* pattern = reinterpret_cast<const uint8_t*>(name.data());
    size_t width = name.size() * 2;
    bool found = false;
    for (size_t at = 0; !found && at + width <= bytes.size(); ++at)
      found = std::equal(pattern, pattern + width, bytes.begin() + static_cast<long>(at));
    if (!found) continue;
    e.report("handle.force-access-check-missing", call.call_site,
             fmt::format("{} opened \"{}\", a name taken from the request, without OBJ_FORCE_ACCESS_CHECK: "
                         "from kernel mode the caller's rights to that object are never checked.",
                         *call.name, nt::to_utf8(name)),
             {{"name", nt::to_utf8(name)}, {"attributes", hex(*attributes)}, {"routine", *call.name}});
  }
}

}  // namespace

void on_call(Engine& e, const nt::ApiCall& call) {
  const std::string& name = *call.name;
  if (is_reference_routine(name)) reference_checks(e, call);
  if (name == "ZwClose" || name == "NtClose" || name == "ObCloseHandle") close_checks(e, call);
  if (name.starts_with("Zw")) zw_handle_arguments(e, call);
  if (name.starts_with("Zw") || name.starts_with("Io") || name.starts_with("Ob")) object_name_arguments(e, call);
}

// The references the driver's calls hand it, and the ones it drops.
void on_return(Engine& e, const nt::ApiCall& call) {
  const std::string& name = *call.name;
  auto& mem = e.kernel().memory();
  auto arg = [&](size_t i) { return i < call.args.size() ? call.args[i] : 0; };
  auto out_object = [&](size_t i) { return GuestVa{mem.try_read<uint64_t>(GuestVa{arg(i)}).value_or(0)}; };
  bool ok = nt_success(static_cast<NtStatus>(call.result));
  GuestVa taken;
  if (name == "ObReferenceObjectByHandle" && ok) taken = out_object(4);
  else if (name == "ObReferenceObjectByHandleWithTag" && ok) taken = out_object(5);
  else if ((name == "ObReferenceObjectByPointer" || name == "ObReferenceObjectByPointerWithTag") && ok) taken = GuestVa{arg(0)};
  else if (name == "ObfReferenceObject" || name == "ObfReferenceObjectWithTag") taken = GuestVa{arg(0)};
  else if (name == "ObReferenceObjectByName" && ok) taken = out_object(7);
  else if ((name == "PsLookupProcessByProcessId" || name == "PsLookupThreadByThreadId") && ok) taken = out_object(1);
  else if (name == "IoGetDeviceObjectPointer" && ok) taken = out_object(2);
  if (taken) e.note_reference(taken, +1, call.call_site, name);
  if (name == "ObfDereferenceObject" || name == "ObfDereferenceObjectWithTag" || name == "ObDereferenceObjectDeferDelete" ||
      name == "ObDereferenceObjectDeferDeleteWithTag")
    e.note_reference(GuestVa{arg(0)}, -1, call.call_site, name);
}

void on_created(Engine& e, const nt::HandleCreated& event) {
  nt::Kernel& k = e.kernel();
  const nt::ApiCall* call = e.current_call();
  if (!call || event.pid == nt::ps::kSystemPid || (event.attributes & kObjKernelHandle)) return;
  // A handle made for user mode on purpose (ObOpenObjectByPointer/ByName with
  // AccessMode UserMode, a duplicate into another process) is the caller's.
  const std::string& name = *call->name;
  // NtXxx with PreviousMode UserMode makes the caller's own handle (the
  // service drops OBJ_KERNEL_HANDLE for it): not a driver-private handle.
  if (name.starts_with("Nt")) return;
  if (name == "ObOpenObjectByPointer" && call->args.size() > 5 && (call->args[5] & 0xFF)) return;
  if (name == "ObOpenObjectByName" && call->args.size() > 2 && (call->args[2] & 0xFF)) return;
  if (name == "ZwDuplicateObject" || name == "NtDuplicateObject") return;
  const nt::ps::ProcessRecord* p = k.ps().process(event.pid);
  e.report("handle.not-kernel-handle", call->call_site,
           fmt::format("{} created the handle {:#x} without OBJ_KERNEL_HANDLE while {} was the current process: "
                       "the handle went into that process's table, where the process can use, duplicate or close "
                       "it behind the driver's back.",
                       name, event.value, p ? p->image_name : "a user process"),
           {{"handle", hex(event.value)}, {"attributes", hex(event.attributes)}, {"routine", name}});
}

}  // namespace kemu::verifier::handle_checks
