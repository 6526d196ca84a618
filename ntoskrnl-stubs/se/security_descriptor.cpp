#include "ntoskrnl-stubs/se/security_descriptor.h"

#include <cstring>

#include "emulator/address_space.h"
#include "ntoskrnl-stubs/layout/se_structs.h"

namespace kemu::nt::se {

namespace {

constexpr uint32_t round4(uint32_t v) {
  return (v + 3) & ~3u;
}

uint32_t u32(std::span<const uint8_t> b, size_t at) {
  return static_cast<uint32_t>(b[at]) | (static_cast<uint32_t>(b[at + 1]) << 8) |
         (static_cast<uint32_t>(b[at + 2]) << 16) | (static_cast<uint32_t>(b[at + 3]) << 24);
}

// Where the parts of a descriptor are, as RtlpQuerySecurityDescriptor finds
// them: owner and group whenever their pointer/offset is set, the ACLs only
// with their PRESENT bit and a pointer/offset.
struct PartAddresses {
  GuestVa owner, group, sacl, dacl;
};

PartAddresses locate(const emu::AddressSpace& memory, GuestVa va, uint16_t control) {
  PartAddresses p;
  if (control & kSeSelfRelative) {
    auto rel = memory.read<layout::SECURITY_DESCRIPTOR_RELATIVE>(va);
    if (rel.Owner) p.owner = va + rel.Owner;
    if (rel.Group) p.group = va + rel.Group;
    if ((control & kSeSaclPresent) && rel.Sacl) p.sacl = va + rel.Sacl;
    if ((control & kSeDaclPresent) && rel.Dacl) p.dacl = va + rel.Dacl;
  } else {
    auto abs = memory.read<layout::SECURITY_DESCRIPTOR>(va);
    p.owner = GuestVa{abs.Owner};
    p.group = GuestVa{abs.Group};
    if (control & kSeSaclPresent) p.sacl = GuestVa{abs.Sacl};
    if (control & kSeDaclPresent) p.dacl = GuestVa{abs.Dacl};
  }
  return p;
}

}  // namespace

std::optional<SecurityDescriptor> read_security_descriptor(const emu::AddressSpace& memory,
                                                           GuestVa va, NtStatus* why) {
  auto fail = [&](NtStatus s) -> std::optional<SecurityDescriptor> {
    if (why) *why = s;
    return std::nullopt;
  };
  uint8_t revision = memory.read<uint8_t>(va);
  if (revision != kSecurityDescriptorRevision) return fail(STATUS_UNKNOWN_REVISION);
  uint16_t control = memory.read<uint16_t>(va + 2);
  SecurityDescriptor sd;
  sd.revision = revision;
  sd.sbz1 = memory.read<uint8_t>(va + 1);
  sd.control = control & ~kSeSelfRelative;
  PartAddresses p = locate(memory, va, control);
  if (p.owner) {
    if (!valid_sid_at(memory, p.owner)) return fail(STATUS_INVALID_SID);
    sd.owner = read_sid(memory, p.owner);
  }
  if (p.group) {
    if (!valid_sid_at(memory, p.group)) return fail(STATUS_INVALID_SID);
    sd.group = read_sid(memory, p.group);
  }
  if (p.sacl) {
    sd.sacl = read_acl(memory, p.sacl);
    if (!valid_acl(*sd.sacl)) return fail(STATUS_INVALID_ACL);
    sd.sacl->resize(memory.read<uint16_t>(p.sacl + 2));
  }
  if (p.dacl) {
    sd.dacl = read_acl(memory, p.dacl);
    if (!valid_acl(*sd.dacl)) return fail(STATUS_INVALID_ACL);
    sd.dacl->resize(memory.read<uint16_t>(p.dacl + 2));
  }
  if (why) *why = STATUS_SUCCESS;
  return sd;
}

std::optional<SecurityDescriptor> parse_self_relative(std::span<const uint8_t> bytes) {
  if (bytes.size() < sizeof(layout::SECURITY_DESCRIPTOR_RELATIVE)) return std::nullopt;
  if (bytes[0] != kSecurityDescriptorRevision) return std::nullopt;
  uint16_t control = static_cast<uint16_t>(bytes[2] | (bytes[3] << 8));
  if (!(control & kSeSelfRelative)) return std::nullopt;
  SecurityDescriptor sd;
  sd.sbz1 = bytes[1];
  sd.control = control & ~kSeSelfRelative;
  uint32_t owner = u32(bytes, 4), group = u32(bytes, 8), sacl = u32(bytes, 12),
           dacl = u32(bytes, 16);
  auto sid_at = [&](uint32_t off) -> std::optional<Sid> {
    if (off >= bytes.size()) return std::nullopt;
    return parse_sid(bytes.subspan(off));
  };
  auto acl_at = [&](uint32_t off) -> std::optional<std::vector<uint8_t>> {
    if (off + sizeof(layout::ACL) > bytes.size()) return std::nullopt;
    uint16_t size = static_cast<uint16_t>(bytes[off + 2] | (bytes[off + 3] << 8));
    if (off + size > bytes.size() || !valid_acl(bytes.subspan(off, size))) return std::nullopt;
    return std::vector<uint8_t>(bytes.begin() + off, bytes.begin() + off + size);
  };
  if (owner) {
    sd.owner = sid_at(owner);
    if (!sd.owner) return std::nullopt;
  }
  if (group) {
    sd.group = sid_at(group);
    if (!sd.group) return std::nullopt;
  }
  if ((control & kSeSaclPresent) && sacl) {
    sd.sacl = acl_at(sacl);
    if (!sd.sacl) return std::nullopt;
  }
  if ((control & kSeDaclPresent) && dacl) {
    sd.dacl = acl_at(dacl);
    if (!sd.dacl) return std::nullopt;
  }
  return sd;
}

uint32_t self_relative_length(const SecurityDescriptor& sd) {
  uint32_t length = sizeof(layout::SECURITY_DESCRIPTOR_RELATIVE);
  if (sd.owner) length += round4(sd.owner->length());
  if (sd.group) length += round4(sd.group->length());
  if (sd.sacl_present() && sd.sacl) length += round4(static_cast<uint32_t>(sd.sacl->size()));
  if (sd.dacl_present() && sd.dacl) length += round4(static_cast<uint32_t>(sd.dacl->size()));
  return length;
}

std::vector<uint8_t> to_self_relative(const SecurityDescriptor& sd) {
  std::vector<uint8_t> out(self_relative_length(sd), 0);
  layout::SECURITY_DESCRIPTOR_RELATIVE header{};
  header.Revision = sd.revision;
  header.Sbz1 = sd.sbz1;
  header.Control = sd.control | kSeSelfRelative;
  uint32_t at = sizeof(header);
  auto place = [&](const std::vector<uint8_t>& part) {
    uint32_t offset = at;
    std::memcpy(out.data() + at, part.data(), part.size());
    at += round4(static_cast<uint32_t>(part.size()));
    return offset;
  };
  // RtlMakeSelfRelativeSD's order: SACL, DACL, owner, group.
  if (sd.sacl_present() && sd.sacl) header.Sacl = place(*sd.sacl);
  if (sd.dacl_present() && sd.dacl) header.Dacl = place(*sd.dacl);
  if (sd.owner) header.Owner = place(sd.owner->bytes());
  if (sd.group) header.Group = place(sd.group->bytes());
  std::memcpy(out.data(), &header, sizeof(header));
  return out;
}

SecurityDescriptor query_parts(const SecurityDescriptor& sd, uint32_t information) {
  SecurityDescriptor out;
  out.revision = sd.revision;
  if (information & kOwnerSecurityInformation) {
    out.owner = sd.owner;
    out.control |= sd.control & kSeOwnerDefaulted;
  }
  if (information & kGroupSecurityInformation) {
    out.group = sd.group;
    out.control |= sd.control & kSeGroupDefaulted;
  }
  if (information & kDaclSecurityInformation) {
    out.dacl = sd.dacl;
    out.control |= sd.control & (kSeDaclPresent | kSeDaclDefaulted | kSeDaclProtected |
                                 kSeDaclAutoInherited | kSeDaclAutoInheritReq);
  }
  if (information & kSaclSecurityInformation) {
    out.sacl = sd.sacl;
    out.control |= sd.control & (kSeSaclPresent | kSeSaclDefaulted | kSeSaclProtected |
                                 kSeSaclAutoInherited | kSeSaclAutoInheritReq);
  } else if ((information & kLabelSecurityInformation) && sd.sacl_present() && sd.sacl) {
    // LABEL_SECURITY_INFORMATION alone: the SACL with only its mandatory label ACEs.
    std::vector<AceSpec> labels;
    for (const AceView& ace : parse_aces(*sd.sacl))
      if (ace.type == kSystemMandatoryLabelAce && ace.sid)
        labels.push_back({ace.type, ace.flags, ace.mask, *ace.sid});
    out.sacl = make_acl(labels, (*sd.sacl)[0]);
    out.control |= kSeSaclPresent;
  }
  return out;
}

NtStatus merge_parts(const SecurityDescriptor& object, const SecurityDescriptor& modification,
                     uint32_t information, const layout::GENERIC_MAPPING& mapping,
                     SecurityDescriptor* out) {
  SecurityDescriptor sd = object;
  if (information & kOwnerSecurityInformation) {
    if (!modification.owner) return STATUS_INVALID_OWNER;
    sd.owner = modification.owner;
    sd.control = (sd.control & ~kSeOwnerDefaulted) | (modification.control & kSeOwnerDefaulted);
  }
  if (information & kGroupSecurityInformation) {
    if (!modification.group) return STATUS_INVALID_PRIMARY_GROUP;
    sd.group = modification.group;
    sd.control = (sd.control & ~kSeGroupDefaulted) | (modification.control & kSeGroupDefaulted);
  }
  if (information & kDaclSecurityInformation) {
    constexpr uint16_t kDaclBits = kSeDaclPresent | kSeDaclDefaulted | kSeDaclProtected |
                                   kSeDaclAutoInherited | kSeDaclAutoInheritReq;
    sd.control = (sd.control & ~kDaclBits) | (modification.control & kDaclBits);
    sd.dacl = modification.dacl_present() ? modification.dacl : std::nullopt;
    if (sd.dacl) map_acl_generic(*sd.dacl, mapping);
    if (information & kProtectedDaclSecurityInformation) sd.control |= kSeDaclProtected;
    if (information & kUnprotectedDaclSecurityInformation) sd.control &= ~kSeDaclProtected;
  }
  if (information & kSaclSecurityInformation) {
    constexpr uint16_t kSaclBits = kSeSaclPresent | kSeSaclDefaulted | kSeSaclProtected |
                                   kSeSaclAutoInherited | kSeSaclAutoInheritReq;
    sd.control = (sd.control & ~kSaclBits) | (modification.control & kSaclBits);
    sd.sacl = modification.sacl_present() ? modification.sacl : std::nullopt;
    if (sd.sacl) map_acl_generic(*sd.sacl, mapping);
    if (information & kProtectedSaclSecurityInformation) sd.control |= kSeSaclProtected;
    if (information & kUnprotectedSaclSecurityInformation) sd.control &= ~kSeSaclProtected;
  } else if (information & kLabelSecurityInformation) {
    // LABEL_SECURITY_INFORMATION: the mandatory label ACEs of the SACL are
    // replaced by the modification's, the other SACL ACEs stay.
    std::vector<AceSpec> aces;
    if (sd.sacl_present() && sd.sacl)
      for (const AceView& ace : parse_aces(*sd.sacl))
        if (ace.type != kSystemMandatoryLabelAce && ace.sid)
          aces.push_back({ace.type, ace.flags, ace.mask, *ace.sid});
    if (modification.sacl_present() && modification.sacl)
      for (const AceView& ace : parse_aces(*modification.sacl))
        if (ace.type == kSystemMandatoryLabelAce && ace.sid)
          aces.push_back({ace.type, ace.flags, ace.mask, *ace.sid});
    sd.sacl = make_acl(aces);
    sd.control |= kSeSaclPresent;
  }
  *out = std::move(sd);
  return STATUS_SUCCESS;
}

// The default security of a named device object (IoCreateDevice with no
// descriptor from its creator).
//
// Source: Microsoft's "Controlling Device Access" / "Securing Device Objects"
// (learn.microsoft.com/windows-hardware/drivers/kernel/controlling-device-access):
// "For most device types and characteristics, the default security descriptor
// gives full access (GENERIC_ALL) to administrators, and read, write, and
// execute access (GENERIC_READ | GENERIC_WRITE | GENERIC_EXECUTE) to everyone
// else." The IoCreateDevice page adds that an unnamed device has no DACL.
// The exact descriptor is the I/O manager's "public open unrestricted" one
// (IopCreateDefaultDeviceSecurityDescriptor -> IopCreateSecurityDescriptorPerType
// in ntoskrnl; the same four ACEs as ReactOS' SePublicOpenUnrestrictedDacl
// with World limited to read/write/execute as the documentation states):
//   DACL  Everyone GENERIC_READ|GENERIC_WRITE|GENERIC_EXECUTE, SYSTEM
//         GENERIC_ALL, Administrators GENERIC_ALL, RESTRICTED
//         GENERIC_READ|GENERIC_EXECUTE
//   SACL  a mandatory label: Low integrity, no-write-up
// CD-ROMs and removable disks get the "public default unrestricted" DACL
// (Everyone GENERIC_EXECUTE, SYSTEM and Administrators GENERIC_ALL,
// RESTRICTED GENERIC_READ|GENERIC_EXECUTE|READ_CONTROL) plus Interactive
// GENERIC_READ|GENERIC_WRITE|DELETE on a workstation. Owner and group are
// the System token's defaults (Administrators, SYSTEM), as ObAssignSecurity
// sets them for an object the System process creates, and the generic rights
// are mapped through the Device type's mapping when the descriptor is
// assigned (so Everyone shows 0x001201BF, as `!sd` prints it for a
// FILE_DEVICE_UNKNOWN device). File-system device types, which Windows may
// give other defaults, are not distinguished.
SecurityDescriptor default_device_descriptor(uint32_t device_type, uint32_t characteristics,
                                             const layout::GENERIC_MAPPING& mapping) {
  constexpr uint32_t kGenericRead = 0x80000000, kGenericWrite = 0x40000000,
                     kGenericExecute = 0x20000000, kGenericAll = 0x10000000, kReadControl = 0x20000,
                     kDelete = 0x10000;
  constexpr uint32_t kFileDeviceCdRom = 0x2, kFileDeviceDisk = 0x7, kFileRemovableMedia = 0x1;
  SecurityDescriptor sd;
  sd.owner = sids::admins();
  sd.group = sids::local_system();
  std::vector<AceSpec> dacl;
  bool removable = device_type == kFileDeviceCdRom ||
                   (device_type == kFileDeviceDisk && (characteristics & kFileRemovableMedia));
  if (removable) {
    dacl = {
        {kAccessAllowedAce, 0, kGenericExecute, sids::world()},
        {kAccessAllowedAce, 0, kGenericAll, sids::local_system()},
        {kAccessAllowedAce, 0, kGenericAll, sids::admins()},
        {kAccessAllowedAce, 0, kGenericRead | kGenericExecute | kReadControl, sids::restricted()},
        {kAccessAllowedAce, 0, kGenericRead | kGenericWrite | kDelete, sids::interactive()}};
  } else {
    dacl = {{kAccessAllowedAce, 0, kGenericRead | kGenericWrite | kGenericExecute, sids::world()},
            {kAccessAllowedAce, 0, kGenericAll, sids::local_system()},
            {kAccessAllowedAce, 0, kGenericAll, sids::admins()},
            {kAccessAllowedAce, 0, kGenericRead | kGenericExecute, sids::restricted()}};
    sd.sacl =
        make_acl({{kSystemMandatoryLabelAce, 0, kMandatoryLabelNoWriteUp, sids::low_mandatory()}});
    sd.control |= kSeSaclPresent;
  }
  sd.dacl = make_acl(dacl);
  map_acl_generic(*sd.dacl, mapping);
  sd.control |= kSeDaclPresent;
  return sd;
}

}  // namespace kemu::nt::se
