// End-to-end: samples/events drives event objects by handle from a dispatch
// routine in the client's context: named kernel events (OBJ_KERNEL_HANDLE,
// OBJ_OPENIF, collisions, case-insensitive opens, RootDirectory), set /
// clear / reset / pulse with previous states, waits with timeouts, the
// Nt-vs-Zw previous-mode rule, a client event handle validated as UserMode,
// and a KernelMode ZwDuplicateObject into the System process.
#include <array>
#include <cstring>

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "e2e_paths.h"
#include "harness/scenario.h"
#include "harness/session.h"

namespace {

using kemu::harness::Session;

constexpr uint32_t kKernelEvents = 0x80002000;
constexpr uint32_t kSignalClient = 0x80002004;
constexpr uint32_t kDupToSystem = 0x80002008;

constexpr uint64_t kSuccess = 0x00000000, kTimeout = 0x00000102, kNameExists = 0x40000000;
constexpr uint64_t kNameCollision = 0xC0000035, kNameNotFound = 0xC0000034,
                   kInvalidHandle = 0xC0000008;
constexpr uint64_t kAccessViolation = 0xC0000005, kAccessDenied = 0xC0000022,
                   kTypeMismatch = 0xC0000024, kInvalidParameter = 0xC000000D;
constexpr uint32_t kEventAllAccess = 0x1F0003, kSynchronize = 0x100000;

struct EventsReport {
  uint64_t create_status, create_handle;
  uint64_t openif_status, openif_handle;
  uint64_t collision_status;
  uint64_t open_status, open_handle;
  uint64_t open_missing_status;
  uint64_t wait_unsignalled_status;
  uint64_t set_status, set_previous;
  uint64_t set_again_previous;
  uint64_t wait_signalled_status;
  uint64_t clear_status, wait_cleared_status;
  uint64_t pulse_status, pulse_previous;
  uint64_t reset_previous, final_state;
  uint64_t same_object;
  uint64_t user_mode_reference_status;
  uint64_t nt_set_status;
  uint64_t previous_mode_after_zw;
  uint64_t relative_create_status;
  uint64_t relative_open_status;
  uint64_t io_notification_present, io_notification_state, io_notification_handle;
  uint64_t io_synchronization_same_event;
  uint64_t reopen_after_close_status;
  uint64_t by_pointer_kernel_other_type, by_pointer_user_other_type, by_pointer_user_null_type;
};
static_assert(sizeof(EventsReport) == 264);

struct DupReply {
  uint64_t open_system_status, dup_status, kernel_handle, same_object, user_mode_reference_status,
      signal_status, dup_into_client_status, close_status;
};

// A kernel handle: bit 31 set and sign-extended, a multiple of 4, not 0.
bool is_kernel_handle(uint64_t h) {
  return (h & 0xFFFFFFFF80000000ull) == 0xFFFFFFFF80000000ull && (h & 3) == 0 &&
         (h & 0x7FFFFFFF) != 0;
}

std::vector<uint8_t> u64s(std::initializer_list<uint64_t> values) {
  std::vector<uint8_t> out;
  for (uint64_t v : values) {
    uint8_t b[8];
    std::memcpy(b, &v, 8);
    out.insert(out.end(), b, b + 8);
  }
  return out;
}

class E2eEvents : public ::testing::Test {
 protected:
  void SetUp() override {
    session_.load(kemu::e2e::sample("events"));
    ASSERT_EQ(session_.driver_entry(), 0u);
    auto o = session_.open("\\\\.\\KemuEvents", 0xC0000000);
    ASSERT_EQ(o.status, 0u);
    device_ = o.handle;
  }

  template <class T>
  T call(uint32_t code, std::vector<uint8_t> input) {
    Session::IoctlRequest rq;
    rq.handle = device_;
    rq.code = code;
    rq.input = std::move(input);
    rq.output_length = sizeof(T);
    auto r = session_.ioctl(rq);
    EXPECT_EQ(r.status, 0u);
    EXPECT_EQ(r.information, sizeof(T));
    T out{};
    if (r.output.size() == sizeof(T)) std::memcpy(&out, r.output.data(), sizeof(T));
    return out;
  }

