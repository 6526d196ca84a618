// Typed kernel-routine handlers. A handler is a plain C++ function whose
// parameters are the routine's parameters:
//
//   NtStatus IoCreateDevice(Kernel& k, GuestVa driver, uint32_t ext_size,
//                           GuestVa name, uint32_t type, uint32_t chars,
//                           uint8_t exclusive, GuestVa out_device);
//
// invoke<&IoCreateDevice> unpacks the Win64 calling convention (rcx, rdx, r8,
// r9, then the stack above the home space) into those parameters, truncating
// each 64-bit slot to the declared width as the callee would, and writes the
// result to RAX. Registration is one line per export (see api/registry.h).
#pragma once

#include <cstdint>
#include <tuple>
#include <type_traits>
#include <utility>

#include "emulator/machine.h"
#include "emulator/types.h"

namespace kemu::nt {

class Kernel;

emu::Machine& machine_of(Kernel& k);

namespace detail {

template <class T>
T from_slot(uint64_t raw) {
  if constexpr (std::is_same_v<T, GuestVa>) {
    return GuestVa{raw};
  } else if constexpr (std::is_same_v<T, bool>) {
    return (raw & 0xFF) != 0;  // BOOLEAN is one byte
  } else if constexpr (std::is_integral_v<T> || std::is_enum_v<T>) {
    return static_cast<T>(raw);  // the callee sees only the low bytes
  } else {
    static_assert(sizeof(T) == 0, "unsupported handler parameter type");
  }
}

template <class T>
uint64_t to_rax(T value) {
  if constexpr (std::is_same_v<T, GuestVa>) {
    return value.value;
  } else if constexpr (std::is_same_v<T, bool>) {
    return value ? 1 : 0;
  } else if constexpr (std::is_signed_v<T>) {
    return static_cast<uint64_t>(static_cast<int64_t>(value));
  } else {
    return static_cast<uint64_t>(value);
  }
}

template <class F>
struct Signature;
template <class R, class... A>
struct Signature<R (*)(Kernel&, A...)> {
  using Result = R;
  using Args = std::tuple<A...>;
  static constexpr size_t kArity = sizeof...(A);
};

template <auto Fn, size_t... I>
void invoke_impl(Kernel& k, std::index_sequence<I...>) {
  using Sig = Signature<decltype(Fn)>;
  using Args = typename Sig::Args;
  emu::Machine& m = machine_of(k);
  // Arguments are read before the call, left to right.
  Args args{from_slot<std::tuple_element_t<I, Args>>(m.arg(I))...};
  if constexpr (std::is_void_v<typename Sig::Result>) {
    Fn(k, std::get<I>(args)...);
  } else {
    auto result = Fn(k, std::get<I>(args)...);
    m.set_return(to_rax(result));
  }
}

}  // namespace detail

using HandlerFn = void (*)(Kernel&);

template <auto Fn>
void invoke(Kernel& k) {
  using Sig = detail::Signature<decltype(Fn)>;
  detail::invoke_impl<Fn>(k, std::make_index_sequence<Sig::kArity>{});
}

template <auto Fn>
constexpr size_t arity() {
  return detail::Signature<decltype(Fn)>::kArity;
}

}  // namespace kemu::nt
