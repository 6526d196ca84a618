#include "emulator/unwind.h"

#include <algorithm>
#include <array>
#include <optional>

#include <fmt/format.h>

namespace kemu::emu {
namespace {

// UNWIND_CODE.UnwindOp values ("x64 exception handling", struct UNWIND_CODE).
enum UnwindOp : uint8_t {
  kPushNonvol = 0,
  kAllocLarge = 1,
  kAllocSmall = 2,
  kSetFpreg = 3,
  kSaveNonvol = 4,
  kSaveNonvolFar = 5,
  kEpilog = 6,  // version 2 only: epilog descriptors, no effect on the prolog
  kSaveXmm128 = 8,
  kSaveXmm128Far = 9,
  kPushMachframe = 10,
};

// Operation-info register numbers: 0 = rax ... 4 = rsp ... 15 = r15.
constexpr std::array<uint64_t RegisterContext::*, 16> kGpr = {
    &RegisterContext::rax, &RegisterContext::rcx, &RegisterContext::rdx, &RegisterContext::rbx,
    &RegisterContext::rsp, &RegisterContext::rbp, &RegisterContext::rsi, &RegisterContext::rdi,
    &RegisterContext::r8,  &RegisterContext::r9,  &RegisterContext::r10, &RegisterContext::r11,
    &RegisterContext::r12, &RegisterContext::r13, &RegisterContext::r14, &RegisterContext::r15,
};
constexpr unsigned kRsp = 4;

uint64_t& gpr(RegisterContext& ctx, unsigned reg) {
  return ctx.*kGpr[reg & 15];
}
uint64_t gpr(const RegisterContext& ctx, unsigned reg) {
  return ctx.*kGpr[reg & 15];
}

[[noreturn]] void fail(const std::string& what) {
  throw UnwindError("x64 unwind: " + what);
}

template <class T>
T read_guest(const AddressSpace& memory, uint64_t va, const char* what) {
  T value{};
  if (!memory.read(GuestVa{va}, &value, sizeof(T)))
    fail(fmt::format("{} at {:#x} is unreadable", what, va));
  return value;
}

// Unwind data must lie inside the image that owns it (when its size is known).
void check_rva(const UnwindImage& image, uint64_t rva, uint64_t length, const char* what) {
  if (image.size != 0 && (rva > image.size || length > image.size - rva))
    fail(fmt::format("{} at rva {:#x} (+{:#x}) lies outside the image ({:#x} bytes)", what, rva,
                     length, image.size));
}

// A decoded UNWIND_INFO header and its unwind-code slots.
struct UnwindInfo {
  uint64_t address = 0;  // guest VA
  uint8_t version = 0;
  uint8_t flags = 0;
  uint8_t prolog_size = 0;
  uint8_t count = 0;  // slots, not codes
  uint8_t frame_reg = 0;
  uint8_t frame_offset = 0;  // scaled by 16
  std::array<uint16_t, 255> slots{};

