// Unwinding real compiler output. The bytes below are the .text, .rdata (which
// holds .xdata) and .pdata of seh.dll, built at development time from:
//
//   int _fltused;
//   int __C_specific_handler(void* rec, void* frame, void* ctx, void* disp) { return 1; }
//   __declspec(noinline) void sink(int* buf, long long v) { buf[v & 63] = (int)v; }
//   __declspec(noinline) double dsink(double v) { return v * 2; }
//   __declspec(dllexport) long long mixer(long long a, long long b, long long c) {
//     int buf[64];
//     long long x = a * 3, y = b * 5, z = c * 7;
//     sink(buf, a);
//     sink(buf, x + y + z);
//     return x * y * z + buf[3];
//   }
//   __declspec(dllexport) double fmix(double a, double b) {
//     double x = dsink(a) * b;
//     double y = dsink(b) + a;
//     return x * y + dsink(x);
//   }
//   __declspec(dllexport) int guarded(int* p, long long n) {
//     int r = 0;
//     __try { sink(p, n); r = *p; } __except (1) { r = -1; }
//     return r;
//   }
//
//   clang-14 --target=x86_64-pc-windows-msvc -O2 -c seh.c
//   lld-link-14 /dll /noentry /nodefaultlib /out:seh.dll seh.o
//
// llvm-objdump / llvm-readobj --unwind of the result:
//   mixer   [0x1030, 0x108e) info 0x2068: prolog 12; ALLOC_LARGE 0x128 @0c, PUSH rbx @05,
//           rdi @04, rsi @03, r14 @02. Epilog at 0x1081: add rsp,128h; pop rbx/rdi/rsi/r14; ret
//   fmix    [0x1090, 0x10f2) info 0x2078: prolog 20; SAVE_XMM128 xmm6 0x20 @14, xmm7 0x30 @0f,
//           xmm8 0x40 @0a, ALLOC_SMALL 0x58 @04. Epilog at 0x10ed: add rsp,58h; ret
//   guarded [0x1100, 0x1123) info 0x208c: EHANDLER|UHANDLER, prolog 11, frame rbp + 0x20;
//           SET_FPREG @0b, ALLOC_SMALL 0x28 @06, PUSH rsi @02, rbp @01; handler 0x1000
//           (__C_specific_handler), scope table {1: [0x110e, 0x1114) filter 1 -> 0x111c}.
//           Epilog at 0x1115: add rsp,28h; pop rsi; pop rbp; ret. 0x111c: mov eax,-1; jmp 0x1115
#include "unit/unwind/unwind_fixture.h"

