#include "ntoskrnl-stubs/se/acl.h"

#include <cstring>

#include "emulator/address_space.h"
#include "ntoskrnl-stubs/layout/se_structs.h"

namespace kemu::nt::se {

namespace {

uint16_t u16(std::span<const uint8_t> b, size_t at) {
  return static_cast<uint16_t>(b[at] | (b[at + 1] << 8));
}
uint32_t u32(std::span<const uint8_t> b, size_t at) {
  return static_cast<uint32_t>(b[at]) | (static_cast<uint32_t>(b[at + 1]) << 8) |
         (static_cast<uint32_t>(b[at + 2]) << 16) | (static_cast<uint32_t>(b[at + 3]) << 24);
}
void put32(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = static_cast<uint8_t>(v >> (8 * i));
}

// ACE types whose SID follows the mask (ACCESS_ALLOWED_ACE layout): allowed,
// denied, audit, alarm, the callback variants, mandatory label, scoped
// policy, process trust label (ntoskrnl's RtlValidAcl bitmap 0x1A660F).
bool sid_after_mask(uint8_t type) {
  return type <= 20 && ((0x1A660Fu >> type) & 1);
}
// Object ACE types (bitmap 0x199E0): allowed/denied/audit/alarm object and
// their callback variants; they need an ACL_REVISION_DS ACL.
bool object_ace(uint8_t type) {
  return type <= 16 && ((0x199E0u >> type) & 1);
}

// Where an object ACE's SID starts: after Mask, Flags and the GUIDs present.
uint32_t object_sid_offset(uint32_t object_flags) {
  uint32_t off = 12;
  if (object_flags & kAceObjectTypePresent) off += 16;
  if (object_flags & kAceInheritedObjectTypePresent) off += 16;
  return off;
}

bool valid_sid_in(std::span<const uint8_t> ace, uint32_t at) {
  if (at + 8 > ace.size()) return false;
  if (ace[at] != kSidRevision || ace[at + 1] > kSidMaxSubAuthorities) return false;
  return at + 8 + 4u * ace[at + 1] <= ace.size();
}

}  // namespace

bool valid_acl(std::span<const uint8_t> acl) {
  if (acl.size() < sizeof(layout::ACL)) return false;
  uint8_t revision = acl[0];
  if (revision < kMinAclRevision || revision > kMaxAclRevision) return false;
  uint16_t acl_size = u16(acl, 2);
  if (acl_size < sizeof(layout::ACL) || acl.size() < acl_size) return false;
  uint16_t count = u16(acl, 4);
  uint32_t at = sizeof(layout::ACL);
  for (uint32_t i = 0; i < count; ++i) {
    // Room for the ACE header, an aligned header, the whole ACE inside AclSize.
    if (at + sizeof(layout::ACE_HEADER) >= acl_size) return false;
    if (at & 1) return false;
    uint8_t type = acl[at];
    uint16_t size = u16(acl, at + 2);
    if (at + size > acl_size) return false;
    std::span<const uint8_t> ace = acl.subspan(at, size);
    if (sid_after_mask(type)) {
      if ((size & 3) != 0 || size < 16) return false;
      if (ace[8] != kSidRevision || ace[9] > kSidMaxSubAuthorities) return false;
      if (size < 16u + 4u * ace[9]) return false;
    } else if (type == kAccessAllowedCompoundAce) {
      // Compound ACEs (impersonation) need ACL_REVISION3; mask, compound
      // type, then two SIDs.
      if (revision < 3 || size < 12 || !valid_sid_in(ace, 12)) return false;
      uint32_t second = 12 + 8 + 4u * ace[13];
      if (!valid_sid_in(ace, second)) return false;
    } else if (object_ace(type)) {
      if (revision < kAclRevisionDs || size < 12) return false;
      if (!valid_sid_in(ace, object_sid_offset(u32(ace, 8)))) return false;
    } else if (size < sizeof(layout::ACE_HEADER)) {
      return false;
    }
    at += size;
  }
  return true;
}

std::vector<AceView> parse_aces(std::span<const uint8_t> acl) {
  std::vector<AceView> out;
  uint16_t acl_size = u16(acl, 2);
  uint16_t count = u16(acl, 4);
  uint32_t at = sizeof(layout::ACL);
  for (uint32_t i = 0; i < count && at + sizeof(layout::ACE_HEADER) <= acl_size; ++i) {
    AceView v;
    v.type = acl[at];
    v.flags = acl[at + 1];
    v.size = u16(acl, at + 2);
    v.offset = at;
    std::span<const uint8_t> ace = acl.subspan(at, std::min<size_t>(v.size, acl_size - at));
    if (ace.size() >= 8) v.mask = u32(ace, 4);
    if (sid_after_mask(v.type) && ace.size() >= 16) {
      v.sid = parse_sid(ace.subspan(8));
    } else if (object_ace(v.type) && ace.size() >= 12) {
      v.object_flags = u32(ace, 8);
      uint32_t sid_at = object_sid_offset(v.object_flags);
      if (sid_at < ace.size()) v.sid = parse_sid(ace.subspan(sid_at));
    }
    uint16_t size = v.size;
    out.push_back(std::move(v));
    if (size == 0) break;
    at += size;
  }
  return out;
}

std::vector<uint8_t> read_acl(const emu::AddressSpace& memory, GuestVa acl) {
  uint16_t size = memory.read<uint16_t>(acl + 2);
  std::vector<uint8_t> bytes(std::max<size_t>(size, sizeof(layout::ACL)));
  if (!memory.read(acl, bytes.data(), bytes.size())) throw emu::GuestAccessError(acl, false);
  return bytes;
}

std::vector<uint8_t> make_acl(const std::vector<AceSpec>& aces, uint8_t revision) {
  size_t size = sizeof(layout::ACL);
  for (const AceSpec& a : aces) size += 8 + a.sid.length();
  std::vector<uint8_t> out(size, 0);
  out[0] = revision;
  out[2] = static_cast<uint8_t>(size);
  out[3] = static_cast<uint8_t>(size >> 8);
  out[4] = static_cast<uint8_t>(aces.size());
  out[5] = static_cast<uint8_t>(aces.size() >> 8);
  size_t at = sizeof(layout::ACL);
  for (const AceSpec& a : aces) {
    uint16_t ace_size = static_cast<uint16_t>(8 + a.sid.length());
    out[at] = a.type;
    out[at + 1] = a.flags;
    out[at + 2] = static_cast<uint8_t>(ace_size);
    out[at + 3] = static_cast<uint8_t>(ace_size >> 8);
    put32(out, at + 4, a.mask);
    std::vector<uint8_t> sid = a.sid.bytes();
    std::memcpy(out.data() + at + 8, sid.data(), sid.size());
    at += ace_size;
  }
  return out;
}

uint32_t map_generic(uint32_t access, const layout::GENERIC_MAPPING& m) {
  constexpr uint32_t kGenericRead = 0x80000000, kGenericWrite = 0x40000000,
                     kGenericExecute = 0x20000000, kGenericAll = 0x10000000;
  uint32_t out = access & ~(kGenericRead | kGenericWrite | kGenericExecute | kGenericAll);
  if (access & kGenericRead) out |= m.GenericRead;
  if (access & kGenericWrite) out |= m.GenericWrite;
  if (access & kGenericExecute) out |= m.GenericExecute;
  if (access & kGenericAll) out |= m.GenericAll;
  return out;
}

void map_acl_generic(std::vector<uint8_t>& acl, const layout::GENERIC_MAPPING& mapping) {
  for (const AceView& ace : parse_aces(acl)) {
    if (ace.flags & kInheritOnlyAce) continue;  // kept for the children it is inherited by
    if (!sid_after_mask(ace.type) && !object_ace(ace.type)) continue;
    if (ace.type == kSystemMandatoryLabelAce) continue;  // its mask is a policy, not rights
    put32(acl, ace.offset + 4, map_generic(ace.mask, mapping));
  }
}

}  // namespace kemu::nt::se
