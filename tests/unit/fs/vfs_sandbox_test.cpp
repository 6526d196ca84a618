// Seeding the sandbox from a host folder (--files): only what lies
// physically below the folder is copied, links are never followed, the host
// is never written.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "ntoskrnl-stubs/fs/vfs.h"

namespace {

using namespace kemu;
using namespace kemu::nt::fs;
namespace hostfs = std::filesystem;

constexpr int64_t kTime = 133'485'408'000'000'000;

// A fresh host folder per test, removed afterwards.
class SeedFolder : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (hostfs::temp_directory_path() / "kemu-vfs-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    outside_ = root_.string() + "-outside";
    hostfs::create_directories(outside_);
  }
  void TearDown() override {
    std::error_code ec;
    hostfs::permissions(root_ / "ro.txt", hostfs::perms::owner_all, ec);
    hostfs::remove_all(root_, ec);
    hostfs::remove_all(outside_, ec);
  }
  void put(const hostfs::path& p, const std::string& text) {
    hostfs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
  }
  std::string read_host(const hostfs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  std::string read_vfs(Vfs& v, std::vector<std::u16string> parts) {
    NodeId n = 0;
    if (v.find(kRootNode, parts, &n) != STATUS_SUCCESS) return "<missing>";
    std::vector<uint8_t> bytes;
    v.read(n, 0, 1 << 20, &bytes);
    return std::string(bytes.begin(), bytes.end());
  }
  hostfs::path root_, outside_;
};

TEST_F(SeedFolder, CopiesRegularFilesAndFoldersBelowTheRoot) {
  put(root_ / "data.txt", "hello");
  put(root_ / "sub" / "deeper" / "n.bin", std::string("\0\1\2", 3));
  hostfs::create_directories(root_ / "empty");
  Vfs v;
  SeedReport report;
  ASSERT_EQ(v.seed_from(root_.string(), kTime, &report), std::nullopt);
  EXPECT_EQ(read_vfs(v, {u"data.txt"}), "hello");
  EXPECT_EQ(read_vfs(v, {u"SUB", u"Deeper", u"N.BIN"}), std::string("\0\1\2", 3));
  NodeId empty = 0;
  ASSERT_EQ(v.find(kRootNode, {u"empty"}, &empty), STATUS_SUCCESS);
  EXPECT_TRUE(v.node(empty)->directory);
  EXPECT_EQ(report.files, 2u);
  EXPECT_EQ(report.directories, 3u);
  // Every copy carries the seed time (the run stays deterministic).
  NodeId data = 0;
  v.find(kRootNode, {u"data.txt"}, &data);
  EXPECT_EQ(v.node(data)->last_write_time, kTime);
  EXPECT_EQ(v.node(data)->attributes, kAttributeArchive);
}

TEST_F(SeedFolder, SymbolicLinksAreNeverFollowed) {
  put(outside_ / "secret.txt", "outside");
  // Links to a host directory (/etc), to a file outside, and a relative ".." link.
  hostfs::create_directory_symlink("/etc", root_ / "etc");
  hostfs::create_symlink(outside_ / "secret.txt", root_ / "secret.txt");
  hostfs::create_directory_symlink("..", root_ / "up");
  put(root_ / "real" / "ok.txt", "inside");
  hostfs::create_directory_symlink(outside_, root_ / "real" / "out");
  Vfs v;
  SeedReport report;
  ASSERT_EQ(v.seed_from(root_.string(), kTime, &report), std::nullopt);
  NodeId n = 0;
  EXPECT_EQ(v.find(kRootNode, {u"etc"}, &n), STATUS_OBJECT_NAME_NOT_FOUND);
  EXPECT_EQ(v.find(kRootNode, {u"etc", u"passwd"}, &n), STATUS_OBJECT_PATH_NOT_FOUND);
  EXPECT_EQ(v.find(kRootNode, {u"secret.txt"}, &n), STATUS_OBJECT_NAME_NOT_FOUND);
  EXPECT_EQ(v.find(kRootNode, {u"up"}, &n), STATUS_OBJECT_NAME_NOT_FOUND);
  EXPECT_EQ(v.find(kRootNode, {u"real", u"out"}, &n), STATUS_OBJECT_NAME_NOT_FOUND);
  EXPECT_EQ(read_vfs(v, {u"real", u"ok.txt"}), "inside");
  EXPECT_EQ(report.skipped_links, 4u);
  EXPECT_EQ(report.files, 1u);
}

TEST_F(SeedFolder, OtherHostObjectsAndUnusableNamesAreSkipped) {
  ASSERT_EQ(::mkfifo((root_ / "pipe").c_str(), 0600), 0);
  put(root_ / "a:b", "stream-like name");
  put(root_ / "q?.txt", "wildcard name");
  put(root_ / "Readme", "first");
  put(root_ / "README", "second, equal ignoring case");
  Vfs v;
  SeedReport report;
  ASSERT_EQ(v.seed_from(root_.string(), kTime, &report), std::nullopt);
  NodeId n = 0;
  EXPECT_EQ(v.find(kRootNode, {u"pipe"}, &n), STATUS_OBJECT_NAME_NOT_FOUND);
  EXPECT_EQ(report.skipped_other, 1u);
  EXPECT_EQ(report.skipped_names, 3u);
  // The first in byte order wins ("README" < "Readme").
  EXPECT_EQ(read_vfs(v, {u"readme"}), "second, equal ignoring case");
}

TEST_F(SeedFolder, ReadOnlyHostFilesAreReadOnlyAndLargeOnesSkipped) {
  put(root_ / "ro.txt", "frozen");
  hostfs::permissions(root_ / "ro.txt", hostfs::perms::owner_read | hostfs::perms::group_read);
  put(root_ / "big.bin", std::string(100, 'x'));
  Limits limits;
  limits.max_seed_file = 64;
  Vfs v(limits);
  SeedReport report;
  ASSERT_EQ(v.seed_from(root_.string(), kTime, &report), std::nullopt);
  NodeId ro = 0, big = 0;
  ASSERT_EQ(v.find(kRootNode, {u"ro.txt"}, &ro), STATUS_SUCCESS);
  EXPECT_EQ(v.node(ro)->attributes, kAttributeReadOnly | kAttributeArchive);
  EXPECT_EQ(v.find(kRootNode, {u"big.bin"}, &big), STATUS_OBJECT_NAME_NOT_FOUND);
  EXPECT_EQ(report.skipped_large, 1u);
}

TEST_F(SeedFolder, ChangesStayInMemoryAndNeverReachTheHost) {
  put(root_ / "data.txt", "host");
  Vfs v;
  ASSERT_EQ(v.seed_from(root_.string(), kTime), std::nullopt);
  NodeId data = 0, created = 0;
  ASSERT_EQ(v.find(kRootNode, {u"data.txt"}, &data), STATUS_SUCCESS);
  const uint8_t text[] = {'g', 'u', 'e', 's', 't', '!'};
  ASSERT_EQ(v.write(data, 0, text, sizeof text, kTime), STATUS_SUCCESS);
  ASSERT_EQ(v.create(kRootNode, u"new.txt", false, 0, kTime, &created), STATUS_SUCCESS);
  ASSERT_EQ(v.rename(data, kRootNode, u"moved.txt", false, kTime), STATUS_SUCCESS);
  EXPECT_EQ(read_vfs(v, {u"moved.txt"}), "guest!");
  // The host folder is exactly as it was.
  EXPECT_EQ(read_host(root_ / "data.txt"), "host");
  EXPECT_FALSE(hostfs::exists(root_ / "new.txt"));
  EXPECT_FALSE(hostfs::exists(root_ / "moved.txt"));
}

TEST_F(SeedFolder, AMissingOrNonFolderRootIsAnError) {
  Vfs v;
  auto missing = v.seed_from((root_ / "nope").string(), kTime);
  ASSERT_TRUE(missing.has_value());
  EXPECT_NE(missing->find("is not a readable folder"), std::string::npos);
  put(root_ / "file", "x");
  EXPECT_TRUE(v.seed_from((root_ / "file").string(), kTime).has_value());
}

}  // namespace
