// Debug output: DbgPrint, DbgPrintEx, vDbgPrintEx, vDbgPrintExWithPrefix,
// DbgPrompt-less breakpoints. Every call is recorded whatever its component
// and level (Windows would filter some; cli.md says record all).
#include "emulator/ntstatus.h"
#include "ntoskrnl-stubs/api/registry.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/rtl/format.h"

namespace kemu::nt {

namespace {

// Variadic arguments of the trapped call, starting at argument `first`.
class CallArgs final : public rtl::FormatArgs {
 public:
  CallArgs(emu::Machine& m, unsigned first) : m_(m), next_(first) {}
  uint64_t next() override { return next_ < 64 ? m_.arg(next_++) : 0; }

 private:
  emu::Machine& m_;
  unsigned next_;
};

// A va_list on x64 is a pointer to consecutive 8-byte slots.
class VaListArgs final : public rtl::FormatArgs {
 public:
  VaListArgs(const emu::AddressSpace& mem, GuestVa list) : mem_(mem), at_(list) {}
  uint64_t next() override {
    uint64_t v = mem_.try_read<uint64_t>(at_).value_or(0);
    at_ += 8;
    return v;
  }

 private:
  const emu::AddressSpace& mem_;
  GuestVa at_;
};

void record(Kernel& k, std::string text) {
  if (!text.empty() && text.back() == '\n') text.pop_back();
  k.debug_output().push_back(std::move(text));
}

std::string format_at(Kernel& k, GuestVa format, rtl::FormatArgs& args) {
  if (!format) return "(null)";
  std::string f = k.memory().read_cstring(format, 64 * 1024);
  return rtl::format_windows(f, args, k.memory());
}

}  // namespace

NtStatus DbgPrint(Kernel& k, GuestVa format) {
  CallArgs args(k.machine(), 1);
  record(k, format_at(k, format, args));
  return STATUS_SUCCESS;
}

NtStatus DbgPrintEx(Kernel& k, uint32_t component, uint32_t level, GuestVa format) {
  CallArgs args(k.machine(), 3);
  record(k, format_at(k, format, args));
  return STATUS_SUCCESS;
}

NtStatus DbgPrintReturnControlC(Kernel& k, GuestVa format) { return DbgPrint(k, format); }

NtStatus vDbgPrintEx(Kernel& k, uint32_t component, uint32_t level, GuestVa format, GuestVa va_list) {
  VaListArgs args(k.memory(), va_list);
  record(k, format_at(k, format, args));
  return STATUS_SUCCESS;
}

NtStatus vDbgPrintExWithPrefix(Kernel& k, GuestVa prefix, uint32_t component, uint32_t level,
                               GuestVa format, GuestVa va_list) {
  VaListArgs args(k.memory(), va_list);
  std::string p = prefix ? k.memory().read_cstring(prefix, 4096) : "";
  record(k, p + format_at(k, format, args));
  return STATUS_SUCCESS;
}

// With no kernel debugger attached, a breakpoint is recorded and execution
// continues (semantics.md §6).
void DbgBreakPoint(Kernel& k) { k.machine().breakpoints().push_back(k.machine().call_site()); }
void DbgBreakPointWithStatus(Kernel& k, uint32_t status) { DbgBreakPoint(k); }

void register_dbg_exports(Registry& r) {
  KEMU_EXPORT(r, DbgPrint);
  KEMU_EXPORT(r, DbgPrintEx);
  KEMU_EXPORT(r, DbgPrintReturnControlC);
  KEMU_EXPORT(r, vDbgPrintEx);
  KEMU_EXPORT(r, vDbgPrintExWithPrefix);
  KEMU_EXPORT(r, DbgBreakPoint);
  KEMU_EXPORT(r, DbgBreakPointWithStatus);
}

}  // namespace kemu::nt
