// Epilog detection by decoding the code at RIP, and emulation of the rest of
// the epilog ("x64 prolog and epilog": add rsp / lea rsp, pops, ret or jmp).
#include "unit/unwind/unwind_fixture.h"

namespace kemu::emu::test {
namespace {

constexpr uint64_t kSavedRsi = 0x5151;
constexpr uint64_t kSavedRbx = 0xBBBB;

// F [0x1000, 0x1100): push rbx; push rsi; sub rsp, 0x28; an exception handler.
// Its frame in the body: rsp = kRsp, rsi at +0x28, rbx at +0x30, return at +0x38.
class EpilogTest : public UnwindTest {
 protected:
  void SetUp() override {
    f = add_function(
        0x1000, 0x1100,
        InfoSpec{.flags = kUnwFlagEHandler,
                 .prolog = 6,
                 .codes = {alloc_small(6, 0x28), push_nonvol(2, RSI), push_nonvol(1, RBX)},
                 .handler = kHandlerRva});
    stack64(kRsp + 0x28, kSavedRsi);
    stack64(kRsp + 0x30, kSavedRbx);
    stack64(kRsp + 0x38, kReturn);
  }

  // Unwinds F from rip_rva with the stack pointer at kRsp + depth.
  UnwindResult at(uint32_t rip_rva, uint64_t depth, RegisterContext& ctx,
                  const RuntimeFunctionEntry* fn = nullptr) {
    ctx = seeded_context(va(rip_rva), kRsp + depth);
    return unwind(fn ? *fn : f, ctx);
  }

  // The caller's context F returns to, from a seeded context.
  static RegisterContext caller(RegisterContext c) {
    c.rsi = kSavedRsi;
    c.rbx = kSavedRbx;
    c.rip = kReturn;
    c.rsp = kRsp + 0x40;
    return c;
  }

  void expect_epilog(const UnwindResult& r) {
    EXPECT_TRUE(r.in_epilog);
    EXPECT_TRUE(r.handler.is_null());
    EXPECT_TRUE(r.handler_data.is_null());
    EXPECT_FALSE(r.machine_frame);
  }
  // Not an epilog: the prolog codes were undone and the handler reported.
  void expect_body(const UnwindResult& r, const RegisterContext& ctx) {
    EXPECT_FALSE(r.in_epilog);
    EXPECT_EQ(r.handler, kImageBase + kHandlerRva);
    expect_context_eq(ctx, caller(seeded_context(ctx.rip, 0)));
  }

