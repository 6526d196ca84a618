// SeAccessCheck's decisions, in ntoskrnl's order (SeAccessCheck /
// SepAccessCheck; the ReactOS and WRK implementations and the SeAccessCheck
// and "How DACLs Control Access to an Object" pages):
//  1. generic rights in the desired access are mapped through the object
//     type's GENERIC_MAPPING;
//  2. KernelMode: everything asked is granted (MAXIMUM_ALLOWED: GenericAll);
//  3. no security descriptor: refused;
//  4. ACCESS_SYSTEM_SECURITY needs SeSecurityPrivilege (else
//     STATUS_PRIVILEGE_NOT_HELD); WRITE_OWNER is granted by
//     SeTakeOwnershipPrivilege;
//  5. nothing left to decide: the previously granted rights (none at all:
//     refused);
//  6. no DACL or a NULL DACL: everything asked (MAXIMUM_ALLOWED: GenericAll);
//  7. the owner gets READ_CONTROL and WRITE_DAC implicitly;
//  8. the ACEs in order (inherit-only ACEs skipped, generic bits in masks
//     mapped): an allowed ACE for an enabled SID grants its bits, a denied
//     ACE for a SID of the token (also deny-only) refuses the request when it
//     names a bit not yet granted. An empty DACL grants nothing.
//  9. MAXIMUM_ALLOWED: the union of what the ACEs allow before any deny of
//     the same bit; refused when it is nothing or lacks a bit asked for
//     explicitly.
#include "ntoskrnl-stubs/se/access_check.h"

namespace kemu::nt::se {

namespace {

// Allowed/denied ACE types the check evaluates. Object ACEs count only when
// they name no object type (no object-type list is ever passed); callback
// ACEs are left to AuthZ and skipped, as the kernel check skips them.
bool is_allow(const AceView& ace) {
  return ace.type == kAccessAllowedAce ||
         (ace.type == kAccessAllowedObjectAce && !(ace.object_flags & kAceObjectTypePresent));
}
bool is_deny(const AceView& ace) {
  return ace.type == kAccessDeniedAce ||
         (ace.type == kAccessDeniedObjectAce && !(ace.object_flags & kAceObjectTypePresent));
}

AccessCheckResult grant(uint32_t access, std::vector<uint32_t> privileges) {
  return {true, access, STATUS_SUCCESS, std::move(privileges)};
}
AccessCheckResult refuse(NtStatus status = STATUS_ACCESS_DENIED) {
  return {false, 0, status, {}};
}

}  // namespace

AccessCheckResult access_check(const SecurityDescriptor* sd, const Subject& subject,
                               uint32_t desired, uint32_t previously_granted,
                               const layout::GENERIC_MAPPING& mapping, ProcessorMode mode) {
  // 1. generic rights mapped
  desired = map_generic(desired, mapping);
  bool maximum = (desired & kMaximumAllowed) != 0;
  // 2. kernel-mode requests are not checked
  if (mode == ProcessorMode::KernelMode) {
    if (maximum) return grant(mapping.GenericAll | (desired & ~kMaximumAllowed), {});
    return grant(desired | previously_granted, {});
  }
  // 3. an object without a descriptor
  if (!sd) return refuse();

  std::vector<uint32_t> used;
  uint32_t remaining = desired & ~previously_granted;
  // 4. the rights privileges give
  if (remaining & kAccessSystemSecurity) {
    if (!subject.privilege_enabled(kSeSecurityPrivilege)) return refuse(STATUS_PRIVILEGE_NOT_HELD);
    previously_granted |= kAccessSystemSecurity;
    remaining &= ~kAccessSystemSecurity;
    used.push_back(kSeSecurityPrivilege);
  }
  if ((remaining & kWriteOwner) && subject.privilege_enabled(kSeTakeOwnershipPrivilege)) {
    previously_granted |= kWriteOwner;
    remaining &= ~kWriteOwner;
    used.push_back(kSeTakeOwnershipPrivilege);
  }
  // 5. nothing left to decide
  if (remaining == 0) {
    if (previously_granted == 0) return refuse();
    return grant(previously_granted, std::move(used));
  }
  // 6. no DACL, or a NULL DACL, grants everything
  if (!sd->dacl_present() || !sd->dacl) {
    if (maximum)
      return grant(mapping.GenericAll | (desired & ~kMaximumAllowed) | previously_granted,
                   std::move(used));
    return grant(desired | previously_granted, std::move(used));
  }
  // 7. the owner's implicit rights
  uint32_t owner_rights = 0;
  if (sd->owner && subject.has_enabled_sid(*sd->owner)) owner_rights = kReadControl | kWriteDac;

  std::vector<AceView> aces = parse_aces(*sd->dacl);
  if (maximum) {
    // 9. MAXIMUM_ALLOWED: every bit some ACE allows before a deny names it.
    uint32_t allowed = owner_rights, denied = 0;
    for (const AceView& ace : aces) {
      if ((ace.flags & kInheritOnlyAce) || !ace.sid) continue;
      uint32_t mask = map_generic(ace.mask, mapping);
      if (is_allow(ace) && subject.has_enabled_sid(*ace.sid))
        allowed |= mask & ~denied;
      else if (is_deny(ace) && subject.has_sid_for_deny(*ace.sid))
        denied |= mask & ~allowed;
    }
    uint32_t granted = allowed | previously_granted;
    uint32_t explicit_bits = desired & ~kMaximumAllowed;
    if (granted == 0 || (explicit_bits & ~granted)) return refuse();
    return grant(granted, std::move(used));
  }
  // 8. the ACEs in order
  remaining &= ~owner_rights;
  for (const AceView& ace : aces) {
    if (remaining == 0) break;
    if ((ace.flags & kInheritOnlyAce) || !ace.sid) continue;
    uint32_t mask = map_generic(ace.mask, mapping);
    if (is_allow(ace) && subject.has_enabled_sid(*ace.sid)) {
      remaining &= ~mask;
    } else if (is_deny(ace) && subject.has_sid_for_deny(*ace.sid) && (mask & remaining)) {
      return refuse();
    }
  }
  if (remaining != 0) return refuse();
  return grant(desired | previously_granted, std::move(used));
}

}  // namespace kemu::nt::se
