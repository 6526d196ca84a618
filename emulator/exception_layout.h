// x64 exception structures the dispatcher builds in guest memory, at their
// real offsets (winnt.h): EXCEPTION_RECORD, CONTEXT, DISPATCHER_CONTEXT,
// EXCEPTION_POINTERS, and the flag and disposition values.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kemu::emu::seh {

constexpr uint32_t kExceptionNoncontinuable = 0x1;
constexpr uint32_t kExceptionUnwinding = 0x2;
constexpr uint32_t kExceptionExitUnwind = 0x4;
constexpr uint32_t kExceptionStackInvalid = 0x8;
constexpr uint32_t kExceptionNestedCall = 0x10;
constexpr uint32_t kExceptionTargetUnwind = 0x20;
constexpr uint32_t kExceptionCollidedUnwind = 0x40;
constexpr uint32_t kExceptionUnwind = kExceptionUnwinding | kExceptionExitUnwind;

// EXCEPTION_DISPOSITION returned by language handlers.
constexpr uint32_t kExceptionContinueExecution = 0;
constexpr uint32_t kExceptionContinueSearch = 1;
constexpr uint32_t kExceptionNestedException = 2;
constexpr uint32_t kExceptionCollidedUnwindDisposition = 3;

// Filter results.
constexpr int32_t kExceptionExecuteHandler = 1;
constexpr int32_t kExceptionContinueSearchFilter = 0;
constexpr int32_t kExceptionContinueExecutionFilter = -1;

constexpr uint32_t kExceptionMaximumParameters = 15;

struct EXCEPTION_RECORD {
  uint32_t ExceptionCode;
  uint32_t ExceptionFlags;
  uint64_t ExceptionRecord;
  uint64_t ExceptionAddress;
  uint32_t NumberParameters;
  uint32_t pad;
  uint64_t ExceptionInformation[kExceptionMaximumParameters];
};
static_assert(sizeof(EXCEPTION_RECORD) == 0x98);

struct M128 {
  uint64_t low, high;
};

struct CONTEXT {
  uint64_t P1Home, P2Home, P3Home, P4Home, P5Home, P6Home;
  uint32_t ContextFlags;
  uint32_t MxCsr;
  uint16_t SegCs, SegDs, SegEs, SegFs, SegGs, SegSs;
  uint32_t EFlags;
  uint64_t Dr0, Dr1, Dr2, Dr3, Dr6, Dr7;
  uint64_t Rax, Rcx, Rdx, Rbx, Rsp, Rbp, Rsi, Rdi;
  uint64_t R8, R9, R10, R11, R12, R13, R14, R15;
  uint64_t Rip;
  // XMM_SAVE_AREA32 (FltSave), 512 bytes: MxCsr at +0x18, Xmm0..15 at +0xA0.
  uint8_t FltSaveHeader[0xA0];
  M128 Xmm[16];
  uint8_t FltSaveTail[0x60];
  M128 VectorRegister[26];
  uint64_t VectorControl;
  uint64_t DebugControl;
  uint64_t LastBranchToRip;
  uint64_t LastBranchFromRip;
  uint64_t LastExceptionToRip;
  uint64_t LastExceptionFromRip;
};
static_assert(offsetof(CONTEXT, ContextFlags) == 0x30);
static_assert(offsetof(CONTEXT, EFlags) == 0x44);
static_assert(offsetof(CONTEXT, Rax) == 0x78);
static_assert(offsetof(CONTEXT, Rsp) == 0x98);
static_assert(offsetof(CONTEXT, Rip) == 0xF8);
static_assert(offsetof(CONTEXT, Xmm) == 0x1A0);
static_assert(offsetof(CONTEXT, VectorRegister) == 0x300);
static_assert(sizeof(CONTEXT) == 0x4D0);

// CONTEXT_AMD64 | CONTROL | INTEGER | SEGMENTS | FLOATING_POINT
constexpr uint32_t kContextFull = 0x10000B;
constexpr uint32_t kContextAll = 0x10001F;

struct DISPATCHER_CONTEXT {
  uint64_t ControlPc;
  uint64_t ImageBase;
  uint64_t FunctionEntry;
  uint64_t EstablisherFrame;
  uint64_t TargetIp;
  uint64_t ContextRecord;
  uint64_t LanguageHandler;
  uint64_t HandlerData;
  uint64_t HistoryTable;
  uint32_t ScopeIndex;
  uint32_t Fill0;
};
static_assert(sizeof(DISPATCHER_CONTEXT) == 0x50);

struct EXCEPTION_POINTERS {
  uint64_t ExceptionRecord;
  uint64_t ContextRecord;
};

}  // namespace kemu::emu::seh
