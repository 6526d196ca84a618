// The registry key tree (ntoskrnl-stubs/cm/hive.h): names, enumeration
// order, links, volatile keys, deletion and the high-water marks.
#include "ntoskrnl-stubs/cm/hive.h"

#include <gtest/gtest.h>

#include "ntoskrnl-stubs/cm/config_manager.h"

namespace kemu::nt::cm {
namespace {

std::vector<std::u16string> subkey_names(const Hive& h, NodeId id) {
  std::vector<std::u16string> out;
  for (NodeId c : h.node(id).subkeys) out.push_back(h.node(c).name);
  return out;
}

TEST(Hive, TheRootIsRegistryAndPathsKeepTheStoredCase) {
  Hive h;
  EXPECT_EQ(h.full_path(h.root()), u"\\REGISTRY");
  NodeId k = h.ensure(h.root(), u"MACHINE\\SYSTEM\\ControlSet001");
  EXPECT_EQ(h.full_path(k), u"\\REGISTRY\\MACHINE\\SYSTEM\\ControlSet001");
  // Names compare case-insensitively; the first spelling stays.
  EXPECT_EQ(h.ensure(h.root(), u"machine\\system\\CONTROLSET001"), k);
  EXPECT_EQ(h.child(h.node(k).parent, u"controlset001"), k);
}

TEST(Hive, SubkeysEnumerateStableBeforeVolatileEachSortedByUpcasedName) {
  Hive h;
  NodeId parent = h.ensure(h.root(), u"P");
  NodeId out = kNoNode;
  for (auto name : {u"b", u"_x", u"Zed", u"A"}) ASSERT_EQ(h.create_child(parent, name, false, false, u"", 0, &out), STATUS_SUCCESS);
  ASSERT_EQ(h.create_child(parent, u"0vol", true, false, u"", 0, &out), STATUS_SUCCESS);
  ASSERT_EQ(h.create_child(parent, u"aVol", true, false, u"", 0, &out), STATUS_SUCCESS);
  // 'A' (0x41) < 'B' < 'Z' (0x5A) < '_' (0x5F) after upcasing; volatile keys last.
  EXPECT_EQ(subkey_names(h, parent), (std::vector<std::u16string>{u"A", u"b", u"Zed", u"_x", u"0vol", u"aVol"}));
}

TEST(Hive, ResolveReportsWhereAMissingLastComponentWouldGo) {
  Hive h;
  NodeId services = h.ensure(h.root(), u"MACHINE\\Services");
  Hive::Resolved r = h.resolve(h.root(), u"\\MACHINE\\\\Services\\", false);  // empty components skipped
  EXPECT_EQ(r.status, STATUS_SUCCESS);
  EXPECT_EQ(r.node, services);
  r = h.resolve(h.root(), u"MACHINE\\Services\\drv", false);
  EXPECT_EQ(r.status, STATUS_OBJECT_NAME_NOT_FOUND);
  EXPECT_EQ(r.parent, services);
  EXPECT_EQ(r.missing_leaf, u"drv");
  // A missing intermediate component: nothing to create under.
  r = h.resolve(h.root(), u"MACHINE\\Nope\\drv", false);
  EXPECT_EQ(r.status, STATUS_OBJECT_NAME_NOT_FOUND);
  EXPECT_EQ(r.parent, kNoNode);
  // A component longer than 255 characters is an invalid name.
  r = h.resolve(h.root(), u"MACHINE\\" + std::u16string(256, u'x'), false);
  EXPECT_EQ(r.status, STATUS_OBJECT_NAME_INVALID);
  r = h.resolve(h.root(), u"MACHINE\\" + std::u16string(255, u'x'), false);
  EXPECT_EQ(r.status, STATUS_OBJECT_NAME_NOT_FOUND);
}

TEST(Hive, LinkKeysAreFollowedUnlessTheLastComponentIsOpenedAsALink) {
  Hive h;
  NodeId system = h.ensure(h.root(), u"MACHINE\\SYSTEM");
  NodeId services = h.ensure(system, u"ControlSet001\\Services");
  NodeId link = kNoNode;
  ASSERT_EQ(h.create_child(system, u"CurrentControlSet", true, true, u"", 0, &link), STATUS_SUCCESS);
  // Without its SymbolicLinkValue a link leads nowhere.
  EXPECT_EQ(h.resolve(h.root(), u"MACHINE\\SYSTEM\\CurrentControlSet\\Services", false).status,
            STATUS_OBJECT_NAME_NOT_FOUND);
  h.set_value(link, kSymbolicLinkValue, reg::kLink, utf16_bytes(u"\\Registry\\Machine\\System\\ControlSet001", false), 0);
  Hive::Resolved r = h.resolve(h.root(), u"MACHINE\\SYSTEM\\CurrentControlSet\\Services", false);
  EXPECT_EQ(r.status, STATUS_SUCCESS);
  EXPECT_EQ(r.node, services);
  EXPECT_EQ(h.full_path(r.node), u"\\REGISTRY\\MACHINE\\SYSTEM\\ControlSet001\\Services");
  EXPECT_EQ(h.resolve(h.root(), u"MACHINE\\SYSTEM\\CurrentControlSet", true).node, link);
  EXPECT_EQ(h.resolve(h.root(), u"MACHINE\\SYSTEM\\CurrentControlSet", false).node, h.node(services).parent);
  // A missing key below a link: created under the link's target.
  r = h.resolve(h.root(), u"MACHINE\\SYSTEM\\CurrentControlSet\\Services\\drv", false);
  EXPECT_EQ(r.status, STATUS_OBJECT_NAME_NOT_FOUND);
  EXPECT_EQ(r.parent, services);
}

TEST(Hive, StableKeysCannotLiveBelowVolatileOnes) {
  Hive h;
  NodeId vol = kNoNode, out = kNoNode;
  ASSERT_EQ(h.create_child(h.root(), u"V", true, false, u"", 0, &vol), STATUS_SUCCESS);
  EXPECT_EQ(h.create_child(vol, u"S", false, false, u"", 0, &out), STATUS_CHILD_MUST_BE_VOLATILE);
  EXPECT_EQ(h.create_child(vol, u"S", true, false, u"", 0, &out), STATUS_SUCCESS);
  EXPECT_TRUE(h.node(out).is_volatile);
}

TEST(Hive, DeletionNeedsALeafAndLeavesTheKeyMarkedForItsHandles) {
  Hive h;
  NodeId a = h.ensure(h.root(), u"A");
  NodeId b = h.ensure(a, u"B");
  EXPECT_EQ(h.delete_key(a, 5), STATUS_CANNOT_DELETE);  // it has a subkey
  h.node(h.root()).no_delete = true;
  EXPECT_EQ(h.delete_key(h.root(), 5), STATUS_CANNOT_DELETE);
  EXPECT_EQ(h.delete_key(b, 7), STATUS_SUCCESS);
  EXPECT_TRUE(h.node(b).deleted);
  EXPECT_TRUE(h.node(a).subkeys.empty());
  EXPECT_EQ(h.node(a).last_write_time, 7);
  EXPECT_EQ(h.child(a, u"B"), kNoNode);
  EXPECT_EQ(h.delete_key(b, 8), STATUS_KEY_DELETED);
  EXPECT_EQ(h.resolve(b, u"", false).status, STATUS_KEY_DELETED);
  // The name is free again: a new key, not the deleted one.
  NodeId again = h.ensure(a, u"B");
  EXPECT_NE(again, b);
  EXPECT_FALSE(h.node(again).deleted);
}

TEST(Hive, ValuesKeepTheirPlaceAndSpellingAndTheMaximaAreHighWaterMarks) {
  Hive h;
  NodeId k = h.ensure(h.root(), u"K");
  h.set_value(k, u"First", reg::kDword, {1, 0, 0, 0}, 1);
  h.set_value(k, u"LongerName", reg::kBinary, std::vector<uint8_t>(10, 0xAB), 2);
  h.set_value(k, u"FIRST", reg::kSz, {'x', 0, 0, 0}, 3);
  ASSERT_EQ(h.node(k).values.size(), 2u);
  EXPECT_EQ(h.node(k).values[0].name, u"First");
  EXPECT_EQ(h.node(k).values[0].type, reg::kSz);
  EXPECT_EQ(h.node(k).last_write_time, 3);
  EXPECT_EQ(h.node(k).max_value_name_len, 20u);  // "LongerName"
  EXPECT_EQ(h.node(k).max_value_data_len, 10u);
  EXPECT_TRUE(h.delete_value(k, u"longername", 4));
  EXPECT_FALSE(h.delete_value(k, u"longername", 5));
  // Still the high-water marks while a value remains...
  EXPECT_EQ(h.node(k).max_value_name_len, 20u);
  EXPECT_EQ(h.node(k).max_value_data_len, 10u);
  EXPECT_TRUE(h.delete_value(k, u"first", 6));
  // ...and reset with the last one.
  EXPECT_EQ(h.node(k).max_value_name_len, 0u);
  EXPECT_EQ(h.node(k).max_value_data_len, 0u);

  NodeId child = kNoNode;
  ASSERT_EQ(h.create_child(k, u"Sub", false, false, u"Class", 9, &child), STATUS_SUCCESS);
  EXPECT_EQ(h.node(k).max_name_len, 6u);
  EXPECT_EQ(h.node(k).max_class_len, 10u);
  EXPECT_EQ(h.node(k).last_write_time, 9);
  ASSERT_EQ(h.delete_key(child, 10), STATUS_SUCCESS);
  EXPECT_EQ(h.node(k).max_name_len, 0u);
  EXPECT_EQ(h.node(k).max_class_len, 0u);
}

}  // namespace
}  // namespace kemu::nt::cm
