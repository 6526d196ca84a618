// A Kernel over a fresh Machine with one read-write page range for strings,
// a read-only page and an unmapped page after it, for calling kernel-routine
// handlers directly (no guest code).
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "emulator/machine.h"
#include "ntoskrnl-stubs/kernel.h"

namespace kemu::nt::test {

class RtlFixture : public ::testing::Test {
 protected:
  static constexpr GuestVa kData{0xFFFF'F806'1010'0000ull};  // 4 read-write pages
  static constexpr GuestVa kReadOnly = kData + 0x4000;       // one read-only page
  static constexpr GuestVa kUnmapped = kData + 0x5000;       // nothing mapped

  RtlFixture() : kernel_(machine_) {
    machine_.memory().map(kData, 0x4000, Prot::ReadWrite, emu::RegionKind::Scratch, "test strings");
    machine_.memory().map(kReadOnly, 0x1000, Prot::Read, emu::RegionKind::Scratch,
                          "test read-only");
  }

  GuestVa alloc(size_t bytes) {
    GuestVa va = kData + next_;
    next_ += (bytes + 15) & ~size_t{15};
    EXPECT_LE(next_, 0x4000u);
    return va;
  }
  // A NUL-terminated string in guest memory.
  GuestVa ansi(std::string_view s) {
    GuestVa va = alloc(s.size() + 1);
    mem().write(va, s.data(), s.size());
    mem().write<char>(va + s.size(), 0);
    return va;
  }
  GuestVa wide(std::u16string_view s) {
    GuestVa va = alloc(2 * s.size() + 2);
    mem().write(va, s.data(), 2 * s.size());
    mem().write<char16_t>(va + 2 * s.size(), 0);
    return va;
  }
  // A buffer of `bytes` bytes filled with `fill`.
  GuestVa buffer(size_t bytes, uint8_t fill = 0xCC) {
    GuestVa va = alloc(bytes);
    std::vector<uint8_t> b(bytes, fill);
    mem().write(va, b.data(), b.size());
    return va;
  }
  std::string bytes_at(GuestVa va, size_t n) {
    std::string s(n, '\0');
    mem().read(va, s.data(), n);
    return s;
  }
  std::u16string units_at(GuestVa va, size_t n) {
    std::u16string s(n, u'\0');
    mem().read(va, s.data(), 2 * n);
    return s;
  }
  // UNICODE_STRING { Length, MaximumLength, Buffer }.
  GuestVa counted(uint16_t length, uint16_t maximum, GuestVa buffer) {
    GuestVa va = alloc(16);
    mem().write<uint16_t>(va, length);
    mem().write<uint16_t>(va + 2, maximum);
    mem().write<uint32_t>(va + 4, 0);
    mem().write<uint64_t>(va + 8, buffer.value);
    return va;
  }
  uint16_t length_of(GuestVa us) { return mem().read<uint16_t>(us); }

  emu::AddressSpace& mem() { return machine_.memory(); }

  emu::Machine machine_;
  Kernel kernel_;
  size_t next_ = 0;
};

}  // namespace kemu::nt::test
