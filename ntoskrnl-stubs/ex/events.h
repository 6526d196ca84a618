// Event objects by handle (the executive's view of the scheduler's KEVENTs):
// what NtCreateEvent does once its caller's pointers are captured. Shared by
// the ZwCreateEvent/NtCreateEvent handlers, IoCreateNotificationEvent /
// IoCreateSynchronizationEvent and the client's `event` step.
#pragma once

#include <cstdint>

#include "emulator/ntstatus.h"
#include "emulator/types.h"
#include "ntoskrnl-stubs/ob/object_attributes.h"
#include "ntoskrnl-stubs/ob/object_types.h"

namespace kemu::nt {
class Kernel;
}

namespace kemu::nt::ex {

// Event-specific access rights (winnt.h).
constexpr uint32_t kEventQueryState = 0x1;
constexpr uint32_t kEventModifyState = 0x2;
constexpr uint32_t kEventAllAccess = 0x1F0003;

// EVENT_TYPE.
constexpr uint32_t kNotificationEvent = 0;
constexpr uint32_t kSynchronizationEvent = 1;

// Creates an Event object holding a KEVENT of `type` in `initial_state`,
// names it as `attributes` say (the object namespace, OBJ_OPENIF opening an
// existing event with STATUS_OBJECT_NAME_EXISTS) and opens a handle with
// `desired_access` for a caller in `mode` (OBJ_KERNEL_HANDLE honoured for
// KernelMode only). `object` receives the event opened (may be null).
NtStatus create_event(Kernel& k, const ob::CapturedAttributes& attributes, uint32_t desired_access,
                      uint32_t type, bool initial_state, ProcessorMode mode, uint64_t* handle,
                      ob::ObjectId* object = nullptr);

}  // namespace kemu::nt::ex
