// What inline driver code sees of the processor: CR8 (IRQL) through
// instrument_privileged, the KPCR/KPRCB behind GS, KUSER_SHARED_DATA and its
// clocks, and the instruction and wall-clock budgets.
#include <gtest/gtest.h>

#include <chrono>

#include "emulator/processor_layout.h"
#include "unit/emulator/machine_harness.h"

namespace kemu::emu {
namespace {

using test::Asm;
using test::Recorder;
using test::TestMachine;

constexpr uint64_t kShared = layout::kSharedUserData;

TEST(MachineIrqlTest, InstrumentPrivilegedFindsCr8MovesIncludingRexExtendedRegisters) {
  TestMachine t;
  GuestVa fn = t.code({
      0x44, 0x0f, 0x22, 0xc1,  // mov cr8, rcx
      0x44, 0x0f, 0x20, 0xc0,  // mov rax, cr8
      0x45, 0x0f, 0x20, 0xc1,  // mov r9, cr8    (REX.B)
      0x45, 0x0f, 0x22, 0xc2,  // mov cr8, r10   (REX.B)
      0x0f, 0x20, 0xd8,        // mov rax, cr3
      0x48, 0x89, 0xc8,        // mov rax, rcx   (not privileged)
      0xc3,                    // ret
  });
  EXPECT_EQ(t.m.instrument_privileged(fn, 23), 5u);
  const auto& sites = t.m.privileged_sites();
  ASSERT_EQ(sites.size(), 5u);
  auto site = [&](uint64_t off) { return sites.at(fn.value + off); };
  EXPECT_EQ(site(0).kind, PrivilegedSite::Kind::WriteCr8);
  EXPECT_EQ(site(0).reg, 1);  // rcx
  EXPECT_EQ(site(4).kind, PrivilegedSite::Kind::ReadCr8);
  EXPECT_EQ(site(4).reg, 0);  // rax
  EXPECT_EQ(site(8).kind, PrivilegedSite::Kind::ReadCr8);
  EXPECT_EQ(site(8).reg, 9);  // r9
  EXPECT_EQ(site(12).kind, PrivilegedSite::Kind::WriteCr8);
  EXPECT_EQ(site(12).reg, 10);  // r10
  EXPECT_EQ(site(16).kind, PrivilegedSite::Kind::ReadCr3);
  EXPECT_EQ(site(16).length, 3);
  for (uint64_t off : {0u, 4u, 8u, 12u}) EXPECT_EQ(site(off).length, 4) << off;
  // Each site became `int 0x2f` padded with NOPs to the original length.
  const uint8_t* code = t.m.memory().host(fn, 23);
  EXPECT_EQ(code[0], 0xCD);
  EXPECT_EQ(code[1], Machine::kPrivilegedTrapVector);
  EXPECT_EQ(code[2], 0x90);
  EXPECT_EQ(code[3], 0x90);
  EXPECT_EQ(code[16], 0xCD);
  EXPECT_EQ(code[18], 0x90);
  EXPECT_EQ(code[19], 0x48) << "the following instruction is untouched";
}

TEST(MachineIrqlTest, AGuestRoutineThatRaisesReadsAndLowersSeesItsIrql) {
  TestMachine t;
  Recorder rec;
  GuestVa thunk = t.thunk(rec, 7);
  Asm a(t.next_code());
  a.raw({0x53});                          // push rbx  (aligns rsp for the call)
  a.raw({0xb9, 0x02, 0x00, 0x00, 0x00});  // mov ecx, 2
  a.raw({0x44, 0x0f, 0x22, 0xc1});        // mov cr8, rcx        KeRaiseIrql(DISPATCH_LEVEL)
  a.sub_rsp(0x20).mov(test::rax, thunk.value).call_rax().add_rsp(0x20);  // the host looks at irql()
  a.raw({0x44, 0x0f, 0x20, 0xc0});  // mov rax, cr8        KeGetCurrentIrql()
  a.raw({0x45, 0x0f, 0x20, 0xc1});  // mov r9, cr8
  a.raw({0x49, 0xc1, 0xe1, 0x08});  // shl r9, 8
  a.raw({0x4c, 0x09, 0xc8});        // or rax, r9
  a.raw({0x31, 0xc9});              // xor ecx, ecx
  a.raw({0x44, 0x0f, 0x22, 0xc1});  // mov cr8, rcx        KeLowerIrql(PASSIVE_LEVEL)
  a.raw({0x5b});                    // pop rbx
  a.ret();
  GuestVa fn = t.place(a);
  EXPECT_EQ(t.m.instrument_privileged(fn, a.bytes().size()), 4u);

  auto observed = t.m.call(fn, {});
  ASSERT_TRUE(observed.has_value()) << (t.m.stop() ? t.m.stop()->message : "");
  EXPECT_EQ(*observed, 0x0202u) << "rax and r9 both read DISPATCH_LEVEL";
  ASSERT_EQ(rec.calls.size(), 1u);
  EXPECT_EQ(rec.calls[0].irql, irql::kDispatch) << "Machine::irql() follows the guest's CR8";
  EXPECT_EQ(t.m.irql(), irql::kPassive);
}

TEST(MachineIrqlTest, Cr8WritesAreKeptInTheThreadAndTheKpcrAndHostChangesAreSeenByTheGuest) {
  TestMachine t;
  GuestVa raise = t.code({
      0xb9, 0x02, 0x00, 0x00, 0x00,  // mov ecx, 2
      0x44, 0x0f, 0x22, 0xc1,        // mov cr8, rcx
      0xc3,                          // ret
  });
  GuestVa get = t.code({
      0x44, 0x0f, 0x20, 0xc0,  // mov rax, cr8
      0xc3,                    // ret
  });
  t.m.instrument_privileged(raise, 10);
  t.m.instrument_privileged(get, 5);
  ASSERT_TRUE(t.m.call(raise, {}).has_value());
  EXPECT_EQ(t.m.irql(), irql::kDispatch);
  EXPECT_EQ(t.m.current_thread().irql, irql::kDispatch);
  EXPECT_EQ(t.m.memory().read<uint8_t>(t.m.kpcr() + kpcr::kIrql), irql::kDispatch);
  EXPECT_EQ(t.m.call(get, {}), 2u);
  t.m.set_irql(irql::kApc);
  EXPECT_EQ(t.m.call(get, {}), 1u);
}

TEST(MachineProcessorTest, GsPointsAtTheKpcrWithSelfAndPrcb) {
  TestMachine t;
  // mov rax, gs:[0x18]; ret
  GuestVa self = t.code({0x65, 0x48, 0x8b, 0x04, 0x25, 0x18, 0x00, 0x00, 0x00, 0xc3});
  // mov rax, gs:[0x20]; ret
  GuestVa prcb = t.code({0x65, 0x48, 0x8b, 0x04, 0x25, 0x20, 0x00, 0x00, 0x00, 0xc3});
  EXPECT_EQ(t.m.call(self, {}), t.m.kpcr().value);
  EXPECT_EQ(t.m.call(prcb, {}), (t.m.kpcr() + kpcr::kPrcb).value);
  EXPECT_EQ(t.m.kpcr(), Machine::kKpcrBase);
}

TEST(MachineProcessorTest, GsCurrentThreadFollowsCreateThreadAndSwitchTo) {
  TestMachine t;
  // mov rax, gs:[0x188]; ret
  GuestVa current = t.code({0x65, 0x48, 0x8b, 0x04, 0x25, 0x88, 0x01, 0x00, 0x00, 0xc3});
  // mov rax, rsp; ret
  GuestVa rsp = t.code({0x48, 0x89, 0xe0, 0xc3});
  EXPECT_EQ(t.m.call(current, {}), test::kEthread1.value) << "the first thread is current";

  Thread& second = t.m.create_thread(2, 4, test::kEthread2, test::kEprocess, true);
  EXPECT_EQ(t.m.current_thread().id, 1u) << "creating a thread does not switch to it";
  EXPECT_EQ(t.m.call(current, {}), test::kEthread1.value);

  t.m.set_irql(irql::kApc);
  t.m.switch_to(2);
  EXPECT_EQ(t.m.current_thread().id, 2u);
  EXPECT_EQ(t.m.call(current, {}), test::kEthread2.value);
  EXPECT_EQ(t.m.irql(), irql::kPassive) << "IRQL is per thread";
  auto sp = t.m.call(rsp, {});
  ASSERT_TRUE(sp.has_value());
  EXPECT_GE(*sp, second.stack_limit.value);
  EXPECT_LT(*sp, second.stack_base.value);

  // KTHREAD stack fields were filled in.
  EXPECT_EQ(t.m.memory().read<uint64_t>(test::kEthread2 + kthread::kStackBase),
            second.stack_base.value);
  EXPECT_EQ(t.m.memory().read<uint64_t>(test::kEthread2 + kthread::kStackLimit),
            second.stack_limit.value);
  EXPECT_EQ(t.m.memory().read<uint64_t>(test::kEthread2 + kthread::kInitialStack),
            second.stack_base.value);

  t.m.switch_to(1);
  EXPECT_EQ(t.m.call(current, {}), test::kEthread1.value);
  EXPECT_EQ(t.m.irql(), irql::kApc);
  EXPECT_EQ(t.m.memory().read<uint8_t>(t.m.kpcr() + kpcr::kIrql), irql::kApc);
  EXPECT_THROW(t.m.switch_to(99), std::invalid_argument);
}

TEST(MachineProcessorTest, KernelStacksHaveAnUnmappedGuardPageBelowThem) {
  TestMachine t;
  const Thread& th = t.m.current_thread();
  EXPECT_EQ(th.stack_base - th.stack_limit, Machine::kKernelStackSize);
  EXPECT_TRUE(t.m.memory().accessible(th.stack_limit, Machine::kKernelStackSize, Prot::ReadWrite));
  EXPECT_FALSE(t.m.memory().is_mapped(th.stack_limit - 1));
}

TEST(MachineProcessorTest, PreviousModeIsReadAndWrittenInTheKthread) {
  TestMachine t;
  EXPECT_EQ(t.m.previous_mode(), ProcessorMode::KernelMode);
  t.m.set_previous_mode(ProcessorMode::UserMode);
  EXPECT_EQ(t.m.previous_mode(), ProcessorMode::UserMode);
  EXPECT_EQ(t.m.memory().read<uint8_t>(test::kEthread1 + kthread::kPreviousMode), 1u);
}

TEST(MachineSharedDataTest, KuserSharedDataIsReadOnlyAndDescribesWindows10Build19045) {
  TestMachine t;
  const Region* r = t.m.memory().find(GuestVa{kShared});
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->kind, RegionKind::SharedData);
  EXPECT_FALSE(t.m.memory().accessible(GuestVa{kShared}, shared_data::kSize, Prot::Write));
  EXPECT_TRUE(t.m.memory().accessible(GuestVa{kShared}, shared_data::kSize, Prot::Read));
  auto& mem = t.m.memory();
  EXPECT_EQ(mem.read<uint32_t>(GuestVa{kShared + 0x26C}), 10u);     // NtMajorVersion
  EXPECT_EQ(mem.read<uint32_t>(GuestVa{kShared + 0x270}), 0u);      // NtMinorVersion
  EXPECT_EQ(mem.read<uint32_t>(GuestVa{kShared + 0x260}), 19045u);  // NtBuildNumber
  EXPECT_EQ(mem.read<uint16_t>(GuestVa{kShared + 0x26A}), 9u);      // AMD64
  EXPECT_EQ(mem.read_wstring(GuestVa{kShared + 0x30}), u"C:\\Windows");