namespace kemu::emu::test {
namespace {

constexpr uint8_t kText[] = {
    0xb8, 0x01, 0x00, 0x00, 0x00, 0xc3, 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x89, 0xd0, 0x83, 0xe0, 0x3f, 0x89, 0x14, 0x81, 0xc3, 0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00,
    0xf2, 0x0f, 0x58, 0xc0, 0xc3, 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00, 0x90,
    0x41, 0x56, 0x56, 0x57, 0x53, 0x48, 0x81, 0xec, 0x28, 0x01, 0x00, 0x00, 0x48, 0x89, 0xc8, 0x48,
    0x8d, 0x3c, 0x49, 0x48, 0x8d, 0x1c, 0x92, 0x4a, 0x8d, 0x34, 0xc5, 0x00, 0x00, 0x00, 0x00, 0x4c,
    0x29, 0xc6, 0x4c, 0x8d, 0x74, 0x24, 0x20, 0x4c, 0x89, 0xf1, 0x48, 0x89, 0xc2, 0xe8, 0xae, 0xff,
    0xff, 0xff, 0x48, 0x8d, 0x14, 0x3b, 0x48, 0x01, 0xf2, 0x4c, 0x89, 0xf1, 0xe8, 0x9f, 0xff, 0xff,
    0xff, 0x48, 0x0f, 0xaf, 0xdf, 0x48, 0x0f, 0xaf, 0xde, 0x48, 0x63, 0x44, 0x24, 0x2c, 0x48, 0x01,
    0xd8, 0x48, 0x81, 0xc4, 0x28, 0x01, 0x00, 0x00, 0x5b, 0x5f, 0x5e, 0x41, 0x5e, 0xc3, 0x66, 0x90,
    0x48, 0x83, 0xec, 0x58, 0x44, 0x0f, 0x29, 0x44, 0x24, 0x40, 0x0f, 0x29, 0x7c, 0x24, 0x30, 0x0f,
    0x29, 0x74, 0x24, 0x20, 0x66, 0x0f, 0x28, 0xf1, 0x66, 0x44, 0x0f, 0x28, 0xc0, 0xe8, 0x6e, 0xff,
    0xff, 0xff, 0x66, 0x0f, 0x28, 0xf8, 0xf2, 0x0f, 0x59, 0xfe, 0x66, 0x0f, 0x28, 0xc6, 0xe8, 0x5d,
    0xff, 0xff, 0xff, 0x66, 0x0f, 0x28, 0xf0, 0xf2, 0x41, 0x0f, 0x58, 0xf0, 0x66, 0x0f, 0x28, 0xc7,
    0xe8, 0x4b, 0xff, 0xff, 0xff, 0xf2, 0x0f, 0x59, 0xf7, 0xf2, 0x0f, 0x58, 0xc6, 0x0f, 0x28, 0x74,
    0x24, 0x20, 0x0f, 0x28, 0x7c, 0x24, 0x30, 0x44, 0x0f, 0x28, 0x44, 0x24, 0x40, 0x48, 0x83, 0xc4,
    0x58, 0xc3, 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0f, 0x1f, 0x40, 0x00,
    0x55, 0x56, 0x48, 0x83, 0xec, 0x28, 0x48, 0x8d, 0x6c, 0x24, 0x20, 0x48, 0x89, 0xce, 0xe8, 0xfd,
    0xfe, 0xff, 0xff, 0x8b, 0x06, 0x48, 0x83, 0xc4, 0x28, 0x5e, 0x5d, 0xc3, 0xb8, 0xff, 0xff, 0xff,
    0xff, 0xeb, 0xf2,
};
constexpr uint8_t kRdata[] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x28, 0x20, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x30, 0x20, 0x00, 0x00,
    0x40, 0x20, 0x00, 0x00, 0x4c, 0x20, 0x00, 0x00, 0x73, 0x65, 0x68, 0x2e, 0x64, 0x6c, 0x6c, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x90, 0x10, 0x00, 0x00, 0x00, 0x11, 0x00, 0x00, 0x30, 0x10, 0x00, 0x00,
    0x52, 0x20, 0x00, 0x00, 0x57, 0x20, 0x00, 0x00, 0x5f, 0x20, 0x00, 0x00, 0x01, 0x00, 0x02, 0x00,
    0x03, 0x00, 0x66, 0x6d, 0x69, 0x78, 0x00, 0x67, 0x75, 0x61, 0x72, 0x64, 0x65, 0x64, 0x00, 0x6d,
    0x69, 0x78, 0x65, 0x72, 0x00, 0x00, 0x00, 0x00, 0x01, 0x0c, 0x06, 0x00, 0x0c, 0x01, 0x25, 0x00,
    0x05, 0x30, 0x04, 0x70, 0x03, 0x60, 0x02, 0xe0, 0x01, 0x14, 0x07, 0x00, 0x14, 0x68, 0x02, 0x00,
    0x0f, 0x78, 0x03, 0x00, 0x0a, 0x88, 0x04, 0x00, 0x04, 0xa2, 0x00, 0x00, 0x19, 0x0b, 0x04, 0x25,
    0x0b, 0x03, 0x06, 0x42, 0x02, 0x60, 0x01, 0x50, 0x00, 0x10, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
    0x0e, 0x11, 0x00, 0x00, 0x14, 0x11, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x1c, 0x11, 0x00, 0x00,
};
constexpr uint8_t kPdata[] = {
    0x30, 0x10, 0x00, 0x00, 0x8e, 0x10, 0x00, 0x00, 0x68, 0x20, 0x00, 0x00,
    0x90, 0x10, 0x00, 0x00, 0xf2, 0x10, 0x00, 0x00, 0x78, 0x20, 0x00, 0x00,
    0x00, 0x11, 0x00, 0x00, 0x23, 0x11, 0x00, 0x00, 0x8c, 0x20, 0x00, 0x00,
};

class CompiledTest : public UnwindTest {
 protected:
  void SetUp() override {
    write(0x1000, std::vector<uint8_t>(std::begin(kText), std::end(kText)));
    write(0x2000, std::vector<uint8_t>(std::begin(kRdata), std::end(kRdata)));
    write(0x4000, std::vector<uint8_t>(std::begin(kPdata), std::end(kPdata)));
    // The image's own .pdata, read back from guest memory.
    for (uint32_t off = 0; off < sizeof(kPdata); off += 12)
      table.push_back(space.read<RuntimeFunctionEntry>(kImageBase + 0x4000 + off));
  }
  const RuntimeFunctionEntry& entry_at(uint32_t rva) {
    const RuntimeFunctionEntry* e = lookup_function(table, rva);
    EXPECT_NE(e, nullptr) << std::hex << rva;
    return *e;
  }

