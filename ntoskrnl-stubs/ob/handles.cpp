// Handle creation, reference and close, in the order Windows decides
// (semantics.md §3, ReactOS's ObReferenceObjectByHandle and the ReactOS kernel
// tests' observations of Windows 10 for closing).
#include <fmt/format.h>

#include "emulator/processor_layout.h"
#include "ntoskrnl-stubs/api/kernel_modules.h"
#include "ntoskrnl-stubs/api/kernel_events.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/nt_structs.h"
#include "ntoskrnl-stubs/ob/object_manager.h"
#include "ntoskrnl-stubs/ps/process_manager.h"

namespace kemu::nt::ob {

namespace {
std::string status_name_or_hex(NtStatus s) {
  std::string_view name = status_name(s);
  return name.empty() ? fmt::format("{:#010x}", s) : std::string(name);
}
}  // namespace

uint32_t ObjectManager::current_pid() const {
  emu::Machine& m = kernel_.machine();
  GuestVa process{m.memory().read<uint64_t>(m.current_thread().ethread + emu::kthread::kApcStateProcess)};
  const ps::ProcessRecord* p = kernel_.ps().process_by_eprocess(process);
  return p ? p->pid : ps::kSystemPid;
}

// --- --explain wording -------------------------------------------------------------
std::string ObjectManager::table_name(uint32_t pid) const {
  if (pid == ps::kSystemPid) return "the System process's table (the kernel handle table)";
  const ps::ProcessRecord* p = kernel_.ps().process(pid);
  return fmt::format("{}'s table (pid {:#x})", p ? p->image_name : std::string("process"), pid);
}

std::string ObjectManager::describe(ObjectId id) const {
  const ObjectRecord* r = get(id);
  if (!r) return "a deleted object";
  std::string type = to_utf8(descriptor(r->type).name);
  std::u16string name = full_name(id);
  if (r->type == TypeIndex::File) {
    GuestVa device{kernel_.memory().read<uint64_t>(r->body + offsetof(layout::FILE_OBJECT, DeviceObject))};
    const ObjectRecord* d = const_cast<ObjectManager*>(this)->by_body(device);
    name = (d ? full_name(d->id) : u"") + kernel_.read_unicode_string(r->body + offsetof(layout::FILE_OBJECT, FileName));
  }
  return name.empty() ? fmt::format("an unnamed {} object", type) : fmt::format("the {} object {}", type, to_utf8(name));
}

uint64_t ObjectManager::create_handle(ObjectId object, uint32_t desired_access, uint32_t attributes) {
  ObjectRecord& r = objects_.at(object);
  const TypeDescriptor& type = descriptor(r.type);
  uint32_t granted = map_generic(desired_access, type.mapping);
  if (granted & kMaximumAllowed) granted = (granted & ~kMaximumAllowed) | type.valid_access_mask;
  granted &= type.valid_access_mask | 0x01000000;  // ACCESS_SYSTEM_SECURITY may be kept
  bool kernel = (attributes & kObjKernelHandle) != 0;
  uint32_t pid = kernel ? ps::kSystemPid : current_pid();
  bool exclusive = (attributes & kObjExclusive) != 0;
  uint32_t index = tables_[pid].insert({object, granted, attributes & kObjInherit, false, exclusive});
  if (exclusive) {
    r.exclusive_pid = pid;
    ++r.exclusive_handles;
  }
  ++r.handle_count;
  count_in_type(r.type, 0, 1);
  ++r.pointer_count;
  sync_header(r);
  uint64_t value = static_cast<uint64_t>(index) * 4;
  value = kernel ? (value | kKernelHandleFlag) : value;
  if (kernel_.observed()) {
    HandleCreated event{value, pid, attributes, object, kernel_.modules().current_call() != nullptr};
    kernel_.publish([&](KernelListener& l) { l.handle_created(event); });
  }
  if (kernel_.explainer().enabled()) {
    bool client = kernel_.modules().current_call() == nullptr;
    std::string why = kernel ? "OBJ_KERNEL_HANDLE was given, so it is a kernel handle (bit 31 set)"
                      : client ? "the client's own handle"
                      : pid == ps::kSystemPid
                          ? "no OBJ_KERNEL_HANDLE, but the System process is current"
                          : "no OBJ_KERNEL_HANDLE, so it goes into the current process's table, where "
                            "that process can use or close it";
    kernel_.explainer().say(fmt::format(
        "{}: handle {:#x} created in {} for {}, granted access {:#x} (asked {:#x}{}); {}.",
        kernel_.caller_description(), value, table_name(pid), describe(object), granted, desired_access,
        (desired_access & 0xF0000000u) ? ", generic rights mapped through the type's GENERIC_MAPPING" : "", why));
  }
  return value;
}

NtStatus ObjectManager::reference_by_handle(uint64_t handle, uint32_t desired_access,
                                            std::optional<TypeIndex> type, ProcessorMode mode,
                                            ObjectId* object, HandleInfo* info) {
  std::string decision;
  NtStatus status = reference_by_handle_decided(handle, desired_access, type, mode, object, info,
                                                kernel_.explainer().enabled() ? &decision : nullptr);
  if (kernel_.explainer().enabled()) {
    kernel_.explainer().say(fmt::format("{}: handle {:#x}, {}, {} access {:#x}: {} → {}.", kernel_.caller_description(),
                                        handle, mode == ProcessorMode::UserMode ? "UserMode" : "KernelMode",
                                        type ? "type " + to_utf8(descriptor(*type).name) : std::string("any type"),
                                        desired_access, decision, status_name_or_hex(status)));
  }
  return status;
}

NtStatus ObjectManager::reference_by_handle_decided(uint64_t handle, uint32_t desired_access,
                                                    std::optional<TypeIndex> type, ProcessorMode mode,
                                                    ObjectId* object, HandleInfo* info, std::string* why) {
  auto note = [&](std::string_view text) {
    if (why) {
      if (!why->empty()) *why += "; ";
      *why += text;
    }
  };
  *object = kNoObject;  // 1. the output is cleared first
  if (info) *info = {};
  // 2. pseudo-handles for the current process and thread
  if (handle == kCurrentProcessHandle || handle == kCurrentThreadHandle) {
    bool process = handle == kCurrentProcessHandle;
    TypeIndex want = process ? TypeIndex::Process : TypeIndex::Thread;
    if (why) note(fmt::format("{} is the pseudo-handle of the current {}", process ? "-1" : "-2", process ? "process" : "thread"));
    if (type && *type != want) {
      note("which is not of the type asked for");
      return STATUS_OBJECT_TYPE_MISMATCH;
    }
    emu::Machine& m = kernel_.machine();
    GuestVa body = process ? GuestVa{m.memory().read<uint64_t>(m.current_thread().ethread +
                                                               emu::kthread::kApcStateProcess)}
                           : m.current_thread().ethread;
    ObjectRecord* r = by_body(body);
    if (!r) return STATUS_INVALID_HANDLE;
    // The pseudo-handles carry all access to the caller's own process/thread.
    ++r->pointer_count;
    sync_header(*r);
    *object = r->id;
    if (info) info->granted_access = descriptor(want).valid_access_mask;
    return STATUS_SUCCESS;
  }
  // 3. a kernel handle is invalid from UserMode; from KernelMode it names the kernel table
  uint32_t pid;
  if (is_kernel_handle(handle)) {
    if (mode == ProcessorMode::UserMode) {
      note("it is a kernel handle, which is not valid from UserMode");
      return STATUS_INVALID_HANDLE;
    }
    note("a kernel handle, looked up in the kernel handle table because AccessMode is KernelMode");
    pid = ps::kSystemPid;
  } else {
    // 4. otherwise the current process's table
    if ((handle >> 32) != 0) {
      note("not a valid handle value");
      return STATUS_INVALID_HANDLE;
    }
    pid = current_pid();
    if (why) note("looked up in " + table_name(pid) + ", the current process's");
  }
  HandleEntry* e = tables_[pid].find(handle_index(handle));
  if (!e || handle_index(handle) == 0) {
    note(tables_[pid].was_closed(handle_index(handle)) ? "that handle was closed" : "no such handle there");
    return STATUS_INVALID_HANDLE;
  }
  ObjectRecord& r = objects_.at(e->object);
  if (why) note(fmt::format("it names {} with granted access {:#x}", describe(r.id), e->granted_access));
  // 5. the object type
  if (type && *type != r.type) {
    note("the type does not match");
    return STATUS_OBJECT_TYPE_MISMATCH;
  }
  // 6. access, only for UserMode
  if (mode == ProcessorMode::UserMode) {
    uint32_t desired = map_generic(desired_access, descriptor(r.type).mapping);
    if (desired & ~e->granted_access & ~kMaximumAllowed) {
      if (why) note(fmt::format("AccessMode is UserMode, so the access is checked: {:#x} is not granted", desired & ~e->granted_access & ~kMaximumAllowed));
      return STATUS_ACCESS_DENIED;
    }
    note("AccessMode is UserMode, so the access is checked: granted");
  } else {
    note("AccessMode is KernelMode: no access check");
  }
  // 7. success
  ++r.pointer_count;
  sync_header(r);
  *object = r.id;
  if (info) *info = {e->granted_access, e->attributes};
  return STATUS_SUCCESS;
}

NtStatus ObjectManager::duplicate_handle(uint32_t source_pid, uint64_t source_handle,
                                         std::optional<uint32_t> target_pid, uint32_t desired_access,
                                         uint32_t attributes, uint32_t options, ProcessorMode mode,
                                         uint64_t* target_handle) {
  constexpr uint32_t kCloseSource = 1, kSameAccess = 2, kSameAttributes = 4;
  *target_handle = 0;
  // The source entry: a kernel handle names the kernel table, and only a
  // KernelMode caller may name one.
  uint32_t table_pid = source_pid;
  HandleEntry source;
  if (source_handle == kCurrentProcessHandle || source_handle == kCurrentThreadHandle) {
    // The pseudo-handles duplicate into real handles to the current process
    // or thread, with all access (there is no entry to close).
    ObjectId id = kNoObject;
    HandleInfo info;
    NtStatus st = reference_by_handle(source_handle, 0, std::nullopt, ProcessorMode::KernelMode, &id, &info);
    if (!nt_success(st)) return st;
    dereference(id);
    source = {id, info.granted_access, 0, false};
    options &= ~1u;
  } else {
    if (is_kernel_handle(source_handle)) {
      if (mode == ProcessorMode::UserMode) return STATUS_INVALID_HANDLE;
      table_pid = ps::kSystemPid;
    } else if (source_handle >> 32) {
      return STATUS_INVALID_HANDLE;
    }
    HandleEntry* src = tables_[table_pid].find(handle_index(source_handle));
    if (!src || handle_index(source_handle) == 0) {
      if (kernel_.explainer().enabled())
        kernel_.explainer().say(fmt::format("{}: source handle {:#x} is no entry of {} → STATUS_INVALID_HANDLE.",
                                            kernel_.caller_description(), source_handle, table_name(table_pid)));
      return STATUS_INVALID_HANDLE;
    }
    source = *src;
  }
  auto close_source = [&] {
    if (!(options & kCloseSource)) return;
    // Closed in the source process's table, as that process would close it.
    if (tables_[table_pid].find(handle_index(source_handle))) release_handle(table_pid, handle_index(source_handle));
  };
  if (!target_pid) {  // only closing the source
    close_source();
    return STATUS_SUCCESS;
  }
  ObjectRecord& r = objects_.at(source.object);
  const TypeDescriptor& type = descriptor(r.type);
  uint32_t granted = source.granted_access;
  if (!(options & kSameAccess)) {
    granted = map_generic(desired_access, type.mapping);
    if (granted & kMaximumAllowed) granted = (granted & ~kMaximumAllowed) | source.granted_access;
    // Rights the source lacks are checked against the object's security; a
    // file's own security procedure refuses more than the source had.
    uint32_t missing = granted & ~source.granted_access;
    if (r.type == TypeIndex::File && missing) {
      close_source();
      return STATUS_ACCESS_DENIED;
    }
    uint32_t checked = 0;
    if (missing) {
      // Other objects: the caller's token against the object's descriptor
      // (none: granted; a KernelMode caller is not checked).
      NtStatus st = check_access(source.object, missing, mode, &checked);
      if (!nt_success(st)) {
        close_source();
        return st;
      }
    }
  }
  uint32_t handle_attributes = (options & kSameAttributes) ? source.attributes : (attributes & kObjInherit);
  bool kernel = !(options & kSameAttributes) && (attributes & kObjKernelHandle);
  if (kernel && (*target_pid != ps::kSystemPid || mode == ProcessorMode::UserMode)) {
    // OBJ_KERNEL_HANDLE into a user process is refused (Windows 7 and later).
    close_source();
    return STATUS_INVALID_PARAMETER;
  }
  uint32_t index = tables_[*target_pid].insert({source.object, granted, handle_attributes, false});
  ++r.handle_count;
  count_in_type(r.type, 0, 1);
  ++r.pointer_count;
  sync_header(r);
  uint64_t value = static_cast<uint64_t>(index) * 4;
  *target_handle = kernel ? (value | kKernelHandleFlag) : value;
  if (kernel_.observed()) {
    // A duplicate is a new handle like any other (a driver's leaks count).
    HandleCreated event{*target_handle, *target_pid, handle_attributes | (kernel ? kObjKernelHandle : 0u),
                        source.object, kernel_.modules().current_call() != nullptr};
    kernel_.publish([&](KernelListener& l) { l.handle_created(event); });
  }
  if (kernel_.explainer().enabled())
    kernel_.explainer().say(fmt::format(
        "{}: handle {:#x} of {}, looked up with {} ({} granted access {:#x}), duplicated as handle {:#x} in {}, "
        "granted access {:#x}{}.",
        kernel_.caller_description(), source_handle, table_name(table_pid),
        mode == ProcessorMode::UserMode ? "UserMode" : "KernelMode", describe(source.object), source.granted_access,
        *target_handle, table_name(*target_pid), granted,
        (options & kCloseSource) ? "; the source handle is closed" : ""));
  close_source();
  return STATUS_SUCCESS;
}

std::optional<NtStatus> ObjectManager::close_handle(uint64_t handle, ProcessorMode mode) {
  if (!kernel_.explainer().enabled()) return close_handle_decided(handle, mode, nullptr);
  std::string why;
  auto st = close_handle_decided(handle, mode, &why);
  kernel_.explainer().say(fmt::format("{}: close of handle {:#x} with PreviousMode {}: {} → {}.", kernel_.caller_description(),
                                      handle, mode == ProcessorMode::UserMode ? "UserMode" : "KernelMode", why,
                                      st ? status_name_or_hex(*st) : std::string("bugcheck 0x93 INVALID_KERNEL_HANDLE")));
  return st;
}

std::optional<NtStatus> ObjectManager::close_handle_decided(uint64_t handle, ProcessorMode mode, std::string* why) {
  auto note = [&](std::string_view text) {
    if (why) {
      if (!why->empty()) *why += "; ";
      *why += text;
    }
  };
  emu::Machine& m = kernel_.machine();
  if (handle == kCurrentProcessHandle || handle == kCurrentThreadHandle) {
    note("a pseudo-handle: nothing to close");
    return STATUS_SUCCESS;
  }
  auto invalid = [&](uint64_t p2) -> std::optional<NtStatus> {
    if (mode == ProcessorMode::UserMode || handle == 0) return STATUS_INVALID_HANDLE;
    // INVALID_KERNEL_HANDLE: a kernel-mode close of a handle that does not exist (P2 = 1)
    // or of a protected handle (P2 = 0).
    m.bugcheck(0x93, handle, p2, 0, 0, m.call_site());
    return std::nullopt;
  };
  uint32_t pid;
  if (is_kernel_handle(handle)) {
    if (mode == ProcessorMode::UserMode) {
      note("a kernel handle cannot be closed from UserMode");
      return STATUS_INVALID_HANDLE;
    }
    pid = ps::kSystemPid;
  } else {
    if ((handle >> 32) != 0) return invalid(1);
    pid = current_pid();
  }
  uint32_t index = handle_index(handle);
  HandleEntry* e = tables_[pid].find(index);
  if (why) note("in " + table_name(pid));
  if (!e || index == 0) {
    note(mode == ProcessorMode::UserMode ? "no such handle" : "no such handle, and a kernel-mode close of an invalid handle bugchecks");
    return invalid(1);
  }
  if (e->protect_from_close) {
    note("the handle is protected from close");
    if (mode == ProcessorMode::UserMode) return STATUS_HANDLE_NOT_CLOSABLE;
    return invalid(0);
  }
  const ObjectRecord& closing = objects_.at(e->object);
  if (why) note(fmt::format("it named {}{}", describe(closing.id),
                   closing.handle_count == 1 ? " and was its last handle" : ""));
  release_handle(pid, index);
  return STATUS_SUCCESS;
}

NtStatus ObjectManager::check_handle_attributes(ObjectId object, uint32_t attributes, ProcessorMode mode) const {
  const ObjectRecord& r = objects_.at(object);
  if (r.kernel_only && mode == ProcessorMode::UserMode) return STATUS_ACCESS_DENIED;
  uint32_t pid = (attributes & kObjKernelHandle) && mode == ProcessorMode::KernelMode ? ps::kSystemPid : current_pid();
  if (attributes & kObjExclusive) {
    if ((attributes & kObjInherit) || !r.exclusive) return STATUS_INVALID_PARAMETER;
    if ((r.exclusive_pid == 0 && r.handle_count != 0) || (r.exclusive_pid != 0 && r.exclusive_pid != pid))
      return STATUS_ACCESS_DENIED;
  } else if (r.exclusive && r.exclusive_pid != 0) {
    return STATUS_ACCESS_DENIED;
  }
  return STATUS_SUCCESS;
}

void ObjectManager::release_handle(uint32_t pid, uint32_t index) {
  HandleEntry* entry = tables_[pid].find(index);
  ObjectId id = entry->object;
  bool exclusive = entry->exclusive;
  tables_[pid].erase(index);
  if (kernel_.observed()) {
    // The entry's index (the System process's table is the kernel table:
    // its handles are closed with or without bit 31).
    HandleClosed event{static_cast<uint64_t>(index) * 4, pid, id};
    kernel_.publish([&](KernelListener& l) { l.handle_closed(event); });
  }
  ObjectRecord& r = objects_.at(id);
  if (exclusive && --r.exclusive_handles == 0) r.exclusive_pid = 0;
  --r.handle_count;
  count_in_type(r.type, 0, -1);
  sync_header(r);
  if (r.handle_count == 0) {
    // The type's close procedure (a file's IRP_MJ_CLEANUP).
    auto proc = close_procedures_.find(static_cast<uint8_t>(r.type));
    if (proc != close_procedures_.end()) proc->second(id);
  }
  // A temporary object loses its name with its last handle.
  if (r.handle_count == 0 && !r.permanent && r.parent != kNoObject) {
    objects_.at(r.parent).entries.erase(r.name);
    r.parent = kNoObject;
  }
  dereference(id);
}

}  // namespace kemu::nt::ob
