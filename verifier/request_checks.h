// The unknown-request probe's verdicts (verifier/request_checks.cpp):
// irp.unhandled-success, irp.ioctl-code-masked, irp.insecure-open and
// irp.use-after-cleanup. The harness's probe (harness/request_probe.cpp)
// says what its next request tests; the engine's hooks judge the driver's
// answer when the dispatch routine returns. irp.use-after-cleanup needs no
// announcement: any request on a file object after its IRP_MJ_CLEANUP is
// watched for the pool the driver freed during that CLEANUP.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "emulator/ntstatus.h"

namespace kemu::verifier::request_checks {

struct State;

// What kemu's next client request tests.
enum class ProbeKind {
  None,
  UnknownControl,    // a control code no driver defines: must fail, Information 0
  UnsupportedMajor,  // a file-system request sent to a catch-all routine of a device: must fail
  OriginalControl,   // a scenario control code re-sent: the reference answer for its variants
  AlteredControl,  // the same code with other device-type or access bits: must not be answered like
                   // it
  NamespaceOpen,  // \Device\X\<name> opened as a standard user whom the device's descriptor refuses
};

struct ProbeRequest {
  ProbeKind kind = ProbeKind::None;
  uint32_t original_code = 0;  // AlteredControl: the scenario's code it was made from
  // NamespaceOpen: the name opened, the access asked and what the device's
  // descriptor answers the same user for an open of the device itself.
  std::string path;
  uint32_t desired_access = 0;
  NtStatus plain_open_status = STATUS_SUCCESS;
};

// The next client request is `request` (consumed by that request).
void expect(State& state, ProbeRequest request);

// The last client request that reached the driver: its major function and
// control code (0 outside device control); nullopt before any.
struct LastRequest {
  uint8_t major = 0;
  uint32_t ioctl = 0;
};
std::optional<LastRequest> last_request(const State& state);

}  // namespace kemu::verifier::request_checks
