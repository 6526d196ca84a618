// The file-system driver's life and its create, cleanup, close, read, write
// and flush requests. The rules are NTFS's where a driver can tell (FastFAT's
// published source where NTFS's behaviour is not documented).
#include "ntoskrnl-stubs/fs/file_system.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "ntoskrnl-stubs/api/caller_memory.h"
#include "ntoskrnl-stubs/api/kernel_modules.h"
#include "ntoskrnl-stubs/fs/fs_request.h"
#include "ntoskrnl-stubs/io/io_manager.h"
#include "ntoskrnl-stubs/io/irp.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/mm/sections.h"
#include "ntoskrnl-stubs/layout/fs_structs.h"
#include "ntoskrnl-stubs/layout/nt_structs.h"
#include "ntoskrnl-stubs/mm/mm.h"
#include "ntoskrnl-stubs/ob/object_manager.h"

namespace kemu::nt {

// The volume's dispatch routines: internal kernel routines (kernel.cpp names
// them), so DriverObject->MajorFunction holds real code addresses.
NtStatus KemuFsdCreate(Kernel& k, GuestVa device, GuestVa irp) { return k.fs().dispatch(irp_mj::kCreate, device, irp); }
NtStatus KemuFsdClose(Kernel& k, GuestVa device, GuestVa irp) { return k.fs().dispatch(irp_mj::kClose, device, irp); }
NtStatus KemuFsdRead(Kernel& k, GuestVa device, GuestVa irp) { return k.fs().dispatch(irp_mj::kRead, device, irp); }
NtStatus KemuFsdWrite(Kernel& k, GuestVa device, GuestVa irp) { return k.fs().dispatch(irp_mj::kWrite, device, irp); }
NtStatus KemuFsdQueryInformation(Kernel& k, GuestVa device, GuestVa irp) {
  return k.fs().dispatch(irp_mj::kQueryInformation, device, irp);
}
NtStatus KemuFsdSetInformation(Kernel& k, GuestVa device, GuestVa irp) {
  return k.fs().dispatch(irp_mj::kSetInformation, device, irp);
}
NtStatus KemuFsdFlushBuffers(Kernel& k, GuestVa device, GuestVa irp) {
  return k.fs().dispatch(irp_mj::kFlushBuffers, device, irp);
}
NtStatus KemuFsdQueryVolumeInformation(Kernel& k, GuestVa device, GuestVa irp) {
  return k.fs().dispatch(irp_mj::kQueryVolumeInformation, device, irp);
}
NtStatus KemuFsdDirectoryControl(Kernel& k, GuestVa device, GuestVa irp) {
  return k.fs().dispatch(irp_mj::kDirectoryControl, device, irp);
}
NtStatus KemuFsdCleanup(Kernel& k, GuestVa device, GuestVa irp) { return k.fs().dispatch(irp_mj::kCleanup, device, irp); }

}  // namespace kemu::nt

