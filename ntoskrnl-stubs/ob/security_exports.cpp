// Object security routines: opening an object by pointer (with the access
// check a UserMode open gets), setting and querying an object's security
// descriptor through a handle or a pointer, and ObGetObjectSecurity.
#include "emulator/ntstatus.h"
#include "ntoskrnl-stubs/api/caller_memory.h"
#include "ntoskrnl-stubs/api/previous_mode.h"
#include "ntoskrnl-stubs/api/registry.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/se_structs.h"
#include "ntoskrnl-stubs/ob/object_attributes.h"
#include "ntoskrnl-stubs/ob/object_manager.h"
#include "ntoskrnl-stubs/ps/process_manager.h"
#include "ntoskrnl-stubs/se/access_check.h"
#include "ntoskrnl-stubs/se/capture.h"

namespace kemu::nt {

namespace {

// SeSetSecurityAccessMask: the handle access setting each part needs.
uint32_t set_access_needed(uint32_t information) {
  uint32_t access = 0;
  if (information & (se::kOwnerSecurityInformation | se::kGroupSecurityInformation |
                     se::kLabelSecurityInformation))
    access |= se::kWriteOwner;
  if (information & se::kDaclSecurityInformation) access |= se::kWriteDac;
  if (information & se::kSaclSecurityInformation) access |= se::kAccessSystemSecurity;
  return access;
}

// SeQuerySecurityAccessMask: the handle access reading each part needs.
uint32_t query_access_needed(uint32_t information) {
  uint32_t access = 0;
  if (information & (se::kOwnerSecurityInformation | se::kGroupSecurityInformation |
                     se::kDaclSecurityInformation | se::kLabelSecurityInformation))
    access |= se::kReadControl;
  if (information & se::kSaclSecurityInformation) access |= se::kAccessSystemSecurity;
  return access;
}

// The object type's security procedure setting a descriptor
// (SeSetSecurityDescriptorInfo over the object's descriptor, with the type's
// GENERIC_MAPPING): an object without one is STATUS_NO_SECURITY_ON_OBJECT;
// a new owner must be one the current subject may assign.
NtStatus set_object_security(Kernel& k, ob::ObjectId id, uint32_t information,
                             const se::SecurityDescriptor& mod) {
  auto& ob = k.ob();
  const auto& current = ob.security(id);
  if (!current) return STATUS_NO_SECURITY_ON_OBJECT;
  if ((information & se::kOwnerSecurityInformation) && mod.owner &&
      !k.ps().current_subject().may_own(*mod.owner))
    return STATUS_INVALID_OWNER;
  se::SecurityDescriptor merged;
  NtStatus st = se::merge_parts(*current, mod, information,
                                ob::descriptor(ob.get(id)->type).mapping, &merged);
  if (!nt_success(st)) return st;
  ob.set_security(id, std::move(merged));
  return STATUS_SUCCESS;
}

}  // namespace

// ObOpenObjectByPointer(Object, HandleAttributes, PassedAccessState,
// DesiredAccess, ObjectType, AccessMode, Handle*): the object referenced
// (its type checked), a UserMode open (or OBJ_FORCE_ACCESS_CHECK) checked
// against its descriptor with the current token, the type's open procedure,
// then a handle with the granted access; OBJ_KERNEL_HANDLE is honoured for
// KernelMode only.
NtStatus ObOpenObjectByPointer(Kernel& k, GuestVa object, uint32_t attributes,
                               GuestVa passed_access_state, uint32_t desired, GuestVa type,
                               uint8_t access_mode, GuestVa handle_out) {
  auto& ob = k.ob();
  ProcessorMode mode = processor_mode(access_mode);
  if (attributes & ~ob::kObjValidAttributes) return STATUS_INVALID_PARAMETER;
  ob::ObjectRecord* r = ob.by_body(object);
  if (!r) {
    // REFERENCE_BY_POINTER: not an object.
    k.machine().bugcheck(0x18, type.value, object.value, 2, 0, k.machine().call_site());
    return STATUS_INVALID_PARAMETER;
  }
  auto t = k.ob().type_argument(type);
  if (t && *t != r->type) return STATUS_OBJECT_TYPE_MISMATCH;
  ob::ObjectId id = r->id;
  ob.reference(id);
  if (passed_access_state) {
    // An ACCESS_STATE the caller built carries what remains to be granted.
    auto state = k.memory().read<layout::ACCESS_STATE>(passed_access_state);
    desired = state.RemainingDesiredAccess | state.PreviouslyGrantedAccess;
  }
  ProcessorMode check_mode =
      (attributes & ob::kObjForceAccessCheck) ? ProcessorMode::UserMode : mode;
  uint32_t granted = 0;
  NtStatus st = ob.check_access(id, desired, check_mode, &granted);
  // Then the type's open procedure (a protected process refuses, a process
  // handle gains the limited rights its rights imply).
  if (nt_success(st)) st = ob.open_procedure(id, check_mode, &granted);
  if (!nt_success(st)) {
    ob.dereference(id);
    return st;
  }
  if (mode != ProcessorMode::KernelMode) attributes &= ~ob::kObjKernelHandle;
  if (NtStatus check = ob.check_handle_attributes(id, attributes, mode); !nt_success(check)) {
    ob.dereference(id);
    return check;
  }
  uint64_t handle = ob.create_handle(id, granted, attributes);
  ob.dereference(id);  // the handle holds its own reference
  k.memory().write<uint64_t>(handle_out, handle);
  return STATUS_SUCCESS;
}

// ObSetSecurityObjectByPointer(Object, SecurityInformation, SecurityDescriptor):
// kernel callers only, no access check; the descriptor is used as given.
NtStatus ObSetSecurityObjectByPointer(Kernel& k, GuestVa object, uint32_t information, GuestVa sd) {
  ob::ObjectRecord* r = k.ob().by_body(object);
  if (!r) {
    k.machine().bugcheck(0x18, 0, object.value, 2, 0, k.machine().call_site());
    return STATUS_INVALID_PARAMETER;
  }
  se::SecurityDescriptor mod;
  if (NtStatus st = se::capture_descriptor(k, ProcessorMode::KernelMode, sd, &mod); !nt_success(st))
    return st;
  return set_object_security(k, r->id, information, mod);
}

// NtSetSecurityObject(Handle, SecurityInformation, SecurityDescriptor) with
// the caller's previous mode: a NULL descriptor is STATUS_ACCESS_VIOLATION;
// the handle needs WRITE_OWNER (owner, group, label), WRITE_DAC (DACL),
// ACCESS_SYSTEM_SECURITY (SACL); the descriptor is captured (probed from
// UserMode) and must carry the owner / group it sets.
NtStatus NtSetSecurityObject(Kernel& k, uint64_t handle, uint32_t information, GuestVa sd) {
  ProcessorMode mode = k.machine().previous_mode();
  if (!sd) return STATUS_ACCESS_VIOLATION;
  ob::ObjectId id = ob::kNoObject;
  NtStatus st = k.ob().reference_by_handle(handle, set_access_needed(information), std::nullopt,
                                           mode, &id, nullptr);
  if (!nt_success(st)) return st;
  se::SecurityDescriptor mod;
  st = se::capture_descriptor(k, mode, sd, &mod);
  if (nt_success(st)) {
    if ((information & se::kOwnerSecurityInformation) && !mod.owner)
      st = STATUS_INVALID_OWNER;
    else if ((information & se::kGroupSecurityInformation) && !mod.group)
      st = STATUS_INVALID_PRIMARY_GROUP;
    else
      st = set_object_security(k, id, information, mod);
  }
  if (k.ob().get(id)) k.ob().dereference(id);
  return st;
}

NtStatus ZwSetSecurityObject(Kernel& k, uint64_t handle, uint32_t information, GuestVa sd) {
  return as_kernel_caller(k, [&] { return NtSetSecurityObject(k, handle, information, sd); });
}

// NtQuerySecurityObject(Handle, SecurityInformation, SecurityDescriptor,
// Length, LengthNeeded*): the parts asked for, self-relative; the handle
// needs READ_CONTROL (owner, group, DACL, label) and ACCESS_SYSTEM_SECURITY
// (SACL). *LengthNeeded is always written; a buffer too small is
// STATUS_BUFFER_TOO_SMALL. An object without a descriptor returns an empty
// one (revision 1, SE_SELF_RELATIVE, nothing present).
NtStatus NtQuerySecurityObject(Kernel& k, uint64_t handle, uint32_t information, GuestVa buffer,
                               uint32_t length, GuestVa length_needed) {
  ProcessorMode mode = k.machine().previous_mode();
  ob::ObjectId id = ob::kNoObject;
  NtStatus st = k.ob().reference_by_handle(handle, query_access_needed(information), std::nullopt,
                                           mode, &id, nullptr);
  if (!nt_success(st)) return st;
  const auto& sd = k.ob().security(id);
  std::vector<uint8_t> bytes =
      se::to_self_relative(sd ? se::query_parts(*sd, information) : se::SecurityDescriptor{});
  k.ob().dereference(id);
  uint32_t needed = static_cast<uint32_t>(bytes.size());
  if (NtStatus w = caller::write(k, mode, length_needed, needed); !nt_success(w)) return w;
  if (length < needed) return STATUS_BUFFER_TOO_SMALL;
  return caller::write_bytes(k, mode, buffer, bytes.data(), bytes.size(), 4);
}

NtStatus ZwQuerySecurityObject(Kernel& k, uint64_t handle, uint32_t information, GuestVa buffer,
                               uint32_t length, GuestVa length_needed) {
  return as_kernel_caller(k, [&] {
    return NtQuerySecurityObject(k, handle, information, buffer, length, length_needed);
  });
}

// ObGetObjectSecurity: the object's own (cached) descriptor, referenced until
// ObReleaseObjectSecurity; *MemoryAllocated is FALSE. NULL when the object
// has none.
NtStatus ObGetObjectSecurity(Kernel& k, GuestVa object, GuestVa sd_out, GuestVa allocated_out) {
  ob::ObjectRecord* r = k.ob().by_body(object);
  if (!r) {
    k.machine().bugcheck(0x18, 0, object.value, 2, 0, k.machine().call_site());
    return STATUS_INVALID_PARAMETER;
  }
  k.memory().write<uint8_t>(allocated_out, 0);
  k.memory().write<uint64_t>(sd_out, k.ob().reference_security(r->id).value);
  return STATUS_SUCCESS;
}

void ObReleaseObjectSecurity(Kernel& k, GuestVa sd, bool memory_allocated) {
  if (!sd) return;
  if (memory_allocated)
    k.machine().pool().free(sd, std::nullopt);
  else
    k.ob().release_security(sd);
}

void register_ob_security_exports(Registry& r) {
  KEMU_EXPORT(r, ObOpenObjectByPointer);
  KEMU_EXPORT(r, ObSetSecurityObjectByPointer);
  KEMU_EXPORT(r, NtSetSecurityObject);
  KEMU_EXPORT(r, ZwSetSecurityObject);
  KEMU_EXPORT(r, NtQuerySecurityObject);
  KEMU_EXPORT(r, ZwQuerySecurityObject);
  KEMU_EXPORT(r, ObGetObjectSecurity);
  KEMU_EXPORT(r, ObReleaseObjectSecurity);
}

}  // namespace kemu::nt
