// Device stacks: attaching a device on top of another (IoAttachDevice,
// IoAttachDeviceToDeviceStack(Safe)), detaching (IoDetachDevice), walking the
// stack (IoGetAttachedDevice(Reference), IoGetDeviceAttachmentBaseRef,
// IoGetLowerDeviceObject, IoGetRelatedDeviceObject), opening a device by name
// from kernel code (IoGetDeviceObjectPointer) and shutdown registrations.
// The links are the guest's own fields: DEVICE_OBJECT.AttachedDevice upward,
// DEVOBJ_EXTENSION.AttachedTo downward; every open and request goes to the
// top of the stack of the device a file object names.
#include <algorithm>

#include "emulator/ntstatus.h"
#include "ntoskrnl-stubs/api/previous_mode.h"
#include "ntoskrnl-stubs/api/registry.h"
#include "ntoskrnl-stubs/io/io_manager.h"
#include "ntoskrnl-stubs/io/irp.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/nt_structs.h"
#include "ntoskrnl-stubs/ob/object_manager.h"

namespace kemu::nt {

using layout::DEVICE_OBJECT;
using layout::DEVOBJ_EXTENSION;

namespace io {

namespace {
constexpr int kMaxStackDepth = 64;  // deeper than any real stack: a corrupted AttachedDevice chain
constexpr uint32_t kFoDirectDeviceOpen = 0x800;  // FO_DIRECT_DEVICE_OPEN
constexpr uint64_t kVpbDeviceObject = 0x8;       // VPB.DeviceObject (the mounted file system)
constexpr uint32_t kDoeStartPending = 0x10;

GuestVa extension_of(emu::AddressSpace& mem, GuestVa device) {
  return GuestVa{mem.read<uint64_t>(device + offsetof(DEVICE_OBJECT, DeviceObjectExtension))};
}
}  // namespace

GuestVa IoManager::attached_device(GuestVa device) {
  auto& mem = kernel_.memory();
  for (int n = 0; n < kMaxStackDepth; ++n) {
    GuestVa above{mem.read<uint64_t>(device + offsetof(DEVICE_OBJECT, AttachedDevice))};
    if (!above) break;
    device = above;
  }
  return device;
}

GuestVa IoManager::related_device(GuestVa file) {
  auto& mem = kernel_.memory();
  // A file opened on a mounted volume goes to the file system (its VPB's
  // device); otherwise to the device the file object names; then to the
  // top of that device's stack.
  GuestVa device{mem.read<uint64_t>(file + offsetof(layout::FILE_OBJECT, DeviceObject))};
  GuestVa file_vpb{mem.read<uint64_t>(file + offsetof(layout::FILE_OBJECT, Vpb))};
  GuestVa device_vpb{mem.read<uint64_t>(device + offsetof(DEVICE_OBJECT, Vpb))};
  uint32_t flags = mem.read<uint32_t>(file + offsetof(layout::FILE_OBJECT, Flags));
  if (file_vpb && mem.read<uint64_t>(file_vpb + kVpbDeviceObject)) {
    device = GuestVa{mem.read<uint64_t>(file_vpb + kVpbDeviceObject)};
  } else if (!(flags & kFoDirectDeviceOpen) && device_vpb &&
             mem.read<uint64_t>(device_vpb + kVpbDeviceObject)) {
    device = GuestVa{mem.read<uint64_t>(device_vpb + kVpbDeviceObject)};
  }
  return attached_device(device);
}

GuestVa IoManager::attach_device(GuestVa source, GuestVa target) {
  auto& mem = kernel_.memory();
  GuestVa top = attached_device(target);
  // No attaching to a device that is being unloaded, deleted or removed.
  uint32_t top_flags =
      mem.read<uint32_t>(extension_of(mem, top) + offsetof(DEVOBJ_EXTENSION, ExtensionFlags));
  if (top_flags & (layout::kDoeUnloadPending | layout::kDoeDeletePending |
                   layout::kDoeRemovePending | layout::kDoeRemoveProcessed))
    return GuestVa{};
  mem.write<uint64_t>(top + offsetof(DEVICE_OBJECT, AttachedDevice), source.value);
  // The new top inherits the alignment and sector size and needs one more stack location.
  mem.write<uint32_t>(source + offsetof(DEVICE_OBJECT, AlignmentRequirement),
                      mem.read<uint32_t>(top + offsetof(DEVICE_OBJECT, AlignmentRequirement)));
  mem.write<uint16_t>(source + offsetof(DEVICE_OBJECT, SectorSize),
                      mem.read<uint16_t>(top + offsetof(DEVICE_OBJECT, SectorSize)));
  mem.write<int8_t>(
      source + offsetof(DEVICE_OBJECT, StackSize),
      static_cast<int8_t>(mem.read<int8_t>(top + offsetof(DEVICE_OBJECT, StackSize)) + 1));
  GuestVa source_ext = extension_of(mem, source);
  if (top_flags & kDoeStartPending) {
    GuestVa f = source_ext + offsetof(DEVOBJ_EXTENSION, ExtensionFlags);
    mem.write<uint32_t>(f, mem.read<uint32_t>(f) | kDoeStartPending);
  }
  mem.write<uint64_t>(source_ext + offsetof(DEVOBJ_EXTENSION, AttachedTo), top.value);
  return top;
}

void IoManager::detach_device(GuestVa target) {
  auto& mem = kernel_.memory();
  GuestVa above{mem.read<uint64_t>(target + offsetof(DEVICE_OBJECT, AttachedDevice))};
  if (above)
    mem.write<uint64_t>(extension_of(mem, above) + offsetof(DEVOBJ_EXTENSION, AttachedTo), 0);
  mem.write<uint64_t>(target + offsetof(DEVICE_OBJECT, AttachedDevice), 0);
  // A device deleted while something was attached above it goes now.
  uint32_t flags =
      mem.read<uint32_t>(extension_of(mem, target) + offsetof(DEVOBJ_EXTENSION, ExtensionFlags));
  if ((flags &
       (layout::kDoeUnloadPending | layout::kDoeDeletePending | layout::kDoeRemovePending)) &&
      mem.read<int32_t>(target + offsetof(DEVICE_OBJECT, ReferenceCount)) == 0)
    complete_delete(target);
}

void IoManager::complete_delete(GuestVa device) {
  auto& mem = kernel_.memory();
  auto& ob = kernel_.ob();
  ob::ObjectRecord* rec = ob.by_body(device);
  if (!rec || rec->type != ob::TypeIndex::Device) return;
  // In the middle of a stack: the device stays (and stays in its driver's
  // list) until what is attached above it detaches.
  if (mem.read<uint64_t>(device + offsetof(DEVICE_OBJECT, AttachedDevice))) return;
  GuestVa drv{mem.read<uint64_t>(device + offsetof(DEVICE_OBJECT, DriverObject))};
  GuestVa next{mem.read<uint64_t>(device + offsetof(DEVICE_OBJECT, NextDevice))};
  GuestVa link_at = drv + offsetof(layout::DRIVER_OBJECT, DeviceObject);
  for (int guard = 0; guard < 4096; ++guard) {
    GuestVa cur{mem.read<uint64_t>(link_at)};
    if (!cur) break;
    if (cur == device) {
      mem.write<uint64_t>(link_at, next.value);
      break;
    }
    link_at = cur + offsetof(DEVICE_OBJECT, NextDevice);
  }
  ob.dereference(rec->id);
}

}  // namespace io

// IoAttachDeviceToDeviceStackSafe(SourceDevice, TargetDevice, &AttachedToDeviceObject):
// SourceDevice on top of TargetDevice's stack; the device attached to is
// stored before the stack can be used (NULL when it is going away).
NtStatus IoAttachDeviceToDeviceStackSafe(Kernel& k, GuestVa source, GuestVa target,
                                         GuestVa attached_out) {
  GuestVa top = k.io().attach_device(source, target);
  k.memory().write<uint64_t>(attached_out, top.value);
  return top ? STATUS_SUCCESS : STATUS_NO_SUCH_DEVICE;
}

// IoAttachDeviceToDeviceStack: the same, returning the device attached to
// (the top of the stack, which differs from TargetDevice when others are
// layered on it) or NULL.
GuestVa IoAttachDeviceToDeviceStack(Kernel& k, GuestVa source, GuestVa target) {
  return k.io().attach_device(source, target);
}

// IoDetachDevice(TargetDevice): detaches what is attached above TargetDevice.
void IoDetachDevice(Kernel& k, GuestVa target) {
  k.io().detach_device(target);
}

// IoGetAttachedDevice: the top of the stack.
GuestVa IoGetAttachedDevice(Kernel& k, GuestVa device) {
  return k.io().attached_device(device);
}

// IoGetAttachedDeviceReference: the top of the stack, referenced.
GuestVa IoGetAttachedDeviceReference(Kernel& k, GuestVa device) {
  GuestVa top = k.io().attached_device(device);
  if (ob::ObjectRecord* r = k.ob().by_body(top)) k.ob().reference(r->id);
  return top;
}

// IoGetDeviceAttachmentBaseRef: the bottom of the stack (following
// DEVOBJ_EXTENSION.AttachedTo down), referenced.
GuestVa IoGetDeviceAttachmentBaseRef(Kernel& k, GuestVa device) {
  auto& mem = k.memory();
  for (int n = 0; n < 64; ++n) {
    GuestVa ext{mem.read<uint64_t>(device + offsetof(DEVICE_OBJECT, DeviceObjectExtension))};
    GuestVa below{mem.read<uint64_t>(ext + offsetof(DEVOBJ_EXTENSION, AttachedTo))};
    if (!below) break;
    device = below;
  }
  if (ob::ObjectRecord* r = k.ob().by_body(device)) k.ob().reference(r->id);
  return device;
}

// IoGetLowerDeviceObject: the device directly below, referenced; NULL at the
// bottom or when this device is being unloaded or deleted.
GuestVa IoGetLowerDeviceObject(Kernel& k, GuestVa device) {
  auto& mem = k.memory();
  GuestVa ext{mem.read<uint64_t>(device + offsetof(DEVICE_OBJECT, DeviceObjectExtension))};
  if (mem.read<uint32_t>(ext + offsetof(DEVOBJ_EXTENSION, ExtensionFlags)) &
      (layout::kDoeUnloadPending | layout::kDoeDeletePending))
    return GuestVa{};
  GuestVa below{mem.read<uint64_t>(ext + offsetof(DEVOBJ_EXTENSION, AttachedTo))};
  if (below)
    if (ob::ObjectRecord* r = k.ob().by_body(below)) k.ob().reference(r->id);
  return below;
}

// IoGetRelatedDeviceObject: the device requests on the file object go to.
GuestVa IoGetRelatedDeviceObject(Kernel& k, GuestVa file) {
  return k.io().related_device(file);
}

namespace {
constexpr uint32_t kFileShareRead = 0x1, kFileShareWrite = 0x2;
constexpr uint32_t kFileOpen = 0x1;
constexpr uint32_t kFileNonDirectoryFile = 0x40;
constexpr uint32_t kObjKernelHandle = 0x200;
constexpr uint32_t kFileReadAttributes = 0x80;

// ZwOpenFile of a device by name from kernel code (KernelMode, a kernel
// handle), the file object referenced by the handle, then ZwClose (the
// handle's close sends IRP_MJ_CLEANUP). The caller owns the reference.
NtStatus open_device_file(Kernel& k, std::u16string path, uint32_t access, uint32_t share,
                          GuestVa* file) {
  *file = GuestVa{};
  return as_kernel_caller(k, [&]() -> NtStatus {
    io::OpenRequest rq;
    rq.path = std::move(path);
    rq.desired_access = access;
    rq.share_access = share;
    rq.disposition = kFileOpen;
    rq.options = kFileNonDirectoryFile;
    rq.attributes = kObjKernelHandle;
    uint64_t handle = 0;
    io::IoResult r = k.io().open(rq, &handle);
    // An open the driver never completes: ZwOpenFile would not return.
    if (r.pending) return STATUS_PENDING;
    if (!nt_success(r.status)) return r.status;
    ob::ObjectId id = ob::kNoObject;
    NtStatus st = k.ob().reference_by_handle(handle, 0, ob::TypeIndex::File,
                                             ProcessorMode::KernelMode, &id, nullptr);
    if (nt_success(st)) *file = k.ob().get(id)->body;
    k.ob().close_handle(handle, ProcessorMode::KernelMode);
    return st;
  });
}
}  // namespace

// IoGetDeviceObjectPointer(ObjectName, DesiredAccess, &FileObject, &DeviceObject):
// opens the named device from kernel code (IRP_MJ_CREATE, KernelMode, shared
// read/write), keeps a reference to the file object for the caller, closes
// the handle (IRP_MJ_CLEANUP now; IRP_MJ_CLOSE when the caller dereferences
// the file object) and returns the top of the device's stack.
NtStatus IoGetDeviceObjectPointer(Kernel& k, GuestVa name, uint32_t access, GuestVa file_out,
                                  GuestVa device_out) {
  GuestVa file;
  NtStatus st = open_device_file(k, k.read_unicode_string(name), access,
                                 kFileShareRead | kFileShareWrite, &file);
  if (!nt_success(st) || !file) return st;
  k.memory().write<uint64_t>(file_out, file.value);
  k.memory().write<uint64_t>(device_out, k.io().related_device(file).value);
  return STATUS_SUCCESS;
}

// IoAttachDevice(SourceDevice, TargetDevice name, &AttachedDevice): opens the
// named device (FILE_READ_ATTRIBUTES, IRP_MJ_CREATE then IRP_MJ_CLEANUP to the
// current top of its stack), attaches SourceDevice on top, then drops the
// file object (IRP_MJ_CLOSE goes to the new top, SourceDevice).
NtStatus IoAttachDevice(Kernel& k, GuestVa source, GuestVa target_name, GuestVa attached_out) {
  GuestVa file;
  NtStatus st =
      open_device_file(k, k.read_unicode_string(target_name), kFileReadAttributes, 0, &file);
  if (!nt_success(st) || !file) return st;
  GuestVa top = k.io().attach_device(source, k.io().related_device(file));
  k.memory().write<uint64_t>(attached_out, top.value);
  if (ob::ObjectRecord* r = k.ob().by_body(file)) k.ob().dereference(r->id);
  return top ? STATUS_SUCCESS : STATUS_NO_SUCH_DEVICE;
}

// IoRegisterShutdownNotification: the device gets IRP_MJ_SHUTDOWN when the
// system shuts down (DO_SHUTDOWN_REGISTERED). kemu never shuts down, so the
// registration is recorded and dropped again by the unregister routine or
// IoDeleteDevice.
NtStatus IoRegisterShutdownNotification(Kernel& k, GuestVa device) {
  auto& list = k.io().shutdown_devices();
  // Later registrations are notified first (InsertHeadList).
  list.insert(list.begin(), device);
  GuestVa flags = device + offsetof(DEVICE_OBJECT, Flags);
  k.memory().write<uint32_t>(flags, k.memory().read<uint32_t>(flags) | io::kDoShutdownRegistered);
  return STATUS_SUCCESS;
}

// IoUnregisterShutdownNotification: every registration of the device goes.
void IoUnregisterShutdownNotification(Kernel& k, GuestVa device) {
  auto& list = k.io().shutdown_devices();
  list.erase(std::remove(list.begin(), list.end(), device), list.end());
  GuestVa flags = device + offsetof(DEVICE_OBJECT, Flags);
  k.memory().write<uint32_t>(flags, k.memory().read<uint32_t>(flags) & ~io::kDoShutdownRegistered);
}

void register_device_stack_exports(Registry& r) {
  KEMU_EXPORT(r, IoAttachDeviceToDeviceStackSafe);
  KEMU_EXPORT(r, IoAttachDeviceToDeviceStack);
  KEMU_EXPORT(r, IoAttachDevice);
  KEMU_EXPORT(r, IoDetachDevice);
  KEMU_EXPORT(r, IoGetAttachedDevice);
  KEMU_EXPORT(r, IoGetAttachedDeviceReference);
  KEMU_EXPORT(r, IoGetDeviceAttachmentBaseRef);
  KEMU_EXPORT(r, IoGetLowerDeviceObject);
  KEMU_EXPORT(r, IoGetRelatedDeviceObject);
  KEMU_EXPORT(r, IoGetDeviceObjectPointer);
  KEMU_EXPORT(r, IoRegisterShutdownNotification);
  KEMU_EXPORT(r, IoUnregisterShutdownNotification);
}

}  // namespace kemu::nt
