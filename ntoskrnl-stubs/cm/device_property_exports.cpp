// IoGetDeviceProperty and IoOpenDeviceRegistryKey. Both describe the device
// node of a PnP physical device object; kemu has no PnP manager, so every
// device object (IoCreateDevice's) has DEVOBJ_EXTENSION.DeviceNode NULL and
// gets the statuses Windows 10 returns for a non-PDO.
#include "emulator/ntstatus.h"
#include "ntoskrnl-stubs/api/registry.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/nt_structs.h"

namespace kemu::nt {

namespace {
// The device node behind a device object (0 for a non-PnP device).
uint64_t device_node_of(Kernel& k, GuestVa device) {
  auto& mem = k.memory();
  GuestVa extension{mem.read<uint64_t>(device + offsetof(layout::DEVICE_OBJECT, DeviceObjectExtension))};
  if (!extension) return 0;
  return mem.read<uint64_t>(extension + offsetof(layout::DEVOBJ_EXTENSION, DeviceNode));
}
}  // namespace

// IoGetDeviceProperty(DeviceObject, DeviceProperty, BufferLength, PropertyBuffer, ResultLength):
// *ResultLength is cleared first; a NULL device or one without a device
// node is STATUS_INVALID_DEVICE_REQUEST whatever the property (Driver
// Verifier would flag the non-PDO, not modelled here).
NtStatus IoGetDeviceProperty(Kernel& k, GuestVa device, uint32_t property, uint32_t buffer_length, GuestVa buffer,
                             GuestVa result_length) {
  (void)property;
  (void)buffer_length;
  (void)buffer;
  k.memory().write<uint32_t>(result_length, 0);
  if (!device || device_node_of(k, device) == 0) return STATUS_INVALID_DEVICE_REQUEST;
  // Unreachable while kemu creates no device nodes: PnP properties would be
  // read from the device's Enum key here.
  return STATUS_NOT_IMPLEMENTED;
}

// IoOpenDeviceRegistryKey(DeviceObject, DevInstKeyType, DesiredAccess, DeviceRegKey):
// a NULL device or one without a device node is STATUS_INVALID_PARAMETER,
// checked before the key type; *DeviceRegKey is not written.
NtStatus IoOpenDeviceRegistryKey(Kernel& k, GuestVa device, uint32_t key_type, uint32_t desired_access,
                                 GuestVa key_out) {
  (void)desired_access;
  (void)key_out;
  if (!device || device_node_of(k, device) == 0) return STATUS_INVALID_PARAMETER;
  // PLUGPLAY_REGKEY_DEVICE (1) or PLUGPLAY_REGKEY_DRIVER (2) is required.
  if (!(key_type & 3)) return STATUS_INVALID_PARAMETER;
  // Unreachable while kemu creates no device nodes (the Enum / Class keys of a device instance).
  return STATUS_NOT_IMPLEMENTED;
}

void register_device_property_exports(Registry& r) {
  KEMU_EXPORT(r, IoGetDeviceProperty);
  KEMU_EXPORT(r, IoOpenDeviceRegistryKey);
}

}  // namespace kemu::nt
