// I/O manager routines of the foundation: devices, symbolic links, the
// default dispatch routine.
#include "emulator/ntstatus.h"
#include "ntoskrnl-stubs/api/registry.h"
#include "ntoskrnl-stubs/io/io_manager.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/nt_structs.h"

namespace kemu::nt {

NtStatus IoCreateDevice(Kernel& k, GuestVa driver_object, uint32_t extension_size, GuestVa device_name,
                        uint32_t device_type, uint32_t characteristics, bool exclusive,
                        GuestVa device_object_out) {
  std::optional<std::u16string> name;
  if (device_name) name = k.read_unicode_string(device_name);
  GuestVa device;
  NtStatus st = k.io().create_device(driver_object, extension_size, name, device_type,
                                     characteristics, exclusive, &device);
  k.memory().write<uint64_t>(device_object_out, device.value);
  return st;
}

void IoDeleteDevice(Kernel& k, GuestVa device_object) { k.io().delete_device(device_object); }

NtStatus IoCreateSymbolicLink(Kernel& k, GuestVa link_name, GuestVa device_name) {
  return k.io().create_symbolic_link(k.read_unicode_string(link_name), k.read_unicode_string(device_name));
}

// The same link; the "unprotected" variant only differs in its security descriptor.
NtStatus IoCreateUnprotectedSymbolicLink(Kernel& k, GuestVa link_name, GuestVa device_name) {
  return IoCreateSymbolicLink(k, link_name, device_name);
}

NtStatus IoDeleteSymbolicLink(Kernel& k, GuestVa link_name) {
  return k.io().delete_symbolic_link(k.read_unicode_string(link_name));
}

void IofCompleteRequest(Kernel& k, GuestVa irp, int8_t boost);

// IopInvalidDeviceRequest: the routine every MajorFunction slot starts with.
// It completes the request with STATUS_INVALID_DEVICE_REQUEST.
NtStatus IopInvalidDeviceRequest(Kernel& k, GuestVa device_object, GuestVa irp) {
  k.memory().write<uint64_t>(irp + offsetof(layout::IRP, IoStatus), STATUS_INVALID_DEVICE_REQUEST);
  k.memory().write<uint64_t>(irp + offsetof(layout::IRP, IoStatus) + 8, 0);
  IofCompleteRequest(k, irp, 0);
  return STATUS_INVALID_DEVICE_REQUEST;
}

void register_io_exports(Registry& r) {
  KEMU_EXPORT(r, IoCreateDevice);
  KEMU_EXPORT(r, IoDeleteDevice);
  KEMU_EXPORT(r, IoCreateSymbolicLink);
  KEMU_EXPORT(r, IoCreateUnprotectedSymbolicLink);
  KEMU_EXPORT(r, IoDeleteSymbolicLink);
}

}  // namespace kemu::nt
