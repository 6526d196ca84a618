// The sandboxed file system's tree behind \Device\HarddiskVolume2 (\??\C:):
// directories and files in host memory, optionally seeded from a host folder
// at start. The host is only ever read, once, while seeding: regular files
// and folders physically below the seed root, opened without following
// symbolic links (a link, a device node or anything else is skipped, so
// nothing outside the root is reachable). Every later change stays in memory,
// bounded by byte and node limits. Plain data: no guest memory, no kernel.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "emulator/ntstatus.h"
#include "ntoskrnl-stubs/ob/object_manager.h"

namespace kemu::nt::fs {

using NodeId = uint64_t;
constexpr NodeId kRootNode = 5;  // NTFS's root directory is file record 5

// FILE_ATTRIBUTE_* bits.
constexpr uint32_t kAttributeReadOnly = 0x1;
constexpr uint32_t kAttributeHidden = 0x2;
constexpr uint32_t kAttributeSystem = 0x4;
constexpr uint32_t kAttributeDirectory = 0x10;
constexpr uint32_t kAttributeArchive = 0x20;
constexpr uint32_t kAttributeNormal = 0x80;
constexpr uint32_t kAttributeTemporary = 0x100;
// What a caller may store (FILE_ATTRIBUTE_VALID_SET_FLAGS).
constexpr uint32_t kAttributeValidSetFlags = 0x31A7;

// NTFS limits a name component to 255 UTF-16 units.
constexpr size_t kMaxComponentLength = 255;

// IoCheckShareAccess's bookkeeping for one file (SHARE_ACCESS).
struct ShareAccess {
  uint32_t open_count = 0, readers = 0, writers = 0, deleters = 0;
  uint32_t shared_read = 0, shared_write = 0, shared_delete = 0;
};

struct Node {
  NodeId id = 0;
  NodeId parent = 0;
  std::u16string name;  // as created (case preserved); empty for the root
  bool directory = false;
  std::vector<uint8_t> data;
  uint32_t attributes = 0;
  int64_t creation_time = 0, last_access_time = 0, last_write_time = 0, change_time = 0;
  std::map<std::u16string, NodeId, ob::NameLess> children;  // case-insensitive, as NTFS by default
  bool delete_pending = false;
  ShareAccess share;
  uint32_t opens = 0;  // file objects (CCBs) open on it
};

struct Limits {
  uint64_t max_bytes = 256ull << 20;     // all file data together
  uint64_t max_nodes = 65536;            // files and directories
  uint64_t max_seed_file = 16ull << 20;  // a larger host file is skipped when seeding
};

// A volume-relative path taken apart: "\dir\f.txt" -> {dir, f.txt}.
struct ParsedPath {
  std::vector<std::u16string> parts;
  bool trailing_separator = false;  // "\dir\" names a directory only
};

// What seeding did (for the session's messages and the tests).
struct SeedReport {
  uint64_t files = 0, directories = 0;
  uint64_t skipped_links = 0, skipped_other = 0, skipped_names = 0, skipped_large = 0;
};

class Vfs {
 public:
  explicit Vfs(Limits limits = {});

  // Copies the regular files and folders under `host_dir` into the root
  // (never writing to the host). A symbolic link anywhere below the root is
  // skipped, not followed; so are sockets, devices and FIFOs, names NTFS
  // would refuse, and files over the limits. A host file without any write
  // permission bit becomes FILE_ATTRIBUTE_READONLY. Returns an error message
  // when `host_dir` itself is not a readable folder.
  std::optional<std::string> seed_from(const std::string& host_dir, int64_t time, SeedReport* report = nullptr);

  // Splits a volume-relative path ("\dir\file"; "\" is the root) into its
  // components. The name must start with '\'; an empty component ("\a\\b"),
  // "." or "..", a stream name (':'), a character NTFS forbids or a
  // component over 255 units is STATUS_OBJECT_NAME_INVALID.
  static NtStatus split(std::u16string_view path, ParsedPath* out);
  // The same for a name relative to a directory ("dir\file", no leading '\').
  static NtStatus split_relative(std::u16string_view path, ParsedPath* out);
  // A component NTFS accepts.
  static bool valid_name(std::u16string_view name);

  // The node at `parts` below `from`, or the status a lookup gives: a missing
  // last component STATUS_OBJECT_NAME_NOT_FOUND, a missing or non-directory
  // intermediate one STATUS_OBJECT_PATH_NOT_FOUND.
  NtStatus find(NodeId from, const std::vector<std::u16string>& parts, NodeId* node) const;
  // The directory that holds the last of `parts` (STATUS_OBJECT_PATH_NOT_FOUND
  // when an intermediate component is missing or not a directory).
  NtStatus find_parent(NodeId from, const std::vector<std::u16string>& parts, NodeId* parent) const;
  // A child by name (case-insensitive), or nothing.
  std::optional<NodeId> child(NodeId directory, std::u16string_view name) const;

  // A new empty file or directory `name` in `parent`. STATUS_OBJECT_NAME_COLLISION
  // if it exists, STATUS_DISK_FULL beyond the node limit.
  NtStatus create(NodeId parent, const std::u16string& name, bool directory, uint32_t attributes, int64_t time,
                  NodeId* node);
  // Reads up to `length` bytes from `offset`; STATUS_END_OF_FILE at or past the end.
  NtStatus read(NodeId node, uint64_t offset, uint64_t length, std::vector<uint8_t>* out) const;
  // Writes, growing the file (the gap is zeros); STATUS_DISK_FULL beyond the byte limit.
  NtStatus write(NodeId node, uint64_t offset, const uint8_t* data, uint64_t length, int64_t time);
  // Sets the end of file (truncating or extending with zeros).
  NtStatus set_size(NodeId node, uint64_t size, int64_t time);
  // Removes a file or an empty directory (STATUS_DIRECTORY_NOT_EMPTY; the
  // root is STATUS_CANNOT_DELETE).
  NtStatus remove(NodeId node);
  // Moves `node` to `new_parent` under `new_name`. An existing target is
  // replaced when `replace` (and is not a directory), else
  // STATUS_OBJECT_NAME_COLLISION; a directory cannot move below itself.
  NtStatus rename(NodeId node, NodeId new_parent, const std::u16string& new_name, bool replace, int64_t time,
                  NodeId* replaced = nullptr);

  Node* node(NodeId id);
  const Node* node(NodeId id) const;
  std::u16string path_of(NodeId id) const;  // "\dir\file", "\" for the root
  uint64_t used_bytes() const { return used_bytes_; }
  size_t node_count() const { return nodes_.size(); }
  const Limits& limits() const { return limits_; }

 private:
  Limits limits_;
  std::map<NodeId, Node> nodes_;
  NodeId next_id_ = kRootNode + 1;
  uint64_t used_bytes_ = 0;
};

}  // namespace kemu::nt::fs
