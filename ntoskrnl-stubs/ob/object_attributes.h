// OBJECT_ATTRIBUTES as a system service captures them
// (ObpCaptureObjectCreateInformation): validated, the name read through the
// caller's previous mode, RootDirectory-relative names made absolute.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "emulator/ntstatus.h"
#include "emulator/types.h"

namespace kemu::nt {
class Kernel;
}

namespace kemu::nt::ob {

// OBJ_VALID_KERNEL_ATTRIBUTES of Windows 10: INHERIT, PERMANENT, EXCLUSIVE,
// CASE_INSENSITIVE, OPENIF, OPENLINK, KERNEL_HANDLE, FORCE_ACCESS_CHECK,
// IGNORE_IMPERSONATED_DEVICEMAP, DONT_REPARSE.
constexpr uint32_t kObjValidAttributes = 0x1FF2;
constexpr uint32_t kObjOpenLink = 0x100;

struct CapturedAttributes {
  uint64_t root_directory = 0;
  std::optional<std::u16string> name;  // nullopt: no ObjectName (an unnamed object)
  uint32_t attributes = 0;
  GuestVa security_descriptor;
};

// Reads the OBJECT_ATTRIBUTES at `oa` (NULL: nothing named, no attributes).
// Length other than sizeof(OBJECT_ATTRIBUTES) or an attribute outside
// kObjValidAttributes is STATUS_INVALID_PARAMETER; from UserMode the
// structure and the name are probed. OBJ_KERNEL_HANDLE is dropped for a
// UserMode caller (only kernel-mode callers get kernel handles).
NtStatus capture_object_attributes(Kernel& k, ProcessorMode mode, GuestVa oa, CapturedAttributes* out);

// The absolute object name: without RootDirectory the name must start with
// '\' (else STATUS_OBJECT_PATH_SYNTAX_BAD); with one, the handle is
// referenced with `mode` and must be a Directory (STATUS_OBJECT_TYPE_MISMATCH)
// and the name must be relative.
NtStatus absolute_name(Kernel& k, ProcessorMode mode, const CapturedAttributes& attributes, std::u16string* path);

}  // namespace kemu::nt::ob
