// The file system services as drivers call them: NtCreateFile/ZwCreateFile,
// NtOpenFile/ZwOpenFile, IoCreateFile, IoCreateFileEx, Nt/ZwReadFile,
// Nt/ZwWriteFile, Nt/ZwQueryInformationFile, Nt/ZwSetInformationFile,
// Nt/ZwQueryDirectoryFile, Nt/ZwDeleteFile, ZwFlushBuffersFile,
// Nt/ZwQueryVolumeInformationFile and ZwQueryFullAttributesFile.
// Each NtXxx captures its arguments with the caller's PreviousMode (probing a
// UserMode caller's memory, api/caller_memory.h) and hands the request to the
// I/O manager; each ZwXxx is its NtXxx with PreviousMode KernelMode
// (api/previous_mode.h). The IO_STATUS_BLOCK is written for success and
// warnings, not for errors (IopCompleteRequest for a synchronous request).
#include <cstring>

#include <fmt/format.h>

#include "emulator/ntstatus.h"
#include "ntoskrnl-stubs/api/caller_memory.h"
#include "ntoskrnl-stubs/api/kernel_modules.h"
#include "ntoskrnl-stubs/api/previous_mode.h"
#include "ntoskrnl-stubs/api/registry.h"
#include "ntoskrnl-stubs/io/io_manager.h"
#include "ntoskrnl-stubs/ke/scheduler.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/fs_structs.h"
#include "ntoskrnl-stubs/layout/nt_structs.h"
#include "ntoskrnl-stubs/layout/ob_structs.h"
#include "ntoskrnl-stubs/ob/object_attributes.h"
#include "ntoskrnl-stubs/ob/object_manager.h"

