// Structured exception handling routines: __C_specific_handler (the language
// handler of C __try/__except/__finally), raising (ExRaiseStatus and
// friends), unwinding (RtlUnwind, RtlUnwindEx), context capture and the
// function-table queries. Dispatch itself lives in the machine
// (emulator/machine_exceptions.cpp).
#include <fmt/format.h>

#include "emulator/exception_layout.h"
#include "emulator/ntstatus.h"
#include "ntoskrnl-stubs/api/registry.h"
#include "ntoskrnl-stubs/kernel.h"

namespace kemu::nt {

namespace seh = emu::seh;

namespace {

// A SCOPE_TABLE entry (RVAs): the protected range, the filter (or 1 for
// EXCEPTION_EXECUTE_HANDLER, or the __finally block when JumpTarget is 0) and
// the __except block.
struct ScopeRecord {
  uint32_t begin;
  uint32_t end;
  uint32_t handler;
  uint32_t jump_target;
};

}  // namespace

// __C_specific_handler(ExceptionRecord, EstablisherFrame, ContextRecord, DispatcherContext)
uint32_t __C_specific_handler(Kernel& k, GuestVa record, uint64_t establisher, GuestVa context,
                              GuestVa dispatcher_context) {
  emu::Machine& m = k.machine();
  auto& mem = k.memory();
  auto dc = mem.read<seh::DISPATCHER_CONTEXT>(dispatcher_context);
  auto rec = mem.read<seh::EXCEPTION_RECORD>(record);
  uint64_t image_base = dc.ImageBase;
  uint32_t control_pc = static_cast<uint32_t>(dc.ControlPc - image_base);
  GuestVa table{dc.HandlerData};
  uint32_t count = mem.read<uint32_t>(table);
  if (count > 4096) return seh::kExceptionContinueSearch;  // not a scope table
  auto scope = [&](uint32_t i) { return mem.read<ScopeRecord>(table + 4 + 16ull * i); };

  if ((rec.ExceptionFlags & seh::kExceptionUnwind) == 0) {
    // Search phase: run the filters of the __except scopes covering the PC.
    // EXCEPTION_POINTERS for the filters lives just below this frame.
    GuestVa pointers{(m.cpu().rsp() - 0x40) & ~0xFull};
    mem.write(pointers, seh::EXCEPTION_POINTERS{record.value, context.value});
    for (uint32_t i = dc.ScopeIndex; i < count; ++i) {
      ScopeRecord s = scope(i);
      if (control_pc < s.begin || control_pc >= s.end || s.jump_target == 0) continue;
      int32_t verdict;
      if (s.handler == 1) {
        verdict = seh::kExceptionExecuteHandler;  // __except(EXCEPTION_EXECUTE_HANDLER)
      } else {
        auto r = m.call(GuestVa{image_base + s.handler}, {pointers.value, establisher},
                        pointers.value - 0x20);
        if (!r) return seh::kExceptionContinueSearch;  // stopped or unwound past us
        verdict = static_cast<int32_t>(static_cast<uint32_t>(*r));
      }
      if (verdict < 0) return seh::kExceptionContinueExecution;
      if (verdict > 0) {
        // Unwind to the __except block; RtlUnwindEx does not return.
        m.unwind(establisher, GuestVa{image_base + s.jump_target}, record, rec.ExceptionCode);
        return seh::kExceptionContinueSearch;
      }
    }
    return seh::kExceptionContinueSearch;
  }

  // Unwind phase: run the __finally blocks of the scopes being left, stopping
  // at the target __except scope.
  uint32_t target_pc = static_cast<uint32_t>(dc.TargetIp - image_base);
  for (uint32_t i = dc.ScopeIndex; i < count; ++i) {
    ScopeRecord s = scope(i);
    if (control_pc < s.begin || control_pc >= s.end) continue;
    if (rec.ExceptionFlags & seh::kExceptionTargetUnwind) {
      // A scope that also contains the target is not being left.
      bool contains_target = false;
      for (uint32_t j = 0; j < count; ++j) {
        ScopeRecord t = scope(j);
        if (target_pc >= t.begin && target_pc < t.end && t.jump_target == s.jump_target &&
            t.handler == s.handler) {
          contains_target = true;
          break;
        }
      }
      if (contains_target) break;
    }
    if (s.jump_target != 0) {
      if (target_pc == s.jump_target && (rec.ExceptionFlags & seh::kExceptionTargetUnwind)) break;
    } else {
      // A __finally block: ScopeIndex moves past it first, so a collided
      // unwind does not run it twice; then it runs with AbnormalTermination.
      mem.write<uint32_t>(dispatcher_context + offsetof(seh::DISPATCHER_CONTEXT, ScopeIndex), i + 1);
      auto r = m.call(GuestVa{image_base + s.handler}, {1, establisher});
      if (!r) return seh::kExceptionContinueSearch;
    }
  }
  return seh::kExceptionContinueSearch;
}

// ExRaiseStatus / RtlRaiseStatus raise a noncontinuable exception with the status as code.
void ExRaiseStatus(Kernel& k, uint32_t status) { k.raise_in_caller(status, seh::kExceptionNoncontinuable); }
void RtlRaiseStatus(Kernel& k, uint32_t status) { k.raise_in_caller(status, seh::kExceptionNoncontinuable); }
void ExRaiseAccessViolation(Kernel& k) { k.raise_in_caller(STATUS_ACCESS_VIOLATION, 0); }
void ExRaiseDatatypeMisalignment(Kernel& k) { k.raise_in_caller(STATUS_DATATYPE_MISALIGNMENT, 0); }

// RtlRaiseException raises the caller's record as given.
void RtlRaiseException(Kernel& k, GuestVa record) {
  auto rec = k.memory().read<seh::EXCEPTION_RECORD>(record);
  std::vector<uint64_t> params(rec.ExceptionInformation,
                               rec.ExceptionInformation + std::min<uint32_t>(rec.NumberParameters, 15));
  std::optional<GuestVa> address;
  if (rec.ExceptionAddress) address = GuestVa{rec.ExceptionAddress};
  k.raise_in_caller(rec.ExceptionCode, rec.ExceptionFlags, std::move(params), address);
}

void RtlUnwindEx(Kernel& k, uint64_t target_frame, GuestVa target_ip, GuestVa record,
                 uint64_t return_value, GuestVa original_context, GuestVa history) {
  k.machine().unwind(target_frame, target_ip, record, return_value);
}

void RtlUnwind(Kernel& k, uint64_t target_frame, GuestVa target_ip, GuestVa record, uint64_t return_value) {
  k.machine().unwind(target_frame, target_ip, record, return_value);
}

// RtlCaptureContext: the caller's registers, Rip and Rsp as after the call returns.
void RtlCaptureContext(Kernel& k, GuestVa context) {
  k.machine().write_context(context, k.machine().caller_context());
}

// RtlRestoreContext continues at the given context (the record is ignored).
void RtlRestoreContext(Kernel& k, GuestVa context, GuestVa record) {
  emu::Machine& m = k.machine();
  m.cpu().restore(m.read_context(context));
}

// RtlLookupFunctionEntry(ControlPc, *ImageBase, HistoryTable) -> PRUNTIME_FUNCTION
GuestVa RtlLookupFunctionEntry(Kernel& k, uint64_t control_pc, GuestVa image_base_out, GuestVa history) {
  const emu::Module* module = nullptr;
  GuestVa entry;
  const emu::RuntimeFunctionEntry* fn = k.machine().function_entry(GuestVa{control_pc}, &module, &entry);
  if (image_base_out) k.memory().write<uint64_t>(image_base_out, module ? module->base.value : 0);
  return fn ? entry : GuestVa{};
}

// RtlVirtualUnwind(HandlerType, ImageBase, ControlPc, FunctionEntry, ContextRecord,
//                  *HandlerData, *EstablisherFrame, ContextPointers) -> handler
GuestVa RtlVirtualUnwind(Kernel& k, uint32_t handler_type, uint64_t image_base, uint64_t control_pc,
                         GuestVa function_entry, GuestVa context, GuestVa handler_data_out,
                         GuestVa establisher_out, GuestVa context_pointers) {
  auto& mem = k.memory();
  emu::RuntimeFunctionEntry fn = mem.read<emu::RuntimeFunctionEntry>(function_entry);
  emu::RegisterContext ctx = k.machine().read_context(context);
  ctx.rip = control_pc;
  emu::UnwindResult r;
  try {
    r = emu::virtual_unwind(mem, GuestVa{image_base}, fn, ctx, handler_type);
  } catch (const emu::UnwindError&) {
    // Windows raises STATUS_BAD_FUNCTION_TABLE here; report no handler and leave the context.
    return GuestVa{};
  }
  k.machine().write_context(context, ctx);
  if (handler_data_out) mem.write<uint64_t>(handler_data_out, r.handler_data.value);
  if (establisher_out) mem.write<uint64_t>(establisher_out, r.establisher_frame);
  return r.handler;
}

void register_seh_exports(Registry& r) {
  KEMU_EXPORT(r, __C_specific_handler);
  KEMU_EXPORT(r, ExRaiseStatus);
  KEMU_EXPORT(r, RtlRaiseStatus);
  KEMU_EXPORT(r, ExRaiseAccessViolation);
  KEMU_EXPORT(r, ExRaiseDatatypeMisalignment);
  KEMU_EXPORT(r, RtlRaiseException);
  KEMU_EXPORT(r, RtlUnwindEx);
  KEMU_EXPORT(r, RtlUnwind);
  KEMU_EXPORT(r, RtlCaptureContext);
  KEMU_EXPORT(r, RtlRestoreContext);
  KEMU_EXPORT(r, RtlLookupFunctionEntry);
  KEMU_EXPORT(r, RtlVirtualUnwind);
}

}  // namespace kemu::nt
