// How a system service touches its caller's memory (the capture every NtXxx
// routine does inside its own __try): from UserMode the range is probed first
// (below MmUserProbeAddress, aligned; semantics.md §4) and every access is made
// with user rights; a fault on a user address becomes the service's return
// status (STATUS_ACCESS_VIOLATION / STATUS_DATATYPE_MISALIGNMENT) instead of
// an exception. From KernelMode nothing is probed; a bad user address still
// ends as STATUS_ACCESS_VIOLATION (the service's __try catches it), a bad
// kernel address faults as the routine would (GuestAccessError: bugcheck 0x50).
#pragma once

#include <cstdint>
#include <string>

#include "emulator/ntstatus.h"
#include "emulator/types.h"

namespace kemu::nt {

class Kernel;

namespace caller {

// ProbeForRead/ProbeForWrite's range and alignment decisions, as a status.
NtStatus probe(GuestVa va, uint64_t length, uint32_t alignment);

NtStatus read_bytes(Kernel& k, ProcessorMode mode, GuestVa va, void* out, uint64_t length,
                    uint32_t alignment = 1);
NtStatus write_bytes(Kernel& k, ProcessorMode mode, GuestVa va, const void* in, uint64_t length,
                     uint32_t alignment = 1);

template <class T>
NtStatus read(Kernel& k, ProcessorMode mode, GuestVa va, T* out, uint32_t alignment = alignof(T)) {
  return read_bytes(k, mode, va, out, sizeof(T), alignment);
}
template <class T>
NtStatus write(Kernel& k, ProcessorMode mode, GuestVa va, const T& value, uint32_t alignment = alignof(T)) {
  return write_bytes(k, mode, va, &value, sizeof(T), alignment);
}

// ProbeForWriteHandle / ProbeForWriteUlong-style probes of an output the
// service writes at its end: from UserMode the range is probed, read and
// written back (a fault is the service's status); KernelMode: nothing.
NtStatus probe_for_write(Kernel& k, ProcessorMode mode, GuestVa va, uint64_t size);

// A service's final `try { *Result = Value; } except (ExSystemExceptionFilter())`:
// a UserMode caller's fault is swallowed (the service's status stands); for a
// KernelMode caller the filter declines, so the fault reaches the driver as
// its own (a GuestAccessError: an exception raised into it, or a bugcheck).
void store_result_bytes(Kernel& k, ProcessorMode mode, GuestVa va, const void* value, uint64_t size);
template <class T>
void store_result(Kernel& k, ProcessorMode mode, GuestVa va, const T& value) {
  store_result_bytes(k, mode, va, &value, sizeof(T));
}

// A UNICODE_STRING argument: the structure, then Length bytes of its buffer
// (an odd Length or Length > MaximumLength is STATUS_INVALID_PARAMETER).
NtStatus read_unicode_string(Kernel& k, ProcessorMode mode, GuestVa us, std::u16string* out);

}  // namespace caller
}  // namespace kemu::nt
