// Each unwind operation alone, mixed prologs, partially executed prologs,
// frame-pointer functions and machine frames.
#include "unit/unwind/unwind_fixture.h"

namespace kemu::emu::test {
namespace {

constexpr uint32_t kFn = 0x1000;
constexpr uint32_t kFnEnd = 0x1100;
constexpr uint32_t kBody = 0x1080;  // past every prolog below; zero bytes, not an epilog

class UnwindCodesTest : public UnwindTest {
 protected:
  // Unwinds from the body of a function with the given codes.
  UnwindResult run(const InfoSpec& spec, RegisterContext& ctx, uint32_t rip_rva = kBody) {
    const RuntimeFunctionEntry fn = add_function(kFn, kFnEnd, spec);
    ctx.rip = va(rip_rva);
    return unwind(fn, ctx);
  }
};

TEST_F(UnwindCodesTest, NoCodesPopsOnlyTheReturnAddress) {
  stack64(kRsp, kReturn);
  RegisterContext ctx = seeded_context(0, kRsp);
  RegisterContext expected = ctx;
  const UnwindResult r = run(InfoSpec{}, ctx);
  expected.rip = kReturn;
  expected.rsp = kRsp + 8;
  expect_context_eq(ctx, expected);
  EXPECT_EQ(r.establisher_frame, kRsp);
  EXPECT_TRUE(r.handler.is_null());
  EXPECT_TRUE(r.handler_data.is_null());
  EXPECT_FALSE(r.in_epilog);
  EXPECT_FALSE(r.machine_frame);
}

class PushNonvolTest : public UnwindCodesTest, public ::testing::WithParamInterface<uint8_t> {};

TEST_P(PushNonvolTest, RestoresThePushedRegister) {
  const uint8_t reg = GetParam();
  stack64(kRsp, 0x5A5A'0000'0000'0000 + reg);
  stack64(kRsp + 8, kReturn);
  RegisterContext ctx = seeded_context(0, kRsp);
  RegisterContext expected = ctx;
  const UnwindResult r = run(InfoSpec{.prolog = 2, .codes = {push_nonvol(2, reg)}}, ctx);
  reg_ref(expected, reg) = 0x5A5A'0000'0000'0000 + reg;
  expected.rip = kReturn;
  expected.rsp = kRsp + 16;
  expect_context_eq(ctx, expected);
  EXPECT_EQ(r.establisher_frame, kRsp);
}

INSTANTIATE_TEST_SUITE_P(EveryNonStackRegister, PushNonvolTest,
                         ::testing::Values(RAX, RCX, RDX, RBX, RBP, RSI, RDI, R8, R9, R10, R11, R12,
                                           R13, R14, R15));

TEST_F(UnwindCodesTest, PushNonvolOfSeveralRegistersPopsInReverseOrder) {
  // push rbx; push rbp; push r12 -> codes r12, rbp, rbx.
  stack64(kRsp, 0x1212);
  stack64(kRsp + 8, 0xB9B9);
  stack64(kRsp + 16, 0xBBBB);
  stack64(kRsp + 24, kReturn);
  RegisterContext ctx = seeded_context(0, kRsp);
  RegisterContext expected = ctx;
  run(InfoSpec{.prolog = 4,
               .codes = {push_nonvol(4, R12), push_nonvol(2, RBP), push_nonvol(1, RBX)}},
      ctx);
  expected.r12 = 0x1212;
  expected.rbp = 0xB9B9;
  expected.rbx = 0xBBBB;
  expected.rip = kReturn;
  expected.rsp = kRsp + 32;
  expect_context_eq(ctx, expected);
}

class AllocTest : public UnwindCodesTest,
                  public ::testing::WithParamInterface<std::pair<int, uint32_t>> {};

TEST_P(AllocTest, FreesTheAllocation) {
  const auto [form, size] = GetParam();
  const Code code = form == 0   ? alloc_small(4, size)
                    : form == 1 ? alloc_large(7, size)
                                : alloc_large_far(7, size);
  stack64(kRsp + size, kReturn);
  RegisterContext ctx = seeded_context(0, kRsp);
  RegisterContext expected = ctx;
  const UnwindResult r = run(InfoSpec{.prolog = 7, .codes = {code}}, ctx);
  expected.rip = kReturn;
  expected.rsp = kRsp + size + 8;
  expect_context_eq(ctx, expected);
  EXPECT_EQ(r.establisher_frame, kRsp);
}

// ALLOC_SMALL covers 8..128; ALLOC_LARGE op info 0 up to 512K-8 (size/8 in one
// slot); op info 1 up to 4G-8 (unscaled, two slots).
INSTANTIATE_TEST_SUITE_P(EveryForm, AllocTest,
                         ::testing::Values(std::pair{0, 8u}, std::pair{0, 0x28u},
                                           std::pair{0, 128u}, std::pair{1, 136u},
                                           std::pair{1, 0x1000u}, std::pair{1, 0x7FFF8u},
                                           std::pair{2, 0x80000u}, std::pair{2, 0x123458u},
                                           std::pair{2, 0x40u}));

TEST_F(UnwindCodesTest, SetFpregRestoresRspFromTheFramePointerAfterDynamicAllocation) {
  // push rbp; sub rsp, 0x40; lea rbp, [rsp+0x20]; then alloca moved rsp lower.
  const uint64_t frame = kRsp + 0x400;  // base of the fixed allocation
  stack64(frame + 0x40, 0xB9B9);        // saved rbp
  stack64(frame + 0x48, kReturn);
  RegisterContext ctx = seeded_context(0, frame - 0x300);
  ctx.rbp = frame + 0x20;
  RegisterContext expected = ctx;
  const UnwindResult r =
      run(InfoSpec{.prolog = 11,
                   .frame_reg = RBP,
                   .frame_offset = 2,
                   .codes = {set_fpreg(11), alloc_small(6, 0x40), push_nonvol(2, RBP)}},
          ctx);
  expected.rbp = 0xB9B9;
  expected.rip = kReturn;
  expected.rsp = frame + 0x50;
  expect_context_eq(ctx, expected);
  EXPECT_EQ(r.establisher_frame, frame);
}

TEST_F(UnwindCodesTest, FrameRegisterOtherThanRbpWithMaximumOffset) {
  // lea r13, [rsp+0xF0] (offset 15 * 16); no other code.
  const uint64_t frame = kRsp + 0x200;
  stack64(frame + 0x100, kReturn);
  RegisterContext ctx = seeded_context(0, kRsp);
  ctx.r13 = frame + 0xF0;
  RegisterContext expected = ctx;
  const UnwindResult r = run(InfoSpec{.prolog = 12,
                                      .frame_reg = R13,
                                      .frame_offset = 15,
                                      .codes = {set_fpreg(12), alloc_large(7, 0x100)}},
                             ctx);
  expected.rip = kReturn;
  expected.rsp = frame + 0x108;
  expect_context_eq(ctx, expected);
  EXPECT_EQ(r.establisher_frame, frame);
}

TEST_F(UnwindCodesTest, SaveNonvolReadsRelativeToRspWithoutFrameRegister) {
  // sub rsp, 0x28; mov [rsp+0x30], rbx; mov [rsp+0x38], rsi (the home area).
  stack64(kRsp + 0x28, kReturn);
  stack64(kRsp + 0x30, 0xBBBB);
  stack64(kRsp + 0x38, 0x5151);
  RegisterContext ctx = seeded_context(0, kRsp);
  RegisterContext expected = ctx;
  const UnwindResult r = run(InfoSpec{.prolog = 14,
                                      .codes = {save_nonvol(14, RSI, 0x38),
                                                save_nonvol(9, RBX, 0x30), alloc_small(4, 0x28)}},
                             ctx);
  expected.rbx = 0xBBBB;
  expected.rsi = 0x5151;
  expected.rip = kReturn;
  expected.rsp = kRsp + 0x30;
  expect_context_eq(ctx, expected);
  EXPECT_EQ(r.establisher_frame, kRsp);
}

TEST_F(UnwindCodesTest, SaveNonvolReadsRelativeToTheFrameNotRspWithFrameRegister) {
  // sub rsp, 0x80; lea rbp, [rsp+0x30]; mov [rbp+0x18], rdi (frame offset 0x48);
  // then rsp moved 0x200 lower.
  const uint64_t frame = kRsp + 0x400;
  stack64(frame + 0x48, 0xD1D1);
  stack64(frame + 0x80, kReturn);
  RegisterContext ctx = seeded_context(0, frame - 0x200);
  ctx.rbp = frame + 0x30;
  RegisterContext expected = ctx;
  const UnwindResult r =
      run(InfoSpec{.prolog = 16,
                   .frame_reg = RBP,
                   .frame_offset = 3,
                   .codes = {save_nonvol(16, RDI, 0x48), set_fpreg(12), alloc_large(7, 0x80)}},
          ctx);
  expected.rdi = 0xD1D1;
  expected.rip = kReturn;
  expected.rsp = frame + 0x88;
  // rbp is not restored: this function never saved it (only SET_FPREG used it).
  expect_context_eq(ctx, expected);
  EXPECT_EQ(r.establisher_frame, frame);
}

TEST_F(UnwindCodesTest, SaveNonvolFarUsesTheUnscaledTwoSlotOffset) {
  // A frame above 512K: r12 saved 0x80010 bytes up, r13 near the bottom
  // (the _FAR form is legal for small offsets too).
  const uint32_t size = 0x80020;
  stack64(kRsp + 0x80010, 0x1212'1212);
  stack64(kRsp + 0x18, 0x1313'1313);
  stack64(kRsp + size, kReturn);
  RegisterContext ctx = seeded_context(0, kRsp);
  RegisterContext expected = ctx;
  run(InfoSpec{.prolog = 20,
               .codes = {save_nonvol_far(20, R13, 0x18), save_nonvol_far(15, R12, 0x80010),
                         alloc_large_far(7, size)}},
      ctx);
  expected.r12 = 0x1212'1212;
  expected.r13 = 0x1313'1313;
  expected.rip = kReturn;
  expected.rsp = kRsp + size + 8;
  expect_context_eq(ctx, expected);
}

TEST_F(UnwindCodesTest, SaveXmm128RestoresAll128Bits) {
  // sub rsp, 0x58; movaps [rsp+0x40], xmm8; [rsp+0x30], xmm7; [rsp+0x20], xmm6;
  // and xmm15 at 0x10.
  stack_xmm(kRsp + 0x40, xmm_pattern(8));
  stack_xmm(kRsp + 0x30, xmm_pattern(7));
  stack_xmm(kRsp + 0x20, xmm_pattern(6));
  stack_xmm(kRsp + 0x10, xmm_pattern(15));
  stack64(kRsp + 0x58, kReturn);
  RegisterContext ctx = seeded_context(0, kRsp);
  RegisterContext expected = ctx;
  run(InfoSpec{.prolog = 25,
               .codes = {save_xmm128(25, 15, 0x10), save_xmm128(20, 6, 0x20),
                         save_xmm128(15, 7, 0x30), save_xmm128(10, 8, 0x40), alloc_small(4, 0x58)}},
      ctx);
  expected.xmm[6] = xmm_pattern(6);
  expected.xmm[7] = xmm_pattern(7);
  expected.xmm[8] = xmm_pattern(8);
  expected.xmm[15] = xmm_pattern(15);
  expected.rip = kReturn;
  expected.rsp = kRsp + 0x60;
  expect_context_eq(ctx, expected);
}

TEST_F(UnwindCodesTest, SaveXmm128FarUsesTheUnscaledTwoSlotOffset) {
  const uint32_t size = 0x100008;
  stack_xmm(kRsp + 0xFFFF0, xmm_pattern(9));
  stack_xmm(kRsp + 0x20, xmm_pattern(10));
  stack64(kRsp + size, kReturn);
  RegisterContext ctx = seeded_context(0, kRsp);
  RegisterContext expected = ctx;
  run(InfoSpec{.prolog = 30,
               .codes = {save_xmm128_far(30, 10, 0x20), save_xmm128_far(20, 9, 0xFFFF0),
                         alloc_large_far(7, size)}},
      ctx);
  expected.xmm[9] = xmm_pattern(9);
  expected.xmm[10] = xmm_pattern(10);
  expected.rip = kReturn;
  expected.rsp = kRsp + size + 8;
  expect_context_eq(ctx, expected);
}

TEST_F(UnwindCodesTest, MachineFrameWithoutErrorCodeTakesRipAndRspFromTheFrame) {
  // RIP, CS, EFLAGS, old RSP, SS at RSP.
  const uint64_t interrupted_rip = 0xFFFFF80011112222;
  const uint64_t interrupted_rsp = kStackBase.value + 0x8000;
  stack64(kRsp, interrupted_rip);
  stack64(kRsp + 8, 0x10);
  stack64(kRsp + 16, 0x10286);
  stack64(kRsp + 24, interrupted_rsp);
  stack64(kRsp + 32, 0x18);
  RegisterContext ctx = seeded_context(0, kRsp);
  RegisterContext expected = ctx;
  const UnwindResult r = run(InfoSpec{.prolog = 1, .codes = {push_machframe(1, false)}}, ctx);
  expected.rip = interrupted_rip;
  expected.rsp = interrupted_rsp;    // no return address is popped after a machine frame
  expect_context_eq(ctx, expected);  // rflags is not taken from the frame
  EXPECT_TRUE(r.machine_frame);
  EXPECT_EQ(r.establisher_frame, kRsp);
}

TEST_F(UnwindCodesTest, MachineFrameWithErrorCodeSkipsIt) {
  const uint64_t interrupted_rip = 0xFFFFF80011113333;
  const uint64_t interrupted_rsp = kStackBase.value + 0x9000;
  stack64(kRsp, 0xE);  // error code
  stack64(kRsp + 8, interrupted_rip);
  stack64(kRsp + 16, 0x10);
  stack64(kRsp + 24, 0x10286);
  stack64(kRsp + 32, interrupted_rsp);
  stack64(kRsp + 40, 0x18);
  RegisterContext ctx = seeded_context(0, kRsp);
  RegisterContext expected = ctx;
  const UnwindResult r = run(InfoSpec{.prolog = 1, .codes = {push_machframe(1, true)}}, ctx);
  expected.rip = interrupted_rip;
  expected.rsp = interrupted_rsp;
  expect_context_eq(ctx, expected);
  EXPECT_TRUE(r.machine_frame);
}

TEST_F(UnwindCodesTest, MachineFrameBelowAnInterruptHandlersOwnPushes) {
  // Dummy prolog: .pushframe code; push rbp; sub rsp, 0x30.
  const uint64_t interrupted_rip = 0xFFFFF80011114444;
  const uint64_t interrupted_rsp = kStackBase.value + 0xA000;
  stack64(kRsp + 0x30, 0xB9B9);           // saved rbp
  stack64(kRsp + 0x38, 0xD);              // error code
  stack64(kRsp + 0x40, interrupted_rip);  // RIP
  stack64(kRsp + 0x58, interrupted_rsp);  // old RSP
  RegisterContext ctx = seeded_context(0, kRsp);
  RegisterContext expected = ctx;
  const UnwindResult r =
      run(InfoSpec{.prolog = 6,
                   .codes = {alloc_small(6, 0x30), push_nonvol(2, RBP), push_machframe(1, true)}},
          ctx);
  expected.rbp = 0xB9B9;
  expected.rip = interrupted_rip;
  expected.rsp = interrupted_rsp;
  expect_context_eq(ctx, expected);
  EXPECT_TRUE(r.machine_frame);
}

// The sample prolog of Microsoft's "x64 exception handling" page:
//    0: 48 55              push rbp (REX form, hot-patchable)
//    2: 48 83 EC 40        sub rsp, 0x40
//    6: 48 8D 6C 24 20     lea rbp, [rsp+0x20]         .setframe rbp, 0x20
//   11: 66 0F 7F 7D 00     movdqa [rbp], xmm7          .savexmm128 xmm7, 0x20
//   16: 48 89 75 18        mov [rbp+0x18], rsi         .savereg rsi, 0x38
//   20: 48 89 7C 24 10     mov [rsp+0x10], rdi         .savereg rdi, 0x10
//   25: body
// Unwinding from every offset must recover the caller's registers exactly,
// using only the codes whose instruction has run.
class PartialPrologTest : public UnwindTest {
 protected:
  static constexpr uint8_t kEnd[] = {2, 6, 11, 16, 20, 25};  // end offset of each instruction
  static constexpr uint64_t kR0 = kRsp + 0x800;              // rsp at entry: the return address
  static constexpr uint64_t kFrame = kR0 - 0x48;             // after push and sub
  static constexpr uint64_t kCallerRbp = 0xCA11'0000'0000'00B9;
  static constexpr uint64_t kCallerRsi = 0xCA11'0000'0000'0051;
  static constexpr uint64_t kCallerRdi = 0xCA11'0000'0000'00D1;
  static constexpr uint64_t kGarbage = 0xDEAD'BEEF'DEAD'BEEF;

  RuntimeFunctionEntry fn() {
    return add_function(kFn, kFnEnd,
                        InfoSpec{.flags = kUnwFlagEHandler,
                                 .prolog = 25,
                                 .frame_reg = RBP,
                                 .frame_offset = 2,
                                 .codes = {save_nonvol(25, RDI, 0x10), save_nonvol(20, RSI, 0x38),
                                           save_xmm128(16, 7, 0x20), set_fpreg(11),
                                           alloc_small(6, 0x40), push_nonvol(2, RBP)},
                                 .handler = kHandlerRva});
  }

  // Lays out the stack and registers as they are with RIP at `offset`.
  RegisterContext state_at(uint32_t offset) {
    auto done = [&](int step) { return offset >= kEnd[step]; };
    // Memory not yet written by the prolog holds garbage.
    for (uint64_t a = kFrame - 0x400; a < kR0; a += 8) stack64(a, kGarbage);
    stack64(kR0, kReturn);
    RegisterContext c = seeded_context(va(kFn + offset), kR0);
    c.rbp = kCallerRbp;
    c.rsi = kCallerRsi;
    c.rdi = kCallerRdi;
    c.xmm[7] = xmm_pattern(0x77);
    if (done(0)) {
      stack64(kR0 - 8, kCallerRbp);
      c.rsp = kR0 - 8;
    }
    if (done(1)) c.rsp = kFrame;
    if (done(2)) c.rbp = kFrame + 0x20;
    if (done(3)) stack_xmm(kFrame + 0x20, xmm_pattern(0x77));
    if (done(4)) stack64(kFrame + 0x38, kCallerRsi);
    if (done(5)) stack64(kFrame + 0x10, kCallerRdi);
    if (offset >= 25) {
      // The body reuses the saved registers and allocates dynamically.
      c.rsi = c.rdi = kGarbage;
      c.xmm[7] = xmm_pattern(0xEE);
      if (offset > 25) c.rsp = kFrame - 0x100;
    }
    return c;
  }
};

TEST_F(PartialPrologTest, EveryOffsetInAndAfterThePrologRecoversTheCaller) {
  const RuntimeFunctionEntry f = fn();
  for (uint32_t offset :
       {0u, 1u, 2u, 3u, 5u, 6u, 7u, 10u, 11u, 12u, 15u, 16u, 17u, 19u, 20u, 21u, 24u, 25u, 0x40u}) {
    RegisterContext ctx = state_at(offset);
    const RegisterContext before = ctx;
    RegisterContext expected = ctx;
    expected.rbp = kCallerRbp;
    expected.rsi = kCallerRsi;
    expected.rdi = kCallerRdi;
    expected.xmm[7] = xmm_pattern(0x77);
    expected.rip = kReturn;
    expected.rsp = kR0 + 8;
    const UnwindResult r = unwind(f, ctx);
    expect_context_eq(ctx, expected, "offset " + std::to_string(offset));
    // The frame pointer is the establisher frame only once lea rbp has run.
    EXPECT_EQ(r.establisher_frame, offset >= 11 ? kFrame : before.rsp) << "offset " << offset;
    // No handler while the prolog runs: the function has not been entered.
    EXPECT_EQ(r.handler.is_null(), offset < 25) << "offset " << offset;
    EXPECT_FALSE(r.in_epilog);
  }
}

TEST_F(UnwindCodesTest, SkippedCodesStillAdvanceByTheirSlotCount) {
  // RIP right after `sub rsp, 100000h`, before both _FAR saves: the skipped
  // 3-slot codes must be stepped over whole, their operand slots (which read
  // as pushes at offset 1) never taken for codes.
  const uint32_t size = 0x100000;
  stack64(kRsp + size, 0x1313);  // pushed r13
  stack64(kRsp + size + 8, kReturn);
  RegisterContext ctx = seeded_context(0, kRsp);
  RegisterContext expected = ctx;
  const uint32_t far_off = 0x1F001;  // slots 0xF001 (push r15 @1), 0x0001 (push rax @1)
  run(InfoSpec{.prolog = 30,
               .codes = {save_xmm128_far(30, 6, far_off), save_nonvol_far(20, R12, far_off),
                         alloc_large_far(9, size), push_nonvol(2, R13)}},
      ctx, kFn + 9);
  expected.r13 = 0x1313;
  expected.rip = kReturn;
  expected.rsp = kRsp + size + 16;
  expect_context_eq(ctx, expected);
}

}  // namespace
}  // namespace kemu::emu::test
