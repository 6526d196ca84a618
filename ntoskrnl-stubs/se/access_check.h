// The access check (SeAccessCheck): may this subject have `desired` access to
// an object protected by `sd`? Decisions in the order ntoskrnl makes them;
// see access_check.cpp. Mandatory integrity labels are not evaluated (kemu's
// tokens run at medium or higher integrity and the default device label is
// Low no-write-up, which never refuses them).
#pragma once

#include <cstdint>
#include <vector>

#include "emulator/ntstatus.h"
#include "emulator/types.h"
#include "ntoskrnl-stubs/layout/nt_structs.h"
#include "ntoskrnl-stubs/se/security_descriptor.h"
#include "ntoskrnl-stubs/se/token.h"

namespace kemu::nt::se {

// Standard and special access bits.
constexpr uint32_t kDelete = 0x00010000;
constexpr uint32_t kReadControl = 0x00020000;
constexpr uint32_t kWriteDac = 0x00040000;
constexpr uint32_t kWriteOwner = 0x00080000;
constexpr uint32_t kSynchronize = 0x00100000;
constexpr uint32_t kAccessSystemSecurity = 0x01000000;
constexpr uint32_t kMaximumAllowed = 0x02000000;

struct AccessCheckResult {
  bool granted = false;
  uint32_t access = 0;  // GrantedAccess (0 when refused)
  NtStatus status = STATUS_ACCESS_DENIED;
  std::vector<uint32_t> privileges_used;  // LUIDs that granted rights (SeSecurity, SeTakeOwnership)
};

// `sd` null: the object has no descriptor (SeAccessCheck refuses). Generic
// rights in `desired` and in ACE masks are mapped through `mapping`.
AccessCheckResult access_check(const SecurityDescriptor* sd, const Subject& subject,
                               uint32_t desired, uint32_t previously_granted,
                               const layout::GENERIC_MAPPING& mapping, ProcessorMode mode);

}  // namespace kemu::nt::se
