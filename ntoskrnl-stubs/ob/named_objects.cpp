// Named objects: ObInsertObject's name handling, opening and referencing by
// name, the directory and link objects drivers create (semantics.md §3).
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/ob/object_attributes.h"
#include "ntoskrnl-stubs/ob/object_manager.h"
#include "ntoskrnl-stubs/ps/process_manager.h"

namespace kemu::nt::ob {

NtStatus ObjectManager::insert_and_open(ObjectId object, const std::optional<std::u16string>& path,
                                        uint32_t attributes, uint32_t desired_access, ProcessorMode mode,
                                        uint64_t* handle, ObjectId* opened) {
  *handle = 0;
  if (opened) *opened = kNoObject;
  // ObInsertObject drops the new object whenever it fails.
  auto drop = [&](NtStatus st) {
    dereference(object);
    return st;
  };
  // OBJ_PERMANENT needs SeCreatePermanentPrivilege, which no user token holds.
  if ((attributes & kObjPermanent) && mode == ProcessorMode::UserMode) return drop(STATUS_PRIVILEGE_NOT_HELD);
  uint32_t handle_attributes = attributes;
  if (mode == ProcessorMode::UserMode) handle_attributes &= ~kObjKernelHandle;
  ObjectId target = object;
  NtStatus result = STATUS_SUCCESS;
  if (path) {
    NtStatus st = STATUS_SUCCESS;
    auto existing = lookup(*path, !(attributes & kObjOpenLink), &st);
    if (existing && existing->remaining.empty()) {
      const ObjectRecord& e = objects_.at(existing->object);
      if (!(attributes & kObjOpenIf)) return drop(STATUS_OBJECT_NAME_COLLISION);
      if (e.type != objects_.at(object).type) return drop(STATUS_OBJECT_TYPE_MISMATCH);
      // OBJ_OPENIF: the existing object is opened and the new one dropped.
      target = existing->object;
      dereference(object);
      result = STATUS_OBJECT_NAME_EXISTS;
    } else if (existing) {
      return drop(STATUS_OBJECT_NAME_COLLISION);  // the name ends inside a device's namespace
    } else {
      if (st == STATUS_OBJECT_PATH_SYNTAX_BAD || st == STATUS_OBJECT_PATH_NOT_FOUND) return drop(st);
      st = insert(object, *path, (attributes & kObjPermanent) != 0);
      if (!nt_success(st)) return drop(st);
    }
  }
  // OBJ_EXCLUSIVE on creation makes the object exclusive (OB_FLAG_EXCLUSIVE_OBJECT).
  if (target == object && (attributes & kObjExclusive)) objects_.at(object).exclusive = true;
  if (NtStatus st = check_handle_attributes(target, handle_attributes, mode); !nt_success(st)) {
    if (target == object) return drop(st);
    return st;  // the new object was dropped already (OBJ_OPENIF)
  }
  *handle = create_handle(target, desired_access, handle_attributes);
  // The handle took its own reference; the creation reference goes to it.
  if (target == object) dereference(object);
  if (opened) *opened = target;
  return result;
}

NtStatus ObjectManager::reference_by_name(std::u16string_view path, std::optional<TypeIndex> type,
                                          uint32_t attributes, ObjectId* object) {
  *object = kNoObject;
  NtStatus st = STATUS_SUCCESS;
  auto found = lookup(path, !(attributes & kObjOpenLink), &st);
  if (!found) return st;
  const ObjectRecord& r = objects_.at(found->object);
  // A device's parse procedure (IopParseDevice) refuses a lookup that is not
  // an open with an open packet; other non-directories have no namespace.
  if (r.type == TypeIndex::Device || !found->remaining.empty()) return STATUS_OBJECT_TYPE_MISMATCH;
  if (type && *type != r.type) return STATUS_OBJECT_TYPE_MISMATCH;
  reference(found->object);
  *object = found->object;
  return STATUS_SUCCESS;
}

NtStatus ObjectManager::open_by_name(std::u16string_view path, std::optional<TypeIndex> type, uint32_t attributes,
                                     uint32_t desired_access, ProcessorMode mode, uint64_t* handle) {
  *handle = 0;
  ObjectId id = kNoObject;
  NtStatus st = reference_by_name(path, type, attributes, &id);
  if (!nt_success(st)) return st;
  uint32_t handle_attributes = attributes;
  if (mode == ProcessorMode::UserMode) handle_attributes &= ~kObjKernelHandle;
  if (NtStatus check = check_handle_attributes(id, handle_attributes, mode); !nt_success(check)) {
    dereference(id);
    return check;
  }
  *handle = create_handle(id, desired_access, handle_attributes);
  dereference(id);
  return STATUS_SUCCESS;
}

std::vector<ObjectId> ObjectManager::directory_entries(ObjectId directory) const {
  std::vector<ObjectId> out;
  const ObjectRecord* d = get(directory);
  if (!d) return out;
  for (auto& [name, id] : d->entries) out.push_back(id);
  return out;
}

std::pair<uint32_t, uint32_t> ObjectManager::type_counts(TypeIndex type) const {
  auto it = type_counts_.find(static_cast<uint8_t>(type));
  if (it == type_counts_.end()) return {0, 0};
  return {it->second.objects, it->second.handles};
}

}  // namespace kemu::nt::ob
