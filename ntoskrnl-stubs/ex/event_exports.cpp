// Event objects by handle: NtCreateEvent/ZwCreateEvent, ZwOpenEvent,
// NtSetEvent/ZwSetEvent, ZwClearEvent, ZwResetEvent, ZwPulseEvent and the I/O
// manager's IoCreateNotificationEvent / IoCreateSynchronizationEvent, over
// the scheduler's KEVENTs (ke/ke_sync_exports.cpp). Each NtXxx works with the
// thread's PreviousMode; each ZwXxx runs it with PreviousMode KernelMode
// (api/previous_mode.h). The order of the checks is the system services' own
// (probe the caller's pointers, validate, reference, act, write results).
#include "ntoskrnl-stubs/ex/events.h"

#include "emulator/ntstatus.h"
#include "ntoskrnl-stubs/api/caller_memory.h"
#include "ntoskrnl-stubs/api/previous_mode.h"
#include "ntoskrnl-stubs/api/registry.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/nt_structs.h"
#include "ntoskrnl-stubs/ob/object_manager.h"

namespace kemu::nt {

// The dispatcher routines the services end in (ke/ke_sync_exports.cpp).
int32_t KeSetEvent(Kernel& k, GuestVa event, int32_t increment, bool wait);
int32_t KeResetEvent(Kernel& k, GuestVa event);
void KeClearEvent(Kernel& k, GuestVa event);
int32_t KePulseEvent(Kernel& k, GuestVa event, int32_t increment, bool wait);

namespace ex {

NtStatus create_event(Kernel& k, const ob::CapturedAttributes& attributes, uint32_t desired_access,
                      uint32_t type, bool initial_state, ProcessorMode mode, uint64_t* handle,
                      ob::ObjectId* object) {
  *handle = 0;
  if (object) *object = ob::kNoObject;
  // A name of length 0 is no name: the event is unnamed (RootDirectory unused).
  std::optional<std::u16string> path;
  if (attributes.name && !attributes.name->empty()) {
    std::u16string absolute;
    if (NtStatus st = ob::absolute_name(k, mode, attributes, &absolute); !nt_success(st)) return st;
    path = std::move(absolute);
  }
  ob::ObjectId id = k.ob().create(ob::TypeIndex::Event, sizeof(layout::KEVENT));
  GuestVa body = k.ob().get(id)->body;
  k.memory().write(body,
                   layout::make_event(body.value,
                                      type == kSynchronizationEvent ? layout::kSynchronizationEvent
                                                                    : layout::kNotificationEvent,
                                      initial_state));
  // Names compare case-insensitively whatever OBJ_CASE_INSENSITIVE says:
  // with the default ObCaseInsensitive = 1 every object type is created
  // case-insensitive, and the lookup adds the flag for such types.
  return k.ob().insert_and_open(id, path, attributes.attributes, desired_access, mode, handle,
                                object);
}

}  // namespace ex

namespace {

using caller::probe_for_write;
using caller::store_result;

// ObReferenceObjectByHandle(Handle, Access, *ExEventObjectType, PreviousMode).
NtStatus reference_event(Kernel& k, uint64_t handle, uint32_t access, ProcessorMode mode,
                         ob::ObjectId* id) {
  return k.ob().reference_by_handle(handle, access, ob::TypeIndex::Event, mode, id, nullptr);
}

// The shared shape of NtSetEvent / NtResetEvent / NtPulseEvent: the previous
// signal state goes to *PreviousState when the caller asked for it.
template <class Op>
NtStatus modify_event(Kernel& k, uint64_t handle, GuestVa previous_state, Op op) {
  ProcessorMode mode = k.machine().previous_mode();
  if (previous_state) {
    if (NtStatus st = probe_for_write(k, mode, previous_state, sizeof(int32_t)); !nt_success(st))
      return st;
  }
  ob::ObjectId id = ob::kNoObject;
  if (NtStatus st = reference_event(k, handle, ex::kEventModifyState, mode, &id); !nt_success(st))
    return st;
  int32_t previous = op(k.ob().get(id)->body);
  k.ob().dereference(id);
  if (previous_state) store_result<int32_t>(k, mode, previous_state, previous);
  return STATUS_SUCCESS;
}

}  // namespace

// NtCreateEvent(EventHandle*, DesiredAccess, ObjectAttributes*, EventType, InitialState)
NtStatus NtCreateEvent(Kernel& k, GuestVa handle_out, uint32_t desired, GuestVa object_attributes,
                       uint32_t type, bool initial_state) {
  ProcessorMode mode = k.machine().previous_mode();
  // 1. The caller's HANDLE* (UserMode only).
  if (NtStatus st = probe_for_write(k, mode, handle_out, sizeof(uint64_t)); !nt_success(st))
    return st;
  // 2. EVENT_TYPE is NotificationEvent or SynchronizationEvent.
  if (type != ex::kNotificationEvent && type != ex::kSynchronizationEvent)
    return STATUS_INVALID_PARAMETER;
  // 3. ObCreateObject captures the OBJECT_ATTRIBUTES; ObInsertObject names and opens.
  ob::CapturedAttributes attributes;
  if (NtStatus st = ob::capture_object_attributes(k, mode, object_attributes, &attributes);
      !nt_success(st))
    return st;
  uint64_t handle = 0;
  NtStatus st = ex::create_event(k, attributes, desired, type, initial_state, mode, &handle);
  // 4. The handle goes out (STATUS_OBJECT_NAME_EXISTS is a success too).
  if (nt_success(st)) store_result<uint64_t>(k, mode, handle_out, handle);
  return st;
}

NtStatus ZwCreateEvent(Kernel& k, GuestVa handle_out, uint32_t desired, GuestVa object_attributes,
                       uint32_t type, bool initial_state) {
  return as_kernel_caller(k, [&] {
    return NtCreateEvent(k, handle_out, desired, object_attributes, type, initial_state);
  });
}

// NtOpenEvent(EventHandle*, DesiredAccess, ObjectAttributes*): ObOpenObjectByName
// with *ExEventObjectType.
NtStatus NtOpenEvent(Kernel& k, GuestVa handle_out, uint32_t desired, GuestVa object_attributes) {
  ProcessorMode mode = k.machine().previous_mode();
  if (NtStatus st = probe_for_write(k, mode, handle_out, sizeof(uint64_t)); !nt_success(st))
    return st;
  // ObOpenObjectByName refuses a missing OBJECT_ATTRIBUTES.
  if (!object_attributes) return STATUS_INVALID_PARAMETER;
  ob::CapturedAttributes attributes;
  if (NtStatus st = ob::capture_object_attributes(k, mode, object_attributes, &attributes);
      !nt_success(st))
    return st;
  std::u16string path;
  if (NtStatus st = ob::absolute_name(k, mode, attributes, &path); !nt_success(st)) return st;
  uint64_t handle = 0;
  NtStatus st = k.ob().open_by_name(path, ob::TypeIndex::Event, attributes.attributes, desired,
                                    mode, &handle);
  if (nt_success(st)) store_result<uint64_t>(k, mode, handle_out, handle);
  return st;
}

NtStatus ZwOpenEvent(Kernel& k, GuestVa handle_out, uint32_t desired, GuestVa object_attributes) {
  return as_kernel_caller(k,
                          [&] { return NtOpenEvent(k, handle_out, desired, object_attributes); });
}

// NtSetEvent(EventHandle, PreviousState*): EVENT_MODIFY_STATE on the handle
// (checked for UserMode callers only), KeSetEvent, the previous state out.
NtStatus NtSetEvent(Kernel& k, uint64_t handle, GuestVa previous_state) {
  return modify_event(k, handle, previous_state,
                      [&](GuestVa event) { return KeSetEvent(k, event, 1, false); });
}

NtStatus ZwSetEvent(Kernel& k, uint64_t handle, GuestVa previous_state) {
  return as_kernel_caller(k, [&] { return NtSetEvent(k, handle, previous_state); });
}

NtStatus NtResetEvent(Kernel& k, uint64_t handle, GuestVa previous_state) {
  return modify_event(k, handle, previous_state,
                      [&](GuestVa event) { return KeResetEvent(k, event); });
}

NtStatus ZwResetEvent(Kernel& k, uint64_t handle, GuestVa previous_state) {
  return as_kernel_caller(k, [&] { return NtResetEvent(k, handle, previous_state); });
}

NtStatus NtPulseEvent(Kernel& k, uint64_t handle, GuestVa previous_state) {
  return modify_event(k, handle, previous_state,
                      [&](GuestVa event) { return KePulseEvent(k, event, 1, false); });
}

NtStatus ZwPulseEvent(Kernel& k, uint64_t handle, GuestVa previous_state) {
  return as_kernel_caller(k, [&] { return NtPulseEvent(k, handle, previous_state); });
}

// NtClearEvent(EventHandle): no previous state.
NtStatus NtClearEvent(Kernel& k, uint64_t handle) {
  return modify_event(k, handle, GuestVa{}, [&](GuestVa event) {
    KeClearEvent(k, event);
    return 0;
  });
}

NtStatus ZwClearEvent(Kernel& k, uint64_t handle) {
  return as_kernel_caller(k, [&] { return NtClearEvent(k, handle); });
}

namespace {
// IoCreateNotificationEvent / IoCreateSynchronizationEvent: ZwCreateEvent of
// a signalled event named EventName with OBJ_OPENIF | OBJ_KERNEL_HANDLE and
// EVENT_ALL_ACCESS; the KEVENT is returned (no reference kept: the kernel
// handle holds the event) and the handle written to *EventHandle. NULL when
// the event could not be created or opened.
GuestVa io_create_event(Kernel& k, GuestVa name, GuestVa handle_out, uint32_t type) {
  return as_kernel_caller(k, [&] {
    ob::CapturedAttributes attributes;
    attributes.name = k.read_unicode_string(name);
    attributes.attributes = ob::kObjOpenIf | ob::kObjKernelHandle;
    uint64_t handle = 0;
    ob::ObjectId id = ob::kNoObject;
    NtStatus st = ex::create_event(k, attributes, ex::kEventAllAccess, type, true,
                                   ProcessorMode::KernelMode, &handle, &id);
    if (!nt_success(st)) return GuestVa{};
    k.memory().write<uint64_t>(handle_out, handle);
    return k.ob().get(id)->body;
  });
}
}  // namespace

GuestVa IoCreateNotificationEvent(Kernel& k, GuestVa name, GuestVa handle_out) {
  return io_create_event(k, name, handle_out, ex::kNotificationEvent);
}

GuestVa IoCreateSynchronizationEvent(Kernel& k, GuestVa name, GuestVa handle_out) {
  return io_create_event(k, name, handle_out, ex::kSynchronizationEvent);
}

void register_event_exports(Registry& r) {
  KEMU_EXPORT(r, NtCreateEvent);
  KEMU_EXPORT(r, ZwCreateEvent);
  KEMU_EXPORT(r, ZwOpenEvent);
  KEMU_EXPORT(r, NtSetEvent);
  KEMU_EXPORT(r, ZwSetEvent);
  KEMU_EXPORT(r, ZwResetEvent);
  KEMU_EXPORT(r, ZwPulseEvent);
  KEMU_EXPORT(r, ZwClearEvent);
  KEMU_EXPORT(r, IoCreateNotificationEvent);
  KEMU_EXPORT(r, IoCreateSynchronizationEvent);
}

}  // namespace kemu::nt
