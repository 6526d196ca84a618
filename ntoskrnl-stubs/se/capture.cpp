#include "ntoskrnl-stubs/se/capture.h"

#include "emulator/address_space.h"
#include "ntoskrnl-stubs/api/caller_memory.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/se_structs.h"

namespace kemu::nt::se {

namespace {

// ProbeForRead of every part a UserMode descriptor points at, before any is
// read (SepProbeAndCaptureString-style: header, then each SID and ACL with
// the size its own header declares).
NtStatus probe_user_descriptor(const emu::AddressSpace& memory, GuestVa va) {
  if (NtStatus st = caller::probe(va, sizeof(layout::SECURITY_DESCRIPTOR_RELATIVE), 4);
      !nt_success(st))
    return st;
  uint16_t control = memory.read<uint16_t>(va + 2);
  bool relative = (control & kSeSelfRelative) != 0;
  if (!relative)
    if (NtStatus st = caller::probe(va, sizeof(layout::SECURITY_DESCRIPTOR), 4); !nt_success(st))
      return st;
  GuestVa owner, group, sacl, dacl;
  if (relative) {
    auto rel = memory.read<layout::SECURITY_DESCRIPTOR_RELATIVE>(va);
    if (rel.Owner) owner = va + rel.Owner;
    if (rel.Group) group = va + rel.Group;
    if ((control & kSeSaclPresent) && rel.Sacl) sacl = va + rel.Sacl;
    if ((control & kSeDaclPresent) && rel.Dacl) dacl = va + rel.Dacl;
  } else {
    auto abs = memory.read<layout::SECURITY_DESCRIPTOR>(va);
    owner = GuestVa{abs.Owner};
    group = GuestVa{abs.Group};
    if (control & kSeSaclPresent) sacl = GuestVa{abs.Sacl};
    if (control & kSeDaclPresent) dacl = GuestVa{abs.Dacl};
  }
  for (GuestVa sid : {owner, group}) {
    if (!sid) continue;
    if (NtStatus st = caller::probe(sid, 8, 4); !nt_success(st)) return st;
    uint8_t count = memory.read<uint8_t>(sid + 1);
    if (NtStatus st = caller::probe(sid, 8 + 4ull * count, 4); !nt_success(st)) return st;
  }
  for (GuestVa acl : {sacl, dacl}) {
    if (!acl) continue;
    if (NtStatus st = caller::probe(acl, sizeof(layout::ACL), 4); !nt_success(st)) return st;
    uint16_t size = memory.read<uint16_t>(acl + 2);
    if (NtStatus st = caller::probe(acl, size, 4); !nt_success(st)) return st;
  }
  return STATUS_SUCCESS;
}

}  // namespace

NtStatus capture_descriptor(Kernel& kernel, ProcessorMode mode, GuestVa va,
                            SecurityDescriptor* out) {
  try {
    if (mode == ProcessorMode::UserMode)
      if (NtStatus st = probe_user_descriptor(kernel.memory(), va); !nt_success(st)) return st;
    NtStatus why = STATUS_SUCCESS;
    auto sd = read_security_descriptor(kernel.memory(), va, &why);
    if (!sd) return why;
    *out = std::move(*sd);
    return STATUS_SUCCESS;
  } catch (const emu::GuestAccessError& e) {
    // The capture runs inside the service's __try: a user address is a status.
    if (is_user_address(e.address)) return STATUS_ACCESS_VIOLATION;
    throw;
  }
}

GuestVa allocate_self_relative(Kernel& kernel, const SecurityDescriptor& sd, uint32_t pool_type,
                               uint32_t tag) {
  std::vector<uint8_t> bytes = to_self_relative(sd);
  emu::Machine& m = kernel.machine();
  auto block = m.pool().allocate(bytes.size(), pool_type, tag, m.return_address());
  if (!block) return GuestVa{};
  kernel.memory().write(*block, bytes.data(), bytes.size());
  return *block;
}

}  // namespace kemu::nt::se