  // IOCTL_SIGNAL_CLIENT: {status, previous state}.
  std::pair<uint64_t, uint64_t> signal(uint64_t handle, uint64_t how) {
    auto reply = call<std::array<uint64_t, 2>>(kSignalClient, u64s({handle, how}));
    return {reply[0], reply[1]};
  }

  Session session_;
  uint64_t device_ = 0;
};

TEST_F(E2eEvents, NamedKernelEventsCreateOpenSetClearAndWait) {
  auto r = call<EventsReport>(kKernelEvents, {});
  EXPECT_EQ(r.create_status, kSuccess);
  EXPECT_TRUE(is_kernel_handle(r.create_handle)) << std::hex << r.create_handle;
  EXPECT_EQ(r.openif_status, kNameExists);  // OBJ_OPENIF on an existing name: opened, not created
  EXPECT_TRUE(is_kernel_handle(r.openif_handle));
  EXPECT_NE(r.openif_handle, r.create_handle);
  EXPECT_EQ(r.collision_status, kNameCollision);
  EXPECT_EQ(r.open_status, kSuccess);  // "\basenamedobjects\KEMUEVENTSTEST": names ignore case
  EXPECT_TRUE(is_kernel_handle(r.open_handle));
  EXPECT_EQ(r.open_missing_status, kNameNotFound);
  EXPECT_EQ(r.wait_unsignalled_status, kTimeout);
  EXPECT_EQ(r.set_status, kSuccess);
  EXPECT_EQ(r.set_previous, 0u);
  EXPECT_EQ(r.set_again_previous, 1u);
  EXPECT_EQ(r.wait_signalled_status, kSuccess);
  EXPECT_EQ(r.clear_status, kSuccess);
  EXPECT_EQ(r.wait_cleared_status, kTimeout);
  EXPECT_EQ(r.pulse_status, kSuccess);
  EXPECT_EQ(r.pulse_previous, 0u);
  EXPECT_EQ(r.reset_previous, 1u);
  EXPECT_EQ(r.final_state, 0u);
  EXPECT_EQ(r.same_object, 1u);
  // A kernel handle is invalid for a UserMode reference...
  EXPECT_EQ(r.user_mode_reference_status, kInvalidHandle);
  // ...and NtSetEvent keeps the caller's PreviousMode (UserMode in a dispatch routine).
  EXPECT_EQ(r.nt_set_status, kInvalidHandle);
  EXPECT_EQ(r.previous_mode_after_zw, 1u);  // every Zw call restored UserMode
  EXPECT_EQ(r.relative_create_status, kSuccess);
  EXPECT_EQ(r.relative_open_status, kSuccess);
  EXPECT_EQ(r.io_notification_present, 1u);
  EXPECT_EQ(r.io_notification_state, 1u);  // created signalled
  EXPECT_TRUE(is_kernel_handle(r.io_notification_handle));
  EXPECT_EQ(r.io_synchronization_same_event, 1u);
  // The last handle closed: a temporary object's name is gone.
  EXPECT_EQ(r.reopen_after_close_status, kNameNotFound);
  // ObReferenceObjectByPointer validates the type for UserMode only.
  EXPECT_EQ(r.by_pointer_kernel_other_type, kSuccess);
  EXPECT_EQ(r.by_pointer_user_other_type, kTypeMismatch);
  EXPECT_EQ(r.by_pointer_user_null_type, kTypeMismatch);
  EXPECT_FALSE(session_.stopped());
}

TEST_F(E2eEvents, AClientEventHandleIsValidatedAsUserMode) {
  auto all = session_.create_event(false, false, kEventAllAccess);
  ASSERT_EQ(all.status, 0u);
  EXPECT_EQ(all.handle & 0xFFFFFFFF80000003ull, 0u);  // a handle in the client's own table
  EXPECT_EQ(signal(all.handle, 0), std::make_pair(kSuccess, uint64_t{0}));
  EXPECT_EQ(signal(all.handle, 0), std::make_pair(kSuccess, uint64_t{1}));

  // SYNCHRONIZE only: EVENT_MODIFY_STATE is denied to a UserMode reference
  // and to NtSetEvent, but ZwSetEvent (KernelMode) skips the check.
  auto sync_only = session_.create_event(false, false, kSynchronize);
  ASSERT_EQ(sync_only.status, 0u);
  EXPECT_EQ(signal(sync_only.handle, 0), std::make_pair(kAccessDenied, uint64_t{0xFFFFFFFF}));
  EXPECT_EQ(signal(sync_only.handle, 3), std::make_pair(kAccessDenied, uint64_t{0xFFFFFFFF}));
  // NtSetEvent with UserMode probes PreviousState first: the driver's stack
  // address fails the probe before the handle is looked at.
  EXPECT_EQ(signal(sync_only.handle, 2), std::make_pair(kAccessViolation, uint64_t{0xFFFFFFFF}));
  EXPECT_EQ(signal(sync_only.handle, 1), std::make_pair(kSuccess, uint64_t{0}));

  // Not an event, or not a handle at all.
  EXPECT_EQ(signal(device_, 0).first, kTypeMismatch);
  EXPECT_EQ(signal(device_, 1).first, kTypeMismatch);
  EXPECT_EQ(signal(0x1234, 0).first, kInvalidHandle);
  EXPECT_FALSE(session_.stopped());
}

TEST_F(E2eEvents, KernelModeDuplicateIntoTheSystemProcessYieldsAKernelHandle) {
  auto ev = session_.create_event(true, false, kEventAllAccess);
  ASSERT_EQ(ev.status, 0u);
  auto d = call<DupReply>(kDupToSystem, u64s({ev.handle}));
  EXPECT_EQ(d.open_system_status, kSuccess);
  EXPECT_EQ(d.dup_status, kSuccess);
  EXPECT_TRUE(is_kernel_handle(d.kernel_handle)) << std::hex << d.kernel_handle;
  EXPECT_EQ(d.same_object, 1u);
  EXPECT_EQ(d.user_mode_reference_status, kInvalidHandle);
  EXPECT_EQ(d.signal_status, kSuccess);
  EXPECT_EQ(d.close_status, kSuccess);
  // OBJ_KERNEL_HANDLE into a user process is refused.
  EXPECT_EQ(d.dup_into_client_status, kInvalidParameter);
  // The client's event was signalled through the kernel handle.
  EXPECT_EQ(signal(ev.handle, 0), std::make_pair(kSuccess, uint64_t{1}));
}

// samples/events/demo.yaml: the client's `event` steps (one with SYNCHRONIZE
// access only) and their handles passed to the driver with "{name}".
TEST(E2eEventsScenario, TheDemoScenarioPassesClientEventHandles) {
  auto scenario =
      kemu::harness::parse_scenario(std::string(KEMU_SOURCE_DIR) + "/samples/events/demo.yaml");
  Session session;
  const auto& r = kemu::harness::run_scenario(session, kemu::e2e::sample("events"), scenario);
  ASSERT_EQ(r.steps.size(), 10u);
  for (const auto& st : r.steps) EXPECT_TRUE(st.expect_ok) << st.op;
  // IOCTL_SIGNAL_CLIENT replies {status, previous state}: granted for "ev",
  // STATUS_ACCESS_DENIED and no previous state for the SYNCHRONIZE-only handle.
  EXPECT_EQ(r.steps[4].output_hex, "00000000000000000000000000000000");
  EXPECT_EQ(r.steps[5].output_hex, "220000c000000000ffffffff00000000");
  EXPECT_EQ(r.stop.reason, kemu::harness::StopReason::Completed);
  // The demo shows three misuses on purpose (0x80002004's other modes, the
  // ZwDuplicateObject route of 0x80002008); the verifier names them.
  std::set<std::string> checks;
  for (const auto& f : r.findings) checks.insert(f.check);
  EXPECT_EQ(checks, (std::set<std::string>{"handle.kernel-handle-user-mode", "handle.no-access-check",
                                            "handle.user-handle-to-zw"}));
}

}  // namespace
