// Security identifiers in their binary layout (winnt.h SID): Revision (1),
// SubAuthorityCount (at most 15), a 6-byte big-endian IdentifierAuthority,
// then SubAuthorityCount little-endian ULONGs. RtlLengthSid is
// 8 + 4 * SubAuthorityCount.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "emulator/types.h"

namespace kemu::emu {
class AddressSpace;
}

namespace kemu::nt::se {

constexpr uint8_t kSidRevision = 1;
constexpr uint8_t kSidMaxSubAuthorities = 15;

struct Sid {
  uint8_t revision = kSidRevision;
  uint64_t authority = 0;  // the 48-bit IdentifierAuthority
  std::vector<uint32_t> sub_authorities;

  static Sid make(uint64_t authority, std::initializer_list<uint32_t> sub_authorities);
  uint32_t length() const { return 8 + 4 * static_cast<uint32_t>(sub_authorities.size()); }
  std::vector<uint8_t> bytes() const;
  // "S-1-5-32-544" as RtlConvertSidToUnicodeString writes it (an authority
  // of 2^32 or more in hex: "S-1-0x123456789ABC-...").
  std::string to_string() const;
  bool operator==(const Sid&) const = default;
};

// The SID at the start of `bytes`: nullopt when the bytes are too short for
// its SubAuthorityCount or it is not valid (RtlValidSid: revision 1, at most
// 15 sub-authorities).
std::optional<Sid> parse_sid(std::span<const uint8_t> bytes);

// RtlValidSid on guest memory: revision 1 (low nibble of the revision byte,
// as ntoskrnl tests it) and at most 15 sub-authorities. Throws
// emu::GuestAccessError when the header is unreadable (the routine faults).
bool valid_sid_at(const emu::AddressSpace& memory, GuestVa sid);
// The SID at `sid` (throws emu::GuestAccessError on unreadable memory; call
// valid_sid_at first for the revision/count checks).
Sid read_sid(const emu::AddressSpace& memory, GuestVa sid);

// Well-known SIDs (winnt.h, "Well-known SIDs" in the Windows docs).
namespace sids {
Sid null_sid();             // S-1-0-0
Sid world();                // S-1-1-0  Everyone
Sid local();                // S-1-2-0
Sid console_logon();        // S-1-2-1
Sid creator_owner();        // S-1-3-0
Sid creator_group();        // S-1-3-1
Sid owner_rights();         // S-1-3-4
Sid nt_authority();         // S-1-5
Sid dialup();               // S-1-5-1
Sid network();              // S-1-5-2
Sid batch();                // S-1-5-3
Sid interactive();          // S-1-5-4
Sid service();              // S-1-5-6
Sid anonymous_logon();      // S-1-5-7
Sid authenticated_users();  // S-1-5-11
Sid restricted();           // S-1-5-12
Sid this_organization();    // S-1-5-15
Sid iuser();                // S-1-5-17
Sid local_system();         // S-1-5-18
Sid local_service();        // S-1-5-19
Sid network_service();      // S-1-5-20
Sid admins();               // S-1-5-32-544
Sid users();                // S-1-5-32-545
Sid guests();               // S-1-5-32-546
Sid power_users();          // S-1-5-32-547
Sid account_ops();          // S-1-5-32-548
Sid system_ops();           // S-1-5-32-549
Sid print_ops();            // S-1-5-32-550
Sid backup_ops();           // S-1-5-32-551
Sid ntlm_authentication();  // S-1-5-64-10
Sid local_account();        // S-1-5-113
Sid local_account_admin();  // S-1-5-114
Sid user_mode_drivers();    // S-1-5-84-0-0-0-0-0
Sid trusted_installer();    // S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464
Sid all_app_packages();     // S-1-15-2-1
Sid untrusted_mandatory();  // S-1-16-0
Sid low_mandatory();        // S-1-16-4096
Sid medium_mandatory();     // S-1-16-8192
Sid high_mandatory();       // S-1-16-12288
Sid system_mandatory();     // S-1-16-16384
Sid proc_trust_wintcb();    // S-1-19-1024-8192
}  // namespace sids

}  // namespace kemu::nt::se
