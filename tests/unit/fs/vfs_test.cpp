// The sandbox volume's tree: names as NTFS takes them apart, lookups,
// creation, data, limits, removal and renames.
#include <gtest/gtest.h>

#include "ntoskrnl-stubs/fs/vfs.h"

namespace {

using namespace kemu;
using namespace kemu::nt::fs;

constexpr int64_t kTime = 133'485'408'000'000'000;

TEST(VfsNames, SplitTakesAVolumeRelativePathApart) {
  ParsedPath p;
  ASSERT_EQ(Vfs::split(u"\\", &p), STATUS_SUCCESS);
  EXPECT_TRUE(p.parts.empty());
  ASSERT_EQ(Vfs::split(u"\\dir\\f.txt", &p), STATUS_SUCCESS);
  EXPECT_EQ(p.parts, (std::vector<std::u16string>{u"dir", u"f.txt"}));
  EXPECT_FALSE(p.trailing_separator);
  // A trailing separator says "a directory".
  ASSERT_EQ(Vfs::split(u"\\dir\\", &p), STATUS_SUCCESS);
  EXPECT_EQ(p.parts, (std::vector<std::u16string>{u"dir"}));
  EXPECT_TRUE(p.trailing_separator);
}

TEST(VfsNames, NamesNtfsRefusesAreObjectNameInvalid) {
  ParsedPath p;
  int index = 0;
  for (const char16_t* bad : {u"", u"dir", u"\\..", u"\\.", u"\\a\\..\\b", u"\\a\\\\b", u"\\/etc/passwd",
                              u"\\a:stream", u"\\a*", u"\\a?", u"\\a<", u"\\a>", u"\\a|", u"\\a\"", u"\\\x01"})
    EXPECT_EQ(Vfs::split(bad, &p), STATUS_OBJECT_NAME_INVALID) << "case " << index++;
  std::u16string long_name = u"\\" + std::u16string(256, u'x');
  EXPECT_EQ(Vfs::split(long_name, &p), STATUS_OBJECT_NAME_INVALID);
  EXPECT_EQ(Vfs::split(u"\\" + std::u16string(255, u'x'), &p), STATUS_SUCCESS);
  // A relative name has no leading separator.
  ASSERT_EQ(Vfs::split_relative(u"sub\\f", &p), STATUS_SUCCESS);
  EXPECT_EQ(p.parts, (std::vector<std::u16string>{u"sub", u"f"}));
  EXPECT_EQ(Vfs::split_relative(u"..\\x", &p), STATUS_OBJECT_NAME_INVALID);
}

TEST(VfsTree, LookupsTellAMissingNameFromAMissingPath) {
  Vfs v;
  NodeId dir = 0, file = 0, found = 0;
  ASSERT_EQ(v.create(kRootNode, u"Dir", true, 0, kTime, &dir), STATUS_SUCCESS);
  ASSERT_EQ(v.create(dir, u"File.txt", false, 0x80, kTime, &file), STATUS_SUCCESS);
  EXPECT_EQ(v.find(kRootNode, {u"dir", u"FILE.TXT"}, &found), STATUS_SUCCESS);  // case-insensitive
  EXPECT_EQ(found, file);
  EXPECT_EQ(v.find(kRootNode, {u"dir", u"none"}, &found), STATUS_OBJECT_NAME_NOT_FOUND);
  EXPECT_EQ(v.find(kRootNode, {u"none", u"x"}, &found), STATUS_OBJECT_PATH_NOT_FOUND);
  // A file in the middle of a path is a missing path.
  EXPECT_EQ(v.find(kRootNode, {u"dir", u"file.txt", u"x"}, &found), STATUS_OBJECT_PATH_NOT_FOUND);
  EXPECT_EQ(v.path_of(file), u"\\Dir\\File.txt");  // the case as created
  EXPECT_EQ(v.path_of(kRootNode), u"\\");
  NodeId parent = 0;
  EXPECT_EQ(v.find_parent(kRootNode, {u"dir", u"new"}, &parent), STATUS_SUCCESS);
  EXPECT_EQ(parent, dir);
  EXPECT_EQ(v.find_parent(kRootNode, {u"dir", u"file.txt", u"new"}, &parent), STATUS_OBJECT_PATH_NOT_FOUND);
}

TEST(VfsTree, CreationStoresAttributesAsNtfsDoes) {
  Vfs v;
  NodeId a = 0, b = 0, d = 0;
  ASSERT_EQ(v.create(kRootNode, u"a", false, kAttributeNormal, kTime, &a), STATUS_SUCCESS);
  EXPECT_EQ(v.node(a)->attributes, kAttributeArchive);  // NORMAL alone: just ARCHIVE
  ASSERT_EQ(v.create(kRootNode, u"b", false, kAttributeReadOnly | kAttributeHidden | kAttributeDirectory, kTime, &b),
            STATUS_SUCCESS);
  EXPECT_EQ(v.node(b)->attributes, kAttributeReadOnly | kAttributeHidden | kAttributeArchive);
  ASSERT_EQ(v.create(kRootNode, u"d", true, 0, kTime, &d), STATUS_SUCCESS);
  EXPECT_EQ(v.node(d)->attributes, kAttributeDirectory);
  EXPECT_EQ(v.node(a)->creation_time, kTime);
  NodeId again = 0;
  EXPECT_EQ(v.create(kRootNode, u"A", false, 0, kTime, &again), STATUS_OBJECT_NAME_COLLISION);
  EXPECT_EQ(v.create(a, u"x", false, 0, kTime, &again), STATUS_OBJECT_PATH_NOT_FOUND);
}

TEST(VfsData, ReadsWritesAndSizes) {
  Vfs v;
  NodeId f = 0;
  ASSERT_EQ(v.create(kRootNode, u"f", false, 0, kTime, &f), STATUS_SUCCESS);
  const uint8_t hello[] = {'h', 'e', 'l', 'l', 'o'};
  ASSERT_EQ(v.write(f, 2, hello, 5, kTime + 10), STATUS_SUCCESS);
  std::vector<uint8_t> out;
  ASSERT_EQ(v.read(f, 0, 100, &out), STATUS_SUCCESS);
  EXPECT_EQ(out, (std::vector<uint8_t>{0, 0, 'h', 'e', 'l', 'l', 'o'}));  // the gap reads as zeros
  EXPECT_EQ(v.node(f)->last_write_time, kTime + 10);
  EXPECT_EQ(v.read(f, 7, 1, &out), STATUS_END_OF_FILE);
  EXPECT_EQ(v.read(f, 7, 0, &out), STATUS_SUCCESS);  // nothing asked, nothing refused
  ASSERT_EQ(v.set_size(f, 3, kTime), STATUS_SUCCESS);
  ASSERT_EQ(v.read(f, 0, 100, &out), STATUS_SUCCESS);
  EXPECT_EQ(out, (std::vector<uint8_t>{0, 0, 'h'}));
  EXPECT_EQ(v.used_bytes(), 3u);
}

TEST(VfsLimits, BytesAndNodesAreBounded) {
  Limits limits;
  limits.max_bytes = 16;
  limits.max_nodes = 3;  // the root and two more
  Vfs v(limits);
  NodeId f = 0, g = 0, h = 0;
  ASSERT_EQ(v.create(kRootNode, u"f", false, 0, kTime, &f), STATUS_SUCCESS);
  ASSERT_EQ(v.create(kRootNode, u"g", false, 0, kTime, &g), STATUS_SUCCESS);
  EXPECT_EQ(v.create(kRootNode, u"h", false, 0, kTime, &h), STATUS_DISK_FULL);
  uint8_t byte = 1;
  EXPECT_EQ(v.write(f, 15, &byte, 1, kTime), STATUS_SUCCESS);
  EXPECT_EQ(v.write(g, 0, &byte, 1, kTime), STATUS_DISK_FULL);
  // A far offset is refused before anything grows.
  EXPECT_EQ(v.write(f, 1ull << 40, &byte, 1, kTime), STATUS_DISK_FULL);
  EXPECT_EQ(v.set_size(g, 1ull << 40, kTime), STATUS_DISK_FULL);
  EXPECT_EQ(v.used_bytes(), 16u);
}

TEST(VfsTree, RemoveAndRename) {
  Vfs v;
  NodeId d = 0, sub = 0, f = 0, g = 0;
  ASSERT_EQ(v.create(kRootNode, u"d", true, 0, kTime, &d), STATUS_SUCCESS);
  ASSERT_EQ(v.create(d, u"sub", true, 0, kTime, &sub), STATUS_SUCCESS);
  ASSERT_EQ(v.create(d, u"f", false, 0, kTime, &f), STATUS_SUCCESS);
  ASSERT_EQ(v.create(kRootNode, u"g", false, 0, kTime, &g), STATUS_SUCCESS);
  EXPECT_EQ(v.remove(kRootNode), STATUS_CANNOT_DELETE);
  EXPECT_EQ(v.remove(d), STATUS_DIRECTORY_NOT_EMPTY);
  // Renames: a collision unless replacing; never into the directory's own subtree.
  EXPECT_EQ(v.rename(f, kRootNode, u"G", false, kTime), STATUS_OBJECT_NAME_COLLISION);
  NodeId replaced = 0;
  EXPECT_EQ(v.rename(f, kRootNode, u"G", true, kTime, &replaced), STATUS_SUCCESS);
  EXPECT_EQ(replaced, g);
  EXPECT_EQ(v.node(g), nullptr);
  EXPECT_EQ(v.path_of(f), u"\\G");
  EXPECT_EQ(v.rename(d, sub, u"x", false, kTime), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(v.rename(sub, kRootNode, u"bad:name", false, kTime), STATUS_OBJECT_NAME_INVALID);
  EXPECT_EQ(v.rename(d, kRootNode, u"D2", false, kTime), STATUS_SUCCESS);
  EXPECT_EQ(v.path_of(sub), u"\\D2\\sub");
  EXPECT_EQ(v.remove(sub), STATUS_SUCCESS);
  EXPECT_EQ(v.remove(d), STATUS_SUCCESS);
}

}  // namespace
