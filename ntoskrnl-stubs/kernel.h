// kemu::nt::Kernel — the emulated NT kernel on top of one Machine: the
// synthesized kernel modules and their API bridge, the object manager, the
// I/O manager, the process manager and the run log (debug output,
// unimplemented calls). Handlers receive a Kernel& as their first argument.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <typeindex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "emulator/machine.h"
#include "emulator/ntstatus.h"
#include "emulator/types.h"
#include "ntoskrnl-stubs/ob/explain.h"

namespace kemu::nt {

namespace ob {
class ObjectManager;
}
namespace io {
class IoManager;
}
namespace ps {
class ProcessManager;
}
namespace ke {
class Scheduler;
}
namespace cm {
class ConfigManager;
}
namespace fs {
class FileSystem;
}
class KernelModules;
class KernelListener;

enum class UnimplementedPolicy { Fail, Stop };

struct KernelOptions {
  UnimplementedPolicy unimplemented = UnimplementedPolicy::Fail;
  bool strict_imports = false;
  bool trace = false;
  bool explain = false;  // --explain: narrate handle and previous-mode decisions
  uint64_t seed = 0;
};

class Kernel {
 public:
  Kernel(emu::Machine& machine, KernelOptions options = {});
  ~Kernel();
  Kernel(const Kernel&) = delete;
  Kernel& operator=(const Kernel&) = delete;

  emu::Machine& machine() { return machine_; }
  emu::AddressSpace& memory() { return machine_.memory(); }
  const KernelOptions& options() const { return options_; }

  KernelModules& modules() { return *modules_; }
  ob::ObjectManager& ob() { return *ob_; }
  io::IoManager& io() { return *io_; }
  ps::ProcessManager& ps() { return *ps_; }
  ke::Scheduler& scheduler() { return *scheduler_; }
  cm::ConfigManager& cm() { return *cm_; }
  fs::FileSystem& fs() { return *fs_; }  // the sandbox volume (\??\C:)

  Explainer& explainer() { return explainer_; }
  // The verifier's listeners (api/kernel_events.h): components publish to
  // them; with none registered publishing costs one empty-vector test.
  void add_listener(KernelListener* listener) { listeners_.push_back(listener); }
  void remove_listener(KernelListener* listener) { std::erase(listeners_, listener); }
  bool observed() const { return !listeners_.empty(); }
  template <class Fn>
  void publish(Fn&& fn) {
    for (KernelListener* l : listeners_) fn(*l);
  }
  // While a client request is in the driver: guest accesses to user memory
  // and to the client's kernel-placed buffers reach the listeners'
  // memory_accessed (Unicorn hooks only then, and only with listeners).
  void watch_client_memory(bool on);
  // Exceptions raised into callers by kernel routines so far (raise_in_caller).
  uint64_t raises() const { return raises_; }
  // State a component keeps per kernel (e.g. the physical mappings it made),
  // created on first use and destroyed with the kernel.
  template <class T>
  T& state() {
    std::shared_ptr<void>& slot = states_[std::type_index(typeid(T))];
    if (!slot) slot = std::shared_ptr<void>(new T(), [](void* p) { delete static_cast<T*>(p); });
    return *static_cast<T*>(slot.get());
  }
  // Who is asking, for --explain: "ZwClose from hello.sys+0x1234", or
  // "the client" outside any kernel routine a driver called.
  std::string caller_description() const;

  // One entry per DbgPrint-family call, without its trailing newline.
  std::vector<std::string>& debug_output() { return debug_output_; }

  // Raises an exception from inside the kernel routine being trapped, as the
  // routine itself would: the routine's frame is a leaf below the driver's
  // call, the exception address is where the driver resumes, reports point
  // at the driver's call.
  void raise_in_caller(uint32_t code, uint32_t flags = 0, std::vector<uint64_t> params = {},
                       std::optional<GuestVa> address = std::nullopt);

  // --- guest string helpers (throw GuestAccessError on unmapped memory) ---
  // Contents of the UNICODE_STRING at `us` (Length bytes of Buffer).
  std::u16string read_unicode_string(GuestVa us) const;
  std::string read_ansi_string(GuestVa as) const;
  // A UNICODE_STRING and its NUL-terminated buffer in one pool block.
  GuestVa new_unicode_string(std::u16string_view text, uint32_t pool_type, uint32_t tag);

 private:
  emu::Machine& machine_;
  KernelOptions options_;
  std::unique_ptr<KernelModules> modules_;
  std::unique_ptr<ob::ObjectManager> ob_;
  std::unique_ptr<io::IoManager> io_;
  std::unique_ptr<ps::ProcessManager> ps_;
  std::unique_ptr<ke::Scheduler> scheduler_;
  std::unique_ptr<cm::ConfigManager> cm_;
  std::unique_ptr<fs::FileSystem> fs_;
  std::vector<std::string> debug_output_;
  Explainer explainer_;
  std::vector<KernelListener*> listeners_;
  struct AccessRelay : emu::AccessObserver {
    Kernel* kernel;
    explicit AccessRelay(Kernel* k) : kernel(k) {}
    void guest_access(GuestVa rip, GuestVa address, uint32_t size, bool write) override;
  } access_relay_{this};
  uint64_t raises_ = 0;
  std::map<std::type_index, std::shared_ptr<void>> states_;
};

// Whether module!name is an export kemu provides with a modelled handler (a
// function handler or an initialised data export), without building a kernel.
bool has_builtin_handler(std::string_view module, std::string_view name);

// UTF-16 <-> UTF-8 for reports and messages.
std::string to_utf8(std::u16string_view s);
std::u16string to_utf16(std::string_view s);

}  // namespace kemu::nt
