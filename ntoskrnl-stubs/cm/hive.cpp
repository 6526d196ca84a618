#include "ntoskrnl-stubs/cm/hive.h"

#include <algorithm>
#include <stdexcept>

#include "ntoskrnl-stubs/ob/object_manager.h"

namespace kemu::nt::cm {

namespace {
// Registry symbolic links may chain; past this many the open fails, as a
// reparse loop does.
constexpr int kMaxLinkHops = 16;

bool upcased_less(std::u16string_view a, std::u16string_view b) {
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    char16_t x = ob::upcase(a[i]), y = ob::upcase(b[i]);
    if (x != y) return x < y;
  }
  return a.size() < b.size();
}
}  // namespace

std::vector<std::u16string_view> path_components(std::u16string_view path) {
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

bool same_name(std::u16string_view a, std::u16string_view b) { return ob::names_equal(a, b, true); }

Hive::Hive() {
  root_ = new_node(kNoNode, u"REGISTRY", false, false, u"", 0);
  nodes_.at(root_).no_delete = true;
}

NodeId Hive::new_node(NodeId parent, std::u16string_view name, bool is_volatile, bool is_link,
                      std::u16string_view class_name, int64_t time) {
  KeyNode n;
  n.id = next_++;
  n.parent = parent;
  n.name = std::u16string(name);
  n.class_name = std::u16string(class_name);
  n.is_volatile = is_volatile;
  n.is_link = is_link;
  n.last_write_time = time;
  NodeId id = n.id;
  nodes_.emplace(id, std::move(n));
  if (parent != kNoNode) {
    KeyNode& p = nodes_.at(parent);
    insert_sorted(p, id);
    // The parent's high-water marks and write time follow a new subkey.
    p.max_name_len = std::max<uint32_t>(p.max_name_len, static_cast<uint32_t>(name.size() * 2));
    p.max_class_len = std::max<uint32_t>(p.max_class_len, static_cast<uint32_t>(class_name.size() * 2));
    p.last_write_time = time;
  }
  return id;
}

void Hive::insert_sorted(KeyNode& parent, NodeId child) {
  // A key's subkey lists are sorted by upcased name; stable keys are
  // enumerated before volatile ones.
  const KeyNode& c = nodes_.at(child);
  auto pos = std::find_if(parent.subkeys.begin(), parent.subkeys.end(), [&](NodeId other) {
    const KeyNode& o = nodes_.at(other);
    if (o.is_volatile != c.is_volatile) return !c.is_volatile;
    return upcased_less(c.name, o.name);
  });
  parent.subkeys.insert(pos, child);
}

NodeId Hive::child(NodeId parent, std::u16string_view name) const {
  for (NodeId id : nodes_.at(parent).subkeys)
    if (same_name(nodes_.at(id).name, name)) return id;
  return kNoNode;
}

Hive::Resolved Hive::resolve(NodeId start, std::u16string_view path, bool open_link) const {
  Resolved r;
  if (nodes_.at(start).deleted) {
    r.status = STATUS_KEY_DELETED;
    return r;
  }
  std::vector<std::u16string> parts;
  for (auto c : path_components(path)) parts.emplace_back(c);
  NodeId at = start;
  int hops = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].size() > kMaxKeyNameChars) {
      r.status = STATUS_OBJECT_NAME_INVALID;
      return r;
    }
    NodeId next = child(at, parts[i]);
    bool last = i + 1 == parts.size();
    if (next == kNoNode) {
      r.status = STATUS_OBJECT_NAME_NOT_FOUND;
      if (last) {
        r.parent = at;
        r.missing_leaf = parts[i];
      }
      return r;
    }
    const KeyNode& n = nodes_.at(next);
    if (n.is_link && !(last && open_link)) {
      // A link key stands for the key its SymbolicLinkValue names (an
      // absolute \REGISTRY\... path); the walk goes on from there.
      const Value* target = find_value(next, kSymbolicLinkValue);
      if (!target || target->type != reg::kLink || ++hops > kMaxLinkHops) {
        r.status = STATUS_OBJECT_NAME_NOT_FOUND;
        return r;
      }
      std::u16string text(target->data.size() / 2, u'\0');
      std::copy_n(target->data.begin(), text.size() * 2, reinterpret_cast<uint8_t*>(text.data()));
      auto target_parts = path_components(text);
      if (target_parts.empty() || !same_name(target_parts[0], u"REGISTRY")) {
        r.status = STATUS_OBJECT_NAME_NOT_FOUND;
        return r;
      }
      std::vector<std::u16string> rebuilt;
      for (size_t j = 1; j < target_parts.size(); ++j) rebuilt.emplace_back(target_parts[j]);
      for (size_t j = i + 1; j < parts.size(); ++j) rebuilt.push_back(parts[j]);
      parts = std::move(rebuilt);
      at = root_;
      i = static_cast<size_t>(-1);  // restart the walk at \REGISTRY
      if (parts.empty()) break;
      continue;
    }
    at = next;
  }
  r.node = at;
  return r;
}

