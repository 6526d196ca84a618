// The bounds checks of checks.md "Buffers": buffer.input-overread (a read
// past InputBufferLength) and buffer.output-overflow (a write past
// OutputBufferLength or the system buffer), at the accessing instruction.
//
// How they are seen, without changing what Windows would do:
// - METHOD_BUFFERED and the input of direct I/O: the system buffer is a pool
//   block of max(in, out) (direct I/O: in) bytes. The bytes after it up to
//   the next block's data (the block's rounding slack and the next
//   POOL_HEADER) are never a driver's to touch: a read there is past the
//   input, a write past the output. The access goes through, as on Windows.
//   The copy routines (memcpy, memmove, memset, RtlCopyMemory, RtlMoveMemory,
//   RtlFillMemory, RtlZeroMemory) run as host code: their ranges are
//   checked at the driver's call instead.
// - Direct I/O: when the driver maps Irp->MdlAddress, a write past ByteCount
//   in the mapping's last page (the caller's bytes beyond the buffer) or a
//   fault on the guard page after the mapping.
// - METHOD_NEITHER with a page_end placement: the caller's buffer ends on a
//   page followed by an unmapped page; the driver's fault there is the
//   finding (and, unhandled, the bugcheck Windows would raise).
// Limits: an access further than the next POOL_HEADER, or into another live
// pool block, is not attributed; a read of METHOD_BUFFERED bytes in
// [InputBufferLength, OutputBufferLength) is the uninitialised-output
// check's business, not an overread here.
#include <algorithm>
#include <optional>

#include <fmt/format.h>

#include "emulator/machine.h"
#include "emulator/pool.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/nt_structs.h"
#include "verifier/engine.h"

