// The configuration manager: the in-memory registry (cm/hive.h) behind the
// \REGISTRY object of the namespace, Key objects (one per open, as
// CmpParseKey creates them) with handles in the current process's table, and
// the operations of the Zw*Key services in the order Windows decides them.
// Seeded at boot with the standard keys and, per driver, its service key.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "emulator/ntstatus.h"
#include "emulator/types.h"
#include "ntoskrnl-stubs/cm/hive.h"
#include "ntoskrnl-stubs/cm/key_info.h"
#include "ntoskrnl-stubs/ob/object_manager.h"

namespace kemu::nt {
class Kernel;
}

namespace kemu::nt::cm {

// KEY_* access rights (wdm.h).
constexpr uint32_t kKeyQueryValue = 0x0001;
constexpr uint32_t kKeySetValue = 0x0002;
constexpr uint32_t kKeyCreateSubKey = 0x0004;
constexpr uint32_t kKeyEnumerateSubKeys = 0x0008;
constexpr uint32_t kKeyNotify = 0x0010;
constexpr uint32_t kKeyCreateLink = 0x0020;
constexpr uint32_t kKeyWow64Flags = 0x0300;  // KEY_WOW64_64KEY | KEY_WOW64_32KEY: not access rights
constexpr uint32_t kDelete = 0x00010000;
constexpr uint32_t kKeyRead = 0x00020019;
constexpr uint32_t kKeyWrite = 0x00020006;
constexpr uint32_t kKeyAllAccess = 0x000F003F;

// REG_OPTION_* (CreateOptions / OpenOptions).
constexpr uint32_t kRegOptionVolatile = 0x1;
constexpr uint32_t kRegOptionCreateLink = 0x2;
constexpr uint32_t kRegOptionBackupRestore = 0x4;
constexpr uint32_t kRegOptionOpenLink = 0x8;
constexpr uint32_t kRegOptionDontVirtualize = 0x10;
constexpr uint32_t kRegLegalCreateOptions = 0x1F;
constexpr uint32_t kRegLegalOpenOptions = 0x1C;  // BACKUP_RESTORE | OPEN_LINK | DONT_VIRTUALIZE

// Disposition of ZwCreateKey.
constexpr uint32_t kRegCreatedNewKey = 1;
constexpr uint32_t kRegOpenedExistingKey = 2;

// The key paths DriverEntry's RegistryPath and the RTL_REGISTRY_* relative
// roots name. CurrentControlSet is a link to ControlSet001, as on Windows.
inline constexpr std::u16string_view kServicesPath = u"\\Registry\\Machine\\System\\CurrentControlSet\\Services";

// A ZwOpenKey(Ex) / ZwCreateKey request, its OBJECT_ATTRIBUTES captured.
struct OpenRequest {
  ProcessorMode mode = ProcessorMode::KernelMode;  // the caller's previous mode
  uint32_t desired_access = 0;
  uint64_t root = 0;                   // RootDirectory (a key, or a directory of the namespace)
  std::optional<std::u16string> name;  // ObjectName
  uint32_t attributes = 0;             // OBJ_*
  uint32_t options = 0;                // REG_OPTION_*
  bool create = false;
  std::u16string class_name;
};

class ConfigManager {
 public:
  explicit ConfigManager(Kernel& kernel);

  // \REGISTRY in the namespace root, the Key type's delete and query-name
  // procedures, and the standard keys (MACHINE\SYSTEM with ControlSet001 and
  // the CurrentControlSet link, SOFTWARE, HARDWARE, USER\.DEFAULT).
  void initialize();

  Hive& hive() { return hive_; }
  const Hive& hive() const { return hive_; }
  // The registry's clock: KeQuerySystemTime of the emulated machine.
  int64_t now() const;

  // The service key of a driver as the service control manager creates it
  // (Services\<name>: ImagePath REG_EXPAND_SZ \SystemRoot\System32\drivers\<name>.sys,
  // Type 1, Start 3, ErrorControl 1 as REG_DWORD, and a Parameters subkey).
  NodeId install_service(std::u16string_view service);
  // \Registry\Machine\System\CurrentControlSet\Services\<name>: what DriverEntry receives.
  static std::u16string service_key_path(std::u16string_view service);

  // Host-side access for seeding and inspection. `path` is absolute
  // (\Registry\..., matched case-insensitively, links followed).
  std::optional<NodeId> find_key(std::u16string_view path) const;
  // Creates the missing keys of an absolute path (STATUS_OBJECT_NAME_INVALID
  // for a path outside \Registry).
  NtStatus ensure_key(std::u16string_view path, NodeId* out);

  // --- services (ZwOpenKey, ZwCreateKey, ...) -------------------------------
  // Opens or creates the key a request names and returns a new handle to a
  // new Key object; *disposition (create only) is REG_CREATED_NEW_KEY or
  // REG_OPENED_EXISTING_KEY.
  NtStatus open(const OpenRequest& request, uint64_t* handle, uint32_t* disposition);

  // ObReferenceObjectByHandle(handle, access, CmKeyObjectType, mode): the
  // key the handle's object stands for (the reference is not kept: kemu's
  // key operations do not block).
  NtStatus key_of_handle(uint64_t handle, uint32_t access, ProcessorMode mode, NodeId* node,
                         ob::HandleInfo* info = nullptr);

  // The key a Key object stands for.
  std::optional<NodeId> node_of_object(ob::ObjectId object) const;

 private:
  NtStatus resolve_request(const OpenRequest& request, Hive::Resolved* out);
  uint64_t new_handle(NodeId node, uint32_t desired_access, uint32_t attributes);
  void seed_standard_keys();

  Kernel& kernel_;
  Hive hive_;
  ob::ObjectId registry_object_ = ob::kNoObject;
  std::map<ob::ObjectId, NodeId> key_objects_;
};

// UTF-16LE bytes of a string, with `nul` terminating NULs.
std::vector<uint8_t> utf16_bytes(std::u16string_view s, bool nul = true);

}  // namespace kemu::nt::cm
