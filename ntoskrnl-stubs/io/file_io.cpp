// File objects and the requests a client makes on them: NtCreateFile's path
// to IRP_MJ_CREATE, IRP_MJ_CLEANUP when the last handle closes and
// IRP_MJ_CLOSE when the last reference goes (semantics.md §5).
#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "ntoskrnl-stubs/api/kernel_events.h"
#include "ntoskrnl-stubs/api/kernel_modules.h"
#include "ntoskrnl-stubs/io/device_security.h"
#include "ntoskrnl-stubs/io/io_manager.h"
#include "ntoskrnl-stubs/io/irp.h"
#include "ntoskrnl-stubs/ke/scheduler.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/nt_structs.h"
#include "ntoskrnl-stubs/layout/se_structs.h"
#include "ntoskrnl-stubs/mm/mm.h"
#include "ntoskrnl-stubs/ps/process_manager.h"

namespace kemu::nt::io {

using layout::FILE_OBJECT;
using layout::IO_STACK_LOCATION;
using layout::IRP;

namespace {

// The bytes of a client request its caller controls, read when the request
// starts (the verifier's notion of "request data"): a device control's input
// (the system buffer's copy, or METHOD_NEITHER's user Type3InputBuffer), a
// write's data, an open's file name.
std::vector<uint8_t> caller_bytes(Kernel& k, GuestVa irp, GuestVa stack, uint8_t major) {
  auto& mem = k.memory();
  std::vector<uint8_t> bytes;
  auto take = [&](GuestVa va, uint64_t length) {
    length = std::min<uint64_t>(length, 1 << 20);
    if (!va || !length) return;
    bytes.resize(length);
    if (!mem.accessible(va, length, Prot::Read) || !mem.read(va, bytes.data(), length)) bytes.clear();
  };
  if (major == irp_mj::kDeviceControl || major == irp_mj::kInternalDeviceControl) {
    uint32_t code = mem.read<uint32_t>(stack + offsetof(IO_STACK_LOCATION, IoControlCode));
    uint32_t length = mem.read<uint32_t>(stack + offsetof(IO_STACK_LOCATION, InputBufferLength));
    if ((code & 3) == 3) take(GuestVa{mem.read<uint64_t>(stack + offsetof(IO_STACK_LOCATION, Type3InputBuffer))}, length);
    else take(GuestVa{mem.read<uint64_t>(irp + offsetof(IRP, AssociatedIrp))}, length);
  } else if (major == irp_mj::kWrite) {
    uint32_t length = mem.read<uint32_t>(stack + offsetof(IO_STACK_LOCATION, OutputBufferLength));
    GuestVa system{mem.read<uint64_t>(irp + offsetof(IRP, AssociatedIrp))};
    take(system ? system : GuestVa{mem.read<uint64_t>(irp + offsetof(IRP, UserBuffer))}, length);
  } else if (major == irp_mj::kCreate) {
    GuestVa file{mem.read<uint64_t>(stack + offsetof(IO_STACK_LOCATION, FileObject))};
    if (file) {
      std::u16string name = k.read_unicode_string(file + offsetof(FILE_OBJECT, FileName));
      bytes.resize(name.size() * 2);
      std::memcpy(bytes.data(), name.data(), bytes.size());
    }
  }
  return bytes;
}
constexpr uint32_t kIoTag = 0x20206F49;          // 'Io  '
constexpr uint32_t kFoSynchronousIo = 0x2;       // FO_SYNCHRONOUS_IO
constexpr uint32_t kFoHandleCreated = 0x40000;   // FO_HANDLE_CREATED
constexpr uint32_t kFoCleanupComplete = 0x4000;  // FO_CLEANUP_COMPLETE
constexpr uint32_t kFileSynchronousIoAlert = 0x10;
constexpr uint32_t kFileSynchronousIoNonalert = 0x20;
constexpr uint32_t kIrpSynchronousApi = 0x4;
constexpr uint32_t kIrpCreateOperation = 0x80;
constexpr uint32_t kIrpCloseOperation = 0x400;
constexpr uint32_t kIrpBufferedIo = 0x10;
constexpr uint32_t kIrpDeallocateBuffer = 0x20;
constexpr uint32_t kIrpInputOperation = 0x40;
// What the bytes of a system buffer the caller's input did not fill hold: a
// recognisable pattern (pool is not zeroed on Windows).
constexpr uint8_t kUninitializedFill = 0xCD;
// FILE_READ_DATA | FILE_WRITE_DATA | DELETE as they set ReadAccess/WriteAccess/DeleteAccess.
constexpr uint32_t kFileReadData = 0x1, kFileWriteData = 0x2, kFileAppendData = 0x4, kFileExecute = 0x20,
                   kDelete = 0x10000;
}  // namespace

// A system buffer of `size` bytes in nonpaged pool holding the caller's
// `input_length` bytes; the rest is not initialised (a recognisable
// pattern). STATUS_ACCESS_VIOLATION when the caller's bytes cannot be read.
NtStatus IoManager::make_system_buffer(uint32_t size, GuestVa input, uint32_t input_length, GuestVa* out) {
  auto& m = kernel_.machine();
  auto block = m.pool().allocate(size, 0, kIoTag, GuestVa{});
  if (!block) return STATUS_INSUFFICIENT_RESOURCES;
  std::vector<uint8_t> bytes(size, kUninitializedFill);
  if (input_length && !kernel_.memory().read(input, bytes.data(), input_length)) {
    m.pool().free(*block, std::nullopt);
    return STATUS_ACCESS_VIOLATION;
  }
  kernel_.memory().write(*block, bytes.data(), bytes.size());
  *out = *block;
  return STATUS_SUCCESS;
}

// An MDL for a caller's buffer, probed and locked as the I/O manager does
// for direct I/O (a bad range fails the request with the probe's status).
NtStatus IoManager::lock_user_buffer(GuestVa buffer, uint32_t length, uint32_t operation, ProcessorMode mode,
                                     GuestVa* mdl) {
  *mdl = IoAllocateMdl(kernel_, buffer, length, false, false, GuestVa{});
  if (!*mdl) return STATUS_INSUFFICIENT_RESOURCES;
  NtStatus st = mm::probe_and_lock(kernel_, *mdl, mode, operation);
  if (!nt_success(st)) {
    IoFreeMdl(kernel_, *mdl);
    *mdl = GuestVa{};
  }
  return st;
}

void IoManager::initialize() {
  // IopCancelSpinLock: the cancel spin lock is one spin-lock word of the I/O manager.
  auto lock = kernel_.machine().pool().allocate(sizeof(uint64_t), 0, kIoTag, GuestVa{});
  if (!lock) throw emu::GuestMemoryExhausted("pool exhausted creating the cancel spin lock");
  cancel_lock_ = *lock;
  kernel_.memory().write<uint64_t>(cancel_lock_, 0);
  kernel_.ob().set_close_procedure(ob::TypeIndex::File, [this](ob::ObjectId id) { cleanup_file(id); });
  kernel_.ob().set_delete_procedure(ob::TypeIndex::File, [this](ob::ObjectId id) { close_file(id); });
  install_device_security_procedure(kernel_);
}

IoResult IoManager::send_file_request(GuestVa file, uint8_t major, ProcessorMode requestor,
                                      const std::function<void(GuestVa, GuestVa)>& fill,
                                      ob::ObjectId file_reference) {
  auto& mem = kernel_.memory();
  emu::Machine& m = kernel_.machine();
  // Requests go to the top of the file's device stack (IoGetRelatedDeviceObject).
  GuestVa device = related_device(file);
  int8_t stack_size = mem.read<int8_t>(device + offsetof(layout::DEVICE_OBJECT, StackSize));
  GuestVa irp = IoAllocateIrp(kernel_, stack_size, false);
  // The caller's IO_STATUS_BLOCK and event, in kernel pool (kemu is the caller).
  auto scratch = m.pool().allocate(sizeof(layout::IO_STATUS_BLOCK) + sizeof(layout::KEVENT), 0, kIoTag, GuestVa{});
  if (!irp || !scratch) {
    if (irp) IoFreeIrp(kernel_, irp);
    if (scratch) m.pool().free(*scratch, std::nullopt);
    if (file_reference != ob::kNoObject && kernel_.ob().get(file_reference)) kernel_.ob().dereference(file_reference);
    return {STATUS_INSUFFICIENT_RESOURCES, 0, false};
  }
  GuestVa iosb = *scratch;
  GuestVa event = *scratch + sizeof(layout::IO_STATUS_BLOCK);
  mem.write(iosb, layout::IO_STATUS_BLOCK{STATUS_PENDING, 0});
  mem.write(event, layout::make_event(event.value, layout::kNotificationEvent, false));

  IRP h = mem.read<IRP>(irp);
  h.RequestorMode = static_cast<int8_t>(requestor);
  h.UserIosb = iosb.value;
  h.UserEvent = event.value;
  h.Thread = m.current_thread().ethread.value;
  h.OriginalFileObject = file.value;
  h.Flags = kIrpSynchronousApi;
  mem.write(irp, h);
  GuestVa stack{h.CurrentStackLocation - sizeof(IO_STACK_LOCATION)};
  IO_STACK_LOCATION sl{};
  sl.MajorFunction = major;
  sl.FileObject = file.value;
  mem.write(stack, sl);
  fill(irp, stack);
  // A threaded request: on the issuing thread's IrpList until it completes.
  track_irp(irp, ThreadedIrp{true, file_reference});
  uint64_t request = next_request_++;
  client_requests_[request] = ClientRequest{*scratch};

  // A client's request (not one a driver's own ZwXxx call made) is an event
  // for the verifier.
  bool client_request = kernel_.observed() && kernel_.modules().current_call() == nullptr;
  if (client_request) {
    RequestStart start;
    start.id = request;
    start.irp = irp;
    start.major = major;
    if (major == irp_mj::kDeviceControl || major == irp_mj::kInternalDeviceControl)
      start.ioctl = mem.read<uint32_t>(stack + offsetof(IO_STACK_LOCATION, IoControlCode));
    start.requestor = requestor;
    start.pid = m.current_thread().space_process_id;
    start.caller_bytes = caller_bytes(kernel_, irp, stack, major);
    kernel_.publish([&](KernelListener& l) { l.request_started(start); });
  }
  // The driver's accesses to the client's memory are watched only while it
  // handles the request.
  if (client_request) kernel_.watch_client_memory(true);
  NtStatus status = IofCallDriver(kernel_, device, irp);
  if (client_request) {
    kernel_.watch_client_memory(false);
    kernel_.publish([&](KernelListener& l) { l.request_returned(request, status); });
  }
  if (m.stopped()) return {status, 0, false};
  // A synchronous caller waits until the request completes.
  if (status == STATUS_PENDING && kernel_.scheduler().wait_for_completion(event) == STATUS_PENDING)
    return {STATUS_PENDING, 0, true, request};
  if (mem.read<layout::DISPATCHER_HEADER>(event).SignalState == 0) {
    // Returned without completing: the wait would hang on Windows; the
    // outcome is known if the driver completes it later.
    return {status, 0, true, request};
  }
  auto io = mem.read<layout::IO_STATUS_BLOCK>(iosb);
  client_requests_.erase(request);
  m.pool().free(*scratch, std::nullopt);
  // For a request that was not pended, the routine's return value is the status.
  return {status == STATUS_PENDING ? static_cast<NtStatus>(io.Status) : status, io.Information, false};
}

// --- kemu-fs: what NtCreateFile adds to an open (the sandbox file system's branch) ---

// FILE_OBJECT.Flags from the create options (IopParseDevice).
uint32_t file_object_flags(uint32_t options) {
  constexpr uint32_t kFileWriteThrough = 0x2, kFileSequentialOnly = 0x4, kFileNoIntermediateBuffering = 0x8,
                     kFileRandomAccess = 0x800, kFileDeleteOnClose = 0x1000;
  constexpr uint32_t kFoAlertableIo = 0x4, kFoNoIntermediateBuffering = 0x8, kFoWriteThrough = 0x10,
                     kFoSequentialOnly = 0x20, kFoDeleteOnClose = 0x10000, kFoRandomAccess = 0x100000;
  uint32_t flags = 0;
  if (options & (kFileSynchronousIoAlert | kFileSynchronousIoNonalert)) flags |= kFoSynchronousIo;
  if (options & kFileSynchronousIoAlert) flags |= kFoAlertableIo;
  if (options & kFileWriteThrough) flags |= kFoWriteThrough;
  if (options & kFileSequentialOnly) flags |= kFoSequentialOnly;
  if (options & kFileNoIntermediateBuffering) flags |= kFoNoIntermediateBuffering;
  if (options & kFileRandomAccess) flags |= kFoRandomAccess;
  if (options & kFileDeleteOnClose) flags |= kFoDeleteOnClose;
  return flags;
}

// The device a relative open goes to: the related file object's, the name unparsed.
std::optional<ob::LookupResult> IoManager::related_file_lookup(GuestVa related_file, std::u16string_view name) {
  GuestVa device{kernel_.memory().read<uint64_t>(related_file + offsetof(FILE_OBJECT, DeviceObject))};
  ob::ObjectRecord* r = kernel_.ob().by_body(device);
  if (!r) return std::nullopt;
  return ob::LookupResult{r->id, std::u16string(name)};
}

// IRP_MJ_CREATE's parameters beyond the foundation's: the EA buffer and its
// length, the allocation size, and the stack location's SL_* flags.
void IoManager::fill_create_extras(const OpenRequest& request, GuestVa irp, GuestVa stack) {
  auto& mem = kernel_.memory();
  mem.write<uint64_t>(irp + offsetof(IRP, AssociatedIrp), request.ea_buffer.value);
  mem.write<int64_t>(irp + offsetof(IRP, Overlay), request.allocation_size);
  mem.write<uint32_t>(stack + 0x20, request.ea_length);  // Parameters.Create.EaLength
  mem.write<uint8_t>(stack + offsetof(IO_STACK_LOCATION, Flags), request.stack_flags);
}

IoResult IoManager::open(const OpenRequest& request, uint64_t* handle) {
  *handle = 0;
  auto& ob = kernel_.ob();
  auto& mem = kernel_.memory();
  NtStatus status = STATUS_SUCCESS;
  // A RootDirectory that is a file (IopParseFile): the name, as given, is
  // parsed by that file's device.
  auto found = request.related_file ? related_file_lookup(request.related_file, request.path)
                                    : ob.lookup(request.path, true, &status);
  if (!found) return {status, 0, false};
  ob::ObjectRecord* target = ob.get(found->object);
  if (target->type != ob::TypeIndex::Device) {
    // Files, directories and other objects are opened by the object-manager milestone.
    return {STATUS_OBJECT_TYPE_MISMATCH, 0, false};
  }
  GuestVa device = target->body;
  // FILE_OBJECT.DeviceObject is the named device; IRP_MJ_CREATE and every
  // later request go to the top of its stack (send_file_request).
  // IopParseDevice's access check comes first: a refused open creates no
  // file object and sends no IRP (io/device_security.h).
  ProcessorMode requestor = kernel_.machine().previous_mode();
  OpenAccess access = check_device_open(kernel_, found->object, !found->remaining.empty(), request.desired_access,
                                        requestor, request.attributes);
  if (!nt_success(access.status)) return {access.status, 0, false};

  ob::ObjectId file_id = ob.create(ob::TypeIndex::File, sizeof(FILE_OBJECT));
  GuestVa file = ob.get(file_id)->body;
  // The handle's access: what the check granted (generic rights mapped).
  uint32_t granted = access.granted;
  FILE_OBJECT fo{};
  fo.Type = layout::kIoTypeFile;
  fo.Size = sizeof(FILE_OBJECT);
  fo.DeviceObject = device.value;
  fo.ReadAccess = (granted & (kFileReadData | kFileExecute)) != 0;
  fo.WriteAccess = (granted & (kFileWriteData | kFileAppendData)) != 0;
  fo.DeleteAccess = (granted & kDelete) != 0;
  fo.SharedRead = (request.share_access & 1) != 0;
  fo.SharedWrite = (request.share_access & 2) != 0;
  fo.SharedDelete = (request.share_access & 4) != 0;
  fo.Flags |= file_object_flags(request.options);
  fo.RelatedFileObject = request.related_file.value;
  // FileName: the part of the path after the device name (semantics.md §5).
  if (!found->remaining.empty()) {
    GuestVa name = kernel_.new_unicode_string(found->remaining, 1, kIoTag);
    fo.FileName = mem.read<layout::UNICODE_STRING>(name);
  }
  fo.Lock = layout::make_event((file + offsetof(FILE_OBJECT, Lock)).value, layout::kSynchronizationEvent, false);
  fo.Event = layout::make_event((file + offsetof(FILE_OBJECT, Event)).value, layout::kNotificationEvent, false);
  fo.IrpList = {(file + offsetof(FILE_OBJECT, IrpList)).value, (file + offsetof(FILE_OBJECT, IrpList)).value};
  mem.write(file, fo);
  opened_files_[file.value] = false;

  // IO_SECURITY_CONTEXT and its ACCESS_STATE: after the check the granted
  // rights are PreviouslyGrantedAccess and nothing remains to be decided;
  // the subject is the requesting process's primary token.
  auto security = kernel_.machine().pool().allocate(sizeof(layout::IO_SECURITY_CONTEXT) + sizeof(layout::ACCESS_STATE),
                                                    0, kIoTag, GuestVa{});
  if (!security) return {STATUS_INSUFFICIENT_RESOURCES, 0, false};
  GuestVa access_state = *security + sizeof(layout::IO_SECURITY_CONTEXT);
  layout::IO_SECURITY_CONTEXT context{};
  context.AccessState = access_state.value;
  context.DesiredAccess = request.desired_access;
  context.FullCreateOptions = request.options;
  mem.write(*security, context);
  layout::ACCESS_STATE state{};
  state.SecurityEvaluated = access.checked ? 1 : 0;
  state.RemainingDesiredAccess = 0;
  state.PreviouslyGrantedAccess = granted;
  state.OriginalDesiredAccess = request.desired_access;
  uint32_t requesting_pid = ob.current_pid();
  state.SubjectSecurityContext.PrimaryToken = kernel_.ps().primary_token(requesting_pid).value;
  state.SubjectSecurityContext.ProcessAuditId = requesting_pid;
  state.SecurityDescriptor = target->security_copy.value;
  mem.write(access_state, state);

  IoResult r = send_file_request(file, irp_mj::kCreate, requestor,
                                 [&](GuestVa irp, GuestVa stack) {
                                   mem.write<uint32_t>(irp + offsetof(IRP, Flags),
                                                       kIrpCreateOperation | kIrpSynchronousApi);
                                   // Parameters.Create: SecurityContext, Options, FileAttributes, ShareAccess.
                                   mem.write<uint64_t>(stack + 0x08, security->value);
                                   mem.write<uint32_t>(stack + 0x10, (request.disposition << 24) |
                                                                         (request.options & 0xFFFFFF));
                                   mem.write<uint16_t>(stack + 0x18, static_cast<uint16_t>(request.file_attributes));
                                   mem.write<uint16_t>(stack + 0x1A, static_cast<uint16_t>(request.share_access));
                                   fill_create_extras(request, irp, stack);
                                 });
  kernel_.machine().pool().free(*security, std::nullopt);
  if (kernel_.machine().stopped() || r.pending || !nt_success(r.status)) {
    // A failed open: the file object goes without CLEANUP or CLOSE.
    opened_files_.erase(file.value);
    if (ob.get(file_id)) ob.dereference(file_id);
    return r;
  }
  opened_files_[file.value] = true;
  *handle = ob.create_handle(file_id, granted, request.attributes);
  mem.write<uint32_t>(file + offsetof(FILE_OBJECT, Flags),
                      mem.read<uint32_t>(file + offsetof(FILE_OBJECT, Flags)) | kFoHandleCreated);
  ob.dereference(file_id);  // the handle now holds the object
  return r;
}

IoResult IoManager::device_control(uint64_t handle, uint32_t code, GuestVa input, uint32_t input_length,
                                   GuestVa output, uint32_t output_length, bool internal) {
  auto& ob = kernel_.ob();
  ProcessorMode mode = kernel_.machine().previous_mode();
  ob::ObjectId file_id = ob::kNoObject;
  ob::HandleInfo info;
  NtStatus status = ob.reference_by_handle(handle, 0, ob::TypeIndex::File, mode, &file_id, &info);
  if (!nt_success(status)) return {status, 0, false};
  return device_control_file(file_id, info.granted_access, code, input, input_length, output, output_length,
                             internal);
}

IoResult IoManager::device_control_file(ob::ObjectId file_id, uint32_t granted_access, uint32_t code, GuestVa input,
                                        uint32_t input_length, GuestVa output, uint32_t output_length,
                                        bool internal) {
  auto& ob = kernel_.ob();
  auto& mem = kernel_.memory();
  emu::Machine& m = kernel_.machine();
  ProcessorMode mode = m.previous_mode();
  GuestVa file = ob.get(file_id)->body;
  auto done = [&](IoResult r) {
    if (ob.get(file_id)) ob.dereference(file_id);
    return r;
  };
  // The access bits of the control code, checked before any IRP exists: the
  // handle needs at least one of the rights they name (FILE_READ_DATA 1,
  // FILE_WRITE_DATA 2), for UserMode callers.
  uint32_t required = (code >> 14) & 3;
  if (mode == ProcessorMode::UserMode && required != 0 && (granted_access & required) == 0)
    return done({STATUS_ACCESS_DENIED, 0, false});

  uint32_t method = code & 3;
  // The system service probes the caller's buffers (METHOD_NEITHER: not at all).
  auto in_user_range = [](GuestVa va, uint32_t length) {
    return length == 0 || (va.value + length >= va.value && va.value + length <= kemu::layout::kUserProbeAddress);
  };
  if (mode == ProcessorMode::UserMode && method != 3 &&
      (!in_user_range(input, input_length) || !in_user_range(output, output_length)))
    return done({STATUS_ACCESS_VIOLATION, 0, false});

  GuestVa system_buffer;
  if (method == 0 || (method != 3 && input_length)) {
    // METHOD_BUFFERED: one nonpaged buffer of max(in, out); direct I/O: the input only.
    uint32_t size = method == 0 ? std::max(input_length, output_length) : input_length;
    if (size) {
      NtStatus st = make_system_buffer(size, input, input_length, &system_buffer);
      if (!nt_success(st)) return done({st, 0, false});
    }
  }
  GuestVa mdl;
  if ((method == 1 || method == 2) && output_length) {
    // Direct I/O: the output buffer is described by an MDL, probed and locked
    // for read (IN_DIRECT) or write (OUT_DIRECT); no MDL for a zero length.
    NtStatus st = lock_user_buffer(output, output_length, method == 1 ? mm::kIoReadAccess : mm::kIoWriteAccess,
                                   mode, &mdl);
    if (!nt_success(st)) {
      if (system_buffer) m.pool().free(system_buffer, std::nullopt);
      return done({st, 0, false});
    }
  }

  // The IRP holds the reference to the file object until it completes.
  return send_file_request(
      file, internal ? irp_mj::kInternalDeviceControl : irp_mj::kDeviceControl, mode,
      [&](GuestVa irp, GuestVa stack) {
        uint32_t flags = kIrpSynchronousApi;
        if (method == 0) flags |= kIrpBufferedIo | kIrpDeallocateBuffer | (output_length ? kIrpInputOperation : 0);
        // Direct I/O: the input's system buffer is freed at completion too.
        if (system_buffer && method != 0) flags |= kIrpBufferedIo | kIrpDeallocateBuffer;
        mem.write<uint32_t>(irp + offsetof(IRP, Flags), flags);
        mem.write<uint64_t>(irp + offsetof(IRP, AssociatedIrp), system_buffer.value);
        mem.write<uint64_t>(irp + offsetof(IRP, MdlAddress), mdl.value);
        if (method == 0 || method == 3) mem.write<uint64_t>(irp + offsetof(IRP, UserBuffer), output.value);
        mem.write<uint32_t>(stack + offsetof(IO_STACK_LOCATION, OutputBufferLength), output_length);
        mem.write<uint32_t>(stack + offsetof(IO_STACK_LOCATION, InputBufferLength), input_length);
        mem.write<uint32_t>(stack + offsetof(IO_STACK_LOCATION, IoControlCode), code);
        if (method == 3) mem.write<uint64_t>(stack + offsetof(IO_STACK_LOCATION, Type3InputBuffer), input.value);
      },
      file_id);
}

IoResult IoManager::read_write(uint64_t handle, bool write, GuestVa buffer, uint32_t length,
                               std::optional<int64_t> offset) {
  auto& ob = kernel_.ob();
  auto& mem = kernel_.memory();
  emu::Machine& m = kernel_.machine();
  ProcessorMode mode = m.previous_mode();
  ob::ObjectId file_id = ob::kNoObject;
  ob::HandleInfo info;
  // NtReadFile needs FILE_READ_DATA, NtWriteFile FILE_WRITE_DATA or FILE_APPEND_DATA on the handle.
  uint32_t needed = write ? 0 : kFileReadData;
  NtStatus status = ob.reference_by_handle(handle, needed, ob::TypeIndex::File, mode, &file_id, &info);
  if (!nt_success(status)) return {status, 0, false};
  GuestVa file = ob.get(file_id)->body;
  auto done = [&](IoResult r) {
    if (ob.get(file_id)) ob.dereference(file_id);
    return r;
  };
  if (write && mode == ProcessorMode::UserMode && !(info.granted_access & (kFileWriteData | kFileAppendData)))
    return done({STATUS_ACCESS_DENIED, 0, false});
  // A handle that may only append writes at the end of file (FILE_WRITE_TO_END_OF_FILE).
  if (write && (info.granted_access & (kFileWriteData | kFileAppendData)) == kFileAppendData) offset = -1;
  // Without a ByteOffset only a synchronous file has a position to use.
  if (!offset && !(mem.read<uint32_t>(file + offsetof(FILE_OBJECT, Flags)) & kFoSynchronousIo))
    return done({STATUS_INVALID_PARAMETER, 0, false});
  if (mode == ProcessorMode::UserMode && length &&
      (buffer.value + length < buffer.value || buffer.value + length > kemu::layout::kUserProbeAddress))
    return done({STATUS_ACCESS_VIOLATION, 0, false});
  bool synchronous = (mem.read<uint32_t>(file + offsetof(FILE_OBJECT, Flags)) & kFoSynchronousIo) != 0;
  int64_t position = offset.value_or(mem.read<int64_t>(file + offsetof(FILE_OBJECT, CurrentByteOffset)));
  // FILE_USE_FILE_POINTER_POSITION (-2 in the high part): the current position.
  if (offset && *offset == -2 && synchronous) position = mem.read<int64_t>(file + offsetof(FILE_OBJECT, CurrentByteOffset));
  // The flags of the device the request goes to (the top of the stack) choose the transfer.
  GuestVa device = related_device(file);
  uint32_t device_flags = mem.read<uint32_t>(device + offsetof(layout::DEVICE_OBJECT, Flags));
  bool buffered = (device_flags & kDoBufferedIo) != 0;
  GuestVa mdl;
  if (!buffered && (device_flags & kDoDirectIo) && length) {
    // A read fills the caller's pages (IoWriteAccess); a write reads them.
    NtStatus st = lock_user_buffer(buffer, length, write ? mm::kIoReadAccess : mm::kIoWriteAccess, mode, &mdl);
    if (!nt_success(st)) return done({st, 0, false});
  }
  GuestVa system_buffer;
  if (buffered && length) {
    NtStatus st = make_system_buffer(length, buffer, write ? length : 0, &system_buffer);
    if (!nt_success(st)) {
      if (mdl) {
        MmUnlockPages(kernel_, mdl);
        IoFreeMdl(kernel_, mdl);
      }
      return done({st, 0, false});
    }
  }
  // The IRP holds this reference until it completes; the position update below needs the object alive.
  ob.reference(file_id);
  IoResult r = send_file_request(
      file, write ? irp_mj::kWrite : irp_mj::kRead, mode,
      [&](GuestVa irp, GuestVa stack) {
        uint32_t flags = kIrpSynchronousApi;
        if (buffered) flags |= kIrpBufferedIo | kIrpDeallocateBuffer | (write ? 0 : kIrpInputOperation);
        mem.write<uint32_t>(irp + offsetof(IRP, Flags), flags);
        mem.write<uint64_t>(irp + offsetof(IRP, AssociatedIrp), system_buffer.value);
        mem.write<uint64_t>(irp + offsetof(IRP, UserBuffer), buffer.value);
        mem.write<uint64_t>(irp + offsetof(IRP, MdlAddress), mdl.value);
        // Parameters.Read/Write: Length, Key, ByteOffset.
        mem.write<uint32_t>(stack + 0x08, length);
        mem.write<uint32_t>(stack + 0x10, 0);
        mem.write<int64_t>(stack + 0x18, position);
      },
      file_id);
  // A synchronous handle's position moves by what was transferred.
  if (synchronous && !r.pending && nt_success(r.status) && position >= 0)
    mem.write<int64_t>(file + offsetof(FILE_OBJECT, CurrentByteOffset), position + static_cast<int64_t>(r.information));
  return done(r);
}

void IoManager::cleanup_file(ob::ObjectId id) {
  ob::ObjectRecord* r = kernel_.ob().get(id);
  if (!r || !opened_files_[r->body.value] || kernel_.machine().stopped()) return;
  GuestVa file = r->body;
  // IRP_MJ_CLEANUP when the last handle closes (IopCloseFile: KernelMode requestor).
  send_file_request(file, irp_mj::kCleanup, ProcessorMode::KernelMode, [&](GuestVa irp, GuestVa) {
    kernel_.memory().write<uint32_t>(irp + offsetof(IRP, Flags), kIrpCloseOperation | kIrpSynchronousApi);
  });
  auto& mem = kernel_.memory();
  mem.write<uint32_t>(file + offsetof(FILE_OBJECT, Flags),
                      mem.read<uint32_t>(file + offsetof(FILE_OBJECT, Flags)) | kFoCleanupComplete);
}

void IoManager::close_file(ob::ObjectId id) {
  ob::ObjectRecord* r = kernel_.ob().get(id);
  if (!r) return;
  GuestVa file = r->body;
  bool opened = opened_files_[file.value];
  opened_files_.erase(file.value);
  if (!opened || kernel_.machine().stopped()) return;
  // IRP_MJ_CLOSE when the last reference goes (IopDeleteFile).
  send_file_request(file, irp_mj::kClose, ProcessorMode::KernelMode, [&](GuestVa irp, GuestVa) {
    kernel_.memory().write<uint32_t>(irp + offsetof(IRP, Flags), kIrpCloseOperation | kIrpSynchronousApi);
  });
}

}  // namespace kemu::nt::io
