#include "ntoskrnl-stubs/io/device_security.h"

#include "ntoskrnl-stubs/io/io_manager.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/nt_structs.h"
#include "ntoskrnl-stubs/ob/object_manager.h"
#include "ntoskrnl-stubs/ps/process_manager.h"
#include "ntoskrnl-stubs/se/access_check.h"

namespace kemu::nt::io {

OpenAccess check_device_open(Kernel& kernel, ob::ObjectId device, bool namespace_open,
                             uint32_t desired, ProcessorMode requestor, uint32_t attributes) {
  auto& ob = kernel.ob();
  const ob::TypeDescriptor& file_type = ob::descriptor(ob::TypeIndex::File);
  OpenAccess out;
  auto unchecked = [&] {
    uint32_t access = ob::map_generic(desired, file_type.mapping);
    if (access & ob::kMaximumAllowed)
      access = (access & ~ob::kMaximumAllowed) | file_type.valid_access_mask;
    out.granted = access;
    return out;
  };
  // Kernel-mode opens are trusted unless the caller forces the check.
  if (requestor == ProcessorMode::KernelMode && !(attributes & ob::kObjForceAccessCheck))
    return unchecked();
  const ob::ObjectRecord* record = ob.get(device);
  GuestVa body = record->body;
  uint32_t characteristics =
      kernel.memory().read<uint32_t>(body + offsetof(layout::DEVICE_OBJECT, Characteristics));
  // The classic hole: without FILE_DEVICE_SECURE_OPEN the device's descriptor
  // does not protect the names below it.
  if (namespace_open && !(characteristics & kFileDeviceSecureOpen)) return unchecked();
  const auto& sd = ob.security(device);
  if (!sd) return unchecked();
  // SeAccessCheck with the File type's mapping, as IopParseDevice calls it.
  se::AccessCheckResult r = se::access_check(&*sd, kernel.ps().current_subject(), desired, 0,
                                             file_type.mapping, ProcessorMode::UserMode);
  out.checked = true;
  out.status = r.status;
  out.granted = r.granted ? r.access : 0;
  return out;
}

void assign_default_device_security(Kernel& kernel, ob::ObjectId device, uint32_t device_type,
                                    uint32_t characteristics) {
  const ob::TypeDescriptor& device_type_info = ob::descriptor(ob::TypeIndex::Device);
  kernel.ob().set_security(device, se::default_device_descriptor(device_type, characteristics,
                                                                 device_type_info.mapping));
}

void install_device_security_procedure(Kernel& kernel) {
  kernel.ob().set_security_procedure(ob::TypeIndex::Device, [&kernel](ob::ObjectId id) {
    const ob::ObjectRecord* r = kernel.ob().get(id);
    if (!r) return;
    // IopGetSetSecurityObject keeps DEVICE_OBJECT.SecurityDescriptor on the
    // object's current descriptor.
    kernel.memory().write<uint64_t>(r->body + offsetof(layout::DEVICE_OBJECT, SecurityDescriptor),
                                    r->security_copy.value);
  });
}

}  // namespace kemu::nt::io
