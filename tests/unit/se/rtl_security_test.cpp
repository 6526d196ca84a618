// The Rtl/Se/Ob security routines called directly on a Kernel over guest
// memory (no guest code): exact statuses, bytes and masks.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "emulator/machine.h"
#include "ntoskrnl-stubs/api/kernel_modules.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/se_structs.h"
#include "ntoskrnl-stubs/ob/object_manager.h"
#include "ntoskrnl-stubs/ps/process_manager.h"
#include "ntoskrnl-stubs/se/sid.h"

namespace kemu::nt {

// The handlers under test (ntoskrnl-stubs/se/*.cpp, ob/security_exports.cpp).
NtStatus RtlCreateSecurityDescriptor(Kernel& k, GuestVa sd, uint32_t revision);
NtStatus RtlSetDaclSecurityDescriptor(Kernel& k, GuestVa sd, bool present, GuestVa dacl,
                                      bool defaulted);
NtStatus RtlSetOwnerSecurityDescriptor(Kernel& k, GuestVa sd, GuestVa owner, bool defaulted);
NtStatus RtlGetDaclSecurityDescriptor(Kernel& k, GuestVa sd, GuestVa present, GuestVa dacl,
                                      GuestVa defaulted);
NtStatus RtlGetOwnerSecurityDescriptor(Kernel& k, GuestVa sd, GuestVa owner, GuestVa defaulted);
uint32_t RtlLengthSecurityDescriptor(Kernel& k, GuestVa sd);
bool RtlValidSecurityDescriptor(Kernel& k, GuestVa sd);
NtStatus RtlAbsoluteToSelfRelativeSD(Kernel& k, GuestVa absolute, GuestVa relative,
                                     GuestVa length_io);
NtStatus RtlCreateAcl(Kernel& k, GuestVa acl, uint32_t length, uint32_t revision);
NtStatus RtlAddAccessAllowedAce(Kernel& k, GuestVa acl, uint32_t revision, uint32_t mask,
                                GuestVa sid);
NtStatus RtlAddAccessAllowedAceEx(Kernel& k, GuestVa acl, uint32_t revision, uint32_t flags,
                                  uint32_t mask, GuestVa sid);
NtStatus RtlAddAccessDeniedAce(Kernel& k, GuestVa acl, uint32_t revision, uint32_t mask,
                               GuestVa sid);
NtStatus RtlGetAce(Kernel& k, GuestVa acl, uint32_t index, GuestVa ace_out);
uint32_t RtlLengthSid(Kernel& k, GuestVa sid);
uint32_t RtlLengthRequiredSid(Kernel&, uint32_t count);
NtStatus RtlInitializeSid(Kernel& k, GuestVa sid, GuestVa authority, uint8_t count);
GuestVa RtlSubAuthoritySid(Kernel&, GuestVa sid, uint32_t index);
GuestVa RtlSubAuthorityCountSid(Kernel&, GuestVa sid);
bool RtlValidSid(Kernel& k, GuestVa sid);
bool RtlEqualSid(Kernel& k, GuestVa a, GuestVa b);
NtStatus RtlCopySid(Kernel& k, uint32_t length, GuestVa destination, GuestVa source);
NtStatus RtlConvertSidToUnicodeString(Kernel& k, GuestVa us, GuestVa sid, bool allocate);
void RtlMapGenericMask(Kernel& k, GuestVa mask, GuestVa mapping);
void SeCaptureSubjectContext(Kernel& k, GuestVa context);
void SeReleaseSubjectContext(Kernel& k, GuestVa context);
bool SeTokenIsAdmin(Kernel& k, GuestVa token);
NtStatus SeQueryInformationToken(Kernel& k, GuestVa token, uint32_t info_class, GuestVa info_out);
bool SeSinglePrivilegeCheck(Kernel& k, uint64_t privilege, uint8_t mode);
bool SeAccessCheck(Kernel& k, GuestVa sd, GuestVa context, bool locked, uint32_t desired,
                   uint32_t previously, GuestVa privileges, GuestVa mapping, uint8_t mode,
                   GuestVa granted, GuestVa status);
NtStatus SeSetSecurityDescriptorInfo(Kernel& k, GuestVa object, GuestVa information,
                                     GuestVa modification, GuestVa objects_sd, uint32_t pool_type,
                                     GuestVa mapping);

namespace {

using Bytes = std::vector<uint8_t>;

class SeFixture : public ::testing::Test {
 protected:
  static constexpr GuestVa kData{0xFFFF'F806'1010'0000ull};  // kernel scratch, 4 pages

  SeFixture() : kernel_(machine_) {
    machine_.memory().map(kData, 0x4000, Prot::ReadWrite, emu::RegionKind::Scratch, "se test data");
  }
  emu::AddressSpace& mem() { return machine_.memory(); }
  GuestVa alloc(size_t bytes, uint8_t fill = 0xCC) {
    GuestVa va = kData + next_;
    next_ += (bytes + 15) & ~size_t{15};
    std::vector<uint8_t> b(bytes, fill);
    mem().write(va, b.data(), b.size());
    return va;
  }
  GuestVa put(const Bytes& bytes) {
    GuestVa va = alloc(bytes.size());
    mem().write(va, bytes.data(), bytes.size());
    return va;
  }
  GuestVa sid(const se::Sid& s) { return put(s.bytes()); }
  Bytes read(GuestVa va, size_t n) {
    Bytes b(n);
    mem().read(va, b.data(), n);
    return b;
  }
  GuestVa se_exports() {
    auto var = kernel_.modules().data_export("SeExports");
    return GuestVa{mem().read<uint64_t>(*var)};
  }
  GuestVa file_mapping() {
    return put({0x89, 0, 0x12, 0, 0x16, 1, 0x12, 0, 0xA0, 0, 0x12, 0, 0xFF, 1, 0x1F, 0});
  }

  emu::Machine machine_;
  Kernel kernel_;
  size_t next_ = 0;
};

TEST_F(SeFixture, SidRoutines) {
  GuestVa authority = put({0, 0, 0, 0, 0, 5});
  GuestVa s = alloc(16);
  EXPECT_EQ(RtlInitializeSid(kernel_, s, authority, 16), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(RtlInitializeSid(kernel_, s, authority, 2), STATUS_SUCCESS);
  EXPECT_EQ(RtlSubAuthorityCountSid(kernel_, s), s + 1);
  EXPECT_EQ(RtlSubAuthoritySid(kernel_, s, 1), s + 12);
  mem().write<uint32_t>(RtlSubAuthoritySid(kernel_, s, 0), 32);
  mem().write<uint32_t>(RtlSubAuthoritySid(kernel_, s, 1), 544);
  EXPECT_EQ(read(s, 16), se::sids::admins().bytes());
  EXPECT_EQ(RtlLengthSid(kernel_, s), 16u);
  EXPECT_EQ(RtlLengthRequiredSid(kernel_, 5), 28u);
  EXPECT_TRUE(RtlValidSid(kernel_, s));
  EXPECT_TRUE(RtlEqualSid(kernel_, s, sid(se::sids::admins())));
  EXPECT_FALSE(RtlEqualSid(kernel_, s, sid(se::sids::users())));
  GuestVa copy = alloc(16);
  EXPECT_EQ(RtlCopySid(kernel_, 15, copy, s), STATUS_BUFFER_TOO_SMALL);
  EXPECT_EQ(RtlCopySid(kernel_, 16, copy, s), STATUS_SUCCESS);
  EXPECT_EQ(read(copy, 16), se::sids::admins().bytes());
  GuestVa bad = put({2, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0});
  EXPECT_FALSE(RtlValidSid(kernel_, bad));
}

TEST_F(SeFixture, ConvertSidToUnicodeString) {
  GuestVa s = sid(se::sids::admins());
  GuestVa buffer = alloc(64);
  GuestVa us = put({0, 0, 10, 0, 0, 0, 0, 0});  // MaximumLength 10: too small
  mem().write<uint64_t>(us + 8, buffer.value);
  EXPECT_EQ(RtlConvertSidToUnicodeString(kernel_, us, s, false), STATUS_BUFFER_OVERFLOW);
  mem().write<uint16_t>(us + 2, 64);
  EXPECT_EQ(RtlConvertSidToUnicodeString(kernel_, us, s, false), STATUS_SUCCESS);
  EXPECT_EQ(mem().read<uint16_t>(us), 24u);  // "S-1-5-32-544": 12 characters
  std::u16string text(12, u'\0');
  mem().read(buffer, text.data(), 24);
  EXPECT_EQ(text, u"S-1-5-32-544");
  EXPECT_EQ(mem().read<uint16_t>(buffer + 24), 0u);
  GuestVa allocated = alloc(16, 0);
  EXPECT_EQ(RtlConvertSidToUnicodeString(kernel_, allocated, s, true), STATUS_SUCCESS);
  EXPECT_EQ(mem().read<uint16_t>(allocated), 24u);
  EXPECT_EQ(mem().read<uint16_t>(allocated + 2), 26u);
  GuestVa bad = put({1, 16, 0, 0, 0, 0, 0, 5});
  EXPECT_EQ(RtlConvertSidToUnicodeString(kernel_, us, bad, false), STATUS_INVALID_SID);
}

TEST_F(SeFixture, CreateAclAndAddAces) {
  GuestVa acl = alloc(64);
  EXPECT_EQ(RtlCreateAcl(kernel_, acl, 7, 2), STATUS_BUFFER_TOO_SMALL);
  EXPECT_EQ(RtlCreateAcl(kernel_, acl, 64, 5), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(RtlCreateAcl(kernel_, acl, 0xFFFD, 2), STATUS_INVALID_PARAMETER);
  // 50 bytes: the size is rounded down to a ULONG (48), all 50 zeroed.
  EXPECT_EQ(RtlCreateAcl(kernel_, acl, 50, 2), STATUS_SUCCESS);
  EXPECT_EQ(read(acl, 8), (Bytes{2, 0, 48, 0, 0, 0, 0, 0}));
  EXPECT_EQ(mem().read<uint16_t>(acl + 48), 0u);
  GuestVa system = sid(se::sids::local_system());
  GuestVa admins = sid(se::sids::admins());
  EXPECT_EQ(RtlAddAccessAllowedAce(kernel_, acl, 2, 0x10000000, system), STATUS_SUCCESS);
  EXPECT_EQ(read(acl, 28), (Bytes{2, 0,    48, 0, 1, 0, 0, 0, 0, 0, 20, 0, 0, 0,
                                  0, 0x10, 1,  1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0}));
  // 8 + 20 + 24 > 48: no room for the Administrators ACE; a 20-byte one fits exactly.
  EXPECT_EQ(RtlAddAccessAllowedAce(kernel_, acl, 2, 0x10000000, admins),
            STATUS_ALLOTTED_SPACE_EXCEEDED);
  EXPECT_EQ(RtlAddAccessDeniedAce(kernel_, acl, 2, 0x2, sid(se::sids::world())), STATUS_SUCCESS);
  EXPECT_EQ(mem().read<uint16_t>(acl + 4), 2u);
  // A revision-4 ACE raises the ACL's revision; above 4 is a mismatch.
  EXPECT_EQ(RtlAddAccessAllowedAce(kernel_, acl, 5, 1, system), STATUS_REVISION_MISMATCH);
  // Only inheritance flags (and 0x20 for allowed ACEs) are accepted.
  EXPECT_EQ(RtlAddAccessAllowedAceEx(kernel_, acl, 2, 0x40, 1, system), STATUS_INVALID_PARAMETER);
  // The SID must be a valid kernel-mode SID.
  GuestVa user_sid{0x20000000};
  EXPECT_EQ(RtlAddAccessAllowedAce(kernel_, acl, 2, 1, user_sid), STATUS_INVALID_SID);
  GuestVa ace;
  GuestVa ace_out = alloc(8);
  EXPECT_EQ(RtlGetAce(kernel_, acl, 1, ace_out), STATUS_SUCCESS);
  ace = GuestVa{mem().read<uint64_t>(ace_out)};
  EXPECT_EQ(ace, acl + 28);
  EXPECT_EQ(mem().read<uint8_t>(ace), 1u);  // ACCESS_DENIED_ACE_TYPE
  EXPECT_EQ(RtlGetAce(kernel_, acl, 2, ace_out), STATUS_INVALID_PARAMETER);
}

TEST_F(SeFixture, AbsoluteDescriptorToSelfRelative) {
  GuestVa sd = alloc(sizeof(layout::SECURITY_DESCRIPTOR));
  EXPECT_EQ(RtlCreateSecurityDescriptor(kernel_, sd, 2), STATUS_UNKNOWN_REVISION);
  ASSERT_EQ(RtlCreateSecurityDescriptor(kernel_, sd, 1), STATUS_SUCCESS);
  EXPECT_EQ(read(sd, 40), Bytes({1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
  GuestVa acl = alloc(52);
  ASSERT_EQ(RtlCreateAcl(kernel_, acl, 52, 2), STATUS_SUCCESS);
  ASSERT_EQ(RtlAddAccessAllowedAce(kernel_, acl, 2, 0x10000000, sid(se::sids::local_system())),
            STATUS_SUCCESS);
  ASSERT_EQ(RtlAddAccessAllowedAce(kernel_, acl, 2, 0x10000000, sid(se::sids::admins())),
            STATUS_SUCCESS);
  ASSERT_EQ(RtlSetDaclSecurityDescriptor(kernel_, sd, true, acl, false), STATUS_SUCCESS);
  GuestVa owner = sid(se::sids::admins());
  ASSERT_EQ(RtlSetOwnerSecurityDescriptor(kernel_, sd, owner, true), STATUS_SUCCESS);
  EXPECT_EQ(mem().read<uint16_t>(sd + 2), 0x0005u);  // DACL_PRESENT | OWNER_DEFAULTED
  EXPECT_EQ(RtlLengthSecurityDescriptor(kernel_, sd), 40u + 52u + 16u);
  EXPECT_TRUE(RtlValidSecurityDescriptor(kernel_, sd));

  GuestVa length = put({0, 0, 0, 0});
  EXPECT_EQ(RtlAbsoluteToSelfRelativeSD(kernel_, sd, GuestVa{}, length), STATUS_BUFFER_TOO_SMALL);
  EXPECT_EQ(mem().read<uint32_t>(length), 88u);  // 20 + 52 + 16
  GuestVa relative = alloc(88);
  ASSERT_EQ(RtlAbsoluteToSelfRelativeSD(kernel_, sd, relative, length), STATUS_SUCCESS);
  // Header: control 0x8005, owner after the DACL, no group or SACL.
  EXPECT_EQ(read(relative, 20),
            (Bytes{1, 0, 5, 0x80, 72, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 20, 0, 0, 0}));
  EXPECT_EQ(read(relative + 20, 52), read(acl, 52));
  EXPECT_EQ(read(relative + 72, 16), se::sids::admins().bytes());
  EXPECT_EQ(RtlLengthSecurityDescriptor(kernel_, relative), 88u);
  EXPECT_TRUE(RtlValidSecurityDescriptor(kernel_, relative));
  EXPECT_EQ(RtlAbsoluteToSelfRelativeSD(kernel_, relative, relative, length),
            STATUS_BAD_DESCRIPTOR_FORMAT);
  EXPECT_EQ(RtlSetDaclSecurityDescriptor(kernel_, relative, true, acl, false),
            STATUS_INVALID_SECURITY_DESCR);

  // The Get routines read through either form.
  GuestVa present = alloc(1), dacl = alloc(8), defaulted = alloc(1);
  ASSERT_EQ(RtlGetDaclSecurityDescriptor(kernel_, relative, present, dacl, defaulted),
            STATUS_SUCCESS);
  EXPECT_EQ(mem().read<uint8_t>(present), 1u);
  EXPECT_EQ(mem().read<uint64_t>(dacl), (relative + 20).value);
  EXPECT_EQ(mem().read<uint8_t>(defaulted), 0u);
  ASSERT_EQ(RtlGetOwnerSecurityDescriptor(kernel_, sd, dacl, defaulted), STATUS_SUCCESS);
  EXPECT_EQ(mem().read<uint64_t>(dacl), owner.value);
  EXPECT_EQ(mem().read<uint8_t>(defaulted), 1u);

  // A corrupt ACE makes the descriptor invalid.
  mem().write<uint8_t>(relative + 20 + 8 + 8, 7);  // first ACE's SID revision
  EXPECT_FALSE(RtlValidSecurityDescriptor(kernel_, relative));
}

TEST_F(SeFixture, MapGenericMask) {
  GuestVa mask = put({0, 0, 0, 0xC0});  // GENERIC_READ | GENERIC_WRITE
  RtlMapGenericMask(kernel_, mask, file_mapping());
  EXPECT_EQ(mem().read<uint32_t>(mask), 0x0012019Fu);
}

TEST_F(SeFixture, SeExportsPointsAtRealSidsAndPrivilegeLuids) {
  GuestVa e = se_exports();
  auto exports = mem().read<layout::SE_EXPORTS>(e);
  EXPECT_EQ(exports.SeDebugPrivilege.LowPart, 20u);
  EXPECT_EQ(exports.SeLoadDriverPrivilege.LowPart, 10u);
  EXPECT_EQ(exports.SeChangeNotifyPrivilege.LowPart, 23u);
  EXPECT_EQ(exports.SeCreateSymbolicLinkPrivilege.LowPart, 35u);
  EXPECT_EQ(read(GuestVa{exports.SeWorldSid}, 12), se::sids::world().bytes());
  EXPECT_EQ(read(GuestVa{exports.SeLocalSystemSid}, 12), se::sids::local_system().bytes());
  EXPECT_EQ(read(GuestVa{exports.SeAliasAdminsSid}, 16), se::sids::admins().bytes());
  EXPECT_EQ(read(GuestVa{exports.SeAuthenticatedUsersSid}, 12),
            se::sids::authenticated_users().bytes());
  EXPECT_EQ(read(GuestVa{exports.SeOwnerRightsSid}, 12), se::sids::owner_rights().bytes());
  auto tail = mem().read<layout::SE_EXPORTS_TAIL>(e + sizeof(layout::SE_EXPORTS));
  EXPECT_EQ(read(GuestVa{tail.SeTrustedInstallerSid}, 32), se::sids::trusted_installer().bytes());
  EXPECT_EQ(tail.SeDelegateSessionUserImpersonatePrivilege.LowPart, 36u);
}

TEST_F(SeFixture, SubjectContextTokenQueriesAndPrivilegeChecksFollowTheCurrentProcess) {
  // DriverEntry's context: the System process and its token.
  GuestVa context = alloc(sizeof(layout::SECURITY_SUBJECT_CONTEXT));
  SeCaptureSubjectContext(kernel_, context);
  auto c = mem().read<layout::SECURITY_SUBJECT_CONTEXT>(context);
  EXPECT_EQ(c.ClientToken, 0u);
  EXPECT_EQ(c.PrimaryToken, kernel_.ps().primary_token(4).value);
  EXPECT_EQ(c.ProcessAuditId, 4u);
  ob::ObjectRecord* token = kernel_.ob().by_body(GuestVa{c.PrimaryToken});
  ASSERT_NE(token, nullptr);
  int64_t references = token->pointer_count;
  EXPECT_TRUE(SeTokenIsAdmin(kernel_, GuestVa{c.PrimaryToken}));
  GuestVa info = alloc(8);
  ASSERT_EQ(SeQueryInformationToken(kernel_, GuestVa{c.PrimaryToken}, 1 /* TokenUser */, info),
            STATUS_SUCCESS);
  GuestVa user{mem().read<uint64_t>(info)};
  EXPECT_EQ(mem().read<uint64_t>(user), (user + 16).value);  // TOKEN_USER.User.Sid points after it
  EXPECT_EQ(read(user + 16, 12), se::sids::local_system().bytes());
  EXPECT_EQ(
      SeQueryInformationToken(kernel_, GuestVa{c.PrimaryToken}, 12 /* TokenSessionId */, info),
      STATUS_SUCCESS);
  EXPECT_EQ(mem().read<uint64_t>(info), 0u);
  EXPECT_EQ(SeQueryInformationToken(kernel_, GuestVa{c.PrimaryToken}, 9, info),
            STATUS_INVALID_INFO_CLASS);
  SeReleaseSubjectContext(kernel_, context);
  EXPECT_EQ(token->pointer_count, references - 1);
  // A KernelMode check always passes; UserMode asks the current token.
  EXPECT_TRUE(SeSinglePrivilegeCheck(kernel_, se::kSeDebugPrivilege, 0));
  EXPECT_TRUE(SeSinglePrivilegeCheck(kernel_, se::kSeDebugPrivilege, 1));
  EXPECT_FALSE(SeSinglePrivilegeCheck(kernel_, se::kSeCreateTokenPrivilege, 1));
  EXPECT_FALSE(SeSinglePrivilegeCheck(kernel_, (1ull << 32) | 20, 1));
}

TEST_F(SeFixture, SeAccessCheckWritesGrantedAccessAndStatus) {
  // An absolute descriptor: Everyone read, nothing else.
  GuestVa acl = alloc(32);
  ASSERT_EQ(RtlCreateAcl(kernel_, acl, 32, 2), STATUS_SUCCESS);
  ASSERT_EQ(RtlAddAccessAllowedAce(kernel_, acl, 2, 0x80000000, sid(se::sids::world())),
            STATUS_SUCCESS);
  GuestVa sd = alloc(40);
  ASSERT_EQ(RtlCreateSecurityDescriptor(kernel_, sd, 1), STATUS_SUCCESS);
  ASSERT_EQ(RtlSetDaclSecurityDescriptor(kernel_, sd, true, acl, false), STATUS_SUCCESS);
  GuestVa context = alloc(sizeof(layout::SECURITY_SUBJECT_CONTEXT));
  SeCaptureSubjectContext(kernel_, context);
  GuestVa granted = alloc(4), status = alloc(4), privileges = alloc(8);
  EXPECT_TRUE(SeAccessCheck(kernel_, sd, context, false, 0x02000000, 0, privileges, file_mapping(),
                            1, granted, status));
  EXPECT_EQ(mem().read<uint32_t>(granted), 0x00120089u);
  EXPECT_EQ(mem().read<uint32_t>(status), STATUS_SUCCESS);
  EXPECT_EQ(mem().read<uint64_t>(privileges), 0u);
  EXPECT_FALSE(SeAccessCheck(kernel_, sd, context, false, 0x40000000, 0, GuestVa{}, file_mapping(),
                             1, granted, status));
  EXPECT_EQ(mem().read<uint32_t>(granted), 0u);
  EXPECT_EQ(mem().read<uint32_t>(status), STATUS_ACCESS_DENIED);
  // SeSecurityPrivilege (enabled for System) grants ACCESS_SYSTEM_SECURITY and is reported.
  EXPECT_TRUE(SeAccessCheck(kernel_, sd, context, false, 0x01000000, 0, privileges, file_mapping(),
                            1, granted, status));
  EXPECT_EQ(mem().read<uint32_t>(granted), 0x01000000u);
  GuestVa set{mem().read<uint64_t>(privileges)};
  ASSERT_TRUE(set);
  EXPECT_EQ(mem().read<uint32_t>(set), 1u);
  EXPECT_EQ(mem().read<uint32_t>(set + 8), 8u);  // SeSecurityPrivilege
  SeReleaseSubjectContext(kernel_, context);
}

TEST_F(SeFixture, SetSecurityDescriptorInfoMergesIntoANewSelfRelativeDescriptor) {
  // The object's descriptor: self-relative, owner + DACL {Everyone GENERIC_ALL}.
  se::SecurityDescriptor object;
  object.owner = se::sids::admins();
  object.control = se::kSeDaclPresent;
  object.dacl = se::make_acl({{se::kAccessAllowedAce, 0, 0x1F01FF, se::sids::world()}});
  GuestVa current = put(se::to_self_relative(object));
  GuestVa pointer = alloc(8);
  mem().write<uint64_t>(pointer, current.value);
  // The modification: absolute, DACL {SYSTEM GENERIC_ALL}.
  GuestVa acl = alloc(28);
  ASSERT_EQ(RtlCreateAcl(kernel_, acl, 28, 2), STATUS_SUCCESS);
  ASSERT_EQ(RtlAddAccessAllowedAce(kernel_, acl, 2, 0x10000000, sid(se::sids::local_system())),
            STATUS_SUCCESS);
  GuestVa mod = alloc(40);
  ASSERT_EQ(RtlCreateSecurityDescriptor(kernel_, mod, 1), STATUS_SUCCESS);
  ASSERT_EQ(RtlSetDaclSecurityDescriptor(kernel_, mod, true, acl, false), STATUS_SUCCESS);
  GuestVa information = put({4, 0, 0, 0});  // DACL_SECURITY_INFORMATION
  ASSERT_EQ(
      SeSetSecurityDescriptorInfo(kernel_, GuestVa{}, information, mod, pointer, 1, file_mapping()),
      STATUS_SUCCESS);
  GuestVa updated{mem().read<uint64_t>(pointer)};
  EXPECT_NE(updated, current);
  se::SecurityDescriptor expected = object;
  expected.dacl = se::make_acl({{se::kAccessAllowedAce, 0, 0x1F01FF, se::sids::local_system()}});
  EXPECT_EQ(read(updated, RtlLengthSecurityDescriptor(kernel_, updated)),
            se::to_self_relative(expected));
  // An absolute descriptor as the object's is refused; none at all too.
  mem().write<uint64_t>(pointer, mod.value);
  EXPECT_EQ(
      SeSetSecurityDescriptorInfo(kernel_, GuestVa{}, information, mod, pointer, 1, file_mapping()),
      STATUS_BAD_DESCRIPTOR_FORMAT);
  mem().write<uint64_t>(pointer, 0);
  EXPECT_EQ(
      SeSetSecurityDescriptorInfo(kernel_, GuestVa{}, information, mod, pointer, 1, file_mapping()),
      STATUS_NO_SECURITY_ON_OBJECT);
}

}  // namespace
}  // namespace kemu::nt