namespace kemu::nt::fs {

using layout::FILE_OBJECT;
using layout::IO_STACK_LOCATION;
using layout::IRP;

namespace {
constexpr uint32_t kFsTag = 0x6D46654B;  // 'KeFm'
constexpr int16_t kFcbNodeType = 0x0702;
constexpr int16_t kCcbNodeType = 0x0703;
constexpr uint64_t kCcbSize = 0x10;
}  // namespace

FileSystem::FileSystem(Kernel& kernel, Limits limits) : kernel_(kernel), vfs_(limits) {}

void FileSystem::initialize() {
  auto& mem = kernel_.memory();
  io::DriverRecord& rec = kernel_.io().create_driver_object("KemuFs", GuestVa{}, 0, GuestVa{}, u"\\FileSystem");
  driver_ = rec.driver_object;
  auto& modules = kernel_.modules();
  const std::pair<uint8_t, const char*> routines[] = {
      {irp_mj::kCreate, "KemuFsdCreate"},
      {irp_mj::kClose, "KemuFsdClose"},
      {irp_mj::kRead, "KemuFsdRead"},
      {irp_mj::kWrite, "KemuFsdWrite"},
      {irp_mj::kQueryInformation, "KemuFsdQueryInformation"},
      {irp_mj::kSetInformation, "KemuFsdSetInformation"},
      {irp_mj::kFlushBuffers, "KemuFsdFlushBuffers"},
      {irp_mj::kQueryVolumeInformation, "KemuFsdQueryVolumeInformation"},
      {irp_mj::kDirectoryControl, "KemuFsdDirectoryControl"},
      {irp_mj::kCleanup, "KemuFsdCleanup"},
  };
  for (const auto& [major, name] : routines)
    mem.write<uint64_t>(driver_ + offsetof(layout::DRIVER_OBJECT, MajorFunction) + 8ull * major,
                        modules.internal_routine(name).value);
  NtStatus st = kernel_.io().create_device(driver_, 0, std::u16string(kVolumeDeviceName), kVolumeDeviceType,
                                           kVolumeCharacteristics, false, &device_);
  if (!nt_success(st)) throw std::runtime_error("cannot create the sandbox volume device");
  kernel_.io().finish_initialization(driver_);
  // \GLOBAL??\C: -> \Device\HarddiskVolume2, a permanent link like the mount manager's.
  auto& ob = kernel_.ob();
  ob::ObjectId link = ob.create_link_object(kVolumeDeviceName);
  if (!nt_success(ob.insert(link, kDriveLink, true))) throw std::runtime_error("cannot create \\GLOBAL??\\C:");
  ob.dereference(link);
}

std::optional<std::string> FileSystem::seed_from(const std::string& host_dir, SeedReport* report) {
  return vfs_.seed_from(host_dir, now(), report);
}

const OpenFile* FileSystem::open_file(GuestVa file_object) const {
  auto it = opens_.find(file_object.value);
  return it == opens_.end() ? nullptr : &it->second;
}

int64_t FileSystem::now() const { return static_cast<int64_t>(kernel_.machine().system_time()); }

uint64_t FileSystem::allocation_of(const Node& n) const {
  if (n.directory) return 0;
  uint64_t size = n.data.size();
  auto it = explicit_allocation_.find(n.id);
  if (it != explicit_allocation_.end()) size = std::max(size, it->second);
  return (size + kClusterSize - 1) / kClusterSize * kClusterSize;
}

uint32_t FileSystem::reported_attributes(const Node& n) const {
  // A file with no attribute set reports FILE_ATTRIBUTE_NORMAL.
  return n.attributes ? n.attributes : kAttributeNormal;
}

GuestVa FileSystem::fcb_of(NodeId node) {
  Fcb& f = fcbs_[node];
  if (!f.block) {
    uint64_t size = sizeof(layout::FSRTL_COMMON_FCB_HEADER) + sizeof(layout::SECTION_OBJECT_POINTERS);
    auto block = kernel_.machine().pool().allocate(size, 0, kFsTag, GuestVa{});
    if (!block) throw emu::GuestMemoryExhausted("pool exhausted creating an FCB");
    std::vector<uint8_t> zero(size, 0);
    kernel_.memory().write(*block, zero.data(), zero.size());
    f.block = *block;
    sync_fcb(node);
  }
  return f.block;
}

void FileSystem::sync_fcb(NodeId node) {
  auto it = fcbs_.find(node);
  const Node* n = vfs_.node(node);
  if (it == fcbs_.end() || !it->second.block || !n) return;
  layout::FSRTL_COMMON_FCB_HEADER h{};
  h.NodeTypeCode = kFcbNodeType;
  h.NodeByteSize = sizeof(layout::FSRTL_COMMON_FCB_HEADER) + sizeof(layout::SECTION_OBJECT_POINTERS);
  h.IsFastIoPossible = 0;  // FastIoIsNotPossible: every request is an IRP
  h.AllocationSize = static_cast<int64_t>(allocation_of(*n));
  h.FileSize = static_cast<int64_t>(n->data.size());
  h.ValidDataLength = h.FileSize;
  kernel_.memory().write(it->second.block, h);
}

// --- dispatch ---------------------------------------------------------------

NtStatus FileSystem::dispatch(uint8_t major, GuestVa device, GuestVa irp) {
  auto& mem = kernel_.memory();
  Request rq;
  rq.irp = irp;
  rq.device = device;
  rq.stack = GuestVa{mem.read<uint64_t>(irp + offsetof(IRP, CurrentStackLocation))};
  IO_STACK_LOCATION sl = mem.read<IO_STACK_LOCATION>(rq.stack);
  rq.major = major;
  rq.minor = sl.MinorFunction;
  rq.flags = sl.Flags;
  rq.file = GuestVa{sl.FileObject};
  rq.requestor = mem.read<int8_t>(irp + offsetof(IRP, RequestorMode)) ? ProcessorMode::UserMode
                                                                        : ProcessorMode::KernelMode;
  auto it = opens_.find(rq.file.value);
  rq.open = it == opens_.end() ? nullptr : &it->second;

  NtStatus status;
  if (major != irp_mj::kCreate && !rq.open) {
    // A file object this volume never opened (or already closed).
    status = STATUS_INVALID_PARAMETER;
  } else {
    switch (major) {
      case irp_mj::kCreate: status = create(rq); break;
      case irp_mj::kCleanup: status = cleanup(rq); break;
      case irp_mj::kClose: status = close(rq); break;
      case irp_mj::kRead: status = read(rq); break;
      case irp_mj::kWrite: status = write(rq); break;
      case irp_mj::kFlushBuffers: status = flush(rq); break;
      case irp_mj::kQueryInformation: status = query_information(rq); break;
      case irp_mj::kSetInformation: status = set_information(rq); break;
      case irp_mj::kQueryVolumeInformation: status = query_volume(rq); break;
      case irp_mj::kDirectoryControl: status = directory_control(rq); break;
      default: status = STATUS_INVALID_DEVICE_REQUEST; break;
    }
  }
  if (kernel_.machine().stopped()) return status;
  // IoStatus (Information only for success and warnings), then completion.
  mem.write<uint64_t>(irp + offsetof(IRP, IoStatus), status);
  mem.write<uint64_t>(irp + offsetof(IRP, IoStatus) + 8, nt_error(status) ? 0 : rq.information);
  IofCompleteRequest(kernel_, irp, 0);
  return status;
}

// --- create -----------------------------------------------------------------

namespace {
constexpr uint32_t kFileSupersede = 0, kFileOpen = 1, kFileCreate = 2, kFileOpenIf = 3, kFileOverwrite = 4,
                   kFileOverwriteIf = 5;
constexpr uint64_t kFileSuperseded = 0, kFileOpened = 1, kFileCreated = 2, kFileOverwritten = 3, kFileExists = 4,
                   kFileDoesNotExist = 5;
constexpr uint32_t kFileDirectoryFile = 0x1, kFileNonDirectoryFile = 0x40, kFileDeleteOnClose = 0x1000,
                   kFileOpenByFileId = 0x2000;
constexpr uint8_t kSlOpenTargetDirectory = 0x04;
constexpr uint32_t kWriteDataRights = access::kWriteData | access::kAppendData;
}  // namespace

NtStatus FileSystem::create(Request& rq) {
  auto& mem = kernel_.memory();
  FILE_OBJECT fo = mem.read<FILE_OBJECT>(rq.file);
  uint32_t create_options = mem.read<uint32_t>(rq.stack + layout::stack::kCreateOptions);
  uint32_t disposition = create_options >> 24;
  uint32_t options = create_options & 0xFFFFFF;
  uint32_t attributes = mem.read<uint16_t>(rq.stack + layout::stack::kCreateFileAttributes);
  uint32_t share = mem.read<uint16_t>(rq.stack + layout::stack::kCreateShareAccess);
  uint32_t ea_length = mem.read<uint32_t>(rq.stack + layout::stack::kCreateEaLength);
  GuestVa security{mem.read<uint64_t>(rq.stack + layout::stack::kCreateSecurityContext)};
  uint32_t desired = security ? mem.read<uint32_t>(security + layout::kSecurityContextDesiredAccess) : 0;
  uint32_t access = map_file_access(desired);
  std::u16string name;
  if (fo.FileName.Length) name = kernel_.read_unicode_string(rq.file + offsetof(FILE_OBJECT, FileName));

  if (disposition > kFileOverwriteIf) return STATUS_INVALID_PARAMETER;
  if ((options & kFileDirectoryFile) && (options & kFileNonDirectoryFile)) return STATUS_INVALID_PARAMETER;
  // This volume keeps no extended attributes (FILE_SUPPORTS_EXTENDED_ATTRIBUTES is not advertised).
  if (ea_length && mem.read<uint64_t>(rq.irp + offsetof(IRP, AssociatedIrp))) return STATUS_EAS_NOT_SUPPORTED;

  OpenFile open;
  open.access = access;

  // FILE_OPEN_BY_FILE_ID: the name is the 8-byte file reference (IndexNumber).
  if (options & kFileOpenByFileId) {
    if (fo.FileName.Length != 8) return STATUS_INVALID_PARAMETER;
    if (disposition != kFileOpen && disposition != kFileOpenIf) return STATUS_INVALID_PARAMETER;
    uint64_t id = 0;
    std::memcpy(&id, name.data(), 8);
    if (!vfs_.node(id)) return STATUS_INVALID_PARAMETER;
    return open_existing(rq, id, kFileOpen, options, attributes, false, &rq.information);
  }

  // Where the name starts: the related directory (a relative open) or the root.
  NodeId start = kRootNode;
  ParsedPath path;
  if (fo.RelatedFileObject) {
    auto rel = opens_.find(fo.RelatedFileObject);
    if (rel == opens_.end() || rel->second.volume) return STATUS_OBJECT_PATH_NOT_FOUND;
    // A relative open must name a relative path.
    if (!name.empty() && name[0] == u'\\') return STATUS_OBJECT_NAME_INVALID;
    start = rel->second.node;
    if (!vfs_.node(start)) return STATUS_OBJECT_PATH_NOT_FOUND;  // deleted meanwhile
    if (NtStatus st = Vfs::split_relative(name, &path); !nt_success(st)) return st;
    if (!path.parts.empty() && !vfs_.node(start)->directory) return STATUS_OBJECT_PATH_NOT_FOUND;
  } else if (name.empty()) {
    // The volume itself (a DASD open of \??\C:): only opened, never created.
    if (disposition != kFileOpen && disposition != kFileOpenIf) return STATUS_ACCESS_DENIED;
    if (options & kFileDirectoryFile) return STATUS_NOT_A_DIRECTORY;
    if (options & kFileDeleteOnClose) return STATUS_CANNOT_DELETE;
    if (rq.flags & kSlOpenTargetDirectory) return STATUS_INVALID_PARAMETER;
    open.volume = true;
    attach(rq, 0, true, open);
    rq.information = kFileOpened;
    return STATUS_SUCCESS;
  } else {
    if (NtStatus st = Vfs::split(name, &path); !nt_success(st)) return st;
  }

  // SL_OPEN_TARGET_DIRECTORY (a rename's target): open the parent directory,
  // leave the final component in FileObject->FileName, and say whether it exists.
  if (rq.flags & kSlOpenTargetDirectory) {
    if (path.parts.empty()) return STATUS_INVALID_PARAMETER;  // the root cannot be a target
    NodeId parent = 0;
    if (NtStatus st = vfs_.find_parent(start, path.parts, &parent); !nt_success(st)) return st;
    const std::u16string& last = path.parts.back();
    bool exists = vfs_.child(parent, last).has_value();
    NtStatus st = open_existing(rq, parent, kFileOpen, kFileDirectoryFile, 0, false, &rq.information);
    if (!nt_success(st)) return st;
    GuestVa buffer{fo.FileName.Buffer};
    mem.write(buffer, last.data(), last.size() * 2);
    mem.write<uint16_t>(rq.file + offsetof(FILE_OBJECT, FileName), static_cast<uint16_t>(last.size() * 2));
    rq.information = exists ? kFileExists : kFileDoesNotExist;
    return STATUS_SUCCESS;
  }

  NodeId existing = 0;
  NtStatus found = vfs_.find(start, path.parts, &existing);
  if (nt_success(found))
    return open_existing(rq, existing, disposition, options, attributes, path.trailing_separator, &rq.information);
  if (found != STATUS_OBJECT_NAME_NOT_FOUND) return found;

  // The name does not exist: only the creating dispositions go on.
  if (disposition == kFileOpen || disposition == kFileOverwrite) return STATUS_OBJECT_NAME_NOT_FOUND;
  bool directory = (options & kFileDirectoryFile) != 0;
  // "\new\" creates a directory only.
  if (path.trailing_separator && !directory) return STATUS_OBJECT_NAME_INVALID;
  NodeId parent = 0;
  if (NtStatus st = vfs_.find_parent(start, path.parts, &parent); !nt_success(st)) return st;
  if (vfs_.node(parent)->delete_pending) return STATUS_DELETE_PENDING;
  if ((options & kFileDeleteOnClose) && (attributes & kAttributeReadOnly)) return STATUS_CANNOT_DELETE;
  NodeId node = 0;
  if (NtStatus st = vfs_.create(parent, path.parts.back(), directory, attributes, now(), &node); !nt_success(st))
    return st;
  uint64_t allocation = static_cast<uint64_t>(mem.read<int64_t>(rq.irp + offsetof(IRP, Overlay)));
  if (!directory && allocation) explicit_allocation_[node] = allocation;
  Node& n = *vfs_.node(node);
  if (NtStatus st = check_share(n, access, share, &open); !nt_success(st)) return st;  // cannot fail: new file
  open.delete_on_close = (options & kFileDeleteOnClose) != 0;
  attach(rq, node, false, open);
  rq.information = kFileCreated;
  return STATUS_SUCCESS;
}

NtStatus FileSystem::open_existing(Request& rq, NodeId id, uint32_t disposition, uint32_t options,
                                   uint32_t attributes, bool trailing_separator, uint64_t* information) {
  auto& mem = kernel_.memory();
  Node& n = *vfs_.node(id);
  GuestVa security{mem.read<uint64_t>(rq.stack + layout::stack::kCreateSecurityContext)};
  uint32_t desired = security ? mem.read<uint32_t>(security + layout::kSecurityContextDesiredAccess) : 0;
  uint32_t access = map_file_access(desired);
  uint32_t share = mem.read<uint16_t>(rq.stack + layout::stack::kCreateShareAccess);

  if (disposition == kFileCreate) return STATUS_OBJECT_NAME_COLLISION;
  if (n.directory) {
    // A directory is only opened (superseding or overwriting one collides).
    if (disposition != kFileOpen && disposition != kFileOpenIf) return STATUS_OBJECT_NAME_COLLISION;
    if (options & kFileNonDirectoryFile) return STATUS_FILE_IS_A_DIRECTORY;
  } else {
    if (options & kFileDirectoryFile) return STATUS_NOT_A_DIRECTORY;
    if (trailing_separator) return STATUS_OBJECT_NAME_INVALID;
  }
  if (n.delete_pending) return STATUS_DELETE_PENDING;
  bool overwrite = disposition == kFileSupersede || disposition == kFileOverwrite || disposition == kFileOverwriteIf;
  if (n.attributes & kAttributeReadOnly) {
    // A read-only file refuses write access and replacement, and cannot be deleted.
    if (options & kFileDeleteOnClose) return STATUS_CANNOT_DELETE;
    if (!n.directory && ((access & kWriteDataRights) || overwrite)) return STATUS_ACCESS_DENIED;
  }
  // Overwriting a hidden or system file must keep those attributes.
  if (overwrite && disposition != kFileSupersede &&
      (((n.attributes & kAttributeHidden) && !(attributes & kAttributeHidden)) ||
       ((n.attributes & kAttributeSystem) && !(attributes & kAttributeSystem))))
    return STATUS_ACCESS_DENIED;
  if (options & kFileDeleteOnClose) {
    if (id == kRootNode) return STATUS_CANNOT_DELETE;
    if (n.directory && !n.children.empty()) return STATUS_DIRECTORY_NOT_EMPTY;
  }
  OpenFile open;
  open.access = access;
  if (NtStatus st = check_share(n, access, share, &open); !nt_success(st)) return st;
  if (overwrite) {
    vfs_.set_size(id, 0, now());
    explicit_allocation_.erase(id);
    uint64_t allocation = static_cast<uint64_t>(mem.read<int64_t>(rq.irp + offsetof(IRP, Overlay)));
    if (allocation) explicit_allocation_[id] = allocation;
    uint32_t requested = attributes & kAttributeValidSetFlags & ~kAttributeNormal & ~kAttributeDirectory;
    // FILE_SUPERSEDE replaces the attributes; the overwrites add to them.
    n.attributes = (disposition == kFileSupersede ? requested : (n.attributes | requested)) | kAttributeArchive;
    *information = disposition == kFileSupersede ? kFileSuperseded : kFileOverwritten;
  } else {
    *information = kFileOpened;
  }
  open.delete_on_close = (options & kFileDeleteOnClose) != 0;
  attach(rq, id, false, open);
  return STATUS_SUCCESS;
}

// IoCheckShareAccess with Update: only opens asking to read, write or delete
// take part; each must be allowed by every earlier open's sharing, and must
// itself share what earlier opens use.
NtStatus FileSystem::check_share(Node& node, uint32_t access, uint32_t share, OpenFile* open) {
  bool read = access & (access::kReadData | access::kExecute);
  bool write = access & (access::kWriteData | access::kAppendData);
  bool del = access & access::kDelete;
  if (!read && !write && !del) return STATUS_SUCCESS;
  bool shared_read = share & 1, shared_write = share & 2, shared_delete = share & 4;
  ShareAccess& s = node.share;
  if ((read && s.shared_read < s.open_count) || (write && s.shared_write < s.open_count) ||
      (del && s.shared_delete < s.open_count) || (s.readers && !shared_read) || (s.writers && !shared_write) ||
      (s.deleters && !shared_delete))
    return STATUS_SHARING_VIOLATION;
  ++s.open_count;
  s.readers += read;
  s.writers += write;
  s.deleters += del;
  s.shared_read += shared_read;
  s.shared_write += shared_write;
  s.shared_delete += shared_delete;
  open->counted_read = read;
  open->counted_write = write;
  open->counted_delete = del;
  open->shared_read = shared_read;
  open->shared_write = shared_write;
  open->shared_delete = shared_delete;
  return STATUS_SUCCESS;
}

// IoRemoveShareAccess.
void FileSystem::remove_share(Node& node, const OpenFile& open) {
  if (!open.counted_read && !open.counted_write && !open.counted_delete) return;
  ShareAccess& s = node.share;
  --s.open_count;
  s.readers -= open.counted_read;
  s.writers -= open.counted_write;
  s.deleters -= open.counted_delete;
  s.shared_read -= open.shared_read;
  s.shared_write -= open.shared_write;
  s.shared_delete -= open.shared_delete;
}

// Binds a successful open to its file object: FsContext (the FCB, shared by
// every open of the file), FsContext2 (this open's CCB), the share-access
// fields IoSetShareAccess fills.
void FileSystem::attach(Request& rq, NodeId node, bool volume, OpenFile open) {
  auto& mem = kernel_.memory();
  auto ccb = kernel_.machine().pool().allocate(kCcbSize, 0, kFsTag, GuestVa{});
  if (!ccb) throw emu::GuestMemoryExhausted("pool exhausted creating a CCB");
  mem.write<int16_t>(*ccb, kCcbNodeType);
  mem.write<int16_t>(*ccb + 2, static_cast<int16_t>(kCcbSize));
  mem.write<uint32_t>(*ccb + 4, 0);
  mem.write<uint64_t>(*ccb + 8, node);
  open.ccb = *ccb;
  open.node = node;
  open.volume = volume;
  GuestVa fcb;
  if (!volume) {
    fcb = fcb_of(node);
    ++fcbs_[node].references;
    ++vfs_.node(node)->opens;
    mem.write<uint64_t>(rq.file + offsetof(FILE_OBJECT, SectionObjectPointer),
                        (fcb + sizeof(layout::FSRTL_COMMON_FCB_HEADER)).value);
  }
  mem.write<uint64_t>(rq.file + offsetof(FILE_OBJECT, FsContext), fcb.value);
  mem.write<uint64_t>(rq.file + offsetof(FILE_OBJECT, FsContext2), ccb->value);
  if (open.counted_read || open.counted_write || open.counted_delete) {
    mem.write<uint8_t>(rq.file + offsetof(FILE_OBJECT, ReadAccess), open.counted_read);
    mem.write<uint8_t>(rq.file + offsetof(FILE_OBJECT, WriteAccess), open.counted_write);
    mem.write<uint8_t>(rq.file + offsetof(FILE_OBJECT, DeleteAccess), open.counted_delete);
    mem.write<uint8_t>(rq.file + offsetof(FILE_OBJECT, SharedRead), open.shared_read);
    mem.write<uint8_t>(rq.file + offsetof(FILE_OBJECT, SharedWrite), open.shared_write);
    mem.write<uint8_t>(rq.file + offsetof(FILE_OBJECT, SharedDelete), open.shared_delete);
  }
  opens_[rq.file.value] = open;
}

// --- cleanup and close --------------------------------------------------------

// IRP_MJ_CLEANUP (the file object's last handle closed): its share access is
// released and a delete it asked for takes effect; the file goes when its
// last handle does.
NtStatus FileSystem::cleanup(Request& rq) {
  OpenFile& open = *rq.open;
  if (open.cleaned_up) return STATUS_SUCCESS;
  open.cleaned_up = true;
  if (open.volume) return STATUS_SUCCESS;
  Node* n = vfs_.node(open.node);
  if (!n) return STATUS_SUCCESS;  // already deleted
  remove_share(*n, open);
  if (n->opens) --n->opens;
  if (open.delete_on_close) n->delete_pending = true;
  auto& mem = kernel_.memory();
  if (n->delete_pending && n->opens == 0) {
    // The last handle of a delete-pending file: it goes now (a directory
    // that gained children meanwhile stays, as on NTFS).
    NodeId id = n->id;
    if (nt_success(vfs_.remove(id))) explicit_allocation_.erase(id);
    else n->delete_pending = false;
  } else if (n->delete_pending) {
    mem.write<uint8_t>(rq.file + offsetof(FILE_OBJECT, DeletePending), 1);
  }
  // FO_CLEANUP_COMPLETE is the I/O manager's to set.
  return STATUS_SUCCESS;
}

// IRP_MJ_CLOSE (the last reference gone): the CCB goes, and the FCB with the
// last file object of the file.
NtStatus FileSystem::close(Request& rq) {
  OpenFile open = *rq.open;
  opens_.erase(rq.file.value);
  auto& pool = kernel_.machine().pool();
  if (open.ccb) pool.free(open.ccb, std::nullopt);
  if (!open.volume) {
    if (!open.cleaned_up) {
      // A file object that never had a handle (closed without IRP_MJ_CLEANUP).
      if (Node* n = vfs_.node(open.node)) {
        remove_share(*n, open);
        if (n->opens) --n->opens;
      }
    }
    auto it = fcbs_.find(open.node);
    if (it != fcbs_.end() && --it->second.references == 0) {
      if (it->second.block) pool.free(it->second.block, std::nullopt);
      fcbs_.erase(it);
    }
  }
  return STATUS_SUCCESS;
}

// --- read, write, flush ---------------------------------------------------------

namespace {
constexpr int64_t kWriteToEndOfFile = -1;  // FILE_WRITE_TO_END_OF_FILE
constexpr uint32_t kFoSynchronousIo = 0x2, kFoFileModified = 0x1000, kFoFileSizeChanged = 0x2000;
}  // namespace

NtStatus FileSystem::read(Request& rq) {
  OpenFile& open = *rq.open;
  auto& mem = kernel_.memory();
  if (open.volume) {
    kernel_.modules().unimplemented_case("KemuFs", "IRP_MJ_READ of the raw volume");
    return STATUS_NOT_IMPLEMENTED;
  }
  Node* n = vfs_.node(open.node);
  if (!n) return STATUS_FILE_DELETED;
  if (n->directory) return STATUS_INVALID_DEVICE_REQUEST;
  uint32_t length = mem.read<uint32_t>(rq.stack + layout::stack::kReadWriteLength);
  int64_t offset = mem.read<int64_t>(rq.stack + layout::stack::kReadWriteByteOffset);
  if (offset < 0) return STATUS_INVALID_PARAMETER;
  std::vector<uint8_t> bytes;
  // One cache: what mapped views of the file wrote is what a read returns.
  mm::sync_file_from_views(kernel_, n->id);
  NtStatus st = vfs_.read(n->id, static_cast<uint64_t>(offset), length, &bytes);
  if (!nt_success(st)) return st;
  if (!bytes.empty()) {
    if (NtStatus w = write_output(kernel_, rq, bytes.data(), bytes.size()); !nt_success(w)) return w;
  }
  rq.information = bytes.size();
  // A synchronous file's position follows the transfer (FatCommonRead).
  uint32_t flags = mem.read<uint32_t>(rq.file + offsetof(FILE_OBJECT, Flags));
  if (flags & kFoSynchronousIo)
    mem.write<int64_t>(rq.file + offsetof(FILE_OBJECT, CurrentByteOffset), offset + static_cast<int64_t>(bytes.size()));
  return STATUS_SUCCESS;
}

NtStatus FileSystem::write(Request& rq) {
  OpenFile& open = *rq.open;
  auto& mem = kernel_.memory();
  if (open.volume) {
    kernel_.modules().unimplemented_case("KemuFs", "IRP_MJ_WRITE of the raw volume");
    return STATUS_NOT_IMPLEMENTED;
  }
  Node* n = vfs_.node(open.node);
  if (!n) return STATUS_FILE_DELETED;
  if (n->directory) return STATUS_INVALID_DEVICE_REQUEST;
  uint32_t length = mem.read<uint32_t>(rq.stack + layout::stack::kReadWriteLength);
  int64_t offset = mem.read<int64_t>(rq.stack + layout::stack::kReadWriteByteOffset);
  // FILE_WRITE_TO_END_OF_FILE appends; other negative offsets are invalid.
  if (offset == kWriteToEndOfFile) offset = static_cast<int64_t>(n->data.size());
  if (offset < 0) return STATUS_INVALID_PARAMETER;
  // Beyond the volume's size before anything is copied (the host never
  // allocates what a caller claims).
  if (static_cast<uint64_t>(offset) + length > vfs_.limits().max_bytes) return STATUS_DISK_FULL;
  std::vector<uint8_t> bytes(length);
  if (length) {
    if (NtStatus r = read_input(kernel_, rq, bytes.data(), bytes.size()); !nt_success(r)) return r;
  }
  uint64_t before = n->data.size();
  if (NtStatus st = vfs_.write(n->id, static_cast<uint64_t>(offset), bytes.data(), bytes.size(), now());
      !nt_success(st))
    return st;
  // ... and what a write stores is what the views show.
  mm::sync_views_from_file(kernel_, n->id, static_cast<uint64_t>(offset), length);
  rq.information = length;
  uint32_t flags = mem.read<uint32_t>(rq.file + offsetof(FILE_OBJECT, Flags));
  if (length) flags |= kFoFileModified;
  if (n->data.size() != before) flags |= kFoFileSizeChanged;
  mem.write<uint32_t>(rq.file + offsetof(FILE_OBJECT, Flags), flags);
  if (flags & kFoSynchronousIo)
    mem.write<int64_t>(rq.file + offsetof(FILE_OBJECT, CurrentByteOffset), offset + static_cast<int64_t>(length));
  sync_fcb(n->id);
  return STATUS_SUCCESS;
}

// IRP_MJ_FLUSH_BUFFERS: the data lives in memory only; nothing is pending.
NtStatus FileSystem::flush(Request& rq) {
  OpenFile& open = *rq.open;
  if (!open.volume && !vfs_.node(open.node)) return STATUS_FILE_DELETED;
  return STATUS_SUCCESS;
}

}  // namespace kemu::nt::fs
