// ProbeForRead and ProbeForWrite (semantics.md §4), decisions in the order
// Windows makes them. The probes' own accesses are host accesses (kemu's view
// of guest memory); a fault one of them would take is raised into the driver
// as the routine would raise it, so a driver's __try/__except catches it.
#include "emulator/exception_layout.h"
#include "emulator/ntstatus.h"
#include "ntoskrnl-stubs/api/registry.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/mm/mm.h"

namespace kemu::nt {

namespace mm {

bool page_fault_bugchecks(Kernel& k, GuestVa address, bool write) {
  auto& m = k.machine();
  if (m.irql() < irql::kDispatch) return false;
  GuestVa where = m.call_site();
  m.bugcheck(0xD1, address.value, m.irql(), write ? 1 : 0, where.value, where);
  return true;
}

}  // namespace mm

namespace {

// The access violation of a faulting probe: ExceptionInformation = {0 read /
// 1 write, the address}.
void raise_fault(Kernel& k, GuestVa address, bool write) {
  if (mm::page_fault_bugchecks(k, address, write)) return;
  k.raise_in_caller(STATUS_ACCESS_VIOLATION, 0, {write ? 1ull : 0ull, address.value});
}

// Windows only ASSERTs that Alignment is 1, 2, 4, 8 or 16 (checked builds);
// free builds test Address & (Alignment - 1) with the ULONG mask whatever the
// value, which is what a driver on a release system gets.
bool misaligned(GuestVa address, uint32_t alignment) {
  return (address.value & static_cast<uint32_t>(alignment - 1)) != 0;
}

// The misalignment exception comes from ExRaiseDatatypeMisalignment, i.e.
// ExRaiseStatus: non-continuable, no parameters.
void raise_misalignment(Kernel& k) {
  k.raise_in_caller(STATUS_DATATYPE_MISALIGNMENT, emu::seh::kExceptionNoncontinuable);
}

// Out of range: the routine writes a byte to MmUserProbeAddress, whose 64 KiB
// are a no-access guard, so the fault is a write at that very address.
void raise_out_of_range(Kernel& k) {
  raise_fault(k, GuestVa{layout::kUserProbeAddress}, true);
}

}  // namespace

void ProbeForRead(Kernel& k, GuestVa address, uint64_t length, uint32_t alignment) {
  // 1. Length 0 checks nothing: no exception for a misaligned or kernel address.
  if (length == 0) return;
  // 2. Alignment of the start.
  if (misaligned(address, alignment)) {
    raise_misalignment(k);
    return;
  }
  // 3. The end: wrapping, or beyond MmUserProbeAddress.
  uint64_t end = address.value + length;
  if (end < address.value || end > layout::kUserProbeAddress) {
    raise_out_of_range(k);
    return;
  }
  // 4. No page is touched: an unmapped user range passes.
}

void ProbeForWrite(Kernel& k, GuestVa address, uint64_t length, uint32_t alignment) {
  // 1. Length 0 checks nothing.
  if (length == 0) return;
  // 2. Alignment of the start.
  if (misaligned(address, alignment)) {
    raise_misalignment(k);
    return;
  }
  // 3. The last byte: wrapping, or at/above MmUserProbeAddress.
  uint64_t last = address.value + length - 1;
  if (last < address.value || last >= layout::kUserProbeAddress) {
    raise_out_of_range(k);
    return;
  }
  // 4. Each page is read and written back one byte: the first byte at Address,
  // then each following page start. The read comes first, so an unmapped or
  // no-access page faults as a read (ExceptionInformation[0] = 0) and a
  // read-only page as the write-back (1), both at the touched address.
  auto& mem = k.memory();
  uint64_t va = address.value;
  for (;;) {
    GuestVa at{va};
    if (!mem.accessible(at, 1, Prot::Read)) {
      raise_fault(k, at, false);
      return;
    }
    if (!mem.accessible(at, 1, Prot::Write)) {
      raise_fault(k, at, true);
      return;
    }
    uint8_t byte = mem.read<uint8_t>(at);
    mem.write<uint8_t>(at, byte);
    if (page_down(va) == page_down(last)) return;
    va = page_down(va) + kPageSize;
  }
}

void register_probe_exports(Registry& r) {
  KEMU_EXPORT(r, ProbeForRead);
  KEMU_EXPORT(r, ProbeForWrite);
}

}  // namespace kemu::nt
