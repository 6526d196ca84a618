// The hardware inline driver code reaches (emulator/hardware.cpp): the
// emulated CPU's MSRs through rdmsr/wrmsr traps, #GP for an MSR it does not
// have, the bug check for a changed system-call MSR, and I/O ports with no
// device behind them, each heard by hardware observers before its effect.
#include <gtest/gtest.h>

#include <vector>

#include "unit/emulator/machine_harness.h"

namespace kemu::emu {
namespace {

using test::TestMachine;

TEST(MachineHardwareTest, RdmsrAndWrmsrReachTheEmulatedMsrs) {
  TestMachine t;
  GuestVa fn = t.code({
      0xb9, 0x99, 0x01, 0x00, 0x00,  // mov ecx, 0x199 (IA32_PERF_CTL)
      0xb8, 0x00, 0x20, 0x00, 0x00,  // mov eax, 0x2000
      0x31, 0xd2,                    // xor edx, edx
      0x0f, 0x30,                    // wrmsr
      0xb9, 0xce, 0x00, 0x00, 0x00,  // mov ecx, 0xCE (PLATFORM_INFO)
      0x0f, 0x32,                    // rdmsr
      0xc3,                          // ret
  });
  EXPECT_EQ(t.m.instrument_privileged(fn, 22), 2u);
  EXPECT_EQ(t.m.disassemble_one(fn + 12), "wrmsr");
  EXPECT_EQ(t.m.disassemble_one(fn + 19), "rdmsr");
  std::vector<HardwareAccess> seen;
  uint64_t id = t.m.add_hardware_observer([&](const HardwareAccess& a) { seen.push_back(a); });
  auto rax = t.m.call(fn, {});
  ASSERT_TRUE(rax.has_value()) << (t.m.stop() ? t.m.stop()->message : "");
  EXPECT_EQ(*rax, 0x2800u) << "PLATFORM_INFO: maximum non-turbo ratio 0x28";
  EXPECT_EQ(t.m.msr(0x199), std::optional<uint64_t>(0x2000));
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].kind, HardwareAccess::Kind::WriteMsr);
  EXPECT_EQ(seen[0].rip, fn + 12);
  EXPECT_EQ(seen[0].target, 0x199u);
  EXPECT_EQ(seen[0].value, 0x2000u);
  EXPECT_EQ(seen[1].kind, HardwareAccess::Kind::ReadMsr);
  EXPECT_EQ(seen[1].value, 0x2800u);
  t.m.remove_hardware_observer(id);
}

TEST(MachineHardwareTest, AnMsrTheCpuDoesNotHaveRaisesPrivilegedInstruction) {
  TestMachine t;
  GuestVa fn = t.code({
      0xb9, 0x45, 0x23, 0x01, 0x00,  // mov ecx, 0x12345
      0x0f, 0x32,                    // rdmsr
      0xc3,                          // ret
  });
  t.m.instrument_privileged(fn, 8);
  EXPECT_FALSE(t.m.call(fn, {}).has_value());
  ASSERT_TRUE(t.m.stop().has_value());
  ASSERT_TRUE(t.m.stop()->bugcheck.has_value()) << t.m.stop()->message;
  EXPECT_EQ(t.m.stop()->bugcheck->params[0], 0xC0000096u) << "STATUS_PRIVILEGED_INSTRUCTION, unhandled";
  EXPECT_EQ(t.m.stop()->bugcheck->params[1], (fn + 5).value) << "at the rdmsr";
}

TEST(MachineHardwareTest, ChangingLstarStopsTheMachineWithCriticalStructureCorruption) {
  TestMachine t;
  const uint64_t lstar = *t.m.msr(0xC0000082);
  // Writing the value it already holds changes nothing.
  GuestVa same = t.code({
      0xb9, 0x82, 0x00, 0x00, 0xc0,  // mov ecx, 0xC0000082
      0x0f, 0x32,                    // rdmsr
      0x0f, 0x30,                    // wrmsr (edx:eax unchanged)
      0xc3,                          // ret
  });
  t.m.instrument_privileged(same, 10);
  ASSERT_TRUE(t.m.call(same, {}).has_value());
  EXPECT_EQ(t.m.msr(0xC0000082), std::optional<uint64_t>(lstar));
  GuestVa hostile = t.code({
      0xb9, 0x82, 0x00, 0x00, 0xc0,  // mov ecx, 0xC0000082
      0xb8, 0x41, 0x41, 0x41, 0x41,  // mov eax, 0x41414141
      0x89, 0xc2,                    // mov edx, eax
      0x0f, 0x30,                    // wrmsr
      0xc3,                          // ret
  });
  t.m.instrument_privileged(hostile, 15);
  EXPECT_FALSE(t.m.call(hostile, {}).has_value());
  ASSERT_TRUE(t.m.stop().has_value() && t.m.stop()->bugcheck.has_value());
  const BugcheckRecord& b = *t.m.stop()->bugcheck;
  EXPECT_EQ(b.code, 0x109u);
  EXPECT_EQ(b.params[2], 0xC0000082u);
  EXPECT_EQ(b.params[3], 7u) << "type 7: critical MSR modification";
  EXPECT_EQ(b.rip, hostile + 12);
  EXPECT_EQ(b.registers.rip, (hostile + 12).value) << "the context is the wrmsr's";
  EXPECT_EQ(t.m.msr(0xC0000082), std::optional<uint64_t>(lstar)) << "the write never took effect";
}

TEST(MachineHardwareTest, PortsWithNoDeviceReadAllOnesAndObserversSeeTheInstruction) {
  TestMachine t;
  GuestVa fn = t.code({
      0x66, 0xba, 0xf8, 0x0c,        // mov dx, 0xCF8
      0xb8, 0x00, 0x00, 0x00, 0x80,  // mov eax, 0x80000000
      0xef,                          // out dx, eax
      0x66, 0xba, 0xfc, 0x0c,        // mov dx, 0xCFC
      0xed,                          // in eax, dx
      0xc3,                          // ret
  });
  std::vector<HardwareAccess> seen;
  t.m.add_hardware_observer([&](const HardwareAccess& a) { seen.push_back(a); });
  auto rax = t.m.call(fn, {});
  ASSERT_TRUE(rax.has_value()) << (t.m.stop() ? t.m.stop()->message : "");
  EXPECT_EQ(*rax, 0xFFFFFFFFu);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].kind, HardwareAccess::Kind::PortOut);
  EXPECT_EQ(seen[0].rip, fn + 9);
  EXPECT_EQ(seen[0].target, 0xCF8u);
  EXPECT_EQ(seen[0].size, 4u);
  EXPECT_EQ(seen[0].value, 0x80000000u);
  EXPECT_EQ(seen[1].kind, HardwareAccess::Kind::PortIn);
  EXPECT_EQ(seen[1].rip, fn + 14);
  EXPECT_EQ(seen[1].target, 0xCFCu);
}

}  // namespace
}  // namespace kemu::emu
