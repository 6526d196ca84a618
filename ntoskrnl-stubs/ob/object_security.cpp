// Per-object security: the descriptor each object carries (host model plus a
// self-relative guest copy behind OBJECT_HEADER.SecurityDescriptor), the
// object manager's access check for opens by pointer, and the references
// ObGetObjectSecurity takes on the guest copy.
#include "emulator/ntstatus.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/ob/object_manager.h"
#include "ntoskrnl-stubs/ps/process_manager.h"
#include "ntoskrnl-stubs/se/access_check.h"

namespace kemu::nt::ob {

namespace {
constexpr uint32_t kSecurityTag = 0x6353624F;  // 'ObSc'
constexpr uint32_t kPagedPool = 1;
const std::optional<se::SecurityDescriptor> kNoSecurity;
}  // namespace

void ObjectManager::set_security(ObjectId object, std::optional<se::SecurityDescriptor> sd) {
  ObjectRecord& r = objects_.at(object);
  GuestVa old_copy = r.security_copy;
  r.security = std::move(sd);
  r.security_copy = GuestVa{};
  if (r.security) {
    std::vector<uint8_t> bytes = se::to_self_relative(*r.security);
    auto block =
        kernel_.machine().pool().allocate(bytes.size(), kPagedPool, kSecurityTag, GuestVa{});
    if (!block) throw emu::GuestMemoryExhausted("pool exhausted storing a security descriptor");
    kernel_.memory().write(*block, bytes.data(), bytes.size());
    r.security_copy = *block;
  }
  sync_header(r);
  if (old_copy) retire_security_copy(old_copy);
  auto proc = security_procedures_.find(static_cast<uint8_t>(r.type));
  if (proc != security_procedures_.end()) proc->second(object);
}

const std::optional<se::SecurityDescriptor>& ObjectManager::security(ObjectId object) const {
  auto it = objects_.find(object);
  return it == objects_.end() ? kNoSecurity : it->second.security;
}

void ObjectManager::set_security_procedure(TypeIndex type, TypeProcedure changed) {
  security_procedures_[static_cast<uint8_t>(type)] = std::move(changed);
}

NtStatus ObjectManager::check_access(ObjectId object, uint32_t desired, ProcessorMode mode,
                                     uint32_t* granted) {
  const ObjectRecord& r = objects_.at(object);
  const TypeDescriptor& type = descriptor(r.type);
  *granted = 0;
  if (mode == ProcessorMode::KernelMode || !r.security) {
    // Not checked: what is asked, mapped (MAXIMUM_ALLOWED: the type's valid rights).
    uint32_t access = map_generic(desired, type.mapping);
    if (access & kMaximumAllowed) access = (access & ~kMaximumAllowed) | type.valid_access_mask;
    *granted = access;
    return STATUS_SUCCESS;
  }
  se::AccessCheckResult result = se::access_check(&*r.security, kernel_.ps().current_subject(),
                                                  desired, 0, type.mapping, mode);
  if (!result.granted) return result.status;
  *granted = result.access;
  return STATUS_SUCCESS;
}

void ObjectManager::set_open_procedure(TypeIndex type, OpenProcedure procedure) {
  open_procedures_[static_cast<uint8_t>(type)] = std::move(procedure);
}

NtStatus ObjectManager::open_procedure(ObjectId object, ProcessorMode mode, uint32_t* granted) {
  auto proc = open_procedures_.find(static_cast<uint8_t>(objects_.at(object).type));
  if (proc == open_procedures_.end()) return STATUS_SUCCESS;
  return proc->second(object, mode, granted);
}

GuestVa ObjectManager::reference_security(ObjectId object) {
  const ObjectRecord& r = objects_.at(object);
  if (r.security_copy) ++security_references_[r.security_copy.value];
  return r.security_copy;
}

void ObjectManager::release_security(GuestVa copy) {
  auto it = security_references_.find(copy.value);
  if (it == security_references_.end()) return;
  if (--it->second > 0) return;
  security_references_.erase(it);
  // A copy its object replaced (or lost) goes with its last reference.
  if (retired_security_.erase(copy.value)) kernel_.machine().pool().free(copy, std::nullopt);
}

void ObjectManager::retire_security_copy(GuestVa copy) {
  auto it = security_references_.find(copy.value);
  if (it != security_references_.end() && it->second > 0) {
    retired_security_[copy.value] = true;
    return;
  }
  kernel_.machine().pool().free(copy, std::nullopt);
}

}  // namespace kemu::nt::ob
