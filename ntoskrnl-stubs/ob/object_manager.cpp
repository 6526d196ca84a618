#include "ntoskrnl-stubs/ob/object_manager.h"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/nt_structs.h"

namespace kemu::nt::ob {

namespace {
constexpr uint32_t kObjectTag = 0x6A624F4B;  // 'KObj' (appears as "KObj" in pool dumps)
constexpr int kMaxReparse = 32;

std::vector<std::u16string_view> components(std::u16string_view path) {
  std::vector<std::u16string_view> out;
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == u'\\') ++i;
    size_t j = i;
    while (j < path.size() && path[j] != u'\\') ++j;
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}
}  // namespace

char16_t upcase(char16_t c) {
  if (c >= u'a' && c <= u'z') return c - 0x20;
  if (c >= 0xE0 && c <= 0xFE && c != 0xF7) return c - 0x20;
  if (c == 0xFF) return 0x178;
  return c;
}

bool names_equal(std::u16string_view a, std::u16string_view b, bool case_insensitive) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (case_insensitive ? upcase(a[i]) != upcase(b[i]) : a[i] != b[i]) return false;
  }
  return true;
}

bool NameLess::operator()(const std::u16string& a, const std::u16string& b) const {
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    char16_t x = upcase(a[i]), y = upcase(b[i]);
    if (x != y) return x < y;
  }
  return a.size() < b.size();
}

ObjectManager::ObjectManager(Kernel& kernel) : kernel_(kernel) {}

void ObjectManager::initialize() {
  // The Type objects come first: every object header names its type.
  for (const TypeDescriptor& t : all_types()) {
    ObjectId id = create(TypeIndex::Type, sizeof(layout::OBJECT_TYPE));
    ObjectRecord& r = objects_.at(id);
    r.permanent = true;
    type_objects_[static_cast<uint8_t>(t.index)] = id;
    layout::OBJECT_TYPE body{};
    body.TypeList = {r.body.value, r.body.value};
    GuestVa name = kernel_.new_unicode_string(t.name, 0, kObjectTag);
    body.Name = kernel_.memory().read<layout::UNICODE_STRING>(name);
    body.Index = static_cast<uint8_t>(t.index);
    body.TotalNumberOfObjects = 0;
    body.TypeInfoLength = 0x78;
    body.GenericMapping = t.mapping;
    body.ValidAccessMask = t.valid_access_mask;
    body.PoolType = t.pool_type;
    body.CallbackList = {r.body.value + offsetof(layout::OBJECT_TYPE, CallbackList),
                         r.body.value + offsetof(layout::OBJECT_TYPE, CallbackList)};
    kernel_.memory().write(r.body, body);
  }

  // The Type objects were counted before their type existed: write the totals now.
  for (const TypeDescriptor& t : all_types()) count_in_type(t.index, 0, 0);

  root_ = create_directory(kNoObject, u"");
  ObjectId types = create_directory(root_, u"ObjectTypes");
  for (const TypeDescriptor& t : all_types())
    link_into(types, type_objects_.at(static_cast<uint8_t>(t.index)), t.name);
  for (auto dir : {u"Device", u"Driver", u"BaseNamedObjects", u"Callback", u"KernelObjects",
                   u"FileSystem", u"Sessions", u"RPC Control"})
    create_directory(root_, dir);
  global_dos_devices_ = create_directory(root_, u"GLOBAL??");
  // \DosDevices is a link to \??, which the lookup maps to \GLOBAL?? (there
  // is no per-session DosDevices directory in kemu).
  create_link(root_, u"DosDevices", u"\\??");
  create_link(global_dos_devices_, u"GLOBALROOT", u"");
  create_link(global_dos_devices_, u"Global", u"\\GLOBAL??");
}

