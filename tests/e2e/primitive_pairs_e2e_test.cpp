// The dangerous-primitive and section bug pairs (samples/bugs/primitives,
// samples/bugs/sections): each buggy driver produces exactly the findings
// whose condition holds, in the exported routine that holds the mistake, with
// the caller's values and the control code's access bits; where plain Windows
// would stop the machine, kemu stops it with the same bug check. Each fixed
// twin produces no finding at all and every expectation of its scenario holds.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <ostream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "e2e/bug_pair.h"

namespace {

using kemu::harness::RunResult;
using kemu::e2e::finding_value;
using kemu::e2e::findings_of;
using kemu::e2e::run_bug_pair;
using kemu::verifier::Finding;

struct Expected {
  std::string check;
  std::string routine;  // the exported routine the finding is located in
  uint64_t count = 1;
  bool operator<(const Expected& o) const {
    return std::tie(check, routine, count) < std::tie(o.check, o.routine, o.count);
  }
  bool operator==(const Expected& o) const {
    return std::tie(check, routine, count) == std::tie(o.check, o.routine, o.count);
  }
};

std::ostream& operator<<(std::ostream& os, const Expected& e) {
  return os << e.check << "@" << e.routine << "x" << e.count;
}

struct Pair {
  std::string dir;   // samples/bugs/<dir>
  std::string name;
  std::vector<Expected> findings;  // what the buggy driver must produce
  std::optional<uint32_t> bugcheck;  // where plain Windows stops the machine
};

KEMU_PRINT_PAIR_BY(Pair, name)

class PrimitivePairs : public ::testing::TestWithParam<Pair> {};

TEST_P(PrimitivePairs, TheBuggyDriverIsReportedWhereTheMistakeIs) {
  const Pair& p = GetParam();
  RunResult r = run_bug_pair(p.dir, p.name, "bug");
  std::vector<Expected> got;
  for (const auto& f : r.findings) {
    if (f.check == "crash.bugcheck") {
      got.push_back({f.check, "", 1});
      continue;
    }
    got.push_back({f.check, f.location.symbol, f.count});
    EXPECT_EQ(f.location.module, p.name + "_bug.sys") << f.check;
    EXPECT_EQ(f.context.major, "IRP_MJ_DEVICE_CONTROL") << f.check;
    EXPECT_FALSE(f.message.empty()) << f.check;
    if (f.check.starts_with("primitive.") || f.check == "irp.any-access-dangerous") {
      ASSERT_TRUE(f.context.ioctl.has_value()) << f.check;
      EXPECT_EQ(finding_value(f, "ioctl"), fmt::format("{:#x}", *f.context.ioctl)) << f.check;
      EXPECT_NE(finding_value(f, "required_access"), "<none>") << f.check;
    }
    if (f.check == "irp.any-access-dangerous") {
      EXPECT_EQ(finding_value(f, "required_access"), "FILE_ANY_ACCESS");
      EXPECT_EQ((*f.context.ioctl >> 14) & 3, 0u);
      // Located with the primitive it accompanies.
      bool with_primitive = false;
      for (const auto& g : r.findings)
        with_primitive |= g.check == finding_value(f, "primitive") && g.location.offset == f.location.offset;
      EXPECT_TRUE(with_primitive) << f.message;
    }
  }
  std::vector<Expected> want = p.findings;
  if (p.bugcheck) want.push_back({"crash.bugcheck", "", 1});
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);
  if (p.bugcheck) {
    ASSERT_TRUE(r.stop.bugcheck.has_value()) << r.stop.message;
    EXPECT_EQ(r.stop.bugcheck->code, *p.bugcheck);
  } else {
    EXPECT_EQ(r.stop.reason, kemu::harness::StopReason::Completed) << r.stop.message;
  }
}

