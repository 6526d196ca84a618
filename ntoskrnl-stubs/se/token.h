// Access tokens: the user, groups and privileges of a process, and how a
// TOKEN object's body looks in guest memory (layout/se_structs.h TOKEN_HEAD,
// with the SID_AND_ATTRIBUTES array and the SIDs in its VariablePart).
//
// kemu's three tokens, as `whoami /all` shows them on Windows 10 22H2:
//   user    a standard (non-administrator) local user at medium integrity:
//           S-1-5-21-2052111302-1214440339-682003330-1001; Everyone, Users,
//           Interactive, Console Logon, Authenticated Users, This
//           Organization, Local account, the logon session, Local, NTLM
//           Authentication; SeShutdown, SeChangeNotify (the only one enabled),
//           SeUndock, SeIncreaseWorkingSet, SeTimeZone.
//   admin   an elevated administrator at high integrity:
//           S-1-5-21-2052111302-1214440339-682003330-1002, the same groups plus
//           Administrators (enabled, owner) and "Local account and member of
//           Administrators group"; the administrator privileges (SeSecurity,
//           SeTakeOwnership, SeLoadDriver, SeBackup, SeRestore, SeDebug, ...)
//           present with Windows' default attributes: only SeChangeNotify,
//           SeImpersonate and SeCreateGlobal enabled, the others disabled
//           until the process enables them (AdjustTokenPrivileges).
//   system  the System process's token (S-1-5-18, Administrators as owner,
//           every privilege but SeCreateToken and SeAssignPrimaryToken enabled).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "emulator/types.h"
#include "ntoskrnl-stubs/layout/nt_structs.h"
#include "ntoskrnl-stubs/se/acl.h"
#include "ntoskrnl-stubs/se/security_descriptor.h"
#include "ntoskrnl-stubs/se/sid.h"

namespace kemu::emu {
class AddressSpace;
}

namespace kemu::nt::se {

// Privilege LUIDs (ntifs.h SE_*_PRIVILEGE; LowPart, HighPart 0).
enum Privilege : uint32_t {
  kSeCreateTokenPrivilege = 2,
  kSeAssignPrimaryTokenPrivilege = 3,
  kSeLockMemoryPrivilege = 4,
  kSeIncreaseQuotaPrivilege = 5,
  kSeUnsolicitedInputPrivilege = 6,
  kSeTcbPrivilege = 7,
  kSeSecurityPrivilege = 8,
  kSeTakeOwnershipPrivilege = 9,
  kSeLoadDriverPrivilege = 10,
  kSeSystemProfilePrivilege = 11,
  kSeSystemtimePrivilege = 12,
  kSeProfileSingleProcessPrivilege = 13,
  kSeIncreaseBasePriorityPrivilege = 14,
  kSeCreatePagefilePrivilege = 15,
  kSeCreatePermanentPrivilege = 16,
  kSeBackupPrivilege = 17,
  kSeRestorePrivilege = 18,
  kSeShutdownPrivilege = 19,
  kSeDebugPrivilege = 20,
  kSeAuditPrivilege = 21,
  kSeSystemEnvironmentPrivilege = 22,
  kSeChangeNotifyPrivilege = 23,
  kSeRemoteShutdownPrivilege = 24,
  kSeUndockPrivilege = 25,
  kSeSyncAgentPrivilege = 26,
  kSeEnableDelegationPrivilege = 27,
  kSeManageVolumePrivilege = 28,
  kSeImpersonatePrivilege = 29,
  kSeCreateGlobalPrivilege = 30,
  kSeTrustedCredManAccessPrivilege = 31,
  kSeRelabelPrivilege = 32,
  kSeIncreaseWorkingSetPrivilege = 33,
  kSeTimeZonePrivilege = 34,
  kSeCreateSymbolicLinkPrivilege = 35,
  kSeDelegateSessionUserImpersonatePrivilege = 36,
};
constexpr uint32_t kMinWellKnownPrivilege = 2;
constexpr uint32_t kMaxWellKnownPrivilege = 36;

// SID_AND_ATTRIBUTES.Attributes of groups.
constexpr uint32_t kSeGroupMandatory = 0x1;
constexpr uint32_t kSeGroupEnabledByDefault = 0x2;
constexpr uint32_t kSeGroupEnabled = 0x4;
constexpr uint32_t kSeGroupOwner = 0x8;
constexpr uint32_t kSeGroupUseForDenyOnly = 0x10;
constexpr uint32_t kSeGroupIntegrity = 0x20;
constexpr uint32_t kSeGroupIntegrityEnabled = 0x40;
constexpr uint32_t kSeGroupLogonId = 0xC0000000;
// LUID_AND_ATTRIBUTES.Attributes of privileges.
constexpr uint32_t kSePrivilegeEnabledByDefault = 0x1;
constexpr uint32_t kSePrivilegeEnabled = 0x2;
constexpr uint32_t kSePrivilegeUsedForAccess = 0x80000000;

enum class TokenKind { User, Admin, System };
const char* to_string(TokenKind kind);

struct GroupEntry {
  Sid sid;
  uint32_t attributes = 0;
};

struct PrivilegeEntry {
  uint32_t luid = 0;
  uint32_t attributes = 0;
};

struct Token {
  TokenKind kind = TokenKind::User;
  Sid user;
  std::vector<GroupEntry> groups;
  std::vector<PrivilegeEntry> privileges;
  uint32_t owner_index = 0;  // DefaultOwnerIndex into UserAndGroups (0: the user)
  Sid primary_group;
  uint32_t session_id = 0;
  uint64_t token_id = 0;           // LUID
  uint64_t authentication_id = 0;  // the logon session's LUID
  bool elevated = false;
  std::string source;            // TOKEN_SOURCE.SourceName, 8 characters
  uint32_t integrity_index = 0;  // into UserAndGroups

