#include "ntoskrnl-stubs/cm/config_manager.h"

#include <fmt/format.h>

#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/cm_structs.h"
#include "ntoskrnl-stubs/ob/object_attributes.h"

namespace kemu::nt::cm {

namespace {

std::vector<uint8_t> dword_bytes(uint32_t v) {
  return {static_cast<uint8_t>(v), static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v >> 16),
          static_cast<uint8_t>(v >> 24)};
}

// The path below \REGISTRY of an absolute registry path, or nullopt when the
// path does not start with the \REGISTRY component.
std::optional<std::u16string> below_registry(std::u16string_view path) {
  auto parts = path_components(path);
  if (path.empty() || path[0] != u'\\' || parts.empty() || !same_name(parts[0], u"REGISTRY")) return std::nullopt;
  std::u16string rest;
  for (size_t i = 1; i < parts.size(); ++i) {
    rest += u'\\';
    rest += parts[i];
  }
  return rest;
}

}  // namespace

std::vector<uint8_t> utf16_bytes(std::u16string_view s, bool nul) {
  std::vector<uint8_t> out;
  out.reserve(s.size() * 2 + 2);
  for (char16_t c : s) {
    out.push_back(static_cast<uint8_t>(c));
    out.push_back(static_cast<uint8_t>(c >> 8));
  }
  if (nul) out.insert(out.end(), {0, 0});
  return out;
}

ConfigManager::ConfigManager(Kernel& kernel) : kernel_(kernel) {}

int64_t ConfigManager::now() const { return static_cast<int64_t>(kernel_.machine().system_time()); }

void ConfigManager::initialize() {
  auto& ob = kernel_.ob();
  // \REGISTRY: the Key object at the root of the namespace whose parse
  // procedure (here: Hive::resolve) takes over the rest of a key's name.
  registry_object_ = ob.create(ob::TypeIndex::Key, layout::kKeyBodySize);
  kernel_.memory().write<uint32_t>(ob.get(registry_object_)->body, layout::kKeyBodyType);
  key_objects_[registry_object_] = hive_.root();
  NtStatus st = ob.insert(registry_object_, u"\\REGISTRY", true);
  if (!nt_success(st)) throw std::runtime_error(fmt::format("cannot name \\REGISTRY: {:#x}", st));
  ob.set_delete_procedure(ob::TypeIndex::Key, [this](ob::ObjectId id) { key_objects_.erase(id); });
  // ObQueryNameString of a key: its registry path (CmpQueryKeyName).
  ob.set_query_name_procedure(ob::TypeIndex::Key, [this](ob::ObjectId id) {
    auto node = node_of_object(id);
    return node ? hive_.full_path(*node) : std::u16string();
  });
  seed_standard_keys();
}

void ConfigManager::seed_standard_keys() {
  const int64_t t = now();
  const NodeId root = hive_.root();
  auto sz = [](std::u16string_view s) { return utf16_bytes(s); };

  NodeId machine = hive_.ensure(root, u"MACHINE", false, t);
  NodeId user = hive_.ensure(root, u"USER", false, t);
  NodeId system = hive_.ensure(machine, u"SYSTEM", false, t);
  NodeId software = hive_.ensure(machine, u"SOFTWARE", false, t);
  // HARDWARE is rebuilt at every boot: a volatile hive.
  NodeId hardware = hive_.ensure(machine, u"HARDWARE", true, t);
  NodeId default_user = hive_.ensure(user, u".DEFAULT", false, t);
  for (NodeId hive_root : {machine, user, system, software, hardware, default_user})
    hive_.node(hive_root).no_delete = true;

  NodeId control_set = hive_.ensure(system, u"ControlSet001", false, t);
  hive_.ensure(control_set, u"Services", false, t);
  NodeId control = hive_.ensure(control_set, u"Control", false, t);
  NodeId product_options = hive_.ensure(control, u"ProductOptions", false, t);
  hive_.set_value(product_options, u"ProductType", reg::kSz, sz(u"WinNT"), t);
  NodeId select = hive_.ensure(system, u"Select", false, t);
  hive_.set_value(select, u"Current", reg::kDword, dword_bytes(1), t);
  hive_.set_value(select, u"Default", reg::kDword, dword_bytes(1), t);
  hive_.set_value(select, u"Failed", reg::kDword, dword_bytes(0), t);
  hive_.set_value(select, u"LastKnownGood", reg::kDword, dword_bytes(1), t);
  // CurrentControlSet: a volatile link key naming ControlSet001.
  NodeId current = kNoNode;
  hive_.create_child(system, u"CurrentControlSet", true, true, u"", t, &current);
  hive_.set_value(current, kSymbolicLinkValue, reg::kLink,
                  utf16_bytes(u"\\REGISTRY\\MACHINE\\SYSTEM\\ControlSet001", false), t);

  NodeId nt = hive_.ensure(software, u"Microsoft\\Windows NT\\CurrentVersion", false, t);
  hive_.set_value(nt, u"SystemRoot", reg::kSz, sz(u"C:\\Windows"), t);
  hive_.set_value(nt, u"CurrentBuild", reg::kSz, sz(u"19045"), t);
  hive_.set_value(nt, u"CurrentBuildNumber", reg::kSz, sz(u"19045"), t);
  hive_.set_value(nt, u"CurrentVersion", reg::kSz, sz(u"6.3"), t);
  hive_.set_value(nt, u"CurrentMajorVersionNumber", reg::kDword, dword_bytes(10), t);
  hive_.set_value(nt, u"CurrentMinorVersionNumber", reg::kDword, dword_bytes(0), t);
  hive_.set_value(nt, u"CurrentType", reg::kSz, sz(u"Multiprocessor Free"), t);
  hive_.set_value(nt, u"DisplayVersion", reg::kSz, sz(u"22H2"), t);
  hive_.set_value(nt, u"ReleaseId", reg::kSz, sz(u"2009"), t);
  hive_.set_value(nt, u"EditionID", reg::kSz, sz(u"Professional"), t);
  hive_.set_value(nt, u"InstallationType", reg::kSz, sz(u"Client"), t);
  hive_.set_value(nt, u"ProductName", reg::kSz, sz(u"Windows 10 Pro"), t);

  hive_.ensure(hardware, u"DESCRIPTION\\System", true, t);
  hive_.ensure(hardware, u"DEVICEMAP", true, t);
  hive_.ensure(hardware, u"RESOURCEMAP", true, t);
}