TEST_P(PrimitivePairs, TheFixedTwinHasNoFinding) {
  const Pair& p = GetParam();
  RunResult r = run_bug_pair(p.dir, p.name, "fixed");
  for (const auto& f : r.findings) ADD_FAILURE() << f.check << " at " << f.location.symbol << ": " << f.message;
  EXPECT_EQ(r.stop.reason, kemu::harness::StopReason::Completed) << r.stop.message;
  for (const auto& st : r.steps) EXPECT_TRUE(st.expect_ok) << st.op << " " << st.status.value_or(0);
}

const char* const kAny = "irp.any-access-dangerous";

INSTANTIATE_TEST_SUITE_P(
    Samples, PrimitivePairs,
    ::testing::Values(
        // MmMapIoSpace and a \Device\PhysicalMemory view at the caller's address and length.
        Pair{"primitives",
             "physical_memory",
             {{"primitive.physical-memory", "ReadPhysicalMemory"},
              {kAny, "ReadPhysicalMemory"},
              {"primitive.physical-memory", "ReadPhysicalMemoryView"},
              {kAny, "ReadPhysicalMemoryView"}}},
        // The caller's MSR number and value to wrmsr: LSTAR changed, bug check 0x109.
        Pair{"primitives",
             "msr_write",
             {{"primitive.msr-write", "WriteModelSpecificRegister"}, {kAny, "WriteModelSpecificRegister"}},
             0x109},
        // out 0xCF8 and in 0xCFC, then in from port 5: FILE_READ/WRITE_ACCESS codes, so no any-access.
        Pair{"primitives",
             "port_io",
             {{"primitive.port-io", "WritePort"}, {"primitive.port-io", "ReadPort", 2}}},
        // ZwOpenProcess of the caller's pid 4 and ZwTerminateProcess: CRITICAL_PROCESS_DIED.
        Pair{"primitives",
             "process_access",
             {{"primitive.process-access", "QueryProcessById"},
              {kAny, "QueryProcessById"},
              {"primitive.process-access", "TerminateProcessById"},
              {kAny, "TerminateProcessById"}},
             0xEF},
        // A read and a write through the caller's kernel address; the write hits
        // KUSER_SHARED_DATA's read-only page: 0xBE.
        Pair{"primitives",
             "arbitrary_rw",
             {{"primitive.arbitrary-rw", "ReadCounter"},
              {kAny, "ReadCounter"},
              {"primitive.arbitrary-rw", "CopyCounters"},
              {kAny, "CopyCounters"},
              {"primitive.arbitrary-rw", "WriteCounter"},
              {kAny, "WriteCounter"}},
             0xBE},
        // The caller's section handle, offset and size mapped; the header written outside __try.
        Pair{"sections",
             "user_view",
             {{"section.user-view-unsafe", "MapRing"},
              {"handle.user-handle-to-zw", "MapRing"},
              // The header's three stores (8 + 4 + 4 bytes), each its own instruction.
              {"probe.outside-try", "InitializeRing"},
              {"probe.outside-try", "InitializeRing"},
              {"probe.outside-try", "InitializeRing"},
              {"section.user-view-unsafe", "InitializeRing"},
              {"section.user-view-unsafe", "InitializeRing"},
              {"section.user-view-unsafe", "InitializeRing"}}}),
    [](const ::testing::TestParamInfo<Pair>& info) { return info.param.name; });

