// kemu::nt::invoke<&fn>: the typed handler bridge of ntoskrnl-stubs/api/handler.h
// unpacks Win64 argument slots into typed parameters, truncating each slot to
// the declared width as the callee would, and writes the result to RAX.
#include "ntoskrnl-stubs/api/handler.h"

#include <gtest/gtest.h>

#include "ntoskrnl-stubs/kernel.h"
#include "unit/emulator/machine_harness.h"

namespace kemu::nt {
namespace {

using emu::test::TestMachine;

struct Seen {
  int calls = 0;
  Kernel* kernel = nullptr;
  uint8_t a = 0;
  uint32_t b = 0;
  GuestVa c;
  bool d = true;
  uint64_t e = 0;
  int32_t f = 0;
  uint16_t g = 0;
  bool h = false;
  GuestVa i;
  int8_t j = 0;
};
Seen g_seen;

int32_t TenParameters(Kernel& k, uint8_t a, uint32_t b, GuestVa c, bool d, uint64_t e, int32_t f,
                      uint16_t g, bool h, GuestVa i, int8_t j) {
  g_seen = {g_seen.calls + 1, &k, a, b, c, d, e, f, g, h, i, j};
  return static_cast<int32_t>(0xC0000001u);  // STATUS_UNSUCCESSFUL
}

GuestVa Identity(Kernel&, GuestVa va) {
  return va;
}
bool Negate(Kernel&, bool b) {
  return !b;
}
uint8_t LowByte(Kernel&, uint64_t v) {
  return static_cast<uint8_t>(v);
}

int g_void_calls = 0;
uint32_t g_void_arg = 0;
void NoResult(Kernel&, uint32_t v) {
  ++g_void_calls;
  g_void_arg = v;
}

static_assert(arity<&TenParameters>() == 10);
static_assert(arity<&NoResult>() == 1);

// Routes a trap to one typed handler.
struct InvokeTarget : emu::TrapTarget {
  Kernel* kernel = nullptr;
  HandlerFn fn = nullptr;
  void on_trap(emu::Machine&, uint32_t) override { fn(*kernel); }
};

class HandlerInvokeTest : public ::testing::Test {
 protected:
  HandlerInvokeTest() : t({}, false), kernel(t.m) { g_seen = {}; }

  // Calls `fn` through a thunk with `args`; returns the guest's RAX minus 0x11.
  std::optional<uint64_t> call(HandlerFn fn, const std::vector<uint64_t>& args) {
    auto target = std::make_unique<InvokeTarget>();
    target->kernel = &kernel;
    target->fn = fn;
    GuestVa thunk = t.thunk(*target, 1);
    GuestVa code = emu::test::place_win64_call(t, thunk, static_cast<unsigned>(args.size()), args);
    targets.push_back(std::move(target));
    auto r = t.m.call(code, {});
    if (!r) return std::nullopt;
    return *r - 0x11;
  }

  TestMachine t;
  Kernel kernel;
  std::vector<std::unique_ptr<InvokeTarget>> targets;
};

TEST_F(HandlerInvokeTest, TenTypedParametersAreTruncatedFromDirtySlotsAsTheCalleeWould) {
  std::vector<uint64_t> slots = {
      0xDEAD'BEEF'CAFE'F00Dull,  // uint8_t  -> 0x0D
      0xFFFF'FFFF'1234'5678ull,  // uint32_t -> 0x12345678
      0xFFFF'F806'1234'5678ull,  // GuestVa  -> all 64 bits
      0xFFFF'FFFF'FFFF'FF00ull,  // bool     -> false: a BOOLEAN is its low byte
      0x8000'0000'0000'0001ull,  // uint64_t -> all 64 bits
      0x1111'1111'FFFF'FFFEull,  // int32_t  -> -2
      0xAAAA'BBBB'CCCC'1234ull,  // uint16_t -> 0x1234
      0x0000'0000'0000'0101ull,  // bool     -> true
      0x0000'7FFF'0000'1000ull,  // GuestVa
      0x5555'5555'5555'5580ull,  // int8_t   -> -128
  };
  auto rax = call(&invoke<&TenParameters>, slots);
  ASSERT_TRUE(rax.has_value()) << t.m.stop()->message;
  ASSERT_EQ(g_seen.calls, 1);
  EXPECT_EQ(g_seen.kernel, &kernel);
  EXPECT_EQ(g_seen.a, 0x0D);
  EXPECT_EQ(g_seen.b, 0x12345678u);
  EXPECT_EQ(g_seen.c, GuestVa{0xFFFF'F806'1234'5678ull});
  EXPECT_FALSE(g_seen.d);
  EXPECT_EQ(g_seen.e, 0x8000'0000'0000'0001ull);
  EXPECT_EQ(g_seen.f, -2);
  EXPECT_EQ(g_seen.g, 0x1234);
  EXPECT_TRUE(g_seen.h);
  EXPECT_EQ(g_seen.i, GuestVa{0x0000'7FFF'0000'1000ull});
  EXPECT_EQ(g_seen.j, -128);
  // A signed 32-bit result (an NTSTATUS) is sign-extended into RAX.
  EXPECT_EQ(*rax, 0xFFFF'FFFF'C000'0001ull);
}

TEST_F(HandlerInvokeTest, GuestVaBoolAndNarrowResultsAreWidenedIntoRax) {
  EXPECT_EQ(call(&invoke<&Identity>, {0xFFFF'F806'0000'1234ull}), 0xFFFF'F806'0000'1234ull);
  EXPECT_EQ(call(&invoke<&Negate>, {0xFF00}), 1u) << "low byte 0 is FALSE";
  EXPECT_EQ(call(&invoke<&Negate>, {0x01}), 0u);
  EXPECT_EQ(call(&invoke<&LowByte>, {0x1234'5678'9ABC'DEF0ull}), 0xF0u) << "zero-extended";
}

TEST_F(HandlerInvokeTest, AVoidHandlerRunsWithItsArgument) {
  g_void_calls = 0;
  ASSERT_TRUE(call(&invoke<&NoResult>, {0xFFFF'FFFF'0000'0007ull}).has_value());
  EXPECT_EQ(g_void_calls, 1);
  EXPECT_EQ(g_void_arg, 7u);
}

}  // namespace
}  // namespace kemu::nt
