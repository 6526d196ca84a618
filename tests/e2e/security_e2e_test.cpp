// End-to-end: device security with samples/secure. The I/O manager checks
// an open against the device's descriptor with the client's token before any
// IRP_MJ_CREATE (FILE_DEVICE_SECURE_OPEN deciding for namespace opens), the
// handle gets the granted access, and `--as` / a scenario's `as:` pick the
// token.
#include <sys/wait.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "e2e_paths.h"
#include "harness/scenario.h"
#include "harness/session.h"

namespace {

using kemu::harness::ClientToken;
using kemu::harness::Session;
using kemu::harness::SessionOptions;

constexpr uint32_t kInfo = 0x80012400;   // METHOD_BUFFERED, FILE_ANY_ACCESS
constexpr uint32_t kWrite = 0x8001A404;  // FILE_WRITE_ACCESS
constexpr uint32_t kWhoami = 0x80012408;
constexpr uint32_t kQueryDacl = 0x8001240C;
constexpr uint32_t kGenericRead = 0x80000000, kGenericWrite = 0x40000000, kGenericAll = 0x10000000;
constexpr uint32_t kMaximumAllowed = 0x02000000;
constexpr uint32_t kDenied = 0xC0000022;

// The four devices, in creation order (their index in the driver).
const char* const kDevices[] = {"\\Device\\KemuSecDefault", "\\Device\\KemuSecDefaultSecure",
                                "\\Device\\KemuSecAdminSecure", "\\Device\\KemuSecAdmin"};
enum Device { kDefault = 0, kDefaultSecure = 1, kAdminSecure = 2, kAdmin = 3 };

struct SecInfo {
  uint32_t creates[4];
  uint32_t index, last_desired, last_granted, name_length;
  char16_t name[32];
};
static_assert(sizeof(SecInfo) == 96);

struct SecWhoami {
  uint32_t is_admin, change_notify, debug, check_ok, check_granted, check_status, sid_length;
  char16_t sid[64];
};
static_assert(sizeof(SecWhoami) == 156);

class E2eSecurity : public ::testing::Test {
 protected:
  void start(ClientToken token) {
    session_.set_client_token(token);
    session_.load(kemu::e2e::sample("secure"));
    ASSERT_EQ(session_.driver_entry(), 0u);
  }

  Session::OpenOutcome open(Device d, const std::string& suffix, uint32_t access) {
    return session_.open(std::string(kDevices[d]) + suffix, access);
  }

  Session::IoctlOutcome ioctl(uint64_t handle, uint32_t code, uint32_t output_length) {
    Session::IoctlRequest rq;
    rq.handle = handle;
    rq.code = code;
    rq.output_length = output_length;
    return session_.ioctl(rq);
  }

  template <class T>
  T read_struct(uint64_t handle, uint32_t code) {
    auto r = ioctl(handle, code, sizeof(T));
    EXPECT_EQ(r.status, 0u);
    EXPECT_EQ(r.information, sizeof(T));
    T out{};
    if (r.output.size() == sizeof(T)) std::memcpy(&out, r.output.data(), sizeof(T));
    return out;
  }

  // The driver's counters, read through a handle to the default device.
  SecInfo info_via_default() {
    auto o = open(kDefault, "", kGenericRead);
    EXPECT_EQ(o.status, 0u);
    SecInfo i = read_struct<SecInfo>(o.handle, kInfo);
    session_.close(o.handle);
    return i;
  }

