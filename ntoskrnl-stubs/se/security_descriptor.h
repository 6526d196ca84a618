// Security descriptors: the host model kemu keeps per object, read from
// guest memory in either form (absolute: pointers; self-relative: offsets)
// and written in the self-relative layout RtlMakeSelfRelativeSD produces
// (header, SACL, DACL, owner, group, each part padded to 4 bytes).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "emulator/ntstatus.h"
#include "emulator/types.h"
#include "ntoskrnl-stubs/layout/nt_structs.h"
#include "ntoskrnl-stubs/se/acl.h"
#include "ntoskrnl-stubs/se/sid.h"

namespace kemu::emu {
class AddressSpace;
}

namespace kemu::nt::se {

constexpr uint8_t kSecurityDescriptorRevision = 1;

// SECURITY_DESCRIPTOR_CONTROL bits.
constexpr uint16_t kSeOwnerDefaulted = 0x0001;
constexpr uint16_t kSeGroupDefaulted = 0x0002;
constexpr uint16_t kSeDaclPresent = 0x0004;
constexpr uint16_t kSeDaclDefaulted = 0x0008;
constexpr uint16_t kSeSaclPresent = 0x0010;
constexpr uint16_t kSeSaclDefaulted = 0x0020;
constexpr uint16_t kSeDaclAutoInheritReq = 0x0100;
constexpr uint16_t kSeSaclAutoInheritReq = 0x0200;
constexpr uint16_t kSeDaclAutoInherited = 0x0400;
constexpr uint16_t kSeSaclAutoInherited = 0x0800;
constexpr uint16_t kSeDaclProtected = 0x1000;
constexpr uint16_t kSeSaclProtected = 0x2000;
constexpr uint16_t kSeRmControlValid = 0x4000;
constexpr uint16_t kSeSelfRelative = 0x8000;

// SECURITY_INFORMATION bits.
constexpr uint32_t kOwnerSecurityInformation = 0x1;
constexpr uint32_t kGroupSecurityInformation = 0x2;
constexpr uint32_t kDaclSecurityInformation = 0x4;
constexpr uint32_t kSaclSecurityInformation = 0x8;
constexpr uint32_t kLabelSecurityInformation = 0x10;
constexpr uint32_t kProtectedDaclSecurityInformation = 0x80000000;
constexpr uint32_t kProtectedSaclSecurityInformation = 0x40000000;
constexpr uint32_t kUnprotectedDaclSecurityInformation = 0x20000000;
constexpr uint32_t kUnprotectedSaclSecurityInformation = 0x10000000;

struct SecurityDescriptor {
  uint8_t revision = kSecurityDescriptorRevision;
  uint8_t sbz1 = 0;
  uint16_t control = 0;  // never carries SE_SELF_RELATIVE: the form is how it is written
  std::optional<Sid> owner;
  std::optional<Sid> group;
  // ACL bytes (AclSize of them). A present part with no ACL (the NULL DACL)
  // is the PRESENT control bit with nullopt here.
  std::optional<std::vector<uint8_t>> sacl;
  std::optional<std::vector<uint8_t>> dacl;

  bool dacl_present() const { return (control & kSeDaclPresent) != 0; }
  bool sacl_present() const { return (control & kSeSaclPresent) != 0; }
  bool operator==(const SecurityDescriptor&) const = default;
};

// Reads the descriptor at `va` (absolute or self-relative, by its
// SE_SELF_RELATIVE bit) and validates it as RtlValidSecurityDescriptor does.
// nullopt with *why = STATUS_UNKNOWN_REVISION, STATUS_INVALID_SID or
// STATUS_INVALID_ACL when it is not valid. Throws emu::GuestAccessError when
// a part is unreadable (the routine would fault).
std::optional<SecurityDescriptor> read_security_descriptor(const emu::AddressSpace& memory,
                                                           GuestVa va, NtStatus* why = nullptr);
// Parses self-relative bytes kemu wrote (offsets inside `bytes`).
std::optional<SecurityDescriptor> parse_self_relative(std::span<const uint8_t> bytes);

// RtlLengthSecurityDescriptor of the descriptor in self-relative form.
uint32_t self_relative_length(const SecurityDescriptor& sd);
// The self-relative bytes (SE_SELF_RELATIVE set in Control).
std::vector<uint8_t> to_self_relative(const SecurityDescriptor& sd);

// SeQuerySecurityDescriptorInfo: the parts `information` names.
SecurityDescriptor query_parts(const SecurityDescriptor& sd, uint32_t information);
// SeSetSecurityDescriptorInfo: `object` with the parts `information` names
// taken from `modification`; new ACE masks have their generic rights mapped
// through `mapping`. STATUS_INVALID_OWNER / STATUS_INVALID_PRIMARY_GROUP when
// the modification lacks the owner / group it is to set.
NtStatus merge_parts(const SecurityDescriptor& object, const SecurityDescriptor& modification,
                     uint32_t information, const layout::GENERIC_MAPPING& mapping,
                     SecurityDescriptor* out);

// The descriptor IoCreateDevice gives a named device object that gets none
// from its creator (see security_descriptor.cpp for the source of each part),
// with its ACE masks already mapped through the device type's GENERIC_MAPPING.
SecurityDescriptor default_device_descriptor(uint32_t device_type, uint32_t characteristics,
                                             const layout::GENERIC_MAPPING& mapping);

}  // namespace kemu::nt::se