  uint8_t code_offset(unsigned i) const { return static_cast<uint8_t>(slots[i] & 0xFF); }
  uint8_t op(unsigned i) const { return static_cast<uint8_t>((slots[i] >> 8) & 0xF); }
  uint8_t op_info(unsigned i) const { return static_cast<uint8_t>(slots[i] >> 12); }
  // The handler RVA or chained RUNTIME_FUNCTION follows the codes array, which
  // always has an even number of slots.
  uint64_t trailer() const { return address + 4 + 2ull * ((count + 1u) & ~1u); }
  uint32_t far_operand(unsigned i) const { return slots[i + 1] | (uint32_t{slots[i + 2]} << 16); }
};

UnwindInfo read_info(const AddressSpace& memory, const UnwindImage& image, uint32_t rva) {
  check_rva(image, rva, 4, "UNWIND_INFO");
  UnwindInfo info;
  info.address = image.base.value + rva;
  const auto header = read_guest<std::array<uint8_t, 4>>(memory, info.address, "UNWIND_INFO");
  info.version = header[0] & 0x7;
  info.flags = header[0] >> 3;
  info.prolog_size = header[1];
  info.count = header[2];
  info.frame_reg = header[3] & 0xF;
  info.frame_offset = header[3] >> 4;
  // Version 2 adds UWOP_EPILOG descriptors to version 1; anything else is unknown.
  if (info.version != 1 && info.version != 2)
    fail(fmt::format("UNWIND_INFO at {:#x} has unknown version {}", info.address, info.version));
  check_rva(image, uint64_t{rva} + 4, 2ull * info.count, "unwind codes");
  if (info.count != 0 &&
      !memory.read(GuestVa{info.address + 4}, info.slots.data(), 2ull * info.count))
    fail(fmt::format("unwind codes of UNWIND_INFO at {:#x} are unreadable", info.address));
  return info;
}

// Slots taken by the code at index i; throws on unknown or truncated codes.
unsigned code_slots(const UnwindInfo& info, unsigned i) {
  unsigned n = 0;
  const uint8_t op_info = info.op_info(i);
  switch (info.op(i)) {
    case kPushNonvol:
    case kAllocSmall:
      n = 1;
      break;
    case kSetFpreg:
      // Only meaningful with a frame register in the header.
      if (info.frame_reg != 0) n = 1;
      break;
    case kAllocLarge:
      // Op info 0: size/8 in one slot; op info 1: unscaled size in two.
      if (op_info <= 1) n = op_info == 0 ? 2 : 3;
      break;
    case kSaveNonvol:
    case kSaveXmm128:
      n = 2;
      break;
    case kSaveNonvolFar:
    case kSaveXmm128Far:
      n = 3;
      break;
    case kEpilog:
      // Windows' slot table gives UWOP_EPILOG two slots (compilers pad the
      // descriptors to an even count); it does not exist in version 1.
      if (info.version == 2) n = 2;
      break;
    case kPushMachframe:
      if (op_info <= 1) n = 1;  // 0: no error code, 1: error code
      break;
    default:
      break;
  }
  if (n == 0)
    fail(fmt::format("UNWIND_INFO at {:#x}: invalid unwind code {} (op info {}) in slot {}",
                     info.address, info.op(i), op_info, i));
  if (i + n > info.count)
    fail(fmt::format("UNWIND_INFO at {:#x}: unwind code in slot {} runs past its {} slots",
                     info.address, i, info.count));
  return n;
}

RuntimeFunctionEntry read_chained(const AddressSpace& memory, const UnwindImage& image,
                                  const UnwindInfo& info) {
  check_rva(image, info.trailer() - image.base.value, 12, "chained RUNTIME_FUNCTION");
  return read_guest<RuntimeFunctionEntry>(memory, info.trailer(), "chained RUNTIME_FUNCTION");
}

// The primary entry (no UNW_FLAG_CHAININFO) at the end of entry's chain.
RuntimeFunctionEntry primary_of(const AddressSpace& memory, const UnwindImage& image,
                                RuntimeFunctionEntry entry) {
  for (int depth = 0; depth < kMaxUnwindChain; ++depth) {
    const UnwindInfo info = read_info(memory, image, entry.unwind_info);
    if (!(info.flags & kUnwFlagChainInfo)) return entry;
    entry = read_chained(memory, image, info);
  }
  fail(fmt::format("more than {} chained UNWIND_INFOs (a loop?)", kMaxUnwindChain));
}

// EstablisherFrame: RSP when the function has no frame register; otherwise
// the frame register minus its scaled offset, once the prolog has set it.
uint64_t establisher_frame(const UnwindInfo& info, const RegisterContext& ctx,
                           uint64_t prolog_offset) {
  if (info.frame_reg == 0) return ctx.rsp;
  const uint64_t frame = gpr(ctx, info.frame_reg) - 16ull * info.frame_offset;
  // A chained info describes code after the primary prolog, so the frame
  // register is established.
  if ((info.flags & kUnwFlagChainInfo) || prolog_offset >= info.prolog_size) return frame;
  for (unsigned i = 0; i < info.count; i += code_slots(info, i))
    if (info.op(i) == kSetFpreg) return prolog_offset >= info.code_offset(i) ? frame : ctx.rsp;
  return ctx.rsp;
}

// ---- Epilog recognition ("x64 prolog and epilog", Epilog code) ----

// More pops than this and the bytes are not an epilog (x64 has 16 GPRs).
constexpr unsigned kMaxEpilogPops = 16;

struct Epilog {
  enum class Adjust : uint8_t { None, AddRsp, LeaRsp } adjust = Adjust::None;
  int64_t displacement = 0;
  unsigned lea_base = 0;
  std::array<uint8_t, kMaxEpilogPops> pops{};
  unsigned pop_count = 0;
  uint16_t ret_imm = 0;  // `ret imm16`; the tail-call forms leave it 0
};

class CodeBytes {
 public:
  CodeBytes(const AddressSpace& memory, uint64_t rip) : memory_(memory), rip_(rip) {}
  uint8_t u8(uint64_t off) const { return read_guest<uint8_t>(memory_, rip_ + off, "code"); }
  int8_t s8(uint64_t off) const { return static_cast<int8_t>(u8(off)); }
  int32_t s32(uint64_t off) const { return read_guest<int32_t>(memory_, rip_ + off, "code"); }
  uint16_t u16(uint64_t off) const { return read_guest<uint16_t>(memory_, rip_ + off, "code"); }
  uint64_t va(uint64_t off) const { return rip_ + off; }

