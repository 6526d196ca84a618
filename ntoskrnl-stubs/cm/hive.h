// The registry's key tree as plain host data: keys with case-insensitive
// names (stored as written), typed values, classes, volatile keys, symbolic
// link keys (REG_OPTION_CREATE_LINK + a REG_LINK "SymbolicLinkValue") and
// deleted keys that stay alive for the handles still open on them. One tree
// holds every hive below \REGISTRY; nothing here knows about guest memory.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "emulator/ntstatus.h"

namespace kemu::nt::cm {

using NodeId = uint32_t;
constexpr NodeId kNoNode = 0;

// REG_* value types (wdm.h).
namespace reg {
constexpr uint32_t kNone = 0;
constexpr uint32_t kSz = 1;
constexpr uint32_t kExpandSz = 2;
constexpr uint32_t kBinary = 3;
constexpr uint32_t kDword = 4;
constexpr uint32_t kDwordBigEndian = 5;
constexpr uint32_t kLink = 6;
constexpr uint32_t kMultiSz = 7;
constexpr uint32_t kResourceList = 8;
constexpr uint32_t kFullResourceDescriptor = 9;
constexpr uint32_t kResourceRequirementsList = 10;
constexpr uint32_t kQword = 11;
}  // namespace reg

// "Registry element size limits": a key name component is at most 255
// characters, a value name at most 16,383.
constexpr size_t kMaxKeyNameChars = 255;
constexpr size_t kMaxValueNameChars = 16383;
// The value a link key's target is stored in.
inline constexpr std::u16string_view kSymbolicLinkValue = u"SymbolicLinkValue";

struct Value {
  std::u16string name;
  uint32_t type = reg::kNone;
  std::vector<uint8_t> data;
};

struct KeyNode {
  NodeId id = kNoNode;
  NodeId parent = kNoNode;
  std::u16string name;
  std::u16string class_name;
  bool is_volatile = false;
  bool is_link = false;
  bool deleted = false;
  bool no_delete = false;  // \REGISTRY and the hive roots (KEY_NO_DELETE)
  int64_t last_write_time = 0;
  std::vector<NodeId> subkeys;  // enumeration order: stable keys, then volatile ones, each by name
  std::vector<Value> values;    // creation order
  // High-water marks Windows keeps in the key node (reset when the last
  // subkey / value goes), in bytes.
  uint32_t max_name_len = 0;
  uint32_t max_class_len = 0;
  uint32_t max_value_name_len = 0;
  uint32_t max_value_data_len = 0;
};

class Hive {
 public:
  // Creates the \REGISTRY root key.
  Hive();

  NodeId root() const { return root_; }
  KeyNode& node(NodeId id) { return nodes_.at(id); }
  const KeyNode& node(NodeId id) const { return nodes_.at(id); }

  // The live subkey of `parent` named `name` (case-insensitive), or kNoNode.
  NodeId child(NodeId parent, std::u16string_view name) const;

  struct Resolved {
    NtStatus status = STATUS_SUCCESS;
    NodeId node = kNoNode;
    // When only the last component is missing (STATUS_OBJECT_NAME_NOT_FOUND):
    // where it would be created.
    NodeId parent = kNoNode;
    std::u16string missing_leaf;
  };
  // Walks `path` ('\'-separated, empty components skipped, as the
  // configuration manager's parse does) below `start`. Link keys are followed
  // to their SymbolicLinkValue; a link named by the last component is
  // returned itself when `open_link`. Missing components give
  // STATUS_OBJECT_NAME_NOT_FOUND, a component longer than 255 characters
  // STATUS_OBJECT_NAME_INVALID, a deleted `start` STATUS_KEY_DELETED.
  Resolved resolve(NodeId start, std::u16string_view path, bool open_link) const;

  // A new subkey of the live key `parent` (names checked by the caller).
  // A non-volatile key under a volatile one is STATUS_CHILD_MUST_BE_VOLATILE.
  NtStatus create_child(NodeId parent, std::u16string_view name, bool is_volatile, bool is_link,
                        std::u16string_view class_name, int64_t time, NodeId* out);
  // Marks a key deleted and unlinks it: STATUS_CANNOT_DELETE while it has
  // subkeys or is a hive root, STATUS_KEY_DELETED when it already is.
  NtStatus delete_key(NodeId id, int64_t time);

  const Value* find_value(NodeId id, std::u16string_view name) const;
  // Replaces or appends a value (the key must be live).
  void set_value(NodeId id, std::u16string_view name, uint32_t type, std::vector<uint8_t> data, int64_t time);
  // False when the key has no such value.
  bool delete_value(NodeId id, std::u16string_view name, int64_t time);

  // The key's name as Windows reports it: \REGISTRY\MACHINE\SYSTEM\...
  std::u16string full_path(NodeId id) const;

  // Seeding: makes every component of `path` (relative to `start`, links not
  // followed) exist and returns the last one.
  NodeId ensure(NodeId start, std::u16string_view path, bool is_volatile = false, int64_t time = 0);

 private:
  NodeId new_node(NodeId parent, std::u16string_view name, bool is_volatile, bool is_link,
                  std::u16string_view class_name, int64_t time);
  void insert_sorted(KeyNode& parent, NodeId child);

  std::map<NodeId, KeyNode> nodes_;
  NodeId next_ = 1;
  NodeId root_ = kNoNode;
};

// Splits a registry path into its non-empty components.
std::vector<std::u16string_view> path_components(std::u16string_view path);
// Case-insensitive comparison of registry names (RtlUpcaseUnicodeChar rules).
bool same_name(std::u16string_view a, std::u16string_view b);

}  // namespace kemu::nt::cm
