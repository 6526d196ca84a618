// The I/O manager's half of the file services (NtQueryInformationFile,
// NtSetInformationFile, NtQueryDirectoryFile, NtFlushBuffersFile,
// NtQueryVolumeInformationFile): the class and length checks, the access the
// handle needs, what the I/O manager answers itself, and the IRP it sends to
// the file's device for the rest. The NtXxx routines (io/file_exports.cpp)
// have captured and probed the caller's arguments.
#include <cstring>

#include <fmt/format.h>

#include "ntoskrnl-stubs/api/caller_memory.h"
#include "ntoskrnl-stubs/api/kernel_modules.h"
#include "ntoskrnl-stubs/api/previous_mode.h"
#include "ntoskrnl-stubs/io/io_manager.h"
#include "ntoskrnl-stubs/io/irp.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/fs_structs.h"
#include "ntoskrnl-stubs/layout/nt_structs.h"
#include "ntoskrnl-stubs/mm/mm.h"

namespace kemu::nt::io {

using layout::FILE_OBJECT;
using layout::IO_STACK_LOCATION;
using layout::IRP;

namespace {

constexpr uint32_t kIoTag = 0x20206F49;  // 'Io  '
constexpr uint32_t kIrpSynchronousApi = 0x4, kIrpBufferedIo = 0x10, kIrpDeallocateBuffer = 0x20,
                   kIrpInputOperation = 0x40;
constexpr uint32_t kFoSynchronousIo = 0x2, kFoAlertableIo = 0x4, kFoNoIntermediateBuffering = 0x8,
                   kFoWriteThrough = 0x10, kFoSequentialOnly = 0x20, kFoDeleteOnClose = 0x10000;
constexpr uint32_t kFileReadData = 0x1, kFileWriteData = 0x2, kFileAppendData = 0x4, kFileReadEa = 0x8,
                   kFileReadAttributes = 0x80, kFileWriteAttributes = 0x100, kDelete = 0x10000;
// FileModeInformation bits (the create options they mirror).
constexpr uint32_t kFileWriteThrough = 0x2, kFileSequentialOnly = 0x4, kFileNoIntermediateBuffering = 0x8,
                   kFileSynchronousIoAlert = 0x10, kFileSynchronousIoNonalert = 0x20, kFileDeleteOnClose = 0x1000;

// FILE_INFORMATION_CLASS values the I/O manager knows about here.
enum : uint32_t {
  kFileBasicInformation = 4,
  kFileStandardInformation = 5,
  kFileInternalInformation = 6,
  kFileEaInformation = 7,
  kFileAccessInformation = 8,
  kFileNameInformation = 9,
  kFileRenameInformation = 10,
  kFileDispositionInformation = 13,
  kFilePositionInformation = 14,
  kFileModeInformation = 16,
  kFileAlignmentInformation = 17,
  kFileAllInformation = 18,
  kFileAllocationInformation = 19,
  kFileEndOfFileInformation = 20,
  kFileNetworkOpenInformation = 34,
  kFileAttributeTagInformation = 35,
  kFileDispositionInformationEx = 64,
  kFileMaximumInformation = 76,  // Windows 10 19045
};

// What a query or set of one class takes (IopQueryOperationLength /
// IopSetOperationLength and IopQueryOperationAccess / IopSetOperationAccess).
struct ClassRule {
  uint32_t min_length;
  uint32_t access;
};

std::optional<ClassRule> query_rule(uint32_t cls) {
  switch (cls) {
    case kFileBasicInformation: return ClassRule{sizeof(layout::FILE_BASIC_INFORMATION), kFileReadAttributes};
    case kFileStandardInformation: return ClassRule{sizeof(layout::FILE_STANDARD_INFORMATION), 0};
    case kFileInternalInformation: return ClassRule{8, 0};
    case kFileEaInformation: return ClassRule{4, kFileReadEa};
    case kFileAccessInformation: return ClassRule{4, 0};
    case kFileNameInformation: return ClassRule{8, 0};  // sizeof(FILE_NAME_INFORMATION)
    case kFilePositionInformation: return ClassRule{8, 0};
    case kFileModeInformation: return ClassRule{4, 0};
    case kFileAlignmentInformation: return ClassRule{4, 0};
    case kFileAllInformation: return ClassRule{sizeof(layout::FILE_ALL_INFORMATION), kFileReadAttributes};
    case kFileNetworkOpenInformation:
      return ClassRule{sizeof(layout::FILE_NETWORK_OPEN_INFORMATION), kFileReadAttributes};
    case kFileAttributeTagInformation: return ClassRule{8, kFileReadAttributes};
    default: return std::nullopt;
  }
}

std::optional<ClassRule> set_rule(uint32_t cls) {
  switch (cls) {
    case kFileBasicInformation: return ClassRule{sizeof(layout::FILE_BASIC_INFORMATION), kFileWriteAttributes};
    case kFileRenameInformation: return ClassRule{sizeof(layout::FILE_RENAME_INFORMATION), kDelete};
    case kFileDispositionInformation: return ClassRule{1, kDelete};
    case kFileDispositionInformationEx: return ClassRule{4, kDelete};
    case kFilePositionInformation: return ClassRule{8, 0};
    case kFileModeInformation: return ClassRule{4, 0};
    case kFileAllocationInformation: return ClassRule{8, kFileWriteData};
    case kFileEndOfFileInformation: return ClassRule{8, kFileWriteData};
    default: return std::nullopt;
  }
}

// Classes Windows accepts for a query / a set that kemu does not model (the
// rest of 1..75 are refused with STATUS_INVALID_INFO_CLASS, as Windows does
// for directory-only or set-only classes).
bool known_unmodelled_query(uint32_t cls) {
  switch (cls) {
    case 15: case 21: case 22: case 23: case 24: case 25: case 26: case 28: case 29: case 32: case 33:
    case 43: case 46: case 47: case 48: case 49: case 51: case 53: case 54: case 55: case 58: case 59:
    case 62: case 68: case 70: case 71: case 74:
      return true;
    default:
      return false;
  }
}

bool known_unmodelled_set(uint32_t cls) {
  switch (cls) {
    case 11: case 15: case 23: case 27: case 29: case 30: case 31: case 32: case 36: case 39: case 40:
    case 41: case 42: case 43: case 44: case 56: case 57: case 61: case 65: case 66: case 71: case 72:
    case 73: case 74:
      return true;
    default:
      return false;
  }
}

// FileModeInformation of a file object.
uint32_t mode_of(uint32_t fo_flags) {
  uint32_t mode = 0;
  if (fo_flags & kFoWriteThrough) mode |= kFileWriteThrough;
  if (fo_flags & kFoSequentialOnly) mode |= kFileSequentialOnly;
  if (fo_flags & kFoNoIntermediateBuffering) mode |= kFileNoIntermediateBuffering;
  if (fo_flags & kFoSynchronousIo)
    mode |= (fo_flags & kFoAlertableIo) ? kFileSynchronousIoAlert : kFileSynchronousIoNonalert;
  if (fo_flags & kFoDeleteOnClose) mode |= kFileDeleteOnClose;
  return mode;
}

}  // namespace

IoResult IoManager::file_information_irp(uint8_t major, const InformationRequest& request, uint32_t access,
                                         const std::function<void(GuestVa, GuestVa)>& fill, bool output) {
  auto& ob = kernel_.ob();
  auto& mem = kernel_.memory();
  emu::Machine& m = kernel_.machine();
  ProcessorMode mode = m.previous_mode();
  ob::ObjectId file_id = ob::kNoObject;
  ob::HandleInfo info;
  NtStatus status = ob.reference_by_handle(request.handle, access, ob::TypeIndex::File, mode, &file_id, &info);
  if (!nt_success(status)) return {status, 0, false};
  GuestVa file = ob.get(file_id)->body;
  auto done = [&](IoResult r) {
    if (ob.get(file_id)) ob.dereference(file_id);
    return r;
  };
  // Information requests always go through a system buffer: the input copied
  // in, or the output copied back (Information bytes) when the request succeeds.
  GuestVa system_buffer;
  if (request.length) {
    NtStatus st = make_system_buffer(request.length, request.buffer, output ? 0 : request.length, &system_buffer);
    if (!nt_success(st)) return done({st, 0, false});
  }
  // The IRP holds a reference to the file object until it completes; its
  // fields (IRP_BUFFERED_IO | IRP_INPUT_OPERATION) drive the copy-back.
  ob.reference(file_id);
  IoResult r = send_file_request(
      file, major, mode,
      [&](GuestVa irp, GuestVa stack) {
        uint32_t flags = kIrpSynchronousApi;
        if (system_buffer) flags |= kIrpBufferedIo | kIrpDeallocateBuffer | (output ? kIrpInputOperation : 0);
        mem.write<uint32_t>(irp + offsetof(IRP, Flags), flags);
        mem.write<uint64_t>(irp + offsetof(IRP, AssociatedIrp), system_buffer.value);
        mem.write<uint64_t>(irp + offsetof(IRP, UserBuffer), request.buffer.value);
        mem.write<uint32_t>(stack + layout::stack::kInfoLength, request.length);
        mem.write<uint32_t>(stack + layout::stack::kInfoClass, request.information_class);
        if (fill) fill(irp, stack);
      },
      file_id);
  return done(r);
}

IoResult IoManager::query_information(const InformationRequest& request) {
  auto& ob = kernel_.ob();
  auto& mem = kernel_.memory();
  ProcessorMode mode = kernel_.machine().previous_mode();
  uint32_t cls = request.information_class;
  // The class and the length first, before the handle (NtQueryInformationFile).
  if (cls == 0 || cls >= kFileMaximumInformation) return {STATUS_INVALID_INFO_CLASS, 0, false};
  auto rule = query_rule(cls);
  if (!rule) {
    if (known_unmodelled_query(cls)) {
      kernel_.modules().unimplemented_case("NtQueryInformationFile", fmt::format("FileInformationClass {}", cls));
      return {STATUS_NOT_IMPLEMENTED, 0, false};
    }
    return {STATUS_INVALID_INFO_CLASS, 0, false};
  }
  if (request.length < rule->min_length) return {STATUS_INFO_LENGTH_MISMATCH, 0, false};

  ob::ObjectId file_id = ob::kNoObject;
  ob::HandleInfo info;
  NtStatus status = ob.reference_by_handle(request.handle, rule->access, ob::TypeIndex::File, mode, &file_id, &info);
  if (!nt_success(status)) return {status, 0, false};
  GuestVa file = ob.get(file_id)->body;
  uint32_t fo_flags = mem.read<uint32_t>(file + offsetof(FILE_OBJECT, Flags));
  GuestVa device{mem.read<uint64_t>(file + offsetof(FILE_OBJECT, DeviceObject))};
  uint32_t alignment = mem.read<uint32_t>(device + offsetof(layout::DEVICE_OBJECT, AlignmentRequirement));
  ob.dereference(file_id);

  // Answered by the I/O manager from the file object and the handle.
  std::optional<std::vector<uint8_t>> answer;
  auto u32 = [](uint32_t v) {
    std::vector<uint8_t> b(4);
    std::memcpy(b.data(), &v, 4);
    return b;
  };
  if (cls == kFileAccessInformation) answer = u32(info.granted_access);
  if (cls == kFileModeInformation) answer = u32(mode_of(fo_flags));
  if (cls == kFileAlignmentInformation) answer = u32(alignment);
  if (cls == kFilePositionInformation && (fo_flags & kFoSynchronousIo)) {
    int64_t position = mem.read<int64_t>(file + offsetof(FILE_OBJECT, CurrentByteOffset));
    answer = std::vector<uint8_t>(8);
    std::memcpy(answer->data(), &position, 8);
  }
  if (answer) {
    NtStatus st = caller::write_bytes(kernel_, mode, request.buffer, answer->data(), answer->size());
    if (!nt_success(st)) return {st, 0, false};
    return {STATUS_SUCCESS, answer->size(), false};
  }
  return file_information_irp(irp_mj::kQueryInformation, request, rule->access,
                              [&](GuestVa irp, GuestVa) {
                                if (cls != kFileAllInformation) return;
                                // FileAllInformation: the access, mode and
                                // alignment parts are the I/O manager's.
                                GuestVa sb{mem.read<uint64_t>(irp + offsetof(IRP, AssociatedIrp))};
                                mem.write<uint32_t>(sb + offsetof(layout::FILE_ALL_INFORMATION, AccessFlags),
                                                    info.granted_access);
                                mem.write<uint32_t>(sb + offsetof(layout::FILE_ALL_INFORMATION, Mode),
                                                    mode_of(fo_flags));
                                mem.write<uint32_t>(
                                    sb + offsetof(layout::FILE_ALL_INFORMATION, AlignmentRequirement), alignment);
                              },
                              true);
}

IoResult IoManager::set_information(const InformationRequest& request) {
  auto& ob = kernel_.ob();
  auto& mem = kernel_.memory();
  ProcessorMode mode = kernel_.machine().previous_mode();
  uint32_t cls = request.information_class;
  if (cls == 0 || cls >= kFileMaximumInformation) return {STATUS_INVALID_INFO_CLASS, 0, false};
  auto rule = set_rule(cls);
  if (!rule) {
    if (known_unmodelled_set(cls)) {
      kernel_.modules().unimplemented_case("NtSetInformationFile", fmt::format("FileInformationClass {}", cls));
      return {STATUS_NOT_IMPLEMENTED, 0, false};
    }
    return {STATUS_INVALID_INFO_CLASS, 0, false};
  }
  if (request.length < rule->min_length) return {STATUS_INFO_LENGTH_MISMATCH, 0, false};
  // The caller's input, captured once (what the IRP's system buffer will hold).
  std::vector<uint8_t> input(std::min<uint32_t>(request.length, 0x10000));
  if (NtStatus st = caller::read_bytes(kernel_, mode, request.buffer, input.data(), input.size()); !nt_success(st))
    return {st, 0, false};

  ob::ObjectId file_id = ob::kNoObject;
  ob::HandleInfo info;
  NtStatus status = ob.reference_by_handle(request.handle, rule->access, ob::TypeIndex::File, mode, &file_id, &info);
  if (!nt_success(status)) return {status, 0, false};
  GuestVa file = ob.get(file_id)->body;
  auto done = [&](IoResult r) {
    if (ob.get(file_id)) ob.dereference(file_id);
    return r;
  };
  uint32_t fo_flags = mem.read<uint32_t>(file + offsetof(FILE_OBJECT, Flags));
  GuestVa device{mem.read<uint64_t>(file + offsetof(FILE_OBJECT, DeviceObject))};

  if (cls == kFilePositionInformation && (fo_flags & kFoSynchronousIo)) {
    int64_t position = 0;
    std::memcpy(&position, input.data(), 8);
    // A negative position, or one off the sector grid of an unbuffered file, is refused.
    uint16_t sector = mem.read<uint16_t>(device + offsetof(layout::DEVICE_OBJECT, SectorSize));
    if (position < 0 || ((fo_flags & kFoNoIntermediateBuffering) && sector && (position % sector)))
      return done({STATUS_INVALID_PARAMETER, 0, false});
    mem.write<int64_t>(file + offsetof(FILE_OBJECT, CurrentByteOffset), position);
    return done({STATUS_SUCCESS, 0, false});
  }
  if (cls == kFileModeInformation) {
    uint32_t wanted = 0;
    std::memcpy(&wanted, input.data(), 4);
    constexpr uint32_t kSync = kFileSynchronousIoAlert | kFileSynchronousIoNonalert;
    // Only these bits; a file's synchronous nature cannot change, only its alertability.
    if ((wanted & ~(kFileWriteThrough | kFileSequentialOnly | kSync)) || (wanted & kSync) == kSync ||
        (!(fo_flags & kFoSynchronousIo) && (wanted & kSync)) || ((fo_flags & kFoSynchronousIo) && !(wanted & kSync)))
      return done({STATUS_INVALID_PARAMETER, 0, false});
    fo_flags &= ~(kFoWriteThrough | kFoSequentialOnly | kFoAlertableIo);
    if (wanted & kFileWriteThrough) fo_flags |= kFoWriteThrough;
    if (wanted & kFileSequentialOnly) fo_flags |= kFoSequentialOnly;
    if (wanted & kFileSynchronousIoAlert) fo_flags |= kFoAlertableIo;
    mem.write<uint32_t>(file + offsetof(FILE_OBJECT, Flags), fo_flags);
    return done({STATUS_SUCCESS, 0, false});
  }

  uint64_t target_handle = 0;
  GuestVa target_file;
  bool replace = false;
  if (cls == kFileRenameInformation) {
    layout::FILE_RENAME_INFORMATION header{};
    std::memcpy(&header, input.data(), std::min(input.size(), sizeof header));
    uint64_t name_end = 0x14ull + header.FileNameLength;
    if ((header.FileNameLength & 1) || name_end > input.size()) return done({STATUS_INVALID_PARAMETER, 0, false});
    std::u16string name(header.FileNameLength / 2, u'\0');
    std::memcpy(name.data(), input.data() + 0x14, header.FileNameLength);
    replace = header.ReplaceIfExists != 0;
    if (header.RootDirectory || (!name.empty() && name[0] == u'\\')) {
      // IopOpenLinkOrRenameTarget: the target's directory, opened for the file
      // system with SL_OPEN_TARGET_DIRECTORY (kernel-mode, no parameter checks).
      OpenRequest target;
      target.path = name;
      target.desired_access = kFileWriteData | 0x100000;  // FILE_ADD_FILE | SYNCHRONIZE
      target.share_access = 0x3;
      target.disposition = 0x1;       // FILE_OPEN
      target.options = 0x4000 | 0x20;  // FILE_OPEN_FOR_BACKUP_INTENT | FILE_SYNCHRONOUS_IO_NONALERT
      target.attributes = 0x200 | 0x40;  // OBJ_KERNEL_HANDLE | OBJ_CASE_INSENSITIVE
      target.stack_flags = 0x04;         // SL_OPEN_TARGET_DIRECTORY
      ob::ObjectId root_id = ob::kNoObject;
      if (header.RootDirectory) {
        NtStatus st = ob.reference_by_handle(header.RootDirectory, 0, ob::TypeIndex::File, mode, &root_id, nullptr);
        if (!nt_success(st)) return done({st, 0, false});
        target.related_file = ob.get(root_id)->body;
      }
      IoResult opened = as_kernel_caller(kernel_, [&] { return open(target, &target_handle); });
      if (root_id != ob::kNoObject && ob.get(root_id)) ob.dereference(root_id);
      if (opened.pending || !nt_success(opened.status)) return done({opened.status, 0, opened.pending});
      ob::ObjectId target_id = ob::kNoObject;
      ob.reference_by_handle(target_handle, 0, ob::TypeIndex::File, ProcessorMode::KernelMode, &target_id, nullptr);
      target_file = ob.get(target_id)->body;
      ob.dereference(target_id);  // the kernel handle keeps it
      // A rename never crosses volumes.
      if (GuestVa{mem.read<uint64_t>(target_file + offsetof(FILE_OBJECT, DeviceObject))} != device) {
        ob.close_handle(target_handle, ProcessorMode::KernelMode);
        return done({STATUS_NOT_SAME_DEVICE, 0, false});
      }
    }
  }
  // The system buffer gets the captured input.
  InformationRequest captured = request;
  GuestVa staging;
  if (!input.empty()) {
    auto block = kernel_.machine().pool().allocate(input.size(), 0, kIoTag, GuestVa{});
    if (!block) return done({STATUS_INSUFFICIENT_RESOURCES, 0, false});
    staging = *block;
    mem.write(staging, input.data(), input.size());
    captured.buffer = staging;
    captured.length = static_cast<uint32_t>(input.size());
  }
  IoResult r = file_information_irp(irp_mj::kSetInformation, captured, 0,
                                    [&](GuestVa, GuestVa stack) {
                                      // Parameters.SetFile: the target directory of a rename and ReplaceIfExists.
                                      mem.write<uint64_t>(stack + layout::stack::kSetFileObject, target_file.value);
                                      mem.write<uint8_t>(stack + layout::stack::kSetReplaceIfExists, replace);
                                    },
                                    false);
  if (staging) kernel_.machine().pool().free(staging, std::nullopt);
  if (target_handle) ob.close_handle(target_handle, ProcessorMode::KernelMode);
  return done(r);
}

IoResult IoManager::query_directory(const InformationRequest& request, bool return_single_entry,
                                    const std::optional<std::u16string>& file_name, bool restart_scan) {
  auto& ob = kernel_.ob();
  auto& mem = kernel_.memory();
  emu::Machine& m = kernel_.machine();
  ProcessorMode mode = m.previous_mode();
  // The directory classes and the fixed part of one entry (the least Length).
  uint32_t base = 0;
  switch (request.information_class) {
    case 1: base = layout::kDirectoryInfoNameOffset; break;
    case 2: base = layout::kFullDirInfoNameOffset; break;
    case 3: base = layout::kBothDirInfoNameOffset; break;
    case 12: base = layout::kNamesInfoNameOffset; break;
    case 37: base = layout::kIdBothDirInfoNameOffset; break;
    case 38: base = layout::kIdFullDirInfoNameOffset; break;
    case 50: case 60: case 63:
      kernel_.modules().unimplemented_case("NtQueryDirectoryFile",
                                           fmt::format("FileInformationClass {}", request.information_class));
      return {STATUS_NOT_IMPLEMENTED, 0, false};
    default:
      return {STATUS_INVALID_INFO_CLASS, 0, false};
  }
  if (request.length < base) return {STATUS_INFO_LENGTH_MISMATCH, 0, false};

  // FILE_LIST_DIRECTORY on the handle.
  ob::ObjectId file_id = ob::kNoObject;
  ob::HandleInfo info;
  NtStatus status = ob.reference_by_handle(request.handle, kFileReadData, ob::TypeIndex::File, mode, &file_id, &info);
  if (!nt_success(status)) return {status, 0, false};
  GuestVa file = ob.get(file_id)->body;
  auto done = [&](IoResult r) {
    if (ob.get(file_id)) ob.dereference(file_id);
    return r;
  };
  // The search expression, captured into nonpaged pool for the file system.
  GuestVa name;
  if (file_name) name = kernel_.new_unicode_string(*file_name, 0, kIoTag);
  // The output goes as the device transfers: buffered, direct (an MDL), or neither.
  GuestVa device{mem.read<uint64_t>(file + offsetof(FILE_OBJECT, DeviceObject))};
  uint32_t device_flags = mem.read<uint32_t>(device + offsetof(layout::DEVICE_OBJECT, Flags));
  GuestVa system_buffer, mdl;
  if (device_flags & kDoBufferedIo) {
    if (NtStatus st = make_system_buffer(request.length, request.buffer, 0, &system_buffer); !nt_success(st)) {
      if (name) m.pool().free(name, std::nullopt);
      return done({st, 0, false});
    }
  } else if (device_flags & kDoDirectIo) {
    if (NtStatus st = lock_user_buffer(request.buffer, request.length, mm::kIoWriteAccess, mode, &mdl);
        !nt_success(st)) {
      if (name) m.pool().free(name, std::nullopt);
      return done({st, 0, false});
    }
  }
  // The IRP holds a reference to the file object until it completes; its
  // fields (buffered copy-back, the MDL) are what completion undoes.
  ob.reference(file_id);
  IoResult r = send_file_request(
      file, irp_mj::kDirectoryControl, mode,
      [&](GuestVa irp, GuestVa stack) {
        uint32_t flags = kIrpSynchronousApi;
        if (system_buffer) flags |= kIrpBufferedIo | kIrpDeallocateBuffer | kIrpInputOperation;
        mem.write<uint32_t>(irp + offsetof(IRP, Flags), flags);
        mem.write<uint64_t>(irp + offsetof(IRP, AssociatedIrp), system_buffer.value);
        mem.write<uint64_t>(irp + offsetof(IRP, MdlAddress), mdl.value);
        mem.write<uint64_t>(irp + offsetof(IRP, UserBuffer), request.buffer.value);
        mem.write<uint8_t>(stack + offsetof(IO_STACK_LOCATION, MinorFunction), 0x01);  // IRP_MN_QUERY_DIRECTORY
        mem.write<uint8_t>(stack + offsetof(IO_STACK_LOCATION, Flags),
                           (restart_scan ? 0x01 : 0) | (return_single_entry ? 0x02 : 0));
        mem.write<uint32_t>(stack + layout::stack::kDirectoryLength, request.length);
        mem.write<uint64_t>(stack + layout::stack::kDirectoryFileName, name.value);
        mem.write<uint32_t>(stack + layout::stack::kDirectoryClass, request.information_class);
        mem.write<uint32_t>(stack + layout::stack::kDirectoryFileIndex, 0);
      },
      file_id);
  if (name && !r.pending) m.pool().free(name, std::nullopt);
  return done(r);
}

IoResult IoManager::flush_buffers(uint64_t handle) {
  auto& ob = kernel_.ob();
  ProcessorMode mode = kernel_.machine().previous_mode();
  ob::ObjectId file_id = ob::kNoObject;
  ob::HandleInfo info;
  NtStatus status = ob.reference_by_handle(handle, 0, ob::TypeIndex::File, mode, &file_id, &info);
  if (!nt_success(status)) return {status, 0, false};
  GuestVa file = ob.get(file_id)->body;
  // A user caller needs a handle that may write (FILE_WRITE_DATA or FILE_APPEND_DATA).
  IoResult r;
  if (mode == ProcessorMode::UserMode && !(info.granted_access & (kFileWriteData | kFileAppendData))) {
    r = {STATUS_ACCESS_DENIED, 0, false};
  } else {
    r = send_file_request(file, irp_mj::kFlushBuffers, mode, [](GuestVa, GuestVa) {});
  }
  if (ob.get(file_id)) ob.dereference(file_id);
  return r;
}

IoResult IoManager::query_volume(const InformationRequest& request) {
  auto& ob = kernel_.ob();
  auto& mem = kernel_.memory();
  ProcessorMode mode = kernel_.machine().previous_mode();
  uint32_t min_length = 0;
  switch (request.information_class) {
    case 1: min_length = sizeof(layout::FILE_FS_VOLUME_INFORMATION); break;  // FileFsVolumeInformation
    case 3: min_length = sizeof(layout::FILE_FS_SIZE_INFORMATION); break;    // FileFsSizeInformation
    case 4: min_length = sizeof(layout::FILE_FS_DEVICE_INFORMATION); break;  // FileFsDeviceInformation
    case 5: min_length = sizeof(layout::FILE_FS_ATTRIBUTE_INFORMATION); break;
    case 7: min_length = sizeof(layout::FILE_FS_FULL_SIZE_INFORMATION); break;
    case 6: case 8: case 9: case 10: case 11: case 12: case 13: case 14:
      kernel_.modules().unimplemented_case("NtQueryVolumeInformationFile",
                                           fmt::format("FsInformationClass {}", request.information_class));
      return {STATUS_NOT_IMPLEMENTED, 0, false};
    default:  // 0, FileFsLabelInformation (set only), beyond FileFsMaximumInformation
      return {STATUS_INVALID_INFO_CLASS, 0, false};
  }
  if (request.length < min_length) return {STATUS_INFO_LENGTH_MISMATCH, 0, false};
  if (request.information_class == 4) {
    // FileFsDeviceInformation is the I/O manager's: the file's device type and characteristics.
    ob::ObjectId file_id = ob::kNoObject;
    NtStatus status = ob.reference_by_handle(request.handle, 0, ob::TypeIndex::File, mode, &file_id, nullptr);
    if (!nt_success(status)) return {status, 0, false};
    GuestVa device{mem.read<uint64_t>(ob.get(file_id)->body + offsetof(FILE_OBJECT, DeviceObject))};
    ob.dereference(file_id);
    layout::FILE_FS_DEVICE_INFORMATION d{mem.read<uint32_t>(device + offsetof(layout::DEVICE_OBJECT, DeviceType)),
                                         mem.read<uint32_t>(device + offsetof(layout::DEVICE_OBJECT, Characteristics))};
    if (NtStatus st = caller::write(kernel_, mode, request.buffer, d, 4); !nt_success(st)) return {st, 0, false};
    return {STATUS_SUCCESS, sizeof d, false};
  }
  return file_information_irp(irp_mj::kQueryVolumeInformation, request, 0, nullptr, true);
}

}  // namespace kemu::nt::io
