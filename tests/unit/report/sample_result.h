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

}  // namespace kemu::report::testing
