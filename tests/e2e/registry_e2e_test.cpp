// End-to-end: a driver reading and changing its registry configuration
// (samples/registry) against values seeded through the Session API and the
// scenario's `registry:` key.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "e2e_paths.h"
#include "harness/scenario.h"
#include "harness/session.h"

namespace {

using kemu::harness::RegistryValue;
using kemu::harness::Session;
using kemu::harness::SessionError;
using kemu::harness::StopReason;
using ::testing::Contains;
using ::testing::ElementsAre;

constexpr uint32_t kReportIoctl = 0x222000;

void seed_parameters(Session& s) {
  s.set_registry_value("Parameters", "Mode", RegistryValue::dword(5));
  s.set_registry_value("Parameters", "Name", RegistryValue::sz("kemu"));
  s.set_registry_value("Parameters", "List", RegistryValue::multi_sz({"alpha", "beta"}));
  s.set_registry_value("Parameters", "Blob", RegistryValue::binary({1, 2, 3, 4, 5}));
  s.set_registry_value("Parameters\\Paths", "Image", RegistryValue::expand_sz("%SystemRoot%\\drivers\\x.sys"));
}

// Everything DriverEntry prints, in order, for the seeded registry.
const std::vector<std::string> kSeededLines = {
    // DriverEntry's RegistryPath names the service key; a handle opened in the
    // System process without OBJ_KERNEL_HANDLE lacks the kernel bit.
    "registry: path=\\Registry\\Machine\\System\\CurrentControlSet\\Services\\registry",
    "registry: open service=00000000 kernel=0 params=00000000 kernel=1",
    // RtlQueryRegistryValues: List (REG_MULTI_SZ) reaches its routine once per
    // string as REG_SZ, each length counting its NUL; the Name-less entry
    // sees every value (List split too); NOVALUE gets NULL/REG_NONE/0.
    "registry: list[0] List='alpha' type=1 len=12 ctx=1",
    "registry: list[1] List='beta' type=1 len=10 ctx=1",
    "registry: value Mode type=4 len=4 first=05",
    "registry: value Name type=1 len=10 'kemu'",
    "registry: value List type=1 len=12 'alpha'",
    "registry: value List type=1 len=10 'beta'",
    "registry: value Blob type=3 len=5 first=01",
    "registry: novalue name=0000000000000000 type=0 data=0000000000000000 len=0 ctx=1",
    // DIRECT stores: a ULONG in place, a string into a pool buffer Rtl
    // allocated (MaximumLength counts the NUL, Length does not), binary data
    // behind a positive size prefix as length, type, bytes.
    "registry: query=00000000 mode=5 name='kemu' name_len=8 name_max=10 list=2",
    "registry: blob len=5 type=3 bytes=0102030405",
    // The default of a missing value; REQUIRED without a default is
    // STATUS_OBJECT_NAME_NOT_FOUND; TYPECHECK is STATUS_OBJECT_TYPE_MISMATCH;
    // a too-small caller string buffer is left alone and not an error.
    "registry: default=00000000 missing=9 required=c0000034 typecheck=c0000024 wrong=0 small=00000000 len=0 buf=003f",
    // A REG_EXPAND_SZ holding '%' is STATUS_INVALID_PARAMETER unless NOEXPAND
    // (the kernel expands nothing); SUBKEY reads Paths.
    "registry: image Image type=2 len=54 '%SystemRoot%\\drivers\\x.sys'",
    "registry: expand=c000000d noexpand=00000000 subkey=00000000 image='%SystemRoot%\\drivers\\x.sys' max=64",
    // ZwQueryValueKey: STATUS_BUFFER_OVERFLOW with the fixed part written,
    // STATUS_BUFFER_TOO_SMALL below it, the full size reported both times.
    "registry: partial overflow=80000005 len=16 datalen=4 small=c0000023 len=16 ok=00000000 len=16 type=4 value=5",
    // KeyValueFullInformation: the data 8-aligned after the name (20 + 8 -> 32).
    "registry: full=00000000 len=42 offset=32 datalen=10 namelen=8 data='kemu'",
    // Failures leave ResultLength alone.
    "registry: missing=c0000034 len=deadbeef class5=c000000d len=deadbeef",
    "registry: create=00000000 disp=1 again=00000000 disp=2 deep=c0000034",
    "registry: set=00000000,00000000 write=00000000 check=00000000 check_missing=c0000034 make=00000000",
    // Subkeys by name, the volatile Runtime last; then STATUS_NO_MORE_ENTRIES.
    "registry: subkey[0]='Made' len=24",
    "registry: subkey[1]='Paths' len=26",
    "registry: subkey[2]='Runtime' len=30",
    "registry: subkeys end=8000001a at 3",
    "registry: runtime value[0]='Counter' type=4 len=26",
    "registry: runtime value[1]='Note' type=1 len=20",
    "registry: values end=8000001a at 2",
    // 3 subkeys; Mode, Name, List, Blob, Written; the longest names are
    // Runtime and Written (14 bytes), the largest data List (24 bytes).
    "registry: keyfull=00000000 len=44 subkeys=3 values=5 maxname=14 maxvaluename=14 maxdata=24 class=ffffffff",
    // The name of a key is its path through ControlSet001 (CurrentControlSet is a link).
    "registry: keyname=00000000 len=154 '\\REGISTRY\\MACHINE\\SYSTEM\\ControlSet001\\Services\\registry\\Parameters\\Runtime'",
    "registry: keybasic-small=c0000023 len=30",
    // STATUS_CANNOT_DELETE with subkeys; a deleted key is STATUS_KEY_DELETED
    // through every other handle.
    "registry: delete parent=c0000121 runtime=00000000 then query=c000017c set=c000017c flush=c000017c "
    "flush_live=00000000 again=c000017c",
    "registry: delete value=00000000 again=c0000034 rtl=00000000",
    // A device created by IoCreateDevice is no PDO.
    "registry: property=c0000010 len=0 devkey=c000000d handle=0000000000001234",
    // RtlQueryRegistryValuesEx found by name; the service key's Start is 3.
    "registry: ex=00000000 start=3",
};

TEST(E2eRegistry, DriverEntryReadsAndChangesItsSeededParameters) {
  Session session;
  seed_parameters(session);
  session.load(kemu::e2e::sample("registry"));
  ASSERT_EQ(session.driver_entry(), 0u);
  EXPECT_EQ(session.result().debug_output, kSeededLines);
  // What the driver left in the registry.
  EXPECT_TRUE(session.registry_key_exists("Parameters\\Made"));
  EXPECT_FALSE(session.registry_key_exists("Parameters\\Runtime"));
  EXPECT_FALSE(session.registry_value("Parameters", "Blob").has_value());
  EXPECT_FALSE(session.registry_value("Parameters", "Written").has_value());
  EXPECT_EQ(session.registry_value("Parameters", "Mode"), RegistryValue::dword(5));
  // The service key as installed: absolute and relative paths name it alike.
  EXPECT_EQ(session.registry_value("", "Start"), RegistryValue::dword(3));
  EXPECT_EQ(session.registry_value("\\Registry\\Machine\\System\\ControlSet001\\Services\\registry", "ImagePath"),
            RegistryValue::expand_sz("\\SystemRoot\\System32\\drivers\\registry.sys"));
  session.unload();
  EXPECT_EQ(session.result().stop.reason, StopReason::Completed) << session.result().stop.message;
}

TEST(E2eRegistry, TheIoctlReadsWithAKernelHandleFromTheClientsContext) {
  Session session;
  seed_parameters(session);
  session.load(kemu::e2e::sample("registry"));
  ASSERT_EQ(session.driver_entry(), 0u);
  // Set after load: written at once.
  session.set_registry_value("Parameters", "Mode", RegistryValue::dword(11));
  auto dev = session.open("\\Device\\KemuRegistry");
  ASSERT_TRUE(dev.status.has_value());
  ASSERT_EQ(*dev.status, 0u);
  Session::IoctlRequest rq;
  rq.handle = dev.handle;
  rq.code = kReportIoctl;
  rq.output_length = 24;
  auto r = session.ioctl(rq);
  ASSERT_TRUE(r.status.has_value());
  EXPECT_EQ(*r.status, 0u);
  EXPECT_EQ(r.information, 24u);
  // mode 11, open/query/write STATUS_SUCCESS, the OBJ_KERNEL_HANDLE handle is
  // a kernel handle, the plain one went into the client's table.
  EXPECT_EQ(r.output, (std::vector<uint8_t>{11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(session.registry_value("Parameters", "LastIoctl"), RegistryValue::dword(kReportIoctl));
  EXPECT_EQ(session.close(dev.handle), 0u);
  session.unload();
  EXPECT_EQ(session.result().stop.reason, StopReason::Completed) << session.result().stop.message;
}

TEST(E2eRegistry, WithoutSeedsTheDefaultsApplyAndMissingKeysFail) {
  Session session;
  session.load(kemu::e2e::sample("registry"));
  ASSERT_EQ(session.driver_entry(), 0u);
  const auto& out = session.result().debug_output;
  // Mode takes its table default (7); nothing else is stored.
  EXPECT_THAT(out, Contains("registry: query=00000000 mode=7 name='(null)' name_len=0 name_max=0 list=0"));
  // The blob buffer keeps its size prefix: nothing was stored.
  EXPECT_THAT(out, Contains("registry: blob len=24 type=0 bytes=0000000000"));
  // No Paths key: the relative open and the SUBKEY open fail alike.
  EXPECT_THAT(out, Contains("registry: expand=c0000034 noexpand=c0000034 subkey=c0000034 image='' max=64"));
  EXPECT_THAT(out, Contains("registry: keyfull=00000000 len=44 subkeys=2 values=1 maxname=14 maxvaluename=14 "
                            "maxdata=4 class=ffffffff"));
  session.unload();
}

TEST(E2eRegistry, SeedsOutsideTheRegistryAreRefused) {
  Session session;
  EXPECT_THROW(session.set_registry_value("\\Device\\X", "A", RegistryValue::dword(1)), SessionError);
  // Absolute seeds land where they say; a missing parent chain is created.
  session.set_registry_value("\\Registry\\Machine\\SOFTWARE\\Vendor\\Product", "Level", RegistryValue::qword(1ull << 40));
  session.load(kemu::e2e::sample("registry"));
  EXPECT_EQ(session.registry_value("\\REGISTRY\\MACHINE\\software\\vendor\\PRODUCT", "level"),
            RegistryValue::qword(1ull << 40));
}

TEST(E2eRegistry, TheScenarioRegistryKeySeedsBeforeDriverEntry) {
  const std::string demo = std::string(KEMU_SOURCE_DIR) + "/samples/registry/demo.yaml";
  auto scenario = kemu::harness::parse_scenario(demo);
  ASSERT_EQ(scenario.registry.size(), 5u);
  EXPECT_EQ(scenario.registry[0].key, "Parameters");
  EXPECT_EQ(scenario.registry[0].name, "Mode");
  EXPECT_EQ(scenario.registry[0].value, RegistryValue::dword(5));
  EXPECT_EQ(scenario.registry[2].value, RegistryValue::multi_sz({"alpha", "beta"}));
  EXPECT_EQ(scenario.registry[3].value, RegistryValue::binary({1, 2, 3, 4, 5}));
  EXPECT_EQ(scenario.registry[4].key, "Parameters\\Paths");
  EXPECT_EQ(scenario.registry[4].value, RegistryValue::expand_sz("%SystemRoot%\\drivers\\x.sys"));
  Session session;
  const auto& r = kemu::harness::run_scenario(session, kemu::e2e::sample("registry"), scenario);
  EXPECT_EQ(r.stop.reason, StopReason::Completed) << r.stop.message;
  // The same lines as with the Session API, then the unload.
  std::vector<std::string> expected = kSeededLines;
  expected.push_back("registry: unload");
  EXPECT_EQ(r.debug_output, expected);
  ASSERT_EQ(r.steps.size(), 3u);
  EXPECT_EQ(r.steps[1].op, "ioctl");
  EXPECT_EQ(r.steps[1].status, 0u);
  EXPECT_EQ(r.steps[1].information, 24u);
  EXPECT_TRUE(r.steps[1].expect_ok);
}

// Malformed `registry:` content is a scenario error naming the file and line.
std::string scenario_error(const std::string& text) {
  auto path = std::filesystem::temp_directory_path() / "kemu_registry_scenario.yaml";
  std::ofstream(path) << text;
  try {
    kemu::harness::parse_scenario(path.string());
  } catch (const kemu::harness::ScenarioError& e) {
    std::string what = e.what();
    return what.substr(what.find(':') + 1);  // "LINE: message"
  }
  return "no error";
}

TEST(E2eRegistry, MalformedRegistrySeedsNameTheLine) {
  EXPECT_EQ(scenario_error("registry: [1]\nsteps: []\n"),
            "1: 'registry' is a map of key paths to { value-name: value } maps");
  EXPECT_EQ(scenario_error("registry:\n  Parameters:\n    Mode: { dword: 0x100000000 }\nsteps: []\n"),
            "3: dword must be a number from 0 to 0xffffffff, not '0x100000000'");
  EXPECT_EQ(scenario_error("registry:\n  Parameters:\n    Mode: { word: 1 }\nsteps: []\n"),
            "3: unknown registry value form 'word'");
  EXPECT_EQ(scenario_error("registry:\n  Parameters:\n    Mode: { dword: 1, sz: x }\nsteps: []\n"),
            "3: a registry value has one form, not 'dword' and 'sz'");
  EXPECT_EQ(scenario_error("registry:\n  Parameters:\n    Mode: 5\nsteps: []\n").substr(0, 33),
            "3: a registry value is a map: { d");
  EXPECT_EQ(scenario_error("registry:\n  Parameters:\n    Raw: { hex: \"0g\" }\nsteps: []\n"), "3: hex digits only");
  EXPECT_EQ(scenario_error("registry:\n  Parameters:\n    Raw: { hex: \"01\", type: REG_NOPE }\nsteps: []\n"),
            "3: unknown registry type 'REG_NOPE'");
  EXPECT_EQ(scenario_error("registry:\n  '\\Device\\X':\n    A: { dword: 1 }\nsteps: []\n"),
            "2: registry key '\\Device\\X': an absolute key starts with \\Registry");
  // A typed raw value and an empty key are fine.
  EXPECT_EQ(scenario_error("registry:\n  Parameters:\n    Raw: { hex: \"01\", type: REG_DWORD_BIG_ENDIAN }\n"
                           "  Empty: {}\nsteps: []\n"),
            "no error");
}

TEST(E2eRegistry, KemuRunWithAMalformedRegistryKeyExitsTwo) {
  auto path = std::filesystem::temp_directory_path() / "kemu_registry_bad.yaml";
  std::ofstream(path) << "registry:\n  Parameters:\n    Mode: { qword: -1 }\nsteps: []\n";
  std::string cmd = kemu::e2e::kemu_binary() + " run " + kemu::e2e::sample("registry") + " --scenario " +
                    path.string() + " >/dev/null 2>&1";
  int raw = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(raw));
  EXPECT_EQ(WEXITSTATUS(raw), 2);
}

}  // namespace
