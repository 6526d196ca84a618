#include "report/text_report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sample_result.h"

namespace kemu::report {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(TextReport, ContainsTheKeyLines) {
  std::string t = render_text(testing::completed_result(), false);
  EXPECT_THAT(t, HasSubstr("kemu 0.1.0: hello.sys\n"));
  EXPECT_THAT(t, HasSubstr("driver         /tmp/hello.sys\n"));
  EXPECT_THAT(t, HasSubstr("base 0xfffff80000400000  entry 0xfffff80000401000"));
  EXPECT_THAT(t, HasSubstr("DriverEntry    STATUS_SUCCESS (0x00000000)\n"));
  EXPECT_THAT(t, HasSubstr("\\Device\\KemuHello  FILE_DEVICE_UNKNOWN\n"));
  EXPECT_THAT(t, HasSubstr("characteristics 0x00000100 FILE_DEVICE_SECURE_OPEN\n"));
  EXPECT_THAT(t, HasSubstr("link \\??\\KemuHello\n"));
  EXPECT_THAT(t,
              HasSubstr("debug output   2 lines\n  | hello from DriverEntry\n  | second line\n"));
  EXPECT_THAT(t, HasSubstr("returned STATUS_NOT_IMPLEMENTED / 0 (--unimplemented fail)"));
  EXPECT_THAT(t, HasSubstr("ntoskrnl.exe!FooBar  3 calls\n"));
  EXPECT_THAT(t, HasSubstr("unload         DriverUnload called, nothing left behind\n"));
  EXPECT_THAT(t, HasSubstr("stop           completed\n"));
  EXPECT_THAT(t, HasSubstr("findings       none\n"));
  EXPECT_THAT(t, HasSubstr("stats          123,456 instructions, 7 API calls, 12 ms\n"));
}

TEST(TextReport, NoAnsiWithoutColorAndSomeWithColor) {
  auto r = testing::bugcheck_result();
  EXPECT_THAT(render_text(r, false), Not(HasSubstr("\x1b")));
  EXPECT_THAT(render_text(r, true), HasSubstr("\x1b["));
}

TEST(TextReport, BugcheckDetails) {
  std::string t = render_text(testing::bugcheck_result(), false);
  EXPECT_THAT(t, HasSubstr("DriverEntry    did not return"));
  EXPECT_THAT(t, HasSubstr("stop           bugcheck 0x0000003b SYSTEM_SERVICE_EXCEPTION\n"));
  EXPECT_THAT(t, HasSubstr("params       0xc0000005 0xfffff80000401234 0xffffd00000001000 0x0\n"));
  EXPECT_THAT(t, HasSubstr("at           hello.sys+0x1234 (DriverEntry+0x234)\n"));
  EXPECT_THAT(t, HasSubstr("instruction  mov eax, dword ptr [rcx]\n"));
  EXPECT_THAT(t, HasSubstr("stack        hello.sys+0x1234\n               ntoskrnl.exe+0x5000\n"));
  EXPECT_THAT(t, HasSubstr("registers    rax=0x0 rcx=0x10 rip=0xfffff80000401234\n"));
  EXPECT_THAT(t, HasSubstr("DriverUnload not called"));
}

// A request the system stopped inside shows no status the driver never gave.
TEST(TextReport, AStepTheSystemStoppedInsideDidNotReturn) {
  harness::RunResult r = testing::bugcheck_result();
  harness::StepResult done;
  done.op = "open";
  done.target = "\\\\.\\KemuHello";
  done.status = 0;
  harness::StepResult stopped;
  stopped.op = "ioctl";
  stopped.target = "0x4";
  stopped.code = 0x80002c00;
  stopped.status = 0xC0000001;  // what the I/O manager had when the machine stopped
  stopped.never_returned = true;
  r.steps = {done, stopped};
  std::string t = render_text(r, false);
  EXPECT_THAT(t, HasSubstr("  open \\\\.\\KemuHello: STATUS_SUCCESS (0x00000000)\n"));
  EXPECT_THAT(t, HasSubstr("  ioctl 0x4 0x80002c00, information 0: did not return: the system stopped (bug check "
                           "0x3b)\n"));
  EXPECT_THAT(t, Not(HasSubstr("0xc0000001")));
}

TEST(TextReport, DriverTextCannotInjectEscapes) {
  auto r = testing::completed_result();
  r.debug_output = {"\x1b]0;pwned\x07", "two\nlines"};
  r.devices[0].name = "\\Device\\\x1b[2J";
  std::string t = render_text(r, false);
  EXPECT_THAT(t, HasSubstr("\\x1b]0;pwned\\x07"));
  EXPECT_THAT(t, HasSubstr("| two\n"));
  EXPECT_THAT(t, HasSubstr("| lines\n"));
  std::string colored = render_text(r, true);
  EXPECT_THAT(colored, Not(HasSubstr("\x1b[2J")));
  EXPECT_THAT(colored, Not(HasSubstr("\x1b]")));
}

TEST(TextReport, UnimplementedStopAndLeftovers) {
  auto r = testing::completed_result();
  r.stop.reason = harness::StopReason::Unimplemented;
  r.stop.message = "ntoskrnl.exe!FooBar";
  r.unimplemented[0].unknown_export = true;
  r.unload.called = false;
  r.unload.has_unload_routine = false;
  r.unload.devices_left = {"\\Device\\KemuHello"};
  r.unload.links_left = {"\\??\\KemuHello"};
  r.devices[0].characteristics = 0;
  r.devices[0].links.clear();
  std::string t = render_text(r, false);
  EXPECT_THAT(t, HasSubstr("(--unimplemented stop)"));
  EXPECT_THAT(t, HasSubstr("(not an export kemu knows)"));
  EXPECT_THAT(t, HasSubstr("stop           unimplemented: ntoskrnl.exe!FooBar\n"));
  EXPECT_THAT(t, HasSubstr("no DriverUnload routine"));
  EXPECT_THAT(t, HasSubstr("device left: \\Device\\KemuHello\n"));
  EXPECT_THAT(t, HasSubstr("link left: \\??\\KemuHello\n"));
  EXPECT_THAT(t, HasSubstr("characteristics 0x00000000\n"));
  EXPECT_THAT(t, HasSubstr("no symbolic link\n"));
}

// The findings part of the summary, from its "findings" line to "stats".
std::string findings_part(const std::string& text) {
  size_t from = text.find("\nfindings ");
  size_t to = text.find("\nstats ");
  if (from == std::string::npos || to == std::string::npos) return {};
  return text.substr(from + 1, to - from);
}

// cli.md text report: grouped by check, errors before warnings before notes
// (catalog order within a severity), each finding with location, instruction,
// context and values, each group closed by the catalog's rule and fix.
TEST(TextReport, FindingsAreGroupedByCheckMostSevereFirst) {
  std::string t = findings_part(render_text(testing::findings_result(), false));
  EXPECT_EQ(t,
            "findings       5 findings: 3 errors, 1 warning, 1 note\n"
            "  error crash.bugcheck  the driver crashed the emulated system  (1 finding)\n"
            "    #1 at hello.sys+0x1234 (DriverEntry+0x234)\n"
            "       instruction  mov eax, dword ptr [rcx]\n"
            "       what         the driver crashed the emulated system: bug check 0x3b SYSTEM_SERVICE_EXCEPTION\n"
            "       message      Windows would stop with bug check 0x0000003b here.\n"
            "       context      System, thread 4, IRQL 0\n"
            "       values       p1=0xc0000005 p2=0xfffff80000401234 p3=0xffffd00000001000 p4=0x0\n"
            "       stack        hello.sys+0x1234 <- ntoskrnl.exe+0x5000\n"
            "    why  Kernel code must never fault on a kernel address, leave an exception unhandled or touch "
            "pageable memory at DISPATCH_LEVEL or above; Windows stops the whole machine with a bug check when it "
            "does.\n"
            "    fix  Read the faulting instruction and the stack: validate the pointer or length that reached it, "
            "guard user memory with __try/__except, and keep code and data used at raised IRQL nonpaged.\n"
            "  error handle.user-handle-kernel-mode  handle from user mode referenced with AccessMode=KernelMode  "
            "(2 findings, seen 4 times)\n"
            "    #1 at hello.sys+0x1120 (DispatchIoctl+0x60)\n"
            "       instruction  call qword ptr [rip + 0x2ee0]\n"
            "       message      ObReferenceObjectByHandle(0x84, KernelMode) on a handle from client.exe's table\n"
            "       context      client.exe, thread 4664, IRQL 0, IRP_MJ_DEVICE_CONTROL, IOCTL 0x00222003\n"
            "       values       handle=0x84 access_mode=KernelMode\n"
            "       seen         3 times\n"
            "       stack        hello.sys+0x1120 <- ntoskrnl.exe+0x2000\n"
            "    #2 at hello.sys+0x1188 (DispatchIoctl+0xc8)\n"
            "       instruction  call qword ptr [rip + 0x2e78]\n"
            "       message      ObReferenceObjectByHandle(0x84, KernelMode) on a handle from client.exe's table\n"
            "       context      client.exe, thread 4664, IRQL 0, IRP_MJ_DEVICE_CONTROL, IOCTL 0x00222003\n"
            "       values       handle=0x88 access_mode=KernelMode\n"
            "       stack        hello.sys+0x1188\n"
            "    why  A handle that came from user mode must be referenced with the requestor's mode "
            "(Irp->RequestorMode or ExGetPreviousMode()) so the object manager checks the caller's access; "
            "KernelMode skips every check.\n"
            "    fix  Pass Irp->RequestorMode (or ExGetPreviousMode()) as AccessMode to ObReferenceObjectByHandle, "
            "together with the object type and the access the operation needs.\n"
            "  warning handle.no-access-check  caller-supplied handle referenced with DesiredAccess 0 or with "
            "generic bits  (1 finding)\n"
            "    #1 at hello.sys+0x1100 (DispatchIoctl+0x40)\n"
            "       instruction  call qword ptr [rip + 0x2f00]\n"
            "       message      ObReferenceObjectByHandle(0x84, DesiredAccess 0x0, UserMode) on the caller's "
            "handle\n"
            "       context      client.exe, thread 4664, IRQL 0, IRP_MJ_DEVICE_CONTROL, IOCTL 0x00222003\n"
            "       values       handle=0x84 desired_access=0x0\n"
            "       stack        hello.sys+0x1100 <- ntoskrnl.exe+0x2000\n"
            "    why  With UserMode the object manager tests exactly the DesiredAccess bits against the handle's "
            "granted access: 0 tests nothing, and generic bits are never granted (opens map them), so they fail "
            "for everyone.\n"
            "    fix  Ask for the specific rights the operation uses (for example FILE_READ_DATA or "
            "EVENT_MODIFY_STATE), never 0 or GENERIC_*.\n"
            "  note test.outside-catalog  a finding of a check the catalog does not list  (1 finding)\n"
            "    #1 at no driver instruction\n"
            "       message      only here to exercise the fallback paths\n"
            "       context      ?, thread 0, IRQL 0\n"
            "    (not a check of kemu's catalog)\n");
}

TEST(TextReport, FindingsAreColouredOnlyOnATerminal) {
  auto r = testing::findings_result();
  std::string plain = render_text(r, false);
  EXPECT_EQ(plain.find('\x1b'), std::string::npos);
  std::string colored = render_text(r, true);
  EXPECT_THAT(colored, HasSubstr("\x1b[1;31merror\x1b[0m \x1b[1mcrash.bugcheck\x1b[0m"));
  EXPECT_THAT(colored, HasSubstr("\x1b[33mwarning\x1b[0m \x1b[1mhandle.no-access-check\x1b[0m"));
  EXPECT_THAT(colored, HasSubstr("\x1b[36mnote\x1b[0m"));
}

TEST(TextReport, DriverTextInFindingsCannotInjectEscapes) {
  auto r = testing::findings_result();
  r.findings[0].message = "evil \x1b[2J text";
  r.findings[0].values = {{"name", "\x1b]0;x\x07"}};
  std::string colored = render_text(r, true);
  EXPECT_THAT(colored, HasSubstr("evil \\x1b[2J text"));
  EXPECT_THAT(colored, HasSubstr("name=\\x1b]0;x\\x07"));
  EXPECT_THAT(colored, Not(HasSubstr("\x1b[2J")));
}

TEST(TextReport, OnlyWarningsGiveAWarningSummary) {
  auto r = testing::completed_result();
  r.findings.push_back(testing::findings_result().findings[0]);
  EXPECT_THAT(render_text(r, false), HasSubstr("findings       1 finding: 1 warning\n"));
}

TEST(TextReport, EmptyResult) {
  std::string t = render_text(harness::RunResult{}, false);
  EXPECT_THAT(t, HasSubstr("devices        none\n"));
  EXPECT_THAT(t, HasSubstr("debug output   none\n"));
  EXPECT_THAT(t, HasSubstr("unimplemented  none\n"));
  EXPECT_THAT(t, HasSubstr("stats          0 instructions, 0 API calls, 0 ms\n"));
}

}  // namespace
}  // namespace kemu::report