std::u16string ConfigManager::service_key_path(std::u16string_view service) {
  return std::u16string(kServicesPath) + u"\\" + std::u16string(service);
}

NodeId ConfigManager::install_service(std::u16string_view service) {
  const int64_t t = now();
  NodeId key = kNoNode;
  NtStatus st = ensure_key(service_key_path(service), &key);
  if (!nt_success(st)) throw std::runtime_error(fmt::format("cannot create the service key: {:#x}", st));
  // The values the service control manager writes for a kernel driver
  // (SERVICE_KERNEL_DRIVER, SERVICE_DEMAND_START, SERVICE_ERROR_NORMAL);
  // values seeded before keep theirs.
  auto set_default = [&](std::u16string_view name, uint32_t type, std::vector<uint8_t> data) {
    if (!hive_.find_value(key, name)) hive_.set_value(key, name, type, std::move(data), t);
  };
  set_default(u"ImagePath", reg::kExpandSz,
              utf16_bytes(u"\\SystemRoot\\System32\\drivers\\" + std::u16string(service) + u".sys"));
  set_default(u"Type", reg::kDword, dword_bytes(1));
  set_default(u"Start", reg::kDword, dword_bytes(3));
  set_default(u"ErrorControl", reg::kDword, dword_bytes(1));
  hive_.ensure(key, u"Parameters", false, t);
  return key;
}

std::optional<NodeId> ConfigManager::find_key(std::u16string_view path) const {
  auto rest = below_registry(path);
  if (!rest) return std::nullopt;
  Hive::Resolved r = hive_.resolve(hive_.root(), *rest, false);
  if (!nt_success(r.status)) return std::nullopt;
  return r.node;
}

NtStatus ConfigManager::ensure_key(std::u16string_view path, NodeId* out) {
  auto rest = below_registry(path);
  if (!rest) return STATUS_OBJECT_NAME_INVALID;
  NodeId at = hive_.root();
  for (auto part : path_components(*rest)) {
    Hive::Resolved r = hive_.resolve(at, part, false);
    if (nt_success(r.status)) {
      at = r.node;
      continue;
    }
    if (r.status != STATUS_OBJECT_NAME_NOT_FOUND || r.parent == kNoNode) return r.status;
    NodeId created = kNoNode;
    NtStatus st = hive_.create_child(r.parent, part, hive_.node(r.parent).is_volatile, false, u"", now(), &created);
    if (!nt_success(st)) return st;
    at = created;
  }
  *out = at;
  return STATUS_SUCCESS;
}

std::optional<NodeId> ConfigManager::node_of_object(ob::ObjectId object) const {
  auto it = key_objects_.find(object);
  if (it == key_objects_.end()) return std::nullopt;
  return it->second;
}

