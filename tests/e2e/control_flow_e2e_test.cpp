// End-to-end control flow through the C++ API: structured exception handling
// (samples/seh), bug checks (samples/crash), the deterministic scheduler and
// unload leftovers (samples/sched), and the exception-dispatch benchmark's
// driver (samples/sehloop). Each sample runs in a fresh kemu::harness::Session
// and the RunResult must say exactly what the sample's README states.
//
// Bug check parameters are checked against semantics.md §4/§6 and Microsoft's
// bug check reference (learn.microsoft.com/windows-hardware/drivers/debugger/
// bug-check-0x...). Code offsets inside the samples are never hard-coded (they
// change with the compiler): locations are checked by module, instruction
// text, stack shape, and by agreement between the parameters, the location
// and the registers.
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "e2e/e2e_paths.h"
#include "harness/run_result.h"
#include "harness/session.h"
#include "report/json_report.h"

namespace kemu::e2e {
namespace {

using harness::BugcheckInfo;
using harness::RunResult;
using harness::Session;
using harness::StopReason;
using ::testing::ElementsAre;
using ::testing::Each;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;
using ::testing::Not;
using ::testing::StartsWith;

constexpr uint32_t kStatusSuccess = 0x00000000;
constexpr uint64_t kSystemRangeStart = 0xFFFF800000000000;  // semantics.md §1
constexpr uint64_t kBadKernelAddress = 0xFFFF8000DEAD0000;  // samples/crash/crash.c
constexpr uint32_t kStatusInsufficientResources = 0xC000009A;

RunResult run_sample(const std::string& name) {
  Session session;
  return session.run(sample(name));
}

std::string describe(const RunResult& r) {
  return report::render_json(r);
}

// "module+0x<hex>" for an address of the driver image, as frames are written.
std::string frame_regex(const std::string& module) {
  std::string escaped;
  for (char c : module) {
    if (c == '.' || c == '(' || c == ')') escaped += '\\';
    escaped += c;
  }
  return escaped + "\\+0x[0-9a-f]+";
}

std::string hex(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

uint64_t register_value(const BugcheckInfo& b, const std::string& name) {
  for (const auto& [n, v] : b.registers)
    if (n == name) return v;
  ADD_FAILURE() << "no register " << name << " in the bugcheck";
  return 0;
}

bool in_image(const RunResult& r, uint64_t va) {
  return va >= r.driver.image_base && va < r.driver.image_base + r.driver.image_size;
}

// ================================================================== seh

class E2eSeh : public ::testing::TestWithParam<const char*> {};

// README: the five lines in this order, STATUS_SUCCESS; nothing crashes.
TEST_P(E2eSeh, FiltersFinallyAndHandlersRunInWindowsOrder) {
  RunResult r = run_sample(GetParam());
  SCOPED_TRACE(describe(r));
  EXPECT_EQ(r.stop.reason, StopReason::Completed);
  EXPECT_FALSE(r.stop.bugcheck.has_value());
  ASSERT_TRUE(r.driver_entry_status.has_value());
  EXPECT_EQ(*r.driver_entry_status, kStatusSuccess);
  EXPECT_THAT(r.debug_output,
              ElementsAre("seh: nested order abFH",  // both filters, then the inner __finally, then H
                          "seh: caught two frames up 0xc000009a",  // STATUS_INSUFFICIENT_RESOURCES
                          "seh: divide by zero 0xc0000094",        // STATUS_INTEGER_DIVIDE_BY_ZERO
                          "seh: breakpoints continued",            // int3 x2, no debugger: go on
                          "seh: finally on normal exit n"));       // AbnormalTermination() == FALSE
  EXPECT_THAT(r.unimplemented, IsEmpty());
}

INSTANTIATE_TEST_SUITE_P(O2AndO0, E2eSeh, ::testing::Values("seh", "seh_O0"));

// ================================================================== crash

// README: every crash sample prints "crash: start" and never "crash: survived";
// DriverEntry never returns and the run stops with a bugcheck.
void expect_crash_shape(const RunResult& r) {
  EXPECT_EQ(r.stop.reason, StopReason::Bugcheck);
  EXPECT_FALSE(r.driver_entry_status.has_value());
  EXPECT_THAT(r.debug_output, ElementsAre("crash: start"));
  EXPECT_THAT(r.debug_output, Not(::testing::Contains("crash: survived")));
  EXPECT_FALSE(r.unload.called);
}

// 0x50 PAGE_FAULT_IN_NONPAGED_AREA (Microsoft, bug-check-0x50): P1 memory
// referenced; P2 on x64 after Windows 1507: 0 read, 2 write, 0x10 execute;
// P3 address that referenced memory; P4 type of page fault (0x2 =
// NONPAGED_BUGCHECK_NOT_PRESENT_PAGE_TABLE: no valid page table entry).
TEST(E2eCrash, KernelWriteIs0x50AtTheStoreInPoke) {
  const std::string module = "crash_kernel_write.sys";
  RunResult r = run_sample("crash_kernel_write");
  SCOPED_TRACE(describe(r));
  expect_crash_shape(r);
  ASSERT_TRUE(r.stop.bugcheck.has_value());
  const BugcheckInfo& b = *r.stop.bugcheck;
  EXPECT_EQ(b.code, 0x50u);
  EXPECT_EQ(b.name, "PAGE_FAULT_IN_NONPAGED_AREA");
  EXPECT_EQ(b.params[0], kBadKernelAddress);
  EXPECT_EQ(b.params[1], 2u);  // write
  EXPECT_EQ(b.params[2], r.driver.image_base + b.offset) << "P3 must be the faulting store";
  EXPECT_EQ(b.params[3], 2u);  // NONPAGED_BUGCHECK_NOT_PRESENT_PAGE_TABLE

  // At the store in poke: a 64-bit store through a register.
  EXPECT_EQ(b.module, module);
  EXPECT_THAT(b.instruction, MatchesRegex("mov qword ptr \\[[a-z0-9]+\\], .+"));
  EXPECT_EQ(register_value(b, "rip"), r.driver.image_base + b.offset);
  EXPECT_TRUE(in_image(r, b.params[2]));
  // Stack poke <- corrupt <- DriverEntry: three frames, all in the driver,
  // the first being the location itself.
  ASSERT_EQ(b.stack.size(), 3u);
  EXPECT_THAT(b.stack, Each(MatchesRegex(frame_regex(module))));
  EXPECT_EQ(b.stack[0], module + "+" + hex(b.offset));
  EXPECT_NE(b.stack[1], b.stack[2]);
}

// KEMU BUG (symbolisation): poke is a leaf function without a .pdata entry;
// kemu names the location by the nearest lower symbol, DriverEntry, although
// DriverEntry's RUNTIME_FUNCTION ends before the fault (README: "at poke").
TEST(E2eCrash, KernelWriteLocationIsNotAttributedToDriverEntry) {
  RunResult r = run_sample("crash_kernel_write");
  SCOPED_TRACE(describe(r));
  ASSERT_TRUE(r.stop.bugcheck.has_value());
  EXPECT_NE(r.stop.bugcheck->symbol, "DriverEntry")
      << "the faulting store is in poke, past the end of DriverEntry's .pdata range";
}

// 0x7E SYSTEM_THREAD_EXCEPTION_NOT_HANDLED (Microsoft, bug-check-0x7e;
// semantics.md §4: DriverEntry runs in a system thread): P1 the exception
// code, P2 the address where the exception occurred, P3 the exception record,
// P4 the context record. ExRaiseStatus's exception address is the return
// address in its caller (RtlRaiseStatus unwinds one frame), i.e. just after
// the call in DriverEntry.
TEST(E2eCrash, UnhandledRaiseIs0x7EAtTheCallInDriverEntry) {
  const std::string module = "crash_unhandled.sys";
  RunResult r = run_sample("crash_unhandled");
  SCOPED_TRACE(describe(r));
  expect_crash_shape(r);
  ASSERT_TRUE(r.stop.bugcheck.has_value());
  const BugcheckInfo& b = *r.stop.bugcheck;
  EXPECT_EQ(b.code, 0x7Eu);
  EXPECT_EQ(b.name, "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED");
  EXPECT_EQ(b.params[0], kStatusInsufficientResources);
  // P2: the return address of the call (a call is 2 to 7 bytes long).
  const uint64_t call_site = r.driver.image_base + b.offset;
  EXPECT_GT(b.params[1], call_site);
  EXPECT_LE(b.params[1], call_site + 7);
  // P3, P4: two distinct kernel-space records (on the thread's stack).
  EXPECT_GE(b.params[2], kSystemRangeStart);
  EXPECT_GE(b.params[3], kSystemRangeStart);
  EXPECT_NE(b.params[2], b.params[3]);
  EXPECT_NE(b.params[2], 0u);

  // Location: the driver's call to ExRaiseStatus, in DriverEntry.
  EXPECT_EQ(b.module, module);
  EXPECT_EQ(b.symbol, "DriverEntry");
  EXPECT_THAT(b.instruction, StartsWith("call "));
  EXPECT_GE(call_site, r.driver.entry);
  ASSERT_EQ(b.stack.size(), 1u);
  EXPECT_EQ(b.stack[0], module + "+" + hex(b.offset));
  EXPECT_THAT(r.stop.message, HasSubstr("0xc000009a"));
}

// 0xD1 DRIVER_IRQL_NOT_LESS_OR_EQUAL (Microsoft, bug-check-0xd1): P1 memory
// referenced, P2 IRQL at the time (DISPATCH_LEVEL), P3 0 read / 1 write /
// 2 or 8 execute, P4 address that referenced memory.
TEST(E2eCrash, PageFaultAtDispatchIs0xD1AtTheStore) {
  const std::string module = "crash_irql.sys";
  RunResult r = run_sample("crash_irql");
  SCOPED_TRACE(describe(r));
  expect_crash_shape(r);
  ASSERT_TRUE(r.stop.bugcheck.has_value());
  const BugcheckInfo& b = *r.stop.bugcheck;
  EXPECT_EQ(b.code, 0xD1u);
  EXPECT_EQ(b.name, "DRIVER_IRQL_NOT_LESS_OR_EQUAL");
  EXPECT_EQ(b.params[0], kBadKernelAddress);
  EXPECT_EQ(b.params[1], 2u);  // DISPATCH_LEVEL
  EXPECT_EQ(b.params[2], 1u);  // write
  EXPECT_EQ(b.params[3], r.driver.image_base + b.offset) << "P4 must be the faulting store";

  EXPECT_EQ(b.module, module);
  EXPECT_THAT(b.instruction, MatchesRegex("mov qword ptr \\[[a-z0-9]+\\], .+"));
  EXPECT_EQ(register_value(b, "rip"), b.params[3]);
  // poke <- corrupt <- DriverEntry, as for crash_kernel_write.
  ASSERT_EQ(b.stack.size(), 3u);
  EXPECT_THAT(b.stack, Each(MatchesRegex(frame_regex(module))));
  EXPECT_EQ(b.stack[0], module + "+" + hex(b.offset));
}

// A driver-called KeBugCheckEx: the driver's code and parameters, unchanged.
TEST(E2eCrash, KeBugCheckExReportsTheDriversCodeAndParameters) {
  const std::string module = "crash_bugcheckex.sys";
  RunResult r = run_sample("crash_bugcheckex");
  SCOPED_TRACE(describe(r));
  expect_crash_shape(r);
  ASSERT_TRUE(r.stop.bugcheck.has_value());
  const BugcheckInfo& b = *r.stop.bugcheck;
  EXPECT_EQ(b.code, 0xDEADu);
  EXPECT_EQ(b.name, "");  // not a Windows bug check code: no name
  EXPECT_EQ(b.params[0], 1u);
  EXPECT_EQ(b.params[1], 2u);
  EXPECT_EQ(b.params[2], 3u);
  EXPECT_EQ(b.params[3], 4u);
  // cli.md: the location is where the KeBugCheckEx call happened.
  EXPECT_EQ(b.module, module);
  EXPECT_EQ(b.symbol, "DriverEntry");
  EXPECT_THAT(b.instruction, StartsWith("call "));
  ASSERT_EQ(b.stack.size(), 1u);
  EXPECT_EQ(b.stack[0], module + "+" + hex(b.offset));
}

// ================================================================== sched

class E2eSched : public ::testing::TestWithParam<const char*> {};

// README: the thread, the timer DPC (three ticks), the work item and
// DriverEntry interleave as ETSDDDPWtX; STATUS_SUCCESS; nothing left queued.
TEST_P(E2eSched, CooperationTraceIsDeterministic) {
  RunResult r = run_sample(GetParam());
  SCOPED_TRACE(describe(r));
  EXPECT_EQ(r.stop.reason, StopReason::Completed);
  ASSERT_TRUE(r.driver_entry_status.has_value());
  EXPECT_EQ(*r.driver_entry_status, kStatusSuccess);
  EXPECT_THAT(r.debug_output,
              ElementsAre("sched: thread handle is a kernel handle, reference 0x00000000",
                          "sched: trace ETSDDDPWtX"));
  EXPECT_THAT(r.unload.timers_left, IsEmpty());
  EXPECT_THAT(r.unload.dpcs_left, IsEmpty());
  EXPECT_THAT(r.unload.work_items_left, IsEmpty());
  EXPECT_THAT(r.unload.threads_left, IsEmpty());
  EXPECT_THAT(r.devices, IsEmpty());  // IoDeleteDevice before returning
  EXPECT_THAT(r.unimplemented, IsEmpty());
}

INSTANTIATE_TEST_SUITE_P(O2AndO0, E2eSched, ::testing::Values("sched", "sched_O0"));

TEST(E2eSchedTimeout, WaitWithTimeoutReturnsStatusTimeout) {
  RunResult r = run_sample("sched_timeout");
  SCOPED_TRACE(describe(r));
  EXPECT_EQ(r.stop.reason, StopReason::Completed);
  ASSERT_TRUE(r.driver_entry_status.has_value());
  EXPECT_EQ(*r.driver_entry_status, kStatusSuccess);
  EXPECT_THAT(r.debug_output, ElementsAre("sched: wait with timeout returned 0x00000102"));
}

TEST(E2eSchedDeadlock, AWaitNothingCanSatisfyEndsTheRunAsDeadlock) {
  RunResult r = run_sample("sched_deadlock");
  SCOPED_TRACE(describe(r));
  EXPECT_EQ(r.stop.reason, StopReason::Deadlock);
  EXPECT_FALSE(r.stop.bugcheck.has_value());
  EXPECT_FALSE(r.driver_entry_status.has_value());
  EXPECT_THAT(r.debug_output, ElementsAre("sched: waiting for an event nobody sets"));
}

// 0xCE DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS (Microsoft,
// bug-check-0xce): P1 memory address referenced, P2 0 read / 1 write, P3
// address that referenced memory, P4 reserved. The pool timer fires after
// unload and its DPC routine (in the unloaded image) is executed: P1 = P3 =
// the routine, P2 = 0 (the documentation lists only read and write; an
// instruction fetch is a read).
TEST(E2eSchedLeakTimer, PoolTimerFiringAfterUnloadIs0xCE) {
  const std::string module = "sched_leak_timer.sys";
  RunResult r = run_sample("sched_leak_timer");
  SCOPED_TRACE(describe(r));
  ASSERT_TRUE(r.driver_entry_status.has_value());
  EXPECT_EQ(*r.driver_entry_status, kStatusSuccess);
  EXPECT_THAT(r.debug_output, ElementsAre("sched: timer set for 1 s",
                                          "sched: unload without cancelling the timer"));
  EXPECT_TRUE(r.unload.has_unload_routine);
  EXPECT_TRUE(r.unload.called);

  EXPECT_EQ(r.stop.reason, StopReason::Bugcheck);
  ASSERT_TRUE(r.stop.bugcheck.has_value());
  const BugcheckInfo& b = *r.stop.bugcheck;
  EXPECT_EQ(b.code, 0xCEu);
  EXPECT_EQ(b.name, "DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS");
  EXPECT_TRUE(in_image(r, b.params[0])) << "P1 must be the DPC routine in the unloaded image";
  EXPECT_EQ(b.params[1], 0u);
  EXPECT_EQ(b.params[2], b.params[0]);
  EXPECT_EQ(b.params[3], 0u);
  const uint64_t routine_rva = b.params[0] - r.driver.image_base;

  // Where: the DPC routine, in the image kemu marks as unloaded.
  EXPECT_EQ(b.module, module + " (unloaded)");
  EXPECT_EQ(b.offset, routine_rva);
  ASSERT_EQ(b.stack.size(), 1u);
  EXPECT_EQ(b.stack[0], module + " (unloaded)+" + hex(routine_rva));

  // The leftover: one pool timer (not in the image) naming that DPC routine.
  ASSERT_EQ(r.unload.timers_left.size(), 1u);
  EXPECT_THAT(r.unload.timers_left[0], StartsWith("timer at 0x"));
  EXPECT_THAT(r.unload.timers_left[0], HasSubstr("due in 1000 ms"));
  EXPECT_THAT(r.unload.timers_left[0], HasSubstr("DPC routine " + module + "+" + hex(routine_rva)));
  EXPECT_THAT(r.unload.dpcs_left, IsEmpty());
  EXPECT_THAT(r.unload.work_items_left, IsEmpty());
  EXPECT_THAT(r.unload.threads_left, IsEmpty());

  // True positives of the pool and unload checks: the KTIMER and KDPC blocks
  // are never freed, and the timer is still queued at unload.
  std::set<std::string> checks;
  for (const auto& f : r.findings) checks.insert(f.check);
  EXPECT_EQ(checks, (std::set<std::string>{"crash.bugcheck", "pool.leak", "unload.leftovers"}));
  size_t leaks = 0;
  for (const auto& f : r.findings)
    if (f.check == "pool.leak") ++leaks;
  EXPECT_EQ(leaks, 2u);  // the timer's block and the DPC's, two allocation sites
}

// 0xC7 TIMER_OR_DPC_INVALID (Microsoft, bug-check-0xc7), P1 = 0: a timer
// object in a block of memory being freed; P2 the timer object, P3 and P4 the
// start and end of the range checked (the driver image).
TEST(E2eSchedLeakTimerInImage, QueuedTimerInTheImageIs0xC7AtUnload) {
  const std::string module = "sched_leak_timer_in_image.sys";
  RunResult r = run_sample("sched_leak_timer_in_image");
  SCOPED_TRACE(describe(r));
  ASSERT_TRUE(r.driver_entry_status.has_value());
  EXPECT_EQ(*r.driver_entry_status, kStatusSuccess);
  EXPECT_THAT(r.debug_output, ElementsAre("sched: timer in the image set for 1 s",
                                          "sched: unload without cancelling the timer"));
  EXPECT_TRUE(r.unload.called);

  EXPECT_EQ(r.stop.reason, StopReason::Bugcheck);
  ASSERT_TRUE(r.stop.bugcheck.has_value());
  const BugcheckInfo& b = *r.stop.bugcheck;
  EXPECT_EQ(b.code, 0xC7u);
  EXPECT_EQ(b.name, "TIMER_OR_DPC_INVALID");
  EXPECT_EQ(b.params[0], 0u);  // a timer object
  EXPECT_TRUE(in_image(r, b.params[1])) << "P2 must be the timer, a global of the image";
  EXPECT_EQ(b.params[2], r.driver.image_base);
  EXPECT_EQ(b.params[3], r.driver.image_base + r.driver.image_size);

  ASSERT_EQ(r.unload.timers_left.size(), 1u);
  EXPECT_THAT(r.unload.timers_left[0],
              StartsWith("timer at " + module + "+" + hex(b.params[1] - r.driver.image_base) + " "));
  EXPECT_THAT(r.unload.timers_left[0], MatchesRegex(".*, DPC routine " + frame_regex(module)));
  // True positive of unload.leftovers (the queued timer), before the 0xC7.
  std::set<std::string> checks;
  for (const auto& f : r.findings) checks.insert(f.check);
  EXPECT_EQ(checks, (std::set<std::string>{"crash.bugcheck", "unload.leftovers"}));
}

// KEMU BUG (0xC7 location): the check runs in kemu after DriverUnload
// returned, with no guest code running. kemu reports the timer object (data)
// as the faulting instruction, disassembles it, and walks a stack from a
// zeroed register context, giving bare "0x0" frames.
TEST(E2eSchedLeakTimerInImage, LocationIsNotTheTimerObjectAndStackHasNoBogusFrames) {
  RunResult r = run_sample("sched_leak_timer_in_image");
  SCOPED_TRACE(describe(r));
  ASSERT_TRUE(r.stop.bugcheck.has_value());
  const BugcheckInfo& b = *r.stop.bugcheck;
  EXPECT_NE(r.driver.image_base + b.offset, b.params[1])
      << "the location is the timer object, a data address, not an instruction";
  EXPECT_THAT(b.stack, Each(Not(::testing::Eq(std::string("0x0")))));
  EXPECT_THAT(b.stack, Each(MatchesRegex("[A-Za-z0-9_.]+( \\(unloaded\\))?\\+0x[0-9a-f]+")));
}

// ================================================================== sehloop

// The benchmark's driver (samples/sehloop/README.md).
TEST(E2eSehLoop, EveryRaiseIsFilteredAndHandled) {
  RunResult r = run_sample("sehloop");
  SCOPED_TRACE(describe(r));
  EXPECT_EQ(r.stop.reason, StopReason::Completed);
  ASSERT_TRUE(r.driver_entry_status.has_value());
  EXPECT_EQ(*r.driver_entry_status, kStatusSuccess);
  EXPECT_THAT(r.debug_output, ElementsAre("sehloop: 20000 raised 20000 filtered 20000 handled"));
  EXPECT_GE(r.stats.api_calls, 20'001u);
}

// ================================================================== determinism

// Two runs in fresh Sessions: the rendered JSON reports are byte-identical
// once stats.wall_ms (the only wall-clock value) is removed.
std::string report_without_wall_ms(const std::string& name) {
  RunResult r = run_sample(name);
  std::string json = report::render_json(r);
  static const std::regex kWallMs(",\\s*\"wall_ms\":\\s*[0-9]+");
  auto matches = std::distance(std::sregex_iterator(json.begin(), json.end(), kWallMs),
                               std::sregex_iterator());
  EXPECT_EQ(matches, 1) << json;
  return std::regex_replace(json, kWallMs, "");
}

class E2eDeterminism : public ::testing::TestWithParam<const char*> {};

TEST_P(E2eDeterminism, TwoRunsGiveByteIdenticalReports) {
  std::string first = report_without_wall_ms(GetParam());
  std::string second = report_without_wall_ms(GetParam());
  EXPECT_EQ(first, second);
  EXPECT_THAT(first, Not(HasSubstr("wall_ms")));
}

INSTANTIATE_TEST_SUITE_P(SehAndSched, E2eDeterminism, ::testing::Values("seh", "sched"));

// Every bugcheck is also the finding crash.bugcheck, located at the faulting
// instruction, with the context it happened in (checks.md).
TEST(E2eFindings, ABugcheckIsTheFindingCrashBugcheck) {
  Session session;
  const RunResult& r = session.run(sample("crash_kernel_write"));
  ASSERT_EQ(r.findings.size(), 1u);
  const auto& f = r.findings[0];
  EXPECT_EQ(f.check, "crash.bugcheck");
  EXPECT_EQ(f.severity, "error");
  EXPECT_THAT(f.title, ::testing::HasSubstr("PAGE_FAULT_IN_NONPAGED_AREA"));
  ASSERT_TRUE(r.stop.bugcheck.has_value());
  EXPECT_EQ(f.location.module, "crash_kernel_write.sys");
  EXPECT_EQ(f.location.offset, r.stop.bugcheck->offset);
  EXPECT_EQ(f.context.process, "System");  // DriverEntry runs in a system thread
  EXPECT_EQ(f.context.irql, 0u);
  EXPECT_EQ(f.stack, r.stop.bugcheck->stack);
}

TEST(E2eFindings, BreakpointsWithoutADebuggerAreRecordedAndTheRunGoesOn) {
  Session session;
  const RunResult& r = session.run(sample("seh"));
  EXPECT_TRUE(r.findings.empty());
  ASSERT_EQ(r.breakpoints.size(), 2u);  // DbgBreakPoint() and __debugbreak()
  for (const auto& bp : r.breakpoints) EXPECT_THAT(bp, ::testing::StartsWith("seh.sys+0x"));
}

}  // namespace
}  // namespace kemu::e2e
