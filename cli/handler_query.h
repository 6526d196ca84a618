// Whether kemu has a real handler for an export, for `kemu info` to mark the
// imports that will run modelled code rather than the unimplemented policy.
#pragma once

#include <string_view>

namespace kemu::cli {

// True when kemu implements module!name (module matched case-insensitively,
// e.g. "ntoskrnl.exe", "HAL.dll"). The answer comes from the kernel's export
// table; handler_query_default.cpp is a stand-in that knows of none.
bool kemu_has_handler(std::string_view module, std::string_view name);

}  // namespace kemu::cli
