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

TEST(TextReport, EmptyResult) {
  std::string t = render_text(harness::RunResult{}, false);
  EXPECT_THAT(t, HasSubstr("devices        none\n"));
  EXPECT_THAT(t, HasSubstr("debug output   none\n"));
  EXPECT_THAT(t, HasSubstr("unimplemented  none\n"));
  EXPECT_THAT(t, HasSubstr("stats          0 instructions, 0 API calls, 0 ms\n"));
}

}  // namespace
}  // namespace kemu::report