  RuntimeFunctionEntry f;
};

TEST_F(EpilogTest, BodyIsNotAnEpilog) {
  RegisterContext ctx;
  const UnwindResult r = at(0x1040, 0, ctx);
  expect_body(r, ctx);
  EXPECT_EQ(r.establisher_frame, kRsp);
}

TEST_F(EpilogTest, AtAddRspImm8TheWholeEpilogIsEmulated) {
  code(0x1080, {0x48, 0x83, 0xC4, 0x28, 0x5E, 0x5B, 0xC3});  // add rsp,28h; pop rsi; pop rbx; ret
  RegisterContext ctx;
  const UnwindResult r = at(0x1080, 0, ctx);
  expect_epilog(r);
  expect_context_eq(ctx, caller(seeded_context(0, 0)));
  EXPECT_EQ(r.establisher_frame, kRsp);  // no frame register: RSP at the fault
}

TEST_F(EpilogTest, AtEachPopAndAtRetTheRestIsEmulated) {
  code(0x1080, {0x48, 0x83, 0xC4, 0x28, 0x5E, 0x5B, 0xC3});
  struct Point {
    uint32_t rip;
    uint64_t depth;
    bool rsi_done;
    bool rbx_done;
  };
  for (const Point p : {Point{0x1084, 0x28, false, false}, Point{0x1085, 0x30, true, false},
                        Point{0x1086, 0x38, true, true}}) {
    RegisterContext ctx = seeded_context(va(p.rip), kRsp + p.depth);
    if (p.rsi_done) ctx.rsi = kSavedRsi;
    if (p.rbx_done) ctx.rbx = kSavedRbx;
    const UnwindResult r = unwind(f, ctx);
    expect_epilog(r);
    expect_context_eq(ctx, caller(seeded_context(0, 0)), "rip offset " + std::to_string(p.rip));
    EXPECT_EQ(r.establisher_frame, kRsp + p.depth);
  }
}

TEST_F(EpilogTest, AddRspImm32) {
  // A 0x128-byte frame: add rsp, 128h; pop rbx; ret.
  code(0x1080, {0x48, 0x81, 0xC4, 0x28, 0x01, 0x00, 0x00, 0x5B, 0xC3});
  stack64(kRsp + 0x128, 0x7777);
  stack64(kRsp + 0x130, kReturn);
  RegisterContext ctx;
  const UnwindResult r = at(0x1080, 0, ctx);
  expect_epilog(r);
  EXPECT_EQ(ctx.rbx, 0x7777u);
  EXPECT_EQ(ctx.rip, kReturn);
  EXPECT_EQ(ctx.rsp, kRsp + 0x138);
}

TEST_F(EpilogTest, RexPopsRestoreR8ToR15) {
  // add rsp, 8; pop r15; pop r14; pop r13; pop r12; pop rbp; ret
  code(0x1080,
       {0x48, 0x83, 0xC4, 0x08, 0x41, 0x5F, 0x41, 0x5E, 0x41, 0x5D, 0x41, 0x5C, 0x5D, 0xC3});
  const uint64_t values[] = {0xF15, 0xF14, 0xF13, 0xF12, 0xB9};
  for (int i = 0; i < 5; ++i) stack64(kRsp + 8 + 8 * i, values[i]);
  stack64(kRsp + 0x30, kReturn);
  RegisterContext ctx;
  const UnwindResult r = at(0x1080, 0, ctx);
  RegisterContext expected = seeded_context(0, 0);
  expected.r15 = 0xF15;
  expected.r14 = 0xF14;
  expected.r13 = 0xF13;
  expected.r12 = 0xF12;
  expected.rbp = 0xB9;
  expected.rip = kReturn;
  expected.rsp = kRsp + 0x38;
  expect_epilog(r);
  expect_context_eq(ctx, expected);
}

TEST_F(EpilogTest, RetImm16AlsoReleasesTheImmediate) {
  code(0x1080, {0x5B, 0xC2, 0x10, 0x00});  // pop rbx; ret 10h
  RegisterContext ctx = seeded_context(va(0x1080), kRsp + 0x30);
  ctx.rsi = kSavedRsi;
  const UnwindResult r = unwind(f, ctx);
  expect_epilog(r);
  RegisterContext expected = caller(seeded_context(0, 0));
  expected.rsp += 0x10;
  expect_context_eq(ctx, expected);
}

TEST_F(EpilogTest, RepRetIsAReturn) {
  code(0x1080, {0x5E, 0x5B, 0xF3, 0xC3});  // pop rsi; pop rbx; rep ret
  RegisterContext ctx;
  const UnwindResult r = at(0x1080, 0x28, ctx);
  expect_epilog(r);
  expect_context_eq(ctx, caller(seeded_context(0, 0)));
}

TEST_F(EpilogTest, AnInstructionBetweenPopsAndRetIsNotAnEpilog) {
  // add rsp, 28h; mov eax, 1; pop rsi; pop rbx; ret -- nothing may be scheduled in.
  code(0x1080, {0x48, 0x83, 0xC4, 0x28, 0xB8, 0x01, 0x00, 0x00, 0x00, 0x5E, 0x5B, 0xC3});
  RegisterContext ctx;
  expect_body(at(0x1080, 0, ctx), ctx);
}

TEST_F(EpilogTest, LeaRspFromRspIsNotAnEpilogWithoutFrameRegister) {
  // lea rsp, [rsp+28h]; pop rsi; pop rbx; ret -- add rsp is required.
  code(0x1080, {0x48, 0x8D, 0x64, 0x24, 0x28, 0x5E, 0x5B, 0xC3});
  RegisterContext ctx;
  expect_body(at(0x1080, 0, ctx), ctx);
}

TEST_F(EpilogTest, MorePopsThanRegistersIsNotAnEpilog) {
  std::vector<uint8_t> bytes(17, 0x5B);  // 17 x pop rbx
  bytes.push_back(0xC3);
  write(0x1080, bytes);
  RegisterContext ctx;
  expect_body(at(0x1080, 0, ctx), ctx);
}

// ---- tail calls ----

TEST_F(EpilogTest, JmpRel32OutOfTheFunctionIsATailCall) {
  // add rsp, 28h; pop rsi; pop rbx; jmp 0x3000 (no function there)
  code(0x1080, {0x48, 0x83, 0xC4, 0x28, 0x5E, 0x5B, 0xE9});
  write(0x1087, {0x75, 0x1F, 0x00, 0x00});  // 0x3000 - 0x108B
  RegisterContext ctx;
  const UnwindResult r = at(0x1080, 0, ctx);
  expect_epilog(r);
  // The callee will return to F's caller: unwinding treats the jmp as a return.
  expect_context_eq(ctx, caller(seeded_context(0, 0)));
}

TEST_F(EpilogTest, JmpRel32BelowTheImageIsATailCall) {
  // jmp to 0x1000 bytes below the image base (another module).
  code(0x1080, {0x5E, 0x5B, 0xE9});
  const int32_t rel = -0x1000 - 0x1087;
  write(0x1083, {static_cast<uint8_t>(rel), static_cast<uint8_t>(rel >> 8),
                 static_cast<uint8_t>(rel >> 16), static_cast<uint8_t>(rel >> 24)});
  RegisterContext ctx;
  const UnwindResult r = at(0x1080, 0x28, ctx);
  expect_epilog(r);
  expect_context_eq(ctx, caller(seeded_context(0, 0)));
}

TEST_F(EpilogTest, JmpRel8WithinTheFunctionIsNotAnEpilog) {
  code(0x1080, {0x48, 0x83, 0xC4, 0x28, 0x5E, 0x5B, 0xEB, 0x10});  // jmp 0x1098
  RegisterContext ctx;
  expect_body(at(0x1080, 0, ctx), ctx);
}

TEST_F(EpilogTest, JmpToTheFunctionsOwnStartIsARecursiveTailCall) {
  code(0x1090, {0x5E, 0x5B, 0xE9});
  const int32_t rel = 0x1000 - 0x1097;
  write(0x1093, {static_cast<uint8_t>(rel), static_cast<uint8_t>(rel >> 8),
                 static_cast<uint8_t>(rel >> 16), static_cast<uint8_t>(rel >> 24)});
  RegisterContext ctx;
  const UnwindResult r = at(0x1090, 0x28, ctx);
  expect_epilog(r);
  expect_context_eq(ctx, caller(seeded_context(0, 0)));
}

TEST_F(EpilogTest, IndirectJmpWithModZeroIsATailCall) {
  struct Case {
    std::vector<uint8_t> jmp;
    bool epilog;
  };
  const Case cases[] = {
      {{0xFF, 0x25, 0x00, 0x01, 0x00, 0x00}, true},  // jmp [rip+100h]: an import thunk
      {{0xFF, 0x20}, true},                          // jmp [rax]
      {{0x41, 0xFF, 0x20}, true},                    // jmp [r8]
      {{0x48, 0xFF, 0xE0}, true},                    // rex.W jmp rax: Windows' tail-call form
      {{0x48, 0xFF, 0x60, 0x08}, true},              // rex.W jmp [rax+8]
      {{0xFF, 0xE0}, false},                         // jmp rax: mod 11 without REX.W
      {{0xFF, 0x60, 0x08}, false},                   // jmp [rax+8]: mod 01
      {{0xFF, 0xA0, 0, 1, 0, 0}, false},             // jmp [rax+100h]: mod 10
      {{0xFF, 0x10}, false},                         // call [rax]: FF /2, not a jmp
  };
  for (const Case& c : cases) {
    std::vector<uint8_t> bytes = {0x48, 0x83, 0xC4, 0x28, 0x5E, 0x5B};
    bytes.insert(bytes.end(), c.jmp.begin(), c.jmp.end());
    bytes.resize(16, 0);
    write(0x1080, bytes);
    RegisterContext ctx;
    const UnwindResult r = at(0x1080, 0, ctx);
    SCOPED_TRACE(::testing::PrintToString(c.jmp));
    EXPECT_EQ(r.in_epilog, c.epilog);
    if (c.epilog) {
      expect_epilog(r);
      expect_context_eq(ctx, caller(seeded_context(0, 0)));
    } else {
      expect_body(r, ctx);
    }
  }
}

// F also owns fragment H [0x1200, 0x1240) through chained info; K [0x1300,
// 0x1340) is another function.
class TailCallFragmentsTest : public EpilogTest {
 protected:
  void SetUp() override {
    EpilogTest::SetUp();
    // A fragment with no codes is never checked for epilogs; give it one.
    h = add_function(
        0x1200, 0x1240,
        InfoSpec{.flags = kUnwFlagChainInfo, .codes = {save_nonvol(0, R15, 0x10)}, .chain = f});
    add_function(0x1300, 0x1340, InfoSpec{.prolog = 1, .codes = {push_nonvol(1, RBX)}});
  }
  // Writes `pop rsi; pop rbx; jmp rel32 target` at rva.
  void pops_then_jmp(uint32_t rva, uint32_t target) {
    const int32_t rel = static_cast<int32_t>(target - (rva + 7));
    code(rva, {0x5E, 0x5B, 0xE9, static_cast<uint8_t>(rel), static_cast<uint8_t>(rel >> 8),
               static_cast<uint8_t>(rel >> 16), static_cast<uint8_t>(rel >> 24)});
  }
  RuntimeFunctionEntry h;
};

TEST_F(TailCallFragmentsTest, JmpIntoAnotherFragmentOfTheSameFunctionIsNotAnEpilog) {
  pops_then_jmp(0x1090, 0x1210);
  RegisterContext ctx;
  const UnwindResult r = at(0x1090, 0x28, ctx);
  EXPECT_FALSE(r.in_epilog);
  EXPECT_EQ(r.handler, kImageBase + kHandlerRva);
}

TEST_F(TailCallFragmentsTest, JmpIntoAnotherFunctionIsATailCall) {
  pops_then_jmp(0x1090, 0x1300);
  RegisterContext ctx;
  const UnwindResult r = at(0x1090, 0x28, ctx);
  expect_epilog(r);
  expect_context_eq(ctx, caller(seeded_context(0, 0)));
}

TEST_F(TailCallFragmentsTest, JmpFromAFragmentToThePrimaryStartIsATailCall) {
  pops_then_jmp(0x1220, 0x1000);
  RegisterContext ctx;
  const UnwindResult r = at(0x1220, 0x28, ctx, &h);
  expect_epilog(r);
  expect_context_eq(ctx, caller(seeded_context(0, 0)));
}

TEST_F(TailCallFragmentsTest, JmpFromAFragmentIntoThePrimaryBodyIsNotAnEpilog) {
  pops_then_jmp(0x1220, 0x1050);
  RegisterContext ctx;
  const UnwindResult r = at(0x1220, 0x28, ctx, &h);
  EXPECT_FALSE(r.in_epilog);
}

TEST_F(TailCallFragmentsTest, JmpToAChainedFragmentsOwnStartIsNotARecursiveCall) {
  code(0x1230, {0x5E, 0x5B, 0xEB, 0xCC});  // jmp 0x1200, h's own begin
  RegisterContext ctx;
  const UnwindResult r = at(0x1230, 0x28, ctx, &h);
  EXPECT_FALSE(r.in_epilog);
}

// ---- frame-pointer epilogs: lea rsp, disp[frame register] ----

class FramePointerEpilogTest : public UnwindTest {
 protected:
  // G [0x2000, 0x2100) with frame register `reg`; its fixed frame at kFrame.
  RuntimeFunctionEntry g(uint8_t reg) {
    return add_function(
        0x2000, 0x2100,
        InfoSpec{.flags = kUnwFlagEHandler,
                 .prolog = 12,
                 .frame_reg = reg,
                 .frame_offset = 1,
                 .codes = {set_fpreg(12), alloc_small(7, 0x20), push_nonvol(2, reg)},
                 .handler = kHandlerRva});
  }
  static constexpr uint64_t kFrame = kRsp + 0x400;
};

TEST_F(FramePointerEpilogTest, LeaRspDisp8FromRbp) {
  const RuntimeFunctionEntry fn = g(RBP);
  code(0x2080, {0x48, 0x8D, 0x65, 0x10, 0x5D, 0xC3});  // lea rsp, [rbp+10h]; pop rbp; ret
  stack64(kFrame + 0x20, 0xB9B9);
  stack64(kFrame + 0x28, kReturn);
  RegisterContext ctx = seeded_context(va(0x2080), kFrame - 0x300);  // after an alloca
  ctx.rbp = kFrame + 0x10;
  RegisterContext expected = ctx;
  const UnwindResult r = unwind(fn, ctx);
  expected.rbp = 0xB9B9;
  expected.rip = kReturn;
  expected.rsp = kFrame + 0x30;
  EXPECT_TRUE(r.in_epilog);
  EXPECT_TRUE(r.handler.is_null());
  expect_context_eq(ctx, expected);
  // The frame register is being torn down: the return-address slot stands in.
  EXPECT_EQ(r.establisher_frame, kFrame + 0x28);
}

TEST_F(FramePointerEpilogTest, LeaRspDisp32FromRbp) {
  const RuntimeFunctionEntry fn = g(RBP);
  // lea rsp, [rbp+110h]; pop rbp; ret
  code(0x2080, {0x48, 0x8D, 0xA5, 0x10, 0x01, 0x00, 0x00, 0x5D, 0xC3});
  stack64(kFrame + 0x110, 0xB9B9);
  stack64(kFrame + 0x118, kReturn);
  RegisterContext ctx = seeded_context(va(0x2080), kFrame - 0x300);
  ctx.rbp = kFrame;
  const UnwindResult r = unwind(fn, ctx);
  EXPECT_TRUE(r.in_epilog);
  EXPECT_EQ(ctx.rbp, 0xB9B9u);
  EXPECT_EQ(ctx.rip, kReturn);
  EXPECT_EQ(ctx.rsp, kFrame + 0x120);
}

TEST_F(FramePointerEpilogTest, LeaRspNegativeDisp8FromR13) {
  const RuntimeFunctionEntry fn = g(R13);
  code(0x2080, {0x49, 0x8D, 0x65, 0xF0, 0x41, 0x5D, 0xC3});  // lea rsp, [r13-10h]; pop r13; ret
  stack64(kFrame, 0x1313);
  stack64(kFrame + 8, kReturn);
  RegisterContext ctx = seeded_context(va(0x2080), kFrame - 0x300);
  ctx.r13 = kFrame + 0x10;
  const UnwindResult r = unwind(fn, ctx);
  EXPECT_TRUE(r.in_epilog);
  EXPECT_EQ(ctx.r13, 0x1313u);
  EXPECT_EQ(ctx.rip, kReturn);
  EXPECT_EQ(ctx.rsp, kFrame + 0x10);
}

TEST_F(FramePointerEpilogTest, LeaRspFromR12NeedsASibByte) {
  const RuntimeFunctionEntry fn = g(R12);
  code(0x2080, {0x49, 0x8D, 0x64, 0x24, 0x08, 0x41, 0x5C, 0xC3});  // lea rsp, [r12+8]; pop r12; ret
  stack64(kFrame + 8, 0x1212);
  stack64(kFrame + 0x10, kReturn);
  RegisterContext ctx = seeded_context(va(0x2080), kFrame - 0x300);
  ctx.r12 = kFrame;
  const UnwindResult r = unwind(fn, ctx);
  EXPECT_TRUE(r.in_epilog);
  EXPECT_EQ(ctx.r12, 0x1212u);
  EXPECT_EQ(ctx.rip, kReturn);
  EXPECT_EQ(ctx.rsp, kFrame + 0x18);
}

TEST_F(FramePointerEpilogTest, LeaRspFromR12WithAnIndexIsNotAnEpilog) {
  const RuntimeFunctionEntry fn = g(R12);
  // lea rsp, [r12+rcx+8]; pop r12; ret -- an index register is not the documented form.
  code(0x2080, {0x49, 0x8D, 0x64, 0x0C, 0x08, 0x41, 0x5C, 0xC3});
  stack64(kFrame + 0x20, 0x1212);
  stack64(kFrame + 0x28, kReturn);
  RegisterContext ctx = seeded_context(va(0x2080), kFrame - 0x300);
  ctx.r12 = kFrame + 0x10;
  ctx.rcx = 0;
  const UnwindResult r = unwind(fn, ctx);
  EXPECT_FALSE(r.in_epilog);
  EXPECT_EQ(r.handler, kImageBase + kHandlerRva);
  EXPECT_EQ(ctx.r12, 0x1212u);
  EXPECT_EQ(ctx.rsp, kFrame + 0x30);
}

TEST_F(FramePointerEpilogTest, LeaRspFromAnotherRegisterIsNotAnEpilog) {
  const RuntimeFunctionEntry fn = g(RBP);
  code(0x2080,
       {0x48, 0x8D, 0x63, 0x10, 0x5D, 0xC3});  // lea rsp, [rbx+10h]: rbx is no frame register
  // The prolog codes apply instead: rbp - 0x10 is the fixed frame.
  stack64(kFrame + 0x20, 0xB9B9);
  stack64(kFrame + 0x28, kReturn);
  RegisterContext ctx = seeded_context(va(0x2080), kFrame - 0x300);
  ctx.rbp = kFrame + 0x10;
  const UnwindResult r = unwind(fn, ctx);
  EXPECT_FALSE(r.in_epilog);
  EXPECT_EQ(r.handler, kImageBase + kHandlerRva);
  EXPECT_EQ(r.establisher_frame, kFrame);
  EXPECT_EQ(ctx.rbp, 0xB9B9u);
  EXPECT_EQ(ctx.rsp, kFrame + 0x30);
}

// ---- special cases ----

TEST_F(UnwindTest, FunctionWithoutUnwindCodesIsNotCheckedForAnEpilog) {
  // As since Windows 10 1809: with no codes, a `ret` at RIP is unwound as the
  // body (same registers), and the handler is still reported.
  const RuntimeFunctionEntry fn =
      add_function(0x1000, 0x1010, InfoSpec{.flags = kUnwFlagEHandler, .handler = kHandlerRva});
  code(0x1004, {0xC3});
  stack64(kRsp, kReturn);
  RegisterContext ctx = seeded_context(va(0x1004), kRsp);
  const UnwindResult r = unwind(fn, ctx);
  EXPECT_FALSE(r.in_epilog);
  EXPECT_EQ(r.handler, kImageBase + kHandlerRva);
  EXPECT_EQ(ctx.rip, kReturn);
  EXPECT_EQ(ctx.rsp, kRsp + 8);
}

TEST_F(EpilogTest, InsideThePrologTheCodeIsNotDecodedAsAnEpilog) {
  // Bytes that would read as an epilog at offset 1 of the prolog are ignored:
  // RIP there is in the prolog, whose codes are undone instead.
  code(0x1001, {0x5B, 0xC3});
  stack64(kRsp + 0x30, kSavedRbx);
  RegisterContext ctx = seeded_context(va(0x1001), kRsp + 0x30);
  const UnwindResult r = unwind(f, ctx);
  EXPECT_FALSE(r.in_epilog);
  EXPECT_TRUE(r.handler.is_null());
  EXPECT_EQ(ctx.rbx, kSavedRbx);
  EXPECT_EQ(ctx.rip, kReturn);
  EXPECT_EQ(ctx.rsp, kRsp + 0x40);
}

TEST_F(EpilogTest, UnreadableStackInAnEpilogThrows) {
  code(0x1080, {0x5E, 0x5B, 0xC3});
  RegisterContext ctx = seeded_context(va(0x1080), kStackBase.value + kStackSize - 8);
  EXPECT_THROW(unwind(f, ctx), UnwindError);
}

}  // namespace
}  // namespace kemu::emu::test
