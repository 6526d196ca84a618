// Capturing a caller's security descriptor (SeCaptureSecurityDescriptor's
// reading half): from UserMode every part is probed (ProbeForRead, ULONG
// aligned, below MmUserProbeAddress) and a fault on a user address is
// STATUS_ACCESS_VIOLATION; the parts are validated (STATUS_UNKNOWN_REVISION,
// STATUS_INVALID_SID, STATUS_INVALID_ACL). A fault on a kernel address
// faults as the routine would (emu::GuestAccessError, a bugcheck).
#pragma once

#include "emulator/ntstatus.h"
#include "emulator/types.h"
#include "ntoskrnl-stubs/se/security_descriptor.h"

namespace kemu::nt {
class Kernel;
}

namespace kemu::nt::se {

NtStatus capture_descriptor(Kernel& kernel, ProcessorMode mode, GuestVa va,
                            SecurityDescriptor* out);

// Writes `sd` self-relative into a new pool block of `pool_type` (the
// caller frees it); charged to the driver's call site for leak tracking.
GuestVa allocate_self_relative(Kernel& kernel, const SecurityDescriptor& sd, uint32_t pool_type,
                               uint32_t tag);

}  // namespace kemu::nt::se