  // The guest reads it too (the KeQuerySystemTime macro does this).
  Asm a(t.next_code());
  a.mov(test::rcx, kShared + 0x26C).raw({0x8b, 0x01}).ret();  // mov eax, [rcx]; ret
  EXPECT_EQ(t.m.call(t.place(a), {}), 10u);
}

// 0x7FFE0000 is the same page, read-only, in the user half of every process.
TEST(MachineSharedDataTest, TheUserAliasAt0x7FFE0000IsTheSamePageReadOnly) {
  TestMachine t;
  constexpr uint64_t kAlias = layout::kSharedUserDataUserAlias;
  auto& mem = t.m.memory();
  const Region* r = mem.find(GuestVa{kAlias});
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->kind, RegionKind::SharedData);
  EXPECT_EQ(r->size, shared_data::kSize);
  EXPECT_EQ(r->alias_of, GuestVa{kShared});
  EXPECT_TRUE(is_user_address(GuestVa{kAlias}));
  EXPECT_TRUE(mem.accessible(GuestVa{kAlias}, shared_data::kSize, Prot::Read));
  EXPECT_FALSE(mem.accessible(GuestVa{kAlias}, 1, Prot::Write));
  EXPECT_EQ(mem.read<uint32_t>(GuestVa{kAlias + 0x26C}), 10u);     // NtMajorVersion
  EXPECT_EQ(mem.read<uint32_t>(GuestVa{kAlias + 0x260}), 19045u);  // NtBuildNumber
  // Time moves in both views at once: they are one set of bytes.
  t.m.advance_time(Machine::kTimeIncrement * 2);
  EXPECT_EQ(mem.read<uint64_t>(GuestVa{kAlias + shared_data::kInterruptTime}), t.m.interrupt_time());
  EXPECT_EQ(mem.read<uint64_t>(GuestVa{kAlias + shared_data::kTickCount}),
            mem.read<uint64_t>(GuestVa{kShared + shared_data::kTickCount}));
  // Guest code reads it; hiding a process's user memory does not hide it.
  mem.set_owner_visible(0x1234, false);
  Asm a(t.next_code());
  a.mov(test::rcx, kAlias + 0x260).raw({0x8b, 0x01}).ret();  // mov eax, [rcx]; ret
  EXPECT_EQ(t.m.call(t.place(a), {}), 19045u);
}

