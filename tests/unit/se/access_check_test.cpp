// kemu::nt::se::access_check: SeAccessCheck's decisions with exact granted
// masks, for kemu's user / admin / system tokens and hand-built descriptors.
#include <gtest/gtest.h>

#include "ntoskrnl-stubs/ob/object_types.h"
#include "ntoskrnl-stubs/se/access_check.h"

namespace kemu::nt::se {
namespace {

const layout::GENERIC_MAPPING kFile = ob::descriptor(ob::TypeIndex::File).mapping;
constexpr uint32_t kGenericRead = 0x80000000, kGenericWrite = 0x40000000, kGenericAll = 0x10000000;
constexpr uint32_t kFileReadData = 0x1, kFileWriteData = 0x2;

Subject subject(TokenKind kind) {
  Token t = make_token(kind);
  return subject_of(t, privilege_masks(t).enabled);
}

SecurityDescriptor with_dacl(std::vector<AceSpec> aces,
                             std::optional<Sid> owner = sids::local_system()) {
  SecurityDescriptor sd;
  sd.owner = owner;
  sd.control = kSeDaclPresent;
  sd.dacl = make_acl(aces);
  return sd;
}

AccessCheckResult check(const SecurityDescriptor& sd, const Subject& s, uint32_t desired,
                        ProcessorMode mode = ProcessorMode::UserMode, uint32_t previously = 0) {
  return access_check(&sd, s, desired, previously, kFile, mode);
}

TEST(AccessCheck, ANullDaclGrantsWhatIsAskedAndMaximumAllowedIsGenericAll) {
  SecurityDescriptor sd;
  sd.control = kSeDaclPresent;  // present, no ACL
  auto r = check(sd, subject(TokenKind::User), kGenericRead | kGenericWrite);
  EXPECT_TRUE(r.granted);
  EXPECT_EQ(r.status, STATUS_SUCCESS);
  EXPECT_EQ(r.access, 0x0012019Fu);
  r = check(sd, subject(TokenKind::User), kMaximumAllowed | kSynchronize);
  EXPECT_EQ(r.access, 0x001F01FFu);
  SecurityDescriptor no_dacl;  // no DACL at all behaves the same
  EXPECT_EQ(check(no_dacl, subject(TokenKind::User), kFileWriteData).access, kFileWriteData);
}

TEST(AccessCheck, AnEmptyDaclDeniesEverything) {
  SecurityDescriptor sd = with_dacl({}, sids::world());
  auto r = check(sd, subject(TokenKind::User), kFileReadData);
  EXPECT_FALSE(r.granted);
  EXPECT_EQ(r.status, STATUS_ACCESS_DENIED);
  EXPECT_EQ(r.access, 0u);
  // ...except the owner's implicit READ_CONTROL | WRITE_DAC.
  r = check(sd, subject(TokenKind::User), kReadControl | kWriteDac);
  EXPECT_TRUE(r.granted);
  EXPECT_EQ(r.access, 0x00060000u);
  r = check(sd, subject(TokenKind::User), kMaximumAllowed);
  EXPECT_EQ(r.access, 0x00060000u);
}

TEST(AccessCheck, NoDescriptorIsRefused) {
  auto r = access_check(nullptr, subject(TokenKind::Admin), kFileReadData, 0, kFile,
                        ProcessorMode::UserMode);
  EXPECT_FALSE(r.granted);
  EXPECT_EQ(r.status, STATUS_ACCESS_DENIED);
}

TEST(AccessCheck, AcesAreEvaluatedInOrderDeniesOnlyRefuseBitsNotYetGranted) {
  // Deny before allow: the deny wins.
  SecurityDescriptor deny_first = with_dacl({{kAccessDeniedAce, 0, kFileWriteData, sids::users()},
                                             {kAccessAllowedAce, 0, kGenericAll, sids::world()}});
  EXPECT_FALSE(check(deny_first, subject(TokenKind::User), kFileWriteData).granted);
  auto r = check(deny_first, subject(TokenKind::User), kFileReadData);
  EXPECT_TRUE(r.granted);
  EXPECT_EQ(r.access, kFileReadData);
  // Allow before deny: the bits were granted before the deny is reached.
  SecurityDescriptor allow_first =
      with_dacl({{kAccessAllowedAce, 0, kGenericAll, sids::world()},
                 {kAccessDeniedAce, 0, kFileWriteData, sids::users()}});
  r = check(allow_first, subject(TokenKind::User), kFileWriteData);
  EXPECT_TRUE(r.granted);
  EXPECT_EQ(r.access, kFileWriteData);
  // Two allows together satisfy the request.
  SecurityDescriptor split =
      with_dacl({{kAccessAllowedAce, 0, kFileReadData, sids::world()},
                 {kAccessAllowedAce, 0, kFileWriteData, sids::interactive()}});
  EXPECT_EQ(check(split, subject(TokenKind::User), kFileReadData | kFileWriteData).access, 0x3u);
  EXPECT_FALSE(check(split, subject(TokenKind::User), kFileReadData | 0x4).granted);
}

TEST(AccessCheck, GenericBitsInTheRequestAndInAceMasksAreMapped) {
  SecurityDescriptor sd = with_dacl({{kAccessAllowedAce, 0, kGenericRead, sids::world()}});
  auto r = check(sd, subject(TokenKind::User), 0x00120089);  // FILE_GENERIC_READ asked specifically
  EXPECT_TRUE(r.granted);
  EXPECT_EQ(r.access, 0x00120089u);
  r = check(sd, subject(TokenKind::User), kGenericRead);
  EXPECT_EQ(r.access, 0x00120089u);
  EXPECT_FALSE(check(sd, subject(TokenKind::User), kGenericWrite).granted);
}

TEST(AccessCheck, MaximumAllowedIsTheUnionOfAllowsBeforeDenies) {
  SecurityDescriptor sd =
      with_dacl({{kAccessAllowedAce, 0, kFileReadData | kSynchronize, sids::world()},
                 {kAccessDeniedAce, 0, kFileWriteData | kFileReadData, sids::world()},
                 {kAccessAllowedAce, 0, kFileWriteData | 0x4, sids::users()}});
  auto r = check(sd, subject(TokenKind::User), kMaximumAllowed);
  EXPECT_TRUE(r.granted);
  EXPECT_EQ(r.access, 0x00100005u);  // READ_DATA|SYNCHRONIZE, then APPEND_DATA; WRITE_DATA denied
  // An explicit bit the maximum lacks refuses the request.
  EXPECT_FALSE(check(sd, subject(TokenKind::User), kMaximumAllowed | kFileWriteData).granted);
  // Nothing allowed at all.
  SecurityDescriptor nothing = with_dacl({{kAccessAllowedAce, 0, kGenericAll, sids::admins()}});
  EXPECT_FALSE(check(nothing, subject(TokenKind::User), kMaximumAllowed).granted);
}

TEST(AccessCheck, InheritOnlyAcesAreSkipped) {
  SecurityDescriptor sd =
      with_dacl({{kAccessAllowedAce, kInheritOnlyAce, kGenericAll, sids::world()}});
  EXPECT_FALSE(check(sd, subject(TokenKind::User), kFileReadData).granted);
}

TEST(AccessCheck, GroupsMustBeEnabledToBeAllowedDenyOnlyGroupsStillMatchDenies) {
  Token t = make_token(TokenKind::User);
  t.groups.push_back({sids::admins(), kSeGroupUseForDenyOnly});  // a UAC-filtered administrator
  Subject filtered = subject_of(t, privilege_masks(t).enabled);
  SecurityDescriptor allow = with_dacl({{kAccessAllowedAce, 0, kGenericAll, sids::admins()}});
  EXPECT_FALSE(check(allow, filtered, kFileReadData).granted);
  SecurityDescriptor deny = with_dacl({{kAccessDeniedAce, 0, kFileReadData, sids::admins()},
                                       {kAccessAllowedAce, 0, kGenericAll, sids::world()}});
  EXPECT_FALSE(check(deny, filtered, kFileReadData).granted);
  EXPECT_TRUE(check(deny, subject(TokenKind::User), kFileReadData).granted);
  // The integrity label SID is not a group for DACLs.
  SecurityDescriptor label =
      with_dacl({{kAccessAllowedAce, 0, kGenericAll, sids::medium_mandatory()}});
  EXPECT_FALSE(check(label, subject(TokenKind::User), kFileReadData).granted);
}

TEST(AccessCheck, AccessSystemSecurityNeedsAnEnabledSeSecurityPrivilege) {
  SecurityDescriptor sd = with_dacl({{kAccessAllowedAce, 0, kGenericAll, sids::world()}});
  // The elevated admin holds SeSecurityPrivilege disabled (Windows' default).
  auto r = check(sd, subject(TokenKind::Admin), kAccessSystemSecurity | kFileReadData);
  EXPECT_FALSE(r.granted);
  EXPECT_EQ(r.status, STATUS_PRIVILEGE_NOT_HELD);
  Token t = make_token(TokenKind::Admin);
  Subject enabled = subject_of(t, privilege_masks(t).enabled | (1ull << kSeSecurityPrivilege));
  r = check(sd, enabled, kAccessSystemSecurity | kFileReadData);
  EXPECT_TRUE(r.granted);
  EXPECT_EQ(r.access, 0x01000001u);
  EXPECT_EQ(r.privileges_used, std::vector<uint32_t>{kSeSecurityPrivilege});
  // The System token has it enabled.
  EXPECT_TRUE(check(sd, subject(TokenKind::System), kAccessSystemSecurity).granted);
}

TEST(AccessCheck, SeTakeOwnershipPrivilegeGrantsWriteOwner) {
  SecurityDescriptor sd = with_dacl({{kAccessAllowedAce, 0, kFileReadData, sids::world()}});
  EXPECT_FALSE(check(sd, subject(TokenKind::User), 0x00080000).granted);
  auto r = check(sd, subject(TokenKind::System), 0x00080000 | kFileReadData);
  EXPECT_TRUE(r.granted);
  EXPECT_EQ(r.access, 0x00080001u);
  EXPECT_EQ(r.privileges_used, std::vector<uint32_t>{kSeTakeOwnershipPrivilege});
}

TEST(AccessCheck, KernelModeIsNotChecked) {
  SecurityDescriptor sd = with_dacl({});
  auto r = check(sd, subject(TokenKind::User), kGenericRead, ProcessorMode::KernelMode, 0x4);
  EXPECT_TRUE(r.granted);
  EXPECT_EQ(r.access, 0x0012008Du);
  r = check(sd, subject(TokenKind::User), kMaximumAllowed | kAccessSystemSecurity,
            ProcessorMode::KernelMode);
  EXPECT_EQ(r.access, 0x011F01FFu);
}

TEST(AccessCheck, NothingAskedIsRefusedUnlessSomethingWasGrantedBefore) {
  SecurityDescriptor sd = with_dacl({{kAccessAllowedAce, 0, kGenericAll, sids::world()}});
  EXPECT_FALSE(check(sd, subject(TokenKind::User), 0).granted);
  auto r =
      check(sd, subject(TokenKind::User), kFileReadData, ProcessorMode::UserMode, kFileReadData);
  EXPECT_TRUE(r.granted);
  EXPECT_EQ(r.access, kFileReadData);
}

TEST(AccessCheck, TheDefaultDeviceDescriptorGivesUsersReadWriteExecuteAndAdminsAll) {
  SecurityDescriptor sd = default_device_descriptor(0x22, 0, kFile);
  auto user = check(sd, subject(TokenKind::User), kMaximumAllowed);
  EXPECT_EQ(user.access, 0x001201BFu);
  auto rw = check(sd, subject(TokenKind::User), kGenericRead | kGenericWrite);
  EXPECT_TRUE(rw.granted);
  EXPECT_EQ(rw.access, 0x0012019Fu);
  // GENERIC_ALL includes DELETE, WRITE_DAC, WRITE_OWNER: not for Everyone.
  EXPECT_FALSE(check(sd, subject(TokenKind::User), kGenericAll).granted);
  EXPECT_EQ(check(sd, subject(TokenKind::Admin), kMaximumAllowed).access, 0x001F01FFu);
  EXPECT_EQ(check(sd, subject(TokenKind::Admin), kGenericAll).access, 0x001F01FFu);
  EXPECT_EQ(check(sd, subject(TokenKind::System), kGenericAll).access, 0x001F01FFu);
}

TEST(Tokens, UserAdminAndSystemHaveWindowsDefaults) {
  Token user = make_token(TokenKind::User);
  EXPECT_EQ(user.user.to_string(), "S-1-5-21-2052111302-1214440339-682003330-1001");
  EXPECT_EQ(privilege_masks(user).enabled, 1ull << kSeChangeNotifyPrivilege);
  Subject u = subject(TokenKind::User);
  for (const Sid& s : {sids::world(), sids::users(), sids::authenticated_users(),
                       sids::interactive(), sids::local()})
    EXPECT_TRUE(u.has_enabled_sid(s)) << s.to_string();
  EXPECT_FALSE(u.has_enabled_sid(sids::admins()));
  Subject a = subject(TokenKind::Admin);
  EXPECT_TRUE(a.has_enabled_sid(sids::admins()));
  EXPECT_EQ(privilege_masks(make_token(TokenKind::Admin)).enabled,
            (1ull << kSeChangeNotifyPrivilege) | (1ull << kSeImpersonatePrivilege) |
                (1ull << kSeCreateGlobalPrivilege));
  EXPECT_TRUE((privilege_masks(make_token(TokenKind::Admin)).present >> kSeDebugPrivilege) & 1);
  EXPECT_TRUE((privilege_masks(make_token(TokenKind::Admin)).present >> kSeLoadDriverPrivilege) &
              1);
  EXPECT_EQ(make_token(TokenKind::Admin).default_owner(), sids::admins());
  Token system = make_token(TokenKind::System);
  EXPECT_EQ(system.user, sids::local_system());
  EXPECT_TRUE(subject(TokenKind::System).privilege_enabled(kSeDebugPrivilege));
  EXPECT_FALSE(subject(TokenKind::System).privilege_enabled(kSeCreateTokenPrivilege));
}

}  // namespace
}  // namespace kemu::nt::se