  const Sid& default_owner() const { return owner_index == 0 ? user : groups[owner_index - 1].sid; }
};

// A fresh token of the kind (token_id is left 0 for the caller to assign).
Token make_token(TokenKind kind);

// Privilege bitmasks (bit n = LUID n) of SEP_TOKEN_PRIVILEGES.
struct PrivilegeMasks {
  uint64_t present = 0, enabled = 0, enabled_by_default = 0;
};
PrivilegeMasks privilege_masks(const Token& token);

// The token's default DACL (TOKEN.DefaultDacl): what an object created with
// this token and no descriptor of its own is protected by (see token.cpp for
// the sources of each kind's ACEs). Masks are generic, as the token holds them.
std::vector<AceSpec> default_dacl(const Token& token);

// The descriptor SeAssignSecurity gives a new object that has no parent to
// inherit from and no descriptor from its creator (processes and threads):
// owner the token's default owner, group its primary group, DACL its default
// DACL with the generic rights mapped through the object type's `mapping`.
SecurityDescriptor default_object_descriptor(const Token& creator, const layout::GENERIC_MAPPING& mapping);

// The bytes a TOKEN object's body needs (head + VariablePart).
uint64_t token_body_size(const Token& token);
// Writes TOKEN_HEAD and the VariablePart (SID_AND_ATTRIBUTES array, SIDs)
// into the zeroed body at `body`.
void write_token_body(emu::AddressSpace& memory, GuestVa body, const Token& token);

// What an access check uses of a token: its SIDs with their attributes and
// the privileges enabled in the TOKEN body (Privileges.Enabled, which is
// what ntoskrnl tests, so a driver that edits it is believed).
struct Subject {
  Sid user;
  uint32_t user_attributes = 0;
  std::vector<GroupEntry> groups;
  uint64_t enabled_privileges = 0;

  // The SID is the user or an enabled group (deny-only groups excluded).
  bool has_enabled_sid(const Sid& sid) const;
  // The SID is the user or a group, enabled or deny-only (what deny ACEs match).
  bool has_sid_for_deny(const Sid& sid) const;
  bool privilege_enabled(uint32_t luid) const {
    return luid < 64 && ((enabled_privileges >> luid) & 1);
  }
  // Whether the subject may make `sid` an object's owner
  // (RtlpValidOwnerSubjectContext): its user, a group of it with
  // SE_GROUP_OWNER, or anyone with SeRestorePrivilege enabled.
  bool may_own(const Sid& sid) const;
};
Subject subject_of(const Token& token, uint64_t enabled_privileges);

}  // namespace kemu::nt::se
