// Strong types shared by every layer: guest addresses, protections, the
// processor modes and IRQLs of the emulated NT kernel.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <string>

namespace kemu {

// A guest virtual address. Never a host pointer, never a length.
struct GuestVa {
  uint64_t value = 0;

  constexpr GuestVa() = default;
  constexpr explicit GuestVa(uint64_t v) : value(v) {}

  constexpr bool is_null() const { return value == 0; }
  constexpr explicit operator bool() const { return value != 0; }
  constexpr GuestVa operator+(uint64_t off) const { return GuestVa{value + off}; }
  constexpr GuestVa operator-(uint64_t off) const { return GuestVa{value - off}; }
  constexpr uint64_t operator-(GuestVa other) const { return value - other.value; }
  constexpr GuestVa& operator+=(uint64_t off) {
    value += off;
    return *this;
  }
  constexpr auto operator<=>(const GuestVa&) const = default;

  std::string hex() const;  // "0xfffff80000001000", lowercase, no padding
};

constexpr uint64_t kPageSize = 0x1000;
constexpr uint64_t page_down(uint64_t v) { return v & ~(kPageSize - 1); }
constexpr uint64_t page_up(uint64_t v) { return (v + kPageSize - 1) & ~(kPageSize - 1); }

// Address-space layout of Windows 10 x64 (semantics.md §1).
namespace layout {
constexpr uint64_t kLowestUserAddress = 0x10000;
constexpr uint64_t kHighestUserAddress = 0x7FFF'FFFE'FFFF;
constexpr uint64_t kUserProbeAddress = 0x7FFF'FFFF'0000;
constexpr uint64_t kSystemRangeStart = 0xFFFF'8000'0000'0000;
constexpr uint64_t kSharedUserData = 0xFFFF'F780'0000'0000;
constexpr uint64_t kSharedUserDataUserAlias = 0x7FFE'0000;
// kemu's own: where the client's buffers with placement `kernel` (mapped
// kernel scratch pages) and `kernel_unmapped` (cli.md) are put: near the
// bottom of the kernel half, where nothing else lives, so that one range
// from address 0 covers them and the user half (the verifier watches both).
constexpr uint64_t kClientKernelBuffers = 0xFFFF'8100'0000'0000;
constexpr uint64_t kClientKernelBuffersEnd = 0xFFFF'8200'0000'0000;
}  // namespace layout

constexpr bool is_user_address(GuestVa va) { return va.value < layout::kUserProbeAddress; }
constexpr bool is_kernel_address(GuestVa va) { return va.value >= layout::kSystemRangeStart; }
// x64 canonical form: bits 63..47 all equal.
constexpr bool is_canonical(GuestVa va) {
  uint64_t top = va.value >> 47;
  return top == 0 || top == 0x1FFFF;
}

enum class Prot : uint8_t {
  None = 0,
  Read = 1,
  Write = 2,
  Exec = 4,
  ReadWrite = 3,
  ReadExec = 5,
  All = 7,
};
constexpr Prot operator|(Prot a, Prot b) {
  return static_cast<Prot>(static_cast<uint8_t>(a) | static_cast<uint8_t>(b));
}
constexpr bool has(Prot p, Prot bit) {
  return (static_cast<uint8_t>(p) & static_cast<uint8_t>(bit)) == static_cast<uint8_t>(bit);
}

// KPROCESSOR_MODE.
enum class ProcessorMode : uint8_t { KernelMode = 0, UserMode = 1 };
const char* to_string(ProcessorMode m);

// KIRQL values used by kemu.
namespace irql {
constexpr uint8_t kPassive = 0;
constexpr uint8_t kApc = 1;
constexpr uint8_t kDispatch = 2;
constexpr uint8_t kHigh = 15;
}  // namespace irql

}  // namespace kemu

template <>
struct std::hash<kemu::GuestVa> {
  size_t operator()(kemu::GuestVa va) const noexcept { return std::hash<uint64_t>{}(va.value); }
};