// A write through the user alias is a write to a read-only user page: an
// access violation (write, at that address), not a kernel page fault.
TEST(MachineSharedDataTest, AWriteThroughTheUserAliasIsAnAccessViolation) {
  TestMachine t;
  t.m.current_thread().context = ExecutionContext::Dpc;
  GuestVa fn = t.code({0x48, 0x89, 0x11, 0xc3});  // mov [rcx], rdx; ret
  constexpr uint64_t kTarget = layout::kSharedUserDataUserAlias + 0x26C;
  EXPECT_FALSE(t.m.call(fn, {kTarget, 11}).has_value());
  const BugcheckRecord& b = t.bugcheck();
  EXPECT_EQ(b.code, 0x1Eu);  // KMODE_EXCEPTION_NOT_HANDLED: an exception, not 0xBE
  EXPECT_EQ(b.params[0], 0xC0000005u);
  EXPECT_EQ(b.params[2], 1u) << "write";
  EXPECT_EQ(b.params[3], kTarget);
  EXPECT_EQ(t.m.memory().read<uint32_t>(GuestVa{kTarget}), 10u) << "nothing was written";
}

// Loads KSYSTEM_TIME field `off` of KUSER_SHARED_DATA, spins ~`iterations`
// × 64 instructions, loads it again and returns the difference.
GuestVa place_time_probe(TestMachine& t, uint64_t off, uint32_t iterations) {
  Asm a(t.next_code());
  a.raw({0x48, 0xa1}).u64(kShared + off);  // movabs rax, [KUSER_SHARED_DATA + off]
  a.raw({0x49, 0x89, 0xc0});               // mov r8, rax
  a.raw({0xb9}).u32(iterations);           // mov ecx, iterations
  GuestVa loop = a.here();
  for (int i = 0; i < 62; ++i) a.raw({0x90});  // nop x 62
  a.raw({0xff, 0xc9});                         // dec ecx
  // jnz loop
  a.raw({0x75, static_cast<uint8_t>(loop.value - (a.here().value + 2))});
  a.raw({0x48, 0xa1}).u64(kShared + off);  // movabs rax, [KUSER_SHARED_DATA + off]
  a.raw({0x4c, 0x29, 0xc0});               // sub rax, r8
  a.ret();
  return t.place(a);
}

