// I/O structures drivers fill and hand to the kernel, at their real x64
// offsets (mingw-w64 wdm.h; tests/conformance checks them): the cancel-safe
// queue (IO_CSQ) and its per-IRP context (IO_CSQ_IRP_CONTEXT).
#pragma once

#include <cstddef>
#include <cstdint>

namespace kemu::nt::layout {

// IO_TYPE_CSQ_* values in the Type fields of the CSQ structures.
constexpr uint32_t kIoTypeCsqIrpContext = 1;
constexpr uint32_t kIoTypeCsq = 2;
constexpr uint32_t kIoTypeCsqEx = 3;

struct IO_CSQ {
  uint32_t Type;  // IO_TYPE_CSQ or IO_TYPE_CSQ_EX
  uint32_t pad;
  uint64_t CsqInsertIrp;  // CsqInsertIrpEx for IO_TYPE_CSQ_EX
  uint64_t CsqRemoveIrp;
  uint64_t CsqPeekNextIrp;
  uint64_t CsqAcquireLock;
  uint64_t CsqReleaseLock;
  uint64_t CsqCompleteCanceledIrp;
  uint64_t ReservePointer;
};
static_assert(offsetof(IO_CSQ, CsqInsertIrp) == 0x08);
static_assert(offsetof(IO_CSQ, CsqCompleteCanceledIrp) == 0x30);
static_assert(sizeof(IO_CSQ) == 0x40);

struct IO_CSQ_IRP_CONTEXT {
  uint32_t Type;  // IO_TYPE_CSQ_IRP_CONTEXT
  uint32_t pad;
  uint64_t Irp;
  uint64_t Csq;
};
static_assert(sizeof(IO_CSQ_IRP_CONTEXT) == 0x18);

}  // namespace kemu::nt::layout