NtStatus ConfigManager::key_of_handle(uint64_t handle, uint32_t access, ProcessorMode mode, NodeId* node,
                                      ob::HandleInfo* info) {
  *node = kNoNode;
  ob::ObjectId object = ob::kNoObject;
  NtStatus st = kernel_.ob().reference_by_handle(handle, access, ob::TypeIndex::Key, mode, &object, info);
  if (!nt_success(st)) return st;
  auto n = node_of_object(object);
  kernel_.ob().dereference(object);
  if (!n) return STATUS_INVALID_HANDLE;
  *node = *n;
  return STATUS_SUCCESS;
}

NtStatus ConfigManager::resolve_request(const OpenRequest& rq, Hive::Resolved* out) {
  // An absent ObjectName names nothing.
  if (!rq.name) return STATUS_OBJECT_NAME_INVALID;
  const std::u16string& name = *rq.name;
  const bool open_link = (rq.options & kRegOptionOpenLink) || (rq.attributes & ob::kObjOpenLink);
  std::u16string absolute;
  if (rq.root) {
    // ObpLookupObjectName: the root is referenced without access or type,
    // and a name relative to it may not start with a separator.
    ob::ObjectId root = ob::kNoObject;
    NtStatus st = kernel_.ob().reference_by_handle(rq.root, 0, std::nullopt, rq.mode, &root, nullptr);
    if (!nt_success(st)) return st;
    const ob::ObjectRecord* r = kernel_.ob().get(root);
    const ob::TypeIndex type = r->type;
    const std::u16string directory_name = type == ob::TypeIndex::Directory ? kernel_.ob().full_name(root) : u"";
    const bool root_is_namespace_root = root == kernel_.ob().root();
    auto node = node_of_object(root);
    kernel_.ob().dereference(root);
    if (!name.empty() && name[0] == u'\\') return STATUS_OBJECT_PATH_SYNTAX_BAD;
    if (type == ob::TypeIndex::Key && node) {
      // The key's parse procedure walks the rest (an empty name: the key itself).
      *out = hive_.resolve(*node, name, open_link);
      return out->status;
    }
    if (type != ob::TypeIndex::Directory) {
      // Other roots' parse procedures (devices, files) never yield a key.
      return STATUS_OBJECT_TYPE_MISMATCH;
    }
    absolute = (root_is_namespace_root ? u"" : directory_name) + u"\\" + name;
  } else {
    if (name.empty() || name[0] != u'\\') return STATUS_OBJECT_PATH_SYNTAX_BAD;
    absolute = name;
  }
  // The object manager walks the namespace to \REGISTRY (Key is a
  // case-insensitive type), which then parses the remainder.
  NtStatus st = STATUS_SUCCESS;
  auto found = kernel_.ob().lookup(absolute, true, &st);
  if (!found) return st;
  if (found->object != registry_object_) return STATUS_OBJECT_TYPE_MISMATCH;
  *out = hive_.resolve(hive_.root(), found->remaining, open_link);
  return out->status;
}

uint64_t ConfigManager::new_handle(NodeId node, uint32_t desired_access, uint32_t attributes) {
  auto& ob = kernel_.ob();
  ob::ObjectId object = ob.create(ob::TypeIndex::Key, layout::kKeyBodySize);
  kernel_.memory().write<uint32_t>(ob.get(object)->body, layout::kKeyBodyType);
  key_objects_[object] = node;
  uint64_t handle = ob.create_handle(object, desired_access, attributes);
  ob.dereference(object);  // the handle holds the object now
  return handle;
}

NtStatus ConfigManager::open(const OpenRequest& rq, uint64_t* handle, uint32_t* disposition) {
  *handle = 0;
  if (disposition) *disposition = 0;
  // KEY_WOW64_* select a registry view; they are not access rights.
  const uint32_t desired = rq.desired_access & ~kKeyWow64Flags;
  Hive::Resolved r;
  NtStatus st = resolve_request(rq, &r);
  NodeId node = r.node;
  uint32_t how = kRegOpenedExistingKey;
  if (!nt_success(st)) {
    // ZwCreateKey creates the last component only: its parent must exist.
    if (!rq.create || st != STATUS_OBJECT_NAME_NOT_FOUND || r.parent == kNoNode) return st;
    st = hive_.create_child(r.parent, r.missing_leaf, (rq.options & kRegOptionVolatile) != 0,
                            (rq.options & kRegOptionCreateLink) != 0, rq.class_name, now(), &node);
    if (!nt_success(st)) return st;
    how = kRegCreatedNewKey;
  }
  // Key security descriptors are not modelled: an open that finds its key
  // is granted what it asked for (kernel callers skip the check anyway).
  *handle = new_handle(node, desired, rq.attributes);
  if (disposition) *disposition = how;
  return STATUS_SUCCESS;
}

}  // namespace kemu::nt::cm
