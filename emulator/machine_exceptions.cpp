// x64 exception dispatch and unwinding inside the guest, as ntoskrnl's
// RtlDispatchException and RtlUnwindEx do it: frames are found through each
// module's .pdata (emulator/unwind.h), language handlers run as guest code
// with a real DISPATCHER_CONTEXT, and control transfers to the target frame.
// A call kemu made into the guest (DriverEntry, a dispatch routine, a filter)
// is a frame boundary: a nested call continues the walk in the interrupted
// frames, the outermost one ends it (the exception is unhandled).
#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "emulator/exception_layout.h"
#include "emulator/machine.h"

namespace kemu::emu {

namespace {
constexpr int kMaxFrames = 256;
}

const Module* Machine::module_at(GuestVa va) const {
  for (const Module& m : modules_)
    if (m.contains(va)) return &m;
  return nullptr;
}

const RuntimeFunctionEntry* Machine::function_entry(GuestVa va, const Module** module,
                                                    GuestVa* entry_address) const {
  const Module* m = module_at(va);
  if (module) *module = m;
  if (!m || m->functions.empty()) return nullptr;
  const RuntimeFunctionEntry* fn = lookup_function(m->functions, static_cast<uint32_t>(va - m->base));
  if (fn && entry_address) {
    // The guest address of this entry inside the mapped .pdata.
    *entry_address = GuestVa{};
    if (m->pdata) {
      for (size_t i = 0; i < m->functions.size(); ++i) {
        auto begin = space_.try_read<uint32_t>(m->pdata + 12 * i);
        if (!begin) break;
        if (*begin == fn->begin) {
          *entry_address = m->pdata + 12 * i;
          break;
        }
      }
    }
  }
  return fn;
}

void Machine::write_context(GuestVa at, const RegisterContext& c) {
  seh::CONTEXT g{};
  g.ContextFlags = seh::kContextFull;
  g.MxCsr = c.mxcsr;
  g.SegCs = 0x10;  // KGDT64_R0_CODE
  g.SegDs = g.SegEs = 0x2B;
  g.SegFs = 0x53;
  g.SegGs = 0x2B;
  g.SegSs = 0x18;
  g.EFlags = static_cast<uint32_t>(c.rflags);
  g.Rax = c.rax, g.Rcx = c.rcx, g.Rdx = c.rdx, g.Rbx = c.rbx, g.Rsp = c.rsp, g.Rbp = c.rbp;
  g.Rsi = c.rsi, g.Rdi = c.rdi, g.R8 = c.r8, g.R9 = c.r9, g.R10 = c.r10, g.R11 = c.r11;
  g.R12 = c.r12, g.R13 = c.r13, g.R14 = c.r14, g.R15 = c.r15, g.Rip = c.rip;
  std::memcpy(g.FltSaveHeader + 0x18, &c.mxcsr, 4);
  for (int i = 0; i < 16; ++i) std::memcpy(&g.Xmm[i], c.xmm[i].data(), 16);
  space_.write(at, g);
}

RegisterContext Machine::read_context(GuestVa at) const {
  auto g = space_.read<seh::CONTEXT>(at);
  RegisterContext c;
  c.rax = g.Rax, c.rcx = g.Rcx, c.rdx = g.Rdx, c.rbx = g.Rbx, c.rsp = g.Rsp, c.rbp = g.Rbp;
  c.rsi = g.Rsi, c.rdi = g.Rdi, c.r8 = g.R8, c.r9 = g.R9, c.r10 = g.R10, c.r11 = g.R11;
  c.r12 = g.R12, c.r13 = g.R13, c.r14 = g.R14, c.r15 = g.R15, c.rip = g.Rip;
  c.rflags = g.EFlags;
  c.mxcsr = g.MxCsr;
  for (int i = 0; i < 16; ++i) std::memcpy(c.xmm[i].data(), &g.Xmm[i], 16);
  return c;
}

RegisterContext Machine::caller_context() const {
  RegisterContext c = cpu_.save();
  c.rip = space_.try_read<uint64_t>(GuestVa{c.rsp}).value_or(0);
  c.rsp += 8;
  return c;
}

Machine::FrameStep Machine::step_frame(FrameCursor& cur, uint32_t handler_type) const {
  FrameStep step;
  step.level = cur.level;
  const Thread& t = current_thread();
  RegisterContext& ctx = cur.ctx;
  if (GuestVa{ctx.rip} == return_thunk_) {
    // The frame boundary of a call kemu made into the guest. A nested call
    // resumes the walk in the frames it interrupted (the caller of the
    // kernel routine that made the call); the outermost call ends it.
    if (cur.level == 0 || !calls_[cur.level - 1].outer || calls_[cur.level - 1].tid != t.id) {
      step.kind = FrameStep::End;
      return step;
    }
    ctx = *calls_[cur.level - 1].outer;
    --cur.level;
    step.level = cur.level;
    // The interrupted frame is a kernel thunk: a leaf, unwound by its return address.
  }
  if (GuestVa{ctx.rip} == thread_exit_thunk()) {
    step.kind = FrameStep::End;  // the start routine of a system thread returns here
    return step;
  }
  uint64_t old_rsp = ctx.rsp;
  const Module* module = nullptr;
  GuestVa entry_va;
  const RuntimeFunctionEntry* fn = function_entry(GuestVa{ctx.rip}, &module, &entry_va);
  try {
    if (fn) {
      UnwindImage image{module->base, module->size, module->functions};
      step.unwind = virtual_unwind(space_, image, *fn, ctx, handler_type);
      step.module = module;
      step.function = fn;
      step.function_address = entry_va;
    } else {
      unwind_leaf(space_, ctx);
      step.unwind.establisher_frame = old_rsp;
      step.module = module;
    }
  } catch (const UnwindError& e) {
    step.kind = FrameStep::Invalid;
    step.error = e.what();
    return step;
  }
  // A frame must move up the stack and stay on this thread's stack.
  if (ctx.rsp <= old_rsp || ctx.rsp > t.stack_base.value || ctx.rsp < t.stack_limit.value) {
    step.kind = FrameStep::Invalid;
    step.error = fmt::format("the stack pointer left the thread's stack ({:#x})", ctx.rsp);
    return step;
  }
  step.kind = FrameStep::Frame;
  return step;
}

std::vector<HandlerFrame> Machine::handler_frames(const RegisterContext& regs) const {
  // The walk of raise_exception below, without running anything: the same
  // frames, the same ControlPc per frame.
  std::vector<HandlerFrame> frames;
  FrameCursor cursor{regs, calls_.size()};
  for (int n = 0; n < kMaxFrames; ++n) {
    RegisterContext frame = cursor.ctx;
    FrameStep step = step_frame(cursor, kUnwFlagEHandler);
    if (step.kind != FrameStep::Frame) break;
    if (!step.unwind.handler) continue;
    frames.push_back({GuestVa{frame.rip}, step.module->base, step.unwind.handler, step.unwind.handler_data});
  }
  return frames;
}

void Machine::raise_exception(const ExceptionInfo& info, const RegisterContext& context) {
  if (stop_) return;
  const size_t level = calls_.size();
  const Thread& t = current_thread();
  // KiDispatchException copies the record and the context onto the kernel
  // stack below the interrupted frame.
  uint64_t ctx_va = ((context.rsp - 0x100) & ~0xFull) - sizeof(seh::CONTEXT);
  ctx_va &= ~0xFull;
  uint64_t rec_va = (ctx_va - sizeof(seh::EXCEPTION_RECORD)) & ~0xFull;
  uint64_t dc_va = (rec_va - sizeof(seh::DISPATCHER_CONTEXT)) & ~0xFull;
  uint64_t call_top = dc_va - 0x20;
  if (context.rsp > t.stack_base.value || call_top < t.stack_limit.value + 0x800) {
    // No room for the exception frame: a kernel stack overflow (double fault).
    bugcheck(0x7F, 8, 0, 0, 0, info.address);
    return;
  }
  write_context(GuestVa{ctx_va}, context);
  seh::EXCEPTION_RECORD rec{};
  rec.ExceptionCode = info.code;
  rec.ExceptionFlags = info.flags;
  rec.ExceptionAddress = info.address.value;
  rec.NumberParameters = static_cast<uint32_t>(std::min<size_t>(info.params.size(), 15));
  for (uint32_t i = 0; i < rec.NumberParameters; ++i) rec.ExceptionInformation[i] = info.params[i];
  space_.write(GuestVa{rec_va}, rec);
  dispatches_.push_back({level, context, GuestVa{rec_va}, GuestVa{ctx_va}, call_top});
  auto finish = [&] { dispatches_.pop_back(); };

  FrameCursor cursor{context, level};
  std::string why;
  for (int n = 0; n < kMaxFrames; ++n) {
    RegisterContext frame = cursor.ctx;
    FrameStep step = step_frame(cursor, kUnwFlagEHandler);
    if (step.kind == FrameStep::End) break;
    if (step.kind == FrameStep::Invalid) {
      why = step.error;
      break;
    }
    if (!step.unwind.handler) continue;
    seh::DISPATCHER_CONTEXT dc{};
    dc.ControlPc = frame.rip;
    dc.ImageBase = step.module->base.value;
    dc.FunctionEntry = step.function_address.value;
    dc.EstablisherFrame = step.unwind.establisher_frame;
    dc.ContextRecord = ctx_va;
    dc.LanguageHandler = step.unwind.handler.value;
    dc.HandlerData = step.unwind.handler_data.value;
    space_.write(GuestVa{dc_va}, dc);
    auto disposition = call(step.unwind.handler,
                            {rec_va, step.unwind.establisher_frame, ctx_va, dc_va}, call_top);
    if (stop_ || transfer_) return finish();
    if (!disposition) return finish();
    switch (static_cast<uint32_t>(*disposition)) {
      case seh::kExceptionContinueExecution: {
        if (space_.read<uint32_t>(GuestVa{rec_va + 4}) & seh::kExceptionNoncontinuable) {
          finish();
          ExceptionInfo nc = info;
          nc.code = 0xC0000025;  // STATUS_NONCONTINUABLE_EXCEPTION
          unhandled_exception(nc, context, "a handler continued a noncontinuable exception",
                              GuestVa{rec_va}, GuestVa{ctx_va});
          return;
        }
        // Continue with the (possibly edited) context record.
        transfer_ = Transfer{level, read_context(GuestVa{ctx_va})};
        return finish();
      }
      case seh::kExceptionContinueSearch:
        break;
      default:
        // Nested and collided dispositions need a dispatcher frame kemu does
        // not have: keep searching, as the outer dispatcher would.
        break;
    }
  }
  finish();
  std::string what = fmt::format("exception {:#010x} at {} was not handled", info.code,
                                 symbolize(info.address) ? symbolize(info.address)->text() : info.address.hex());
  if (!why.empty()) what += fmt::format(" (the frame walk stopped: {})", why);
  unhandled_exception(info, context, what, GuestVa{rec_va}, GuestVa{ctx_va});
}

void Machine::unwind(uint64_t target_frame, GuestVa target_ip, GuestVa exception_record,
                     uint64_t return_value) {
  if (stop_) return;
  FrameCursor cursor;
  if (!dispatches_.empty()) {
    cursor = {dispatches_.back().context, dispatches_.back().level};
  } else {
    cursor = {caller_context(), calls_.size()};
  }
  // Scratch for the unwind's own record, context and dispatcher context,
  // below whatever is running now.
  uint64_t base = (cpu_.rsp() - 0x200) & ~0xFull;
  uint64_t rec_va = base - sizeof(seh::EXCEPTION_RECORD);
  rec_va &= ~0xFull;
  uint64_t ctx_va = (rec_va - sizeof(seh::CONTEXT)) & ~0xFull;
  uint64_t dc_va = (ctx_va - sizeof(seh::DISPATCHER_CONTEXT)) & ~0xFull;
  uint64_t call_top = dc_va - 0x20;
  const Thread& t = current_thread();
  if (call_top < t.stack_limit.value + 0x800) {
    bugcheck(0x7F, 8, 0, 0, 0, GuestVa{cpu_.rip()});
    return;
  }
  seh::EXCEPTION_RECORD rec{};
  if (exception_record) {
    rec = space_.read<seh::EXCEPTION_RECORD>(exception_record);
  } else {
    rec.ExceptionCode = 0xC0000027;  // STATUS_UNWIND
    rec.ExceptionAddress = cursor.ctx.rip;
  }
  rec.ExceptionFlags |= seh::kExceptionUnwinding;
  if (target_frame == 0) rec.ExceptionFlags |= seh::kExceptionExitUnwind;

  for (int n = 0; n < kMaxFrames; ++n) {
    RegisterContext frame = cursor.ctx;
    size_t frame_level = cursor.level;
    FrameStep step = step_frame(cursor, kUnwFlagUHandler);
    if (step.kind != FrameStep::Frame) break;
    frame_level = step.level;
    if (GuestVa{frame.rip} == return_thunk_ && frame_level < calls_.size() && calls_[frame_level].outer)
      frame = *calls_[frame_level].outer;
    uint64_t establisher = step.unwind.establisher_frame;
    if (target_frame != 0 && establisher > target_frame) break;  // passed the target
    bool at_target = target_frame != 0 && establisher == target_frame;
    if (at_target) rec.ExceptionFlags |= seh::kExceptionTargetUnwind;
    if (step.unwind.handler) {
      space_.write(GuestVa{rec_va}, rec);
      write_context(GuestVa{ctx_va}, frame);
      seh::DISPATCHER_CONTEXT dc{};
      dc.ControlPc = frame.rip;
      dc.ImageBase = step.module->base.value;
      dc.FunctionEntry = step.function_address.value;
      dc.EstablisherFrame = establisher;
      dc.TargetIp = target_ip.value;
      dc.ContextRecord = ctx_va;
      dc.LanguageHandler = step.unwind.handler.value;
      dc.HandlerData = step.unwind.handler_data.value;
      space_.write(GuestVa{dc_va}, dc);
      call(step.unwind.handler, {rec_va, establisher, ctx_va, dc_va}, call_top);
      if (stop_ || transfer_) return;
    }
    if (at_target) {
      frame.rip = target_ip.value;
      frame.rax = return_value;
      transfer_ = Transfer{frame_level, frame};
      return;
    }
  }
  // STATUS_INVALID_UNWIND_TARGET: the target frame is not on the stack.
  ExceptionInfo bad{0xC0000029, seh::kExceptionNoncontinuable, GuestVa{cursor.ctx.rip}, {}, {}};
  unhandled_exception(bad, cursor.ctx,
                      fmt::format("unwind target frame {:#x} was not found on the stack", target_frame));
}

}  // namespace kemu::emu