 private:
  const AddressSpace& memory_;
  uint64_t rip_;
};

bool is_rex(uint8_t b) {
  return (b & 0xF0) == 0x40;
}
bool is_pop(uint8_t b) {
  return (b & 0xF8) == 0x58;
}

// Whether a direct `jmp` ending an epilog candidate leaves the function (a tail
// call) rather than jumping within it. A jump to the function's own entry is a
// recursive tail call; a jump into another fragment of the same function (one
// whose chain ends at the same primary entry) is not a call.
bool jump_leaves_function(const AddressSpace& memory, const UnwindImage& image,
                          const RuntimeFunctionEntry& fn, const UnwindInfo& info, uint64_t target) {
  const uint64_t rva = target - image.base.value;
  if (rva >= fn.begin && rva < fn.end) return rva == fn.begin && !(info.flags & kUnwFlagChainInfo);
  if (rva > UINT32_MAX) return true;
  const RuntimeFunctionEntry* other = lookup_function(image.functions, static_cast<uint32_t>(rva));
  if (other == nullptr) return true;
  const RuntimeFunctionEntry primary = primary_of(memory, image, fn);
  if (primary_of(memory, image, *other).begin != primary.begin) return true;
  return rva == primary.begin;
}

// Matches the code at RIP against the trailing part of a legal epilog:
//   [add rsp, imm8/imm32 | lea rsp, disp8/disp32[frame register]]
//   pop r64 (zero or more)
//   ret | ret imm16 | rep ret | a tail-call jmp
// RIP may sit at any of these instructions. The jmp forms are a direct jmp
// out of the function, an indirect jmp whose ModRM mod field is 00 (as the
// documentation allows), and REX.W jmp r/m64, the prefix Windows reads as
// "tail call".
std::optional<Epilog> match_epilog(const AddressSpace& memory, const UnwindImage& image,
                                   const RuntimeFunctionEntry& fn, const UnwindInfo& info,
                                   uint64_t rip) {
  const CodeBytes code(memory, rip);
  Epilog e;
  uint64_t pos = 0;

  // Without a frame pointer only `add rsp` may free the fixed allocation
  // (never `lea rsp, [rsp+n]`); with one, only `lea rsp, n[frame register]`.
  const uint8_t b0 = code.u8(0);
  if (b0 == 0x48 && (code.u8(1) == 0x83 || code.u8(1) == 0x81) && code.u8(2) == 0xC4) {
    e.adjust = Epilog::Adjust::AddRsp;
    const bool imm8 = code.u8(1) == 0x83;
    e.displacement = imm8 ? code.s8(3) : code.s32(3);
    pos = imm8 ? 4 : 7;
  } else if ((b0 & 0xFE) == 0x48 && code.u8(1) == 0x8D && info.frame_reg != 0) {
    // REX.W (+ REX.B for r8-r15); REX.R/X clear, so the destination is rsp.
    const uint8_t modrm = code.u8(2);
    const unsigned mod = modrm >> 6;
    const unsigned reg = (modrm >> 3) & 7;
    const unsigned rm = modrm & 7;
    const unsigned base = rm | ((b0 & 1u) << 3);
    uint64_t disp_at = 3;
    bool ok = reg == kRsp && (mod == 1 || mod == 2) && base == info.frame_reg;
    if (ok && rm == 4) {  // r12 as base needs a SIB byte with no index
      ok = code.u8(3) == 0x24;
      disp_at = 4;
    }
    if (ok) {
      e.adjust = Epilog::Adjust::LeaRsp;
      e.lea_base = base;
      e.displacement = mod == 1 ? code.s8(disp_at) : code.s32(disp_at);
      pos = disp_at + (mod == 1 ? 1 : 4);
    }
  }

  for (;;) {
    const uint8_t b = code.u8(pos);
    unsigned reg = 0;
    if (is_pop(b)) {
      reg = b & 7u;
      pos += 1;
    } else if (is_rex(b) && is_pop(code.u8(pos + 1))) {
      reg = (code.u8(pos + 1) & 7u) | ((b & 1u) << 3);
      pos += 2;
    } else {
      break;
    }
    if (e.pop_count == kMaxEpilogPops) return std::nullopt;
    e.pops[e.pop_count++] = static_cast<uint8_t>(reg);
  }

  const uint8_t op = code.u8(pos);
  if (op == 0xC3) return e;
  if (op == 0xC2) {
    e.ret_imm = code.u16(pos + 1);
    return e;
  }
  if (op == 0xF3 && code.u8(pos + 1) == 0xC3) return e;
  if (op == 0xEB || op == 0xE9) {
    const bool rel8 = op == 0xEB;
    const uint64_t next = code.va(pos + (rel8 ? 2 : 5));
    const int64_t rel = rel8 ? code.s8(pos + 1) : code.s32(pos + 1);
    if (jump_leaves_function(memory, image, fn, info, next + static_cast<uint64_t>(rel))) return e;
    return std::nullopt;
  }
  // jmp r/m64 is FF /4.
  const bool rex = is_rex(op);
  if ((rex ? code.u8(pos + 1) : op) == 0xFF) {
    const uint8_t modrm = code.u8(pos + (rex ? 2 : 1));
    if (((modrm >> 3) & 7) == 4 && ((modrm >> 6) == 0 || (rex && (op & 0x08)))) return e;
  }
  return std::nullopt;
}

// Carries out the rest of the epilog on ctx, ending with the return (a tail
// call returns to the same caller, so a jmp is emulated as a return too).
void run_epilog(const AddressSpace& memory, const Epilog& e, RegisterContext& ctx) {
  if (e.adjust == Epilog::Adjust::AddRsp) ctx.rsp += static_cast<uint64_t>(e.displacement);
  if (e.adjust == Epilog::Adjust::LeaRsp)
    ctx.rsp = gpr(ctx, e.lea_base) + static_cast<uint64_t>(e.displacement);
  for (unsigned i = 0; i < e.pop_count; ++i) {
    const uint64_t value = read_guest<uint64_t>(memory, ctx.rsp, "stack (epilog pop)");
    ctx.rsp += 8;
    gpr(ctx, e.pops[i]) = value;
  }
  ctx.rip = read_guest<uint64_t>(memory, ctx.rsp, "return address");
  ctx.rsp += 8 + e.ret_imm;
}

// Undoes the codes of one UNWIND_INFO whose effect has happened by
// `offset` (bytes from the start of its function entry). Returns true when a
// machine frame set rip and rsp.
bool apply_codes(const AddressSpace& memory, const UnwindInfo& info, uint64_t offset,
                 uint64_t frame_base, RegisterContext& ctx) {
  bool machine_frame = false;
  for (unsigned i = 0; i < info.count;) {
    const unsigned n = code_slots(info, i);
    const uint8_t op = info.op(i);
    const uint8_t reg = info.op_info(i);
    // Codes are sorted by descending prolog offset; a code whose instruction
    // has not run yet (partially executed prolog) is skipped. UWOP_EPILOG
    // offsets are not prolog offsets: those codes never act here.
    if (op != kEpilog && offset >= info.code_offset(i)) {
      switch (op) {
        case kPushNonvol: {
          const uint64_t value = read_guest<uint64_t>(memory, ctx.rsp, "stack (pushed register)");
          ctx.rsp += 8;
          gpr(ctx, reg) = value;
          break;
        }
        case kAllocLarge:
          ctx.rsp += reg == 0 ? 8ull * info.slots[i + 1] : info.far_operand(i);
          break;
        case kAllocSmall:
          ctx.rsp += 8ull * reg + 8;
          break;
        case kSetFpreg:
          ctx.rsp = gpr(ctx, info.frame_reg) - 16ull * info.frame_offset;
          break;
        case kSaveNonvol:
        case kSaveNonvolFar: {
          const uint64_t off = op == kSaveNonvol ? 8ull * info.slots[i + 1] : info.far_operand(i);
          gpr(ctx, reg) = read_guest<uint64_t>(memory, frame_base + off, "stack (saved register)");
          break;
        }
        case kSaveXmm128:
        case kSaveXmm128Far: {
          const uint64_t off = op == kSaveXmm128 ? 16ull * info.slots[i + 1] : info.far_operand(i);
          ctx.xmm[reg] =
              read_guest<std::array<uint8_t, 16>>(memory, frame_base + off, "stack (saved xmm)");
          break;
        }
        case kPushMachframe: {
          // The frame an interrupt pushed: [error code,] RIP, CS, EFLAGS, old RSP, SS.
          const uint64_t at = ctx.rsp + (reg != 0 ? 8 : 0);
          ctx.rip = read_guest<uint64_t>(memory, at, "machine frame RIP");
          ctx.rsp = read_guest<uint64_t>(memory, at + 24, "machine frame RSP");
          machine_frame = true;
          break;
        }
        default:
          break;
      }
    }
    i += n;
  }
  return machine_frame;
}

UnwindResult unwind_frame(const AddressSpace& memory, const UnwindImage& image,
                          const RuntimeFunctionEntry& fn, RegisterContext& ctx,
                          uint32_t handler_type);

}  // namespace

const RuntimeFunctionEntry* lookup_function(std::span<const RuntimeFunctionEntry> table,
                                            uint32_t rva) {
  auto it = std::upper_bound(table.begin(), table.end(), rva,
                             [](uint32_t v, const RuntimeFunctionEntry& e) { return v < e.begin; });
  if (it == table.begin()) return nullptr;
  --it;
  return rva < it->end ? &*it : nullptr;
}

UnwindResult virtual_unwind(const AddressSpace& memory, const UnwindImage& image,
                            const RuntimeFunctionEntry& fn, RegisterContext& ctx,
                            uint32_t handler_type) {
  // Work on a copy so that a failure leaves the caller's context untouched.
  RegisterContext caller = ctx;
  const UnwindResult result = unwind_frame(memory, image, fn, caller, handler_type);
  ctx = caller;
  return result;
}

namespace {

UnwindResult unwind_frame(const AddressSpace& memory, const UnwindImage& image,
                          const RuntimeFunctionEntry& fn, RegisterContext& ctx,
                          uint32_t handler_type) {
  const uint64_t control_pc = ctx.rip;
  const uint64_t base = image.base.value;
  const UnwindInfo info = read_info(memory, image, fn.unwind_info);
  // Distance from the entry's start; a RIP before it wraps high, so it never
  // counts as inside the prolog (as Windows' unsigned arithmetic has it).
  const uint64_t prolog_offset = control_pc - (base + fn.begin);

  UnwindResult result;
  result.establisher_frame = establisher_frame(info, ctx, prolog_offset);

  // Case a) RIP in an epilog: control is leaving the function, so no handler
  // applies; carry out the rest of the epilog. The code stream is only
  // examined past the prolog and, as since Windows 10 1809, not for functions
  // without unwind codes.
  if (info.count != 0 && prolog_offset >= info.prolog_size) {
    if (const auto epilog = match_epilog(memory, image, fn, info, control_pc)) {
      run_epilog(memory, *epilog, ctx);
      result.in_epilog = true;
      // The frame register may already hold the caller's value: report the
      // return-address slot instead, as Windows does.
      if (info.frame_reg != 0) result.establisher_frame = ctx.rsp - 8;
      return result;
    }
  }

  // Cases b) and c): undo the prolog codes whose instructions have run, then
  // every code of each chained info down to the primary one.
  RuntimeFunctionEntry entry = fn;
  UnwindInfo current = info;
  for (int depth = 1;; ++depth) {
    result.machine_frame |= apply_codes(memory, current, control_pc - (base + entry.begin),
                                        result.establisher_frame, ctx);
    if (!(current.flags & kUnwFlagChainInfo)) break;
    if (depth == kMaxUnwindChain)
      fail(fmt::format("more than {} chained UNWIND_INFOs from rva {:#x} (a loop?)",
                       kMaxUnwindChain, fn.unwind_info));
    entry = read_chained(memory, image, current);
    current = read_info(memory, image, entry.unwind_info);
  }
  if (!result.machine_frame) {
    ctx.rip = read_guest<uint64_t>(memory, ctx.rsp, "return address");
    ctx.rsp += 8;
  }

  // The handler belongs to the primary info, and only once RIP is past the
  // primary prolog (Windows compares against the primary entry's start).
  const uint32_t kinds = current.flags & handler_type & (kUnwFlagEHandler | kUnwFlagUHandler);
  if (kinds != 0 && control_pc - (base + entry.begin) >= current.prolog_size) {
    check_rva(image, current.trailer() - base, 4, "handler RVA");
    const auto rva = read_guest<uint32_t>(memory, current.trailer(), "handler RVA");
    check_rva(image, rva, 1, "language handler");
    result.handler = GuestVa{base + rva};
    result.handler_data = GuestVa{current.trailer() + 4};
  }
  return result;
}

}  // namespace

UnwindResult virtual_unwind(const AddressSpace& memory, GuestVa image_base,
                            const RuntimeFunctionEntry& fn, RegisterContext& ctx,
                            uint32_t handler_type) {
  return virtual_unwind(memory, UnwindImage{image_base, 0, {}}, fn, ctx, handler_type);
}

void unwind_leaf(const AddressSpace& memory, RegisterContext& ctx) {
  ctx.rip = read_guest<uint64_t>(memory, ctx.rsp, "return address");
  ctx.rsp += 8;
}

}  // namespace kemu::emu
