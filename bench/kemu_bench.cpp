// kemu's performance numbers on real sample drivers: what one API trap round
// trip costs, how long a whole small run takes, and how fast plain guest code
// executes, what one guest exception dispatch round trip costs, and how many
// client IOCTL round trips run per second. Each iteration of the run
// benchmarks is a fresh Session, as `kemu run` would do.
#include <chrono>
#include <cstdint>
#include <string>

#include <benchmark/benchmark.h>

#include "harness/run_result.h"
#include "harness/session.h"
#include "verifier/catalog.h"

namespace {

using kemu::harness::RunResult;
using kemu::harness::Session;
using kemu::harness::StopReason;

// samples/apiloop/apiloop.c APILOOP_CALLS.
constexpr uint64_t kApiLoopCalls = 1'000'000;

// samples/sehloop/sehloop.c SEHLOOP_ITERATIONS.
constexpr uint64_t kSehLoopIterations = 20'000;

std::string sample(const char* name) {
  return std::string(KEMU_SAMPLES_DIR) + "/" + name + ".sys";
}

// Runs the sample once; false (and the benchmark skipped with an error) when
// the run did not complete with STATUS_SUCCESS, so no number hides a failure.
bool run_ok(benchmark::State& state, const std::string& path, RunResult& out) {
  try {
    Session session;
    out = session.run(path);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return false;
  }
  if (out.stop.reason != StopReason::Completed || out.driver_entry_status != 0u) {
    state.SkipWithError(("run did not complete: " + out.stop.message).c_str());
    return false;
  }
  return true;
}

// (1) API trap round trip: apiloop.sys calls PsGetCurrentProcessId 1,000,000
// times from DriverEntry. The whole run is timed (load and unload included,
// nothing subtracted); ns/call = wall time of the runs / calls made.
void BM_ApiTrapRoundTrip(benchmark::State& state) {
  const std::string path = sample("apiloop");
  RunResult r;
  uint64_t api_calls = 0;
  std::chrono::steady_clock::duration wall{};
  for (auto _ : state) {
    auto start = std::chrono::steady_clock::now();
    if (!run_ok(state, path, r)) return;
    wall += std::chrono::steady_clock::now() - start;
    api_calls += r.stats.api_calls;
  }
  const double calls = static_cast<double>(kApiLoopCalls) * static_cast<double>(state.iterations());
  state.counters["calls/s"] = benchmark::Counter(calls, benchmark::Counter::kIsRate);
  state.counters["ns/call"] = std::chrono::duration<double, std::nano>(wall).count() / calls;
  state.counters["api_calls/run"] =
      benchmark::Counter(static_cast<double>(api_calls), benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_ApiTrapRoundTrip)->Unit(benchmark::kMillisecond)->UseRealTime();

// (2) load + DriverEntry + unload of hello.sys (target: under 5 ms).
void BM_HelloLoadEntryUnload(benchmark::State& state) {
  const std::string path = sample("hello");
  RunResult r;
  for (auto _ : state) {
    if (!run_ok(state, path, r)) return;
    benchmark::DoNotOptimize(r.stats.instructions);
  }
  state.counters["runs/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["instructions/run"] =
      benchmark::Counter(static_cast<double>(r.stats.instructions));
}
BENCHMARK(BM_HelloLoadEntryUnload)->Unit(benchmark::kMillisecond)->UseRealTime();

// (3) emulated instructions per second: compute.sys, ~155 million
// instructions of straight-line arithmetic and one DbgPrint.
void BM_ComputeInstructionsPerSecond(benchmark::State& state) {
  const std::string path = sample("compute");
  RunResult r;
  uint64_t instructions = 0;
  for (auto _ : state) {
    if (!run_ok(state, path, r)) return;
    instructions += r.stats.instructions;
  }
  state.counters["instructions/s"] =
      benchmark::Counter(static_cast<double>(instructions), benchmark::Counter::kIsRate);
  state.counters["instructions/run"] =
      benchmark::Counter(static_cast<double>(instructions), benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_ComputeInstructionsPerSecond)->Unit(benchmark::kMillisecond)->UseRealTime();

// (4) exception dispatch round trip: sehloop.sys raises
// STATUS_INSUFFICIENT_RESOURCES with ExRaiseStatus 20,000 times from a callee
// of a __try; each raise goes through the search phase (the __except filter
// runs in the guest), the unwind and the jump to the __except block. The
// whole run is timed (load and unload included, nothing subtracted), and the
// run must print that all 20,000 were filtered and handled.
void BM_ExceptionDispatchRoundTrip(benchmark::State& state) {
  const std::string path = sample("sehloop");
  const std::string expected = "sehloop: " + std::to_string(kSehLoopIterations) + " raised " +
                               std::to_string(kSehLoopIterations) + " filtered " +
                               std::to_string(kSehLoopIterations) + " handled";
  RunResult r;
  uint64_t instructions = 0;
  std::chrono::steady_clock::duration wall{};
  for (auto _ : state) {
    auto start = std::chrono::steady_clock::now();
    if (!run_ok(state, path, r)) return;
    wall += std::chrono::steady_clock::now() - start;
    if (r.debug_output.size() != 1 || r.debug_output[0] != expected) {
      state.SkipWithError("sehloop did not filter and handle every raise");
      return;
    }
    instructions += r.stats.instructions;
  }
  const double dispatches =
      static_cast<double>(kSehLoopIterations) * static_cast<double>(state.iterations());
  state.counters["dispatches/s"] = benchmark::Counter(dispatches, benchmark::Counter::kIsRate);
  state.counters["us/dispatch"] = std::chrono::duration<double, std::micro>(wall).count() / dispatches;
  state.counters["instructions/run"] =
      benchmark::Counter(static_cast<double>(instructions), benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_ExceptionDispatchRoundTrip)->Unit(benchmark::kMillisecond)->UseRealTime();

// (5) IOCTL round trip: the client's NtDeviceIoControlFile of methods.sys's
// METHOD_BUFFERED upper-case echo (IOCTL 0x80002000, 64 bytes in, 64 out):
// CTL_CODE check, system buffer, IRP, dispatch, IofCompleteRequest, copy-back
// of Information bytes, the client's output read back. One Session for the
// whole benchmark (load + DriverEntry + open outside the timed loop); every
// iteration is one round trip, checked for the exact bytes.
// Argument 1: every check on (the default run); 0: every check off (no
// verifier listening, the kernel publishes no events) — the verifier's cost
// is the ratio of the two.
void BM_IoctlRoundTrip(benchmark::State& state) {
  constexpr uint32_t kBufferedUpper = 0x80002000;  // samples/methods IOCTL_BUFFERED_UPPER
  kemu::harness::SessionOptions options;
  if (state.range(0) == 0)
    for (const auto& check : kemu::verifier::catalog()) options.disabled_checks.emplace_back(check.id);
  Session session(options);
  uint64_t handle = 0;
  try {
    session.load(sample("methods"));
    if (session.driver_entry() != std::optional<uint32_t>(0)) {
      state.SkipWithError("methods.sys DriverEntry failed");
      return;
    }
    auto o = session.open("\\\\.\\KemuMethods", 0xC0000000);
    if (o.status != std::optional<uint32_t>(0)) {
      state.SkipWithError("the client could not open KemuMethods");
      return;
    }
    handle = o.handle;
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  Session::IoctlRequest rq;
  rq.handle = handle;
  rq.code = kBufferedUpper;
  rq.input.assign(64, 'k');
  rq.output_length = 64;
  const std::vector<uint8_t> expected(64, 'K');
  for (auto _ : state) {
    Session::IoctlOutcome r = session.ioctl(rq);
    if (r.status != std::optional<uint32_t>(0) || r.information != 64 || r.output != expected) {
      state.SkipWithError("the echo did not come back upper-cased");
      return;
    }
  }
  state.counters["round_trips/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["us/round_trip"] = benchmark::Counter(
      static_cast<double>(state.iterations()), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_IoctlRoundTrip)->ArgName("checks")->Arg(1)->Arg(0)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
