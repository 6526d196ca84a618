// kemu's sandbox file system as a kernel-internal file-system driver:
// \FileSystem\KemuFs owns the volume device \Device\HarddiskVolume2, and
// \GLOBAL??\C: links to it. An open of \??\C:\dir\f.txt reaches the volume
// through the I/O manager's ordinary device path (FileName "\dir\f.txt") and
// every file operation is a real IRP sent to the volume's stack, so a filter
// attached above it sees them. The dispatch routines are internal kernel
// routines (host handlers taking DeviceObject, Irp) working on the in-memory
// tree (fs/vfs.h); FileObject->FsContext points at a per-file FCB
// (FSRTL_COMMON_FCB_HEADER + SECTION_OBJECT_POINTERS) and FsContext2 at a
// per-open CCB in guest pool, as NTFS and FastFAT do.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "emulator/ntstatus.h"
#include "emulator/types.h"
#include "ntoskrnl-stubs/fs/vfs.h"

namespace kemu::nt {
class Kernel;
}

namespace kemu::nt::fs {

// What the volume looks like to drivers.
constexpr std::u16string_view kDriverName = u"\\FileSystem\\KemuFs";
constexpr std::u16string_view kVolumeDeviceName = u"\\Device\\HarddiskVolume2";
constexpr std::u16string_view kDriveLink = u"\\GLOBAL??\\C:";
constexpr uint32_t kVolumeDeviceType = 0x7;           // FILE_DEVICE_DISK (a volume)
constexpr uint32_t kVolumeCharacteristics = 0x20;     // FILE_DEVICE_IS_MOUNTED
constexpr uint32_t kVolumeSerialNumber = 0x4B454D55;  // "KEMU"
constexpr uint32_t kBytesPerSector = 512;
constexpr uint32_t kSectorsPerCluster = 8;  // 4 KiB clusters
constexpr uint32_t kClusterSize = kBytesPerSector * kSectorsPerCluster;

// One open of a file, directory or the volume (the CCB), keyed by its FILE_OBJECT.
struct OpenFile {
  NodeId node = 0;
  bool volume = false;   // a DASD open of the volume itself ("\??\C:")
  uint32_t access = 0;   // the access the open asked for, generic rights mapped
  // IoSetShareAccess: which of the share counts this open holds.
  bool counted_read = false, counted_write = false, counted_delete = false;
  bool shared_read = false, shared_write = false, shared_delete = false;
  bool delete_on_close = false;  // FILE_DELETE_ON_CLOSE, acted on at cleanup
  bool cleaned_up = false;
  GuestVa ccb;
  // ZwQueryDirectoryFile state: the search expression (captured by the first
  // query, replaced by a restart with a new one), and where the scan is.
  std::optional<std::u16string> expression;  // nullopt: no query yet
  int phase = 0;                  // 0 ".", 1 "..", 2 children, 3 done
  std::optional<std::u16string> last_child;  // the last child returned
};

class FileSystem {
 public:
  explicit FileSystem(Kernel& kernel, Limits limits = {});

  // Creates \FileSystem\KemuFs, \Device\HarddiskVolume2 and \GLOBAL??\C:.
  void initialize();

  // --files DIR: copies the host folder into the volume (fs/vfs.h). An error
  // message when the folder cannot be read.
  std::optional<std::string> seed_from(const std::string& host_dir, SeedReport* report = nullptr);

  Vfs& vfs() { return vfs_; }
  GuestVa volume_device() const { return device_; }
  GuestVa driver_object() const { return driver_; }
  // The CCB state of a file object of this volume, or null.
  const OpenFile* open_file(GuestVa file_object) const;

  // The IRP dispatch routines (each completes the IRP and returns its status).
  NtStatus dispatch(uint8_t major, GuestVa device, GuestVa irp);

  struct Request;  // one IRP being served (fs/fs_request.h)

 private:
  NtStatus create(Request& rq);
  NtStatus cleanup(Request& rq);
  NtStatus close(Request& rq);
  NtStatus read(Request& rq);
  NtStatus write(Request& rq);
  NtStatus flush(Request& rq);
  NtStatus query_information(Request& rq);
  NtStatus set_information(Request& rq);
  NtStatus query_volume(Request& rq);
  NtStatus directory_control(Request& rq);

  // Helpers shared by the routines.
  NtStatus open_existing(Request& rq, NodeId node, uint32_t disposition, uint32_t options, uint32_t attributes,
                         bool trailing_separator, uint64_t* information);
  NtStatus check_share(Node& node, uint32_t access, uint32_t share, OpenFile* open);
  void remove_share(Node& node, const OpenFile& open);
  void attach(Request& rq, NodeId node, bool volume, OpenFile open);
  GuestVa fcb_of(NodeId node);
  void sync_fcb(NodeId node);
  NtStatus set_disposition(Request& rq, OpenFile& open, bool delete_file, bool ignore_read_only);
  NtStatus rename(Request& rq, OpenFile& open, uint32_t length);
  uint64_t allocation_of(const Node& n) const;
  uint32_t reported_attributes(const Node& n) const;
  int64_t now() const;

  Kernel& kernel_;
  Vfs vfs_;
  GuestVa driver_;
  GuestVa device_;
  std::map<uint64_t, OpenFile> opens_;  // by FILE_OBJECT
  struct Fcb {
    GuestVa block;
    uint32_t references = 0;  // file objects pointing at it
  };
  std::map<NodeId, Fcb> fcbs_;
  std::map<NodeId, uint64_t> explicit_allocation_;  // FileAllocationInformation / AllocationSize
};

}  // namespace kemu::nt::fs