namespace kemu::verifier::bounds_checks {

namespace {

using nt::layout::IO_STACK_LOCATION;
using nt::layout::IRP;

constexpr uint8_t kIrpMjDeviceControl = 0x0E, kIrpMjInternalDeviceControl = 0x0F;
constexpr uint32_t kMethodBuffered = 0, kMethodNeither = 3;
// How far past a page_end buffer a fault still counts as running off its end.
constexpr uint64_t kGuardReach = 0x1000;

bool is_ioctl(const nt::RequestStart& rq) {
  return rq.major == kIrpMjDeviceControl || rq.major == kIrpMjInternalDeviceControl;
}

// An access past a request buffer: a read is buffer.input-overread, a write
// buffer.output-overflow. `size` 0: unknown (a fault reports the first byte
// it could not reach).
void report_past_buffer(Engine& e, const Engine::RequestBuffers& b, GuestVa rip, GuestVa address,
                        uint32_t size, GuestVa buffer, uint64_t buffer_size, const char* what, bool write) {
  e.report(
      write ? "buffer.output-overflow" : "buffer.input-overread", rip,
      fmt::format(
          fmt::runtime(write ? "the driver wrote {} at offset {:#x} of {} ({} byte(s), OutputBufferLength {}){}, over "
                  "memory that is not the request's. Check OutputBufferLength against everything the code "
                  "writes, terminators included."
                : "the driver read {} at offset {:#x} of {} ({} byte(s), InputBufferLength {}){}: past "
                  "the caller's input. Check InputBufferLength against the size the code reads before "
                  "reading."),
          size ? fmt::format("{} byte(s)", size) : std::string("(faulting on the guard page)"),
          address.value - buffer.value, what, buffer_size, write ? b.output_length : b.input_length,
          size ? fmt::format(", reaching {} byte(s) past its end",
                             address.value + size - (buffer.value + buffer_size))
               : std::string()),
      {{"address", address.hex()},
       {"size", size ? std::to_string(size) : "unknown (fault)"},
       {"buffer", buffer.hex()},
       {"offset", hex(address.value - buffer.value)},
       {"input_buffer_length", std::to_string(b.input_length)},
       {"output_buffer_length", std::to_string(b.output_length)}});
}

void report_overread(Engine& e, const Engine::RequestBuffers& b, GuestVa rip, GuestVa address,
                     uint32_t size, GuestVa buffer, uint64_t buffer_size, const char* what) {
  report_past_buffer(e, b, rip, address, size, buffer, buffer_size, what, false);
}

void report_overflow(Engine& e, const Engine::RequestBuffers& b, GuestVa rip, GuestVa address,
                     uint32_t size, GuestVa buffer, uint64_t buffer_size, const char* what) {
  report_past_buffer(e, b, rip, address, size, buffer, buffer_size, what, true);
}

}  // namespace

void on_request_started(Engine& e, const nt::RequestStart& rq) {
  if (!is_ioctl(rq)) return;
  const emu::AddressSpace& mem = e.kernel().memory();
  // The event comes before IoCallDriver: the driver's stack location is the
  // next one (IoGetNextIrpStackLocation), which the call makes current.
  auto stack = mem.try_read<uint64_t>(rq.irp + offsetof(IRP, CurrentStackLocation));
  if (!stack) return;
  GuestVa sp{*stack - sizeof(IO_STACK_LOCATION)};
  Engine::RequestBuffers b;
  b.method = rq.ioctl & 3;
  b.input_length =
      mem.try_read<uint32_t>(sp + offsetof(IO_STACK_LOCATION, InputBufferLength)).value_or(0);
  b.output_length =
      mem.try_read<uint32_t>(sp + offsetof(IO_STACK_LOCATION, OutputBufferLength)).value_or(0);
  b.type3_input = GuestVa{
      mem.try_read<uint64_t>(sp + offsetof(IO_STACK_LOCATION, Type3InputBuffer)).value_or(0)};
  b.user_buffer = GuestVa{mem.try_read<uint64_t>(rq.irp + offsetof(IRP, UserBuffer)).value_or(0)};
  if (b.method != kMethodNeither) {
    b.system_buffer =
        GuestVa{mem.try_read<uint64_t>(rq.irp + offsetof(IRP, AssociatedIrp)).value_or(0)};
    b.system_buffer_size =
        b.method == kMethodBuffered ? std::max(b.input_length, b.output_length) : b.input_length;
  }
  e.set_request_buffers(b);
  if (!b.system_buffer || b.system_buffer_size == 0) return;
  emu::Pool& pool = e.kernel().machine().pool();
  const emu::PoolBlock* block = pool.block_at(b.system_buffer);
  if (!block) return;
  // The block's slack and the next block's POOL_HEADER.
  GuestVa end = b.system_buffer + b.system_buffer_size;
  GuestVa limit = b.system_buffer + block->capacity + emu::Pool::kHeaderSize;
  b.slack_begin = end;
  b.slack_end = limit;
  e.set_request_buffers(b);
  e.watch_request_buffer(
      end, limit.value - end.value, [&e](GuestVa address, uint32_t size, GuestVa rip, bool write) {
        const Engine::RequestBuffers* rb = e.request_buffers();
        emu::Pool& p = e.kernel().machine().pool();
        if (!rb || !p.block_at(rb->system_buffer)) return;
        GuestVa first = std::max(address, rb->system_buffer + rb->system_buffer_size);
        if (p.block_containing(first)) return;  // another live block: the driver's own, perhaps
        if (write)
          report_overflow(e, *rb, rip, address, size, rb->system_buffer, rb->system_buffer_size,
                          "the system buffer");
        else
          report_overread(e, *rb, rip, address, size, rb->system_buffer, rb->system_buffer_size,
                          "the system buffer");
      });
}

void on_call(Engine& e, const nt::ApiCall& call) {
  const Engine::RequestBuffers* b = e.request_buffers();
  if (!b) return;
  // The copy routines kemu runs as host code: the driver asked for the bytes
  // they read and write, so they count as its accesses, at its call.
  auto copy = copy_call(call);
  if (!copy) return;
  auto [dst, src, length] = *copy;
  if (length == 0) return;
  emu::Pool& pool = e.kernel().machine().pool();
  // The first byte of [va, va+length) in the slack, if any, not in another live block.
  auto into_slack = [&](uint64_t va) -> std::optional<GuestVa> {
    if (!b->slack_begin || !pool.block_at(b->system_buffer) || !va || va + length < va)
      return std::nullopt;
    uint64_t first = std::max(va, b->slack_begin.value);
    uint64_t last = std::min(va + length, b->slack_end.value);
    if (first >= last || pool.block_containing(GuestVa{first})) return std::nullopt;
    return GuestVa{va};
  };
  // The first byte of [dst, dst+length) past the MDL mapping's ByteCount, within its last page.
  if (b->mdl_tail_begin && dst && dst + length > dst) {
    uint64_t first = std::max(dst, b->mdl_tail_begin.value);
    uint64_t last = std::min(dst + length, b->mdl_tail_end.value);
    const emu::Region* r = e.kernel().memory().find(b->mdl_mapping);
    if (first < last && r && r->name == fmt::format("mdl {} mapping", b->mdl.hex()))
      report_overflow(e, *b, call.call_site, GuestVa{dst}, static_cast<uint32_t>(length),
                      b->mdl_mapping, b->mdl_length, "the MDL's system mapping");
  }
  if (auto at = into_slack(dst))
    report_overflow(e, *b, call.call_site, *at, static_cast<uint32_t>(length), b->system_buffer,
                    b->system_buffer_size, "the system buffer");
  if (auto at = into_slack(src))
    report_overread(e, *b, call.call_site, *at, static_cast<uint32_t>(length), b->system_buffer,
                    b->system_buffer_size, "the system buffer");
}

void on_return(Engine& e, const nt::ApiCall& call) {
  const std::string& name = *call.name;
  if ((name != "MmMapLockedPagesSpecifyCache" && name != "MmMapLockedPages") || call.result == 0 ||
      call.args.empty())
    return;
  const Engine::RequestBuffers* current = e.request_buffers();
  const nt::RequestStart* rq = e.request();
  if (!current || !rq) return;
  const emu::AddressSpace& mem = e.kernel().memory();
  // Only the request's own MDL: its ByteCount is OutputBufferLength.
  GuestVa mdl{call.args[0]};
  auto irp_mdl = mem.try_read<uint64_t>(rq->irp + offsetof(IRP, MdlAddress));
  auto d = mem.try_read<nt::layout::MDL>(mdl);
  if (!irp_mdl || *irp_mdl != mdl.value || !d || d->ByteCount == 0) return;
  Engine::RequestBuffers b = *current;
  b.mdl = mdl;
  b.mdl_mapping = GuestVa{call.result};
  b.mdl_length = d->ByteCount;
  b.mdl_tail_begin = b.mdl_mapping + b.mdl_length;
  b.mdl_tail_end = GuestVa{(b.mdl_tail_begin.value + 0xFFF) & ~0xFFFull};
  e.set_request_buffers(b);
  if (b.mdl_tail_end <= b.mdl_tail_begin) return;
  std::string region = fmt::format("mdl {} mapping", mdl.hex());
  e.watch_request_buffer(b.mdl_tail_begin, b.mdl_tail_end.value - b.mdl_tail_begin.value,
                         [&e, region](GuestVa address, uint32_t size, GuestVa rip, bool write) {
                           const Engine::RequestBuffers* rb = e.request_buffers();
                           const emu::Region* r = e.kernel().memory().find(address);
                           if (!write || !rb || !r || r->name != region) return;  // unmapped since
                           report_overflow(e, *rb, rip, address, size, rb->mdl_mapping,
                                           rb->mdl_length, "the MDL's system mapping");
                         });
}

void on_fault(Engine& e, GuestVa rip, GuestVa address, bool write) {
  const Engine::RequestBuffers* b = e.request_buffers();
  if (!b) return;
  // A write that ran off the MDL's mapping onto the guard page after it.
  if (write && b->mdl_tail_end && address >= b->mdl_tail_end &&
      address < b->mdl_tail_end + kGuardReach) {
    report_overflow(e, *b, rip, address, 0, b->mdl_mapping, b->mdl_length,
                    "the MDL's system mapping");
    return;
  }
  if (b->method != kMethodNeither) return;
  // A fault just past the end of the caller's buffer: its page_end guard.
  auto past = [&](GuestVa buffer, uint32_t length) {
    GuestVa end = buffer + length;
    return buffer && length && address >= end && address < end + kGuardReach;
  };
  if (!write && past(b->type3_input, b->input_length))
    report_overread(e, *b, rip, address, 0, b->type3_input, b->input_length, "Type3InputBuffer");
  else if (write && past(b->user_buffer, b->output_length))
    report_overflow(e, *b, rip, address, 0, b->user_buffer, b->output_length,
                    "the output buffer (UserBuffer)");
}

}  // namespace kemu::verifier::bounds_checks
