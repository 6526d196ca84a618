#include "ntoskrnl-stubs/fs/vfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "ntoskrnl-stubs/kernel.h"

namespace kemu::nt::fs {

namespace {

// A directory tree deeper than this is not copied further (each level holds
// one open host descriptor while it is walked).
constexpr int kMaxSeedDepth = 128;

// A host descriptor closed when it goes out of scope.
struct HostFd {
  int fd = -1;
  explicit HostFd(int f) : fd(f) {}
  HostFd(const HostFd&) = delete;
  HostFd& operator=(const HostFd&) = delete;
  ~HostFd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

bool Vfs::valid_name(std::u16string_view name) {
  if (name.empty() || name.size() > kMaxComponentLength || name == u"." || name == u"..") return false;
  for (char16_t c : name) {
    // Control characters and " * / : < > ? \ | are refused by NTFS in a
    // component (':' would name a stream, the wildcards are for queries).
    if (c < 0x20) return false;
    switch (c) {
      case u'"': case u'*': case u'/': case u':': case u'<': case u'>': case u'?': case u'\\': case u'|':
        return false;
      default:
        break;
    }
  }
  return true;
}

Vfs::Vfs(Limits limits) : limits_(limits) {
  Node root;
  root.id = kRootNode;
  root.parent = kRootNode;
  root.directory = true;
  root.attributes = kAttributeDirectory | kAttributeHidden | kAttributeSystem;  // as NTFS reports C:\ itself
  nodes_[kRootNode] = root;
}

NtStatus Vfs::split_relative(std::u16string_view path, ParsedPath* out) {
  out->parts.clear();
  out->trailing_separator = false;
  if (path.empty()) return STATUS_SUCCESS;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find(u'\\', i);
    if (j == std::u16string_view::npos) j = path.size();
    std::u16string_view part = path.substr(i, j - i);
    if (part.empty() && j == path.size() && !out->parts.empty()) {
      // A trailing separator: the name must be a directory.
      out->trailing_separator = true;
      break;
    }
    if (!valid_name(part)) return STATUS_OBJECT_NAME_INVALID;
    out->parts.emplace_back(part);
    i = j + 1;
  }
  return STATUS_SUCCESS;
}

NtStatus Vfs::split(std::u16string_view path, ParsedPath* out) {
  out->parts.clear();
  out->trailing_separator = false;
  if (path.empty() || path[0] != u'\\') return STATUS_OBJECT_NAME_INVALID;
  if (path == u"\\") return STATUS_SUCCESS;
  return split_relative(path.substr(1), out);
}

std::optional<NodeId> Vfs::child(NodeId directory, std::u16string_view name) const {
  const Node* d = node(directory);
  if (!d || !d->directory) return std::nullopt;
  auto it = d->children.find(std::u16string(name));
  if (it == d->children.end()) return std::nullopt;
  return it->second;
}

NtStatus Vfs::find(NodeId from, const std::vector<std::u16string>& parts, NodeId* out) const {
  NodeId at = from;
  for (size_t i = 0; i < parts.size(); ++i) {
    const Node& n = nodes_.at(at);
    bool last = i + 1 == parts.size();
    if (!n.directory) return STATUS_OBJECT_PATH_NOT_FOUND;
    auto it = n.children.find(parts[i]);
    if (it == n.children.end()) return last ? STATUS_OBJECT_NAME_NOT_FOUND : STATUS_OBJECT_PATH_NOT_FOUND;
    at = it->second;
  }
  *out = at;
  return STATUS_SUCCESS;
}

NtStatus Vfs::find_parent(NodeId from, const std::vector<std::u16string>& parts, NodeId* parent) const {
  if (parts.empty()) return STATUS_OBJECT_NAME_INVALID;
  NodeId at = from;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    const Node& n = nodes_.at(at);
    auto it = n.children.find(parts[i]);
    if (!n.directory || it == n.children.end()) return STATUS_OBJECT_PATH_NOT_FOUND;
    at = it->second;
  }
  if (!nodes_.at(at).directory) return STATUS_OBJECT_PATH_NOT_FOUND;
  *parent = at;
  return STATUS_SUCCESS;
}

NtStatus Vfs::create(NodeId parent, const std::u16string& name, bool directory, uint32_t attributes, int64_t time,
                     NodeId* out) {
  Node& p = nodes_.at(parent);
  if (!p.directory) return STATUS_OBJECT_PATH_NOT_FOUND;
  if (!valid_name(name)) return STATUS_OBJECT_NAME_INVALID;
  if (p.children.contains(name)) return STATUS_OBJECT_NAME_COLLISION;
  if (nodes_.size() >= limits_.max_nodes) return STATUS_DISK_FULL;
  Node n;
  n.id = next_id_++;
  n.parent = parent;
  n.name = name;
  n.directory = directory;
  // NTFS stores what may be set; a new file always gets ARCHIVE, and NORMAL
  // alone means "no other attribute".
  uint32_t stored = attributes & kAttributeValidSetFlags & ~kAttributeNormal;
  n.attributes = directory ? (stored | kAttributeDirectory) : (stored | kAttributeArchive);
  n.creation_time = n.last_access_time = n.last_write_time = n.change_time = time;
  p.children[name] = n.id;
  p.last_write_time = p.change_time = time;
  *out = n.id;
  nodes_[n.id] = std::move(n);
  return STATUS_SUCCESS;
}

NtStatus Vfs::read(NodeId id, uint64_t offset, uint64_t length, std::vector<uint8_t>* out) const {
  const Node& n = nodes_.at(id);
  out->clear();
  if (length == 0) return STATUS_SUCCESS;
  if (offset >= n.data.size()) return STATUS_END_OF_FILE;
  uint64_t count = std::min<uint64_t>(length, n.data.size() - offset);
  out->assign(n.data.begin() + static_cast<ptrdiff_t>(offset), n.data.begin() + static_cast<ptrdiff_t>(offset + count));
  return STATUS_SUCCESS;
}

NtStatus Vfs::write(NodeId id, uint64_t offset, const uint8_t* data, uint64_t length, int64_t time) {
  Node& n = nodes_.at(id);
  if (length == 0) return STATUS_SUCCESS;
  uint64_t end = offset + length;
  if (end < offset) return STATUS_INVALID_PARAMETER;
  if (end > n.data.size()) {
    uint64_t grow = end - n.data.size();
    if (grow > limits_.max_bytes || used_bytes_ + grow > limits_.max_bytes) return STATUS_DISK_FULL;
    used_bytes_ += grow;
    n.data.resize(end, 0);
  }
  std::copy(data, data + length, n.data.begin() + static_cast<ptrdiff_t>(offset));
  n.last_write_time = n.change_time = time;
  n.attributes |= kAttributeArchive;
  return STATUS_SUCCESS;
}

NtStatus Vfs::set_size(NodeId id, uint64_t size, int64_t time) {
  Node& n = nodes_.at(id);
  if (size > n.data.size()) {
    uint64_t grow = size - n.data.size();
    if (grow > limits_.max_bytes || used_bytes_ + grow > limits_.max_bytes) return STATUS_DISK_FULL;
    used_bytes_ += grow;
  } else {
    used_bytes_ -= n.data.size() - size;
  }
  n.data.resize(size, 0);
  n.last_write_time = n.change_time = time;
  n.attributes |= kAttributeArchive;
  return STATUS_SUCCESS;
}

NtStatus Vfs::remove(NodeId id) {
  if (id == kRootNode) return STATUS_CANNOT_DELETE;
  Node& n = nodes_.at(id);
  if (n.directory && !n.children.empty()) return STATUS_DIRECTORY_NOT_EMPTY;
  used_bytes_ -= n.data.size();
  nodes_.at(n.parent).children.erase(n.name);
  nodes_.erase(id);
  return STATUS_SUCCESS;
}

NtStatus Vfs::rename(NodeId id, NodeId new_parent, const std::u16string& new_name, bool replace, int64_t time,
                     NodeId* replaced) {
  if (replaced) *replaced = 0;
  if (id == kRootNode) return STATUS_INVALID_PARAMETER;
  if (!valid_name(new_name)) return STATUS_OBJECT_NAME_INVALID;
  Node& n = nodes_.at(id);
  if (!nodes_.at(new_parent).directory) return STATUS_OBJECT_PATH_NOT_FOUND;
  // A directory cannot become its own descendant.
  for (NodeId at = new_parent; at != kRootNode; at = nodes_.at(at).parent)
    if (at == id) return STATUS_INVALID_PARAMETER;
  if (auto existing = child(new_parent, new_name); existing && *existing != id) {
    if (!replace) return STATUS_OBJECT_NAME_COLLISION;
    // A directory is never replaced (STATUS_ACCESS_DENIED on NTFS).
    if (nodes_.at(*existing).directory) return STATUS_ACCESS_DENIED;
    if (replaced) *replaced = *existing;
    remove(*existing);
  }
  nodes_.at(n.parent).children.erase(n.name);
  nodes_.at(n.parent).last_write_time = nodes_.at(n.parent).change_time = time;
  n.parent = new_parent;
  n.name = new_name;
  nodes_.at(new_parent).children[new_name] = id;
  nodes_.at(new_parent).last_write_time = nodes_.at(new_parent).change_time = time;
  n.change_time = time;
  return STATUS_SUCCESS;
}

Node* Vfs::node(NodeId id) {
  auto it = nodes_.find(id);
  return it == nodes_.end() ? nullptr : &it->second;
}

const Node* Vfs::node(NodeId id) const {
  auto it = nodes_.find(id);
  return it == nodes_.end() ? nullptr : &it->second;
}

std::u16string Vfs::path_of(NodeId id) const {
  std::u16string path;
  for (const Node* n = node(id); n && n->id != kRootNode; n = node(n->parent)) path = u"\\" + n->name + path;
  return path.empty() ? u"\\" : path;
}

std::optional<std::string> Vfs::seed_from(const std::string& host_dir, int64_t time, SeedReport* report) {
  SeedReport local;
  SeedReport& r = report ? *report : local;
  // The seed root is the one path kemu resolves as the user wrote it; below
  // it, every name is opened relative to its directory's descriptor with
  // O_NOFOLLOW, so a link (even one swapped in while kemu reads) is never
  // followed and ".." never appears.
  int root = ::open(host_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) return "--files: " + host_dir + " is not a readable folder (" + std::strerror(errno) + ")";
  HostFd root_fd(root);

  struct Walker {
    Vfs& vfs;
    SeedReport& r;
    int64_t time;
    void walk(int dir_fd, NodeId parent, int depth) {
      // Read the names first (fdopendir takes over a duplicate of the descriptor).
      int listing = ::dup(dir_fd);
      if (listing < 0) return;
      DIR* d = ::fdopendir(listing);
      if (!d) {
        ::close(listing);
        return;
      }
      std::vector<std::string> names;
      while (dirent* e = ::readdir(d)) {
        std::string name = e->d_name;
        if (name != "." && name != "..") names.push_back(std::move(name));
      }
      ::closedir(d);
      std::sort(names.begin(), names.end());  // deterministic order
      for (const std::string& name : names) {
        struct stat st {};
        if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
          ++r.skipped_other;
          continue;
        }
        if (S_ISLNK(st.st_mode)) {
          ++r.skipped_links;
          continue;
        }
        if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
          ++r.skipped_other;  // sockets, FIFOs, devices
          continue;
        }
        std::u16string wide = to_utf16(name);
        if (!valid_name(wide) || vfs.child(parent, wide)) {
          ++r.skipped_names;  // refused by NTFS, or equal to another name ignoring case
          continue;
        }
        uint32_t attributes = (st.st_mode & 0222) == 0 ? kAttributeReadOnly : 0;
        if (S_ISDIR(st.st_mode)) {
          if (depth >= kMaxSeedDepth) {
            ++r.skipped_other;
            continue;
          }
          int child_fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
          if (child_fd < 0) {
            ++(errno == ELOOP ? r.skipped_links : r.skipped_other);
            continue;
          }
          HostFd child(child_fd);
          NodeId id = 0;
          if (!nt_success(vfs.create(parent, wide, true, attributes, time, &id))) return;  // node limit
          ++r.directories;
          walk(child.fd, id, depth + 1);
          continue;
        }
        if (static_cast<uint64_t>(st.st_size) > vfs.limits_.max_seed_file ||
            vfs.used_bytes_ + static_cast<uint64_t>(st.st_size) > vfs.limits_.max_bytes) {
          ++r.skipped_large;
          continue;
        }
        int file_fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (file_fd < 0) {
          ++(errno == ELOOP ? r.skipped_links : r.skipped_other);
          continue;
        }
        HostFd file(file_fd);
        struct stat opened {};
        // What was opened must still be a regular file of an acceptable size.
        if (::fstat(file.fd, &opened) != 0 || !S_ISREG(opened.st_mode) ||
            static_cast<uint64_t>(opened.st_size) > vfs.limits_.max_seed_file) {
          ++r.skipped_other;
          continue;
        }
        std::vector<uint8_t> bytes;
        bytes.reserve(static_cast<size_t>(opened.st_size));
        uint8_t chunk[65536];
        bool failed = false;
        for (;;) {
          ssize_t n = ::read(file.fd, chunk, sizeof chunk);
          if (n < 0 && errno == EINTR) continue;
          if (n < 0) {
            failed = true;
            break;
          }
          if (n == 0) break;
          bytes.insert(bytes.end(), chunk, chunk + n);
          if (bytes.size() > vfs.limits_.max_seed_file) {
            failed = true;  // grew while read
            break;
          }
        }
        if (failed || vfs.used_bytes_ + bytes.size() > vfs.limits_.max_bytes) {
          ++r.skipped_large;
          continue;
        }
        NodeId id = 0;
        if (!nt_success(vfs.create(parent, wide, false, attributes, time, &id))) return;  // node limit
        vfs.write(id, 0, bytes.data(), bytes.size(), time);
        ++r.files;
      }
    }
  };
  Walker{*this, r, time}.walk(root_fd.fd, kRootNode, 0);
  return std::nullopt;
}

}  // namespace kemu::nt::fs
