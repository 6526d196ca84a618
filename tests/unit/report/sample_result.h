// Hand-filled RunResults shared by the report tests.
#pragma once

#include "emulator/ntstatus.h"
#include "harness/run_result.h"

namespace kemu::report::testing {

inline harness::RunResult completed_result() {
  harness::RunResult r;
  r.kemu_version = "0.1.0";
  r.driver.path = "/tmp/hello.sys";
  r.driver.sha256 = "ab12";
  r.driver.image_base = 0xfffff80000400000ull;
  r.driver.entry = 0xfffff80000401000ull;
  r.driver.image_size = 0x6000;
  r.driver_entry_status = STATUS_SUCCESS;
  harness::DeviceInfo dev;
  dev.name = "\\Device\\KemuHello";
  dev.links = {"\\??\\KemuHello"};
  dev.characteristics = 0x100;
  dev.device_type = 0x22;
  r.devices.push_back(dev);
  r.debug_output = {"hello from DriverEntry", "second line"};
  r.unload.called = true;
  r.unload.has_unload_routine = true;
  r.unimplemented.push_back({"ntoskrnl.exe!FooBar", 3, false});
  r.stats = {123456, 7, 12};
  return r;
}

inline harness::RunResult bugcheck_result() {
  harness::RunResult r = completed_result();
  r.driver_entry_status.reset();
  r.unload.called = false;
  r.stop.reason = harness::StopReason::Bugcheck;
  harness::BugcheckInfo b;
  b.code = 0x3b;
  b.name = "SYSTEM_SERVICE_EXCEPTION";
  b.params[0] = 0xc0000005;
  b.params[1] = 0xfffff80000401234ull;
  b.params[2] = 0xffffd00000001000ull;
  b.params[3] = 0;
  b.module = "hello.sys";
  b.offset = 0x1234;
  b.symbol = "DriverEntry+0x234";
  b.instruction = "mov eax, dword ptr [rcx]";
  b.stack = {"hello.sys+0x1234", "ntoskrnl.exe+0x5000"};
  b.registers = {{"rax", 0}, {"rcx", 0x10}, {"rip", 0xfffff80000401234ull}};
  r.stop.bugcheck = b;
  return r;
}

// A run with findings of several checks and severities, deliberately out of
// order: a warning, a check outside the catalog at severity note, two errors
// of one check (one seen three times) and the bugcheck.
inline harness::RunResult findings_result() {
  harness::RunResult r = bugcheck_result();
  auto request_context = [] {
    harness::FindingContext c;
    c.process = "client.exe";
    c.thread = 0x1238;
    c.irql = 0;
    c.major = "IRP_MJ_DEVICE_CONTROL";
    c.ioctl = 0x222003;
    return c;
  };
  harness::Finding warning;
  warning.check = "handle.no-access-check";
  warning.severity = "warning";
  warning.title = "caller-supplied handle referenced with DesiredAccess 0 or with generic bits";
  warning.message =
      "ObReferenceObjectByHandle(0x84, DesiredAccess 0x0, UserMode) on the caller's handle";
  warning.microsoft = "ObReferenceObjectByHandle docs";
  warning.location = {"hello.sys", 0x1100, "DispatchIoctl+0x40", "call qword ptr [rip + 0x2f00]"};
  warning.stack = {"hello.sys+0x1100", "ntoskrnl.exe+0x2000"};
  warning.context = request_context();
  warning.values = {{"handle", "0x84"}, {"desired_access", "0x0"}};
  r.findings.push_back(warning);

  harness::Finding note;
  note.check = "test.outside-catalog";
  note.severity = "note";
  note.title = "a finding of a check the catalog does not list";
  note.message = "only here to exercise the fallback paths";
  r.findings.push_back(note);

  harness::Finding kernel_mode;
  kernel_mode.check = "handle.user-handle-kernel-mode";
  kernel_mode.severity = "error";
  kernel_mode.count = 3;
  kernel_mode.title = "handle from user mode referenced with AccessMode=KernelMode";
  kernel_mode.message =
      "ObReferenceObjectByHandle(0x84, KernelMode) on a handle from client.exe's table";
  kernel_mode.microsoft = "Verifier 0xC4/0xF6; CA C28126";
  kernel_mode.location = {"hello.sys", 0x1120, "DispatchIoctl+0x60",
                          "call qword ptr [rip + 0x2ee0]"};
  kernel_mode.stack = {"hello.sys+0x1120", "ntoskrnl.exe+0x2000"};
  kernel_mode.context = request_context();
  kernel_mode.values = {{"handle", "0x84"}, {"access_mode", "KernelMode"}};
  r.findings.push_back(kernel_mode);

  harness::Finding second = kernel_mode;
  second.count = 1;
  second.location = {"hello.sys", 0x1188, "DispatchIoctl+0xc8", "call qword ptr [rip + 0x2e78]"};
  second.stack = {"hello.sys+0x1188"};
  second.values = {{"handle", "0x88"}, {"access_mode", "KernelMode"}};
  r.findings.push_back(second);

  harness::Finding crash;
  crash.check = "crash.bugcheck";
  crash.severity = "error";
  crash.title = "the driver crashed the emulated system: bug check 0x3b SYSTEM_SERVICE_EXCEPTION";
  crash.message = "Windows would stop with bug check 0x0000003b here.";
  crash.microsoft = "bug check 0x3b";
  const harness::BugcheckInfo& b = *r.stop.bugcheck;
  crash.location = {b.module, b.offset, b.symbol, b.instruction};
  crash.stack = b.stack;
  crash.context.process = "System";
  crash.context.thread = 4;
  crash.values = {{"p1", "0xc0000005"},
                  {"p2", "0xfffff80000401234"},
                  {"p3", "0xffffd00000001000"},
                  {"p4", "0x0"}};
  r.findings.push_back(crash);
  return r;
}

}  // namespace kemu::report::testing
