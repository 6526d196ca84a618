// The unknown-request probe's requests (checks.md irp.unhandled-success,
// irp.ioctl-code-masked, irp.insecure-open, irp.use-after-cleanup): what
// kemu sends each device the run opened once the scenario is over. The
// Session runs them on a copy of the machine (a forked process) and keeps
// only the findings; the verdicts are verifier/request_checks.cpp's.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "harness/session.h"

namespace kemu::emu {
class Machine;
}
namespace kemu::nt {
class Kernel;
}
namespace kemu::verifier {
class Engine;
}

namespace kemu::harness {

struct ProbePlan {
  emu::Machine* machine = nullptr;
  nt::Kernel* kernel = nullptr;
  verifier::Engine* engine = nullptr;
  uint64_t driver_object = 0;
  ClientToken token = ClientToken::User;  // the run's client token
  // The run's successful device opens (path as the run gave it, access asked).
  struct Opened {
    std::string path;
    uint32_t access = 0;
  };
  std::vector<Opened> opened;
  // The run's control requests on those opens.
  struct Sent {
    size_t opened = 0;  // index into `opened`
    Session::IoctlRequest request;
  };
  std::vector<Sent> ioctls;
  // Which of the probe's checks are on.
  bool unhandled_success = false, code_masked = false, insecure_open = false,
       use_after_cleanup = false;
};

// The control codes the probe sends a device of type `device_type`: codes no
// driver defines, varied in device type, function, method and access.
std::vector<uint32_t> unknown_control_codes(uint32_t device_type);

// Sends the probe's requests through `session` and returns how many it sent.
// Meant for a copy of the machine: it changes the client's token and closes
// and opens handles as it needs.
uint64_t send_probe_requests(Session& session, const ProbePlan& plan);

// The probe's result as it travels from its process to the run's: the
// number of requests and the findings, as length-prefixed fields.
std::string encode_probe_result(uint64_t requests, const std::vector<Finding>& findings);
// False when `bytes` is cut short (what was read before stays in `findings`).
bool decode_probe_result(const std::string& bytes, uint64_t* requests,
                         std::vector<Finding>* findings);

}  // namespace kemu::harness
