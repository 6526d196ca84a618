// IRP_MJ_QUERY_INFORMATION, IRP_MJ_SET_INFORMATION and
// IRP_MJ_QUERY_VOLUME_INFORMATION of the sandbox volume, and the buffer
// helpers every routine of the file system uses.
#include <algorithm>
#include <cstring>

#include "emulator/machine.h"
#include "ntoskrnl-stubs/api/caller_memory.h"
#include "ntoskrnl-stubs/api/kernel_modules.h"
#include "ntoskrnl-stubs/fs/file_system.h"
#include "ntoskrnl-stubs/fs/fs_request.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/fs_structs.h"
#include "ntoskrnl-stubs/layout/nt_structs.h"
#include "ntoskrnl-stubs/mm/mm.h"
#include "ntoskrnl-stubs/ob/object_types.h"

namespace kemu::nt::fs {

using layout::FILE_OBJECT;
using layout::IRP;

namespace {
constexpr uint32_t kIrpBufferedIo = 0x10;
constexpr uint32_t kFoSynchronousIo = 0x2, kFoFileSizeChanged = 0x2000;
constexpr uint32_t kMaxSetInformation = 0x10000;  // a rename's name is at most 32 K characters

// Where a request's data lives: the system buffer, the MDL's system mapping,
// or the caller's buffer under the requestor's rules.
struct DataBuffer {
  GuestVa va;
  ProcessorMode mode = ProcessorMode::KernelMode;
};

DataBuffer data_buffer(Kernel& k, const FileSystem::Request& rq) {
  auto& mem = k.memory();
  IRP h = mem.read<IRP>(rq.irp);
  if ((h.Flags & kIrpBufferedIo) && h.AssociatedIrp) return {GuestVa{h.AssociatedIrp}, ProcessorMode::KernelMode};
  if (h.MdlAddress) {
    GuestVa mdl{h.MdlAddress};
    auto d = mem.read<layout::MDL>(mdl);
    if (d.MdlFlags & (mm::kMdlMappedToSystemVa | mm::kMdlSourceIsNonPagedPool))
      return {GuestVa{d.MappedSystemVa}, ProcessorMode::KernelMode};
    // MmGetSystemAddressForMdlSafe(NormalPagePriority).
    GuestVa mapped = MmMapLockedPagesSpecifyCache(k, mdl, 0, 1, GuestVa{}, 0, 16);
    return {mapped, ProcessorMode::KernelMode};
  }
  return {GuestVa{h.UserBuffer}, rq.requestor};
}
}  // namespace

uint32_t map_file_access(uint32_t desired) {
  uint32_t mapped = ob::map_generic(desired, ob::descriptor(ob::TypeIndex::File).mapping);
  if (mapped & ob::kMaximumAllowed) mapped = (mapped & ~ob::kMaximumAllowed) | access::kAllAccess;
  return mapped;
}

NtStatus write_output(Kernel& k, const FileSystem::Request& rq, const void* bytes, uint64_t length) {
  DataBuffer b = data_buffer(k, rq);
  if (!b.va && length) return STATUS_INVALID_USER_BUFFER;
  return caller::write_bytes(k, b.mode, b.va, bytes, length);
}

NtStatus read_input(Kernel& k, const FileSystem::Request& rq, void* bytes, uint64_t length) {
  DataBuffer b = data_buffer(k, rq);
  if (!b.va && length) return STATUS_INVALID_USER_BUFFER;
  return caller::read_bytes(k, b.mode, b.va, bytes, length);
}

namespace {

// FILE_INFORMATION_CLASS values the volume answers.
enum : uint32_t {
  kFileBasicInformation = 4,
  kFileStandardInformation = 5,
  kFileInternalInformation = 6,
  kFileEaInformation = 7,
  kFileNameInformation = 9,
  kFileRenameInformation = 10,
  kFileDispositionInformation = 13,
  kFilePositionInformation = 14,
  kFileAllInformation = 18,
  kFileAllocationInformation = 19,
  kFileEndOfFileInformation = 20,
  kFileNetworkOpenInformation = 34,
  kFileAttributeTagInformation = 35,
  kFileDispositionInformationEx = 64,
};

// FS_INFORMATION_CLASS values.
enum : uint32_t {
  kFileFsVolumeInformation = 1,
  kFileFsSizeInformation = 3,
  kFileFsDeviceInformation = 4,
  kFileFsAttributeInformation = 5,
  kFileFsFullSizeInformation = 7,
};

// FILE_DISPOSITION_INFORMATION_EX flags.
constexpr uint32_t kDispositionDelete = 0x1, kDispositionPosixSemantics = 0x2, kDispositionOnClose = 0x8,
                   kDispositionIgnoreReadOnly = 0x10;
constexpr uint32_t kDispositionKnownFlags = 0x1F;

template <class T>
std::vector<uint8_t> bytes_of(const T& value, size_t size = sizeof(T)) {
  std::vector<uint8_t> out(size);
  std::memcpy(out.data(), &value, std::min(size, sizeof(T)));
  return out;
}

}  // namespace

NtStatus FileSystem::query_information(Request& rq) {
  auto& mem = kernel_.memory();
  OpenFile& open = *rq.open;
  uint32_t length = mem.read<uint32_t>(rq.stack + layout::stack::kInfoLength);
  uint32_t cls = mem.read<uint32_t>(rq.stack + layout::stack::kInfoClass);
  if (cls == kFilePositionInformation) {
    if (length < 8) return STATUS_INFO_LENGTH_MISMATCH;
    int64_t position = mem.read<int64_t>(rq.file + offsetof(FILE_OBJECT, CurrentByteOffset));
    rq.information = 8;
    return write_output(kernel_, rq, &position, 8);
  }
  if (open.volume) return STATUS_INVALID_PARAMETER;
  const Node* n = vfs_.node(open.node);
  if (!n) return STATUS_FILE_DELETED;

  layout::FILE_BASIC_INFORMATION basic{n->creation_time, n->last_access_time, n->last_write_time, n->change_time,
                                       reported_attributes(*n), 0};
  layout::FILE_STANDARD_INFORMATION standard{};
  standard.AllocationSize = static_cast<int64_t>(allocation_of(*n));
  standard.EndOfFile = static_cast<int64_t>(n->directory ? 0 : n->data.size());
  standard.NumberOfLinks = 1;
  standard.DeletePending = n->delete_pending;
  standard.Directory = n->directory;
  std::u16string name = vfs_.path_of(n->id);
  uint32_t name_bytes = static_cast<uint32_t>(name.size() * 2);

  // The name part: FileNameLength is the whole name's; as much of it as fits
  // is copied, and a name cut short is STATUS_BUFFER_OVERFLOW.
  auto name_info = [&](uint32_t room, std::vector<uint8_t>* out) {
    uint32_t copied = std::min(room, name_bytes);
    out->resize(4 + copied);
    std::memcpy(out->data(), &name_bytes, 4);
    std::memcpy(out->data() + 4, name.data(), copied);
    return copied < name_bytes ? STATUS_BUFFER_OVERFLOW : STATUS_SUCCESS;
  };

  std::vector<uint8_t> out;
  NtStatus status = STATUS_SUCCESS;
  switch (cls) {
    case kFileBasicInformation:
      if (length < sizeof basic) return STATUS_INFO_LENGTH_MISMATCH;
      out = bytes_of(basic);
      break;
    case kFileStandardInformation:
      if (length < sizeof standard) return STATUS_INFO_LENGTH_MISMATCH;
      out = bytes_of(standard);
      break;
    case kFileInternalInformation: {
      if (length < 8) return STATUS_INFO_LENGTH_MISMATCH;
      int64_t index = static_cast<int64_t>(n->id);  // IndexNumber: the file reference
      out = bytes_of(index);
      break;
    }
    case kFileEaInformation: {
      if (length < 4) return STATUS_INFO_LENGTH_MISMATCH;
      uint32_t ea_size = 0;  // no extended attributes on this volume
      out = bytes_of(ea_size);
      break;
    }
    case kFileNameInformation:
      if (length < 4) return STATUS_INFO_LENGTH_MISMATCH;
      status = name_info(length - 4, &out);
      break;
    case kFileNetworkOpenInformation: {
      layout::FILE_NETWORK_OPEN_INFORMATION net{basic.CreationTime,    basic.LastAccessTime, basic.LastWriteTime,
                                                basic.ChangeTime,      standard.AllocationSize,
                                                standard.EndOfFile,    basic.FileAttributes, 0};
      if (length < sizeof net) return STATUS_INFO_LENGTH_MISMATCH;
      out = bytes_of(net);
      break;
    }
    case kFileAttributeTagInformation: {
      layout::FILE_ATTRIBUTE_TAG_INFORMATION tag{basic.FileAttributes, 0};  // no reparse points
      if (length < sizeof tag) return STATUS_INFO_LENGTH_MISMATCH;
      out = bytes_of(tag);
      break;
    }
    case kFileAllInformation: {
      // The I/O manager fills AccessInformation, ModeInformation and
      // AlignmentInformation; the file system writes the rest around them.
      constexpr uint32_t kNameAt = offsetof(layout::FILE_ALL_INFORMATION, FileNameLength);
      if (length < kNameAt + 4) return STATUS_INFO_LENGTH_MISMATCH;
      layout::FILE_ALL_INFORMATION all{};
      all.BasicInformation = basic;
      all.StandardInformation = standard;
      all.IndexNumber = static_cast<int64_t>(n->id);
      all.EaSize = 0;
      all.CurrentByteOffset = mem.read<int64_t>(rq.file + offsetof(FILE_OBJECT, CurrentByteOffset));
      std::vector<uint8_t> name_part;
      status = name_info(length - kNameAt - 4, &name_part);
      if (NtStatus st = write_output(kernel_, rq, &all, offsetof(layout::FILE_ALL_INFORMATION, AccessFlags));
          !nt_success(st))
        return st;
      DataBuffer b = data_buffer(kernel_, rq);
      if (NtStatus st = caller::write_bytes(kernel_, b.mode, b.va + offsetof(layout::FILE_ALL_INFORMATION, CurrentByteOffset),
                                            &all.CurrentByteOffset, 8);
          !nt_success(st))
        return st;
      if (NtStatus st = caller::write_bytes(kernel_, b.mode, b.va + kNameAt, name_part.data(), name_part.size());
          !nt_success(st))
        return st;
      rq.information = kNameAt + name_part.size();
      return status;
    }
    default:
      // A class this volume does not answer (NTFS's answer for a class it does not know).
      return STATUS_INVALID_PARAMETER;
  }
  if (NtStatus st = write_output(kernel_, rq, out.data(), out.size()); !nt_success(st)) return st;
  rq.information = out.size();
  return status;
}

NtStatus FileSystem::set_disposition(Request& rq, OpenFile& open, bool delete_file, bool ignore_read_only) {
  Node& n = *vfs_.node(open.node);
  auto& mem = kernel_.memory();
  if (delete_file) {
    // FILE_DISPOSITION_INFORMATION: a read-only file, the root and a
    // non-empty directory cannot be deleted.
    if (n.id == kRootNode) return STATUS_CANNOT_DELETE;
    if ((n.attributes & kAttributeReadOnly) && !ignore_read_only) return STATUS_CANNOT_DELETE;
    if (n.directory && !n.children.empty()) return STATUS_DIRECTORY_NOT_EMPTY;
  }
  n.delete_pending = delete_file;
  mem.write<uint8_t>(rq.file + offsetof(FILE_OBJECT, DeletePending), delete_file);
  return STATUS_SUCCESS;
}

NtStatus FileSystem::rename(Request& rq, OpenFile& open, uint32_t length) {
  auto& mem = kernel_.memory();
  std::vector<uint8_t> in(length);
  if (NtStatus st = read_input(kernel_, rq, in.data(), in.size()); !nt_success(st)) return st;
  layout::FILE_RENAME_INFORMATION header{};
  std::memcpy(&header, in.data(), std::min<size_t>(in.size(), sizeof header));
  bool replace = mem.read<uint8_t>(rq.stack + layout::stack::kSetReplaceIfExists) != 0;
  GuestVa target{mem.read<uint64_t>(rq.stack + layout::stack::kSetFileObject)};
  Node& n = *vfs_.node(open.node);
  if (n.id == kRootNode) return STATUS_INVALID_PARAMETER;

  NodeId new_parent = n.parent;
  std::u16string new_name;
  if (target) {
    // A fully qualified target: the I/O manager opened its directory with
    // SL_OPEN_TARGET_DIRECTORY, which left the final component in FileName.
    auto t = opens_.find(target.value);
    if (t == opens_.end() || t->second.volume || !vfs_.node(t->second.node)) return STATUS_INVALID_PARAMETER;
    new_parent = t->second.node;
    new_name = kernel_.read_unicode_string(target + offsetof(FILE_OBJECT, FileName));
  } else {
    // A simple rename within the directory: the name is in the buffer.
    uint32_t name_bytes = header.FileNameLength;
    if ((name_bytes & 1) || 0x14ull + name_bytes > in.size()) return STATUS_INVALID_PARAMETER;
    new_name.assign(name_bytes / 2, u'\0');
    std::memcpy(new_name.data(), in.data() + 0x14, name_bytes);
    if (new_name.find(u'\\') != std::u16string::npos) return STATUS_OBJECT_NAME_INVALID;
  }
  if (!Vfs::valid_name(new_name)) return STATUS_OBJECT_NAME_INVALID;
  // NTFS refuses to move a directory with open files below it, and to
  // replace a file that is open.
  if (n.directory) {
    for (const auto& [fo, o] : opens_) {
      if (o.volume || o.cleaned_up || o.node == n.id) continue;
      for (const Node* p = vfs_.node(o.node); p && p->id != kRootNode; p = vfs_.node(p->parent))
        if (p->parent == n.id) return STATUS_ACCESS_DENIED;
    }
  }
  if (auto existing = vfs_.child(new_parent, new_name); existing && *existing != n.id) {
    if (!replace) return STATUS_OBJECT_NAME_COLLISION;
    if (vfs_.node(*existing)->opens) return STATUS_ACCESS_DENIED;
  }
  NodeId replaced = 0;
  if (NtStatus st = vfs_.rename(n.id, new_parent, new_name, replace, now(), &replaced); !nt_success(st)) return st;
  if (replaced) explicit_allocation_.erase(replaced);
  return STATUS_SUCCESS;
}

NtStatus FileSystem::set_information(Request& rq) {
  auto& mem = kernel_.memory();
  OpenFile& open = *rq.open;
  uint32_t length = mem.read<uint32_t>(rq.stack + layout::stack::kInfoLength);
  uint32_t cls = mem.read<uint32_t>(rq.stack + layout::stack::kInfoClass);
  auto input = [&](void* out, uint32_t size) -> NtStatus {
    if (length < size) return STATUS_INFO_LENGTH_MISMATCH;
    return read_input(kernel_, rq, out, size);
  };
  if (cls == kFilePositionInformation) {
    int64_t position = 0;
    if (NtStatus st = input(&position, 8); !nt_success(st)) return st;
    if (position < 0) return STATUS_INVALID_PARAMETER;
    mem.write<int64_t>(rq.file + offsetof(FILE_OBJECT, CurrentByteOffset), position);
    return STATUS_SUCCESS;
  }
  if (open.volume) return STATUS_INVALID_PARAMETER;
  Node* n = vfs_.node(open.node);
  if (!n) return STATUS_FILE_DELETED;
  int64_t time = now();
  switch (cls) {
    case kFileBasicInformation: {
      layout::FILE_BASIC_INFORMATION b{};
      if (NtStatus st = input(&b, sizeof b); !nt_success(st)) return st;
      if (b.FileAttributes) {
        // A file cannot become a directory; NORMAL alone clears the attributes.
        if (!n->directory && (b.FileAttributes & kAttributeDirectory)) return STATUS_INVALID_PARAMETER;
        uint32_t stored = b.FileAttributes & kAttributeValidSetFlags & ~kAttributeNormal;
        n->attributes = stored | (n->directory ? kAttributeDirectory : 0);
        n->change_time = time;
      }
      // 0 leaves a time alone; -1 and -2 (stop / resume automatic updates) set nothing here.
      if (b.CreationTime > 0) n->creation_time = b.CreationTime;
      if (b.LastAccessTime > 0) n->last_access_time = b.LastAccessTime;
      if (b.LastWriteTime > 0) n->last_write_time = b.LastWriteTime;
      if (b.ChangeTime > 0) n->change_time = b.ChangeTime;
      return STATUS_SUCCESS;
    }
    case kFileEndOfFileInformation:
    case kFileAllocationInformation: {
      int64_t size = 0;
      if (NtStatus st = input(&size, 8); !nt_success(st)) return st;
      if (n->directory || size < 0) return STATUS_INVALID_PARAMETER;
      uint64_t before = n->data.size();
      if (cls == kFileEndOfFileInformation) {
        if (NtStatus st = vfs_.set_size(n->id, static_cast<uint64_t>(size), time); !nt_success(st)) return st;
      } else {
        // Allocation below the end of file truncates the file.
        if (static_cast<uint64_t>(size) > vfs_.limits().max_bytes) return STATUS_DISK_FULL;
        if (static_cast<uint64_t>(size) < n->data.size()) vfs_.set_size(n->id, static_cast<uint64_t>(size), time);
        explicit_allocation_[n->id] = static_cast<uint64_t>(size);
      }
      if (n->data.size() != before)
        mem.write<uint32_t>(rq.file + offsetof(FILE_OBJECT, Flags),
                            mem.read<uint32_t>(rq.file + offsetof(FILE_OBJECT, Flags)) | kFoFileSizeChanged);
      sync_fcb(n->id);
      return STATUS_SUCCESS;
    }
    case kFileDispositionInformation: {
      uint8_t delete_file = 0;
      if (NtStatus st = input(&delete_file, 1); !nt_success(st)) return st;
      return set_disposition(rq, open, delete_file != 0, false);
    }
    case kFileDispositionInformationEx: {
      uint32_t flags = 0;
      if (NtStatus st = input(&flags, 4); !nt_success(st)) return st;
      if (flags & ~kDispositionKnownFlags) return STATUS_INVALID_PARAMETER;
      if (flags & kDispositionPosixSemantics) {
        // The name leaving at once while other opens go on is not modelled.
        kernel_.modules().unimplemented_case("KemuFs", "FILE_DISPOSITION_POSIX_SEMANTICS");
        return STATUS_NOT_IMPLEMENTED;
      }
      bool delete_file = flags & kDispositionDelete;
      bool ignore_read_only = flags & kDispositionIgnoreReadOnly;
      if (flags & kDispositionOnClose) {
        // FILE_DISPOSITION_ON_CLOSE sets or clears this open's delete-on-close.
        if (delete_file && (n->attributes & kAttributeReadOnly) && !ignore_read_only) return STATUS_CANNOT_DELETE;
        open.delete_on_close = delete_file;
        return STATUS_SUCCESS;
      }
      return set_disposition(rq, open, delete_file, ignore_read_only);
    }
    case kFileRenameInformation:
      if (length < sizeof(layout::FILE_RENAME_INFORMATION) - 4) return STATUS_INFO_LENGTH_MISMATCH;
      return rename(rq, open, std::min(length, kMaxSetInformation));
    default:
      return STATUS_INVALID_PARAMETER;
  }
}

NtStatus FileSystem::query_volume(Request& rq) {
  auto& mem = kernel_.memory();
  uint32_t length = mem.read<uint32_t>(rq.stack + layout::stack::kInfoLength);
  uint32_t cls = mem.read<uint32_t>(rq.stack + layout::stack::kInfoClass);
  const uint64_t total_units = vfs_.limits().max_bytes / kClusterSize;
  const uint64_t free_units = (vfs_.limits().max_bytes - std::min(vfs_.used_bytes(), vfs_.limits().max_bytes)) /
                              kClusterSize;
  std::vector<uint8_t> out;
  NtStatus status = STATUS_SUCCESS;
  // A variable-length name at the end: as much as fits, STATUS_BUFFER_OVERFLOW if cut.
  auto with_name = [&](std::vector<uint8_t> fixed, size_t name_at, std::u16string_view name) {
    size_t room = length > name_at ? length - name_at : 0;
    size_t copied = std::min(room, name.size() * 2);
    fixed.resize(name_at + copied);
    std::memcpy(fixed.data() + name_at, name.data(), copied);
    if (copied < name.size() * 2) status = STATUS_BUFFER_OVERFLOW;
    return fixed;
  };
  switch (cls) {
    case kFileFsVolumeInformation: {
      constexpr std::u16string_view kLabel = u"KEMU";
      layout::FILE_FS_VOLUME_INFORMATION v{};
      if (length < offsetof(layout::FILE_FS_VOLUME_INFORMATION, VolumeLabel)) return STATUS_INFO_LENGTH_MISMATCH;
      v.VolumeCreationTime = static_cast<int64_t>(emu::Machine::kBootSystemTime);
      v.VolumeSerialNumber = kVolumeSerialNumber;
      v.VolumeLabelLength = static_cast<uint32_t>(kLabel.size() * 2);
      v.SupportsObjects = 0;
      out = with_name(bytes_of(v, offsetof(layout::FILE_FS_VOLUME_INFORMATION, VolumeLabel)),
                      offsetof(layout::FILE_FS_VOLUME_INFORMATION, VolumeLabel), kLabel);
      break;
    }
    case kFileFsSizeInformation: {
      layout::FILE_FS_SIZE_INFORMATION s{static_cast<int64_t>(total_units), static_cast<int64_t>(free_units),
                                         kSectorsPerCluster, kBytesPerSector};
      if (length < sizeof s) return STATUS_INFO_LENGTH_MISMATCH;
      out = bytes_of(s);
      break;
    }
    case kFileFsFullSizeInformation: {
      layout::FILE_FS_FULL_SIZE_INFORMATION s{static_cast<int64_t>(total_units), static_cast<int64_t>(free_units),
                                              static_cast<int64_t>(free_units), kSectorsPerCluster, kBytesPerSector};
      if (length < sizeof s) return STATUS_INFO_LENGTH_MISMATCH;
      out = bytes_of(s);
      break;
    }
    case kFileFsDeviceInformation: {
      layout::FILE_FS_DEVICE_INFORMATION d{kVolumeDeviceType, kVolumeCharacteristics};
      if (length < sizeof d) return STATUS_INFO_LENGTH_MISMATCH;
      out = bytes_of(d);
      break;
    }
    case kFileFsAttributeInformation: {
      // Only what the volume does: case-sensitive search on request, names
      // kept as written, Unicode names (no ACLs, streams, EAs or reparse points).
      constexpr uint32_t kAttributes = 0x1 | 0x2 | 0x4;
      layout::FILE_FS_ATTRIBUTE_INFORMATION a{kAttributes, static_cast<uint32_t>(kMaxComponentLength), 8, {}};
      if (length < offsetof(layout::FILE_FS_ATTRIBUTE_INFORMATION, FileSystemName))
        return STATUS_INFO_LENGTH_MISMATCH;
      out = with_name(bytes_of(a, offsetof(layout::FILE_FS_ATTRIBUTE_INFORMATION, FileSystemName)),
                      offsetof(layout::FILE_FS_ATTRIBUTE_INFORMATION, FileSystemName), u"NTFS");
      break;
    }
    default:
      return STATUS_INVALID_PARAMETER;
  }
  if (NtStatus st = write_output(kernel_, rq, out.data(), out.size()); !nt_success(st)) return st;
  rq.information = out.size();
  return status;
}

}  // namespace kemu::nt::fs
