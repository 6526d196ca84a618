// Function lookup, leaf frames, chained unwind info, language handlers and
// their filtering, version-2 epilog descriptors, and a multi-frame walk.
#include "unit/unwind/unwind_fixture.h"

namespace kemu::emu::test {
namespace {

// ---- lookup_function ----

TEST(LookupFunctionTest, FindsTheEntryWithBeginInclusiveAndEndExclusive) {
  const std::vector<RuntimeFunctionEntry> table = {
      {0x1000, 0x1050, 0x8000}, {0x1050, 0x1100, 0x8010}, {0x1200, 0x1300, 0x8020}};
  EXPECT_EQ(lookup_function(table, 0x1000), &table[0]);
  EXPECT_EQ(lookup_function(table, 0x104F), &table[0]);
  EXPECT_EQ(lookup_function(table, 0x1050), &table[1]);
  EXPECT_EQ(lookup_function(table, 0x10FF), &table[1]);
  EXPECT_EQ(lookup_function(table, 0x1100), nullptr);  // gap: a leaf function
  EXPECT_EQ(lookup_function(table, 0x11FF), nullptr);
  EXPECT_EQ(lookup_function(table, 0x1200), &table[2]);
  EXPECT_EQ(lookup_function(table, 0x12FF), &table[2]);
  EXPECT_EQ(lookup_function(table, 0x1300), nullptr);
  EXPECT_EQ(lookup_function(table, 0xFFF), nullptr);
  EXPECT_EQ(lookup_function(table, 0), nullptr);
  EXPECT_EQ(lookup_function(table, UINT32_MAX), nullptr);
}

TEST(LookupFunctionTest, EmptyTableFindsNothing) {
  EXPECT_EQ(lookup_function({}, 0x1000), nullptr);
}

TEST(LookupFunctionTest, ManyEntriesAreAllFound) {
  std::vector<RuntimeFunctionEntry> table;
  for (uint32_t i = 0; i < 1000; ++i)
    table.push_back({0x1000 + i * 0x20, 0x1000 + i * 0x20 + 0x18, i});
  for (uint32_t i = 0; i < 1000; ++i) {
    EXPECT_EQ(lookup_function(table, 0x1000 + i * 0x20 + 7), &table[i]);
    EXPECT_EQ(lookup_function(table, 0x1000 + i * 0x20 + 0x18), nullptr);
  }
}

// ---- unwind_leaf ----

class LeafTest : public UnwindTest {};

TEST_F(LeafTest, PopsTheReturnAddressAndNothingElse) {
  stack64(kRsp, kReturn);
  RegisterContext ctx = seeded_context(va(0x1500), kRsp);
  RegisterContext expected = ctx;
  unwind_leaf(space, ctx);
  expected.rip = kReturn;
  expected.rsp = kRsp + 8;
  expect_context_eq(ctx, expected);
}

TEST_F(LeafTest, UnreadableStackThrows) {
  RegisterContext ctx = seeded_context(va(0x1500), kStackBase.value - 8);
  EXPECT_THROW(unwind_leaf(space, ctx), UnwindError);
  ctx.rsp = kStackBase.value + kStackSize - 4;  // straddles the end of the stack
  EXPECT_THROW(unwind_leaf(space, ctx), UnwindError);
}

// ---- chained unwind info ----

// Primary P [0x1000, 0x1100): push rbx; push rsi; sub rsp, 0x20, with an
// exception handler. Fragment B [0x1200, 0x1280) is chained to P with no
// codes; fragment A [0x1400, 0x1480) saves rdi with a mov (shrink-wrapping)
// and is chained to B: two levels of chaining.
class ChainTest : public UnwindTest {
 protected:
  static constexpr uint64_t kFrame = kRsp;
  void SetUp() override {
    primary = add_function(
        0x1000, 0x1100,
        InfoSpec{.flags = kUnwFlagEHandler,
                 .prolog = 6,
                 .codes = {alloc_small(6, 0x20), push_nonvol(2, RSI), push_nonvol(1, RBX)},
                 .handler = kHandlerRva,
                 .handler_data = {1, 0, 0, 0}});
    middle = add_function(0x1200, 0x1280, InfoSpec{.flags = kUnwFlagChainInfo, .chain = primary});
    leaf = add_function(0x1400, 0x1480,
                        InfoSpec{.flags = kUnwFlagChainInfo,
                                 .prolog = 5,
                                 .codes = {save_nonvol(5, RDI, 0x10)},
                                 .chain = middle});
    stack64(kFrame + 0x10, 0xD1D1);  // rdi, saved by A
    stack64(kFrame + 0x20, 0x5151);  // rsi
    stack64(kFrame + 0x28, 0xBBBB);  // rbx
    stack64(kFrame + 0x30, kReturn);
  }
  RuntimeFunctionEntry primary, middle, leaf;
};

TEST_F(ChainTest, TwoLevelsApplyEveryInfoAndReportThePrimaryHandler) {
  RegisterContext ctx = seeded_context(va(0x1440), kFrame);
  RegisterContext expected = ctx;
  const UnwindResult r = unwind(leaf, ctx);
  expected.rdi = 0xD1D1;
  expected.rsi = 0x5151;
  expected.rbx = 0xBBBB;
  expected.rip = kReturn;
  expected.rsp = kFrame + 0x38;
  expect_context_eq(ctx, expected);
  EXPECT_EQ(r.establisher_frame, kFrame);
  EXPECT_EQ(r.handler, kImageBase + kHandlerRva);
  // The primary's data: after its 4 code slots and the handler RVA.
  EXPECT_EQ(r.handler_data, kImageBase + primary.unwind_info + 4 + 2 * 4 + 4);
  EXPECT_EQ(space.read<uint32_t>(r.handler_data), 1u);
}

TEST_F(ChainTest, ChainedPrologCodesAreSkippedBeforeTheirOffset) {
  // RIP inside A's own prolog, before the mov that saves rdi.
  RegisterContext ctx = seeded_context(va(0x1402), kFrame);
  RegisterContext expected = ctx;
  const UnwindResult r = unwind(leaf, ctx);
  expected.rsi = 0x5151;
  expected.rbx = 0xBBBB;
  expected.rip = kReturn;
  expected.rsp = kFrame + 0x38;
  expect_context_eq(ctx, expected);
  // Windows decides on the handler with the primary entry's prolog offset.
  EXPECT_EQ(r.handler, kImageBase + kHandlerRva);
}

TEST_F(ChainTest, OneLevelChainWithoutCodes) {
  RegisterContext ctx = seeded_context(va(0x1240), kFrame);
  RegisterContext expected = ctx;
  const UnwindResult r = unwind(middle, ctx);
  expected.rsi = 0x5151;
  expected.rbx = 0xBBBB;
  expected.rip = kReturn;
  expected.rsp = kFrame + 0x38;
  expect_context_eq(ctx, expected);
  EXPECT_EQ(r.handler, kImageBase + kHandlerRva);
}

TEST_F(ChainTest, FragmentBeforeThePrimaryStillAppliesAllPrimaryCodes) {
  // A cold fragment placed below the primary: its offset from the primary's
  // start wraps, so it is never "inside the primary prolog".
  const RuntimeFunctionEntry cold =
      add_function(0x0F00, 0x0F80, InfoSpec{.flags = kUnwFlagChainInfo, .chain = primary});
  RegisterContext ctx = seeded_context(va(0x0F10), kFrame);
  RegisterContext expected = ctx;
  const UnwindResult r = unwind(cold, ctx);
  expected.rsi = 0x5151;
  expected.rbx = 0xBBBB;
  expected.rip = kReturn;
  expected.rsp = kFrame + 0x38;
  expect_context_eq(ctx, expected);
  EXPECT_EQ(r.handler, kImageBase + kHandlerRva);
}

TEST_F(UnwindTest, ChainedInfoUsesTheFrameRegisterAsEstablisherFrame) {
  // Primary: push rbp; sub rsp, 0x40; lea rbp, [rsp+0x10]. Chained fragment
  // with no codes, RIP in it; rsp lowered by an alloca.
  const uint64_t frame = kRsp + 0x400;
  const RuntimeFunctionEntry primary =
      add_function(0x1000, 0x1100,
                   InfoSpec{.prolog = 11,
                            .frame_reg = RBP,
                            .frame_offset = 1,
                            .codes = {set_fpreg(11), alloc_small(6, 0x40), push_nonvol(2, RBP)}});
  const RuntimeFunctionEntry frag = add_function(
      0x1300, 0x1340,
      InfoSpec{.flags = kUnwFlagChainInfo, .frame_reg = RBP, .frame_offset = 1, .chain = primary});
  stack64(frame + 0x40, 0xB9B9);
  stack64(frame + 0x48, kReturn);
  RegisterContext ctx = seeded_context(va(0x1300), frame - 0x80);
  ctx.rbp = frame + 0x10;
  RegisterContext expected = ctx;
  const UnwindResult r = unwind(frag, ctx);
  expected.rbp = 0xB9B9;
  expected.rip = kReturn;
  expected.rsp = frame + 0x50;
  expect_context_eq(ctx, expected);
  EXPECT_EQ(r.establisher_frame, frame);

  // In a chained info's own prolog (a shrink-wrapped save not yet done) the
  // frame register is still the frame: the primary prolog has run.
  const RuntimeFunctionEntry saving = add_function(0x1400, 0x1440,
                                                   InfoSpec{.flags = kUnwFlagChainInfo,
                                                            .prolog = 5,
                                                            .frame_reg = RBP,
                                                            .frame_offset = 1,
                                                            .codes = {save_nonvol(5, RSI, 0x08)},
                                                            .chain = primary});
  ctx = seeded_context(va(0x1401), frame - 0x80);
  ctx.rbp = frame + 0x10;
  expected = ctx;
  const UnwindResult r2 = unwind(saving, ctx);
  expected.rbp = 0xB9B9;
  expected.rip = kReturn;
  expected.rsp = frame + 0x50;
  expect_context_eq(ctx, expected, "in the chained prolog");
  EXPECT_EQ(r2.establisher_frame, frame);
}

TEST_F(UnwindTest, ChainOf32InfosIsFollowed) {
  // 31 chained infos down to a primary: the limit is kMaxUnwindChain infos.
  RuntimeFunctionEntry next =
      add_function(0x1000, 0x1010, InfoSpec{.prolog = 1, .codes = {push_nonvol(1, RBX)}});
  for (int i = 1; i < kMaxUnwindChain; ++i)
    next = add_function(0x1000 + 0x10 * i, 0x1010 + 0x10 * i,
                        InfoSpec{.flags = kUnwFlagChainInfo, .chain = next});
  stack64(kRsp, 0xBBBB);
  stack64(kRsp + 8, kReturn);
  RegisterContext ctx = seeded_context(va(next.begin + 4), kRsp);
  unwind(next, ctx);
  EXPECT_EQ(ctx.rbx, 0xBBBBu);
  EXPECT_EQ(ctx.rip, kReturn);
  // One more level is beyond the bound.
  const RuntimeFunctionEntry deeper =
      add_function(0x3000, 0x3010, InfoSpec{.flags = kUnwFlagChainInfo, .chain = next});
  ctx = seeded_context(va(0x3004), kRsp);
  EXPECT_THROW(unwind(deeper, ctx), UnwindError);
}

// ---- language handlers ----

struct HandlerCase {
  uint8_t flags;
  uint32_t type;
  bool reported;
};

class HandlerFilterTest : public UnwindTest, public ::testing::WithParamInterface<HandlerCase> {};

TEST_P(HandlerFilterTest, ReportsTheHandlerOnlyForAMatchingType) {
  const HandlerCase c = GetParam();
  // Three code slots: the handler RVA follows a padded array of four.
  const RuntimeFunctionEntry fn = add_function(
      0x1000, 0x1100,
      InfoSpec{.flags = c.flags,
               .prolog = 5,
               .codes = {alloc_small(5, 0x28), push_nonvol(1, RBX), push_nonvol(1, RSI)},
               .handler = kHandlerRva,
               .handler_data = {0xAA, 0xBB, 0xCC, 0xDD}});
  stack64(kRsp + 0x38, kReturn);
  RegisterContext ctx = seeded_context(va(0x1040), kRsp);
  const UnwindResult r = unwind(fn, ctx, c.type);
  EXPECT_EQ(ctx.rip, kReturn);  // the frame is unwound whatever the filter says
  if (c.reported) {
    EXPECT_EQ(r.handler, kImageBase + kHandlerRva);
    EXPECT_EQ(r.handler_data, kImageBase + fn.unwind_info + 4 + 2 * 4 + 4);
    EXPECT_EQ(space.read<uint32_t>(r.handler_data), 0xDDCCBBAAu);
  } else {
    EXPECT_TRUE(r.handler.is_null());
    EXPECT_TRUE(r.handler_data.is_null());
  }
}

constexpr uint8_t kE = kUnwFlagEHandler;
constexpr uint8_t kU = kUnwFlagUHandler;
INSTANTIATE_TEST_SUITE_P(
    FlagsByType, HandlerFilterTest,
    ::testing::Values(HandlerCase{kE, kE, true}, HandlerCase{kE, kU, false},
                      HandlerCase{kE, kE | kU, true}, HandlerCase{kE, 0, false},
                      HandlerCase{kU, kE, false}, HandlerCase{kU, kU, true},
                      HandlerCase{kU, kE | kU, true}, HandlerCase{kE | kU, kE, true},
                      HandlerCase{kE | kU, kU, true}, HandlerCase{0, kE | kU, false},
                      HandlerCase{kE | kU, kUnwFlagChainInfo, false}));

TEST_F(UnwindTest, HandlerRvaFollowsAnEvenCodeArray) {
  // An even count (2) needs no padding slot; the handler follows at once.
  const RuntimeFunctionEntry fn =
      add_function(0x1000, 0x1100,
                   InfoSpec{.flags = kUnwFlagUHandler,
                            .prolog = 4,
                            .codes = {alloc_small(4, 0x20), push_nonvol(1, RBX)},
                            .handler = 0x1E00});
  stack64(kRsp + 0x28, kReturn);
  RegisterContext ctx = seeded_context(va(0x1010), kRsp);
  const UnwindResult r = unwind(fn, ctx, kUnwFlagUHandler);
  EXPECT_EQ(r.handler, kImageBase + 0x1E00);
  EXPECT_EQ(r.handler_data, kImageBase + fn.unwind_info + 4 + 2 * 2 + 4);
}

TEST_F(UnwindTest, NoHandlerInsideThePrologButAtItsEnd) {
  const RuntimeFunctionEntry fn = add_function(0x1000, 0x1100,
                                               InfoSpec{.flags = kUnwFlagEHandler,
                                                        .prolog = 4,
                                                        .codes = {alloc_small(4, 0x20)},
                                                        .handler = kHandlerRva});
  stack64(kRsp + 0x20, kReturn);
  for (uint32_t offset = 0; offset <= 4; ++offset) {
    // `sub rsp, 0x20` ends at offset 4.
    RegisterContext ctx = seeded_context(va(0x1000 + offset), offset < 4 ? kRsp + 0x20 : kRsp);
    const UnwindResult r = unwind(fn, ctx);
    EXPECT_EQ(r.handler.is_null(), offset < 4) << "offset " << offset;
    EXPECT_EQ(ctx.rip, kReturn);
    EXPECT_EQ(ctx.rsp, kRsp + 0x28);
  }
}

TEST_F(UnwindTest, WorksWithoutTableOrSizeThroughTheImageBaseOverload) {
  const RuntimeFunctionEntry fn = add_function(0x1000, 0x1100,
                                               InfoSpec{.flags = kUnwFlagEHandler,
                                                        .prolog = 1,
                                                        .codes = {push_nonvol(1, R14)},
                                                        .handler = kHandlerRva});
  stack64(kRsp, 0xE4E4);
  stack64(kRsp + 8, kReturn);
  RegisterContext ctx = seeded_context(va(0x1020), kRsp);
  const UnwindResult r = virtual_unwind(space, kImageBase, fn, ctx, kUnwFlagEHandler);
  EXPECT_EQ(ctx.r14, 0xE4E4u);
  EXPECT_EQ(ctx.rip, kReturn);
  EXPECT_EQ(ctx.rsp, kRsp + 16);
  EXPECT_EQ(r.handler, kImageBase + kHandlerRva);
}

// ---- version 2 ----

TEST_F(UnwindTest, Version2EpilogDescriptorsAreSkipped) {
  // UWOP_EPILOG header (size 5, at end of function) plus a descriptor, then
  // the prolog codes. Their offset bytes (5, 0x20) are not prolog offsets.
  const RuntimeFunctionEntry fn =
      add_function(0x1000, 0x1100,
                   InfoSpec{.version = 2,
                            .flags = kUnwFlagEHandler,
                            .prolog = 6,
                            .codes = {raw({node(5, 6, 1), node(0x20, 6, 0)}), alloc_small(6, 0x28),
                                      push_nonvol(2, RDI), push_nonvol(1, RBX)},
                            .handler = kHandlerRva});
  stack64(kRsp + 0x28, 0xD1D1);
  stack64(kRsp + 0x30, 0xBBBB);
  stack64(kRsp + 0x38, kReturn);
  for (uint32_t rip : {0x1006u, 0x1040u}) {
    RegisterContext ctx = seeded_context(va(rip), kRsp);
    RegisterContext expected = ctx;
    const UnwindResult r = unwind(fn, ctx);
    expected.rdi = 0xD1D1;
    expected.rbx = 0xBBBB;
    expected.rip = kReturn;
    expected.rsp = kRsp + 0x40;
    expect_context_eq(ctx, expected);
    EXPECT_EQ(r.handler, kImageBase + kHandlerRva);
  }
}

TEST_F(UnwindTest, Version2PaddingDescriptorIsSkipped) {
  // Header + two descriptors + a zero padding descriptor: an even count.
  const RuntimeFunctionEntry fn = add_function(
      0x1000, 0x1100,
      InfoSpec{.version = 2,
               .prolog = 1,
               .codes = {raw({node(1, 6, 0), node(0x30, 6, 0), node(0x10, 6, 0), node(0, 6, 0)}),
                         push_nonvol(1, R15)}});
  stack64(kRsp, 0xF5F5);
  stack64(kRsp + 8, kReturn);
  RegisterContext ctx = seeded_context(va(0x1040), kRsp);
  unwind(fn, ctx);
  EXPECT_EQ(ctx.r15, 0xF5F5u);
  EXPECT_EQ(ctx.rip, kReturn);
  EXPECT_EQ(ctx.rsp, kRsp + 16);
}

TEST_F(UnwindTest, Version2EpilogCodesTakeTwoSlotsLikeWindows) {
  // Windows' slot table gives UWOP_EPILOG two slots (compilers pad the
  // descriptors to an even count), so the slot after one is never a code,
  // even when its bits read as `push rbx`.
  const RuntimeFunctionEntry fn =
      add_function(0x1000, 0x1100,
                   InfoSpec{.version = 2,
                            .prolog = 1,
                            .codes = {raw({node(3, 6, 1), node(1, 0, RBX)}), push_nonvol(1, R12)}});
  stack64(kRsp, 0x1212);
  stack64(kRsp + 8, kReturn);
  RegisterContext ctx = seeded_context(va(0x1040), kRsp);
  RegisterContext expected = ctx;
  unwind(fn, ctx);
  expected.r12 = 0x1212;
  expected.rip = kReturn;
  expected.rsp = kRsp + 16;
  expect_context_eq(ctx, expected);
}

// ---- a walk over several frames ----

TEST_F(UnwindTest, WalksALeafAndTwoFramesBackToTheCaller) {
  // outer [0x1000,0x1100): push rbp; push rbx; sub rsp, 0x20 -> calls inner
  // inner [0x1100,0x1200): sub rsp, 0x48; movaps [rsp+0x30], xmm6 -> calls a
  // leaf at 0x1500 (no entry) which faults.
  add_function(0x1000, 0x1100,
               InfoSpec{.flags = kUnwFlagEHandler,
                        .prolog = 6,
                        .codes = {alloc_small(6, 0x20), push_nonvol(2, RBX), push_nonvol(1, RBP)},
                        .handler = kHandlerRva});
  add_function(0x1100, 0x1200,
               InfoSpec{.prolog = 9, .codes = {save_xmm128(9, 6, 0x30), alloc_small(4, 0x48)}});
  const uint64_t leaf_rsp = kRsp;
  const uint64_t inner_rsp = leaf_rsp + 8;
  const uint64_t outer_rsp = inner_rsp + 0x50;
  stack64(leaf_rsp, va(0x1150));  // return into inner
  stack_xmm(inner_rsp + 0x30, xmm_pattern(6));
  stack64(inner_rsp + 0x48, va(0x1050));  // return into outer
  stack64(outer_rsp + 0x20, 0xBBBB);
  stack64(outer_rsp + 0x28, 0xB9B9);
  stack64(outer_rsp + 0x30, kReturn);

  RegisterContext ctx = seeded_context(va(0x1500), leaf_rsp);
  std::vector<std::pair<uint64_t, uint64_t>> frames;  // (rip, establisher)
  std::vector<GuestVa> handlers;
  for (int guard = 0; guard < 8; ++guard) {
    if (ctx.rip < kImageBase.value || ctx.rip >= kImageBase.value + kImageSize) break;
    const RuntimeFunctionEntry* fn =
        lookup_function(table, static_cast<uint32_t>(ctx.rip - kImageBase.value));
    frames.emplace_back(ctx.rip, ctx.rsp);
    if (fn == nullptr) {
      unwind_leaf(space, ctx);
      continue;
    }
    const UnwindResult r = unwind(*fn, ctx, kUnwFlagEHandler);
    frames.back().second = r.establisher_frame;
    handlers.push_back(r.handler);
  }
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[0].first, va(0x1500));
  EXPECT_EQ(frames[1], std::pair(va(0x1150), inner_rsp));
  EXPECT_EQ(frames[2], std::pair(va(0x1050), outer_rsp));
  ASSERT_EQ(handlers.size(), 2u);
  EXPECT_TRUE(handlers[0].is_null());
  EXPECT_EQ(handlers[1], kImageBase + kHandlerRva);
  EXPECT_EQ(ctx.rip, kReturn);
  EXPECT_EQ(ctx.rsp, outer_rsp + 0x38);
  EXPECT_EQ(ctx.rbx, 0xBBBBu);
  EXPECT_EQ(ctx.rbp, 0xB9B9u);
  EXPECT_EQ(ctx.xmm[6], xmm_pattern(6));
}

}  // namespace
}  // namespace kemu::emu::test
