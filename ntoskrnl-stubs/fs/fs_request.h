// What the file system's routines share while serving one IRP: the request's
// fields, the file access rights, and where a request's data lives (the
// caller's buffer under the requestor's rules, a system buffer or an MDL).
#pragma once

#include <cstdint>

#include "emulator/ntstatus.h"
#include "emulator/types.h"
#include "ntoskrnl-stubs/fs/file_system.h"

namespace kemu::nt::fs {

struct FileSystem::Request {
  GuestVa irp, stack, file, device;
  uint8_t major = 0, minor = 0, flags = 0;
  ProcessorMode requestor = ProcessorMode::KernelMode;
  OpenFile* open = nullptr;  // the CCB (every request but IRP_MJ_CREATE)
  uint64_t information = 0;  // IoStatus.Information on success or a warning
};

// File access rights (winnt.h).
namespace access {
constexpr uint32_t kReadData = 0x1;  // FILE_LIST_DIRECTORY for a directory
constexpr uint32_t kWriteData = 0x2;
constexpr uint32_t kAppendData = 0x4;
constexpr uint32_t kReadAttributes = 0x80;
constexpr uint32_t kWriteAttributes = 0x100;
constexpr uint32_t kExecute = 0x20;
constexpr uint32_t kDelete = 0x10000;
constexpr uint32_t kAllAccess = 0x1F01FF;
}  // namespace access

// Generic rights through the File type's mapping; MAXIMUM_ALLOWED is all
// access (the sandbox keeps no security descriptors).
uint32_t map_file_access(uint32_t desired);

// The request's output (IRP_MJ_READ, IRP_MJ_DIRECTORY_CONTROL,
// IRP_MJ_QUERY_*: the system buffer when IRP_BUFFERED_IO, the MDL when there
// is one, else Irp->UserBuffer accessed with the requestor's mode) and its
// input (IRP_MJ_WRITE, IRP_MJ_SET_INFORMATION).
NtStatus write_output(Kernel& k, const FileSystem::Request& rq, const void* bytes, uint64_t length);
NtStatus read_input(Kernel& k, const FileSystem::Request& rq, void* bytes, uint64_t length);

}  // namespace kemu::nt::fs
