// Buffer checks made when the driver completes a client's request
// (IofCompleteRequest): what the I/O manager is about to hand back.
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

std::string hex(uint64_t v) { return fmt::format("{:#x}", v); }

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

}  // namespace

void on_call(Engine& e, const nt::ApiCall& call) {
  if (*call.name == "IofCompleteRequest") completion_checks(e, call);
}

}  // namespace kemu::verifier::buffer_checks
