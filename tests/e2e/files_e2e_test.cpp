// End-to-end: files on the sandbox volume (\??\C:) from a driver's Zw
// routines (samples/files) and from the client (the scenario `file` step),
// with --files seeding and the sandbox's edges.
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "e2e_paths.h"
#include "harness/scenario.h"
#include "harness/session.h"

namespace {

using kemu::harness::Session;
using kemu::harness::SessionOptions;
using kemu::harness::StopReason;
namespace hostfs = std::filesystem;

constexpr uint32_t kIoctlFilesOpen = 0x80002800;         // CTL_CODE(0x8000, 0xA00, METHOD_BUFFERED, FILE_ANY_ACCESS)
constexpr uint32_t kIoctlFilesWriteHandle = 0x80002804;  // CTL_CODE(0x8000, 0xA01, ...)
constexpr uint32_t kIoctlFilesSemantics = 0x80002808;    // CTL_CODE(0x8000, 0xA02, ...)
constexpr uint32_t kGenericRead = 0x80000000, kGenericWrite = 0x40000000;

std::vector<uint8_t> bytes(const std::string& s) { return {s.begin(), s.end()}; }
std::string text(const std::vector<uint8_t>& b) { return {b.begin(), b.end()}; }

// A host folder to seed the volume from, removed afterwards.
class SeedDir {
 public:
  SeedDir() {
    std::string tmpl = (hostfs::temp_directory_path() / "kemu-files-e2e-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp");
    root_ = tmpl;
  }
  ~SeedDir() {
    std::error_code ec;
    hostfs::remove_all(root_, ec);
  }
  void put(const std::string& rel, const std::string& content) {
    hostfs::create_directories((root_ / rel).parent_path());
    std::ofstream(root_ / rel, std::ios::binary) << content;
  }
  std::string get(const std::string& rel) const {
    std::ifstream in(root_ / rel, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  const hostfs::path& path() const { return root_; }

 private:
  hostfs::path root_;
};

// The walkthrough DriverEntry runs with the Zw routines and kernel handles.
TEST(E2eFiles, DriverEntryUsesTheVolumeWithZwRoutines) {
  Session session;
  const auto& r = session.run(kemu::e2e::sample("files"));
  EXPECT_EQ(r.stop.reason, StopReason::Completed) << r.stop.message;
  EXPECT_TRUE(r.unimplemented.empty());
  EXPECT_THAT(
      r.debug_output,
      ::testing::ElementsAre(
          // FILE_CREATE of a directory: FILE_CREATED (2); OBJ_KERNEL_HANDLE gives a kernel handle.
          "files: mkdir status=0x00000000 information=2 kernel-handle=1",
          "files: create status=0x00000000 information=2",
          // Without a ByteOffset the synchronous file's position is used; FILE_WRITE_TO_END_OF_FILE appends.
          "files: write status=0x00000000 information=14", "files: append status=0x00000000 information=1",
          // 15 bytes in one 4 KiB cluster; the position followed both writes.
          "files: standard status=0x00000000 information=24 eof=15 allocation=4096 links=1 directory=0",
          "files: position status=0x00000000 offset=15",
          "files: read status=0x00000000 information=15 text='hello, sandbox!'",
          // STATUS_END_OF_FILE is an error: the IO_STATUS_BLOCK is not written.
          "files: read-past-end status=0xc0000011 iosb-untouched=1",
          // A 12-byte buffer: FileNameLength is the whole name's (30), 8 bytes of it fit, STATUS_BUFFER_OVERFLOW.
          "files: name-short status=0x80000005 information=12 length=30 first='\\kem'",
          "files: name status=0x00000000 information=34 name='\\kemu\\notes.txt'",
          // FileFsDeviceInformation comes from the volume device: FILE_DEVICE_DISK, FILE_DEVICE_IS_MOUNTED.
          "files: volume-device status=0x00000000 type=0x7 characteristics=0x20",
          "files: volume-attributes status=0x00000000 name='NTFS' max-component=255",
          // The first open shares reading only: a writer is refused, a reader opens (FILE_OPENED).
          "files: second-writer status=0xc0000043", "files: second-reader status=0x00000000 information=1",
          // RootDirectory = the directory's handle: relative creates.
          "files: relative-create status=0x00000000 information=2", "files: subdir status=0x00000000 information=2",
          // "." and ".." first (the root's attributes: directory, hidden, system), then by name; the
          // 512-byte buffer takes four entries (416 bytes), "sub" comes with the next query.
          "files: all query status=0x00000000 information=416", "files: all entry '.' size=0 attributes=0x10",
          "files: all entry '..' size=0 attributes=0x16", "files: all entry 'b.dat' size=0 attributes=0x20",
          "files: all entry 'notes.txt' size=15 attributes=0x20",
          "files: all query status=0x00000000 information=100", "files: all entry 'sub' size=0 attributes=0x10",
          "files: all query status=0x80000006 information=0",  // STATUS_NO_MORE_FILES
          "files: txt query status=0x00000000 information=30", "files: txt entry 'notes.txt'",
          "files: txt query status=0x80000006 information=0",
          // The first query matching nothing: STATUS_NO_SUCH_FILE.
          "files: none query status=0xc000000f information=0",
          "files: rename status=0x00000000", "files: disposition status=0x00000000",
          "files: after-disposition status=0xc0000034", "files: delete-file status=0x00000000",
          "files: delete-nonempty status=0xc0000101",  // STATUS_DIRECTORY_NOT_EMPTY
          "files: delete-dir status=0x00000000", "files: after-delete status=0xc0000034",
          // The sandbox's edges: ".." and '/' are invalid NTFS names, the host's /etc is not there,
          // a name without '\' is not an object path.
          "files: escape '\\??\\C:\\..\\..\\etc\\passwd' status=0xc0000033",
          "files: escape '\\??\\C:\\/etc/passwd' status=0xc0000033",
          "files: escape '\\??\\C:\\etc\\passwd' status=0xc000003a",
          "files: escape '/etc/passwd' status=0xc000003b",
          "files: escape '\\Device\\HarddiskVolume2\\..\\x' status=0xc0000033",
          "files: escape '\\??\\C:\\a\\..\\b' status=0xc0000033"));
}

// samples/files/semantics.c: 140 rules of NTFS and the I/O manager, each a
// CHECK with the status, Information value or bytes Windows gives, run by the
// driver with Zw routines inside a client request.
TEST(E2eFiles, SemanticsSuitePasses) {
  Session session;
  session.load(kemu::e2e::sample("files"));
  ASSERT_EQ(session.driver_entry(), 0u);
  auto dev = session.open("\\\\.\\KemuFiles");
  ASSERT_EQ(dev.status, 0u);
  Session::IoctlRequest rq;
  rq.handle = dev.handle;
  rq.code = kIoctlFilesSemantics;
  rq.output_length = 72;  // FILES_RESULTS
  auto r = session.ioctl(rq);
  ASSERT_EQ(r.status, 0u);
  ASSERT_EQ(r.information, 72u);
  uint32_t passed = 0, failed = 0;
  std::memcpy(&passed, r.output.data(), 4);
  std::memcpy(&failed, r.output.data() + 4, 4);
  std::vector<std::string> failures;
  for (const auto& line : session.result().debug_output)
    if (line.find("FAIL") != std::string::npos) failures.push_back(line);
  EXPECT_EQ(failed, 0u) << ::testing::PrintToString(failures);
  EXPECT_EQ(passed, 140u);
  EXPECT_TRUE(session.result().unimplemented.empty());
}

// Opens from the client and from the driver, for paths that try to leave the
// sandbox: each gets the status NTFS gives, none reaches a host file.
struct EscapeCase {
  const char* path;
  uint32_t status;
};

class E2eFilesEscape : public ::testing::TestWithParam<EscapeCase> {};

TEST_P(E2eFilesEscape, NoPathLeavesTheSandbox) {
  SeedDir seed;
  seed.put("inside.txt", "inside");
  // A link in the seed folder to the host's /etc is not copied.
  hostfs::create_directory_symlink("/etc", seed.path() / "etc");
  SessionOptions options;
  options.files_dir = seed.path().string();
  Session session(options);
  session.load(kemu::e2e::sample("files"));
  ASSERT_EQ(session.driver_entry(), 0u);
  const EscapeCase& c = GetParam();
  auto client = session.open_file(c.path, kGenericRead);
  ASSERT_TRUE(client.status.has_value());
  EXPECT_EQ(*client.status, c.status) << c.path;
  EXPECT_EQ(client.handle, 0u);
  // The same name from the driver's ZwCreateFile (native names only).
  if (c.path[0] == '\\' || c.path[0] == '/') {
    auto dev = session.open("\\\\.\\KemuFiles");
    ASSERT_EQ(dev.status, 0u);
    Session::IoctlRequest rq;
    rq.handle = dev.handle;
    rq.code = kIoctlFilesOpen;
    for (const char* p = c.path; *p; ++p) rq.input.insert(rq.input.end(), {static_cast<uint8_t>(*p), 0});
    rq.output_length = 4;
    auto r = session.ioctl(rq);
    ASSERT_EQ(r.status, 0u);
    uint32_t driver_status = 0;
    std::memcpy(&driver_status, r.output.data(), 4);
    EXPECT_EQ(driver_status, c.status) << c.path;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Paths, E2eFilesEscape,
    ::testing::Values(EscapeCase{"\\??\\C:\\..\\..\\etc\\passwd", 0xC0000033},  // STATUS_OBJECT_NAME_INVALID
                      EscapeCase{"\\??\\C:\\/etc/passwd", 0xC0000033},
                      EscapeCase{"\\??\\C:\\etc\\passwd", 0xC000003A},  // STATUS_OBJECT_PATH_NOT_FOUND: the link was not copied
                      EscapeCase{"\\??\\C:\\etc", 0xC0000034},          // STATUS_OBJECT_NAME_NOT_FOUND
                      EscapeCase{"/etc/passwd", 0xC000003B},            // STATUS_OBJECT_PATH_SYNTAX_BAD: not an object name
                      EscapeCase{"\\Device\\HarddiskVolume2\\..\\..\\etc\\passwd", 0xC0000033},
                      EscapeCase{"\\??\\GLOBALROOT\\Device\\HarddiskVolume2\\etc\\passwd", 0xC000003A},
                      EscapeCase{"\\??\\C:\\inside.txt\\..\\..", 0xC0000033},
                      // Win32 names are normalized first: ".." stops at the drive's root.
                      EscapeCase{"C:\\..\\..\\etc\\passwd", 0xC000003A},
                      EscapeCase{"C:/../../../etc/passwd", 0xC000003A}));

TEST(E2eFiles, TheClientReadsAndWritesSeededFilesAndTheHostStaysUntouched) {
  SeedDir seed;
  seed.put("data.txt", "seeded bytes");
  seed.put("dir/nested.bin", std::string("\x01\x02\x03", 3));
  SessionOptions options;
  options.files_dir = seed.path().string();
  Session session(options);
  session.load(kemu::e2e::sample("files"));
  ASSERT_EQ(session.driver_entry(), 0u);

  auto f = session.open_file("C:\\data.txt", kGenericRead | kGenericWrite);
  ASSERT_EQ(f.status, 0u);
  EXPECT_EQ(f.information, 1u);  // FILE_OPENED
  auto r = session.read(f.handle, 64);
  ASSERT_EQ(r.status, 0u);
  EXPECT_EQ(r.information, 12u);
  EXPECT_EQ(text(r.output), "seeded bytes");
  auto w = session.write(f.handle, bytes("GUEST"), 0);
  ASSERT_EQ(w.status, 0u);
  EXPECT_EQ(w.information, 5u);
  auto again = session.read(f.handle, 64, 0);
  EXPECT_EQ(text(again.output), "GUESTd bytes");  // five bytes overwritten at offset 0
  EXPECT_EQ(session.close(f.handle), 0u);

  auto nested = session.open_file("\\??\\C:\\DIR\\Nested.bin", kGenericRead);
  ASSERT_EQ(nested.status, 0u);
  EXPECT_EQ(text(session.read(nested.handle, 8).output), std::string("\x01\x02\x03", 3));
  // A directory is not a file; a missing name and a missing path differ.
  EXPECT_EQ(session.open_file("C:\\dir", kGenericRead).status, 0xC00000BAu);  // STATUS_FILE_IS_A_DIRECTORY
  EXPECT_EQ(session.open_file("C:\\missing.txt", kGenericRead).status, 0xC0000034u);
  EXPECT_EQ(session.open_file("C:\\nodir\\new.txt", kGenericWrite, true).status, 0xC000003Au);
  auto created = session.open_file("C:\\dir\\new.txt", kGenericWrite, true);
  ASSERT_EQ(created.status, 0u);
  EXPECT_EQ(created.information, 2u);  // FILE_CREATED
  EXPECT_EQ(session.write(created.handle, bytes("new")).status, 0u);
  session.unload();

  // Nothing was written to the host.
  EXPECT_EQ(seed.get("data.txt"), "seeded bytes");
  EXPECT_FALSE(hostfs::exists(seed.path() / "dir" / "new.txt"));
}

// Two handles to one FILE_OBJECT (NtDuplicateObject) share its
// CurrentByteOffset; so does a driver's ZwWriteFile through the client's handle.
TEST(E2eFiles, DuplicatedHandlesShareTheFilePosition) {
  Session session;
  session.load(kemu::e2e::sample("files"));
  ASSERT_EQ(session.driver_entry(), 0u);
  auto first = session.open_file("C:\\shared.txt", kGenericRead | kGenericWrite, true);
  ASSERT_EQ(first.status, 0u);
  EXPECT_EQ(first.information, 2u);
  auto second = session.duplicate(first.handle, 2 /* DUPLICATE_SAME_ACCESS */);
  ASSERT_EQ(second.status, 0u);
  ASSERT_NE(second.handle, first.handle);

  auto w1 = session.write(first.handle, bytes("abc"));
  ASSERT_EQ(w1.status, 0u);
  auto w2 = session.write(second.handle, bytes("def"));  // at position 3, where the first handle left it
  ASSERT_EQ(w2.status, 0u);
  auto all = session.read(first.handle, 16, 0);
  EXPECT_EQ(text(all.output), "abcdef");
  // The explicit read moved the position to 6: the other handle reads at the end of file.
  auto at_end = session.read(second.handle, 4);
  EXPECT_EQ(at_end.status, 0xC0000011u);  // STATUS_END_OF_FILE
  EXPECT_EQ(at_end.information, 0u);

  // The driver writes through the duplicate, in the client's context, at the shared position.
  auto dev = session.open("\\\\.\\KemuFiles");
  ASSERT_EQ(dev.status, 0u);
  Session::IoctlRequest rq;
  rq.handle = dev.handle;
  rq.code = kIoctlFilesWriteHandle;
  for (int b = 0; b < 8; ++b) rq.input.push_back(static_cast<uint8_t>(second.handle >> (8 * b)));
  for (char c : std::string("ghi")) rq.input.push_back(static_cast<uint8_t>(c));
  rq.output_length = 16;
  auto r = session.ioctl(rq);
  ASSERT_EQ(r.status, 0u);
  uint32_t status = 0, information = 0;
  int64_t position = 0;
  std::memcpy(&status, r.output.data(), 4);
  std::memcpy(&information, r.output.data() + 4, 4);
  std::memcpy(&position, r.output.data() + 8, 8);
  EXPECT_EQ(status, 0u);
  EXPECT_EQ(information, 3u);
  EXPECT_EQ(position, 9);
  EXPECT_EQ(text(session.read(first.handle, 16, 0).output), "abcdefghi");
  // Closing one handle leaves the file object (and its position) to the other.
  EXPECT_EQ(session.close(first.handle), 0u);
  auto w3 = session.write(second.handle, bytes("!"));
  EXPECT_EQ(w3.status, 0u);
  EXPECT_EQ(text(session.read(second.handle, 16, 0).output), "abcdefghi!");
  EXPECT_EQ(session.close(second.handle), 0u);
}

TEST(E2eFiles, ScenarioFileStepsCreateOpenAndExpect) {
  SeedDir scratch;
  const std::string yaml = scratch.path().string() + "/s.yaml";
  std::ofstream(yaml) << R"(steps:
  - file: { path: 'C:\log.txt', access: [read, write], as: log, create: true, expect: { status: STATUS_SUCCESS, information: 2 } }
  - write: { handle: log, data: { hex: "6b656d75" } }
  - file: { path: '\??\C:\log.txt', access: [read], as: again, create: true, expect: { information: 1 } }
  - read: { handle: again, length: 16, expect: { status: STATUS_SUCCESS, information: 4 } }
  - file: { path: 'C:\none.txt', access: [read], as: none, expect: { status: STATUS_OBJECT_NAME_NOT_FOUND } }
  - close: log
  - close: again
)";
  auto scenario = kemu::harness::parse_scenario(yaml);
  Session session;
  const auto& r = kemu::harness::run_scenario(session, kemu::e2e::sample("files"), scenario);
  ASSERT_EQ(r.stop.reason, StopReason::Completed) << r.stop.message;
  ASSERT_EQ(r.steps.size(), 7u);
  EXPECT_EQ(r.steps[0].op, "file");
  EXPECT_EQ(r.steps[0].target, "C:\\log.txt");
  EXPECT_EQ(r.steps[0].status, 0u);
  EXPECT_EQ(r.steps[0].information, 2u);
  EXPECT_EQ(r.steps[2].information, 1u);
  EXPECT_EQ(r.steps[3].output_hex, "6b656d75");
  EXPECT_EQ(r.steps[4].status, 0xC0000034u);
  for (const auto& step : r.steps) EXPECT_TRUE(step.expect_ok) << step.op;
}

}  // namespace
