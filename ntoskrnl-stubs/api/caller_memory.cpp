#include "ntoskrnl-stubs/api/caller_memory.h"

#include <vector>

#include "emulator/address_space.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/nt_structs.h"

namespace kemu::nt::caller {

namespace {

// A fault of the service's own access: user addresses are caught by the
// service's __try, kernel addresses are not (they bugcheck, as on Windows).
NtStatus fault(GuestVa va, bool write) {
  if (is_user_address(va)) return STATUS_ACCESS_VIOLATION;
  throw emu::GuestAccessError(va, write);
}

NtStatus check_user_access(Kernel& k, ProcessorMode mode, GuestVa va, uint64_t length, uint32_t alignment, bool write) {
  if (length == 0) return STATUS_SUCCESS;
  if (mode == ProcessorMode::UserMode) {
    if (NtStatus st = probe(va, length, alignment); !nt_success(st)) return st;
    // User rights: a read-only or no-access user page faults.
    if (!k.memory().accessible(va, length, write ? Prot::Write : Prot::Read)) {
      for (uint64_t off = 0; off < length; off += kPageSize - ((va.value + off) & 0xFFF)) {
        if (!k.memory().accessible(va + off, 1, write ? Prot::Write : Prot::Read))
          return fault(va + off, write);
      }
      return fault(va, write);
    }
  }
  return STATUS_SUCCESS;
}

}  // namespace

NtStatus probe(GuestVa va, uint64_t length, uint32_t alignment) {
  if (length == 0) return STATUS_SUCCESS;
  if (va.value & static_cast<uint32_t>(alignment - 1)) return STATUS_DATATYPE_MISALIGNMENT;
  uint64_t end = va.value + length;
  if (end < va.value || end > kemu::layout::kUserProbeAddress) return STATUS_ACCESS_VIOLATION;
  return STATUS_SUCCESS;
}

NtStatus read_bytes(Kernel& k, ProcessorMode mode, GuestVa va, void* out, uint64_t length, uint32_t alignment) {
  if (NtStatus st = check_user_access(k, mode, va, length, alignment, false); !nt_success(st)) return st;
  if (length && !k.memory().read(va, out, length)) {
    for (uint64_t off = 0; off < length; ++off)
      if (!k.memory().is_mapped(va + off)) return fault(va + off, false);
  }
  return STATUS_SUCCESS;
}

NtStatus write_bytes(Kernel& k, ProcessorMode mode, GuestVa va, const void* in, uint64_t length,
                     uint32_t alignment) {
  if (NtStatus st = check_user_access(k, mode, va, length, alignment, true); !nt_success(st)) return st;
  if (length && !k.memory().write(va, in, length)) {
    for (uint64_t off = 0; off < length; ++off)
      if (!k.memory().is_mapped(va + off)) return fault(va + off, true);
  }
  return STATUS_SUCCESS;
}

NtStatus read_unicode_string(Kernel& k, ProcessorMode mode, GuestVa us, std::u16string* out) {
  layout::UNICODE_STRING s{};
  if (NtStatus st = read(k, mode, us, &s); !nt_success(st)) return st;
  if ((s.Length & 1) || s.Length > s.MaximumLength) return STATUS_INVALID_PARAMETER;
  out->assign(s.Length / 2, u'\0');
  return read_bytes(k, mode, GuestVa{s.Buffer}, out->data(), s.Length, 2);
}

NtStatus probe_for_write(Kernel& k, ProcessorMode mode, GuestVa va, uint64_t size) {
  if (mode != ProcessorMode::UserMode) return STATUS_SUCCESS;
  std::vector<uint8_t> current(size);
  if (NtStatus st = read_bytes(k, mode, va, current.data(), size, 1); !nt_success(st)) return st;
  return write_bytes(k, mode, va, current.data(), size, 1);
}

void store_result_bytes(Kernel& k, ProcessorMode mode, GuestVa va, const void* value, uint64_t size) {
  if (mode == ProcessorMode::UserMode) {
    (void)write_bytes(k, mode, va, value, size, 1);
    return;
  }
  if (!k.memory().accessible(va, size, Prot::Write)) throw emu::GuestAccessError(va, true);
  k.memory().write(va, value, size);
}

}  // namespace kemu::nt::caller
