// Naming guest addresses: symbolize(), disassemble_one() and call_site().
#include <gtest/gtest.h>

#include "unit/emulator/machine_harness.h"

namespace kemu::emu {
namespace {

using test::Asm;
using test::Recorder;
using test::TestMachine;

TEST(MachineSymbolsTest, SymbolizeNamesTheModuleAndTheNearestPrecedingSymbol) {
  TestMachine t;
  // Symbols given out of order: add_module sorts them.
  t.m.add_module({"hello.sys", test::kCode, 0x8000, {{0x40, "Helper"}, {0x10, "DriverEntry"}}});
  t.m.add_module({"ntoskrnl.exe", GuestVa{0xFFFF'F800'0040'0000ull}, 0x1000, {{0x0, "DbgPrint"}}});

  auto s = t.m.symbolize(test::kCode + 0x45);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->module, "hello.sys");
  EXPECT_EQ(s->offset, 0x45u);
  EXPECT_EQ(s->symbol, "Helper");
  EXPECT_EQ(s->symbol_offset, 5u);
  EXPECT_EQ(s->text(), "hello.sys!Helper+0x5");

  EXPECT_EQ(t.m.symbolize(test::kCode + 0x10)->text(), "hello.sys!DriverEntry");
  EXPECT_EQ(t.m.symbolize(test::kCode + 0x3F)->text(), "hello.sys!DriverEntry+0x2f");
  EXPECT_EQ(t.m.symbolize(test::kCode + 0x5)->text(), "hello.sys+0x5") << "before any symbol";
  EXPECT_EQ(t.m.symbolize(GuestVa{0xFFFF'F800'0040'0002ull})->text(), "ntoskrnl.exe!DbgPrint+0x2");
  EXPECT_FALSE(t.m.symbolize(test::kCode + 0x8000).has_value()) << "one past the module";
  EXPECT_FALSE(t.m.symbolize(GuestVa{0x1000}).has_value());
  ASSERT_EQ(t.m.modules().size(), 2u);
  EXPECT_EQ(t.m.modules()[0].name, "ntoskrnl.exe") << "modules are kept sorted by base";
}

TEST(MachineSymbolsTest, DisassembleOneGivesIntelSyntaxOrNothing) {
  TestMachine t;
  GuestVa a = t.code({0x48, 0x89, 0x08});  // mov qword ptr [rax], rcx
  // mov rax, gs:[0x188]
  GuestVa b = t.code({0x65, 0x48, 0x8b, 0x04, 0x25, 0x88, 0x01, 0x00, 0x00});
  GuestVa c = t.code({0xc3});
  EXPECT_EQ(t.m.disassemble_one(a), "mov qword ptr [rax], rcx");
  EXPECT_EQ(t.m.disassemble_one(b), "mov rax, qword ptr gs:[0x188]");
  EXPECT_EQ(t.m.disassemble_one(c), "ret");
  EXPECT_EQ(t.m.disassemble_one(test::kUnmappedKernel), "");
  // Near the end of a region only the bytes that are mapped are decoded.
  GuestVa tail = test::kCode + test::kCodeSize - 1;
  t.m.memory().write<uint8_t>(tail, 0x90);
  EXPECT_EQ(t.m.disassemble_one(tail), "nop");
  t.m.memory().write<uint8_t>(tail, 0x48);  // a lone REX prefix: no instruction
  EXPECT_EQ(t.m.disassemble_one(tail), "");
}

TEST(MachineSymbolsTest, CallSiteFindsCallRaxCallRipRelativeAndCallRel32) {
  TestMachine t;
  Recorder rec;
  GuestVa thunk = t.thunk(rec, 3);
  GuestVa slot = test::kCode + 0xE000;  // a pointer to the thunk, as in an IAT
  t.m.memory().write<uint64_t>(slot, thunk.value);

  Asm a(t.next_code());
  a.sub_rsp(0x28);
  a.mov(test::rax, thunk.value);
  GuestVa site_rax = a.here();
  a.call_rax();  // call rax
  GuestVa site_rip = a.here();
  a.call_indirect(slot);  // call qword ptr [rip + disp32]
  GuestVa site_rel = a.here();
  a.call(thunk);  // call rel32
  a.add_rsp(0x28).ret();
  ASSERT_TRUE(t.m.call(t.place(a), {}).has_value()) << t.m.stop()->message;

  ASSERT_EQ(rec.calls.size(), 3u);
  EXPECT_EQ(rec.calls[0].call_site, site_rax);
  EXPECT_EQ(rec.calls[0].return_address, site_rax + 2);
  EXPECT_EQ(rec.calls[1].call_site, site_rip);
  EXPECT_EQ(rec.calls[1].return_address, site_rip + 6);
  EXPECT_EQ(rec.calls[2].call_site, site_rel);
  EXPECT_EQ(rec.calls[2].return_address, site_rel + 5);
}

TEST(MachineSymbolsTest, CallSiteFallsBackToTheReturnAddressWhenNoCallPrecedesIt) {
  TestMachine t;
  Recorder rec;
  GuestVa thunk = t.thunk(rec, 3);
  // push <return address>; jmp rax — reaches the thunk without a call.
  Asm a(t.next_code());
  a.sub_rsp(0x20).mov(test::rax, thunk.value).mov(test::rcx, 0);
  GuestVa push_at = a.here();
  a.raw({0x48, 0x8d, 0x0d, 0x03, 0x00, 0x00, 0x00});  // lea rcx, [rip + 3]  (-> after the jmp)
  a.raw({0x51});                                      // push rcx
  a.raw({0xff, 0xe0});                                // jmp rax
  GuestVa back = a.here();
  a.add_rsp(0x20).ret();
  ASSERT_EQ(back, push_at + 7 + 3);
  ASSERT_TRUE(t.m.call(t.place(a), {}).has_value()) << t.m.stop()->message;
  ASSERT_EQ(rec.calls.size(), 1u);
  EXPECT_EQ(rec.calls[0].return_address, back);
  EXPECT_EQ(rec.calls[0].call_site, back) << "best effort: no call instruction ends there";
}

}  // namespace
}  // namespace kemu::emu
