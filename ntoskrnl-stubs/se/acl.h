// Access control lists in their binary layout: an 8-byte ACL header
// (AclRevision, Sbz1, AclSize, AceCount, Sbz2) followed by AceCount ACEs,
// each an ACE_HEADER (AceType, AceFlags, AceSize) and a type-specific body.
// Host-side views parse an ACL's AclSize bytes; validation follows
// ntoskrnl's RtlValidAcl.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "emulator/types.h"
#include "ntoskrnl-stubs/layout/nt_structs.h"
#include "ntoskrnl-stubs/se/sid.h"

namespace kemu::emu {
class AddressSpace;
}

namespace kemu::nt::se {

// ACL revisions (ACL_REVISION 2, ACL_REVISION_DS 4).
constexpr uint8_t kAclRevision = 2;
constexpr uint8_t kAclRevisionDs = 4;
constexpr uint8_t kMinAclRevision = 2;
constexpr uint8_t kMaxAclRevision = 4;

// ACE types (winnt.h).
constexpr uint8_t kAccessAllowedAce = 0x0;
constexpr uint8_t kAccessDeniedAce = 0x1;
constexpr uint8_t kSystemAuditAce = 0x2;
constexpr uint8_t kSystemAlarmAce = 0x3;
constexpr uint8_t kAccessAllowedCompoundAce = 0x4;
constexpr uint8_t kAccessAllowedObjectAce = 0x5;
constexpr uint8_t kAccessDeniedObjectAce = 0x6;
constexpr uint8_t kSystemAuditObjectAce = 0x7;
constexpr uint8_t kSystemAlarmObjectAce = 0x8;
constexpr uint8_t kAccessAllowedCallbackAce = 0x9;
constexpr uint8_t kAccessDeniedCallbackAce = 0xA;
constexpr uint8_t kSystemMandatoryLabelAce = 0x11;

// ACE flags.
constexpr uint8_t kObjectInheritAce = 0x1;
constexpr uint8_t kContainerInheritAce = 0x2;
constexpr uint8_t kNoPropagateInheritAce = 0x4;
constexpr uint8_t kInheritOnlyAce = 0x8;
constexpr uint8_t kInheritedAce = 0x10;
constexpr uint8_t kValidInheritFlags = 0x1F;
constexpr uint8_t kSuccessfulAccessAceFlag = 0x40;
constexpr uint8_t kFailedAccessAceFlag = 0x80;

// ACCESS_ALLOWED_OBJECT_ACE.Flags.
constexpr uint32_t kAceObjectTypePresent = 0x1;
constexpr uint32_t kAceInheritedObjectTypePresent = 0x2;

// SYSTEM_MANDATORY_LABEL_ACE masks.
constexpr uint32_t kMandatoryLabelNoWriteUp = 0x1;

struct AceView {
  uint8_t type = 0;
  uint8_t flags = 0;
  uint16_t size = 0;
  uint32_t offset = 0;  // from the start of the ACL
  uint32_t mask = 0;
  uint32_t object_flags = 0;  // object ACEs only
  std::optional<Sid> sid;     // absent for ACE types without a SID
};

// RtlValidAcl over an ACL's bytes (at least AclSize of them).
bool valid_acl(std::span<const uint8_t> acl);
// The ACEs of a valid ACL, in order.
std::vector<AceView> parse_aces(std::span<const uint8_t> acl);
// The AclSize bytes of the ACL at `acl` (throws emu::GuestAccessError).
std::vector<uint8_t> read_acl(const emu::AddressSpace& memory, GuestVa acl);

struct AceSpec {
  uint8_t type = kAccessAllowedAce;
  uint8_t flags = 0;
  uint32_t mask = 0;
  Sid sid;
};
// An ACL built as RtlCreateAcl + RtlAddAccess*Ace would build it, sized to fit.
std::vector<uint8_t> make_acl(const std::vector<AceSpec>& aces, uint8_t revision = kAclRevision);

// RtlMapGenericMask: GENERIC_* bits replaced by the mapping's rights.
uint32_t map_generic(uint32_t access, const layout::GENERIC_MAPPING& mapping);
// Maps the generic rights in every effective ACE mask of `acl` (the ACEs a
// security descriptor keeps when it is assigned to an object; inherit-only
// ACEs stay as they are).
void map_acl_generic(std::vector<uint8_t>& acl, const layout::GENERIC_MAPPING& mapping);

}  // namespace kemu::nt::se