ObjectId ObjectManager::create(TypeIndex type, uint64_t body_size) {
  uint64_t size = sizeof(layout::OBJECT_HEADER) + body_size;
  auto block = kernel_.machine().pool().allocate(size, descriptor(type).pool_type, kObjectTag, GuestVa{});
  if (!block) throw emu::GuestMemoryExhausted("pool exhausted creating an object");
  // Object bodies start zeroed (ObCreateObject clears them for kernel objects).
  for (uint64_t off = 0; off < size; off += 8) {
    uint64_t zero = 0;
    kernel_.memory().write(*block + off, &zero, std::min<uint64_t>(8, size - off));
  }
  ObjectRecord r;
  r.id = next_id_++;
  r.type = type;
  r.header = *block;
  r.body = *block + sizeof(layout::OBJECT_HEADER);
  r.body_size = body_size;
  r.pointer_count = 1;
  by_body_[r.body.value] = r.id;
  auto [it, _] = objects_.emplace(r.id, std::move(r));
  sync_header(it->second);
  count_in_type(type, 1, 0);
  return it->first;
}

void ObjectManager::count_in_type(TypeIndex type, int objects, int handles) {
  TypeCounts& c = type_counts_[static_cast<uint8_t>(type)];
  c.objects += objects;
  c.handles += handles;
  c.high_objects = std::max(c.high_objects, c.objects);
  c.high_handles = std::max(c.high_handles, c.handles);
  auto t = type_objects_.find(static_cast<uint8_t>(type));
  if (t == type_objects_.end()) return;  // the Type objects themselves, while the types are being made
  GuestVa body = objects_.at(t->second).body;
  kernel_.memory().write<uint32_t>(body + offsetof(layout::OBJECT_TYPE, TotalNumberOfObjects), c.objects);
  kernel_.memory().write<uint32_t>(body + offsetof(layout::OBJECT_TYPE, TotalNumberOfHandles), c.handles);
  kernel_.memory().write<uint32_t>(body + offsetof(layout::OBJECT_TYPE, HighWaterNumberOfObjects), c.high_objects);
  kernel_.memory().write<uint32_t>(body + offsetof(layout::OBJECT_TYPE, HighWaterNumberOfHandles), c.high_handles);
}

void ObjectManager::sync_header(const ObjectRecord& r) {
  layout::OBJECT_HEADER h{};
  h.PointerCount = r.pointer_count;
  h.HandleCount = r.handle_count;
  h.TypeIndex = static_cast<uint8_t>(r.type);
  h.Flags = r.permanent ? 0x10 : 0;  // OB_FLAG_PERMANENT_OBJECT
  h.SecurityDescriptor = r.security_copy.value;
  kernel_.memory().write(r.header, h);
}

ObjectId ObjectManager::create_directory(ObjectId parent, std::u16string_view name) {
  ObjectId id = create(TypeIndex::Directory, 0x158);  // sizeof(OBJECT_DIRECTORY)
  objects_.at(id).permanent = true;
  if (parent != kNoObject) link_into(parent, id, name);
  sync_header(objects_.at(id));
  return id;
}

ObjectId ObjectManager::create_link(ObjectId parent, std::u16string_view name,
                                    std::u16string_view target) {
  ObjectId id = create_link_object(target);
  ObjectRecord& r = objects_.at(id);
  r.permanent = true;
  link_into(parent, id, name);
  sync_header(r);
  return id;
}

ObjectId ObjectManager::create_link_object(std::u16string_view target) {
  ObjectId id = create(TypeIndex::SymbolicLink, 0x28);  // OBJECT_SYMBOLIC_LINK
  ObjectRecord& r = objects_.at(id);
  r.link_target = std::u16string(target);
  // OBJECT_SYMBOLIC_LINK: CreationTime at 0, LinkTarget (UNICODE_STRING) at 8.
  GuestVa us = kernel_.new_unicode_string(target, 1, kObjectTag);
  kernel_.memory().write(r.body + 8, kernel_.memory().read<layout::UNICODE_STRING>(us));
  kernel_.memory().write<uint64_t>(r.body, kernel_.machine().system_time());
  return id;
}

ObjectId ObjectManager::create_directory_object() { return create(TypeIndex::Directory, 0x158); }

void ObjectManager::link_into(ObjectId parent, ObjectId child, std::u16string_view name) {
  ObjectRecord& p = objects_.at(parent);
  p.entries[std::u16string(name)] = child;
  ObjectRecord& c = objects_.at(child);
  if (c.parent == kNoObject) {
    c.parent = parent;
    c.name = std::u16string(name);
  }
}

