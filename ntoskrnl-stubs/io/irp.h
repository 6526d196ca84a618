// The IRP routines as the I/O manager itself uses them (their handlers are
// the exports of the same names, io/irp_exports.cpp).
#pragma once

#include <cstdint>

#include "emulator/ntstatus.h"
#include "emulator/types.h"

namespace kemu::nt {
class Kernel;

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
constexpr uint8_t kCleanup = 0x12;
}  // namespace irp_mj

}  // namespace kemu::nt
