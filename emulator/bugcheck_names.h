// Names of the bug-check codes kemu can raise (ntoskrnl's KeBugCheck names).
#pragma once

#include <cstdint>
#include <string_view>

namespace kemu::emu {
// "SYSTEM_SERVICE_EXCEPTION" for 0x3B; "" when kemu does not know the code.
std::string_view bugcheck_name(uint32_t code);
}  // namespace kemu::emu
