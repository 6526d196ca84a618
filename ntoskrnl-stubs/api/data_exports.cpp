// Values of the data exports drivers read (semantics.md §1; Windows 10 19045).
// A data export without an initializer here stays zero-filled and is listed
// as unmodelled by `kemu info`.
#include "emulator/types.h"
#include "ntoskrnl-stubs/api/registry.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/ob/object_manager.h"
#include "ntoskrnl-stubs/ps/process_manager.h"

namespace kemu::nt {

namespace {
template <class T>
DataInit constant(T value) {
  return [value](Kernel& k, GuestVa at) { k.memory().write<T>(at, value); };
}
}  // namespace

void register_data_exports(Registry& r) {
  r.add_data("MmUserProbeAddress", constant<uint64_t>(kemu::layout::kUserProbeAddress));
  r.add_data("MmHighestUserAddress", constant<uint64_t>(kemu::layout::kHighestUserAddress));
  r.add_data("MmSystemRangeStart", constant<uint64_t>(kemu::layout::kSystemRangeStart));
  // NtBuildNumber: the build in the low 16 bits, 0xF0000000 marks a free build.
  r.add_data("NtBuildNumber", constant<uint32_t>(0xF0000000u | 19045));
  r.add_data("KeNumberProcessors", constant<uint8_t>(1));
  r.add_data("InitSafeBootMode", constant<uint32_t>(0));
  // No kernel debugger is attached.
  r.add_data("KdDebuggerEnabled", constant<uint8_t>(0));
  r.add_data("KdDebuggerNotPresent", constant<uint8_t>(1));
  r.add_data("NlsMbCodePageTag", constant<uint8_t>(0));
  r.add_data("NlsMbOemCodePageTag", constant<uint8_t>(0));
  // KeTickCount is a KSYSTEM_TIME; x64 code reads KUSER_SHARED_DATA instead.
  r.add_data("KeTickCount", constant<uint64_t>(0));
  r.add_data("PsInitialSystemProcess", [](Kernel& k, GuestVa at) {
    k.memory().write<uint64_t>(at, k.ps().system_process().eprocess.value);
  });
  // POBJECT_TYPE variables point at the type objects.
  for (const ob::TypeDescriptor& t : ob::all_types()) {
    if (t.export_name.empty()) continue;
    ob::TypeIndex index = t.index;
    r.add_data(t.export_name, [index](Kernel& k, GuestVa at) {
      k.memory().write<uint64_t>(at, k.ob().type_object(index).value);
    });
  }
}

}  // namespace kemu::nt
