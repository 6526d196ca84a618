// The security reference monitor's routines drivers call: SeExports, subject
// contexts and tokens, privilege checks, SeAccessCheck, capturing and
// editing descriptors.
#include <cstring>

#include "emulator/address_space.h"
#include "emulator/ntstatus.h"
#include "ntoskrnl-stubs/api/registry.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/se_structs.h"
#include "ntoskrnl-stubs/ob/object_manager.h"
#include "ntoskrnl-stubs/ps/process_manager.h"
#include "ntoskrnl-stubs/se/access_check.h"
#include "ntoskrnl-stubs/se/capture.h"
#include "ntoskrnl-stubs/se/security_descriptor.h"
#include "ntoskrnl-stubs/se/token.h"

namespace kemu::nt {

namespace {

using layout::SECURITY_SUBJECT_CONTEXT;

constexpr uint32_t kSecurityTag = 0x64536553;   // 'SeSd'
constexpr uint32_t kTokenInfoTag = 0x69546553;  // 'SeTi'
constexpr uint32_t kPagedPool = 1;

ProcessorMode mode_of(uint8_t raw) {
  return raw ? ProcessorMode::UserMode : ProcessorMode::KernelMode;
}

layout::LUID luid(uint32_t value) {
  return {value, 0};
}

// The token a subject context acts with: the impersonation token if the
// thread impersonates, otherwise the process's primary token
// (SeQuerySubjectContextToken).
GuestVa effective_token(Kernel& k, GuestVa context) {
  auto c = k.memory().read<SECURITY_SUBJECT_CONTEXT>(context);
  return GuestVa{c.ClientToken ? c.ClientToken : c.PrimaryToken};
}

GuestVa allocate(Kernel& k, uint64_t size, uint32_t pool_type, uint32_t tag) {
  emu::Machine& m = k.machine();
  auto block = m.pool().allocate(size, pool_type, tag, m.return_address());
  if (!block) return GuestVa{};
  std::vector<uint8_t> zero(size, 0);
  k.memory().write(*block, zero.data(), zero.size());
  return *block;
}

// SeExports: SE_EXPORTS, the Windows 10 tail, then the SIDs it points at,
// all in nonpaged pool.
void init_se_exports(Kernel& k, GuestVa variable) {
  using namespace se;
  std::vector<Sid> sids = {sids::null_sid(),
                           sids::world(),
                           sids::local(),
                           sids::creator_owner(),
                           sids::creator_group(),
                           sids::nt_authority(),
                           sids::dialup(),
                           sids::network(),
                           sids::batch(),
                           sids::interactive(),
                           sids::local_system(),
                           sids::admins(),
                           sids::users(),
                           sids::guests(),
                           sids::power_users(),
                           sids::account_ops(),
                           sids::system_ops(),
                           sids::print_ops(),
                           sids::backup_ops(),
                           sids::authenticated_users(),
                           sids::restricted(),
                           sids::anonymous_logon(),
                           sids::local_service(),
                           sids::network_service(),
                           sids::iuser(),
                           sids::untrusted_mandatory(),
                           sids::low_mandatory(),
                           sids::medium_mandatory(),
                           sids::high_mandatory(),
                           sids::system_mandatory(),
                           sids::owner_rights(),
                           sids::all_app_packages(),
                           sids::user_mode_drivers(),
                           sids::proc_trust_wintcb(),
                           sids::trusted_installer()};
  uint64_t size = sizeof(layout::SE_EXPORTS) + sizeof(layout::SE_EXPORTS_TAIL);
  for (const Sid& s : sids) size += (s.length() + 7) & ~7u;
  auto block = k.machine().pool().allocate(size, 0, 0x78456553 /* 'SeEx' */, GuestVa{});
  if (!block) throw emu::GuestMemoryExhausted("pool exhausted creating SeExports");
  GuestVa at = *block + sizeof(layout::SE_EXPORTS) + sizeof(layout::SE_EXPORTS_TAIL);
  std::vector<uint64_t> address;
  for (const Sid& s : sids) {
    std::vector<uint8_t> bytes = s.bytes();
    k.memory().write(at, bytes.data(), bytes.size());
    address.push_back(at.value);
    at += (bytes.size() + 7) & ~7ull;
  }
  size_t i = 0;
  layout::SE_EXPORTS e{};
  e.SeCreateTokenPrivilege = luid(kSeCreateTokenPrivilege);
  e.SeAssignPrimaryTokenPrivilege = luid(kSeAssignPrimaryTokenPrivilege);
  e.SeLockMemoryPrivilege = luid(kSeLockMemoryPrivilege);
  e.SeIncreaseQuotaPrivilege = luid(kSeIncreaseQuotaPrivilege);
  e.SeUnsolicitedInputPrivilege = luid(kSeUnsolicitedInputPrivilege);
  e.SeTcbPrivilege = luid(kSeTcbPrivilege);
  e.SeSecurityPrivilege = luid(kSeSecurityPrivilege);
  e.SeTakeOwnershipPrivilege = luid(kSeTakeOwnershipPrivilege);
  e.SeLoadDriverPrivilege = luid(kSeLoadDriverPrivilege);
  e.SeCreatePagefilePrivilege = luid(kSeCreatePagefilePrivilege);
  e.SeIncreaseBasePriorityPrivilege = luid(kSeIncreaseBasePriorityPrivilege);
  e.SeSystemProfilePrivilege = luid(kSeSystemProfilePrivilege);
  e.SeSystemtimePrivilege = luid(kSeSystemtimePrivilege);
  e.SeProfileSingleProcessPrivilege = luid(kSeProfileSingleProcessPrivilege);
  e.SeCreatePermanentPrivilege = luid(kSeCreatePermanentPrivilege);
  e.SeBackupPrivilege = luid(kSeBackupPrivilege);
  e.SeRestorePrivilege = luid(kSeRestorePrivilege);
  e.SeShutdownPrivilege = luid(kSeShutdownPrivilege);
  e.SeDebugPrivilege = luid(kSeDebugPrivilege);
  e.SeAuditPrivilege = luid(kSeAuditPrivilege);
  e.SeSystemEnvironmentPrivilege = luid(kSeSystemEnvironmentPrivilege);
  e.SeChangeNotifyPrivilege = luid(kSeChangeNotifyPrivilege);
  e.SeRemoteShutdownPrivilege = luid(kSeRemoteShutdownPrivilege);
  for (uint64_t* field : {&e.SeNullSid,
                          &e.SeWorldSid,
                          &e.SeLocalSid,
                          &e.SeCreatorOwnerSid,
                          &e.SeCreatorGroupSid,
                          &e.SeNtAuthoritySid,
                          &e.SeDialupSid,
                          &e.SeNetworkSid,
                          &e.SeBatchSid,
                          &e.SeInteractiveSid,
                          &e.SeLocalSystemSid,
                          &e.SeAliasAdminsSid,
                          &e.SeAliasUsersSid,
                          &e.SeAliasGuestsSid,
                          &e.SeAliasPowerUsersSid,
                          &e.SeAliasAccountOpsSid,
                          &e.SeAliasSystemOpsSid,
                          &e.SeAliasPrintOpsSid,
                          &e.SeAliasBackupOpsSid,
                          &e.SeAuthenticatedUsersSid,
                          &e.SeRestrictedSid,
                          &e.SeAnonymousLogonSid,
                          &e.SeLocalServiceSid,
                          &e.SeNetworkServiceSid,
                          &e.SeIUserSid,
                          &e.SeUntrustedMandatorySid,
                          &e.SeLowMandatorySid,
                          &e.SeMediumMandatorySid,
                          &e.SeHighMandatorySid,
                          &e.SeSystemMandatorySid,
                          &e.SeOwnerRightsSid})
    *field = address[i++];
  e.SeUndockPrivilege = luid(kSeUndockPrivilege);
  e.SeSyncAgentPrivilege = luid(kSeSyncAgentPrivilege);
  e.SeEnableDelegationPrivilege = luid(kSeEnableDelegationPrivilege);
  e.SeManageVolumePrivilege = luid(kSeManageVolumePrivilege);
  e.SeImpersonatePrivilege = luid(kSeImpersonatePrivilege);
  e.SeCreateGlobalPrivilege = luid(kSeCreateGlobalPrivilege);
  e.SeTrustedCredManAccessPrivilege = luid(kSeTrustedCredManAccessPrivilege);
  e.SeRelabelPrivilege = luid(kSeRelabelPrivilege);
  e.SeIncreaseWorkingSetPrivilege = luid(kSeIncreaseWorkingSetPrivilege);
  e.SeTimeZonePrivilege = luid(kSeTimeZonePrivilege);
  e.SeCreateSymbolicLinkPrivilege = luid(kSeCreateSymbolicLinkPrivilege);
  layout::SE_EXPORTS_TAIL tail{};
  tail.SeAllAppPackagesSid = address[i++];
  tail.SeUserModeDriversSid = address[i++];
  tail.SeProcTrustWinTcbSid = address[i++];
  tail.SeTrustedInstallerSid = address[i++];
  tail.SeDelegateSessionUserImpersonatePrivilege = luid(kSeDelegateSessionUserImpersonatePrivilege);
  k.memory().write(*block, e);
  k.memory().write(*block + sizeof(e), tail);
  // The export is a PSE_EXPORTS variable.
  k.memory().write<uint64_t>(variable, block->value);
}

}  // namespace

// --- subject contexts and tokens ------------------------------------------------

// SeCaptureSubjectContext: no impersonation in kemu, so ClientToken is NULL;
// PrimaryToken is the current process's token, referenced until
// SeReleaseSubjectContext; ProcessAuditId is the process id.
void SeCaptureSubjectContext(Kernel& k, GuestVa context) {
  uint32_t pid = k.ob().current_pid();
  GuestVa token = k.ps().primary_token(pid);
  if (ob::ObjectRecord* r = k.ob().by_body(token)) k.ob().reference(r->id);
  SECURITY_SUBJECT_CONTEXT c{};
  c.PrimaryToken = token.value;
  c.ProcessAuditId = pid;
  k.memory().write(context, c);
}

void SeReleaseSubjectContext(Kernel& k, GuestVa context) {
  auto c = k.memory().read<SECURITY_SUBJECT_CONTEXT>(context);
  for (uint64_t token : {c.PrimaryToken, c.ClientToken})
    if (ob::ObjectRecord* r = k.ob().by_body(GuestVa{token})) k.ob().dereference(r->id);
}

// SeLockSubjectContext / SeUnlockSubjectContext take the tokens' locks so
// they cannot change during a check. kemu's tokens change only between
// guest instructions, so holding the lock has no effect to model; the
// context is read as Windows reads it (a bad pointer faults).
void SeLockSubjectContext(Kernel& k, GuestVa context) {
  (void)k.memory().read<SECURITY_SUBJECT_CONTEXT>(context);
}
void SeUnlockSubjectContext(Kernel& k, GuestVa context) {
  (void)k.memory().read<SECURITY_SUBJECT_CONTEXT>(context);
}

// PsReferencePrimaryToken: the process's token, referenced.
GuestVa PsReferencePrimaryToken(Kernel& k, GuestVa process) {
  const ps::ProcessRecord* p = k.ps().process_by_eprocess(process);
  if (!p) return GuestVa{};
  GuestVa token = k.ps().primary_token(p->pid);
  if (ob::ObjectRecord* r = k.ob().by_body(token)) k.ob().reference(r->id);
  return token;
}

void PsDereferencePrimaryToken(Kernel& k, GuestVa token) {
  if (ob::ObjectRecord* r = k.ob().by_body(token)) k.ob().dereference(r->id);
}

// SeTokenIsAdmin: the token has the Administrators group enabled.
bool SeTokenIsAdmin(Kernel& k, GuestVa token) {
  return k.ps().subject_of(token).has_enabled_sid(se::sids::admins());
}

NtStatus SeQueryAuthenticationIdToken(Kernel& k, GuestVa token, GuestVa luid_out) {
  k.memory().write(luid_out, k.memory().read<layout::LUID>(
                                 token + offsetof(layout::TOKEN_HEAD, AuthenticationId)));
  return STATUS_SUCCESS;
}

// SeQueryInformationToken: a paged-pool buffer (freed with ExFreePool)
// holding the class's structure; TokenSessionId is returned in the pointer
// itself. TokenDefaultDacl and TokenStatistics are not modelled
// (STATUS_NOT_IMPLEMENTED); classes the routine does not support are
// STATUS_INVALID_INFO_CLASS, as is TokenImpersonationLevel for a primary token.
NtStatus SeQueryInformationToken(Kernel& k, GuestVa token, uint32_t info_class, GuestVa info_out) {
  enum : uint32_t {
    kTokenUser = 1,
    kTokenGroups = 2,
    kTokenPrivileges = 3,
    kTokenOwner = 4,
    kTokenPrimaryGroup = 5,
    kTokenDefaultDacl = 6,
    kTokenSource = 7,
    kTokenType = 8,
    kTokenImpersonationLevel = 9,
    kTokenStatistics = 10,
    kTokenSessionId = 12,
  };
  auto& mem = k.memory();
  const se::Token* t = k.ps().token_by_body(token);
  if (!t) return STATUS_INVALID_PARAMETER;
  auto head = mem.read<layout::TOKEN_HEAD>(token);
  // A SID_AND_ATTRIBUTES-style header followed by the SIDs it points at.
  auto with_sids = [&](uint64_t header_size,
                       const std::vector<std::pair<const se::Sid*, uint32_t>>& entries,
                       auto&& write_header) -> NtStatus {
    uint64_t size = header_size;
    for (auto& [sid, attributes] : entries) size += sid->length();
    GuestVa buffer = allocate(k, size, kPagedPool, kTokenInfoTag);
    if (!buffer) return STATUS_INSUFFICIENT_RESOURCES;
    GuestVa at = buffer + header_size;
    std::vector<uint64_t> addresses;
    for (auto& [sid, attributes] : entries) {
      std::vector<uint8_t> bytes = sid->bytes();
      mem.write(at, bytes.data(), bytes.size());
      addresses.push_back(at.value);
      at += bytes.size();
    }
    write_header(buffer, addresses);
    mem.write<uint64_t>(info_out, buffer.value);
    return STATUS_SUCCESS;
  };
  switch (info_class) {
    case kTokenUser:
      return with_sids(sizeof(layout::SID_AND_ATTRIBUTES), {{&t->user, 0}},
                       [&](GuestVa b, auto& a) {
                         mem.write(b, layout::SID_AND_ATTRIBUTES{a[0], 0, 0});
                       });
    case kTokenGroups: {
      std::vector<std::pair<const se::Sid*, uint32_t>> entries;
      for (const se::GroupEntry& g : t->groups) entries.push_back({&g.sid, g.attributes});
      return with_sids(8 + entries.size() * sizeof(layout::SID_AND_ATTRIBUTES), entries,
                       [&](GuestVa b, auto& a) {
                         mem.write<uint32_t>(b, static_cast<uint32_t>(entries.size()));
                         for (size_t i = 0; i < entries.size(); ++i)
                           mem.write(b + 8 + i * sizeof(layout::SID_AND_ATTRIBUTES),
                                     layout::SID_AND_ATTRIBUTES{a[i], entries[i].second, 0});
                       });
    }
    case kTokenPrivileges: {
      // From the body's bitmasks, which is what the token holds now.
      std::vector<layout::LUID_AND_ATTRIBUTES> privileges;
      for (uint32_t l = 0; l < 64; ++l) {
        if (!((head.PrivilegesPresent >> l) & 1)) continue;
        uint32_t attributes =
            (((head.PrivilegesEnabled >> l) & 1) ? se::kSePrivilegeEnabled : 0) |
            (((head.PrivilegesEnabledByDefault >> l) & 1) ? se::kSePrivilegeEnabledByDefault : 0);
        privileges.push_back({luid(l), attributes});
      }
      GuestVa buffer = allocate(k, 4 + privileges.size() * sizeof(layout::LUID_AND_ATTRIBUTES),
                                kPagedPool, kTokenInfoTag);
      if (!buffer) return STATUS_INSUFFICIENT_RESOURCES;
      mem.write<uint32_t>(buffer, static_cast<uint32_t>(privileges.size()));
      if (!privileges.empty())
        mem.write(buffer + 4, privileges.data(),
                  privileges.size() * sizeof(layout::LUID_AND_ATTRIBUTES));
      mem.write<uint64_t>(info_out, buffer.value);
      return STATUS_SUCCESS;
    }
    case kTokenOwner:
      return with_sids(8, {{&t->default_owner(), 0}},
                       [&](GuestVa b, auto& a) { mem.write<uint64_t>(b, a[0]); });
    case kTokenPrimaryGroup:
      return with_sids(8, {{&t->primary_group, 0}},
                       [&](GuestVa b, auto& a) { mem.write<uint64_t>(b, a[0]); });
    case kTokenSource: {
      GuestVa buffer = allocate(k, 16, kPagedPool, kTokenInfoTag);
      if (!buffer) return STATUS_INSUFFICIENT_RESOURCES;
      mem.write(buffer, head.SourceName, 8);
      mem.write(buffer + 8, head.SourceIdentifier);
      mem.write<uint64_t>(info_out, buffer.value);
      return STATUS_SUCCESS;
    }
    case kTokenType: {
      GuestVa buffer = allocate(k, 4, kPagedPool, kTokenInfoTag);
      if (!buffer) return STATUS_INSUFFICIENT_RESOURCES;
      mem.write<uint32_t>(buffer, head.TokenType);
      mem.write<uint64_t>(info_out, buffer.value);
      return STATUS_SUCCESS;
    }
    case kTokenSessionId:
      mem.write<uint64_t>(info_out, head.SessionId);
      return STATUS_SUCCESS;
    case kTokenImpersonationLevel:
      // Only an impersonation token has a level; kemu's tokens are primary.
      return STATUS_INVALID_INFO_CLASS;
    case kTokenDefaultDacl:
    case kTokenStatistics:
      return STATUS_NOT_IMPLEMENTED;  // not modelled by kemu
    default:
      return STATUS_INVALID_INFO_CLASS;
  }
}

// --- privileges ------------------------------------------------------------------

// SeSinglePrivilegeCheck(LUID by value, PreviousMode): TRUE for KernelMode;
// otherwise whether the current process's token has the privilege enabled.
bool SeSinglePrivilegeCheck(Kernel& k, uint64_t privilege, uint8_t previous_mode) {
  if (mode_of(previous_mode) == ProcessorMode::KernelMode) return true;
  uint32_t low = static_cast<uint32_t>(privilege);
  if ((privilege >> 32) != 0) return false;
  return k.ps().current_subject().privilege_enabled(low);
}

// SePrivilegeCheck: TRUE for KernelMode; otherwise each privilege of the set
// the subject has enabled is marked SE_PRIVILEGE_USED_FOR_ACCESS, and the
// result needs all of them with PRIVILEGE_SET_ALL_NECESSARY, any otherwise.
bool SePrivilegeCheck(Kernel& k, GuestVa required, GuestVa context, uint8_t access_mode) {
  if (mode_of(access_mode) == ProcessorMode::KernelMode) return true;
  auto& mem = k.memory();
  constexpr uint32_t kPrivilegeSetAllNecessary = 1;
  uint32_t count = mem.read<uint32_t>(required);
  uint32_t control = mem.read<uint32_t>(required + 4);
  se::Subject subject = k.ps().subject_of(effective_token(k, context));
  uint32_t held = 0;
  for (uint32_t i = 0; i < count; ++i) {
    GuestVa entry = required + 8 + i * sizeof(layout::LUID_AND_ATTRIBUTES);
    auto p = mem.read<layout::LUID_AND_ATTRIBUTES>(entry);
    if (p.Luid.HighPart == 0 && subject.privilege_enabled(p.Luid.LowPart)) {
      p.Attributes |= se::kSePrivilegeUsedForAccess;
      ++held;
    }
    mem.write(entry, p);
  }
  return (control & kPrivilegeSetAllNecessary) ? held == count : held > 0;
}

void SeFreePrivileges(Kernel& k, GuestVa privileges) {
  k.machine().pool().free(privileges, std::nullopt);
}

// --- the access check --------------------------------------------------------------

// SeAccessCheck (access_check.h has the decisions). *Privileges gets a
// PRIVILEGE_SET of the privileges that granted rights (freed with
// SeFreePrivileges), or NULL.
bool SeAccessCheck(Kernel& k, GuestVa sd, GuestVa context, bool locked, uint32_t desired,
                   uint32_t previously_granted, GuestVa privileges_out, GuestVa mapping,
                   uint8_t access_mode, GuestVa granted_out, GuestVa status_out) {
  (void)locked;
  auto& mem = k.memory();
  auto generic = mem.read<layout::GENERIC_MAPPING>(mapping);
  std::optional<se::SecurityDescriptor> descriptor;
  if (sd) descriptor = se::read_security_descriptor(mem, sd);
  se::Subject subject = k.ps().subject_of(effective_token(k, context));
  se::AccessCheckResult r = se::access_check(descriptor ? &*descriptor : nullptr, subject, desired,
                                             previously_granted, generic, mode_of(access_mode));
  if (privileges_out) {
    GuestVa set;
    if (!r.privileges_used.empty()) {
      uint64_t size = 8 + r.privileges_used.size() * sizeof(layout::LUID_AND_ATTRIBUTES);
      set = allocate(k, size, kPagedPool, 0x76506553 /* 'SePv' */);
      if (set) {
        mem.write<uint32_t>(set, static_cast<uint32_t>(r.privileges_used.size()));
        for (size_t i = 0; i < r.privileges_used.size(); ++i)
          mem.write(set + 8 + i * sizeof(layout::LUID_AND_ATTRIBUTES),
                    layout::LUID_AND_ATTRIBUTES{luid(r.privileges_used[i]),
                                                se::kSePrivilegeUsedForAccess});
      }
    }
    mem.write<uint64_t>(privileges_out, set.value);
  }
  mem.write<uint32_t>(granted_out, r.access);
  mem.write<uint32_t>(status_out, r.status);
  return r.granted;
}

// --- descriptors -------------------------------------------------------------------

// SeCaptureSecurityDescriptor: a KernelMode caller without ForceCapture gets
// its own descriptor back; otherwise the descriptor is probed (UserMode),
// validated and copied self-relative into the pool type asked for.
NtStatus SeCaptureSecurityDescriptor(Kernel& k, GuestVa input, uint8_t requestor_mode,
                                     uint32_t pool_type, bool force_capture, GuestVa output) {
  auto& mem = k.memory();
  if (!input) {
    mem.write<uint64_t>(output, 0);
    return STATUS_SUCCESS;
  }
  ProcessorMode mode = mode_of(requestor_mode);
  if (mode == ProcessorMode::KernelMode && !force_capture) {
    mem.write<uint64_t>(output, input.value);
    return STATUS_SUCCESS;
  }
  se::SecurityDescriptor sd;
  if (NtStatus st = se::capture_descriptor(k, mode, input, &sd); !nt_success(st)) return st;
  GuestVa copy = se::allocate_self_relative(k, sd, pool_type, kSecurityTag);
  if (!copy) return STATUS_INSUFFICIENT_RESOURCES;
  mem.write<uint64_t>(output, copy.value);
  return STATUS_SUCCESS;
}

// SeReleaseSecurityDescriptor: frees what SeCaptureSecurityDescriptor copied.
void SeReleaseSecurityDescriptor(Kernel& k, GuestVa captured, uint8_t requestor_mode,
                                 bool force_capture) {
  if (!captured) return;
  if (mode_of(requestor_mode) == ProcessorMode::UserMode || force_capture)
    k.machine().pool().free(captured, std::nullopt);
}

// SeSetSecurityDescriptorInfoEx: a new self-relative descriptor (from
// PoolType) merging the parts SecurityInformation names from the
// modification into *ObjectsSecurityDescriptor, which then points at it (the
// caller frees the old one). Auto-inheritance flags change nothing kemu
// models (its objects have no inherited ACEs).
NtStatus SeSetSecurityDescriptorInfoEx(Kernel& k, GuestVa object, GuestVa information,
                                       GuestVa modification, GuestVa objects_sd,
                                       uint32_t auto_inherit_flags, uint32_t pool_type,
                                       GuestVa mapping) {
  (void)object;
  (void)auto_inherit_flags;
  auto& mem = k.memory();
  GuestVa current{mem.read<uint64_t>(objects_sd)};
  if (!current) return STATUS_NO_SECURITY_ON_OBJECT;
  if (!(mem.read<uint16_t>(current + 2) & se::kSeSelfRelative)) return STATUS_BAD_DESCRIPTOR_FORMAT;
  NtStatus why = STATUS_SUCCESS;
  auto existing = se::read_security_descriptor(mem, current, &why);
  if (!existing) return why;
  se::SecurityDescriptor mod;
  if (NtStatus st = se::capture_descriptor(k, ProcessorMode::KernelMode, modification, &mod);
      !nt_success(st))
    return st;
  se::SecurityDescriptor merged;
  NtStatus st = se::merge_parts(*existing, mod, mem.read<uint32_t>(information),
                                mem.read<layout::GENERIC_MAPPING>(mapping), &merged);
  if (!nt_success(st)) return st;
  GuestVa copy = se::allocate_self_relative(k, merged, pool_type, kSecurityTag);
  if (!copy) return STATUS_INSUFFICIENT_RESOURCES;
  mem.write<uint64_t>(objects_sd, copy.value);
  return STATUS_SUCCESS;
}

NtStatus SeSetSecurityDescriptorInfo(Kernel& k, GuestVa object, GuestVa information,
                                     GuestVa modification, GuestVa objects_sd, uint32_t pool_type,
                                     GuestVa mapping) {
  return SeSetSecurityDescriptorInfoEx(k, object, information, modification, objects_sd, 0,
                                       pool_type, mapping);
}

void register_se_exports(Registry& r) {
  r.add_data("SeExports", init_se_exports);
  KEMU_EXPORT(r, SeCaptureSubjectContext);
  KEMU_EXPORT(r, SeReleaseSubjectContext);
  KEMU_EXPORT(r, SeLockSubjectContext);
  KEMU_EXPORT(r, SeUnlockSubjectContext);
  KEMU_EXPORT(r, PsReferencePrimaryToken);
  KEMU_EXPORT(r, PsDereferencePrimaryToken);
  KEMU_EXPORT(r, SeTokenIsAdmin);
  KEMU_EXPORT(r, SeQueryAuthenticationIdToken);
  KEMU_EXPORT(r, SeQueryInformationToken);
  KEMU_EXPORT(r, SeSinglePrivilegeCheck);
  KEMU_EXPORT(r, SePrivilegeCheck);
  KEMU_EXPORT(r, SeFreePrivileges);
  KEMU_EXPORT(r, SeAccessCheck);
  KEMU_EXPORT(r, SeCaptureSecurityDescriptor);
  KEMU_EXPORT(r, SeReleaseSecurityDescriptor);
  KEMU_EXPORT(r, SeSetSecurityDescriptorInfo);
  KEMU_EXPORT(r, SeSetSecurityDescriptorInfoEx);
}

}  // namespace kemu::nt