NtStatus ObjectManager::insert(ObjectId object, std::u16string_view path, bool permanent) {
  auto parts = components(path);
  if (path.empty() || path[0] != u'\\' || parts.empty()) return STATUS_OBJECT_NAME_INVALID;
  std::u16string parent_path;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    parent_path += u'\\';
    parent_path += parts[i];
  }
  if (parent_path.empty()) parent_path = u"\\";
  NtStatus status = STATUS_SUCCESS;
  auto parent = lookup(parent_path, true, &status);
  if (!parent || !parent->remaining.empty()) return STATUS_OBJECT_PATH_NOT_FOUND;
  ObjectRecord& dir = objects_.at(parent->object);
  if (dir.type != TypeIndex::Directory) return STATUS_OBJECT_PATH_NOT_FOUND;
  std::u16string leaf(parts.back());
  if (dir.entries.contains(leaf)) return STATUS_OBJECT_NAME_COLLISION;
  ObjectRecord& r = objects_.at(object);
  r.permanent = r.permanent || permanent;
  dir.entries[leaf] = object;
  r.parent = parent->object;
  r.name = leaf;
  sync_header(r);
  return STATUS_SUCCESS;
}

std::optional<LookupResult> ObjectManager::lookup(std::u16string_view path, bool follow_final_link,
                                                  NtStatus* status) const {
  auto fail = [&](NtStatus s) -> std::optional<LookupResult> {
    if (status) *status = s;
    return std::nullopt;
  };
  std::u16string current(path);
  for (int reparse = 0; reparse <= kMaxReparse; ++reparse) {
    if (current.empty() || current[0] != u'\\') return fail(STATUS_OBJECT_PATH_SYNTAX_BAD);
    // \?? is the caller's DosDevices directory; kemu has only the global one.
    if (current == u"\\??" || current.starts_with(u"\\??\\")) current = u"\\GLOBAL??" + current.substr(3);
    auto parts = components(current);
    // The name exactly as written after component i (its separators kept):
    // what a parse procedure or a link's target continues with.
    auto raw_tail_after = [&](size_t i) {
      return current.substr(static_cast<size_t>(parts[i].data() - current.data()) + parts[i].size());
    };
    ObjectId at = root_;
    bool reparsed = false;
    for (size_t i = 0; i < parts.size(); ++i) {
      const ObjectRecord& dir = objects_.at(at);
      if (dir.type != TypeIndex::Directory) {
        // A non-directory keeps the rest of the name as written (a device's
        // namespace: "\dir\f.txt", a trailing '\' included).
        if (status) *status = STATUS_SUCCESS;
        return LookupResult{at, raw_tail_after(i - 1)};
      }
      auto it = dir.entries.find(std::u16string(parts[i]));
      if (it == dir.entries.end())
        return fail(i + 1 == parts.size() ? STATUS_OBJECT_NAME_NOT_FOUND : STATUS_OBJECT_PATH_NOT_FOUND);
      const ObjectRecord& next = objects_.at(it->second);
      bool last = i + 1 == parts.size();
      if (next.type == TypeIndex::SymbolicLink && (!last || follow_final_link)) {
        // The target continues with the rest of the name as written
        // ("\??\C:\" is the volume's root, "\??\C:" the volume).
        std::u16string rebuilt = next.link_target + raw_tail_after(i);
        if (rebuilt.empty()) rebuilt = u"\\";
        current = rebuilt;
        reparsed = true;
        break;
      }
      at = it->second;
    }
    if (!reparsed) {
      if (status) *status = STATUS_SUCCESS;
      // Separators after the last component reach a non-directory's parse
      // procedure ("\Device\X\" opens "\" on X).
      if (!parts.empty() && objects_.at(at).type != TypeIndex::Directory)
        return LookupResult{at, raw_tail_after(parts.size() - 1)};
      return LookupResult{at, {}};
    }
  }
  return fail(STATUS_OBJECT_PATH_NOT_FOUND);  // too many reparses (link loop)
}

