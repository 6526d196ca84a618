// The MDL checks of checks.md "Buffers": buffer.null-mdl (a zero-length
// direct I/O request has no MDL, and the driver uses the NULL MdlAddress) and
// buffer.write-read-locked (a write through the system mapping of pages
// locked for IoReadAccess). Only driver code counts: kemu's kernel routines
// are host code, so its copies never reach a write watch and its faults never
// reach the fault observer; a routine given a NULL MDL is reported at the
// driver's call.
#include <fmt/format.h>

#include "emulator/machine.h"
#include "ntoskrnl-stubs/api/export_table.h"
#include "ntoskrnl-stubs/io/io_manager.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/nt_structs.h"
#include "ntoskrnl-stubs/mm/mm.h"
#include "verifier/engine.h"

namespace kemu::verifier::mdl_checks {

namespace {

using nt::layout::DEVICE_OBJECT;
using nt::layout::IO_STACK_LOCATION;
using nt::layout::IRP;
using nt::layout::MDL;

constexpr uint8_t kIrpMjRead = 0x03, kIrpMjWrite = 0x04, kIrpMjDeviceControl = 0x0E,
                  kIrpMjInternalDeviceControl = 0x0F;
constexpr uint32_t kMethodInDirect = 1, kMethodOutDirect = 2;
// A NULL MDL's fields (and a NULL mapping's first page) lie below this.
constexpr uint64_t kNullMdlReach = 0x1000 + sizeof(MDL);

// The running request's Irp->MdlAddress, when the request is direct I/O:
// an IOCTL of METHOD_IN_DIRECT / METHOD_OUT_DIRECT, or a read or write to a
// DO_DIRECT_IO device. nullopt otherwise.
std::optional<uint64_t> direct_io_mdl(Engine& e) {
  const nt::RequestStart* rq = e.request();
  if (!rq) return std::nullopt;
  const emu::AddressSpace& mem = e.kernel().memory();
  auto mdl = mem.try_read<uint64_t>(rq->irp + offsetof(IRP, MdlAddress));
  if (!mdl) return std::nullopt;
  if (rq->major == kIrpMjDeviceControl || rq->major == kIrpMjInternalDeviceControl) {
    uint32_t method = rq->ioctl & 3;
    if (method == kMethodInDirect || method == kMethodOutDirect) return mdl;
    return std::nullopt;
  }
  if (rq->major != kIrpMjRead && rq->major != kIrpMjWrite) return std::nullopt;
  auto stack = mem.try_read<uint64_t>(rq->irp + offsetof(IRP, CurrentStackLocation));
  auto device =
      stack ? mem.try_read<uint64_t>(GuestVa{*stack} + offsetof(IO_STACK_LOCATION, DeviceObject))
            : std::nullopt;
  auto flags = device ? mem.try_read<uint32_t>(GuestVa{*device} + offsetof(DEVICE_OBJECT, Flags))
                      : std::nullopt;
  if (flags && (*flags & nt::io::kDoDirectIo)) return mdl;
  return std::nullopt;
}

const char* request_kind(Engine& e) {
  const nt::RequestStart* rq = e.request();
  if (rq->major == kIrpMjRead) return "read";
  if (rq->major == kIrpMjWrite) return "write";
  return (rq->ioctl & 3) == kMethodInDirect ? "METHOD_IN_DIRECT IOCTL" : "METHOD_OUT_DIRECT IOCTL";
}

// The arguments of `call` that are a PMDL (not a PMDL*, which is an out parameter).
std::vector<size_t> mdl_arguments(const nt::ApiCall& call) {
  std::vector<size_t> out;
  if (!call.desc) return out;
  for (size_t i = 0; i < call.desc->parameters.size() && i < call.args.size(); ++i) {
    const std::string& p = call.desc->parameters[i];
    if (p.rfind("PMDL ", 0) == 0 && p.find('*') == std::string::npos) out.push_back(i);
  }
  return out;
}

std::string parameter_name(const nt::ApiCall& call, size_t i) {
  const std::string& p = call.desc->parameters[i];
  return p.substr(p.find(' ') + 1);
}

// --- buffer.null-mdl ------------------------------------------------------------

void null_mdl_argument(Engine& e, const nt::ApiCall& call) {
  std::vector<size_t> params = mdl_arguments(call);
  if (params.empty()) return;
  auto irp_mdl = direct_io_mdl(e);
  if (!irp_mdl || *irp_mdl != 0) return;
  for (size_t i : params) {
    if (call.args[i] != 0) continue;
    // Zero-length direct I/O: the I/O manager builds no MDL, so MdlAddress is NULL.
    e.report(
        "buffer.null-mdl", call.call_site,
        fmt::format(
            "{} was called with {} NULL during a zero-length {}: with no bytes to transfer the "
            "I/O manager builds no MDL and Irp->MdlAddress is NULL; check it (or the length) "
            "before using it.",
            *call.name, parameter_name(call, i), request_kind(e)),
        {{"routine", *call.name}, {"parameter", parameter_name(call, i)}, {"mdl_address", "NULL"}});
    return;
  }
}

// --- buffer.write-read-locked ---------------------------------------------------

bool is_map_routine(const std::string& name) {
  return name == "MmMapLockedPagesSpecifyCache" || name == "MmMapLockedPages";
}

// The watched mapping still is what it was: the MDL is mapped at the same
// address, still locked for reading, and the page is its mapping.
bool still_read_locked(Engine& e, const Engine::ReadLockedMapping& w, GuestVa address) {
  const emu::AddressSpace& mem = e.kernel().memory();
  auto d = mem.try_read<MDL>(w.mdl);
  if (!d) return false;
  uint16_t flags = static_cast<uint16_t>(d->MdlFlags);
  if (!(flags & nt::mm::kMdlMappedToSystemVa) || !(flags & nt::mm::kMdlPagesLocked) ||
      (flags & nt::mm::kMdlWriteOperation) || d->MappedSystemVa != w.mapping.value)
    return false;
  const emu::Region* r = mem.find(address);
  return r && r->name == fmt::format("mdl {} mapping", w.mdl.hex());
}

void watch_read_locked_mapping(Engine& e, const nt::ApiCall& call) {
  if (call.result == 0 || call.args.empty()) return;
  GuestVa mdl{call.args[0]};
  auto d = e.kernel().memory().try_read<MDL>(mdl);
  if (!d) return;
  uint16_t flags = static_cast<uint16_t>(d->MdlFlags);
  // Pages of nonpaged pool are not locked by a probe; a write lock allows writes.
  if (!(flags & nt::mm::kMdlPagesLocked) || (flags & nt::mm::kMdlWriteOperation) ||
      (flags & nt::mm::kMdlSourceIsNonPagedPool) || d->ByteCount == 0)
    return;
  e.watch_read_locked(
      Engine::ReadLockedMapping{mdl, GuestVa{call.result}, d->ByteCount, call.call_site, 0},
      [&e](const Engine::ReadLockedMapping& w, GuestVa address, uint32_t size, GuestVa rip) {
        if (!still_read_locked(e, w, address)) return;
        e.report("buffer.write-read-locked", rip,
                 fmt::format("the driver wrote {} byte(s) at {} through the system mapping of "
                             "MDL {}, whose pages were locked for IoReadAccess: the buffer is "
                             "the caller's data to read; lock it with IoWriteAccess (or use "
                             "METHOD_OUT_DIRECT) to write it.",
                             size, address.hex(), w.mdl.hex()),
                 {{"address", address.hex()},
                  {"size", std::to_string(size)},
                  {"mdl", w.mdl.hex()},
                  {"mapping", w.mapping.hex()},
                  {"operation", "IoReadAccess"}});
      });
}

}  // namespace

void on_call(Engine& e, const nt::ApiCall& call) {
  null_mdl_argument(e, call);
  // The mapping goes away: MmUnmapLockedPages, MmUnlockPages (which unmaps), IoFreeMdl.
  const std::string& name = *call.name;
  if (name == "MmUnmapLockedPages" && call.args.size() > 1)
    e.unwatch_read_locked(GuestVa{call.args[1]});
  if ((name == "MmUnlockPages" || name == "IoFreeMdl") && !call.args.empty())
    e.unwatch_read_locked(GuestVa{call.args[0]});
}

void on_return(Engine& e, const nt::ApiCall& call) {
  if (is_map_routine(*call.name)) watch_read_locked_mapping(e, call);
}

void on_fault(Engine& e, GuestVa rip, GuestVa address, bool write) {
  // The driver's own instruction read a field of a NULL MDL (the DDK's
  // MmGetSystemAddressForMdlSafe, MmGetMdlVirtualAddress... read MdlFlags,
  // StartVa...) or used a NULL mapping, while the request has no MDL.
  if (address.value >= kNullMdlReach) return;
  auto irp_mdl = direct_io_mdl(e);
  if (!irp_mdl || *irp_mdl != 0) return;
  e.report(
      "buffer.null-mdl", rip,
      fmt::format(
          "the driver {} address {} during a zero-length {}: Irp->MdlAddress is NULL (the I/O "
          "manager builds no MDL when there are no bytes), and the driver used it or a mapping "
          "made from it; check it (or the length) first.",
          write ? "wrote" : "read", address.hex(), request_kind(e)),
      {{"address", address.hex()}, {"access", write ? "write" : "read"}, {"mdl_address", "NULL"}});
}

}  // namespace kemu::verifier::mdl_checks
