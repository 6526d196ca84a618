// Malformed unwind data and unreadable memory end in UnwindError, never in a
// crash, another exception or an endless loop.
#include <cstring>
#include <random>

#include "unit/unwind/unwind_fixture.h"

namespace kemu::emu::test {
namespace {

class MalformedTest : public UnwindTest {
 protected:
  void expect_throws(const RuntimeFunctionEntry& fn, uint32_t rip_rva = 0x1040,
                     uint64_t rsp = kRsp) {
    RegisterContext ctx = seeded_context(va(rip_rva), rsp);
    EXPECT_THROW(unwind(fn, ctx), UnwindError);
    RegisterContext ctx2 = seeded_context(va(rip_rva), rsp);
    EXPECT_THROW(virtual_unwind(space, kImageBase, fn, ctx2, kUnwFlagEHandler), UnwindError)
        << "without the image size";
  }
  void SetUp() override {
    for (uint64_t a = kRsp; a < kRsp + 0x200; a += 8) stack64(a, kReturn);
  }
};

TEST_F(MalformedTest, CodeCountRunningPastTheEndOfTheImage) {
  // The info's last bytes are the image's: 8 code slots would run 16 bytes past.
  write(kImageSize - 4, {0x01, 0x00, 0x08, 0x00});
  expect_throws(RuntimeFunctionEntry{0x1000, 0x1100, static_cast<uint32_t>(kImageSize - 4)});
}

TEST_F(MalformedTest, UnwindInfoOutsideTheImage) {
  expect_throws(RuntimeFunctionEntry{0x1000, 0x1100, 0x20000});
  expect_throws(RuntimeFunctionEntry{0x1000, 0x1100, 0xFFFFFFFF});
}

TEST_F(MalformedTest, TruncatedOperandSlots) {
  for (const Code& c : {raw({node(4, 4, RBX)}),         // SAVE_NONVOL, no offset slot
                        raw({node(4, 5, RBX), 0x10}),   // SAVE_NONVOL_FAR, one of two
                        raw({node(4, 8, 6)}),           // SAVE_XMM128
                        raw({node(4, 9, 6), 0x10}),     // SAVE_XMM128_FAR
                        raw({node(4, 1, 0)}),           // ALLOC_LARGE /8 form
                        raw({node(4, 1, 1), 0x10})}) {  // ALLOC_LARGE unscaled form
    // Behind a valid code, so the truncated one is the last slot.
    const RuntimeFunctionEntry fn =
        add_function(0x1000, 0x1100, InfoSpec{.prolog = 4, .codes = {alloc_small(4, 8), c}}, false);
    expect_throws(fn);
    // Even when its offset is beyond RIP and it would be skipped.
    expect_throws(fn, 0x1002);
  }
}

struct BadCode {
  uint8_t version;
  uint16_t slot;
  uint8_t frame_reg;
  const char* what;
};

class InvalidCodeTest : public MalformedTest, public ::testing::WithParamInterface<BadCode> {};

TEST_P(InvalidCodeTest, Throws) {
  const BadCode c = GetParam();
  const RuntimeFunctionEntry fn =
      add_function(0x1000, 0x1100,
                   InfoSpec{.version = c.version,
                            .prolog = 8,
                            .frame_reg = c.frame_reg,
                            .codes = {raw({c.slot, 0, 0}), push_nonvol(1, RBX)}},
                   false);
  SCOPED_TRACE(c.what);
  expect_throws(fn);
}

INSTANTIATE_TEST_SUITE_P(
    Codes, InvalidCodeTest,
    ::testing::Values(BadCode{1, node(4, 6, 0), 0, "UWOP_EPILOG in version 1"},
                      BadCode{2, node(4, 7, 0), 0, "spare code 7"},
                      BadCode{1, node(4, 11, 0), 0, "code 11"},
                      BadCode{1, node(4, 12, 0), 0, "code 12"},
                      BadCode{1, node(4, 15, 0), 0, "code 15"},
                      BadCode{1, node(4, 1, 2), 0, "ALLOC_LARGE op info 2"},
                      BadCode{1, node(4, 1, 15), 0, "ALLOC_LARGE op info 15"},
                      BadCode{1, node(4, 10, 2), 0, "PUSH_MACHFRAME op info 2"},
                      BadCode{1, node(4, 3, 0), 0, "SET_FPREG without frame register"}));

TEST_F(MalformedTest, UnknownVersions) {
  for (uint8_t version : {0, 3, 4, 7}) {
    const RuntimeFunctionEntry fn = add_function(
        0x1000, 0x1100, InfoSpec{.version = version, .prolog = 1, .codes = {push_nonvol(1, RBX)}},
        false);
    SCOPED_TRACE(static_cast<int>(version));
    expect_throws(fn);
  }
}

TEST_F(MalformedTest, ChainToItselfIsALoop) {
  const uint32_t self = next_xdata();
  const RuntimeFunctionEntry fn = add_function(
      0x1000, 0x1100,
      InfoSpec{.flags = kUnwFlagChainInfo, .chain = RuntimeFunctionEntry{0x1000, 0x1100, self}});
  ASSERT_EQ(fn.unwind_info, self);
  expect_throws(fn);
}

TEST_F(MalformedTest, ChainThroughTwoInfosIsALoop) {
  // A chains to B, B to A. Both have a push, so the loop also walks the stack.
  const uint32_t a = next_xdata();
  const uint32_t b = a + 20;  // A: 4 header + 2 slots (one padding) + 12 chained entry
  const RuntimeFunctionEntry fa =
      add_function(0x1000, 0x1100,
                   InfoSpec{.flags = kUnwFlagChainInfo,
                            .codes = {push_nonvol(0, RBX)},
                            .chain = RuntimeFunctionEntry{0x1200, 0x1300, b}});
  const RuntimeFunctionEntry fb =
      add_function(0x1200, 0x1300,
                   InfoSpec{.flags = kUnwFlagChainInfo,
                            .codes = {push_nonvol(0, RSI)},
                            .chain = RuntimeFunctionEntry{0x1000, 0x1100, a}});
  ASSERT_EQ(fa.unwind_info, a);
  ASSERT_EQ(fb.unwind_info, b);
  expect_throws(fa);
}

TEST_F(MalformedTest, ChainedEntryOutsideTheImage) {
  const RuntimeFunctionEntry fn =
      add_function(0x1000, 0x1100,
                   InfoSpec{.flags = kUnwFlagChainInfo,
                            .chain = RuntimeFunctionEntry{0x1000, 0x1100, 0x7FFF0000}});
  expect_throws(fn);
}

TEST_F(MalformedTest, ChainedEntryRunningPastTheImage) {
  // A chained info in the image's last 4 bytes: its RUNTIME_FUNCTION is beyond.
  write(kImageSize - 4, {0x01 | (kUnwFlagChainInfo << 3), 0x00, 0x00, 0x00});
  expect_throws(RuntimeFunctionEntry{0x1000, 0x1100, static_cast<uint32_t>(kImageSize - 4)});
}

TEST_F(MalformedTest, HandlerOutsideTheImage) {
  const RuntimeFunctionEntry fn = add_function(0x1000, 0x1100,
                                               InfoSpec{.flags = kUnwFlagEHandler,
                                                        .prolog = 1,
                                                        .codes = {push_nonvol(1, RBX)},
                                                        .handler = 0x00800000});
  RegisterContext ctx = seeded_context(va(0x1040), kRsp);
  EXPECT_THROW(unwind(fn, ctx, kUnwFlagEHandler), UnwindError);
  // Not asked for, the handler is not looked at.
  ctx = seeded_context(va(0x1040), kRsp);
  EXPECT_NO_THROW(unwind(fn, ctx, kUnwFlagUHandler));
}

TEST_F(MalformedTest, HandlerRvaRunningPastTheImage) {
  write(kImageSize - 4, {0x01 | (kUnwFlagEHandler << 3), 0x00, 0x00, 0x00});
  RegisterContext ctx = seeded_context(va(0x1040), kRsp);
  EXPECT_THROW(unwind(RuntimeFunctionEntry{0x1000, 0x1100, static_cast<uint32_t>(kImageSize - 4)},
                      ctx, kUnwFlagEHandler),
               UnwindError);
}

TEST_F(MalformedTest, UnreadableStack) {
  const uint64_t off_stack = kStackBase.value - 0x1000;
  // Return address beyond the stack.
  expect_throws(
      add_function(0x1000, 0x1100, InfoSpec{.prolog = 4, .codes = {alloc_small(4, 8)}}, false),
      0x1040, off_stack);
  // A pushed register beyond it.
  expect_throws(
      add_function(0x1000, 0x1100, InfoSpec{.prolog = 1, .codes = {push_nonvol(1, RBX)}}, false),
      0x1040, kStackBase.value + kStackSize - 8);
  // An allocation running off the stack's top.
  expect_throws(add_function(
      0x1000, 0x1100, InfoSpec{.prolog = 7, .codes = {alloc_large_far(7, 0x10000000)}}, false));
  // Saves far above the frame.
  expect_throws(add_function(0x1000, 0x1100,
                             InfoSpec{.prolog = 8, .codes = {save_nonvol_far(8, RBX, 0x7FFFFFF0)}},
                             false));
  expect_throws(add_function(0x1000, 0x1100,
                             InfoSpec{.prolog = 8, .codes = {save_xmm128(8, 6, 0x7FFF0)}}, false),
                0x1040, kStackBase.value + kStackSize - 0x100);
  // A machine frame whose old RSP slot lies beyond the stack.
  expect_throws(add_function(0x1000, 0x1100,
                             InfoSpec{.prolog = 1, .codes = {push_machframe(1, true)}}, false),
                0x1040, kStackBase.value + kStackSize - 0x20);
}

TEST_F(MalformedTest, AFailedUnwindLeavesTheContextUntouched) {
  // The push is undone and the return address read before the handler RVA
  // turns out to lie outside the image.
  const RuntimeFunctionEntry fn = add_function(0x1000, 0x1100,
                                               InfoSpec{.flags = kUnwFlagEHandler,
                                                        .prolog = 1,
                                                        .codes = {push_nonvol(1, RBX)},
                                                        .handler = 0x00800000});
  RegisterContext ctx = seeded_context(va(0x1040), kRsp);
  const RegisterContext before = ctx;
  EXPECT_THROW(unwind(fn, ctx, kUnwFlagEHandler), UnwindError);
  expect_context_eq(ctx, before);
}

TEST_F(MalformedTest, RspWrappingAroundTheAddressSpace) {
  expect_throws(
      add_function(0x1000, 0x1100, InfoSpec{.prolog = 7, .codes = {alloc_large_far(7, 0xFFFFFFF8)}},
                   false),
      0x1040, UINT64_MAX - 0x100);
}

TEST_F(MalformedTest, UnreadableCodeAtRip) {
  // The entry claims code beyond the mapped image; its data is readable.
  const RuntimeFunctionEntry fn =
      add_function(0x20000, 0x20100, InfoSpec{.prolog = 1, .codes = {push_nonvol(1, RBX)}}, false);
  RegisterContext ctx = seeded_context(va(0x20040), kRsp);
  EXPECT_THROW(virtual_unwind(space, kImageBase, fn, ctx, 0), UnwindError);
}

// Random unwind data, chains, code bytes and stack pointers: every outcome is
// a result or an UnwindError.
TEST_F(MalformedTest, RandomDataNeverEscapesAsAnotherError) {
  std::mt19937 rng(0x5EED);
  auto byte = [&] { return static_cast<uint8_t>(rng()); };
  constexpr uint32_t kArea = 0x400;  // random xdata lives in [kXdataRva, kXdataRva + kArea)
  // Bytes that steer the epilog decoder into its interesting paths.
  const uint8_t code_bytes[] = {0x48, 0x49, 0x41, 0x83, 0x81, 0x8D, 0xC4, 0x65, 0x64, 0x24, 0x5B,
                                0x5D, 0x5F, 0xC3, 0xC2, 0xF3, 0xE9, 0xEB, 0xFF, 0x25, 0xE0, 0x20};
  int results = 0, errors = 0;
  for (int iter = 0; iter < 4000; ++iter) {
    std::vector<uint8_t> xdata(kArea);
    for (auto& b : xdata) b = byte();
    // Versions 1 and 2 mostly, small code counts, chains into the same area.
    for (uint32_t off = 0; off + 32 <= kArea; off += 32) {
      xdata[off] =
          static_cast<uint8_t>((rng() % 4 == 0 ? byte() & 7 : 1 + rng() % 2) | (byte() & 0xF8));
      xdata[off + 2] = static_cast<uint8_t>(rng() % 12);
      const uint32_t trailer = off + 4 + 2 * ((xdata[off + 2] + 1u) & ~1u);
      const uint32_t target = kXdataRva + 32 * static_cast<uint32_t>(rng() % (kArea / 32));
      if (trailer + 12 <= kArea) std::memcpy(&xdata[trailer + 8], &target, 4);
    }
    write(kXdataRva, xdata);
    std::vector<uint8_t> code(32);
    for (auto& b : code) b = code_bytes[rng() % sizeof(code_bytes)];
    write(0x1040, code);
    const RuntimeFunctionEntry fn{0x1000, 0x1100,
                                  kXdataRva + 32 * static_cast<uint32_t>(rng() % (kArea / 32))};
    const uint64_t rsp = rng() % 8 == 0 ? byte() * 0x1111111111111111ull
                                        : kStackBase.value + (rng() % kStackSize & ~7ull);
    RegisterContext ctx = seeded_context(va(0x1000 + rng() % 0x60), rsp);
    if (rng() % 2) ctx.rbp = kStackBase.value + (rng() % kStackSize);
    try {
      unwind(fn, ctx, rng() % 4);
      ++results;
    } catch (const UnwindError&) {
      ++errors;
    }
  }
  // Both outcomes occur, so the data exercised more than the first check.
  EXPECT_GT(results, 100);
  EXPECT_GT(errors, 100);
}

}  // namespace
}  // namespace kemu::emu::test