  Session session_;
};

std::u16string name_of(const SecInfo& i) {
  return std::u16string(i.name, i.name_length / 2);
}

// ---------------------------------------------------------------- the open matrix

struct Expect {
  uint32_t plain, namespaced;
};

void check_matrix(ClientToken token, const Expect (&expected)[4]) {
  for (int d = 0; d < 4; ++d) {
    Session session;
    session.set_client_token(token);
    session.load(kemu::e2e::sample("secure"));
    ASSERT_EQ(session.driver_entry(), 0u);
    auto plain = session.open(kDevices[d], kGenericRead | kGenericWrite);
    EXPECT_EQ(plain.status, expected[d].plain) << kDevices[d] << " as " << to_string(token);
    EXPECT_EQ(plain.handle != 0, expected[d].plain == 0u);
    auto namespaced =
        session.open(std::string(kDevices[d]) + "\\junk", kGenericRead | kGenericWrite);
    EXPECT_EQ(namespaced.status, expected[d].namespaced)
        << kDevices[d] << "\\junk as " << to_string(token);
  }
}

TEST(E2eSecurityMatrix, StandardUser) {
  check_matrix(ClientToken::User,
               {{0, 0},              // default: Everyone may read and write
                {0, 0},              // default + SECURE_OPEN: checked, allowed
                {kDenied, kDenied},  // admin-only + SECURE_OPEN: checked both ways
                {kDenied, 0}});      // admin-only without SECURE_OPEN: the namespace hole
}

TEST(E2eSecurityMatrix, ElevatedAdministrator) {
  check_matrix(ClientToken::Admin, {{0, 0}, {0, 0}, {0, 0}, {0, 0}});
}

// ---------------------------------------------------------------- what the driver sees

TEST_F(E2eSecurity, ARefusedOpenSendsNoCreateToTheDriver) {
  start(ClientToken::User);
  EXPECT_EQ(open(kAdminSecure, "", kGenericRead).status, kDenied);
  EXPECT_EQ(open(kAdminSecure, "\\x", kGenericRead).status, kDenied);
  EXPECT_EQ(open(kAdmin, "", kGenericRead).status, kDenied);
  SecInfo i = info_via_default();
  EXPECT_EQ(i.creates[kDefault], 1u);  // the open the info request itself used
  EXPECT_EQ(i.creates[kDefaultSecure], 0u);
  EXPECT_EQ(i.creates[kAdminSecure], 0u);
  EXPECT_EQ(i.creates[kAdmin], 0u);
}

TEST_F(E2eSecurity, ANamespaceOpenWithoutSecureOpenGetsWhateverItAsks) {
  start(ClientToken::User);
  // The admin-only device without FILE_DEVICE_SECURE_OPEN: a standard user
  // gets GENERIC_ALL through a name below it.
  auto o = open(kAdmin, "\\anything", kGenericAll);
  ASSERT_EQ(o.status, 0u);
  SecInfo i = read_struct<SecInfo>(o.handle, kInfo);
  EXPECT_EQ(i.index, static_cast<uint32_t>(kAdmin));
  EXPECT_EQ(i.creates[kAdmin], 1u);
  EXPECT_EQ(name_of(i), u"\\anything");
  EXPECT_EQ(i.last_desired, kGenericAll);
  EXPECT_EQ(i.last_granted, 0x001F01FFu);  // FILE_ALL_ACCESS, unchecked
  // The same request on the default device with SECURE_OPEN is checked:
  // Everyone has read/write/execute, not DELETE/WRITE_DAC/WRITE_OWNER.
  EXPECT_EQ(open(kDefaultSecure, "\\anything", kGenericAll).status, kDenied);
  auto rw = open(kDefaultSecure, "\\anything", kGenericRead | kGenericWrite);
  ASSERT_EQ(rw.status, 0u);
  i = read_struct<SecInfo>(rw.handle, kInfo);
  EXPECT_EQ(i.last_granted, 0x0012019Fu);
  EXPECT_EQ(name_of(i), u"\\anything");
}

TEST_F(E2eSecurity, TheHandleHasTheGrantedAccess) {
  start(ClientToken::User);
  auto ro = open(kDefault, "", kGenericRead);
  ASSERT_EQ(ro.status, 0u);
  SecInfo i = read_struct<SecInfo>(ro.handle, kInfo);
  EXPECT_EQ(i.last_desired, kGenericRead);
  EXPECT_EQ(i.last_granted, 0x00120089u);
  // FILE_WRITE_ACCESS IOCTL on a read-only grant: refused by the I/O manager.
  EXPECT_EQ(ioctl(ro.handle, kWrite, 0).status, kDenied);
  auto rw = open(kDefault, "", kGenericRead | kGenericWrite);
  ASSERT_EQ(rw.status, 0u);
  EXPECT_EQ(ioctl(rw.handle, kWrite, 0).status, 0u);
  // MAXIMUM_ALLOWED: what the default descriptor gives Everyone.
  auto max = open(kDefault, "", kMaximumAllowed);
  ASSERT_EQ(max.status, 0u);
  i = read_struct<SecInfo>(max.handle, kInfo);
  EXPECT_EQ(i.last_granted, 0x001201BFu);
  EXPECT_EQ(ioctl(max.handle, kWrite, 0).status, 0u);
}

TEST_F(E2eSecurity, AnAdministratorGetsFullAccessToTheAdminOnlyDevices) {
  start(ClientToken::Admin);
  auto o = open(kAdminSecure, "", kMaximumAllowed);
  ASSERT_EQ(o.status, 0u);
  SecInfo i = read_struct<SecInfo>(o.handle, kInfo);
  EXPECT_EQ(i.creates[kAdminSecure], 1u);
  EXPECT_EQ(i.last_granted, 0x001F01FFu);
  EXPECT_EQ(ioctl(o.handle, kWrite, 0).status, 0u);
}

TEST_F(E2eSecurity, TheDriverSeesTheClientsToken) {
  start(ClientToken::User);
  auto o = open(kDefault, "", kGenericRead);
  ASSERT_EQ(o.status, 0u);
  SecWhoami w = read_struct<SecWhoami>(o.handle, kWhoami);
  EXPECT_EQ(w.is_admin, 0u);
  EXPECT_EQ(w.change_notify, 1u);
  EXPECT_EQ(w.debug, 0u);
  EXPECT_EQ(w.check_ok, 1u);
  EXPECT_EQ(w.check_granted, 0x001201BFu);
  EXPECT_EQ(w.check_status, 0u);
  EXPECT_EQ(std::u16string(w.sid, w.sid_length / 2),
            u"S-1-5-21-2052111302-1214440339-682003330-1001");
}

TEST_F(E2eSecurity, TheDriverSeesTheAdministratorsToken) {
  start(ClientToken::Admin);
  auto o = open(kAdmin, "", kGenericRead);
  ASSERT_EQ(o.status, 0u);
  SecWhoami w = read_struct<SecWhoami>(o.handle, kWhoami);
  EXPECT_EQ(w.is_admin, 1u);
  EXPECT_EQ(w.change_notify, 1u);
  EXPECT_EQ(w.debug, 0u);  // present in an elevated token, disabled until enabled
  EXPECT_EQ(w.check_ok, 1u);
  EXPECT_EQ(w.check_granted, 0x001F01FFu);
  EXPECT_EQ(std::u16string(w.sid, w.sid_length / 2),
            u"S-1-5-21-2052111302-1214440339-682003330-1002");
}

TEST_F(E2eSecurity, ZwQuerySecurityObjectReturnsTheDaclTheDriverSet) {
  start(ClientToken::Admin);
  auto o = open(kAdminSecure, "", kGenericRead);
  ASSERT_EQ(o.status, 0u);
  // Too small: STATUS_BUFFER_TOO_SMALL from ZwQuerySecurityObject.
  EXPECT_EQ(ioctl(o.handle, kQueryDacl, 16).status, 0xC0000023u);
  auto r = ioctl(o.handle, kQueryDacl, 128);
  ASSERT_EQ(r.status, 0u);
  ASSERT_EQ(r.information, 72u);
  std::vector<uint8_t>
      expected = {1, 0, 0x04, 0x80, 0,    0,    0,    0, 0,    0,    0, 0,
                  0, 0, 0,    0,    20,   0,    0,    0,  // DACL only, at 20
                  2, 0, 52,   0,    2,    0,    0,    0,  // ACL: 52 bytes, 2 ACEs
                  0, 0, 20,   0,    0xFF, 0x01, 0x1F, 0, 1,    1,    0, 0,
                  0, 0, 0,    5,    18,   0,    0,    0,  // SYSTEM FILE_ALL_ACCESS
                  0, 0, 24,   0,    0xFF, 0x01, 0x1F, 0, 1,    2,    0, 0,
                  0, 0, 0,    5,    32,   0,    0,    0, 0x20, 0x02, 0, 0};  // Administrators
  EXPECT_EQ(std::vector<uint8_t>(r.output.begin(), r.output.begin() + 72), expected);
}

TEST_F(E2eSecurity, TheDefaultDescriptorIsReportedAsWindowsGivesIt) {
  start(ClientToken::User);
  auto o = open(kDefault, "", kGenericRead);
  ASSERT_EQ(o.status, 0u);
  auto r = ioctl(o.handle, kQueryDacl, 256);
  ASSERT_EQ(r.status, 0u);
  ASSERT_EQ(r.information, 112u);  // 20 + DACL 92
  // Everyone 0x1201BF, SYSTEM 0x1F01FF, Administrators 0x1F01FF, RESTRICTED 0x1200A9.
  auto mask_at = [&](size_t off) {
    uint32_t v;
    std::memcpy(&v, r.output.data() + off, 4);
    return v;
  };
  EXPECT_EQ(r.output[24], 4u);  // AceCount
  EXPECT_EQ(mask_at(20 + 8 + 4), 0x001201BFu);
  EXPECT_EQ(mask_at(20 + 28 + 4), 0x001F01FFu);
  EXPECT_EQ(mask_at(20 + 48 + 4), 0x001F01FFu);
  EXPECT_EQ(mask_at(20 + 72 + 4), 0x001200A9u);
}

TEST_F(E2eSecurity, DriverEntryBuildsTheDescriptorsWithTheRtlRoutines) {
  start(ClientToken::User);
  session_.unload();
  const auto& r = session_.result();
  EXPECT_THAT(r.debug_output, ::testing::ElementsAre("secure: descriptor length=72 valid=1",
                                                     "secure: descriptor length=72 valid=1"));
  EXPECT_TRUE(r.unimplemented.empty());
  EXPECT_TRUE(r.unload.devices_left.empty());
  EXPECT_TRUE(r.unload.links_left.empty());
}

TEST_F(E2eSecurity, ChangingTheTokenOfARunningClient) {
  start(ClientToken::User);
  EXPECT_EQ(open(kAdmin, "", kGenericRead).status, kDenied);
  session_.set_client_token(ClientToken::Admin);
  EXPECT_EQ(session_.client_token(), ClientToken::Admin);
  EXPECT_EQ(open(kAdmin, "", kGenericRead).status, 0u);
}

// ---------------------------------------------------------------- as: and --as

std::string source_path(const std::string& relative) {
  return std::string(KEMU_SOURCE_DIR) + "/" + relative;
}

TEST(E2eSecurityScenario, TheScenariosAsPicksTheTokenUnlessTheSessionWasGivenOne) {
  kemu::harness::Scenario sc =
      kemu::harness::parse_scenario(source_path("samples/secure/demo.yaml"));
  ASSERT_EQ(sc.as, std::optional<std::string>("user"));
  {
    Session session;
    const auto& r = kemu::harness::run_scenario(session, kemu::e2e::sample("secure"), sc);
    EXPECT_EQ(session.client_token(), ClientToken::User);
    for (const auto& step : r.steps) EXPECT_TRUE(step.expect_ok) << step.op << " " << step.target;
  }
  sc.as = "admin";
  {
    Session session;
    kemu::harness::run_scenario(session, kemu::e2e::sample("secure"), sc);
    EXPECT_EQ(session.client_token(), ClientToken::Admin);
  }
  {
    SessionOptions options;
    options.client_token = ClientToken::User;  // the command line's --as wins
    Session session(options);
    kemu::harness::run_scenario(session, kemu::e2e::sample("secure"), sc);
    EXPECT_EQ(session.client_token(), ClientToken::User);
  }
}

struct Outcome {
  int exit_code = -1;
  std::string out, err;
};

Outcome run_kemu(const std::vector<std::string>& args) {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("kemu-security-e2e-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string cmd = "'" + kemu::e2e::kemu_binary() + "'";
  for (const std::string& a : args) cmd += " '" + a + "'";
  cmd += " >'" + (dir / "out").string() + "' 2>'" + (dir / "err").string() + "' </dev/null";
  int raw = std::system(cmd.c_str());
  Outcome o;
  if (raw != -1 && WIFEXITED(raw)) o.exit_code = WEXITSTATUS(raw);
  auto slurp = [](const std::filesystem::path& p) {
    std::ifstream f(p);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  };
  o.out = slurp(dir / "out");
  o.err = slurp(dir / "err");
  std::filesystem::remove_all(dir);
  return o;
}

std::vector<std::string> step_statuses(const nlohmann::json& j, const std::string& op) {
  std::vector<std::string> out;
  for (const auto& s : j["steps"])
    if (s["op"] == op) out.push_back(s.value("status_name", s["status"].dump()));
  return out;
}

// \Device\KemuSecAdmin has the administrators-only descriptor without
// FILE_DEVICE_SECURE_OPEN: kemu's unknown-request probe opens
// \Device\KemuSecAdmin\kemu-probe as a standard user, which the driver's
// IRP_MJ_CREATE accepts (a true positive, the hole the sample shows).
// \Device\KemuSecDefault lacks the flag too, but its default descriptor
// grants a user the open of the device itself: nothing to report.
void expect_only_the_admin_namespace_open(const nlohmann::json& j) {
  ASSERT_EQ(j["findings"].size(), 1u) << j["findings"].dump();
  const auto& f = j["findings"][0];
  EXPECT_EQ(f["check"], "irp.insecure-open");
  EXPECT_EQ(f["values"]["path"], "\\Device\\KemuSecAdmin\\kemu-probe");
  EXPECT_EQ(f["values"]["device_open_status"], "0xc0000022");
  EXPECT_EQ(f["context"]["major"], "IRP_MJ_CREATE");
  EXPECT_EQ(j["probe"]["requests"].get<int>() > 0, true);
}

TEST(E2eSecurityCli, TheDemoScenarioHoldsForItsUser) {
  Outcome o = run_kemu({"run", kemu::e2e::sample("secure"), "--scenario",
                        source_path("samples/secure/demo.yaml"), "--json", "-"});
  // Every expect holds; the exit status is 1 for the probe's true positive.
  ASSERT_EQ(o.exit_code, 1) << o.err;
  auto j = nlohmann::json::parse(o.out);
  for (const auto& s : j["steps"]) EXPECT_TRUE(s["expect_ok"].get<bool>()) << s.dump();
  expect_only_the_admin_namespace_open(j);
  EXPECT_THAT(
      step_statuses(j, "open"),
      ::testing::ElementsAre("STATUS_SUCCESS", "STATUS_ACCESS_DENIED", "STATUS_ACCESS_DENIED",
                             "STATUS_SUCCESS", "STATUS_ACCESS_DENIED"));
}

TEST(E2eSecurityCli, AsAdminOnTheCommandLineOverridesTheScenario) {
  Outcome o = run_kemu({"run", kemu::e2e::sample("secure"), "--scenario",
                        source_path("samples/secure/demo.yaml"), "--as", "admin", "--json", "-"});
  // The demo's expectations are the user's: as admin they no longer hold.
  ASSERT_EQ(o.exit_code, 1) << o.err;
  auto j = nlohmann::json::parse(o.out);
  EXPECT_THAT(step_statuses(j, "open"), ::testing::Each("STATUS_SUCCESS"));
}

TEST(E2eSecurityCli, AsAdminWithoutAScenarioOpensEveryDevice) {
  Outcome user = run_kemu({"run", kemu::e2e::sample("secure"), "--json", "-"});
  ASSERT_EQ(user.exit_code, 1) << user.err;  // the probe's irp.insecure-open
  expect_only_the_admin_namespace_open(nlohmann::json::parse(user.out));
  EXPECT_THAT(step_statuses(nlohmann::json::parse(user.out), "open"),
              ::testing::ElementsAre("STATUS_SUCCESS", "STATUS_SUCCESS", "STATUS_ACCESS_DENIED",
                                     "STATUS_ACCESS_DENIED"));
  Outcome admin = run_kemu({"run", kemu::e2e::sample("secure"), "--as", "admin", "--json", "-"});
  // The probe's namespace open is a standard user's whatever --as says.
  ASSERT_EQ(admin.exit_code, 1) << admin.err;
  expect_only_the_admin_namespace_open(nlohmann::json::parse(admin.out));
  EXPECT_THAT(step_statuses(nlohmann::json::parse(admin.out), "open"),
              ::testing::Each("STATUS_SUCCESS"));
}

}  // namespace
