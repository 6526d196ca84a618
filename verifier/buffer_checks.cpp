// Buffer checks made when the driver completes a client's request
// (IofCompleteRequest): what the I/O manager is about to hand back; and the
// length check of copies the driver asks for (buffer.length-overflow).
// - buffer.information-too-large: IoStatus.Information beyond the output
//   buffer (for METHOD_BUFFERED the I/O manager copies Information bytes into
//   the caller's buffer: an overflow of the caller's memory; Verifier 0xC9/0x312).
// - buffer.uninitialized-output: METHOD_BUFFERED output bytes the driver
//   never wrote. The system buffer's bytes past the input copy start as
//   0xCD (kemu fills them as a debug heap does; on Windows they are whatever
//   the pool held): a returned byte still 0xCD was never written — unless the
//   driver wrote 0xCD itself, the one case this misreads.
#include <algorithm>

#include <fmt/format.h>

#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/nt_structs.h"
#include "verifier/engine.h"

namespace kemu::verifier::buffer_checks {

namespace {

constexpr uint8_t kUninitializedFill = 0xCD;  // io/file_io.cpp's fill of a system buffer
constexpr uint8_t kDeviceControl = 0x0E, kInternalDeviceControl = 0x0F, kRead = 0x03;
constexpr uint32_t kIrpBufferedIo = 0x10;

void completion_checks(Engine& e, const nt::ApiCall& call) {
  GuestVa irp{call.args.empty() ? 0 : call.args[0]};
  const nt::RequestStart* rq = e.request_of(irp);
  if (!rq) return;
  auto& mem = e.kernel().memory();
  using nt::layout::IRP;
  using nt::layout::IO_STACK_LOCATION;
  auto status = mem.try_read<uint32_t>(irp + offsetof(IRP, IoStatus));
  auto information = mem.try_read<uint64_t>(irp + offsetof(IRP, IoStatus) + 8);
  auto stack_va = mem.try_read<uint64_t>(irp + offsetof(IRP, CurrentStackLocation));
  auto flags = mem.try_read<uint32_t>(irp + offsetof(IRP, Flags));
  auto system_buffer = mem.try_read<uint64_t>(irp + offsetof(IRP, AssociatedIrp));
  if (!status || !information || !stack_va || !flags || !system_buffer) return;
  GuestVa stack{*stack_va};
  auto out_len = mem.try_read<uint32_t>(stack + offsetof(IO_STACK_LOCATION, OutputBufferLength));
  auto in_len = mem.try_read<uint32_t>(stack + offsetof(IO_STACK_LOCATION, InputBufferLength));
  if (!out_len || !in_len) return;
  e.request_completed(irp);
  if (nt_error(*status)) return;  // nothing is copied back for an error
  bool control = rq->major == kDeviceControl || rq->major == kInternalDeviceControl;
  if (!control && rq->major != kRead) return;
  // A read's length is Parameters.Read.Length (the slot of OutputBufferLength); no input.
  uint32_t output_length = *out_len;
  uint32_t input_length = control ? *in_len : 0;
  bool buffered = control ? (rq->ioctl & 3) == 0 : (*flags & kIrpBufferedIo) != 0;

  if (*information > output_length)
    e.report("buffer.information-too-large", call.call_site,
             fmt::format("the request completed with Information {:#x} but the caller's output buffer holds {:#x} "
                         "bytes{}.",
                         *information, output_length,
                         buffered ? ": the I/O manager copies Information bytes back, past the end of the caller's buffer"
                                  : ""),
             {{"information", hex(*information)}, {"output_length", hex(output_length)}, {"status", hex(*status)}});

  if (!buffered || !*system_buffer) return;
  uint64_t returned = std::min<uint64_t>(*information, output_length);
  if (returned <= input_length) return;
  std::vector<uint8_t> bytes(returned);
  if (!mem.read(GuestVa{*system_buffer}, bytes.data(), bytes.size())) return;
  uint64_t first = 0, count = 0;
  for (uint64_t i = input_length; i < returned; ++i) {
    if (bytes[i] != kUninitializedFill) continue;
    if (!count) first = i;
    ++count;
  }
  if (count)
    e.report("buffer.uninitialized-output", call.call_site,
             fmt::format("{} of the {:#x} bytes returned to the caller were never written by the driver (the first "
                         "at offset {:#x}): the caller receives whatever the pool held there.",
                         count, returned, first),
             {{"uninitialized_bytes", std::to_string(count)}, {"first_offset", hex(first)},
              {"information", hex(*information)}, {"input_length", hex(input_length)}});
}

// buffer.length-overflow: a copy whose size is a request-derived count grown
// past 32 bits — the sum or product a ULONG size check computed wrapped, so
// the check passed and the copy runs far beyond the buffer. The size is v*k
// for a power of two k (a count of k-byte elements; the product is >= 2^32)
// or v itself close enough to 2^32 that adding a header of up to 4 KiB wraps.
void length_checks(Engine& e, const nt::ApiCall& call) {
  const nt::RequestStart* rq = e.request();
  if (!rq || rq->requestor != ProcessorMode::UserMode || call.args.size() < 3) return;
  uint64_t length = call.args[2];
  if (length <= rq->caller_bytes.size()) return;
  for (uint64_t k = 1; k <= 4096; k *= 2) {
    if (length % k) continue;
    uint64_t v = length / k;
    if (v > 0xFFFFFFFFull || !e.from_request(v)) continue;
    bool product_wraps = k > 1 && length >= (1ull << 32);
    bool sum_wraps = k == 1 && v > 0xFFFFFFFFull - 0x1000;
    if (!product_wraps && !sum_wraps) continue;
    e.report("buffer.length-overflow", call.call_site,
             fmt::format("{} was asked to copy {:#x} bytes: the request's length field {:#x} {} wraps in 32-bit "
                         "arithmetic, so a ULONG size check on it passes and the copy runs past the {:#x}-byte input.",
                         *call.name, length, v,
                         product_wraps ? fmt::format("times {}", k) : std::string("plus a header"),
                         rq->caller_bytes.size()),
             {{"length_field", hex(v)}, {"copy_size", hex(length)}, {"element_size", std::to_string(k)},
              {"input_length", hex(rq->caller_bytes.size())}});
    return;
  }
}

}  // namespace

void on_call(Engine& e, const nt::ApiCall& call) {
  const std::string& name = *call.name;
  if (name == "IofCompleteRequest") completion_checks(e, call);
  if (is_copy_routine(name)) length_checks(e, call);
}

}  // namespace kemu::verifier::buffer_checks