// The values each finding carries: the caller's physical address and length.
TEST(PrimitivePairs, PhysicalMappingsNameTheCallersAddressAndSize) {
  RunResult r = run_bug_pair("primitives", "physical_memory", "bug");
  auto found = findings_of(r, "primitive.physical-memory");
  ASSERT_EQ(found.size(), 2u);
  for (const Finding* f : found) {
    if (f->location.symbol == "ReadPhysicalMemory") {
      EXPECT_EQ(finding_value(*f, "routine"), "MmMapIoSpace");
      EXPECT_EQ(finding_value(*f, "physical_address"), "0x1000");
      EXPECT_EQ(finding_value(*f, "size"), "0x10");
      EXPECT_EQ(finding_value(*f, "caller_controlled"), "address, size");
      EXPECT_EQ(finding_value(*f, "ioctl"), "0x80002c00");
      EXPECT_EQ(*f->context.ioctl, 0x80002C00u);
    } else {
      EXPECT_EQ(finding_value(*f, "routine"), "ZwMapViewOfSection");
      EXPECT_EQ(finding_value(*f, "physical_address"), "0x2000");
      EXPECT_EQ(finding_value(*f, "caller_controlled"), "offset, size");
      EXPECT_EQ(finding_value(*f, "ioctl"), "0x80002c04");
    }
    EXPECT_EQ(finding_value(*f, "required_access"), "FILE_ANY_ACCESS");
  }
  // The reads went through, as on Windows: 16 bytes each.
  ASSERT_GE(r.steps.size(), 3u);
  EXPECT_EQ(r.steps[1].information, 16u);
  EXPECT_EQ(r.steps[2].information, 16u);
}

// LSTAR rewritten: the finding names the MSR and the value, then the machine
// stops with CRITICAL_STRUCTURE_CORRUPTION, type 7 (critical MSR modification).
TEST(PrimitivePairs, AnLstarWriteIsFoundThenStopsTheMachineWith0x109) {
  RunResult r = run_bug_pair("primitives", "msr_write", "bug");
  auto found = findings_of(r, "primitive.msr-write");
  ASSERT_EQ(found.size(), 1u);
  const Finding& f = *found[0];
  EXPECT_EQ(f.location.instruction, "wrmsr");
  EXPECT_EQ(finding_value(f, "msr"), "0xc0000082");
  EXPECT_EQ(finding_value(f, "value"), "0x4141414141414141");
  EXPECT_EQ(finding_value(f, "caller_controlled"), "msr, value");
  ASSERT_TRUE(r.stop.bugcheck.has_value());
  EXPECT_EQ(r.stop.bugcheck->code, 0x109u);
  EXPECT_EQ(r.stop.bugcheck->name, "CRITICAL_STRUCTURE_CORRUPTION");
  EXPECT_EQ(r.stop.bugcheck->params[2], 0xC0000082u);
  EXPECT_EQ(r.stop.bugcheck->params[3], 7u);
  EXPECT_EQ(r.stop.bugcheck->offset, f.location.offset);
}

// The fixed driver's allow-listed write lands: IA32_PERF_CTL reads back the
// value it built (ratio 0x20 << 8).
TEST(PrimitivePairs, TheFixedMsrWriteReachesPerfCtl) {
  RunResult r = run_bug_pair("primitives", "msr_write", "fixed");
  ASSERT_GE(r.steps.size(), 2u);
  EXPECT_EQ(r.steps[1].output_hex, "0020000000000000");
}

TEST(PrimitivePairs, PortFindingsNameThePortTheWidthAndTheValue) {
  RunResult r = run_bug_pair("primitives", "port_io", "bug");
  for (const Finding* f : findings_of(r, "primitive.port-io")) {
    EXPECT_EQ(finding_value(*f, "width"), "4");
    if (f->location.symbol == "WritePort") {
      EXPECT_EQ(finding_value(*f, "instruction"), "out");
      EXPECT_EQ(finding_value(*f, "port"), "0xcf8");
      EXPECT_EQ(finding_value(*f, "value"), "0x80000000");
      EXPECT_EQ(finding_value(*f, "required_access"), "FILE_WRITE_ACCESS");
      EXPECT_NE(f->location.instruction.find("out"), std::string::npos) << f->location.instruction;
    } else {
      EXPECT_EQ(finding_value(*f, "instruction"), "in");
      EXPECT_EQ(finding_value(*f, "port"), "0xcfc");  // the first request's port
      EXPECT_EQ(finding_value(*f, "required_access"), "FILE_READ_ACCESS");
      EXPECT_NE(f->location.instruction.find("in"), std::string::npos) << f->location.instruction;
    }
  }
  // No device answers: the bus reads all ones.
  ASSERT_GE(r.steps.size(), 3u);
  EXPECT_EQ(r.steps[2].output_hex, "ffffffff");
}