NtStatus Hive::create_child(NodeId parent, std::u16string_view name, bool is_volatile, bool is_link,
                            std::u16string_view class_name, int64_t time, NodeId* out) {
  const KeyNode& p = nodes_.at(parent);
  if (p.deleted) return STATUS_KEY_DELETED;
  // Stable keys cannot live below volatile ones.
  if (p.is_volatile && !is_volatile) return STATUS_CHILD_MUST_BE_VOLATILE;
  *out = new_node(parent, name, is_volatile, is_link, class_name, time);
  return STATUS_SUCCESS;
}

NtStatus Hive::delete_key(NodeId id, int64_t time) {
  KeyNode& n = nodes_.at(id);
  if (n.deleted) return STATUS_KEY_DELETED;
  if (!n.subkeys.empty() || n.no_delete) return STATUS_CANNOT_DELETE;
  n.deleted = true;
  KeyNode& p = nodes_.at(n.parent);
  std::erase(p.subkeys, id);
  p.last_write_time = time;
  if (p.subkeys.empty()) {
    p.max_name_len = 0;
    p.max_class_len = 0;
  }
  return STATUS_SUCCESS;
}

const Value* Hive::find_value(NodeId id, std::u16string_view name) const {
  for (const Value& v : nodes_.at(id).values)
    if (same_name(v.name, name)) return &v;
  return nullptr;
}

void Hive::set_value(NodeId id, std::u16string_view name, uint32_t type, std::vector<uint8_t> data, int64_t time) {
  KeyNode& n = nodes_.at(id);
  n.max_value_name_len = std::max<uint32_t>(n.max_value_name_len, static_cast<uint32_t>(name.size() * 2));
  n.max_value_data_len = std::max<uint32_t>(n.max_value_data_len, static_cast<uint32_t>(data.size()));
  n.last_write_time = time;
  for (Value& v : n.values) {
    if (same_name(v.name, name)) {
      // An existing value keeps its place and the spelling of its name.
      v.type = type;
      v.data = std::move(data);
      return;
    }
  }
  n.values.push_back({std::u16string(name), type, std::move(data)});
}

bool Hive::delete_value(NodeId id, std::u16string_view name, int64_t time) {
  KeyNode& n = nodes_.at(id);
  auto it = std::find_if(n.values.begin(), n.values.end(), [&](const Value& v) { return same_name(v.name, name); });
  if (it == n.values.end()) return false;
  n.values.erase(it);
  n.last_write_time = time;
  if (n.values.empty()) {
    n.max_value_name_len = 0;
    n.max_value_data_len = 0;
  }
  return true;
}

std::u16string Hive::full_path(NodeId id) const {
  std::u16string out;
  for (NodeId at = id; at != kNoNode; at = nodes_.at(at).parent) out = u"\\" + nodes_.at(at).name + out;
  return out;
}

NodeId Hive::ensure(NodeId start, std::u16string_view path, bool is_volatile, int64_t time) {
  NodeId at = start;
  for (auto part : path_components(path)) {
    NodeId next = child(at, part);
    if (next == kNoNode) {
      if (part.size() > kMaxKeyNameChars) throw std::invalid_argument("registry key name longer than 255 characters");
      next = new_node(at, part, is_volatile || nodes_.at(at).is_volatile, false, u"", time);
    }
    at = next;
  }
  return at;
}

}  // namespace kemu::nt::cm
