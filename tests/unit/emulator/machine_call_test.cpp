// Machine::call and the trap bridge: return values, Win64 argument
// marshalling in both directions, and what ends a call early.
#include <gtest/gtest.h>

#include "unit/emulator/machine_harness.h"

namespace kemu::emu {
namespace {

using test::Asm;
using test::Recorder;
using test::TestMachine;

TEST(MachineCallTest, ACalledFunctionsRaxIsItsReturnValue) {
  TestMachine t;
  GuestVa fn = t.place(Asm(t.next_code()).mov(test::rax, 0x1122334455667788ull).ret());
  EXPECT_EQ(t.m.call(fn, {}), 0x1122334455667788ull);
  EXPECT_FALSE(t.m.stopped());
  // The machine can be called again.
  EXPECT_EQ(t.m.call(fn, {}), 0x1122334455667788ull);
}

TEST(MachineCallTest, HostArgumentsArriveInRegistersAndStackSlots) {
  TestMachine t;
  GuestVa fn = t.code({
      0x48, 0x8d, 0x04, 0x11,        // lea rax, [rcx + rdx]
      0x4c, 0x01, 0xc0,              // add rax, r8
      0x4c, 0x01, 0xc8,              // add rax, r9
      0x48, 0x03, 0x44, 0x24, 0x28,  // add rax, [rsp + 0x28]   (5th argument)
      0x48, 0x03, 0x44, 0x24, 0x30,  // add rax, [rsp + 0x30]   (6th argument)
      0xc3,                          // ret
  });
  EXPECT_EQ(t.m.call(fn, {1, 0x10, 0x100, 0x1000, 0x10000, 0x100000}), 0x111111u);
}

TEST(MachineCallTest, EntryRspIsEightModSixteenOnTheCurrentThreadsStack) {
  TestMachine t;
  GuestVa fn = t.code({0x48, 0x89, 0xe0, 0xc3});  // mov rax, rsp; ret
  for (size_t n : {0u, 4u, 5u, 10u}) {
    std::vector<uint64_t> args(n, 7);
    auto rsp = t.m.call(fn, args);
    ASSERT_TRUE(rsp.has_value());
    EXPECT_EQ(*rsp % 16, 8u) << n << " arguments";
    EXPECT_GE(*rsp, t.m.current_thread().stack_limit.value);
    EXPECT_LT(*rsp, t.m.current_thread().stack_base.value);
  }
}

TEST(MachineCallTest, RegistersOfTheCallerAreRestoredAfterACall) {
  TestMachine t;
  GuestVa fn = t.code({
      0x48, 0x31, 0xdb,  // xor rbx, rbx
      0x31, 0xc9,        // xor ecx, ecx
      0xc3,              // ret
  });
  t.m.cpu().set_reg(UC_X86_REG_RBX, 0xB0B);
  ASSERT_TRUE(t.m.call(fn, {}).has_value());
  EXPECT_EQ(t.m.cpu().reg(UC_X86_REG_RBX), 0xB0Bu);
}

class ArgumentMarshallingTest : public ::testing::TestWithParam<unsigned> {};

TEST_P(ArgumentMarshallingTest, TrapTargetSeesEveryArgumentAndItsResultLandsInRax) {
  const unsigned n = GetParam();
  TestMachine t;
  Recorder rec;
  rec.nargs = n;
  rec.result = 0x0BAD'F00D'0000'0000ull;
  GuestVa thunk = t.thunk(rec, 42);
  std::vector<uint64_t> values;
  for (unsigned k = 0; k < 10; ++k)
    values.push_back(0xA000'0000'0000'0000ull | (uint64_t{k + 1} << 40) | (0xC0DEull << 8) | k);
  GuestVa fn = test::place_win64_call(t, thunk, n, values);

  auto result = t.m.call(fn, {});
  ASSERT_TRUE(result.has_value()) << (t.m.stop() ? t.m.stop()->message : "");
  EXPECT_EQ(*result, rec.result + 0x11) << "the handler's value is in RAX and the caller ran on";
  ASSERT_EQ(rec.calls.size(), 1u);
  const Recorder::Call& c = rec.calls[0];
  EXPECT_EQ(c.id, 42u);
  ASSERT_EQ(c.args.size(), n);
  for (unsigned k = 0; k < n; ++k) EXPECT_EQ(c.args[k], values[k]) << "argument " << k;
  EXPECT_EQ(t.m.api_calls(), 1u);
}

INSTANTIATE_TEST_SUITE_P(ZeroToTenArguments, ArgumentMarshallingTest, ::testing::Range(0u, 11u));

TEST(MachineCallTest, ATrapHandlersReturnAddressIsJustAfterTheCall) {
  TestMachine t;
  Recorder rec;
  GuestVa thunk = t.thunk(rec, 1);
  Asm a(t.next_code());
  a.sub_rsp(0x28).mov(test::rax, thunk.value).call_rax();
  GuestVa after = a.here();
  a.add_rsp(0x28).ret();
  GuestVa fn = t.place(a);
  ASSERT_TRUE(t.m.call(fn, {}).has_value());
  ASSERT_EQ(rec.calls.size(), 1u);
  EXPECT_EQ(rec.calls[0].return_address, after);
  EXPECT_EQ(rec.calls[0].call_site, after - 2);
}

TEST(MachineCallTest, ACallThatReturnsWithAnUnbalancedStackStopsWithAnError) {
  TestMachine t;
  GuestVa fn = t.code({
      0x59,        // pop rcx    (return address)
      0x6a, 0x00,  // push 0
      0x51,        // push rcx   -> returns 8 bytes lower than it should
      0xc3,        // ret
  });
  EXPECT_FALSE(t.m.call(fn, {}).has_value());
  EXPECT_EQ(t.stop_kind(), StopKind::Error);
  EXPECT_NE(t.m.stop()->message.find("stack imbalance"), std::string::npos) << t.m.stop()->message;
}

TEST(MachineCallTest, AnIntTrapOutsideKemusThunksStopsWithAnError) {
  TestMachine t;
  GuestVa fn = t.code({0xcd, 0x2e, 0xc3});  // int 0x2e; ret  (not a bound thunk)
  EXPECT_FALSE(t.m.call(fn, {}).has_value());
  EXPECT_EQ(t.stop_kind(), StopKind::Error);
}

TEST(MachineCallTest, AHostExceptionInAHandlerBecomesAnErrorStop) {
  TestMachine t;
  Recorder rec;
  rec.action = [](Machine&, uint32_t) { throw std::runtime_error("boom"); };
  GuestVa thunk = t.thunk(rec, 1);
  Asm a(t.next_code());
  a.sub_rsp(0x28).mov(test::rax, thunk.value).call_rax().add_rsp(0x28).ret();
  EXPECT_FALSE(t.m.call(t.place(a), {}).has_value());
  EXPECT_EQ(t.stop_kind(), StopKind::Error);
  EXPECT_NE(t.m.stop()->message.find("boom"), std::string::npos);
}

TEST(MachineCallTest, AHandlerTouchingUnmappedKernelMemoryBugchecks50AtTheCallSite) {
  TestMachine t;
  Recorder rec;
  rec.action = [](Machine& m, uint32_t) { m.memory().write<uint32_t>(test::kUnmappedKernel, 1); };
  GuestVa thunk = t.thunk(rec, 1);
  Asm a(t.next_code());
  a.sub_rsp(0x28).mov(test::rax, thunk.value).call_rax();
  GuestVa site = a.here() - 2;
  a.add_rsp(0x28).ret();
  EXPECT_FALSE(t.m.call(t.place(a), {}).has_value());
  const BugcheckRecord& b = t.bugcheck();
  EXPECT_EQ(b.code, 0x50u);
  EXPECT_EQ(b.params[0], test::kUnmappedKernel.value);
  EXPECT_EQ(b.params[1], 2u) << "write";
  EXPECT_EQ(b.rip, site);
}

TEST(MachineCallTest, AHandlerCanCallBackIntoTheGuestAndReturnItsResult) {
  // A kernel routine calling a driver callback (a nested call on the same stack).
  TestMachine t;
  GuestVa callback = t.code({0x48, 0x8d, 0x41, 0x01, 0xc3});  // lea rax, [rcx + 1]; ret
  Recorder rec;
  rec.nargs = 1;
  uint64_t rsp_in_handler = 0;
  rec.action = [&](Machine& m, uint32_t) {
    rsp_in_handler = m.cpu().rsp();
    auto r = m.call(callback, {m.arg(0) * 2});
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(m.cpu().rsp(), rsp_in_handler) << "the interrupted context is restored";
    m.set_return(*r);
  };
  GuestVa thunk = t.thunk(rec, 9);
  GuestVa fn = test::place_win64_call(t, thunk, 1, {20});
  auto result = t.m.call(fn, {});
  ASSERT_TRUE(result.has_value()) << (t.m.stop() ? t.m.stop()->message : "");
  EXPECT_EQ(*result, 41u + 0x11);
}

TEST(MachineCallTest, CallAfterAStopReturnsNulloptAtOnce) {
  TestMachine t;
  GuestVa fn = t.code({0xc3});
  t.m.request_stop({StopKind::Deadlock, "test", {}});
  EXPECT_FALSE(t.m.call(fn, {}).has_value());
  EXPECT_EQ(t.stop_kind(), StopKind::Deadlock) << "the first reason wins";
}

}  // namespace
}  // namespace kemu::emu
