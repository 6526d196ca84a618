// The object namespace as drivers reach it: directory and symbolic-link
// objects (create, open, query), temporary objects, and referencing or
// opening objects by name. A kernel caller's ZwXxx runs with PreviousMode
// KernelMode for the call (as_kernel_caller, semantics.md §3); the routines
// also take the mode as a parameter (ntoskrnl does not export their NtXxx forms).
#include <algorithm>
#include <cstring>

#include "emulator/ntstatus.h"
#include "ntoskrnl-stubs/api/caller_memory.h"
#include "ntoskrnl-stubs/api/previous_mode.h"
#include "ntoskrnl-stubs/api/registry.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/ob_structs.h"
#include "ntoskrnl-stubs/ob/object_attributes.h"
#include "ntoskrnl-stubs/ob/object_manager.h"

namespace kemu::nt {

namespace {

constexpr uint32_t kDirectoryQuery = 0x1;
constexpr uint32_t kSymbolicLinkQuery = 0x1;
constexpr uint32_t kDelete = 0x10000;

// Writes the new handle to the caller's HANDLE*; on failure the handle is
// closed again, as the service's __try does.
NtStatus return_handle(Kernel& k, ProcessorMode mode, GuestVa out, uint64_t handle, NtStatus status) {
  if (NtStatus st = caller::write<uint64_t>(k, mode, out, handle); !nt_success(st)) {
    k.ob().close_handle(handle, ProcessorMode::KernelMode);
    return st;
  }
  return status;
}

// The common shape of NtCreateDirectoryObject / NtCreateSymbolicLinkObject.
NtStatus create_named(Kernel& k, ProcessorMode mode, GuestVa handle_out, uint32_t desired, GuestVa oa,
                      const std::function<ob::ObjectId()>& make) {
  if (mode == ProcessorMode::UserMode) {
    if (NtStatus st = caller::probe(handle_out, 8, 8); !nt_success(st)) return st;
  }
  ob::CapturedAttributes a;
  if (NtStatus st = ob::capture_object_attributes(k, mode, oa, &a); !nt_success(st)) return st;
  std::optional<std::u16string> path;
  if (a.name && !a.name->empty()) {
    std::u16string p;
    if (NtStatus st = ob::absolute_name(k, mode, a, &p); !nt_success(st)) return st;
    path = p;
  }
  ob::ObjectId object = make();
  uint64_t handle = 0;
  NtStatus st = k.ob().insert_and_open(object, path, a.attributes, desired, mode, &handle);
  if (!nt_success(st)) return st;
  return return_handle(k, mode, handle_out, handle, st);
}

// The common shape of the NtOpenXxx routines for namespace objects.
NtStatus open_named(Kernel& k, ProcessorMode mode, GuestVa handle_out, uint32_t desired, GuestVa oa,
                    ob::TypeIndex type) {
  if (mode == ProcessorMode::UserMode) {
    if (NtStatus st = caller::probe(handle_out, 8, 8); !nt_success(st)) return st;
  }
  ob::CapturedAttributes a;
  if (NtStatus st = ob::capture_object_attributes(k, mode, oa, &a); !nt_success(st)) return st;
  if (!a.name) return STATUS_OBJECT_NAME_INVALID;
  std::u16string path;
  if (NtStatus st = ob::absolute_name(k, mode, a, &path); !nt_success(st)) return st;
  // An open of a link names the link itself.
  uint32_t attributes = a.attributes | (type == ob::TypeIndex::SymbolicLink ? ob::kObjOpenLink : 0);
  uint64_t handle = 0;
  NtStatus st = k.ob().open_by_name(path, type, attributes, desired, mode, &handle);
  if (!nt_success(st)) return st;
  return return_handle(k, mode, handle_out, handle, st);
}

NtStatus create_directory(Kernel& k, ProcessorMode mode, GuestVa handle_out, uint32_t desired, GuestVa oa) {
  return create_named(k, mode, handle_out, desired, oa, [&] { return k.ob().create_directory_object(); });
}

NtStatus create_link(Kernel& k, ProcessorMode mode, GuestVa handle_out, uint32_t desired, GuestVa oa,
                     GuestVa target) {
  std::u16string text;
  if (!target) return STATUS_INVALID_PARAMETER;
  if (NtStatus st = caller::read_unicode_string(k, mode, target, &text); !nt_success(st)) return st;
  return create_named(k, mode, handle_out, desired, oa, [&] { return k.ob().create_link_object(text); });
}

// NtQueryDirectoryObject(Handle, Buffer, Length, ReturnSingleEntry,
// RestartScan, Context*, ReturnLength*): OBJECT_DIRECTORY_INFORMATION
// entries from *Context on, an all-zero entry after them, then the strings.
NtStatus query_directory(Kernel& k, ProcessorMode mode, uint64_t handle, GuestVa buffer, uint32_t length,
                         bool single, bool restart, GuestVa context, GuestVa return_length) {
  ob::ObjectId dir = ob::kNoObject;
  NtStatus st = k.ob().reference_by_handle(handle, kDirectoryQuery, ob::TypeIndex::Directory, mode, &dir, nullptr);
  if (!nt_success(st)) return st;
  uint32_t index = 0;
  if (!restart) {
    if (st = caller::read<uint32_t>(k, mode, context, &index); !nt_success(st)) {
      k.ob().dereference(dir);
      return st;
    }
  }
  std::vector<ob::ObjectId> entries = k.ob().directory_entries(dir);
  k.ob().dereference(dir);
  if (index >= entries.size()) return STATUS_NO_MORE_ENTRIES;

  // Lay out as many entries as fit: the array (plus the terminating entry)
  // first, the name and type-name strings (NUL-terminated) after it.
  struct Item {
    std::u16string name, type;
  };
  std::vector<Item> items;
  uint64_t strings = 0;
  uint32_t needed_for_first = 0;
  for (size_t i = index; i < entries.size(); ++i) {
    const ob::ObjectRecord* r = k.ob().get(entries[i]);
    Item item{r->name, std::u16string(ob::descriptor(r->type).name)};
    uint64_t item_strings = (item.name.size() + 1 + item.type.size() + 1) * 2;
    uint64_t total = (items.size() + 2) * sizeof(layout::OBJECT_DIRECTORY_INFORMATION) + strings + item_strings;
    if (items.empty()) needed_for_first = static_cast<uint32_t>(total);
    if (total > length) break;
    items.push_back(std::move(item));
    strings += item_strings;
    if (single) break;
  }
  if (items.empty()) {
    // Not even one entry fits: the length one entry needs.
    if (return_length) caller::write<uint32_t>(k, mode, return_length, needed_for_first);
    return STATUS_BUFFER_TOO_SMALL;
  }
  std::vector<uint8_t> out((items.size() + 1) * sizeof(layout::OBJECT_DIRECTORY_INFORMATION) + strings, 0);
  uint64_t text_at = (items.size() + 1) * sizeof(layout::OBJECT_DIRECTORY_INFORMATION);
  auto put_string = [&](const std::u16string& s, layout::UNICODE_STRING* us) {
    us->Length = static_cast<uint16_t>(s.size() * 2);
    us->MaximumLength = static_cast<uint16_t>(s.size() * 2 + 2);
    us->Buffer = buffer.value + text_at;
    std::memcpy(out.data() + text_at, s.data(), s.size() * 2);
    text_at += s.size() * 2 + 2;
  };
  for (size_t i = 0; i < items.size(); ++i) {
    layout::OBJECT_DIRECTORY_INFORMATION e{};
    put_string(items[i].name, &e.Name);
    put_string(items[i].type, &e.TypeName);
    std::memcpy(out.data() + i * sizeof(e), &e, sizeof(e));
  }
  if (st = caller::write_bytes(k, mode, buffer, out.data(), out.size(), 4); !nt_success(st)) return st;
  uint32_t next = index + static_cast<uint32_t>(items.size());
  if (st = caller::write<uint32_t>(k, mode, context, next); !nt_success(st)) return st;
  if (return_length) caller::write<uint32_t>(k, mode, return_length, static_cast<uint32_t>(out.size()));
  // More entries remain than the buffer could take.
  return (!single && next < entries.size()) ? STATUS_MORE_ENTRIES : STATUS_SUCCESS;
}

// NtQuerySymbolicLinkObject(Handle, LinkTarget*, ReturnedLength*): the
// target copied into LinkTarget->Buffer with its NUL when it fits;
// ReturnedLength receives the bytes needed (with the NUL).
NtStatus query_link(Kernel& k, ProcessorMode mode, uint64_t handle, GuestVa target_us, GuestVa returned) {
  ob::ObjectId link = ob::kNoObject;
  NtStatus st =
      k.ob().reference_by_handle(handle, kSymbolicLinkQuery, ob::TypeIndex::SymbolicLink, mode, &link, nullptr);
  if (!nt_success(st)) return st;
  std::u16string target = k.ob().get(link)->link_target;
  k.ob().dereference(link);
  layout::UNICODE_STRING us{};
  if (st = caller::read(k, mode, target_us, &us); !nt_success(st)) return st;
  uint32_t bytes = static_cast<uint32_t>(target.size() * 2);
  uint32_t with_nul = bytes + 2;
  if (bytes > us.MaximumLength) {
    if (returned) caller::write<uint32_t>(k, mode, returned, with_nul);
    return STATUS_BUFFER_TOO_SMALL;
  }
  // The NUL is copied when there is room for it.
  uint32_t copy = std::min<uint32_t>(with_nul, us.MaximumLength);
  std::u16string text = target + u'\0';
  if (st = caller::write_bytes(k, mode, GuestVa{us.Buffer}, text.data(), copy, 2); !nt_success(st)) return st;
  us.Length = static_cast<uint16_t>(bytes);
  if (st = caller::write(k, mode, target_us, us); !nt_success(st)) return st;
  if (returned) caller::write<uint32_t>(k, mode, returned, copy);
  return STATUS_SUCCESS;
}

// NtMakeTemporaryObject: DELETE access to the object; it loses its name with its last handle.
NtStatus make_temporary(Kernel& k, ProcessorMode mode, uint64_t handle) {
  ob::ObjectId id = ob::kNoObject;
  NtStatus st = k.ob().reference_by_handle(handle, kDelete, std::nullopt, mode, &id, nullptr);
  if (!nt_success(st)) return st;
  k.ob().make_temporary(id);
  k.ob().dereference(id);
  return STATUS_SUCCESS;
}

}  // namespace

NtStatus ZwCreateDirectoryObject(Kernel& k, GuestVa handle_out, uint32_t desired, GuestVa oa) {
  return as_kernel_caller(
      k, [&] { return create_directory(k, ProcessorMode::KernelMode, handle_out, desired, oa); });
}
NtStatus ZwOpenDirectoryObject(Kernel& k, GuestVa handle_out, uint32_t desired, GuestVa oa) {
  return as_kernel_caller(k, [&] {
    return open_named(k, ProcessorMode::KernelMode, handle_out, desired, oa,
                      ob::TypeIndex::Directory);
  });
}
NtStatus ZwQueryDirectoryObject(Kernel& k, uint64_t handle, GuestVa buffer, uint32_t length,
                                uint8_t single, uint8_t restart, GuestVa context,
                                GuestVa return_length) {
  return as_kernel_caller(k, [&] {
    return query_directory(k, ProcessorMode::KernelMode, handle, buffer, length, single, restart,
                           context, return_length);
  });
}
NtStatus ZwCreateSymbolicLinkObject(Kernel& k, GuestVa handle_out, uint32_t desired, GuestVa oa,
                                    GuestVa target) {
  return as_kernel_caller(k, [&] {
    return create_link(k, ProcessorMode::KernelMode, handle_out, desired, oa, target);
  });
}
NtStatus ZwOpenSymbolicLinkObject(Kernel& k, GuestVa handle_out, uint32_t desired, GuestVa oa) {
  return as_kernel_caller(k, [&] {
    return open_named(k, ProcessorMode::KernelMode, handle_out, desired, oa,
                      ob::TypeIndex::SymbolicLink);
  });
}
NtStatus ZwQuerySymbolicLinkObject(Kernel& k, uint64_t handle, GuestVa target, GuestVa returned) {
  return as_kernel_caller(
      k, [&] { return query_link(k, ProcessorMode::KernelMode, handle, target, returned); });
}

NtStatus ZwMakeTemporaryObject(Kernel& k, uint64_t handle) {
  return as_kernel_caller(k, [&] { return make_temporary(k, ProcessorMode::KernelMode, handle); });
}

// ObMakeTemporaryObject(Object): by pointer, no access check.
void ObMakeTemporaryObject(Kernel& k, GuestVa object) {
  if (ob::ObjectRecord* r = k.ob().by_body(object)) k.ob().make_temporary(r->id);
}

// ObReferenceObjectByName(ObjectName, Attributes, AccessState, DesiredAccess,
//                         ObjectType, AccessMode, ParseContext, Object*).
NtStatus ObReferenceObjectByName(Kernel& k, GuestVa name, uint32_t attributes, GuestVa access_state,
                                 uint32_t desired, GuestVa type, uint8_t mode, GuestVa parse_context,
                                 GuestVa object_out) {
  std::u16string path = k.read_unicode_string(name);
  if (path.empty() || path[0] != u'\\') return STATUS_OBJECT_NAME_INVALID;
  ob::ObjectId id = ob::kNoObject;
  NtStatus st = k.ob().reference_by_name(path, k.ob().type_argument(type), attributes, &id);
  if (!nt_success(st)) return st;
  k.memory().write<uint64_t>(object_out, k.ob().get(id)->body.value);
  return STATUS_SUCCESS;
}

// ObOpenObjectByName(ObjectAttributes, ObjectType, AccessMode, AccessState,
//                    DesiredAccess, ParseContext, Handle*).
NtStatus ObOpenObjectByName(Kernel& k, GuestVa oa, GuestVa type, uint8_t mode_byte, GuestVa access_state,
                            uint32_t desired, GuestVa parse_context, GuestVa handle_out) {
  ProcessorMode mode = mode_byte ? ProcessorMode::UserMode : ProcessorMode::KernelMode;
  ob::CapturedAttributes a;
  NtStatus st = ob::capture_object_attributes(k, mode, oa, &a);
  if (!nt_success(st)) return st;
  if (!a.name) return STATUS_OBJECT_NAME_INVALID;
  std::u16string path;
  if (st = ob::absolute_name(k, mode, a, &path); !nt_success(st)) return st;
  uint64_t handle = 0;
  st = k.ob().open_by_name(path, k.ob().type_argument(type), a.attributes, desired, mode, &handle);
  if (!nt_success(st)) return st;
  k.memory().write<uint64_t>(handle_out, handle);
  return STATUS_SUCCESS;
}

// ObReferenceObjectSafe: a reference unless the object is already being deleted.
uint8_t ObReferenceObjectSafe(Kernel& k, GuestVa object) {
  ob::ObjectRecord* r = k.ob().by_body(object);
  if (!r || r->pointer_count <= 0 || r->deleting) return 0;
  k.ob().reference(r->id);
  return 1;
}

void register_namespace_exports(Registry& r) {
  KEMU_EXPORT(r, ZwCreateDirectoryObject);
  KEMU_EXPORT(r, ZwOpenDirectoryObject);
  KEMU_EXPORT(r, ZwQueryDirectoryObject);
  KEMU_EXPORT(r, ZwCreateSymbolicLinkObject);
  KEMU_EXPORT(r, ZwOpenSymbolicLinkObject);
  KEMU_EXPORT(r, ZwQuerySymbolicLinkObject);
  KEMU_EXPORT(r, ZwMakeTemporaryObject);
  KEMU_EXPORT(r, ObMakeTemporaryObject);
  KEMU_EXPORT(r, ObReferenceObjectByName);
  KEMU_EXPORT(r, ObOpenObjectByName);
  KEMU_EXPORT(r, ObReferenceObjectSafe);
}

}  // namespace kemu::nt
