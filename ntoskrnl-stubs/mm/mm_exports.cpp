// Memory manager routines of the foundation.
#include "emulator/ntstatus.h"
#include "ntoskrnl-stubs/api/kernel_modules.h"
#include "ntoskrnl-stubs/api/registry.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/mm/mm.h"
#include "ntoskrnl-stubs/mm/sections.h"
#include "ntoskrnl-stubs/mm/virtual_memory.h"

namespace kemu::nt {

// MmGetSystemRoutineAddress looks the name up in ntoskrnl.exe, then hal.dll,
// and returns NULL when neither exports it.
GuestVa MmGetSystemRoutineAddress(Kernel& k, GuestVa name) {
  std::u16string wide = k.read_unicode_string(name);
  std::string ascii;
  for (char16_t c : wide) {
    if (c == 0 || c > 0x7F) return GuestVa{};
    ascii.push_back(static_cast<char>(c));
  }
  return k.modules().routine_address(ascii).value_or(GuestVa{});
}

// MmIsAddressValid: would a read of this byte fault? (no page faults in kemu:
// mapped and readable means resident)
uint8_t MmIsAddressValid(Kernel& k, GuestVa va) { return k.memory().accessible(va, 1, Prot::Read) ? 1 : 0; }

void register_mm_exports(Registry& r) {
  KEMU_EXPORT(r, MmGetSystemRoutineAddress);
  KEMU_EXPORT(r, MmIsAddressValid);
  register_probe_exports(r);
  register_mdl_exports(r);
  register_physical_exports(r);
  register_section_exports(r);
  register_virtual_memory_exports(r);
}

}  // namespace kemu::nt
