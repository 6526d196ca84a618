// Names of the bug-check codes kemu can raise (ntoskrnl's KeBugCheck names).
#pragma once

#include <cstdint>
#include <string_view>

namespace kemu::emu {
// "SYSTEM_SERVICE_EXCEPTION" for 0x3B; "" when kemu does not know the code.
std::string_view bugcheck_name(uint32_t code);
// What Windows means by the bug check, one sentence for the codes kemu raises
// (the bug check reference's summary in kemu's words); "" for any other code.
std::string_view bugcheck_meaning(uint32_t code);
}  // namespace kemu::emu
