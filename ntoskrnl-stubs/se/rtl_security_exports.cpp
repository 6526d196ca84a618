// The Rtl security routines drivers build descriptors with (the wdmsec
// IoCreateDeviceSecure family): SIDs, ACLs and ACEs, absolute descriptors
// and their self-relative form. They work on the caller's structures in
// place, as ntoskrnl's do: a bad pointer faults in the caller (a user
// address raises STATUS_ACCESS_VIOLATION into the driver, a kernel one
// bugchecks).
#include <cstring>

#include "emulator/address_space.h"
#include "emulator/ntstatus.h"
#include "ntoskrnl-stubs/api/registry.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/se_structs.h"
#include "ntoskrnl-stubs/se/acl.h"
#include "ntoskrnl-stubs/se/security_descriptor.h"
#include "ntoskrnl-stubs/se/sid.h"

namespace kemu::nt {

namespace {

using layout::SECURITY_DESCRIPTOR;
using layout::SECURITY_DESCRIPTOR_RELATIVE;

constexpr uint32_t kStringTag = 0x53727447;  // 'GtrS', the tag of Rtl string buffers
constexpr uint32_t round4(uint32_t v) {
  return (v + 3) & ~3u;
}

uint32_t sid_length(Kernel& k, GuestVa sid) {
  return 8 + 4u * k.memory().read<uint8_t>(sid + 1);
}
uint32_t acl_length(Kernel& k, GuestVa acl) {
  return k.memory().read<uint16_t>(acl + 2);
}

// The parts of a descriptor as RtlpQuerySecurityDescriptor finds them:
// owner and group whenever set, the ACLs only with their PRESENT bit.
struct Parts {
  GuestVa owner, group, sacl, dacl;
};
Parts parts_of(Kernel& k, GuestVa sd) {
  auto& mem = k.memory();
  uint16_t control = mem.read<uint16_t>(sd + 2);
  Parts p;
  if (control & se::kSeSelfRelative) {
    auto rel = mem.read<SECURITY_DESCRIPTOR_RELATIVE>(sd);
    if (rel.Owner) p.owner = sd + rel.Owner;
    if (rel.Group) p.group = sd + rel.Group;
    if ((control & se::kSeSaclPresent) && rel.Sacl) p.sacl = sd + rel.Sacl;
    if ((control & se::kSeDaclPresent) && rel.Dacl) p.dacl = sd + rel.Dacl;
  } else {
    auto abs = mem.read<SECURITY_DESCRIPTOR>(sd);
    p.owner = GuestVa{abs.Owner};
    p.group = GuestVa{abs.Group};
    if (control & se::kSeSaclPresent) p.sacl = GuestVa{abs.Sacl};
    if (control & se::kSeDaclPresent) p.dacl = GuestVa{abs.Dacl};
  }
  return p;
}

// The revision and form checks every RtlSet*SecurityDescriptor makes.
NtStatus settable(Kernel& k, GuestVa sd) {
  auto& mem = k.memory();
  if (mem.read<uint8_t>(sd) != se::kSecurityDescriptorRevision) return STATUS_UNKNOWN_REVISION;
  if (mem.read<uint16_t>(sd + 2) & se::kSeSelfRelative) return STATUS_INVALID_SECURITY_DESCR;
  return STATUS_SUCCESS;
}

void set_control(Kernel& k, GuestVa sd, uint16_t clear, uint16_t set) {
  uint16_t control = k.memory().read<uint16_t>(sd + 2);
  k.memory().write<uint16_t>(sd + 2, static_cast<uint16_t>((control & ~clear) | set));
}

// RtlpAddKnownAce: the checks and the append of RtlAddAccess*Ace.
NtStatus add_known_ace(Kernel& k, GuestVa acl, uint32_t revision, uint32_t flags, uint32_t mask,
                       GuestVa sid, uint8_t type) {
  auto& mem = k.memory();
  // The SID: a kernel address holding revision 1 and at most 15 sub-authorities.
  if (sid.value <= kemu::layout::kUserProbeAddress || !se::valid_sid_at(mem, sid))
    return STATUS_INVALID_SID;
  uint8_t acl_revision = mem.read<uint8_t>(acl);
  if (acl_revision > se::kMaxAclRevision || revision > se::kMaxAclRevision)
    return STATUS_REVISION_MISMATCH;
  uint8_t new_revision = std::max<uint8_t>(acl_revision, static_cast<uint8_t>(revision));
  // Only inheritance flags (allowed ACEs may also carry the critical and
  // inherited bits, audit ACEs the success/failure bits).
  if (flags & ~uint32_t{se::kValidInheritFlags}) {
    uint32_t invalid = type == se::kSystemAuditAce     ? flags & 0xFFFFFF20u
                       : type == se::kAccessAllowedAce ? flags & 0xFFFFFFC0u
                                                       : flags;
    if (invalid) return STATUS_INVALID_PARAMETER;
  }
  std::vector<uint8_t> bytes = se::read_acl(mem, acl);
  if (!se::valid_acl(bytes)) return STATUS_INVALID_ACL;
  // The first free byte after the existing ACEs.
  uint16_t acl_size = mem.read<uint16_t>(acl + 2);
  uint16_t count = mem.read<uint16_t>(acl + 4);
  uint32_t at = sizeof(layout::ACL);
  for (uint32_t i = 0; i < count; ++i) {
    if (at >= acl_size) return STATUS_INVALID_ACL;
    at += mem.read<uint16_t>(acl + at + 2);
  }
  uint32_t ace_size = 8 + sid_length(k, sid);
  if (at > acl_size || at + ace_size > acl_size) return STATUS_ALLOTTED_SPACE_EXCEEDED;
  layout::ACE_HEADER header{type, static_cast<uint8_t>(flags), static_cast<uint16_t>(ace_size)};
  mem.write(acl + at, header);
  mem.write<uint32_t>(acl + at + 4, mask);
  std::vector<uint8_t> sid_bytes(sid_length(k, sid));
  if (!mem.read(sid, sid_bytes.data(), sid_bytes.size())) throw emu::GuestAccessError(sid, false);
  mem.write(acl + at + 8, sid_bytes.data(), sid_bytes.size());
  mem.write<uint16_t>(acl + 4, static_cast<uint16_t>(count + 1));
  mem.write<uint8_t>(acl, new_revision);
  return STATUS_SUCCESS;
}

}  // namespace

// --- security descriptors ----------------------------------------------------

// RtlCreateSecurityDescriptor: an empty absolute descriptor (no owner, group
// or ACLs, control 0) of revision SECURITY_DESCRIPTOR_REVISION.
NtStatus RtlCreateSecurityDescriptor(Kernel& k, GuestVa sd, uint32_t revision) {
  if (revision != se::kSecurityDescriptorRevision) return STATUS_UNKNOWN_REVISION;
  SECURITY_DESCRIPTOR empty{};
  empty.Revision = se::kSecurityDescriptorRevision;
  k.memory().write(sd, empty);
  return STATUS_SUCCESS;
}

NtStatus RtlSetDaclSecurityDescriptor(Kernel& k, GuestVa sd, bool present, GuestVa dacl,
                                      bool defaulted) {
  if (NtStatus st = settable(k, sd); !nt_success(st)) return st;
  // No DACL: only the PRESENT bit goes.
  if (!present) {
    set_control(k, sd, se::kSeDaclPresent, 0);
    return STATUS_SUCCESS;
  }
  k.memory().write<uint64_t>(sd + offsetof(SECURITY_DESCRIPTOR, Dacl), dacl.value);
  set_control(k, sd, se::kSeDaclDefaulted,
              static_cast<uint16_t>(se::kSeDaclPresent | (defaulted ? se::kSeDaclDefaulted : 0)));
  return STATUS_SUCCESS;
}

NtStatus RtlSetSaclSecurityDescriptor(Kernel& k, GuestVa sd, bool present, GuestVa sacl,
                                      bool defaulted) {
  if (NtStatus st = settable(k, sd); !nt_success(st)) return st;
  if (!present) {
    set_control(k, sd, se::kSeSaclPresent, 0);
    return STATUS_SUCCESS;
  }
  k.memory().write<uint64_t>(sd + offsetof(SECURITY_DESCRIPTOR, Sacl), sacl.value);
  set_control(k, sd, se::kSeSaclDefaulted,
              static_cast<uint16_t>(se::kSeSaclPresent | (defaulted ? se::kSeSaclDefaulted : 0)));
  return STATUS_SUCCESS;
}

NtStatus RtlSetOwnerSecurityDescriptor(Kernel& k, GuestVa sd, GuestVa owner, bool defaulted) {
  if (NtStatus st = settable(k, sd); !nt_success(st)) return st;
  k.memory().write<uint64_t>(sd + offsetof(SECURITY_DESCRIPTOR, Owner), owner.value);
  set_control(k, sd, se::kSeOwnerDefaulted, defaulted ? se::kSeOwnerDefaulted : 0);
  return STATUS_SUCCESS;
}

NtStatus RtlSetGroupSecurityDescriptor(Kernel& k, GuestVa sd, GuestVa group, bool defaulted) {
  if (NtStatus st = settable(k, sd); !nt_success(st)) return st;
  k.memory().write<uint64_t>(sd + offsetof(SECURITY_DESCRIPTOR, Group), group.value);
  set_control(k, sd, se::kSeGroupDefaulted, defaulted ? se::kSeGroupDefaulted : 0);
  return STATUS_SUCCESS;
}

// RtlGetDaclSecurityDescriptor: *DaclPresent always; *Dacl and
// *DaclDefaulted only when a DACL is present (a NULL *Dacl is a NULL DACL).
NtStatus RtlGetDaclSecurityDescriptor(Kernel& k, GuestVa sd, GuestVa present_out, GuestVa dacl_out,
                                      GuestVa defaulted_out) {
  auto& mem = k.memory();
  if (mem.read<uint8_t>(sd) != se::kSecurityDescriptorRevision) return STATUS_UNKNOWN_REVISION;
  uint16_t control = mem.read<uint16_t>(sd + 2);
  bool present = (control & se::kSeDaclPresent) != 0;
  mem.write<uint8_t>(present_out, present ? 1 : 0);
  if (present) {
    mem.write<uint64_t>(dacl_out, parts_of(k, sd).dacl.value);
    mem.write<uint8_t>(defaulted_out, (control & se::kSeDaclDefaulted) ? 1 : 0);
  }
  return STATUS_SUCCESS;
}

NtStatus RtlGetSaclSecurityDescriptor(Kernel& k, GuestVa sd, GuestVa present_out, GuestVa sacl_out,
                                      GuestVa defaulted_out) {
  auto& mem = k.memory();
  if (mem.read<uint8_t>(sd) != se::kSecurityDescriptorRevision) return STATUS_UNKNOWN_REVISION;
  uint16_t control = mem.read<uint16_t>(sd + 2);
  bool present = (control & se::kSeSaclPresent) != 0;
  mem.write<uint8_t>(present_out, present ? 1 : 0);
  if (present) {
    mem.write<uint64_t>(sacl_out, parts_of(k, sd).sacl.value);
    mem.write<uint8_t>(defaulted_out, (control & se::kSeSaclDefaulted) ? 1 : 0);
  }
  return STATUS_SUCCESS;
}

NtStatus RtlGetOwnerSecurityDescriptor(Kernel& k, GuestVa sd, GuestVa owner_out,
                                       GuestVa defaulted_out) {
  auto& mem = k.memory();
  if (mem.read<uint8_t>(sd) != se::kSecurityDescriptorRevision) return STATUS_UNKNOWN_REVISION;
  mem.write<uint64_t>(owner_out, parts_of(k, sd).owner.value);
  mem.write<uint8_t>(defaulted_out, (mem.read<uint16_t>(sd + 2) & se::kSeOwnerDefaulted) ? 1 : 0);
  return STATUS_SUCCESS;
}

NtStatus RtlGetGroupSecurityDescriptor(Kernel& k, GuestVa sd, GuestVa group_out,
                                       GuestVa defaulted_out) {
  auto& mem = k.memory();
  if (mem.read<uint8_t>(sd) != se::kSecurityDescriptorRevision) return STATUS_UNKNOWN_REVISION;
  mem.write<uint64_t>(group_out, parts_of(k, sd).group.value);
  mem.write<uint8_t>(defaulted_out, (mem.read<uint16_t>(sd + 2) & se::kSeGroupDefaulted) ? 1 : 0);
  return STATUS_SUCCESS;
}

// RtlLengthSecurityDescriptor: the header of the descriptor's form plus each
// part present, rounded up to a ULONG.
uint32_t RtlLengthSecurityDescriptor(Kernel& k, GuestVa sd) {
  bool relative = (k.memory().read<uint16_t>(sd + 2) & se::kSeSelfRelative) != 0;
  uint32_t length = relative ? sizeof(SECURITY_DESCRIPTOR_RELATIVE) : sizeof(SECURITY_DESCRIPTOR);
  Parts p = parts_of(k, sd);
  if (p.owner) length += round4(sid_length(k, p.owner));
  if (p.group) length += round4(sid_length(k, p.group));
  if (p.dacl) length += round4(acl_length(k, p.dacl));
  if (p.sacl) length += round4(acl_length(k, p.sacl));
  return length;
}

// RtlValidSecurityDescriptor: revision 1, valid owner and group SIDs, valid
// ACLs; a user address it cannot read makes it invalid (its __try).
bool RtlValidSecurityDescriptor(Kernel& k, GuestVa sd) {
  try {
    return se::read_security_descriptor(k.memory(), sd).has_value();
  } catch (const emu::GuestAccessError& e) {
    if (is_user_address(e.address)) return false;
    throw;
  }
}

// RtlAbsoluteToSelfRelativeSD (RtlMakeSelfRelativeSD): header, SACL, DACL,
// owner, group, each rounded up to a ULONG; the parts are copied, not checked.
NtStatus RtlAbsoluteToSelfRelativeSD(Kernel& k, GuestVa absolute, GuestVa relative,
                                     GuestVa length_io) {
  auto& mem = k.memory();
  uint16_t control = mem.read<uint16_t>(absolute + 2);
  if (control & se::kSeSelfRelative) return STATUS_BAD_DESCRIPTOR_FORMAT;
  Parts p = parts_of(k, absolute);
  uint32_t owner_size = p.owner ? round4(sid_length(k, p.owner)) : 0;
  uint32_t group_size = p.group ? round4(sid_length(k, p.group)) : 0;
  uint32_t sacl_size = p.sacl ? round4(acl_length(k, p.sacl)) : 0;
  uint32_t dacl_size = p.dacl ? round4(acl_length(k, p.dacl)) : 0;
  uint32_t total =
      sizeof(SECURITY_DESCRIPTOR_RELATIVE) + owner_size + group_size + sacl_size + dacl_size;
  if (total > mem.read<uint32_t>(length_io)) {
    mem.write<uint32_t>(length_io, total);
    return STATUS_BUFFER_TOO_SMALL;
  }
  if (!relative) return STATUS_INVALID_PARAMETER;
  std::vector<uint8_t> out(total, 0);
  SECURITY_DESCRIPTOR_RELATIVE header{};
  header.Revision = mem.read<uint8_t>(absolute);
  header.Sbz1 = mem.read<uint8_t>(absolute + 1);
  header.Control = static_cast<uint16_t>(control | se::kSeSelfRelative);
  uint32_t at = sizeof(header);
  auto copy = [&](GuestVa part, uint32_t size, uint32_t exact) {
    if (!mem.read(part, out.data() + at, exact)) throw emu::GuestAccessError(part, false);
    uint32_t offset = at;
    at += size;
    return offset;
  };
  if (p.sacl) header.Sacl = copy(p.sacl, sacl_size, acl_length(k, p.sacl));
  if (p.dacl) header.Dacl = copy(p.dacl, dacl_size, acl_length(k, p.dacl));
  if (p.owner) header.Owner = copy(p.owner, owner_size, sid_length(k, p.owner));
  if (p.group) header.Group = copy(p.group, group_size, sid_length(k, p.group));
  std::memcpy(out.data(), &header, sizeof(header));
  mem.write(relative, out.data(), out.size());
  return STATUS_SUCCESS;
}

// --- ACLs ---------------------------------------------------------------------

// RtlCreateAcl: STATUS_BUFFER_TOO_SMALL under sizeof(ACL), a revision outside
// 2..4 or a length above 0xFFFC is STATUS_INVALID_PARAMETER; the buffer is
// zeroed and AclSize is the length rounded down to a ULONG.
NtStatus RtlCreateAcl(Kernel& k, GuestVa acl, uint32_t length, uint32_t revision) {
  if (length < sizeof(layout::ACL)) return STATUS_BUFFER_TOO_SMALL;
  if (revision < se::kMinAclRevision || revision > se::kMaxAclRevision || length > 0xFFFC)
    return STATUS_INVALID_PARAMETER;
  std::vector<uint8_t> zero(length, 0);
  k.memory().write(acl, zero.data(), zero.size());
  layout::ACL header{static_cast<uint8_t>(revision), 0, static_cast<uint16_t>(length & 0xFFFC), 0,
                     0};
  k.memory().write(acl, header);
  return STATUS_SUCCESS;
}

NtStatus RtlAddAccessAllowedAce(Kernel& k, GuestVa acl, uint32_t revision, uint32_t mask,
                                GuestVa sid) {
  return add_known_ace(k, acl, revision, 0, mask, sid, se::kAccessAllowedAce);
}

NtStatus RtlAddAccessAllowedAceEx(Kernel& k, GuestVa acl, uint32_t revision, uint32_t flags,
                                  uint32_t mask, GuestVa sid) {
  return add_known_ace(k, acl, revision, flags, mask, sid, se::kAccessAllowedAce);
}

NtStatus RtlAddAccessDeniedAce(Kernel& k, GuestVa acl, uint32_t revision, uint32_t mask,
                               GuestVa sid) {
  return add_known_ace(k, acl, revision, 0, mask, sid, se::kAccessDeniedAce);
}

NtStatus RtlAddAccessDeniedAceEx(Kernel& k, GuestVa acl, uint32_t revision, uint32_t flags,
                                 uint32_t mask, GuestVa sid) {
  return add_known_ace(k, acl, revision, flags, mask, sid, se::kAccessDeniedAce);
}

// RtlGetAce: the address of ACE `index`; STATUS_INVALID_PARAMETER for a bad
// revision, an index past AceCount or an ACE outside AclSize.
NtStatus RtlGetAce(Kernel& k, GuestVa acl, uint32_t index, GuestVa ace_out) {
  auto& mem = k.memory();
  uint8_t revision = mem.read<uint8_t>(acl);
  uint16_t size = mem.read<uint16_t>(acl + 2);
  uint16_t count = mem.read<uint16_t>(acl + 4);
  if (revision < se::kMinAclRevision || revision > se::kMaxAclRevision || index >= count)
    return STATUS_INVALID_PARAMETER;
  uint32_t at = sizeof(layout::ACL);
  for (uint32_t i = 0; i < index; ++i) {
    if (at >= size) return STATUS_INVALID_PARAMETER;
    at += mem.read<uint16_t>(acl + at + 2);
  }
  if (at >= size) return STATUS_INVALID_PARAMETER;
  mem.write<uint64_t>(ace_out, (acl + at).value);
  return STATUS_SUCCESS;
}

// --- SIDs ---------------------------------------------------------------------

uint32_t RtlLengthSid(Kernel& k, GuestVa sid) {
  return sid_length(k, sid);
}

uint32_t RtlLengthRequiredSid(Kernel&, uint32_t sub_authority_count) {
  return 8 + 4 * sub_authority_count;
}

// RtlInitializeSid: revision, count and authority; the sub-authorities are
// left for RtlSubAuthoritySid. More than 15 is STATUS_INVALID_PARAMETER.
NtStatus RtlInitializeSid(Kernel& k, GuestVa sid, GuestVa authority, uint8_t count) {
  if (count > se::kSidMaxSubAuthorities) return STATUS_INVALID_PARAMETER;
  uint8_t value[6];
  if (!k.memory().read(authority, value, sizeof(value)))
    throw emu::GuestAccessError(authority, false);
  k.memory().write<uint8_t>(sid, se::kSidRevision);
  k.memory().write<uint8_t>(sid + 1, count);
  k.memory().write(sid + 2, value, sizeof(value));
  return STATUS_SUCCESS;
}

GuestVa RtlSubAuthoritySid(Kernel&, GuestVa sid, uint32_t index) {
  return sid + 8 + 4ull * index;
}

GuestVa RtlSubAuthorityCountSid(Kernel&, GuestVa sid) {
  return sid + 1;
}

bool RtlValidSid(Kernel& k, GuestVa sid) {
  if (!sid) return false;
  try {
    return se::valid_sid_at(k.memory(), sid);
  } catch (const emu::GuestAccessError& e) {
    if (is_user_address(e.address)) return false;
    throw;
  }
}

// RtlEqualSid: same revision and count, then the same bytes.
bool RtlEqualSid(Kernel& k, GuestVa a, GuestVa b) {
  auto& mem = k.memory();
  if (mem.read<uint16_t>(a) != mem.read<uint16_t>(b)) return false;
  uint32_t length = sid_length(k, a);
  std::vector<uint8_t> x(length), y(length);
  if (!mem.read(a, x.data(), length)) throw emu::GuestAccessError(a, false);
  if (!mem.read(b, y.data(), length)) throw emu::GuestAccessError(b, false);
  return x == y;
}

NtStatus RtlCopySid(Kernel& k, uint32_t destination_length, GuestVa destination, GuestVa source) {
  uint32_t length = sid_length(k, source);
  if (destination_length < length) return STATUS_BUFFER_TOO_SMALL;
  std::vector<uint8_t> bytes(length);
  if (!k.memory().read(source, bytes.data(), length)) throw emu::GuestAccessError(source, false);
  k.memory().write(destination, bytes.data(), length);
  return STATUS_SUCCESS;
}

// RtlConvertSidToUnicodeString: "S-1-5-..." with a terminating NUL; an
// allocated buffer comes from paged pool (RtlFreeUnicodeString frees it), a
// caller's buffer too small for the text and its NUL is STATUS_BUFFER_OVERFLOW.
NtStatus RtlConvertSidToUnicodeString(Kernel& k, GuestVa us, GuestVa sid, bool allocate) {
  auto& mem = k.memory();
  if (!se::valid_sid_at(mem, sid)) return STATUS_INVALID_SID;
  std::u16string text = to_utf16(se::read_sid(mem, sid).to_string());
  uint16_t bytes = static_cast<uint16_t>(text.size() * 2);
  auto s = mem.read<layout::UNICODE_STRING>(us);
  if (allocate) {
    auto block =
        k.machine().pool().allocate(bytes + 2u, 1, kStringTag, k.machine().return_address());
    if (!block) return STATUS_NO_MEMORY;
    s.Buffer = block->value;
    s.MaximumLength = static_cast<uint16_t>(bytes + 2);
  } else if (bytes + 2u > s.MaximumLength) {
    return STATUS_BUFFER_OVERFLOW;
  }
  mem.write(GuestVa{s.Buffer}, text.data(), bytes);
  mem.write<uint16_t>(GuestVa{s.Buffer} + bytes, 0);
  s.Length = bytes;
  mem.write(us, s);
  return STATUS_SUCCESS;
}

// RtlMapGenericMask: the GENERIC_* bits of *AccessMask replaced by the rights
// the mapping gives them.
void RtlMapGenericMask(Kernel& k, GuestVa access_mask, GuestVa mapping) {
  auto m = k.memory().read<layout::GENERIC_MAPPING>(mapping);
  k.memory().write<uint32_t>(access_mask,
                             se::map_generic(k.memory().read<uint32_t>(access_mask), m));
}

void register_rtl_security_exports(Registry& r) {
  KEMU_EXPORT(r, RtlCreateSecurityDescriptor);
  KEMU_EXPORT(r, RtlSetDaclSecurityDescriptor);
  KEMU_EXPORT(r, RtlSetSaclSecurityDescriptor);
  KEMU_EXPORT(r, RtlSetOwnerSecurityDescriptor);
  KEMU_EXPORT(r, RtlSetGroupSecurityDescriptor);
  KEMU_EXPORT(r, RtlGetDaclSecurityDescriptor);
  KEMU_EXPORT(r, RtlGetSaclSecurityDescriptor);
  KEMU_EXPORT(r, RtlGetOwnerSecurityDescriptor);
  KEMU_EXPORT(r, RtlGetGroupSecurityDescriptor);
  KEMU_EXPORT(r, RtlLengthSecurityDescriptor);
  KEMU_EXPORT(r, RtlValidSecurityDescriptor);
  KEMU_EXPORT(r, RtlAbsoluteToSelfRelativeSD);
  KEMU_EXPORT(r, RtlCreateAcl);
  KEMU_EXPORT(r, RtlAddAccessAllowedAce);
  KEMU_EXPORT(r, RtlAddAccessAllowedAceEx);
  KEMU_EXPORT(r, RtlAddAccessDeniedAce);
  KEMU_EXPORT(r, RtlAddAccessDeniedAceEx);
  KEMU_EXPORT(r, RtlGetAce);
  KEMU_EXPORT(r, RtlLengthSid);
  KEMU_EXPORT(r, RtlLengthRequiredSid);
  KEMU_EXPORT(r, RtlInitializeSid);
  KEMU_EXPORT(r, RtlSubAuthoritySid);
  KEMU_EXPORT(r, RtlSubAuthorityCountSid);
  KEMU_EXPORT(r, RtlValidSid);
  KEMU_EXPORT(r, RtlEqualSid);
  KEMU_EXPORT(r, RtlCopySid);
  KEMU_EXPORT(r, RtlConvertSidToUnicodeString);
  KEMU_EXPORT(r, RtlMapGenericMask);
}

}  // namespace kemu::nt
