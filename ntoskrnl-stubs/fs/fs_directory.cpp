// IRP_MJ_DIRECTORY_CONTROL / IRP_MN_QUERY_DIRECTORY of the sandbox volume:
// the entries of a directory in NTFS's order ("." and ".." first outside the
// root, then the names in upcased order), filtered by the search expression
// the first query (or a restart with a new one) gave, laid out as the
// requested FILE_*_INFORMATION class with FastFAT's buffer rules.
#include <algorithm>
#include <cstring>

#include "ntoskrnl-stubs/api/kernel_modules.h"
#include "ntoskrnl-stubs/fs/file_system.h"
#include "ntoskrnl-stubs/fs/fs_request.h"
#include "ntoskrnl-stubs/fs/name_match.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/fs_structs.h"
#include "ntoskrnl-stubs/layout/nt_structs.h"

namespace kemu::nt::fs {

namespace {

constexpr uint8_t kIrpMnQueryDirectory = 0x01;
constexpr uint8_t kIrpMnNotifyChangeDirectory = 0x02;
constexpr uint8_t kSlRestartScan = 0x01;
constexpr uint8_t kSlReturnSingleEntry = 0x02;

// FILE_INFORMATION_CLASS values of directory queries, and where each entry's
// FileName starts.
std::optional<uint32_t> base_length(uint32_t cls) {
  switch (cls) {
    case 1: return layout::kDirectoryInfoNameOffset;   // FileDirectoryInformation
    case 2: return layout::kFullDirInfoNameOffset;     // FileFullDirectoryInformation
    case 3: return layout::kBothDirInfoNameOffset;     // FileBothDirectoryInformation
    case 12: return layout::kNamesInfoNameOffset;      // FileNamesInformation
    case 37: return layout::kIdBothDirInfoNameOffset;  // FileIdBothDirectoryInformation
    case 38: return layout::kIdFullDirInfoNameOffset;  // FileIdFullDirectoryInformation
    default: return std::nullopt;
  }
}

uint32_t quad_align(uint32_t v) { return (v + 7) & ~7u; }

// Where a scan stands: the phase ("." / ".." / children / done) and the last child returned.
struct Cursor {
  int phase = 0;
  std::optional<std::u16string> last_child;
};

}  // namespace

NtStatus FileSystem::directory_control(Request& rq) {
  auto& mem = kernel_.memory();
  if (rq.minor == kIrpMnNotifyChangeDirectory) {
    kernel_.modules().unimplemented_case("KemuFs", "IRP_MN_NOTIFY_CHANGE_DIRECTORY");
    return STATUS_NOT_IMPLEMENTED;
  }
  if (rq.minor != kIrpMnQueryDirectory) return STATUS_INVALID_DEVICE_REQUEST;
  OpenFile& open = *rq.open;
  uint32_t length = mem.read<uint32_t>(rq.stack + layout::stack::kDirectoryLength);
  GuestVa file_name{mem.read<uint64_t>(rq.stack + layout::stack::kDirectoryFileName)};
  uint32_t cls = mem.read<uint32_t>(rq.stack + layout::stack::kDirectoryClass);
  bool restart = rq.flags & kSlRestartScan;
  bool single = rq.flags & kSlReturnSingleEntry;

  // Only a directory open is enumerated; the expression must be whole characters.
  if (open.volume) return STATUS_INVALID_PARAMETER;
  const Node* dir = vfs_.node(open.node);
  if (!dir) return STATUS_FILE_DELETED;
  if (!dir->directory) return STATUS_INVALID_PARAMETER;
  std::u16string expression;
  if (file_name) {
    auto us = mem.read<layout::UNICODE_STRING>(file_name);
    if (us.Length & 1) return STATUS_INVALID_PARAMETER;
    expression = kernel_.read_unicode_string(file_name);
  }
  auto base = base_length(cls);
  if (!base) return STATUS_INVALID_INFO_CLASS;
  // The I/O manager guarantees room for one entry's fixed part.
  if (length < *base) return STATUS_INFO_LENGTH_MISMATCH;

  // The first query captures the expression ("*" when none); a restart with
  // a new one replaces it; later queries ignore theirs.
  bool initial = !open.expression.has_value();
  if (initial || (restart && !expression.empty())) {
    std::u16string upcased = expression.empty() ? u"*" : expression;
    for (char16_t& c : upcased) c = ob::upcase(c);
    open.expression = upcased;
  }
  if (initial || restart) {
    open.phase = dir->id == kRootNode ? 2 : 0;  // the root has no "." and ".."
    open.last_child.reset();
  }
  const std::u16string& pattern = *open.expression;
  bool match_all = pattern == u"*";

  Cursor cursor{open.phase, open.last_child};
  // The next entry from `c` (advancing it), or nothing at the end.
  auto next = [&](Cursor& c) -> std::optional<std::pair<std::u16string, const Node*>> {
    while (c.phase < 3) {
      if (c.phase == 0) {
        c.phase = 1;
        return std::make_pair(std::u16string(u"."), dir);
      }
      if (c.phase == 1) {
        c.phase = 2;
        return std::make_pair(std::u16string(u".."), vfs_.node(dir->parent));
      }
      auto it = c.last_child ? dir->children.upper_bound(*c.last_child) : dir->children.begin();
      if (it == dir->children.end()) {
        c.phase = 3;
        break;
      }
      c.last_child = it->first;
      return std::make_pair(it->first, vfs_.node(it->second));
    }
    return std::nullopt;
  };

  // Entries are laid out host-side first; a caller's length beyond 1 MiB
  // just leaves room unused (the host never allocates what a driver claims).
  std::vector<uint8_t> out(std::min<uint32_t>(length, 1u << 20), 0);
  length = static_cast<uint32_t>(out.size());
  uint32_t next_entry = 0, last_entry = 0;
  bool any = false;
  NtStatus status = STATUS_SUCCESS;
  while (true) {
    if (single && any) break;
    Cursor after = cursor;
    auto item = next(after);
    if (!item) {
      // At the end: nothing returned is STATUS_NO_SUCH_FILE for the first
      // query, STATUS_NO_MORE_FILES afterwards.
      if (!any) status = initial ? STATUS_NO_SUCH_FILE : STATUS_NO_MORE_FILES;
      cursor = after;
      break;
    }
    const auto& [name, node] = *item;
    if (!match_all && !name_in_expression(pattern, name, true)) {
      cursor = after;
      continue;
    }
    uint32_t name_bytes = static_cast<uint32_t>(name.size() * 2);
    uint32_t room = next_entry < length ? length - next_entry : 0;
    // A later entry that does not fit whole is left for the next query.
    if (any && (room < *base || *base + name_bytes > room)) break;
    uint32_t copied = std::min(name_bytes, room - *base);
    uint8_t* e = out.data() + next_entry;
    if (cls == 12) {
      layout::FILE_NAMES_INFORMATION names{0, 0, name_bytes};
      std::memcpy(e, &names, sizeof names);
    } else {
      layout::FILE_DIRECTORY_INFORMATION d{};
      d.CreationTime = node->creation_time;
      d.LastAccessTime = node->last_access_time;
      d.LastWriteTime = node->last_write_time;
      d.ChangeTime = node->change_time;
      d.EndOfFile = static_cast<int64_t>(node->directory ? 0 : node->data.size());
      d.AllocationSize = static_cast<int64_t>(allocation_of(*node));
      d.FileAttributes = reported_attributes(*node);
      d.FileNameLength = name_bytes;
      std::memcpy(e, &d, sizeof d);
      // EaSize 0 and ShortNameLength 0 (no 8.3 names) are the zeros already there.
      int64_t file_id = static_cast<int64_t>(node->id);
      if (cls == 37) std::memcpy(e + offsetof(layout::FILE_ID_BOTH_DIR_INFORMATION, FileId), &file_id, 8);
      if (cls == 38) std::memcpy(e + offsetof(layout::FILE_ID_FULL_DIR_INFORMATION, FileId), &file_id, 8);
    }
    std::memcpy(e + *base, name.data(), copied);
    if (any) {
      uint32_t offset = next_entry - last_entry;
      std::memcpy(out.data() + last_entry, &offset, 4);
    }
    rq.information = next_entry + *base + copied;
    if (copied < name_bytes) {
      // Not even the first entry fits: as much of its name as fits, and the
      // scan stays on it.
      status = STATUS_BUFFER_OVERFLOW;
      break;
    }
    cursor = after;
    any = true;
    last_entry = next_entry;
    next_entry = quad_align(next_entry + *base + copied);
  }
  if (rq.information) {
    if (NtStatus st = write_output(kernel_, rq, out.data(), rq.information); !nt_success(st)) {
      rq.information = 0;
      return st;
    }
  }
  open.phase = cursor.phase;
  open.last_child = cursor.last_child;
  return status;
}

}  // namespace kemu::nt::fs