TEST(PrimitivePairs, ProcessAccessNamesThePidAndEndsWithCriticalProcessDied) {
  RunResult r = run_bug_pair("primitives", "process_access", "bug");
  auto found = findings_of(r, "primitive.process-access");
  ASSERT_EQ(found.size(), 2u);
  for (const Finding* f : found) {
    EXPECT_EQ(finding_value(*f, "routine"), f->location.symbol == "QueryProcessById" ? "ObOpenObjectByPointer"
                                                                               : "ZwOpenProcess");
    EXPECT_EQ(finding_value(*f, "pid"), "4");
    EXPECT_EQ(finding_value(*f, "desired_access"), "0x1fffff");
  }
  // The unchecked query answered: System's PROCESS_BASIC_INFORMATION.UniqueProcessId is 4.
  ASSERT_GE(r.steps.size(), 2u);
  EXPECT_EQ(r.steps[1].status.value_or(1), 0u);
  EXPECT_EQ(r.steps[1].output_hex.substr(64, 16), "0400000000000000");
  ASSERT_TRUE(r.stop.bugcheck.has_value());
  EXPECT_EQ(r.stop.bugcheck->code, 0xEFu);
  EXPECT_EQ(r.stop.bugcheck->name, "CRITICAL_PROCESS_DIED");
}

TEST(PrimitivePairs, AKernelReadThroughTheCallersAddressReturnsWhatIsThere) {
  RunResult r = run_bug_pair("primitives", "arbitrary_rw", "bug");
  for (const Finding* f : findings_of(r, "primitive.arbitrary-rw")) {
    EXPECT_EQ(finding_value(*f, "address"), "0xfffff78000000260");
    EXPECT_EQ(finding_value(*f, "access"), f->location.symbol == "WriteCounter" ? "write" : "read");
    if (f->location.symbol == "CopyCounters") {
      EXPECT_EQ(finding_value(*f, "size"), "0x8");
      EXPECT_NE(f->location.instruction.find("call"), std::string::npos) << f->location.instruction;
    }
  }
  // NtBuildNumber (19045) read through KUSER_SHARED_DATA's kernel address, then
  // copied with the 4 bytes after it.
  ASSERT_GE(r.steps.size(), 5u);
  EXPECT_EQ(r.steps[3].output_hex, "654a0000");
  EXPECT_EQ(r.steps[4].output_hex.substr(0, 8), "654a0000");
}

// The fixed driver reads its own counter by index: counter 2 holds 13.
TEST(PrimitivePairs, TheFixedCounterReadUsesTheDriversOwnTable) {
  RunResult r = run_bug_pair("primitives", "arbitrary_rw", "fixed");
  ASSERT_GE(r.steps.size(), 2u);
  EXPECT_EQ(r.steps[1].output_hex, "0d000000");
}

TEST(PrimitivePairs, TheUnsafeViewNamesEveryProblem) {
  RunResult r = run_bug_pair("sections", "user_view", "bug");
  for (const Finding* f : findings_of(r, "section.user-view-unsafe")) {
    if (f->location.symbol == "MapRing") {
      EXPECT_EQ(finding_value(*f, "routine"), "ZwMapViewOfSection");
      EXPECT_EQ(finding_value(*f, "problems"), "user-supplied handle, caller-chosen size");  // offset 0 is nobody's
      EXPECT_NE(f->message.find("the caller's"), std::string::npos) << f->message;
      EXPECT_NE(f->message.find("view size 0x10000"), std::string::npos) << f->message;
    } else {
      EXPECT_EQ(finding_value(*f, "access"), "write");
    }
  }
}

}  // namespace
