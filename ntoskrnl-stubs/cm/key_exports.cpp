// The key services: ZwOpenKey(Ex), ZwCreateKey, ZwQueryValueKey,
// ZwEnumerateValueKey, ZwEnumerateKey, ZwQueryKey, ZwSetValueKey,
// ZwDeleteValueKey, ZwDeleteKey, ZwFlushKey. Each Zw routine runs its Nt
// body with PreviousMode KernelMode (semantics.md §3): the handle is then
// referenced without an access check and the caller's buffers are not
// probed. The Nt bodies decide in the order Windows 10 does (class check,
// handle reference, name capture, deleted key, lookup, copy-out).
#include "emulator/ntstatus.h"
#include "ntoskrnl-stubs/api/caller_memory.h"
#include "ntoskrnl-stubs/api/previous_mode.h"
#include "ntoskrnl-stubs/api/registry.h"
#include "ntoskrnl-stubs/cm/config_manager.h"
#include "ntoskrnl-stubs/cm/key_services.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/nt_structs.h"
#include "ntoskrnl-stubs/ob/object_attributes.h"

namespace kemu::nt {

namespace cm {

// Kernel callers can hand the services any size; the host keeps its memory.
constexpr uint32_t kMaxValueData = 64u << 20;

namespace {
NtStatus live_key(Kernel& k, ProcessorMode mode, uint64_t handle, uint32_t access, NodeId* node) {
  NtStatus st = k.cm().key_of_handle(handle, access, mode, node);
  if (!nt_success(st)) return st;
  if (k.cm().hive().node(*node).deleted) return STATUS_KEY_DELETED;
  return STATUS_SUCCESS;
}
}  // namespace

std::u16string trim_value_name(std::u16string name) {
  while (!name.empty() && name.back() == u'\0') name.pop_back();
  return name;
}

NtStatus find_value_by_name(Kernel& k, ProcessorMode mode, uint64_t handle, const std::u16string& name, Value* out) {
  NodeId node = kNoNode;
  if (NtStatus st = live_key(k, mode, handle, kKeyQueryValue, &node); !nt_success(st)) return st;
  const Value* v = k.cm().hive().find_value(node, name);
  if (!v) return STATUS_OBJECT_NAME_NOT_FOUND;
  *out = *v;
  return STATUS_SUCCESS;
}

NtStatus find_value_by_index(Kernel& k, ProcessorMode mode, uint64_t handle, uint32_t index, Value* out) {
  NodeId node = kNoNode;
  if (NtStatus st = live_key(k, mode, handle, kKeyQueryValue, &node); !nt_success(st)) return st;
  const auto& values = k.cm().hive().node(node).values;
  if (index >= values.size()) return STATUS_NO_MORE_ENTRIES;
  *out = values[index];
  return STATUS_SUCCESS;
}

NtStatus set_value(Kernel& k, ProcessorMode mode, uint64_t handle, const std::u16string& name, uint32_t type,
                   std::vector<uint8_t> data) {
  NodeId node = kNoNode;
  if (NtStatus st = live_key(k, mode, handle, kKeySetValue, &node); !nt_success(st)) return st;
  k.cm().hive().set_value(node, name, type, std::move(data), k.cm().now());
  return STATUS_SUCCESS;
}

NtStatus delete_value(Kernel& k, ProcessorMode mode, uint64_t handle, const std::u16string& name) {
  NodeId node = kNoNode;
  if (NtStatus st = live_key(k, mode, handle, kKeySetValue, &node); !nt_success(st)) return st;
  return k.cm().hive().delete_value(node, name, k.cm().now()) ? STATUS_SUCCESS : STATUS_OBJECT_NAME_NOT_FOUND;
}

NtStatus open_kernel_key(Kernel& k, uint64_t root, const std::u16string& name, uint32_t access, bool create,
                         uint64_t* handle) {
  OpenRequest rq;
  rq.mode = ProcessorMode::KernelMode;
  rq.desired_access = access;
  rq.root = root;
  rq.name = name;
  rq.attributes = ob::kObjCaseInsensitive | ob::kObjKernelHandle;
  rq.create = create;
  return k.cm().open(rq, handle, nullptr);
}

void close_kernel_key(Kernel& k, uint64_t handle) { k.ob().close_handle(handle, ProcessorMode::KernelMode); }

}  // namespace cm

namespace {

ProcessorMode previous_mode(Kernel& k) { return k.machine().previous_mode(); }

// A value name argument: the UNICODE_STRING captured with the caller's mode;
// an odd length is STATUS_INVALID_PARAMETER; trailing NULs dropped.
NtStatus capture_value_name(Kernel& k, ProcessorMode mode, GuestVa us, std::u16string* out) {
  layout::UNICODE_STRING s{};
  if (NtStatus st = caller::read(k, mode, us, &s, mode == ProcessorMode::UserMode ? 4 : 1); !nt_success(st)) return st;
  if (s.Length & 1) return STATUS_INVALID_PARAMETER;
  std::u16string name(s.Length / 2, u'\0');
  if (NtStatus st = caller::read_bytes(k, mode, GuestVa{s.Buffer}, name.data(), s.Length, 2); !nt_success(st))
    return st;
  name = cm::trim_value_name(std::move(name));
  if (name.size() > cm::kMaxValueNameChars) return STATUS_INVALID_PARAMETER;
  *out = std::move(name);
  return STATUS_SUCCESS;
}

// A UserMode caller's output buffer and ResultLength are probed before the
// work (alignment 4); KernelMode buffers are used as given.
NtStatus probe_outputs(ProcessorMode mode, GuestVa buffer, uint32_t length, GuestVa result_length) {
  if (mode != ProcessorMode::UserMode) return STATUS_SUCCESS;
  if (NtStatus st = caller::probe(buffer, length, 4); !nt_success(st)) return st;
  return caller::probe(result_length, 4, 4);
}

// Copies an information record out: the parts the configuration manager
// writes, then *ResultLength, for success, STATUS_BUFFER_OVERFLOW and
// STATUS_BUFFER_TOO_SMALL alike (ResultLength is left alone otherwise).
NtStatus deliver(Kernel& k, ProcessorMode mode, const cm::InfoResult& r, GuestVa buffer, GuestVa result_length) {
  if (!nt_success(r.status) && r.status != STATUS_BUFFER_OVERFLOW && r.status != STATUS_BUFFER_TOO_SMALL)
    return r.status;
  for (const cm::InfoWrite& w : r.writes) {
    NtStatus st = caller::write_bytes(k, mode, buffer + w.offset, w.bytes.data(), w.bytes.size());
    if (!nt_success(st)) return st;
  }
  if (NtStatus st = caller::write(k, mode, result_length, r.result_length, 1); !nt_success(st)) return st;
  return r.status;
}

// NtOpenKeyEx / NtCreateKey shared path.
NtStatus open_or_create(Kernel& k, GuestVa key_handle, uint32_t desired, GuestVa object_attributes, uint32_t options,
                        bool create, GuestVa class_name, GuestVa disposition) {
  const ProcessorMode mode = previous_mode(k);
  // CmOpenKey refuses unknown open options first; CmCreateKey unknown create options.
  if (!create && (options & ~cm::kRegLegalOpenOptions)) return STATUS_INVALID_PARAMETER_4;
  if (create && (options & ~cm::kRegLegalCreateOptions)) return STATUS_INVALID_PARAMETER;
  // A UserMode caller's handle variable is zeroed before anything can fail.
  if (mode == ProcessorMode::UserMode) {
    if (NtStatus st = caller::write<uint64_t>(k, mode, key_handle, 0, 8); !nt_success(st)) return st;
  }
  if (!object_attributes) return STATUS_INVALID_PARAMETER;
  ob::CapturedAttributes attrs;
  if (NtStatus st = ob::capture_object_attributes(k, mode, object_attributes, &attrs); !nt_success(st)) return st;
  cm::OpenRequest rq;
  rq.mode = mode;
  rq.desired_access = desired;
  rq.root = attrs.root_directory;
  rq.name = attrs.name;
  rq.attributes = attrs.attributes;
  rq.options = options;
  rq.create = create;
  if (create && class_name) {
    if (NtStatus st = caller::read_unicode_string(k, mode, class_name, &rq.class_name); !nt_success(st)) return st;
  }
  uint64_t handle = 0;
  uint32_t how = 0;
  NtStatus st = k.cm().open(rq, &handle, create ? &how : nullptr);
  if (!nt_success(st)) return st;
  if (NtStatus w = caller::write<uint64_t>(k, mode, key_handle, handle, mode == ProcessorMode::UserMode ? 8 : 1);
      !nt_success(w))
    return w;
  if (create && disposition) {
    if (NtStatus w = caller::write<uint32_t>(k, mode, disposition, how, 1); !nt_success(w)) return w;
  }
  return STATUS_SUCCESS;
}

NtStatus NtOpenKeyEx(Kernel& k, GuestVa key_handle, uint32_t desired, GuestVa object_attributes, uint32_t options) {
  return open_or_create(k, key_handle, desired, object_attributes, options, false, GuestVa{}, GuestVa{});
}

NtStatus NtCreateKey(Kernel& k, GuestVa key_handle, uint32_t desired, GuestVa object_attributes, uint32_t title_index,
                     GuestVa class_name, uint32_t create_options, GuestVa disposition) {
  (void)title_index;  // device and intermediate drivers pass 0; the registry ignores it
  return open_or_create(k, key_handle, desired, object_attributes, create_options, true, class_name, disposition);
}

NtStatus NtQueryValueKey(Kernel& k, uint64_t handle, GuestVa value_name, uint32_t info_class, GuestVa info,
                         uint32_t length, GuestVa result_length) {
  const ProcessorMode mode = previous_mode(k);
  // An unknown class is refused before the handle is looked at.
  if (info_class > cm::value_class::kPartialAlign64) return STATUS_INVALID_PARAMETER;
  cm::NodeId node = cm::kNoNode;
  if (NtStatus st = k.cm().key_of_handle(handle, cm::kKeyQueryValue, mode, &node); !nt_success(st)) return st;
  if (NtStatus st = probe_outputs(mode, info, length, result_length); !nt_success(st)) return st;
  std::u16string name;
  if (NtStatus st = capture_value_name(k, mode, value_name, &name); !nt_success(st)) return st;
  cm::Value value;
  if (NtStatus st = cm::find_value_by_name(k, mode, handle, name, &value); !nt_success(st)) return st;
  return deliver(k, mode, cm::encode_value_info(info_class, value, length), info, result_length);
}

NtStatus NtEnumerateValueKey(Kernel& k, uint64_t handle, uint32_t index, uint32_t info_class, GuestVa info,
                             uint32_t length, GuestVa result_length) {
  const ProcessorMode mode = previous_mode(k);
  if (info_class > cm::value_class::kPartialAlign64) return STATUS_INVALID_PARAMETER;
  cm::NodeId node = cm::kNoNode;
  if (NtStatus st = k.cm().key_of_handle(handle, cm::kKeyQueryValue, mode, &node); !nt_success(st)) return st;
  if (NtStatus st = probe_outputs(mode, info, length, result_length); !nt_success(st)) return st;
  cm::Value value;
  if (NtStatus st = cm::find_value_by_index(k, mode, handle, index, &value); !nt_success(st)) return st;
  return deliver(k, mode, cm::encode_value_info(info_class, value, length), info, result_length);
}

NtStatus NtEnumerateKey(Kernel& k, uint64_t handle, uint32_t index, uint32_t info_class, GuestVa info,
                        uint32_t length, GuestVa result_length) {
  const ProcessorMode mode = previous_mode(k);
  // Subkeys are enumerated as basic, node or full records only.
  if (info_class != cm::key_class::kBasic && info_class != cm::key_class::kNode && info_class != cm::key_class::kFull)
    return STATUS_INVALID_PARAMETER;
  cm::NodeId node = cm::kNoNode;
  if (NtStatus st = k.cm().key_of_handle(handle, cm::kKeyEnumerateSubKeys, mode, &node); !nt_success(st)) return st;
  if (NtStatus st = probe_outputs(mode, info, length, result_length); !nt_success(st)) return st;
  const cm::Hive& hive = k.cm().hive();
  if (hive.node(node).deleted) return STATUS_KEY_DELETED;
  const auto& subkeys = hive.node(node).subkeys;
  if (index >= subkeys.size()) return STATUS_NO_MORE_ENTRIES;
  return deliver(k, mode, cm::encode_key_info(info_class, cm::summarize(hive, subkeys[index]), length), info,
                 result_length);
}

NtStatus NtQueryKey(Kernel& k, uint64_t handle, uint32_t info_class, GuestVa info, uint32_t length,
                    GuestVa result_length) {
  const ProcessorMode mode = previous_mode(k);
  if (info_class > cm::key_class::kTrust) return STATUS_INVALID_PARAMETER;
  if (NtStatus st = probe_outputs(mode, info, length, result_length); !nt_success(st)) return st;
  // KeyNameInformation and KeyHandleTagsInformation need no particular
  // right, only a handle granting some access; the rest KEY_QUERY_VALUE.
  const bool any_access = info_class == cm::key_class::kName || info_class == cm::key_class::kHandleTags;
  cm::NodeId node = cm::kNoNode;
  ob::HandleInfo granted;
  NtStatus st = k.cm().key_of_handle(handle, any_access ? 0 : cm::kKeyQueryValue, mode, &node, &granted);
  if (!nt_success(st)) return st;
  if (any_access && granted.granted_access == 0) return STATUS_ACCESS_DENIED;
  const cm::Hive& hive = k.cm().hive();
  if (hive.node(node).deleted) return STATUS_KEY_DELETED;
  // KeyFlags/Virtualization/HandleTags/Trust come back STATUS_NOT_IMPLEMENTED
  // from the encoder: kemu does not model those records.
  return deliver(k, mode, cm::encode_key_info(info_class, cm::summarize(hive, node), length), info, result_length);
}

NtStatus NtSetValueKey(Kernel& k, uint64_t handle, GuestVa value_name, uint32_t title_index, uint32_t type,
                       GuestVa data, uint32_t data_size) {
  (void)title_index;  // ignored by the registry
  const ProcessorMode mode = previous_mode(k);
  cm::NodeId node = cm::kNoNode;
  if (NtStatus st = k.cm().key_of_handle(handle, cm::kKeySetValue, mode, &node); !nt_success(st)) return st;
  std::u16string name;
  if (NtStatus st = capture_value_name(k, mode, value_name, &name); !nt_success(st)) return st;
  if (data_size > cm::kMaxValueData) return STATUS_INSUFFICIENT_RESOURCES;
  std::vector<uint8_t> bytes(data_size);
  if (NtStatus st = caller::read_bytes(k, mode, data, bytes.data(), data_size); !nt_success(st)) return st;
  return cm::set_value(k, mode, handle, name, type, std::move(bytes));
}

NtStatus NtDeleteValueKey(Kernel& k, uint64_t handle, GuestVa value_name) {
  const ProcessorMode mode = previous_mode(k);
  cm::NodeId node = cm::kNoNode;
  if (NtStatus st = k.cm().key_of_handle(handle, cm::kKeySetValue, mode, &node); !nt_success(st)) return st;
  std::u16string name;
  if (NtStatus st = capture_value_name(k, mode, value_name, &name); !nt_success(st)) return st;
  return cm::delete_value(k, mode, handle, name);
}

NtStatus NtDeleteKey(Kernel& k, uint64_t handle) {
  cm::NodeId node = cm::kNoNode;
  if (NtStatus st = k.cm().key_of_handle(handle, cm::kDelete, previous_mode(k), &node); !nt_success(st)) return st;
  // STATUS_CANNOT_DELETE with subkeys; other handles to the key then see STATUS_KEY_DELETED.
  return k.cm().hive().delete_key(node, k.cm().now());
}

NtStatus NtFlushKey(Kernel& k, uint64_t handle) {
  cm::NodeId node = cm::kNoNode;
  if (NtStatus st = k.cm().key_of_handle(handle, 0, previous_mode(k), &node); !nt_success(st)) return st;
  if (k.cm().hive().node(node).deleted) return STATUS_KEY_DELETED;
  // The hives live in memory only: there is nothing to write back.
  return STATUS_SUCCESS;
}

}  // namespace

NtStatus ZwOpenKey(Kernel& k, GuestVa key_handle, uint32_t desired, GuestVa object_attributes) {
  return as_kernel_caller(k, [&] { return NtOpenKeyEx(k, key_handle, desired, object_attributes, 0); });
}

NtStatus ZwOpenKeyEx(Kernel& k, GuestVa key_handle, uint32_t desired, GuestVa object_attributes, uint32_t options) {
  return as_kernel_caller(k, [&] { return NtOpenKeyEx(k, key_handle, desired, object_attributes, options); });
}

NtStatus ZwCreateKey(Kernel& k, GuestVa key_handle, uint32_t desired, GuestVa object_attributes, uint32_t title_index,
                     GuestVa class_name, uint32_t create_options, GuestVa disposition) {
  return as_kernel_caller(k, [&] {
    return NtCreateKey(k, key_handle, desired, object_attributes, title_index, class_name, create_options,
                       disposition);
  });
}

NtStatus ZwQueryValueKey(Kernel& k, uint64_t handle, GuestVa value_name, uint32_t info_class, GuestVa info,
                         uint32_t length, GuestVa result_length) {
  return as_kernel_caller(k, [&] { return NtQueryValueKey(k, handle, value_name, info_class, info, length, result_length); });
}

NtStatus ZwEnumerateValueKey(Kernel& k, uint64_t handle, uint32_t index, uint32_t info_class, GuestVa info,
                             uint32_t length, GuestVa result_length) {
  return as_kernel_caller(k, [&] { return NtEnumerateValueKey(k, handle, index, info_class, info, length, result_length); });
}

NtStatus ZwEnumerateKey(Kernel& k, uint64_t handle, uint32_t index, uint32_t info_class, GuestVa info, uint32_t length,
                        GuestVa result_length) {
  return as_kernel_caller(k, [&] { return NtEnumerateKey(k, handle, index, info_class, info, length, result_length); });
}

NtStatus ZwQueryKey(Kernel& k, uint64_t handle, uint32_t info_class, GuestVa info, uint32_t length,
                    GuestVa result_length) {
  return as_kernel_caller(k, [&] { return NtQueryKey(k, handle, info_class, info, length, result_length); });
}

NtStatus ZwSetValueKey(Kernel& k, uint64_t handle, GuestVa value_name, uint32_t title_index, uint32_t type, GuestVa data,
                       uint32_t data_size) {
  return as_kernel_caller(k, [&] { return NtSetValueKey(k, handle, value_name, title_index, type, data, data_size); });
}

NtStatus ZwDeleteValueKey(Kernel& k, uint64_t handle, GuestVa value_name) {
  return as_kernel_caller(k, [&] { return NtDeleteValueKey(k, handle, value_name); });
}

NtStatus ZwDeleteKey(Kernel& k, uint64_t handle) {
  return as_kernel_caller(k, [&] { return NtDeleteKey(k, handle); });
}

NtStatus ZwFlushKey(Kernel& k, uint64_t handle) {
  return as_kernel_caller(k, [&] { return NtFlushKey(k, handle); });
}

void register_rtl_registry_exports(Registry& r);
void register_device_property_exports(Registry& r);

void register_cm_exports(Registry& r) {
  KEMU_EXPORT(r, ZwOpenKey);
  KEMU_EXPORT(r, ZwOpenKeyEx);
  KEMU_EXPORT(r, ZwCreateKey);
  KEMU_EXPORT(r, ZwQueryValueKey);
  KEMU_EXPORT(r, ZwEnumerateValueKey);
  KEMU_EXPORT(r, ZwEnumerateKey);
  KEMU_EXPORT(r, ZwQueryKey);
  KEMU_EXPORT(r, ZwSetValueKey);
  KEMU_EXPORT(r, ZwDeleteValueKey);
  KEMU_EXPORT(r, ZwDeleteKey);
  KEMU_EXPORT(r, ZwFlushKey);
  register_rtl_registry_exports(r);
  register_device_property_exports(r);
}

}  // namespace kemu::nt
