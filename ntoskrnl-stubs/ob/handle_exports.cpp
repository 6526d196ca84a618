// Handle routines: close (Zw/Nt/Ob), reference by handle and by pointer,
// waiting on a handle. Zw routines called from kernel code run with
// PreviousMode KernelMode for their duration (semantics.md §3).
#include "emulator/ntstatus.h"
#include "ntoskrnl-stubs/api/caller_memory.h"
#include "ntoskrnl-stubs/api/previous_mode.h"
#include "ntoskrnl-stubs/api/registry.h"
#include "ntoskrnl-stubs/ke/scheduler.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/nt_structs.h"
#include "ntoskrnl-stubs/ob/object_manager.h"
#include "ntoskrnl-stubs/ps/process_manager.h"

namespace kemu::nt {

NtStatus ObCloseHandle(Kernel& k, uint64_t handle, uint8_t mode) {
  auto st = k.ob().close_handle(handle, processor_mode(mode));
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
  NtStatus st = k.ob().reference_by_handle(handle, desired, k.ob().type_argument(type),
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

// ObReferenceObjectByPointer(Object, DesiredAccess, ObjectType, AccessMode):
// no access check; the type is validated only for UserMode (a NULL type is
// then a mismatch too), except that the symbolic-link type is refused in
// either mode. KernelMode with another type takes the reference.
NtStatus ObReferenceObjectByPointer(Kernel& k, GuestVa object, uint32_t desired, GuestVa type, uint8_t mode) {
  ob::ObjectRecord* r = k.ob().by_body(object);
  if (!r) {
    // Not an object body: kemu stops where Windows would corrupt a header.
    k.machine().bugcheck(0x18, type.value, object.value, 2, 0, k.machine().call_site());
    return STATUS_INVALID_PARAMETER;
  }
  auto t = k.ob().type_argument(type);
  bool matches = t && *t == r->type;
  if (!matches && (processor_mode(mode) == ProcessorMode::UserMode || t == ob::TypeIndex::SymbolicLink))
    return STATUS_OBJECT_TYPE_MISMATCH;
  k.ob().reference(r->id);
  return STATUS_SUCCESS;
}

namespace {
// The dispatcher object a wait on `object` waits for: the object itself for
// dispatcher objects, a file's FILE_OBJECT.Event, and for the types without
// one the object manager's default object, a notification event that is
// always signalled (OBJECT_TYPE.DefaultObject).
std::optional<GuestVa> wait_object(const ob::ObjectRecord& r) {
  switch (r.type) {
    case ob::TypeIndex::Event:
    case ob::TypeIndex::Mutant:
    case ob::TypeIndex::Semaphore:
    case ob::TypeIndex::Timer:
    case ob::TypeIndex::Process:
    case ob::TypeIndex::Thread:
      return r.body;
    case ob::TypeIndex::File:
      return r.body + offsetof(layout::FILE_OBJECT, Event);
    default:
      return std::nullopt;
  }
}
}  // namespace

// NtWaitForSingleObject(Handle, Alertable, Timeout*): a UserMode caller's
// timeout is probed and captured first; the handle is referenced for
// SYNCHRONIZE with the previous mode (so a UserMode caller needs the right,
// a KernelMode one does not) and its object waited on.
NtStatus NtWaitForSingleObject(Kernel& k, uint64_t handle, bool alertable, GuestVa timeout) {
  ProcessorMode mode = k.machine().previous_mode();
  std::optional<int64_t> t;
  if (timeout) {
    int64_t captured = 0;
    // ProbeAndReadLargeInteger: the range check, no alignment demand.
    if (NtStatus st = caller::read_bytes(k, mode, timeout, &captured, sizeof(captured), 1); !nt_success(st))
      return st;
    t = captured;
  }
  ob::ObjectId id = ob::kNoObject;
  NtStatus st = k.ob().reference_by_handle(handle, ob::kSynchronize, std::nullopt, mode, &id, nullptr);
  if (!nt_success(st)) return st;
  std::optional<GuestVa> object = wait_object(*k.ob().get(id));
  // The handle keeps the object alive while the thread is suspended in the wait.
  k.ob().dereference(id);
  if (!object) return STATUS_SUCCESS;  // the always-signalled default object
  return k.scheduler().wait({*object}, false, t, false, alertable);
}

NtStatus ZwWaitForSingleObject(Kernel& k, uint64_t handle, bool alertable, GuestVa timeout) {
  return as_kernel_caller(k, [&] { return NtWaitForSingleObject(k, handle, alertable, timeout); });
}

// ObOpenObjectByPointer lives with the security routines (ob/security_exports.cpp).
NtStatus ObOpenObjectByPointer(Kernel& k, GuestVa object, uint32_t attributes, GuestVa access_state,
                               uint32_t desired, GuestVa type, uint8_t mode, GuestVa handle_out);

NtStatus ObOpenObjectByPointerWithTag(Kernel& k, GuestVa object, uint32_t attributes, GuestVa access_state,
                                      uint32_t desired, GuestVa type, uint8_t mode, uint32_t tag, GuestVa handle_out) {
  return ObOpenObjectByPointer(k, object, attributes, access_state, desired, type, mode, handle_out);
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
  KEMU_EXPORT(r, NtWaitForSingleObject);
  KEMU_EXPORT(r, ZwWaitForSingleObject);
  KEMU_EXPORT(r, ObOpenObjectByPointerWithTag);
}

}  // namespace kemu::nt
