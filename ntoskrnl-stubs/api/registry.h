// The one place where kernel routines meet their C++ handlers: each
// component registers its handlers by export name, one line per export:
//
//   KEMU_EXPORT(r, IoCreateDevice);   // binds "IoCreateDevice" to io::IoCreateDevice
//
// and data exports register an initializer that fills the variable.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "emulator/types.h"
#include "ntoskrnl-stubs/api/handler.h"

namespace kemu::nt {

using DataInit = std::function<void(Kernel&, GuestVa variable)>;

class Registry {
 public:
  void add(std::string_view name, HandlerFn fn, size_t arity);
  void add_data(std::string_view name, DataInit init);

  struct Handler {
    HandlerFn fn = nullptr;
    size_t arity = 0;
  };
  const Handler* handler(std::string_view name) const;
  const DataInit* data(std::string_view name) const;
  const std::map<std::string, Handler, std::less<>>& handlers() const { return handlers_; }

 private:
  std::map<std::string, Handler, std::less<>> handlers_;
  std::map<std::string, DataInit, std::less<>> data_;
};

// Every component contributes through one function (see kernel.cpp).
void register_rtl_exports(Registry& r);
void register_seh_exports(Registry& r);
void register_dbg_exports(Registry& r);
void register_ex_exports(Registry& r);
void register_io_exports(Registry& r);
void register_file_exports(Registry& r);  // io/file_exports.cpp
void register_irp_exports(Registry& r);
void register_ke_exports(Registry& r);
void register_ke_sync_exports(Registry& r);
void register_thread_exports(Registry& r);
void register_handle_exports(Registry& r);
void register_lock_exports(Registry& r);  // ke/lock_exports.cpp, ex/ lock-like routines
void register_mm_exports(Registry& r);
void register_ob_exports(Registry& r);
void register_namespace_exports(Registry& r);  // ob/namespace_exports.cpp
void register_query_exports(Registry& r);      // ob/query_exports.cpp
void register_process_exports(Registry& r);    // ps/process_exports.cpp
void register_ps_exports(Registry& r);
void register_cm_exports(Registry& r);  // cm/: Zw*Key, Rtl*Registry*, IoOpenDeviceRegistryKey, IoGetDeviceProperty
void register_event_exports(Registry& r);  // ex/event_exports.cpp
void register_crt_exports(Registry& r);    // rtl/crt_exports.cpp
void register_time_exports(Registry& r);   // rtl/time_exports.cpp
void register_se_exports(Registry& r);            // se/se_exports.cpp (Se*, SeExports)
void register_rtl_security_exports(Registry& r);  // se/rtl_security_exports.cpp (SIDs, ACLs, descriptors)
void register_ob_security_exports(Registry& r);   // ob/security_exports.cpp
void register_data_exports(Registry& r);

}  // namespace kemu::nt

// Binds the export named like the handler function.
#define KEMU_EXPORT(registry, fn) (registry).add(#fn, &::kemu::nt::invoke<&fn>, ::kemu::nt::arity<&fn>())
// Binds an export to a handler with another name (e.g. aliases like ExFreePool).
#define KEMU_EXPORT_AS(registry, name, fn) \
  (registry).add(name, &::kemu::nt::invoke<&fn>, ::kemu::nt::arity<&fn>())