void ObjectManager::reference(ObjectId id) {
  ObjectRecord& r = objects_.at(id);
  ++r.pointer_count;
  sync_header(r);
}

void ObjectManager::dereference(ObjectId id) {
  auto it = objects_.find(id);
  if (it == objects_.end()) return;
  ObjectRecord& r = it->second;
  --r.pointer_count;
  sync_header(r);
  if (r.pointer_count <= 0 && r.handle_count <= 0 && !r.permanent && !r.deleting) destroy(id);
}

void ObjectManager::set_close_procedure(TypeIndex type, TypeProcedure procedure) {
  close_procedures_[static_cast<uint8_t>(type)] = std::move(procedure);
}

void ObjectManager::set_delete_procedure(TypeIndex type, TypeProcedure procedure) {
  delete_procedures_[static_cast<uint8_t>(type)] = std::move(procedure);
}

void ObjectManager::set_query_name_procedure(TypeIndex type, NameProcedure procedure) {
  name_procedures_[static_cast<uint8_t>(type)] = std::move(procedure);
}

void ObjectManager::make_temporary(ObjectId id) {
  ObjectRecord& r = objects_.at(id);
  r.permanent = false;
  // A temporary object loses its name once no handle refers to it.
  if (r.handle_count <= 0 && r.parent != kNoObject) {
    objects_.at(r.parent).entries.erase(r.name);
    r.parent = kNoObject;
  }
  sync_header(r);
}

void ObjectManager::destroy(ObjectId id) {
  {
    ObjectRecord& r = objects_.at(id);
    auto proc = delete_procedures_.find(static_cast<uint8_t>(r.type));
    if (proc != delete_procedures_.end()) {
      // The delete procedure may run driver code that references and
      // dereferences the object: it must not be destroyed twice.
      r.deleting = true;
      proc->second(id);
    }
  }
  ObjectRecord& r = objects_.at(id);
  if (r.parent != kNoObject) {
    auto& entries = objects_.at(r.parent).entries;
    auto e = entries.find(r.name);
    if (e != entries.end() && e->second == id) entries.erase(e);
  }
  by_body_.erase(r.body.value);
  if (r.security_copy) retire_security_copy(r.security_copy);
  kernel_.machine().pool().free(r.header, std::nullopt);
  TypeIndex type = r.type;
  objects_.erase(id);
  count_in_type(type, -1, 0);
}

ObjectRecord* ObjectManager::get(ObjectId id) {
  auto it = objects_.find(id);
  return it == objects_.end() ? nullptr : &it->second;
}

const ObjectRecord* ObjectManager::get(ObjectId id) const {
  auto it = objects_.find(id);
  return it == objects_.end() ? nullptr : &it->second;
}

ObjectRecord* ObjectManager::by_body(GuestVa body) {
  auto it = by_body_.find(body.value);
  return it == by_body_.end() ? nullptr : get(it->second);
}

std::u16string ObjectManager::full_name(ObjectId id) const {
  std::u16string name;
  const ObjectRecord* r = get(id);
  if (r) {
    auto proc = name_procedures_.find(static_cast<uint8_t>(r->type));
    if (proc != name_procedures_.end()) return proc->second(id);
  }
  if (!r || r->name.empty()) return name;
  while (r && r->id != root_) {
    name = u"\\" + r->name + name;
    r = get(r->parent);
  }
  return name;
}

GuestVa ObjectManager::type_object(TypeIndex type) const {
  return objects_.at(type_objects_.at(static_cast<uint8_t>(type))).body;
}

std::optional<TypeIndex> ObjectManager::type_argument(GuestVa type_object) const {
  if (!type_object) return std::nullopt;
  auto t = type_by_object(type_object);
  return t ? t : std::optional<TypeIndex>(static_cast<TypeIndex>(0xFF));
}

std::optional<TypeIndex> ObjectManager::type_by_object(GuestVa type_body) const {
  for (auto& [index, id] : type_objects_)
    if (objects_.at(id).body == type_body) return static_cast<TypeIndex>(index);
  return std::nullopt;
}

}  // namespace kemu::nt::ob
