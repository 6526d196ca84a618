#include "ntoskrnl-stubs/se/sid.h"

#include <fmt/format.h>

#include "emulator/address_space.h"

namespace kemu::nt::se {

Sid Sid::make(uint64_t authority, std::initializer_list<uint32_t> subs) {
  Sid s;
  s.authority = authority;
  s.sub_authorities.assign(subs.begin(), subs.end());
  return s;
}

std::vector<uint8_t> Sid::bytes() const {
  std::vector<uint8_t> out(length(), 0);
  out[0] = revision;
  out[1] = static_cast<uint8_t>(sub_authorities.size());
  // IdentifierAuthority.Value[6] is big-endian.
  for (int i = 0; i < 6; ++i) out[2 + i] = static_cast<uint8_t>(authority >> (8 * (5 - i)));
  for (size_t i = 0; i < sub_authorities.size(); ++i)
    for (int b = 0; b < 4; ++b)
      out[8 + 4 * i + b] = static_cast<uint8_t>(sub_authorities[i] >> (8 * b));
  return out;
}

std::string Sid::to_string() const {
  // RtlConvertSidToUnicodeString: the authority in decimal when it fits in
  // 32 bits, otherwise as 0x and twelve hex digits.
  std::string out = fmt::format("S-{}-", revision);
  if (authority >> 32)
    out += fmt::format("0x{:012X}", authority);
  else
    out += fmt::format("{}", authority);
  for (uint32_t sub : sub_authorities) out += fmt::format("-{}", sub);
  return out;
}

std::optional<Sid> parse_sid(std::span<const uint8_t> bytes) {
  if (bytes.size() < 8) return std::nullopt;
  if ((bytes[0] & 0xF) != kSidRevision || bytes[1] > kSidMaxSubAuthorities) return std::nullopt;
  size_t count = bytes[1];
  if (bytes.size() < 8 + 4 * count) return std::nullopt;
  Sid s;
  s.revision = bytes[0];
  for (int i = 0; i < 6; ++i) s.authority = (s.authority << 8) | bytes[2 + i];
  for (size_t i = 0; i < count; ++i) {
    uint32_t v = 0;
    for (int b = 3; b >= 0; --b) v = (v << 8) | bytes[8 + 4 * i + b];
    s.sub_authorities.push_back(v);
  }
  return s;
}

bool valid_sid_at(const emu::AddressSpace& memory, GuestVa sid) {
  auto header = memory.read<uint16_t>(sid);
  return (header & 0xF) == kSidRevision && (header >> 8) <= kSidMaxSubAuthorities;
}

Sid read_sid(const emu::AddressSpace& memory, GuestVa sid) {
  uint8_t count = memory.read<uint8_t>(sid + 1);
  std::vector<uint8_t> bytes(8 + 4 * static_cast<size_t>(count));
  if (!memory.read(sid, bytes.data(), bytes.size())) throw emu::GuestAccessError(sid, false);
  Sid s;
  s.revision = bytes[0];
  for (int i = 0; i < 6; ++i) s.authority = (s.authority << 8) | bytes[2 + i];
  for (size_t i = 0; i < count; ++i) {
    uint32_t v = 0;
    for (int b = 3; b >= 0; --b) v = (v << 8) | bytes[8 + 4 * i + b];
    s.sub_authorities.push_back(v);
  }
  return s;
}

namespace sids {
// Identifier authorities: NULL 0, WORLD 1, LOCAL 2, CREATOR 3, NT 5,
// APP_PACKAGE 15, MANDATORY_LABEL 16, PROCESS_TRUST 19.
Sid null_sid() {
  return Sid::make(0, {0});
}
Sid world() {
  return Sid::make(1, {0});
}
Sid local() {
  return Sid::make(2, {0});
}
Sid console_logon() {
  return Sid::make(2, {1});
}
Sid creator_owner() {
  return Sid::make(3, {0});
}
Sid creator_group() {
  return Sid::make(3, {1});
}
Sid owner_rights() {
  return Sid::make(3, {4});
}
Sid nt_authority() {
  return Sid::make(5, {});
}
Sid dialup() {
  return Sid::make(5, {1});
}
Sid network() {
  return Sid::make(5, {2});
}
Sid batch() {
  return Sid::make(5, {3});
}
Sid interactive() {
  return Sid::make(5, {4});
}
Sid service() {
  return Sid::make(5, {6});
}
Sid anonymous_logon() {
  return Sid::make(5, {7});
}
Sid authenticated_users() {
  return Sid::make(5, {11});
}
Sid restricted() {
  return Sid::make(5, {12});
}
Sid this_organization() {
  return Sid::make(5, {15});
}
Sid iuser() {
  return Sid::make(5, {17});
}
Sid local_system() {
  return Sid::make(5, {18});
}
Sid local_service() {
  return Sid::make(5, {19});
}
Sid network_service() {
  return Sid::make(5, {20});
}
Sid admins() {
  return Sid::make(5, {32, 544});
}
Sid users() {
  return Sid::make(5, {32, 545});
}
Sid guests() {
  return Sid::make(5, {32, 546});
}
Sid power_users() {
  return Sid::make(5, {32, 547});
}
Sid account_ops() {
  return Sid::make(5, {32, 548});
}
Sid system_ops() {
  return Sid::make(5, {32, 549});
}
Sid print_ops() {
  return Sid::make(5, {32, 550});
}
Sid backup_ops() {
  return Sid::make(5, {32, 551});
}
Sid ntlm_authentication() {
  return Sid::make(5, {64, 10});
}
Sid local_account() {
  return Sid::make(5, {113});
}
Sid local_account_admin() {
  return Sid::make(5, {114});
}
Sid user_mode_drivers() {
  return Sid::make(5, {84, 0, 0, 0, 0, 0});
}
Sid trusted_installer() {
  return Sid::make(5, {80, 956008885u, 3418522649u, 1831038044u, 1853292631u, 2271478464u});
}
Sid all_app_packages() {
  return Sid::make(15, {2, 1});
}
Sid untrusted_mandatory() {
  return Sid::make(16, {0});
}
Sid low_mandatory() {
  return Sid::make(16, {0x1000});
}
Sid medium_mandatory() {
  return Sid::make(16, {0x2000});
}
Sid high_mandatory() {
  return Sid::make(16, {0x3000});
}
Sid system_mandatory() {
  return Sid::make(16, {0x4000});
}
Sid proc_trust_wintcb() {
  return Sid::make(19, {1024, 8192});
}
}  // namespace sids

}  // namespace kemu::nt::se
