// Handle routines: close (Zw/Nt/Ob), reference by handle and by pointer,
// waiting on a handle. Zw routines called from kernel code run with
// PreviousMode KernelMode for their duration (semantics.md §3).
#include "emulator/ntstatus.h"
#include "ntoskrnl-stubs/api/registry.h"
#include "ntoskrnl-stubs/ke/scheduler.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/ob/object_manager.h"
#include "ntoskrnl-stubs/ps/process_manager.h"

namespace kemu::nt {

namespace {

// Runs fn with the thread's PreviousMode set to KernelMode, then restores it:
// the system-service path a kernel-mode ZwXxx call takes.
template <class Fn>
auto as_kernel_caller(Kernel& k, Fn fn) {
  emu::Machine& m = k.machine();
  ProcessorMode saved = m.previous_mode();
  m.set_previous_mode(ProcessorMode::KernelMode);
  auto result = fn();
  m.set_previous_mode(saved);
  return result;
}

std::optional<ob::TypeIndex> type_of(Kernel& k, GuestVa type_object) {
  if (!type_object) return std::nullopt;
  // POBJECT_TYPE values point at the type objects.
  auto t = k.ob().type_by_object(type_object);
  return t ? t : std::optional<ob::TypeIndex>(static_cast<ob::TypeIndex>(0xFF));
}

}  // namespace

NtStatus ObCloseHandle(Kernel& k, uint64_t handle, uint8_t mode) {
  auto st = k.ob().close_handle(handle, mode ? ProcessorMode::UserMode : ProcessorMode::KernelMode);
  return st.value_or(STATUS_INVALID_HANDLE);
}

NtStatus ZwClose(Kernel& k, uint64_t handle) {
  return as_kernel_caller(k, [&] { return ObCloseHandle(k, handle, 0); });
}

NtStatus NtClose(Kernel& k, uint64_t handle) {
  return ObCloseHandle(k, handle, static_cast<uint8_t>(k.machine().previous_mode()));
}

// ObReferenceObjectByHandle(Handle, DesiredAccess, ObjectType, AccessMode, Object*, HandleInformation*)
NtStatus ObReferenceObjectByHandle(Kernel& k, uint64_t handle, uint32_t desired, GuestVa type, uint8_t mode,
                                   GuestVa object_out, GuestVa info_out) {
  auto& mem = k.memory();
  mem.write<uint64_t>(object_out, 0);  // the output is cleared first
  ob::ObjectId id = ob::kNoObject;
  ob::HandleInfo info;
  NtStatus st = k.ob().reference_by_handle(handle, desired, type_of(k, type),
                                           mode ? ProcessorMode::UserMode : ProcessorMode::KernelMode, &id, &info);
  if (!nt_success(st)) return st;
  mem.write<uint64_t>(object_out, k.ob().get(id)->body.value);
  if (info_out) {
    // OBJECT_HANDLE_INFORMATION { ULONG HandleAttributes; ACCESS_MASK GrantedAccess; }
    mem.write<uint32_t>(info_out, info.attributes);
    mem.write<uint32_t>(info_out + 4, info.granted_access);
  }
  return STATUS_SUCCESS;
}

NtStatus ObReferenceObjectByHandleWithTag(Kernel& k, uint64_t handle, uint32_t desired, GuestVa type, uint8_t mode,
                                          uint32_t tag, GuestVa object_out, GuestVa info_out) {
  return ObReferenceObjectByHandle(k, handle, desired, type, mode, object_out, info_out);
}

// ObReferenceObjectByPointer: the type must match; access is not checked in KernelMode.
NtStatus ObReferenceObjectByPointer(Kernel& k, GuestVa object, uint32_t desired, GuestVa type, uint8_t mode) {
  ob::ObjectRecord* r = k.ob().by_body(object);
  if (!r) {
    k.machine().bugcheck(0x18, type.value, object.value, 2, 0, k.machine().call_site());
    return STATUS_INVALID_PARAMETER;
  }
  auto t = type_of(k, type);
  if (t && *t != r->type) return STATUS_OBJECT_TYPE_MISMATCH;
  k.ob().reference(r->id);
  return STATUS_SUCCESS;
}

// ZwWaitForSingleObject(Handle, Alertable, Timeout*): the handle is referenced
// in KernelMode (a Zw call) and its object waited on.
NtStatus ZwWaitForSingleObject(Kernel& k, uint64_t handle, bool alertable, GuestVa timeout) {
  ob::ObjectId id = ob::kNoObject;
  NtStatus st = k.ob().reference_by_handle(handle, ob::kSynchronize, std::nullopt, ProcessorMode::KernelMode, &id, nullptr);
  if (!nt_success(st)) return st;
  GuestVa body = k.ob().get(id)->body;
  std::optional<int64_t> t;
  if (timeout) t = k.memory().read<int64_t>(timeout);
  NtStatus result = k.scheduler().wait({body}, false, t);
  // The handle keeps the object alive while the thread is suspended in the wait.
  k.ob().dereference(id);
  return result;
}

namespace {
// A process handle as NtDuplicateObject resolves it (PROCESS_DUP_HANDLE).
std::optional<uint32_t> process_of_handle(Kernel& k, uint64_t handle, ProcessorMode mode, NtStatus* status) {
  ob::ObjectId id = ob::kNoObject;
  *status = k.ob().reference_by_handle(handle, 0x40, ob::TypeIndex::Process, mode, &id, nullptr);
  if (!nt_success(*status)) return std::nullopt;
  const ps::ProcessRecord* p = k.ps().process_by_eprocess(k.ob().get(id)->body);
  k.ob().dereference(id);
  if (!p) {
    *status = STATUS_INVALID_HANDLE;
    return std::nullopt;
  }
  return p->pid;
}
}  // namespace

// NtDuplicateObject(SourceProcess, SourceHandle, TargetProcess, TargetHandle*,
//                   DesiredAccess, HandleAttributes, Options), with the caller's previous mode.
NtStatus NtDuplicateObject(Kernel& k, uint64_t source_process, uint64_t source_handle, uint64_t target_process,
                           GuestVa target_out, uint32_t desired, uint32_t attributes, uint32_t options) {
  ProcessorMode mode = k.machine().previous_mode();
  NtStatus st = STATUS_SUCCESS;
  auto source_pid = process_of_handle(k, source_process, mode, &st);
  if (!source_pid) return st;
  std::optional<uint32_t> target_pid;
  if (target_process) {
    target_pid = process_of_handle(k, target_process, mode, &st);
    if (!target_pid) return st;
  }
  uint64_t handle = 0;
  st = k.ob().duplicate_handle(*source_pid, source_handle, target_pid, desired, attributes, options, mode, &handle);
  if (target_out) k.memory().write<uint64_t>(target_out, handle);
  return st;
}

// ZwDuplicateObject: the same, with PreviousMode KernelMode for the call
// (so a caller-supplied source handle is looked up without access checks).
NtStatus ZwDuplicateObject(Kernel& k, uint64_t source_process, uint64_t source_handle, uint64_t target_process,
                           GuestVa target_out, uint32_t desired, uint32_t attributes, uint32_t options) {
  return as_kernel_caller(k, [&] {
    return NtDuplicateObject(k, source_process, source_handle, target_process, target_out, desired, attributes,
                             options);
  });
}

void register_handle_exports(Registry& r) {
  KEMU_EXPORT(r, NtDuplicateObject);
  KEMU_EXPORT(r, ZwDuplicateObject);
  KEMU_EXPORT(r, ObCloseHandle);
  KEMU_EXPORT(r, ZwClose);
  KEMU_EXPORT(r, NtClose);
  KEMU_EXPORT(r, ObReferenceObjectByHandle);
  KEMU_EXPORT(r, ObReferenceObjectByHandleWithTag);
  KEMU_EXPORT(r, ObReferenceObjectByPointer);
  KEMU_EXPORT(r, ZwWaitForSingleObject);
}

}  // namespace kemu::nt