namespace kemu::nt {

namespace {

constexpr uint32_t kIoTag = 0x20206F49;  // 'Io  '
// IoCreateFile Options.
constexpr uint32_t kIoForceAccessCheck = 0x1, kIoOpenTargetDirectory = 0x4, kIoNoParameterChecking = 0x100,
                   kIoCheckCreateParameters = 0x200;
// Create options.
constexpr uint32_t kFileDirectoryFile = 0x1, kFileWriteThrough = 0x2, kFileNoIntermediateBuffering = 0x8,
                   kFileSynchronousIoAlert = 0x10, kFileSynchronousIoNonalert = 0x20, kFileNonDirectoryFile = 0x40,
                   kFileCompleteIfOplocked = 0x100, kFileDeleteOnClose = 0x1000, kFileOpenByFileId = 0x2000,
                   kFileOpenForBackupIntent = 0x4000, kFileNoCompression = 0x8000, kFileReserveOpfilter = 0x100000,
                   kFileOpenReparsePoint = 0x200000, kFileOpenForFreeSpaceQuery = 0x800000;
constexpr uint32_t kFileAttributeValidFlags = 0x7FB7, kFileShareValidFlags = 0x7, kFileValidOptionFlags = 0xFFFFFF;
constexpr uint32_t kFileOpen = 1, kFileCreate = 2, kFileOpenIf = 3, kFileMaximumDisposition = 5;
constexpr uint32_t kDelete = 0x10000, kSynchronize = 0x100000, kFileAppendData = 0x4, kFileReadAttributes = 0x80;
constexpr uint8_t kSlForceAccessCheck = 0x01, kSlOpenTargetDirectory = 0x04, kSlCaseSensitive = 0x80;
constexpr uint32_t kEventModifyState = 0x2;

// An IO_STATUS_BLOCK the service probes up front (a UserMode caller's).
NtStatus probe_iosb(ProcessorMode mode, GuestVa iosb) {
  if (mode != ProcessorMode::UserMode) return STATUS_SUCCESS;
  return caller::probe(iosb, sizeof(layout::IO_STATUS_BLOCK), 4);
}

// The caller's IO_STATUS_BLOCK and return value once the request is done.
NtStatus finish(Kernel& k, ProcessorMode mode, GuestVa iosb, const io::IoResult& r) {
  if (r.pending) return STATUS_PENDING;  // the driver never completed it: the caller would still wait
  if (!nt_error(r.status)) caller::write(k, mode, iosb, layout::IO_STATUS_BLOCK{r.status, r.information}, 4);
  return r.status;
}

// The optional Event of NtReadFile/NtWriteFile/NtQueryDirectoryFile:
// referenced for EVENT_MODIFY_STATE, cleared, and signalled when the request
// completes.
struct CallerEvent {
  ob::ObjectId id = ob::kNoObject;
  GuestVa body;
};

NtStatus reference_event(Kernel& k, ProcessorMode mode, uint64_t handle, CallerEvent* event) {
  if (!handle) return STATUS_SUCCESS;
  NtStatus st = k.ob().reference_by_handle(handle, kEventModifyState, ob::TypeIndex::Event, mode, &event->id, nullptr);
  if (!nt_success(st)) return st;
  event->body = k.ob().get(event->id)->body;
  auto header = k.memory().read<layout::DISPATCHER_HEADER>(event->body);
  header.SignalState = 0;  // KeClearEvent
  k.memory().write(event->body, header);
  return STATUS_SUCCESS;
}

void release_event(Kernel& k, CallerEvent& event, const io::IoResult& r) {
  if (event.id == ob::kNoObject) return;
  if (!r.pending && k.ob().get(event.id)) {
    auto header = k.memory().read<layout::DISPATCHER_HEADER>(event.body);
    header.SignalState = 1;  // KeSetEvent at completion
    k.memory().write(event.body, header);
    k.scheduler().signal_test();
  }
  if (k.ob().get(event.id)) k.ob().dereference(event.id);
}

// APC completion (ApcRoutine) is not modelled: the call says so.
NtStatus refuse_apc(Kernel& k, const char* routine, GuestVa apc_routine) {
  if (!apc_routine) return STATUS_SUCCESS;
  k.modules().unimplemented_case(routine, "ApcRoutine (I/O completion APCs)");
  return STATUS_NOT_IMPLEMENTED;
}

struct CreateArguments {
  GuestVa handle_out;
  uint32_t desired_access = 0;
  GuestVa object_attributes;
  GuestVa iosb;
  GuestVa allocation_size;
  uint32_t file_attributes = 0;
  uint32_t share_access = 0;
  uint32_t disposition = 0;
  uint32_t create_options = 0;
  GuestVa ea_buffer;
  uint32_t ea_length = 0;
  uint32_t io_options = 0;  // IoCreateFile's Options
};

// IopCreateFile: parameter checks (UserMode, or IO_CHECK_CREATE_PARAMETERS),
// the capture, the open through the object name (IoManager::open), the
// handle and IO_STATUS_BLOCK written back.
NtStatus create_file(Kernel& k, const CreateArguments& a) {
  ProcessorMode mode =
      (a.io_options & kIoNoParameterChecking) ? ProcessorMode::KernelMode : k.machine().previous_mode();
  const uint32_t options = a.create_options;
  if (mode == ProcessorMode::UserMode || (a.io_options & kIoCheckCreateParameters)) {
    bool directory_only = (options & kFileDirectoryFile) && !(options & kFileNonDirectoryFile);
    constexpr uint32_t kDirectoryCompatible = kFileDirectoryFile | kFileSynchronousIoAlert |
                                              kFileSynchronousIoNonalert | kFileWriteThrough |
                                              kFileCompleteIfOplocked | kFileOpenForBackupIntent |
                                              kFileDeleteOnClose | kFileOpenForFreeSpaceQuery |
                                              kFileOpenByFileId | kFileNoCompression | kFileOpenReparsePoint;
    if ((a.file_attributes & ~kFileAttributeValidFlags) || (a.share_access & ~kFileShareValidFlags) ||
        a.disposition > kFileMaximumDisposition || (options & ~kFileValidOptionFlags) ||
        ((options & (kFileSynchronousIoAlert | kFileSynchronousIoNonalert)) && !(a.desired_access & kSynchronize)) ||
        ((options & kFileDeleteOnClose) && !(a.desired_access & kDelete)) ||
        ((options & (kFileSynchronousIoAlert | kFileSynchronousIoNonalert)) ==
         (kFileSynchronousIoAlert | kFileSynchronousIoNonalert)) ||
        (directory_only && (options & ~kDirectoryCompatible)) ||
        (directory_only && a.disposition != kFileCreate && a.disposition != kFileOpen &&
         a.disposition != kFileOpenIf) ||
        ((options & kFileCompleteIfOplocked) && (options & kFileReserveOpfilter)) ||
        ((options & kFileNoIntermediateBuffering) && (a.desired_access & kFileAppendData)))
      return STATUS_INVALID_PARAMETER;
  }
  int64_t allocation = 0;
  std::vector<uint8_t> ea;
  if (mode == ProcessorMode::UserMode) {
    // ProbeForWriteHandle, ProbeForWriteIoStatusBlock, the allocation size and the EAs captured.
    if (NtStatus st = caller::probe(a.handle_out, 8, 8); !nt_success(st)) return st;
    if (NtStatus st = probe_iosb(mode, a.iosb); !nt_success(st)) return st;
  }
  if (a.allocation_size) {
    if (NtStatus st = caller::read(k, mode, a.allocation_size, &allocation, 4); !nt_success(st)) return st;
    if (mode == ProcessorMode::UserMode && allocation < 0) return STATUS_INVALID_PARAMETER;
  }
  GuestVa ea_copy;
  if (a.ea_buffer && a.ea_length) {
    if (a.ea_length > 0x10000) return STATUS_INSUFFICIENT_RESOURCES;  // far beyond any real EA list
    ea.resize(a.ea_length);
    if (NtStatus st = caller::read_bytes(k, mode, a.ea_buffer, ea.data(), ea.size(), 4); !nt_success(st)) return st;
  }

  ob::CapturedAttributes oa;
  if (!a.object_attributes) return STATUS_INVALID_PARAMETER;
  if (NtStatus st = ob::capture_object_attributes(k, mode, a.object_attributes, &oa); !nt_success(st)) return st;
  io::OpenRequest rq;
  ob::ObjectId related = ob::kNoObject;
  if (oa.root_directory) {
    // A RootDirectory that is a file: the name is relative to it (IopParseFile).
    ob::ObjectId root = ob::kNoObject;
    NtStatus st = k.ob().reference_by_handle(oa.root_directory, 0, std::nullopt, mode, &root, nullptr);
    if (!nt_success(st)) return st;
    if (k.ob().get(root)->type == ob::TypeIndex::File) {
      related = root;
      std::u16string name = oa.name.value_or(u"");
      if (!name.empty() && name[0] == u'\\') {
        k.ob().dereference(related);
        return STATUS_OBJECT_PATH_SYNTAX_BAD;
      }
      rq.path = name;
      rq.related_file = k.ob().get(root)->body;
    } else {
      k.ob().dereference(root);
    }
  }
  if (related == ob::kNoObject) {
    if (!oa.name) return STATUS_OBJECT_NAME_INVALID;
    if (NtStatus st = ob::absolute_name(k, mode, oa, &rq.path); !nt_success(st)) return st;
  }
  rq.desired_access = a.desired_access;
  rq.share_access = a.share_access;
  rq.disposition = a.disposition;
  rq.options = options;
  rq.attributes = oa.attributes;
  rq.file_attributes = a.file_attributes & kFileAttributeValidFlags;
  rq.allocation_size = allocation;
  rq.ea_length = static_cast<uint32_t>(ea.size());
  rq.stack_flags = ((a.io_options & kIoForceAccessCheck) ? kSlForceAccessCheck : 0) |
                   ((a.io_options & kIoOpenTargetDirectory) ? kSlOpenTargetDirectory : 0) |
                   ((oa.attributes & ob::kObjCaseInsensitive) ? 0 : kSlCaseSensitive);
  if (!ea.empty()) {
    auto block = k.machine().pool().allocate(ea.size(), 0, kIoTag, GuestVa{});
    if (!block) {
      if (related != ob::kNoObject) k.ob().dereference(related);
      return STATUS_INSUFFICIENT_RESOURCES;
    }
    ea_copy = *block;
    k.memory().write(ea_copy, ea.data(), ea.size());
    rq.ea_buffer = ea_copy;
  }
  uint64_t handle = 0;
  // The IRP's RequestorMode is the mode the create runs with.
  io::IoResult r = mode == k.machine().previous_mode() ? k.io().open(rq, &handle)
                                                       : as_kernel_caller(k, [&] { return k.io().open(rq, &handle); });
  if (ea_copy) k.machine().pool().free(ea_copy, std::nullopt);
  if (related != ob::kNoObject && k.ob().get(related)) k.ob().dereference(related);
  if (r.pending) return STATUS_PENDING;
  if (nt_success(r.status)) {
    if (NtStatus st = caller::write<uint64_t>(k, mode, a.handle_out, handle, 8); !nt_success(st)) {
      k.ob().close_handle(handle, ProcessorMode::KernelMode);
      return st;
    }
  }
  return finish(k, mode, a.iosb, r);
}

// A kernel open of a name for NtDeleteFile and ZwQueryFullAttributesFile: a
// kernel handle the caller closes again (RootDirectory may be a file).
NtStatus open_by_attributes(Kernel& k, GuestVa object_attributes, uint32_t access, uint32_t options,
                            uint64_t* handle) {
  ProcessorMode mode = k.machine().previous_mode();
  ob::CapturedAttributes oa;
  if (!object_attributes) return STATUS_INVALID_PARAMETER;
  if (NtStatus st = ob::capture_object_attributes(k, mode, object_attributes, &oa); !nt_success(st)) return st;
  io::OpenRequest rq;
  ob::ObjectId related = ob::kNoObject;
  if (oa.root_directory) {
    NtStatus st = k.ob().reference_by_handle(oa.root_directory, 0, std::nullopt, mode, &related, nullptr);
    if (!nt_success(st)) return st;
    if (k.ob().get(related)->type == ob::TypeIndex::File) {
      rq.path = oa.name.value_or(u"");
      rq.related_file = k.ob().get(related)->body;
      if (!rq.path.empty() && rq.path[0] == u'\\') {
        k.ob().dereference(related);
        return STATUS_OBJECT_PATH_SYNTAX_BAD;  // a relative name cannot start at the root
      }
    } else {
      k.ob().dereference(related);
      related = ob::kNoObject;
    }
  }
  if (related == ob::kNoObject) {
    if (!oa.name) return STATUS_OBJECT_NAME_INVALID;
    if (NtStatus st = ob::absolute_name(k, mode, oa, &rq.path); !nt_success(st)) return st;
  }
  rq.desired_access = access;
  rq.share_access = 0x7;  // FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE
  rq.disposition = kFileOpen;
  rq.options = options;
  rq.attributes = oa.attributes | ob::kObjKernelHandle;
  io::IoResult r = k.io().open(rq, handle);
  if (related != ob::kNoObject && k.ob().get(related)) k.ob().dereference(related);
  return r.pending ? STATUS_PENDING : r.status;
}

}  // namespace

// --- create and open -----------------------------------------------------------

NtStatus NtCreateFile(Kernel& k, GuestVa handle_out, uint32_t desired, GuestVa oa, GuestVa iosb,
                      GuestVa allocation_size, uint32_t file_attributes, uint32_t share, uint32_t disposition,
                      uint32_t options, GuestVa ea_buffer, uint32_t ea_length) {
  return create_file(k, {handle_out, desired, oa, iosb, allocation_size, file_attributes, share, disposition,
                         options, ea_buffer, ea_length, 0});
}

NtStatus ZwCreateFile(Kernel& k, GuestVa handle_out, uint32_t desired, GuestVa oa, GuestVa iosb,
                      GuestVa allocation_size, uint32_t file_attributes, uint32_t share, uint32_t disposition,
                      uint32_t options, GuestVa ea_buffer, uint32_t ea_length) {
  return as_kernel_caller(k, [&] {
    return NtCreateFile(k, handle_out, desired, oa, iosb, allocation_size, file_attributes, share, disposition,
                        options, ea_buffer, ea_length);
  });
}

// NtOpenFile: NtCreateFile with FILE_OPEN and no attributes, allocation or EAs.
NtStatus NtOpenFile(Kernel& k, GuestVa handle_out, uint32_t desired, GuestVa oa, GuestVa iosb, uint32_t share,
                    uint32_t options) {
  return create_file(k, {handle_out, desired, oa, iosb, GuestVa{}, 0, share, kFileOpen, options, GuestVa{}, 0, 0});
}

NtStatus ZwOpenFile(Kernel& k, GuestVa handle_out, uint32_t desired, GuestVa oa, GuestVa iosb, uint32_t share,
                    uint32_t options) {
  return as_kernel_caller(k, [&] { return NtOpenFile(k, handle_out, desired, oa, iosb, share, options); });
}

// IoCreateFile: the caller's PreviousMode applies unless Options has
// IO_NO_PARAMETER_CHECKING; only CreateFileTypeNone is modelled.
NtStatus IoCreateFile(Kernel& k, GuestVa handle_out, uint32_t desired, GuestVa oa, GuestVa iosb,
                      GuestVa allocation_size, uint32_t file_attributes, uint32_t share, uint32_t disposition,
                      uint32_t options, GuestVa ea_buffer, uint32_t ea_length, uint32_t create_file_type,
                      GuestVa internal_parameters, uint32_t io_options) {
  if (create_file_type != 0) {
    k.modules().unimplemented_case("IoCreateFile", "named pipe and mailslot creation (CreateFileType)");
    return STATUS_NOT_IMPLEMENTED;
  }
  (void)internal_parameters;  // only meaningful for pipes and mailslots
  return create_file(k, {handle_out, desired, oa, iosb, allocation_size, file_attributes, share, disposition,
                         options, ea_buffer, ea_length, io_options});
}

// IoCreateFileEx: IoCreateFile with an IO_DRIVER_CREATE_CONTEXT, whose extra
// create parameters, device hint and transaction are not modelled.
NtStatus IoCreateFileEx(Kernel& k, GuestVa handle_out, uint32_t desired, GuestVa oa, GuestVa iosb,
                        GuestVa allocation_size, uint32_t file_attributes, uint32_t share, uint32_t disposition,
                        uint32_t options, GuestVa ea_buffer, uint32_t ea_length, uint32_t create_file_type,
                        GuestVa internal_parameters, uint32_t io_options, GuestVa driver_context) {
  if (driver_context) {
    auto& mem = k.memory();
    // IO_DRIVER_CREATE_CONTEXT { Size, ExtraCreateParameter, DeviceObjectHint, TxnParameters, SiloContext }.
    if (mem.read<uint64_t>(driver_context + 0x08) || mem.read<uint64_t>(driver_context + 0x10) ||
        mem.read<uint64_t>(driver_context + 0x18)) {
      k.modules().unimplemented_case("IoCreateFileEx", "IO_DRIVER_CREATE_CONTEXT with ECPs, a device hint or a transaction");
      return STATUS_NOT_IMPLEMENTED;
    }
  }
  return IoCreateFile(k, handle_out, desired, oa, iosb, allocation_size, file_attributes, share, disposition, options,
                      ea_buffer, ea_length, create_file_type, internal_parameters, io_options);
}

// --- read and write ---------------------------------------------------------------

namespace {
NtStatus read_write(Kernel& k, bool write, const char* routine, uint64_t handle, uint64_t event_handle,
                    GuestVa apc_routine, GuestVa iosb, GuestVa buffer, uint32_t length, GuestVa byte_offset) {
  ProcessorMode mode = k.machine().previous_mode();
  if (NtStatus st = refuse_apc(k, routine, apc_routine); !nt_success(st)) return st;
  if (NtStatus st = probe_iosb(mode, iosb); !nt_success(st)) return st;
  std::optional<int64_t> offset;
  if (byte_offset) {
    int64_t value = 0;
    if (NtStatus st = caller::read(k, mode, byte_offset, &value, 4); !nt_success(st)) return st;
    offset = value;
  }
  CallerEvent event;
  if (NtStatus st = reference_event(k, mode, event_handle, &event); !nt_success(st)) return st;
  io::IoResult r = k.io().read_write(handle, write, buffer, length, offset);
  release_event(k, event, r);
  return finish(k, mode, iosb, r);
}
}  // namespace

NtStatus NtReadFile(Kernel& k, uint64_t handle, uint64_t event, GuestVa apc_routine, GuestVa apc_context,
                    GuestVa iosb, GuestVa buffer, uint32_t length, GuestVa byte_offset, GuestVa key) {
  (void)apc_context;
  (void)key;  // byte-range lock keys: no locks are modelled, the key matches nothing
  return read_write(k, false, "NtReadFile", handle, event, apc_routine, iosb, buffer, length, byte_offset);
}

NtStatus ZwReadFile(Kernel& k, uint64_t handle, uint64_t event, GuestVa apc_routine, GuestVa apc_context,
                    GuestVa iosb, GuestVa buffer, uint32_t length, GuestVa byte_offset, GuestVa key) {
  return as_kernel_caller(
      k, [&] { return NtReadFile(k, handle, event, apc_routine, apc_context, iosb, buffer, length, byte_offset, key); });
}

NtStatus NtWriteFile(Kernel& k, uint64_t handle, uint64_t event, GuestVa apc_routine, GuestVa apc_context,
                     GuestVa iosb, GuestVa buffer, uint32_t length, GuestVa byte_offset, GuestVa key) {
  (void)apc_context;
  (void)key;
  return read_write(k, true, "NtWriteFile", handle, event, apc_routine, iosb, buffer, length, byte_offset);
}

NtStatus ZwWriteFile(Kernel& k, uint64_t handle, uint64_t event, GuestVa apc_routine, GuestVa apc_context,
                     GuestVa iosb, GuestVa buffer, uint32_t length, GuestVa byte_offset, GuestVa key) {
  return as_kernel_caller(
      k, [&] { return NtWriteFile(k, handle, event, apc_routine, apc_context, iosb, buffer, length, byte_offset, key); });
}

// --- information ---------------------------------------------------------------------

NtStatus NtQueryInformationFile(Kernel& k, uint64_t handle, GuestVa iosb, GuestVa buffer, uint32_t length,
                                uint32_t information_class) {
  ProcessorMode mode = k.machine().previous_mode();
  if (NtStatus st = probe_iosb(mode, iosb); !nt_success(st)) return st;
  if (mode == ProcessorMode::UserMode) {
    if (NtStatus st = caller::probe(buffer, length, 4); !nt_success(st)) return st;
  }
  return finish(k, mode, iosb, k.io().query_information({handle, buffer, length, information_class}));
}

NtStatus ZwQueryInformationFile(Kernel& k, uint64_t handle, GuestVa iosb, GuestVa buffer, uint32_t length,
                                uint32_t information_class) {
  return as_kernel_caller(k, [&] { return NtQueryInformationFile(k, handle, iosb, buffer, length, information_class); });
}

NtStatus NtSetInformationFile(Kernel& k, uint64_t handle, GuestVa iosb, GuestVa buffer, uint32_t length,
                              uint32_t information_class) {
  ProcessorMode mode = k.machine().previous_mode();
  if (NtStatus st = probe_iosb(mode, iosb); !nt_success(st)) return st;
  if (mode == ProcessorMode::UserMode) {
    if (NtStatus st = caller::probe(buffer, length, 4); !nt_success(st)) return st;
  }
  return finish(k, mode, iosb, k.io().set_information({handle, buffer, length, information_class}));
}

NtStatus ZwSetInformationFile(Kernel& k, uint64_t handle, GuestVa iosb, GuestVa buffer, uint32_t length,
                              uint32_t information_class) {
  return as_kernel_caller(k, [&] { return NtSetInformationFile(k, handle, iosb, buffer, length, information_class); });
}

NtStatus NtQueryDirectoryFile(Kernel& k, uint64_t handle, uint64_t event_handle, GuestVa apc_routine,
                              GuestVa apc_context, GuestVa iosb, GuestVa buffer, uint32_t length,
                              uint32_t information_class, bool return_single_entry, GuestVa file_name,
                              bool restart_scan) {
  (void)apc_context;
  ProcessorMode mode = k.machine().previous_mode();
  if (NtStatus st = refuse_apc(k, "NtQueryDirectoryFile", apc_routine); !nt_success(st)) return st;
  if (NtStatus st = probe_iosb(mode, iosb); !nt_success(st)) return st;
  if (mode == ProcessorMode::UserMode) {
    if (NtStatus st = caller::probe(buffer, length, 4); !nt_success(st)) return st;
  }
  // The search expression is captured (a UNICODE_STRING in the caller's memory).
  std::optional<std::u16string> name;
  if (file_name) {
    std::u16string text;
    NtStatus st = caller::read_unicode_string(k, mode, file_name, &text);
    // An odd length reaches the file system, which refuses it.
    if (st == STATUS_INVALID_PARAMETER) return STATUS_INVALID_PARAMETER;
    if (!nt_success(st)) return st;
    name = std::move(text);
  }
  CallerEvent event;
  if (NtStatus st = reference_event(k, mode, event_handle, &event); !nt_success(st)) return st;
  io::IoResult r =
      k.io().query_directory({handle, buffer, length, information_class}, return_single_entry, name, restart_scan);
  release_event(k, event, r);
  return finish(k, mode, iosb, r);
}

NtStatus ZwQueryDirectoryFile(Kernel& k, uint64_t handle, uint64_t event_handle, GuestVa apc_routine,
                              GuestVa apc_context, GuestVa iosb, GuestVa buffer, uint32_t length,
                              uint32_t information_class, bool return_single_entry, GuestVa file_name,
                              bool restart_scan) {
  return as_kernel_caller(k, [&] {
    return NtQueryDirectoryFile(k, handle, event_handle, apc_routine, apc_context, iosb, buffer, length,
                                information_class, return_single_entry, file_name, restart_scan);
  });
}

NtStatus NtQueryVolumeInformationFile(Kernel& k, uint64_t handle, GuestVa iosb, GuestVa buffer, uint32_t length,
                                      uint32_t information_class) {
  ProcessorMode mode = k.machine().previous_mode();
  if (NtStatus st = probe_iosb(mode, iosb); !nt_success(st)) return st;
  if (mode == ProcessorMode::UserMode) {
    if (NtStatus st = caller::probe(buffer, length, 4); !nt_success(st)) return st;
  }
  return finish(k, mode, iosb, k.io().query_volume({handle, buffer, length, information_class}));
}

NtStatus ZwQueryVolumeInformationFile(Kernel& k, uint64_t handle, GuestVa iosb, GuestVa buffer, uint32_t length,
                                      uint32_t information_class) {
  return as_kernel_caller(
      k, [&] { return NtQueryVolumeInformationFile(k, handle, iosb, buffer, length, information_class); });
}

// ZwFlushBuffersFile (ntoskrnl exports no NtFlushBuffersFile).
NtStatus ZwFlushBuffersFile(Kernel& k, uint64_t handle, GuestVa iosb) {
  return as_kernel_caller(k, [&] { return finish(k, ProcessorMode::KernelMode, iosb, k.io().flush_buffers(handle)); });
}

// --- by name ---------------------------------------------------------------------------

// NtDeleteFile: the name opened for DELETE with FILE_DELETE_ON_CLOSE (sharing
// everything) and closed at once; the file goes with that close.
NtStatus NtDeleteFile(Kernel& k, GuestVa object_attributes) {
  uint64_t handle = 0;
  NtStatus st = open_by_attributes(k, object_attributes, kDelete, kFileDeleteOnClose | kFileOpenReparsePoint, &handle);
  if (!nt_success(st)) return st;
  k.ob().close_handle(handle, ProcessorMode::KernelMode);
  return STATUS_SUCCESS;
}

NtStatus ZwDeleteFile(Kernel& k, GuestVa object_attributes) {
  return as_kernel_caller(k, [&] { return NtDeleteFile(k, object_attributes); });
}

// ZwQueryFullAttributesFile: FileNetworkOpenInformation of a file named by
// its attributes (opened for FILE_READ_ATTRIBUTES and closed again).
NtStatus ZwQueryFullAttributesFile(Kernel& k, GuestVa object_attributes, GuestVa information) {
  return as_kernel_caller(k, [&]() -> NtStatus {
    uint64_t handle = 0;
    NtStatus st = open_by_attributes(k, object_attributes, kFileReadAttributes, kFileOpenReparsePoint, &handle);
    if (!nt_success(st)) return st;
    auto block = k.machine().pool().allocate(sizeof(layout::FILE_NETWORK_OPEN_INFORMATION), 0, kIoTag, GuestVa{});
    if (!block) {
      k.ob().close_handle(handle, ProcessorMode::KernelMode);
      return STATUS_INSUFFICIENT_RESOURCES;
    }
    io::IoResult r = k.io().query_information(
        {handle, *block, sizeof(layout::FILE_NETWORK_OPEN_INFORMATION), 34 /* FileNetworkOpenInformation */});
    if (nt_success(r.status) && !r.pending) {
      auto net = k.memory().read<layout::FILE_NETWORK_OPEN_INFORMATION>(*block);
      st = caller::write(k, ProcessorMode::KernelMode, information, net, 8);
    } else {
      st = r.pending ? STATUS_PENDING : r.status;
    }
    k.machine().pool().free(*block, std::nullopt);
    k.ob().close_handle(handle, ProcessorMode::KernelMode);
    return st;
  });
}

void register_file_exports(Registry& r) {
  KEMU_EXPORT(r, NtCreateFile);
  KEMU_EXPORT(r, ZwCreateFile);
  KEMU_EXPORT(r, NtOpenFile);
  KEMU_EXPORT(r, ZwOpenFile);
  KEMU_EXPORT(r, IoCreateFile);
  KEMU_EXPORT(r, IoCreateFileEx);
  KEMU_EXPORT(r, NtReadFile);
  KEMU_EXPORT(r, ZwReadFile);
  KEMU_EXPORT(r, NtWriteFile);
  KEMU_EXPORT(r, ZwWriteFile);
  KEMU_EXPORT(r, NtQueryInformationFile);
  KEMU_EXPORT(r, ZwQueryInformationFile);
  KEMU_EXPORT(r, NtSetInformationFile);
  KEMU_EXPORT(r, ZwSetInformationFile);
  KEMU_EXPORT(r, NtQueryDirectoryFile);
  KEMU_EXPORT(r, ZwQueryDirectoryFile);
  KEMU_EXPORT(r, NtQueryVolumeInformationFile);
  KEMU_EXPORT(r, ZwQueryVolumeInformationFile);
  KEMU_EXPORT(r, ZwFlushBuffersFile);
  KEMU_EXPORT(r, NtDeleteFile);
  KEMU_EXPORT(r, ZwDeleteFile);
  KEMU_EXPORT(r, ZwQueryFullAttributesFile);
}

}  // namespace kemu::nt
