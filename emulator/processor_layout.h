// Offsets of the processor, thread and process fields that inline driver code
// reads (Windows 10 x64 build 19045, semantics.md §2), and the
// KUSER_SHARED_DATA fields kemu fills. The only place these numbers appear.
#pragma once

#include <cstdint>

namespace kemu::emu::kpcr {
constexpr uint64_t kSelf = 0x18;         // KPCR.Self
constexpr uint64_t kCurrentPrcb = 0x20;  // KPCR.CurrentPrcb
constexpr uint64_t kIrql = 0x50;         // KPCR.Irql (kept in sync with CR8)
constexpr uint64_t kMajorVersion = 0x60;
constexpr uint64_t kMinorVersion = 0x62;
constexpr uint64_t kPrcb = 0x180;  // embedded KPRCB
constexpr uint64_t kSize = 0x1000 * 8;
}  // namespace kemu::emu::kpcr

namespace kemu::emu::kprcb {
constexpr uint64_t kNumber = 0x4;          // gs:[0x184], KeGetCurrentProcessorNumber
constexpr uint64_t kCurrentThread = 0x8;   // gs:[0x188], KeGetCurrentThread
constexpr uint64_t kNextThread = 0x10;
constexpr uint64_t kIdleThread = 0x18;
}  // namespace kemu::emu::kprcb

namespace kemu::emu::kthread {
constexpr uint64_t kHeader = 0x0;  // DISPATCHER_HEADER (Type 6 = ThreadObject)
constexpr uint64_t kInitialStack = 0x28;
constexpr uint64_t kStackLimit = 0x30;
constexpr uint64_t kStackBase = 0x38;
constexpr uint64_t kApcStateProcess = 0xB8;  // KTHREAD.ApcState.Process
constexpr uint64_t kPriority = 0xC3;          // KTHREAD.Priority (SCHAR)
constexpr uint64_t kTeb = 0xF0;
constexpr uint64_t kProcess = 0x220;       // KTHREAD.Process
constexpr uint64_t kPreviousMode = 0x232;  // 0 KernelMode, 1 UserMode
constexpr uint64_t kCidUniqueProcess = 0x478;  // ETHREAD.Cid.UniqueProcess
constexpr uint64_t kCidUniqueThread = 0x480;   // ETHREAD.Cid.UniqueThread
constexpr uint64_t kIrpList = 0x4B0;           // ETHREAD.IrpList (IRPs the thread issued)
constexpr uint64_t kSize = 0x898;              // sizeof(ETHREAD)
constexpr uint8_t kDispatcherType = 6;
}  // namespace kemu::emu::kthread

namespace kemu::emu::eprocess {
constexpr uint64_t kHeader = 0x0;  // DISPATCHER_HEADER (Type 3 = ProcessObject)
constexpr uint64_t kDirectoryTableBase = 0x28;
constexpr uint64_t kUniqueProcessId = 0x440;
constexpr uint64_t kActiveProcessLinks = 0x448;
constexpr uint64_t kToken = 0x4B8;  // EX_FAST_REF
constexpr uint64_t kImageFileName = 0x5A8;  // UCHAR[15]
constexpr uint64_t kProtection = 0x87A;     // PS_PROTECTION (Level: Type 3 bits, Audit 1, Signer 4)
constexpr uint64_t kSize = 0xA40;
constexpr uint8_t kDispatcherType = 3;
}  // namespace kemu::emu::eprocess

// KUSER_SHARED_DATA (ntddk.h), kernel address 0xFFFFF78000000000.
namespace kemu::emu::shared_data {
constexpr uint64_t kTickCountLowDeprecated = 0x0;
constexpr uint64_t kTickCountMultiplier = 0x4;
constexpr uint64_t kInterruptTime = 0x8;  // KSYSTEM_TIME
constexpr uint64_t kSystemTime = 0x14;    // KSYSTEM_TIME
constexpr uint64_t kTimeZoneBias = 0x20;  // KSYSTEM_TIME
constexpr uint64_t kImageNumberLow = 0x2C;
constexpr uint64_t kImageNumberHigh = 0x2E;
constexpr uint64_t kNtSystemRoot = 0x30;  // WCHAR[260]
constexpr uint64_t kNtBuildNumber = 0x260;
constexpr uint64_t kNtProductType = 0x264;
constexpr uint64_t kProductTypeIsValid = 0x268;
constexpr uint64_t kNativeProcessorArchitecture = 0x26A;
constexpr uint64_t kNtMajorVersion = 0x26C;
constexpr uint64_t kNtMinorVersion = 0x270;
constexpr uint64_t kKdDebuggerEnabled = 0x2D4;
constexpr uint64_t kNumberOfPhysicalPages = 0x2E8;
constexpr uint64_t kQpcFrequency = 0x300;
constexpr uint64_t kTickCount = 0x320;  // KSYSTEM_TIME
constexpr uint64_t kCookie = 0x330;
constexpr uint64_t kActiveProcessorCount = 0x3C0;
constexpr uint64_t kSize = 0x1000;
}  // namespace kemu::emu::shared_data
