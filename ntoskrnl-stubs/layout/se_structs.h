// Security structures drivers build, read and pass to the kernel (x64
// layouts of the DDK's ntifs.h/wdm.h; tests/conformance checks them against
// the mingw-w64 headers). SIDs and ACEs are variable-length and are read
// through se/ (sid.h, acl.h), not through fixed structs.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ntoskrnl-stubs/layout/nt_structs.h"

namespace kemu::nt::layout {

struct LUID {
  uint32_t LowPart;
  int32_t HighPart;
};
static_assert(sizeof(LUID) == 8);

#pragma pack(push, 4)
struct LUID_AND_ATTRIBUTES {
  LUID Luid;
  uint32_t Attributes;
};
#pragma pack(pop)
static_assert(sizeof(LUID_AND_ATTRIBUTES) == 12);

// PRIVILEGE_SET with its first LUID_AND_ATTRIBUTES (ANYSIZE_ARRAY).
struct PRIVILEGE_SET {
  uint32_t PrivilegeCount;
  uint32_t Control;
  LUID_AND_ATTRIBUTES Privilege[1];
};
static_assert(sizeof(PRIVILEGE_SET) == 20);

// ACL header; ACEs follow, each starting with an ACE_HEADER.
struct ACL {
  uint8_t AclRevision;
  uint8_t Sbz1;
  uint16_t AclSize;
  uint16_t AceCount;
  uint16_t Sbz2;
};
static_assert(sizeof(ACL) == 8);

struct ACE_HEADER {
  uint8_t AceType;
  uint8_t AceFlags;
  uint16_t AceSize;
};
static_assert(sizeof(ACE_HEADER) == 4);

// ACCESS_ALLOWED_ACE / ACCESS_DENIED_ACE / SYSTEM_AUDIT_ACE / mandatory label:
// header, mask, then the SID (SidStart).
struct KNOWN_ACE {
  ACE_HEADER Header;
  uint32_t Mask;
  uint32_t SidStart;
};
static_assert(offsetof(KNOWN_ACE, SidStart) == 8);

// Absolute SECURITY_DESCRIPTOR: pointers to its parts.
struct SECURITY_DESCRIPTOR {
  uint8_t Revision;
  uint8_t Sbz1;
  uint16_t Control;
  uint32_t pad;
  uint64_t Owner;
  uint64_t Group;
  uint64_t Sacl;
  uint64_t Dacl;
};
static_assert(sizeof(SECURITY_DESCRIPTOR) == 0x28 && offsetof(SECURITY_DESCRIPTOR, Dacl) == 0x20);

// Self-relative SECURITY_DESCRIPTOR: offsets from its start (0 = absent).
struct SECURITY_DESCRIPTOR_RELATIVE {
  uint8_t Revision;
  uint8_t Sbz1;
  uint16_t Control;
  uint32_t Owner;
  uint32_t Group;
  uint32_t Sacl;
  uint32_t Dacl;
};
static_assert(sizeof(SECURITY_DESCRIPTOR_RELATIVE) == 0x14);

struct SECURITY_SUBJECT_CONTEXT {
  uint64_t ClientToken;  // impersonation token, or NULL
  uint32_t ImpersonationLevel;
  uint32_t pad;
  uint64_t PrimaryToken;
  uint64_t ProcessAuditId;
};
static_assert(sizeof(SECURITY_SUBJECT_CONTEXT) == 0x20);

struct INITIAL_PRIVILEGE_SET {
  uint32_t PrivilegeCount;
  uint32_t Control;
  LUID_AND_ATTRIBUTES Privilege[3];
};
static_assert(sizeof(INITIAL_PRIVILEGE_SET) == 44);

// ACCESS_STATE (the IO_SECURITY_CONTEXT of an IRP_MJ_CREATE points at one).
struct ACCESS_STATE {
  LUID OperationID;
  uint8_t SecurityEvaluated;
  uint8_t GenerateAudit;
  uint8_t GenerateOnClose;
  uint8_t PrivilegesAllocated;
  uint32_t Flags;
  uint32_t RemainingDesiredAccess;
  uint32_t PreviouslyGrantedAccess;
  uint32_t OriginalDesiredAccess;
  uint32_t pad0;
  SECURITY_SUBJECT_CONTEXT SubjectSecurityContext;
  uint64_t SecurityDescriptor;
  uint64_t AuxData;
  INITIAL_PRIVILEGE_SET Privileges;
  uint8_t AuditPrivileges;
  uint8_t pad1[3];
  UNICODE_STRING ObjectName;
  UNICODE_STRING ObjectTypeName;
};
static_assert(offsetof(ACCESS_STATE, RemainingDesiredAccess) == 0x10);
static_assert(offsetof(ACCESS_STATE, PreviouslyGrantedAccess) == 0x14);
static_assert(offsetof(ACCESS_STATE, OriginalDesiredAccess) == 0x18);
static_assert(offsetof(ACCESS_STATE, SubjectSecurityContext) == 0x20);
static_assert(offsetof(ACCESS_STATE, Privileges) == 0x50);
static_assert(offsetof(ACCESS_STATE, ObjectName) == 0x80);
static_assert(sizeof(ACCESS_STATE) == 0xA0);

// IO_SECURITY_CONTEXT (Parameters.Create.SecurityContext of IRP_MJ_CREATE).
struct IO_SECURITY_CONTEXT {
  uint64_t SecurityQos;
  uint64_t AccessState;
  uint32_t DesiredAccess;
  uint32_t FullCreateOptions;
};
static_assert(sizeof(IO_SECURITY_CONTEXT) == 0x18);

struct SID_AND_ATTRIBUTES {
  uint64_t Sid;
  uint32_t Attributes;
  uint32_t pad;
};
static_assert(sizeof(SID_AND_ATTRIBUTES) == 16);

// SE_EXPORTS as the mingw-w64 ntifs.h declares it (up to SeOwnerRightsSid);
// newer WDKs append fields, laid out in SE_EXPORTS_TAIL right after.
struct SE_EXPORTS {
  LUID SeCreateTokenPrivilege;
  LUID SeAssignPrimaryTokenPrivilege;
  LUID SeLockMemoryPrivilege;
  LUID SeIncreaseQuotaPrivilege;
  LUID SeUnsolicitedInputPrivilege;
  LUID SeTcbPrivilege;
  LUID SeSecurityPrivilege;
  LUID SeTakeOwnershipPrivilege;
  LUID SeLoadDriverPrivilege;
  LUID SeCreatePagefilePrivilege;
  LUID SeIncreaseBasePriorityPrivilege;
  LUID SeSystemProfilePrivilege;
  LUID SeSystemtimePrivilege;
  LUID SeProfileSingleProcessPrivilege;
  LUID SeCreatePermanentPrivilege;
  LUID SeBackupPrivilege;
  LUID SeRestorePrivilege;
  LUID SeShutdownPrivilege;
  LUID SeDebugPrivilege;
  LUID SeAuditPrivilege;
  LUID SeSystemEnvironmentPrivilege;
  LUID SeChangeNotifyPrivilege;
  LUID SeRemoteShutdownPrivilege;
  uint64_t SeNullSid;
  uint64_t SeWorldSid;
  uint64_t SeLocalSid;
  uint64_t SeCreatorOwnerSid;
  uint64_t SeCreatorGroupSid;
  uint64_t SeNtAuthoritySid;
  uint64_t SeDialupSid;
  uint64_t SeNetworkSid;
  uint64_t SeBatchSid;
  uint64_t SeInteractiveSid;
  uint64_t SeLocalSystemSid;
  uint64_t SeAliasAdminsSid;
  uint64_t SeAliasUsersSid;
  uint64_t SeAliasGuestsSid;
  uint64_t SeAliasPowerUsersSid;
  uint64_t SeAliasAccountOpsSid;
  uint64_t SeAliasSystemOpsSid;
  uint64_t SeAliasPrintOpsSid;
  uint64_t SeAliasBackupOpsSid;
  uint64_t SeAuthenticatedUsersSid;
  uint64_t SeRestrictedSid;
  uint64_t SeAnonymousLogonSid;
  LUID SeUndockPrivilege;
  LUID SeSyncAgentPrivilege;
  LUID SeEnableDelegationPrivilege;
  uint64_t SeLocalServiceSid;
  uint64_t SeNetworkServiceSid;
  LUID SeManageVolumePrivilege;
  LUID SeImpersonatePrivilege;
  LUID SeCreateGlobalPrivilege;
  LUID SeTrustedCredManAccessPrivilege;
  LUID SeRelabelPrivilege;
  LUID SeIncreaseWorkingSetPrivilege;
  LUID SeTimeZonePrivilege;
  LUID SeCreateSymbolicLinkPrivilege;
  uint64_t SeIUserSid;
  uint64_t SeUntrustedMandatorySid;
  uint64_t SeLowMandatorySid;
  uint64_t SeMediumMandatorySid;
  uint64_t SeHighMandatorySid;
  uint64_t SeSystemMandatorySid;
  uint64_t SeOwnerRightsSid;
};
static_assert(offsetof(SE_EXPORTS, SeNullSid) == 0xB8);
static_assert(offsetof(SE_EXPORTS, SeUndockPrivilege) == 0x168);
static_assert(sizeof(SE_EXPORTS) == 0x208);

// Fields the Windows 10 WDK's SE_EXPORTS has after SeOwnerRightsSid.
struct SE_EXPORTS_TAIL {
  uint64_t SeAllAppPackagesSid;
  uint64_t SeUserModeDriversSid;
  uint64_t SeProcTrustWinTcbSid;
  uint64_t SeTrustedInstallerSid;
  LUID SeDelegateSessionUserImpersonatePrivilege;
};
static_assert(sizeof(SE_EXPORTS_TAIL) == 0x28);

// The start of the opaque TOKEN (Windows 10 19045 x64), as token-stealing and
// privilege-editing code reads it: SEP_TOKEN_PRIVILEGES at +0x40 holds one
// bit per privilege LUID in Present / Enabled / EnabledByDefault.
struct TOKEN_HEAD {
  uint8_t SourceName[8];
  LUID SourceIdentifier;
  LUID TokenId;
  LUID AuthenticationId;
  LUID ParentTokenId;
  int64_t ExpirationTime;
  uint64_t TokenLock;
  LUID ModifiedId;
  uint64_t PrivilegesPresent;
  uint64_t PrivilegesEnabled;
  uint64_t PrivilegesEnabledByDefault;
  uint8_t AuditPolicy[0x20];
  uint32_t SessionId;
  uint32_t UserAndGroupCount;
  uint32_t RestrictedSidCount;
  uint32_t VariableLength;
  uint32_t DynamicCharged;
  uint32_t DynamicAvailable;
  uint32_t DefaultOwnerIndex;
  uint32_t pad0;
  uint64_t UserAndGroups;  // SID_AND_ATTRIBUTES[UserAndGroupCount]
  uint64_t RestrictedSids;
  uint64_t PrimaryGroup;  // PSID
  uint64_t DynamicPart;
  uint64_t DefaultDacl;
  uint32_t TokenType;  // 1 TokenPrimary
  uint32_t ImpersonationLevel;
  uint32_t TokenFlags;
  uint8_t TokenInUse;
  uint8_t pad1[3];
  uint32_t IntegrityLevelIndex;
  uint32_t MandatoryPolicy;
};
static_assert(offsetof(TOKEN_HEAD, TokenId) == 0x10);
static_assert(offsetof(TOKEN_HEAD, PrivilegesPresent) == 0x40);
static_assert(offsetof(TOKEN_HEAD, SessionId) == 0x78);
static_assert(offsetof(TOKEN_HEAD, DefaultOwnerIndex) == 0x90);
static_assert(offsetof(TOKEN_HEAD, UserAndGroups) == 0x98);
static_assert(offsetof(TOKEN_HEAD, PrimaryGroup) == 0xA8);
static_assert(offsetof(TOKEN_HEAD, TokenType) == 0xC0);
static_assert(offsetof(TOKEN_HEAD, IntegrityLevelIndex) == 0xD0);
// The whole TOKEN body up to its VariablePart.
constexpr uint64_t kTokenBodySize = 0x498;

}  // namespace kemu::nt::layout