  static constexpr uint64_t kR0 = kRsp + 0x800;  // rsp at entry, holding the return address
  static constexpr uint64_t kCaller[4] = {0xCA11'0001, 0xCA11'0002, 0xCA11'0003, 0xCA11'0004};
};

TEST_F(CompiledTest, PdataIsTheExpectedTable) {
  ASSERT_EQ(table.size(), 3u);
  EXPECT_EQ(table[0].begin, 0x1030u);
  EXPECT_EQ(table[0].end, 0x108Eu);
  EXPECT_EQ(table[0].unwind_info, 0x2068u);
  EXPECT_EQ(table[2].unwind_info, 0x208Cu);
  EXPECT_EQ(lookup_function(table, 0x1010), nullptr);  // sink: a leaf without an entry
}

// mixer's frame: r14, rsi, rdi, rbx pushed below the return address, then 0x128.
class MixerTest : public CompiledTest {
 protected:
  static constexpr uint64_t kFrame = kR0 - 32 - 0x128;
  void SetUp() override {
    CompiledTest::SetUp();
    stack64(kR0, kReturn);
    stack64(kR0 - 8, kCaller[0]);   // r14
    stack64(kR0 - 16, kCaller[1]);  // rsi
    stack64(kR0 - 24, kCaller[2]);  // rdi
    stack64(kR0 - 32, kCaller[3]);  // rbx
  }
  static RegisterContext caller(RegisterContext c) {
    c.r14 = kCaller[0];
    c.rsi = kCaller[1];
    c.rdi = kCaller[2];
    c.rbx = kCaller[3];
    c.rip = kReturn;
    c.rsp = kR0 + 8;
    return c;
  }
};

TEST_F(MixerTest, FromTheBodyAfterTheFirstCall) {
  RegisterContext ctx = seeded_context(va(0x1062), kFrame);
  const RegisterContext before = ctx;
  const UnwindResult r = unwind(entry_at(0x1062), ctx);
  expect_context_eq(ctx, caller(before));
  EXPECT_EQ(r.establisher_frame, kFrame);
  EXPECT_FALSE(r.in_epilog);
  EXPECT_TRUE(r.handler.is_null());  // no handler in this function
}

TEST_F(MixerTest, FromEveryInstructionOfTheProlog) {
  // End offsets: push r14 (2), push rsi (3), push rdi (4), push rbx (5), sub (12).
  const struct {
    uint32_t rip;
    uint64_t rsp;
  } points[] = {{0x1030, kR0},      {0x1032, kR0 - 8},  {0x1033, kR0 - 16},
                {0x1034, kR0 - 24}, {0x1035, kR0 - 32}, {0x103C, kFrame}};
  for (const auto& p : points) {
    RegisterContext ctx = seeded_context(va(p.rip), p.rsp);
    // Registers not yet pushed still hold the caller's values.
    if (p.rsp > kR0 - 8) ctx.r14 = kCaller[0];
    if (p.rsp > kR0 - 16) ctx.rsi = kCaller[1];
    if (p.rsp > kR0 - 24) ctx.rdi = kCaller[2];
    if (p.rsp > kR0 - 32) ctx.rbx = kCaller[3];
    const RegisterContext before = ctx;
    const UnwindResult r = unwind(entry_at(p.rip), ctx);
    expect_context_eq(ctx, caller(before), "rip " + std::to_string(p.rip));
    EXPECT_FALSE(r.in_epilog);
  }
}

TEST_F(MixerTest, FromEveryInstructionOfTheEpilog) {
  const struct {
    uint32_t rip;
    uint64_t rsp;
  } points[] = {{0x1081, kFrame},   {0x1088, kR0 - 32}, {0x1089, kR0 - 24},
                {0x108A, kR0 - 16}, {0x108B, kR0 - 8},  {0x108D, kR0}};
  for (const auto& p : points) {
    RegisterContext ctx = seeded_context(va(p.rip), p.rsp);
    // Registers already popped hold the caller's values.
    if (p.rsp > kR0 - 32) ctx.rbx = kCaller[3];
    if (p.rsp > kR0 - 24) ctx.rdi = kCaller[2];
    if (p.rsp > kR0 - 16) ctx.rsi = kCaller[1];
    if (p.rsp > kR0 - 8) ctx.r14 = kCaller[0];
    const RegisterContext before = ctx;
    const UnwindResult r = unwind(entry_at(p.rip), ctx);
    expect_context_eq(ctx, caller(before), "rip " + std::to_string(p.rip));
    EXPECT_TRUE(r.in_epilog) << std::hex << p.rip;
  }
}

TEST_F(CompiledTest, FmixRestoresTheSavedXmmRegisters) {
  const uint64_t frame = kR0 - 0x58;
  stack64(kR0, kReturn);
  stack_xmm(frame + 0x20, xmm_pattern(6));
  stack_xmm(frame + 0x30, xmm_pattern(7));
  stack_xmm(frame + 0x40, xmm_pattern(8));
  // After the second call.
  RegisterContext ctx = seeded_context(va(0x10C3), frame);
  RegisterContext expected = ctx;
  const UnwindResult r = unwind(entry_at(0x10C3), ctx);
  expected.xmm[6] = xmm_pattern(6);
  expected.xmm[7] = xmm_pattern(7);
  expected.xmm[8] = xmm_pattern(8);
  expected.rip = kReturn;
  expected.rsp = kR0 + 8;
  expect_context_eq(ctx, expected);
  EXPECT_EQ(r.establisher_frame, frame);

  // Between `sub rsp, 58h` and the first movaps: only the allocation is undone.
  ctx = seeded_context(va(0x1094), frame);
  expected = ctx;
  unwind(entry_at(0x1094), ctx);
  expected.rip = kReturn;
  expected.rsp = kR0 + 8;
  expect_context_eq(ctx, expected, "in the prolog");

  // At `add rsp, 58h` the movaps have restored the registers already.
  ctx = seeded_context(va(0x10ED), frame);
  expected = ctx;
  EXPECT_TRUE(unwind(entry_at(0x10ED), ctx).in_epilog);
  expected.rip = kReturn;
  expected.rsp = kR0 + 8;
  expect_context_eq(ctx, expected, "in the epilog");
}

// guarded: push rbp; push rsi; sub rsp, 28h; lea rbp, [rsp+20h].
class GuardedTest : public CompiledTest {
 protected:
  static constexpr uint64_t kFrame = kR0 - 16 - 0x28;
  void SetUp() override {
    CompiledTest::SetUp();
    stack64(kR0, kReturn);
    stack64(kR0 - 8, kCaller[0]);   // rbp
    stack64(kR0 - 16, kCaller[1]);  // rsi
  }
  static RegisterContext body(uint32_t rip) {
    RegisterContext c = seeded_context(va(rip), kFrame);
    c.rbp = kFrame + 0x20;
    return c;
  }
  static RegisterContext caller(RegisterContext c) {
    c.rbp = kCaller[0];
    c.rsi = kCaller[1];
    c.rip = kReturn;
    c.rsp = kR0 + 8;
    return c;
  }
};

TEST_F(GuardedTest, InsideTheTryBlockReportsCSpecificHandlerAndItsScopeTable) {
  for (uint32_t type : {kUnwFlagEHandler, kUnwFlagUHandler}) {
    RegisterContext ctx = body(0x1113);  // the faulting load `mov eax, [rsi]`
    const RegisterContext before = ctx;
    const UnwindResult r = unwind(entry_at(0x1113), ctx, type);
    expect_context_eq(ctx, caller(before));
    EXPECT_EQ(r.establisher_frame, kFrame);
    EXPECT_EQ(r.handler, kImageBase + 0x1000);
    ASSERT_EQ(r.handler_data, kImageBase + 0x209C);
    // SCOPE_TABLE: Count, then {Begin, End, Handler (filter), Target}.
    EXPECT_EQ(space.read<uint32_t>(r.handler_data), 1u);
    EXPECT_EQ(space.read<uint32_t>(r.handler_data + 4), 0x110Eu);
    EXPECT_EQ(space.read<uint32_t>(r.handler_data + 8), 0x1114u);
    EXPECT_EQ(space.read<uint32_t>(r.handler_data + 12), 1u);  // EXCEPTION_EXECUTE_HANDLER
    EXPECT_EQ(space.read<uint32_t>(r.handler_data + 16), 0x111Cu);
  }
}

TEST_F(GuardedTest, TheExceptBlockJumpingBackIsNotAnEpilog) {
  RegisterContext ctx = body(0x1121);  // jmp 0x1115: inside the function
  const RegisterContext before = ctx;
  const UnwindResult r = unwind(entry_at(0x1121), ctx);
  EXPECT_FALSE(r.in_epilog);
  EXPECT_EQ(r.handler, kImageBase + 0x1000);
  expect_context_eq(ctx, caller(before));
}

TEST_F(GuardedTest, InTheEpilogNoHandler) {
  RegisterContext ctx = body(0x1115);
  const RegisterContext before = ctx;
  const UnwindResult r = unwind(entry_at(0x1115), ctx);
  EXPECT_TRUE(r.in_epilog);
  EXPECT_TRUE(r.handler.is_null());
  expect_context_eq(ctx, caller(before));
  EXPECT_EQ(r.establisher_frame, kR0);
}

TEST_F(GuardedTest, BeforeTheFramePointerIsSetRspIsTheEstablisherFrame) {
  // At `lea rbp, [rsp+20h]` (offset 6): pushes and allocation done.
  RegisterContext ctx = seeded_context(va(0x1106), kFrame);
  ctx.rbp = kCaller[0];
  const RegisterContext before = ctx;
  const UnwindResult r = unwind(entry_at(0x1106), ctx);
  expect_context_eq(ctx, caller(before));
  EXPECT_EQ(r.establisher_frame, kFrame);
  EXPECT_TRUE(r.handler.is_null());
}

}  // namespace
}  // namespace kemu::emu::test
