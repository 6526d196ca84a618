// How reports spell numbers and Windows constants (docs/cli.md "Report"):
// shared by the text and JSON renderers so both say the same thing.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "emulator/ntstatus.h"
#include "harness/run_result.h"

namespace kemu::report {

// Statuses, IOCTL codes, characteristics, bugcheck codes: "0x00000100".
std::string hex32(uint32_t v);
// Addresses and anything else unpadded: "0xfffff80000401000".
std::string hex_addr(uint64_t v);

// Bytes as lowercase hex without separators (sha256, a step's output_hex).
std::string hex_bytes(std::span<const uint8_t> bytes);

// "STATUS_ACCESS_DENIED", or hex32(s) when kemu has no name for the status,
// so the field is never empty and still identifies the value.
std::string status_label(NtStatus s);

// "completed", "bugcheck", "instruction-limit", ... (cli.md stop.reason).
// The report keeps its own spelling so it does not link the harness.
std::string_view stop_reason_name(harness::StopReason r);

// Names of the FILE_* device characteristic bits set in `c` (wdm.h), lowest
// bit first; bits without a name appear as one trailing hex32 remainder.
std::vector<std::string> characteristic_names(uint32_t c);

// "FILE_DEVICE_UNKNOWN" for DEVICE_TYPE 0x22; hex32 for types without a name.
std::string device_type_name(uint32_t type);

// Driver-controlled text made safe for a terminal: control characters and
// ESC become \xNN (a driver must not be able to drive the user's terminal).
// Newlines are kept; callers split on them.
std::string printable(std::string_view text);

}  // namespace kemu::report
