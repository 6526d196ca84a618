// The unknown-request probe's pieces that need no machine: the control codes
// it sends and the wire format its findings travel in from the forked copy.
#include <gtest/gtest.h>

#include <set>

#include "harness/request_probe.h"

namespace {

using kemu::harness::decode_probe_result;
using kemu::harness::encode_probe_result;
using kemu::harness::unknown_control_codes;
using kemu::verifier::Finding;

TEST(RequestProbe, UnknownCodesVaryTypeFunctionMethodAndAccess) {
  std::vector<uint32_t> codes = unknown_control_codes(0x22);  // FILE_DEVICE_UNKNOWN
  ASSERT_EQ(codes, (std::vector<uint32_t>{0x00223FFC, 0x00225FFB, 0x0022AAF1, 0xEAD22002}));
  std::set<uint32_t> methods, access, types;
  for (uint32_t c : codes) {
    methods.insert(c & 3);
    access.insert((c >> 14) & 3);
    types.insert(c >> 16);
  }
  EXPECT_EQ(methods.size(), 4u);
  EXPECT_EQ(access, (std::set<uint32_t>{0, 1, 2}));
  EXPECT_EQ(types, (std::set<uint32_t>{0x22, 0xEAD2}));
  EXPECT_EQ(unknown_control_codes(0x22), codes) << "deterministic";
}

TEST(RequestProbe, FindingsSurviveTheTripFromTheCopy) {
  Finding f;
  f.check = "irp.use-after-cleanup";
  f.severity = "error";
  f.count = 3;
  f.title = "t";
  f.message = std::string("with a NUL \0 inside", 19);
  f.microsoft = "m";
  f.location = {"drv.sys", 0x1067, "SessionAdd", "add dword ptr [rcx], 1"};
  f.stack = {"drv.sys+0x10b8", "drv.sys+0x1000"};
  f.context.process = "client.exe";
  f.context.thread = 72;
  f.context.irql = 2;
  f.context.major = "IRP_MJ_DEVICE_CONTROL";
  f.context.ioctl = 0x80003080;
  f.values = {{"address", "0xffffc00000006610"}, {"size", "0x4"}};
  Finding bare;
  bare.check = "crash.bugcheck";
  std::string bytes = encode_probe_result(15, {f, bare});
  uint64_t requests = 0;
  std::vector<Finding> back;
  ASSERT_TRUE(decode_probe_result(bytes, &requests, &back));
  EXPECT_EQ(requests, 15u);
  ASSERT_EQ(back.size(), 2u);
  const Finding& g = back[0];
  EXPECT_EQ(g.check, f.check);
  EXPECT_EQ(g.count, 3u);
  EXPECT_EQ(g.message, f.message);
  EXPECT_EQ(g.location.offset, 0x1067u);
  EXPECT_EQ(g.location.symbol, "SessionAdd");
  EXPECT_EQ(g.location.instruction, f.location.instruction);
  EXPECT_EQ(g.stack, f.stack);
  EXPECT_EQ(g.context.thread, 72u);
  EXPECT_EQ(g.context.irql, 2u);
  EXPECT_EQ(g.context.major, f.context.major);
  EXPECT_EQ(g.context.ioctl, f.context.ioctl);
  EXPECT_EQ(g.values, f.values);
  EXPECT_FALSE(back[1].context.ioctl.has_value());
  // Cut short (the copy died while writing): what came whole is kept.
  std::vector<Finding> partial;
  EXPECT_FALSE(decode_probe_result(bytes.substr(0, bytes.size() - 3), &requests, &partial));
  EXPECT_EQ(partial.size(), 1u);
  EXPECT_FALSE(decode_probe_result("", &requests, &partial));
}

}  // namespace
