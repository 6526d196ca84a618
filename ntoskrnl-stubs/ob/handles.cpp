// Handle creation, reference and close, in the order Windows decides
// (semantics.md §3, ReactOS's ObReferenceObjectByHandle and the ReactOS kernel
// tests' observations of Windows 10 for closing).
#include "emulator/processor_layout.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/ob/object_manager.h"
#include "ntoskrnl-stubs/ps/process_manager.h"

namespace kemu::nt::ob {

uint32_t ObjectManager::current_pid() const {
  emu::Machine& m = kernel_.machine();
  GuestVa process{m.memory().read<uint64_t>(m.current_thread().ethread + emu::kthread::kApcStateProcess)};
  const ps::ProcessRecord* p = kernel_.ps().process_by_eprocess(process);
  return p ? p->pid : ps::kSystemPid;
}

uint64_t ObjectManager::create_handle(ObjectId object, uint32_t desired_access, uint32_t attributes) {
  ObjectRecord& r = objects_.at(object);
  const TypeDescriptor& type = descriptor(r.type);
  uint32_t granted = map_generic(desired_access, type.mapping);
  if (granted & kMaximumAllowed) granted = (granted & ~kMaximumAllowed) | type.valid_access_mask;
  granted &= type.valid_access_mask | 0x01000000;  // ACCESS_SYSTEM_SECURITY may be kept
  bool kernel = (attributes & kObjKernelHandle) != 0;
  uint32_t pid = kernel ? ps::kSystemPid : current_pid();
  uint32_t index = tables_[pid].insert({object, granted, attributes & kObjInherit, false});
  ++r.handle_count;
  ++r.pointer_count;
  sync_header(r);
  uint64_t value = static_cast<uint64_t>(index) * 4;
  return kernel ? (value | kKernelHandleFlag) : value;
}

NtStatus ObjectManager::reference_by_handle(uint64_t handle, uint32_t desired_access,
                                            std::optional<TypeIndex> type, ProcessorMode mode,
                                            ObjectId* object, HandleInfo* info) {
  *object = kNoObject;  // 1. the output is cleared first
  if (info) *info = {};
  // 2. pseudo-handles for the current process and thread
  if (handle == kCurrentProcessHandle || handle == kCurrentThreadHandle) {
    bool process = handle == kCurrentProcessHandle;
    TypeIndex want = process ? TypeIndex::Process : TypeIndex::Thread;
    if (type && *type != want) return STATUS_OBJECT_TYPE_MISMATCH;
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
    if (mode == ProcessorMode::UserMode) return STATUS_INVALID_HANDLE;
    pid = ps::kSystemPid;
  } else {
    // 4. otherwise the current process's table
    if ((handle >> 32) != 0) return STATUS_INVALID_HANDLE;
    pid = current_pid();
  }
  HandleEntry* e = tables_[pid].find(handle_index(handle));
  if (!e || handle_index(handle) == 0) return STATUS_INVALID_HANDLE;
  ObjectRecord& r = objects_.at(e->object);
  // 5. the object type
  if (type && *type != r.type) return STATUS_OBJECT_TYPE_MISMATCH;
  // 6. access, only for UserMode
  if (mode == ProcessorMode::UserMode) {
    uint32_t desired = map_generic(desired_access, descriptor(r.type).mapping);
    if (desired & ~e->granted_access & ~kMaximumAllowed) return STATUS_ACCESS_DENIED;
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
    if (!src || handle_index(source_handle) == 0) return STATUS_INVALID_HANDLE;
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
    // (Security descriptors arrive with the access-check milestone: for other
    // types the missing rights are granted until then.)
    if (r.type == TypeIndex::File && (granted & ~source.granted_access)) {
      close_source();
      return STATUS_ACCESS_DENIED;
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
  ++r.pointer_count;
  sync_header(r);
  uint64_t value = static_cast<uint64_t>(index) * 4;
  *target_handle = kernel ? (value | kKernelHandleFlag) : value;
  close_source();
  return STATUS_SUCCESS;
}

std::optional<NtStatus> ObjectManager::close_handle(uint64_t handle, ProcessorMode mode) {
  emu::Machine& m = kernel_.machine();
  if (handle == kCurrentProcessHandle || handle == kCurrentThreadHandle) return STATUS_SUCCESS;
  auto invalid = [&](uint64_t p2) -> std::optional<NtStatus> {
    if (mode == ProcessorMode::UserMode || handle == 0) return STATUS_INVALID_HANDLE;
    // INVALID_KERNEL_HANDLE: a kernel-mode close of a handle that does not exist (P2 = 1)
    // or of a protected handle (P2 = 0).
    m.bugcheck(0x93, handle, p2, 0, 0, m.call_site());
    return std::nullopt;
  };
  uint32_t pid;
  if (is_kernel_handle(handle)) {
    if (mode == ProcessorMode::UserMode) return STATUS_INVALID_HANDLE;
    pid = ps::kSystemPid;
  } else {
    if ((handle >> 32) != 0) return invalid(1);
    pid = current_pid();
  }
  uint32_t index = handle_index(handle);
  HandleEntry* e = tables_[pid].find(index);
  if (!e || index == 0) return invalid(1);
  if (e->protect_from_close) {
    if (mode == ProcessorMode::UserMode) return STATUS_HANDLE_NOT_CLOSABLE;
    return invalid(0);
  }
  release_handle(pid, index);
  return STATUS_SUCCESS;
}

void ObjectManager::release_handle(uint32_t pid, uint32_t index) {
  ObjectId id = tables_[pid].find(index)->object;
  tables_[pid].erase(index);
  ObjectRecord& r = objects_.at(id);
  --r.handle_count;
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
