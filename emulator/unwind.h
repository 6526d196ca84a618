// The x64 table-based unwinder: kemu's RtlLookupFunctionEntry and
// RtlVirtualUnwind. It reads .pdata RUNTIME_FUNCTIONs and .xdata UNWIND_INFO
// from guest memory and turns a frame's RegisterContext into its caller's, as
// Microsoft's "x64 exception handling" and "x64 prolog and epilog" pages
// describe (semantics.md §4). No CPU is needed: the exception dispatcher and
// stack walkers call it with an AddressSpace.
#pragma once

#include <cstdint>
#include <span>
#include <stdexcept>

#include "emulator/address_space.h"
#include "emulator/cpu.h"
#include "emulator/types.h"

namespace kemu::emu {

// RUNTIME_FUNCTION as stored in .pdata: image-relative [begin, end) and the
// RVA of its UNWIND_INFO.
struct RuntimeFunctionEntry {
  uint32_t begin = 0;
  uint32_t end = 0;
  uint32_t unwind_info = 0;
};

// UNWIND_INFO.Flags. The dispatcher passes EHandler (exception search) and/or
// UHandler (unwind) as `handler_type`; ChainInfo marks a secondary info.
constexpr uint32_t kUnwFlagEHandler = 0x1;
constexpr uint32_t kUnwFlagUHandler = 0x2;
constexpr uint32_t kUnwFlagChainInfo = 0x4;

// Chained UNWIND_INFOs followed before the data is declared malformed (a loop).
constexpr int kMaxUnwindChain = 32;

// One loaded module as the unwinder sees it.
struct UnwindImage {
  GuestVa base;
  uint64_t size = 0;  // unwind data beyond it is malformed; 0 = not checked
  // The module's .pdata, sorted by begin. Used to tell a tail call from a jump
  // to another fragment of the same function; may be empty.
  std::span<const RuntimeFunctionEntry> functions;
};

// Malformed unwind data, an unreadable stack or unreadable code at RIP. The
// dispatcher turns it into what Windows does with a corrupt frame (a bugcheck
// or STATUS_BAD_STACK), never lets it reach the user.
struct UnwindError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct UnwindResult {
  GuestVa handler;       // language handler (image base + RVA), or null
  GuestVa handler_data;  // the data after the handler RVA (a scope table), or null
  // EstablisherFrame: the base of the fixed stack allocation of the unwound frame.
  uint64_t establisher_frame = 0;
  bool in_epilog = false;      // RIP was in an epilog, unwound by emulating its rest
  bool machine_frame = false;  // a UWOP_PUSH_MACHFRAME set rip and rsp
};

// RtlLookupFunctionEntry over one module's sorted .pdata: the entry with
// begin <= rva < end, or nullptr (a leaf function, or no code of this module).
const RuntimeFunctionEntry* lookup_function(std::span<const RuntimeFunctionEntry> table,
                                            uint32_t rva);

// RtlVirtualUnwind: unwinds one frame of `ctx`, whose rip lies in the function
// `fn` of `image`, into the caller's context (rip, rsp, nonvolatile GPRs and
// XMMs; other fields untouched). `handler_type` (kUnwFlagEHandler and/or
// kUnwFlagUHandler) selects which language handler is reported; none is
// reported while RIP is in the prolog or an epilog. Throws UnwindError on
// malformed unwind data or unreadable memory, leaving ctx unchanged; follows
// at most kMaxUnwindChain chained infos.
UnwindResult virtual_unwind(const AddressSpace& memory, const UnwindImage& image,
                            const RuntimeFunctionEntry& fn, RegisterContext& ctx,
                            uint32_t handler_type);
// The same without the module's table or size: a direct jump out of the
// function entry counts as a tail call, and RVAs are not bounds-checked.
UnwindResult virtual_unwind(const AddressSpace& memory, GuestVa image_base,
                            const RuntimeFunctionEntry& fn, RegisterContext& ctx,
                            uint32_t handler_type);

// A leaf function (no RUNTIME_FUNCTION): rip = [rsp], rsp += 8.
void unwind_leaf(const AddressSpace& memory, RegisterContext& ctx);

}  // namespace kemu::emu
