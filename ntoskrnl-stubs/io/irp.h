// The IRP routines as the I/O manager itself uses them (their handlers are
// the exports of the same names, io/irp_exports.cpp).
#pragma once

#include <cstdint>

#include "emulator/ntstatus.h"
#include "emulator/types.h"

namespace kemu::nt {
class Kernel;
class Registry;

// Registration of the other I/O routine files (called by register_irp_exports).
void register_cancel_exports(Registry& r);        // io/cancel.cpp
void register_csq_exports(Registry& r);           // io/csq.cpp
void register_device_stack_exports(Registry& r);  // io/device_stack.cpp
void register_device_queue_exports(Registry& r);  // io/device_queue.cpp

// Kernel routines that are not exported but that guest code reaches through a
// pointer (registered as internal routines in kernel.cpp).
void IopCsqCancelRoutine(Kernel& k, GuestVa device, GuestVa irp);  // io/csq.cpp

// IoCancelIrp and the cancel spin lock (io/cancel.cpp).
bool IoCancelIrp(Kernel& k, GuestVa irp);
void IoAcquireCancelSpinLock(Kernel& k, GuestVa irql_out);
void IoReleaseCancelSpinLock(Kernel& k, uint8_t irql);

GuestVa IoAllocateIrp(Kernel& k, int8_t stack_size, bool charge_quota);
void IoFreeIrp(Kernel& k, GuestVa irp);
NtStatus IofCallDriver(Kernel& k, GuestVa device, GuestVa irp);
void IofCompleteRequest(Kernel& k, GuestVa irp, int8_t boost);

// IRP_MJ_* codes.
namespace irp_mj {
constexpr uint8_t kCreate = 0x00;
constexpr uint8_t kClose = 0x02;
constexpr uint8_t kRead = 0x03;
constexpr uint8_t kWrite = 0x04;
constexpr uint8_t kQueryInformation = 0x05;
constexpr uint8_t kSetInformation = 0x06;
constexpr uint8_t kFlushBuffers = 0x09;
constexpr uint8_t kQueryVolumeInformation = 0x0A;
constexpr uint8_t kDirectoryControl = 0x0C;
constexpr uint8_t kDeviceControl = 0x0E;
constexpr uint8_t kInternalDeviceControl = 0x0F;
constexpr uint8_t kShutdown = 0x10;
constexpr uint8_t kCleanup = 0x12;
}  // namespace irp_mj

}  // namespace kemu::nt