TEST(MachineSharedDataTest, InterruptTimeSystemTimeAndTickCountAdvanceAsInstructionsRetire) {
  TestMachine t;
  auto& mem = t.m.memory();
  uint64_t it0 = mem.read<uint64_t>(GuestVa{kShared + shared_data::kInterruptTime});
  uint64_t st0 = mem.read<uint64_t>(GuestVa{kShared + shared_data::kSystemTime});
  EXPECT_EQ(st0, Machine::kBootSystemTime + it0);

  // 16 M instructions = 160,000 × 100 ns = 16 ms of virtual time: at least one 15.625 ms tick.
  GuestVa ticks = place_time_probe(t, shared_data::kTickCount, 250'000);
  uint64_t before = t.m.instructions();
  auto dt = t.m.call(ticks, {});
  ASSERT_TRUE(dt.has_value());
  EXPECT_GE(t.m.instructions() - before, 16'000'000u);
  EXPECT_GE(*dt, 1u) << "the guest saw TickCount move";
  EXPECT_LE(*dt, 2u);

  GuestVa itime = place_time_probe(t, shared_data::kInterruptTime, 1000);
  auto di = t.m.call(itime, {});
  ASSERT_TRUE(di.has_value());
  EXPECT_GE(*di, 600u) << "64,000 instructions = 640 × 100 ns";
  EXPECT_LE(*di, 700u);

  uint64_t it1 = mem.read<uint64_t>(GuestVa{kShared + shared_data::kInterruptTime});
  uint64_t st1 = mem.read<uint64_t>(GuestVa{kShared + shared_data::kSystemTime});
  EXPECT_GT(it1, it0);
  EXPECT_EQ(it1, t.m.interrupt_time());
  EXPECT_EQ(st1, Machine::kBootSystemTime + it1);
  EXPECT_EQ(st1, t.m.system_time());
  // KSYSTEM_TIME.High2Time mirrors High1Time.
  EXPECT_EQ(mem.read<uint32_t>(GuestVa{kShared + shared_data::kSystemTime + 8}),
            mem.read<uint32_t>(GuestVa{kShared + shared_data::kSystemTime + 4}));
  EXPECT_EQ(mem.read<uint64_t>(GuestVa{kShared + shared_data::kTickCount}),
            it1 / Machine::kTimeIncrement);
}

TEST(MachineSharedDataTest, AdvanceTimeMovesTheClocksWithoutInstructions) {
  TestMachine t;
  uint64_t before = t.m.interrupt_time();
  t.m.advance_time(Machine::kTimeIncrement * 3);
  EXPECT_EQ(t.m.interrupt_time(), before + Machine::kTimeIncrement * 3);
  EXPECT_EQ(t.m.memory().read<uint64_t>(GuestVa{kShared + shared_data::kTickCount}),
            t.m.interrupt_time() / Machine::kTimeIncrement);
  EXPECT_GE(t.m.memory().read<uint64_t>(GuestVa{kShared + shared_data::kTickCount}), 3u);
}

TEST(MachineBudgetTest, AnInfiniteLoopStopsWithInstructionLimit) {
  TestMachine t({.max_instructions = 100'000});
  GuestVa fn = t.code({0xeb, 0xfe});  // jmp $
  EXPECT_FALSE(t.m.call(fn, {}).has_value());
  EXPECT_EQ(t.stop_kind(), StopKind::InstructionLimit);
  EXPECT_GT(t.m.instructions(), 100'000u);
  EXPECT_LT(t.m.instructions(), 100'100u);
}

TEST(MachineBudgetTest, AnInfiniteLoopWithAHugeBudgetStopsWithTimeout) {
  TestMachine t({.max_instructions = ~0ull >> 1, .timeout_seconds = 0.05});
  GuestVa fn = t.code({0xeb, 0xfe});  // jmp $
  auto started = std::chrono::steady_clock::now();
  EXPECT_FALSE(t.m.call(fn, {}).has_value());
  double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_EQ(t.stop_kind(), StopKind::Timeout);
  EXPECT_LT(elapsed, 5.0);
}

}  // namespace
}  // namespace kemu::emu
