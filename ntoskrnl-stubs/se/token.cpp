#include "ntoskrnl-stubs/se/token.h"

#include <cstring>

#include "emulator/address_space.h"
#include "ntoskrnl-stubs/layout/se_structs.h"

namespace kemu::nt::se {

namespace {

// The machine's account domain (S-1-5-21-<machine>-<rid>).
constexpr uint32_t kDomain1 = 2052111302u, kDomain2 = 1214440339u, kDomain3 = 682003330u;
constexpr uint32_t kStandard = kSeGroupMandatory | kSeGroupEnabledByDefault | kSeGroupEnabled;
constexpr uint32_t kIntegrityLabel = kSeGroupIntegrity | kSeGroupIntegrityEnabled;
constexpr uint32_t kDefaultOn = kSePrivilegeEnabledByDefault | kSePrivilegeEnabled;
// The VariablePart of TOKEN (the SID_AND_ATTRIBUTES array and the SIDs).
constexpr uint64_t kVariablePart = 0x490;

Sid account(uint32_t rid) {
  return Sid::make(5, {21, kDomain1, kDomain2, kDomain3, rid});
}
Sid logon_session(uint32_t low) {
  return Sid::make(5, {5, 0, low});
}

uint32_t index_of(const Token& t, const Sid& sid) {
  for (size_t i = 0; i < t.groups.size(); ++i)
    if (t.groups[i].sid == sid) return static_cast<uint32_t>(i + 1);
  return 0;
}

}  // namespace

const char* to_string(TokenKind kind) {
  switch (kind) {
    case TokenKind::User:
      return "user";
    case TokenKind::Admin:
      return "admin";
    case TokenKind::System:
      return "system";
  }
  return "user";
}

Token make_token(TokenKind kind) {
  Token t;
  t.kind = kind;
  if (kind == TokenKind::System) {
    t.user = sids::local_system();
    t.groups = {{sids::admins(), kSeGroupEnabledByDefault | kSeGroupEnabled | kSeGroupOwner},
                {sids::world(), kStandard},
                {sids::authenticated_users(), kStandard},
                {sids::system_mandatory(), kIntegrityLabel}};
    // The System process's token (SepCreateSystemProcessToken): every
    // privilege, enabled, except the two only the LSA turns on.
    for (uint32_t luid = kMinWellKnownPrivilege; luid <= kMaxWellKnownPrivilege; ++luid) {
      bool lsa_only = luid == kSeCreateTokenPrivilege || luid == kSeAssignPrimaryTokenPrivilege;
      t.privileges.push_back({luid, lsa_only ? 0u : kDefaultOn});
    }
    t.owner_index = index_of(t, sids::admins());
    t.primary_group = sids::local_system();
    t.session_id = 0;
    t.authentication_id = 0x3E7;  // SYSTEM_LUID
    t.elevated = true;
    t.source = "*SYSTEM*";
    t.integrity_index = index_of(t, sids::system_mandatory());
    return t;
  }
  bool admin = kind == TokenKind::Admin;
  t.user = account(admin ? 1002 : 1001);
  t.groups.push_back({sids::world(), kStandard});
  if (admin) {
    t.groups.push_back({sids::local_account_admin(), kStandard});
    t.groups.push_back({sids::admins(), kStandard | kSeGroupOwner});
  }
  t.groups.push_back({sids::users(), kStandard});
  t.groups.push_back({sids::interactive(), kStandard});
  t.groups.push_back({sids::console_logon(), kStandard});
  t.groups.push_back({sids::authenticated_users(), kStandard});
  t.groups.push_back({sids::this_organization(), kStandard});
  t.groups.push_back({sids::local_account(), kStandard});
  t.groups.push_back({logon_session(admin ? 0x1A2C4 : 0x1A2B3), kStandard | kSeGroupLogonId});
  t.groups.push_back({sids::local(), kStandard});
  t.groups.push_back({sids::ntlm_authentication(), kStandard});
  t.groups.push_back({admin ? sids::high_mandatory() : sids::medium_mandatory(), kIntegrityLabel});
  if (admin) {
    for (uint32_t luid : {kSeIncreaseQuotaPrivilege,
                          kSeSecurityPrivilege,
                          kSeTakeOwnershipPrivilege,
                          kSeLoadDriverPrivilege,
                          kSeSystemProfilePrivilege,
                          kSeSystemtimePrivilege,
                          kSeProfileSingleProcessPrivilege,
                          kSeIncreaseBasePriorityPrivilege,
                          kSeCreatePagefilePrivilege,
                          kSeBackupPrivilege,
                          kSeRestorePrivilege,
                          kSeShutdownPrivilege,
                          kSeDebugPrivilege,
                          kSeSystemEnvironmentPrivilege,
                          kSeChangeNotifyPrivilege,
                          kSeRemoteShutdownPrivilege,
                          kSeUndockPrivilege,
                          kSeManageVolumePrivilege,
                          kSeImpersonatePrivilege,
                          kSeCreateGlobalPrivilege,
                          kSeIncreaseWorkingSetPrivilege,
                          kSeTimeZonePrivilege,
                          kSeCreateSymbolicLinkPrivilege,
                          kSeDelegateSessionUserImpersonatePrivilege}) {
      bool on = luid == kSeChangeNotifyPrivilege || luid == kSeImpersonatePrivilege ||
                luid == kSeCreateGlobalPrivilege;
      t.privileges.push_back({luid, on ? kDefaultOn : 0u});
    }
    // An elevated token's objects are owned by Administrators.
    t.owner_index = index_of(t, sids::admins());
  } else {
    t.privileges = {{kSeShutdownPrivilege, 0},
                    {kSeChangeNotifyPrivilege, kDefaultOn},
                    {kSeUndockPrivilege, 0},
                    {kSeIncreaseWorkingSetPrivilege, 0},
                    {kSeTimeZonePrivilege, 0}};
    t.owner_index = 0;
  }
  t.primary_group = account(513);  // the local "None" group
  t.session_id = 1;
  t.authentication_id = admin ? 0x1A2C4 : 0x1A2B3;
  t.elevated = admin;
  t.source = "User32  ";
  t.integrity_index = static_cast<uint32_t>(t.groups.size());
  return t;
}

// Default DACLs, by token kind:
//  - system: SeSystemDefaultDacl, built by SepInitSystemDacls and given to the
//    token SeMakeSystemToken creates (decompiled ntoskrnl of Windows 10/11,
//    e.g. nohuto/decompiled-pseudocode): SYSTEM GENERIC_ALL, Administrators
//    GENERIC_READ | GENERIC_EXECUTE | READ_CONTROL (0xA0020000).
//  - user / admin: the DACL the LSA gives an interactive logon's token, as
//    Windows 10 22H2 shows it (Process Explorer / System Informer's token page):
//    the owner (the user; Administrators for an elevated token) and SYSTEM
//    GENERIC_ALL, the logon session's SID GENERIC_READ | GENERIC_EXECUTE.
//    Wine's server/token.c create_default_dacl grants the first two the same
//    way but leaves out the logon SID; the 22H2 token has it.
std::vector<AceSpec> default_dacl(const Token& token) {
  constexpr uint32_t kGenericRead = 0x80000000, kGenericExecute = 0x20000000, kGenericAll = 0x10000000,
                     kReadControlRight = 0x20000;
  if (token.kind == TokenKind::System)
    return {{kAccessAllowedAce, 0, kGenericAll, sids::local_system()},
            {kAccessAllowedAce, 0, kGenericRead | kGenericExecute | kReadControlRight, sids::admins()}};
  std::vector<AceSpec> dacl = {{kAccessAllowedAce, 0, kGenericAll, token.default_owner()},
                               {kAccessAllowedAce, 0, kGenericAll, sids::local_system()}};
  for (const GroupEntry& g : token.groups)
    if ((g.attributes & kSeGroupLogonId) == kSeGroupLogonId)
      dacl.push_back({kAccessAllowedAce, 0, kGenericRead | kGenericExecute, g.sid});
  return dacl;
}

SecurityDescriptor default_object_descriptor(const Token& creator, const layout::GENERIC_MAPPING& mapping) {
  SecurityDescriptor sd;
  sd.owner = creator.default_owner();
  sd.group = creator.primary_group;
  sd.dacl = make_acl(default_dacl(creator));
  // SeAssignSecurity keeps the object's ACEs with their generic rights mapped.
  map_acl_generic(*sd.dacl, mapping);
  sd.control = kSeDaclPresent;
  return sd;
}

PrivilegeMasks privilege_masks(const Token& token) {
  PrivilegeMasks m;
  for (const PrivilegeEntry& p : token.privileges) {
    m.present |= 1ull << p.luid;
    if (p.attributes & kSePrivilegeEnabled) m.enabled |= 1ull << p.luid;
    if (p.attributes & kSePrivilegeEnabledByDefault) m.enabled_by_default |= 1ull << p.luid;
  }
  return m;
}

uint64_t token_body_size(const Token& token) {
  uint64_t size = kVariablePart + (1 + token.groups.size()) * sizeof(layout::SID_AND_ATTRIBUTES);
  size += token.user.length();
  for (const GroupEntry& g : token.groups) size += g.sid.length();
  return size + token.primary_group.length();
}

void write_token_body(emu::AddressSpace& memory, GuestVa body, const Token& token) {
  layout::TOKEN_HEAD head{};
  std::memcpy(head.SourceName, token.source.data(), std::min<size_t>(8, token.source.size()));
  head.TokenId = {static_cast<uint32_t>(token.token_id),
                  static_cast<int32_t>(token.token_id >> 32)};
  head.AuthenticationId = {static_cast<uint32_t>(token.authentication_id),
                           static_cast<int32_t>(token.authentication_id >> 32)};
  head.ExpirationTime = 0x7FFFFFFFFFFFFFFFll;  // never
  PrivilegeMasks masks = privilege_masks(token);
  head.PrivilegesPresent = masks.present;
  head.PrivilegesEnabled = masks.enabled;
  head.PrivilegesEnabledByDefault = masks.enabled_by_default;
  head.SessionId = token.session_id;
  head.UserAndGroupCount = static_cast<uint32_t>(1 + token.groups.size());
  head.DefaultOwnerIndex = token.owner_index;
  head.TokenType = 1;  // TokenPrimary
  head.IntegrityLevelIndex = token.integrity_index;
  head.MandatoryPolicy = 3;  // TOKEN_MANDATORY_POLICY_NO_WRITE_UP | NEW_PROCESS_MIN

  GuestVa array = body + kVariablePart;
  GuestVa sid_at = array + (1 + token.groups.size()) * sizeof(layout::SID_AND_ATTRIBUTES);
  auto put_sid = [&](const Sid& sid) {
    GuestVa at = sid_at;
    std::vector<uint8_t> bytes = sid.bytes();
    memory.write(at, bytes.data(), bytes.size());
    sid_at += bytes.size();
    return at;
  };
  auto put_entry = [&](size_t index, const Sid& sid, uint32_t attributes) {
    layout::SID_AND_ATTRIBUTES e{};
    e.Sid = put_sid(sid).value;
    e.Attributes = attributes;
    memory.write(array + index * sizeof(e), e);
  };
  put_entry(0, token.user, 0);
  for (size_t i = 0; i < token.groups.size(); ++i)
    put_entry(i + 1, token.groups[i].sid, token.groups[i].attributes);
  head.UserAndGroups = array.value;
  head.PrimaryGroup = put_sid(token.primary_group).value;
  head.VariableLength = static_cast<uint32_t>(sid_at - array);
  memory.write(body, head);
}

bool Subject::has_enabled_sid(const Sid& sid) const {
  if (sid == user) return !(user_attributes & kSeGroupUseForDenyOnly);
  for (const GroupEntry& g : groups)
    if (g.sid == sid && (g.attributes & kSeGroupEnabled) &&
        !(g.attributes & kSeGroupUseForDenyOnly))
      return true;
  return false;
}

bool Subject::has_sid_for_deny(const Sid& sid) const {
  if (sid == user) return true;
  for (const GroupEntry& g : groups)
    if (g.sid == sid && (g.attributes & (kSeGroupEnabled | kSeGroupUseForDenyOnly))) return true;
  return false;
}

bool Subject::may_own(const Sid& sid) const {
  if (privilege_enabled(kSeRestorePrivilege) || sid == user) return true;
  for (const GroupEntry& g : groups)
    if (g.sid == sid && (g.attributes & kSeGroupOwner)) return true;
  return false;
}

Subject subject_of(const Token& token, uint64_t enabled_privileges) {
  Subject s;
  s.user = token.user;
  s.groups = token.groups;
  s.enabled_privileges = enabled_privileges;
  return s;
}

}  // namespace kemu::nt::se
