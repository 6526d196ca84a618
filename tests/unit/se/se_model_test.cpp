// kemu::nt::se: SIDs, ACLs and security descriptors in their binary layouts,
// the default device descriptor, and SeQuery/SeSetSecurityDescriptorInfo's
// part selection and merge. Expected bytes are the winnt.h layouts.
#include <gtest/gtest.h>

#include <vector>

#include "ntoskrnl-stubs/ob/object_types.h"
#include "ntoskrnl-stubs/se/acl.h"
#include "ntoskrnl-stubs/se/security_descriptor.h"
#include "ntoskrnl-stubs/se/sid.h"

namespace kemu::nt::se {
namespace {

using Bytes = std::vector<uint8_t>;

const layout::GENERIC_MAPPING kFileMapping = ob::descriptor(ob::TypeIndex::File).mapping;

TEST(Sid, BinaryLayoutIsRevisionCountBigEndianAuthorityLittleEndianSubAuthorities) {
  Sid admins = sids::admins();
  EXPECT_EQ(admins.length(), 16u);
  EXPECT_EQ(admins.bytes(), (Bytes{1, 2, 0, 0, 0, 0, 0, 5, 0x20, 0, 0, 0, 0x20, 0x02, 0, 0}));
  EXPECT_EQ(admins.to_string(), "S-1-5-32-544");
  EXPECT_EQ(sids::world().bytes(), (Bytes{1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0}));
  EXPECT_EQ(sids::nt_authority().length(), 8u);
  EXPECT_EQ(sids::nt_authority().to_string(), "S-1-5");
  EXPECT_EQ(sids::low_mandatory().to_string(), "S-1-16-4096");
}

TEST(Sid, AnAuthorityOf2Pow32OrMoreIsPrintedInHex) {
  EXPECT_EQ(Sid::make(0x123456789ABCull, {7}).to_string(), "S-1-0x123456789ABC-7");
}

TEST(Sid, ParseRoundTripsAndRejectsBadRevisionCountAndLength) {
  Bytes b = sids::trusted_installer().bytes();
  auto parsed = parse_sid(b);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(*parsed, sids::trusted_installer());
  b[0] = 2;
  EXPECT_FALSE(parse_sid(b).has_value());
  Bytes count16 = {1, 16, 0, 0, 0, 0, 0, 5};
  count16.resize(8 + 64, 0);
  EXPECT_FALSE(parse_sid(count16).has_value());
  Bytes short_sid = sids::admins().bytes();
  short_sid.pop_back();
  EXPECT_FALSE(parse_sid(short_sid).has_value());
}

TEST(Acl, MakeAclLaysOutHeaderAndAccessAllowedAces) {
  Bytes acl = make_acl({{kAccessAllowedAce, 0, 0x10000000, sids::local_system()},
                        {kAccessDeniedAce, kInheritOnlyAce, 0x00020000, sids::world()}});
  // ACL: revision 2, size 8 + (8+12) + (8+12) = 48, two ACEs.
  ASSERT_EQ(acl.size(), 48u);
  EXPECT_EQ(Bytes(acl.begin(), acl.begin() + 8), (Bytes{2, 0, 48, 0, 2, 0, 0, 0}));
  // First ACE: type 0, flags 0, size 20, mask GENERIC_ALL, S-1-5-18.
  EXPECT_EQ(Bytes(acl.begin() + 8, acl.begin() + 28),
            (Bytes{0, 0, 20, 0, 0, 0, 0, 0x10, 1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0}));
  EXPECT_EQ(acl[28], kAccessDeniedAce);
  EXPECT_EQ(acl[29], kInheritOnlyAce);
  EXPECT_TRUE(valid_acl(acl));
  auto aces = parse_aces(acl);
  ASSERT_EQ(aces.size(), 2u);
  EXPECT_EQ(aces[1].offset, 28u);
  EXPECT_EQ(aces[1].mask, 0x00020000u);
  EXPECT_EQ(*aces[1].sid, sids::world());
}

TEST(Acl, ValidationFollowsRtlValidAcl) {
  Bytes acl = make_acl({{kAccessAllowedAce, 0, 1, sids::world()}});
  EXPECT_TRUE(valid_acl(acl));
  Bytes bad_revision = acl;
  bad_revision[0] = 1;
  EXPECT_FALSE(valid_acl(bad_revision));
  Bytes ace_past_end = acl;
  ace_past_end[10] = 24;  // AceSize 24 > AclSize - 8
  EXPECT_FALSE(valid_acl(ace_past_end));
  Bytes unaligned_ace = acl;
  unaligned_ace[10] = 18;  // known ACE sizes are ULONG multiples
  EXPECT_FALSE(valid_acl(unaligned_ace));
  Bytes bad_sid = acl;
  bad_sid[16] = 2;  // the ACE's SID revision
  EXPECT_FALSE(valid_acl(bad_sid));
  Bytes too_many = acl;
  too_many[4] = 2;  // AceCount 2 with room for one
  EXPECT_FALSE(valid_acl(too_many));
  Bytes empty = {2, 0, 8, 0, 0, 0, 0, 0};
  EXPECT_TRUE(valid_acl(empty));
}

TEST(Acl, GenericRightsInEffectiveAceMasksAreMapped) {
  Bytes acl = make_acl({{kAccessAllowedAce, 0, 0xE0000000, sids::world()},
                        {kAccessAllowedAce, kInheritOnlyAce, 0x10000000, sids::admins()}});
  map_acl_generic(acl, kFileMapping);
  auto aces = parse_aces(acl);
  EXPECT_EQ(aces[0].mask, 0x001201BFu);  // FILE_GENERIC_READ|WRITE|EXECUTE
  EXPECT_EQ(aces[1].mask, 0x10000000u);  // inherit-only ACEs keep theirs
  EXPECT_EQ(map_generic(0x10000001, kFileMapping), 0x001F01FFu);
  EXPECT_EQ(map_generic(0x02000000, kFileMapping), 0x02000000u);  // MAXIMUM_ALLOWED stays
}

SecurityDescriptor admin_only() {
  SecurityDescriptor sd;
  sd.control = kSeDaclPresent;
  sd.dacl = make_acl({{kAccessAllowedAce, 0, 0x10000000, sids::local_system()},
                      {kAccessAllowedAce, 0, 0x10000000, sids::admins()}});
  return sd;
}

TEST(SecurityDescriptor, SelfRelativeLayoutIsSaclDaclOwnerGroup) {
  SecurityDescriptor sd = admin_only();
  sd.owner = sids::admins();
  sd.group = sids::local_system();
  Bytes b = to_self_relative(sd);
  // 20 header + DACL 8+20+24 = 52 + owner 16 + group 12.
  ASSERT_EQ(b.size(), 100u);
  EXPECT_EQ(self_relative_length(sd), 100u);
  EXPECT_EQ(Bytes(b.begin(), b.begin() + 20),
            (Bytes{1, 0, 0x04, 0x80, 72, 0, 0, 0, 88, 0, 0, 0, 0, 0, 0, 0, 20, 0, 0, 0}));
  auto back = parse_self_relative(b);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, sd);
}

TEST(SecurityDescriptor, ANullDaclIsPresentWithoutAnAcl) {
  SecurityDescriptor sd;
  sd.control = kSeDaclPresent;
  Bytes b = to_self_relative(sd);
  EXPECT_EQ(b, (Bytes{1, 0, 0x04, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
  auto back = parse_self_relative(b);
  ASSERT_TRUE(back.has_value());
  EXPECT_TRUE(back->dacl_present());
  EXPECT_FALSE(back->dacl.has_value());
}

TEST(SecurityDescriptor, DefaultDeviceDescriptorIsPublicOpenUnrestrictedMapped) {
  SecurityDescriptor sd =
      default_device_descriptor(0x22 /* FILE_DEVICE_UNKNOWN */, 0, kFileMapping);
  EXPECT_EQ(sd.control, kSeDaclPresent | kSeSaclPresent);
  EXPECT_EQ(*sd.owner, sids::admins());
  EXPECT_EQ(*sd.group, sids::local_system());
  auto dacl = parse_aces(*sd.dacl);
  ASSERT_EQ(dacl.size(), 4u);
  EXPECT_EQ(*dacl[0].sid, sids::world());
  EXPECT_EQ(dacl[0].mask, 0x001201BFu);
  EXPECT_EQ(*dacl[1].sid, sids::local_system());
  EXPECT_EQ(dacl[1].mask, 0x001F01FFu);
  EXPECT_EQ(*dacl[2].sid, sids::admins());
  EXPECT_EQ(dacl[2].mask, 0x001F01FFu);
  EXPECT_EQ(*dacl[3].sid, sids::restricted());
  EXPECT_EQ(dacl[3].mask, 0x001200A9u);
  auto sacl = parse_aces(*sd.sacl);
  ASSERT_EQ(sacl.size(), 1u);
  EXPECT_EQ(sacl[0].type, kSystemMandatoryLabelAce);
  EXPECT_EQ(sacl[0].mask, kMandatoryLabelNoWriteUp);
  EXPECT_EQ(*sacl[0].sid, sids::low_mandatory());
  // 20 + SACL 28 + DACL 8+20+20+24+20 + owner 16 + group 12
  EXPECT_EQ(self_relative_length(sd), 168u);
}

TEST(SecurityDescriptor, RemovableDisksAndCdRomsGetTheInteractiveAce) {
  SecurityDescriptor cd = default_device_descriptor(0x2, 0, kFileMapping);
  auto dacl = parse_aces(*cd.dacl);
  ASSERT_EQ(dacl.size(), 5u);
  EXPECT_EQ(dacl[0].mask, 0x001200A0u);  // Everyone: GENERIC_EXECUTE
  EXPECT_EQ(*dacl[4].sid, sids::interactive());
  EXPECT_EQ(dacl[4].mask, 0x0013019Fu);  // GENERIC_READ|GENERIC_WRITE|DELETE mapped
  EXPECT_FALSE(cd.sacl_present());
}

TEST(SecurityDescriptor, QueryPartsReturnsOnlyWhatIsAsked) {
  SecurityDescriptor sd = default_device_descriptor(0x22, 0, kFileMapping);
  SecurityDescriptor dacl_only = query_parts(sd, kDaclSecurityInformation);
  EXPECT_FALSE(dacl_only.owner.has_value());
  EXPECT_FALSE(dacl_only.group.has_value());
  EXPECT_FALSE(dacl_only.sacl_present());
  EXPECT_EQ(dacl_only.control, kSeDaclPresent);
  EXPECT_EQ(dacl_only.dacl, sd.dacl);
  SecurityDescriptor label = query_parts(sd, kLabelSecurityInformation);
  EXPECT_EQ(label.control, kSeSaclPresent);
  EXPECT_EQ(label.sacl, sd.sacl);
}

TEST(SecurityDescriptor, MergeReplacesTheDaclAndMapsItsGenericRights) {
  SecurityDescriptor object = default_device_descriptor(0x22, 0, kFileMapping);
  SecurityDescriptor merged;
  ASSERT_EQ(merge_parts(object, admin_only(), kDaclSecurityInformation, kFileMapping, &merged),
            STATUS_SUCCESS);
  EXPECT_EQ(merged.owner, object.owner);
  EXPECT_EQ(merged.sacl, object.sacl);
  auto dacl = parse_aces(*merged.dacl);
  ASSERT_EQ(dacl.size(), 2u);
  EXPECT_EQ(dacl[0].mask, 0x001F01FFu);
  EXPECT_EQ(*dacl[1].sid, sids::admins());
  // Setting an owner the modification lacks.
  EXPECT_EQ(merge_parts(object, admin_only(), kOwnerSecurityInformation, kFileMapping, &merged),
            STATUS_INVALID_OWNER);
  EXPECT_EQ(merge_parts(object, admin_only(), kGroupSecurityInformation, kFileMapping, &merged),
            STATUS_INVALID_PRIMARY_GROUP);
}

}  // namespace
}  // namespace kemu::nt::se
