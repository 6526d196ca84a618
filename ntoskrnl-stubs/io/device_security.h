// Device security: the descriptor IoCreateDevice gives a named device, the
// device's security procedure (DEVICE_OBJECT.SecurityDescriptor follows the
// object's descriptor) and the access check IopParseDevice makes before an
// IRP_MJ_CREATE is sent (semantics.md §5, FILE_DEVICE_SECURE_OPEN).
#pragma once

#include <cstdint>

#include "emulator/ntstatus.h"
#include "emulator/types.h"
#include "ntoskrnl-stubs/ob/object_types.h"

namespace kemu::nt {
class Kernel;
}

namespace kemu::nt::io {

struct OpenAccess {
  NtStatus status = STATUS_SUCCESS;
  uint32_t granted = 0;  // mapped through the File type's mapping
  bool checked = false;  // the device's descriptor was evaluated
};

// IopParseDevice's decision for an open of the named device `device`:
//  - a KernelMode requestor (without OBJ_FORCE_ACCESS_CHECK) is not checked;
//  - a namespace open (a name after the device's) is checked only when the
//    device has FILE_DEVICE_SECURE_OPEN; otherwise the caller gets what it
//    asked for (only the traverse check, which SeChangeNotifyPrivilege
//    passes for every kemu token);
//  - otherwise SeAccessCheck against the device's descriptor with the
//    requesting process's token: refused is STATUS_ACCESS_DENIED (or
//    STATUS_PRIVILEGE_NOT_HELD for ACCESS_SYSTEM_SECURITY), granted is the
//    handle's access.
OpenAccess check_device_open(Kernel& kernel, ob::ObjectId device, bool namespace_open,
                             uint32_t desired, ProcessorMode requestor, uint32_t attributes);

// IoCreateDevice's default descriptor for a named device (an unnamed device
// gets none).
void assign_default_device_security(Kernel& kernel, ob::ObjectId device, uint32_t device_type,
                                    uint32_t characteristics);

// Installs the Device type's security procedure: when a device's
// descriptor changes, DEVICE_OBJECT.SecurityDescriptor points at the new one.
void install_device_security_procedure(Kernel& kernel);

}  // namespace kemu::nt::io
