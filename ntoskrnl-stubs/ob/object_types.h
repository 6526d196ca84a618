// Object types of the emulated object manager: name, TypeIndex (as in the
// OBJECT_HEADER of Windows 10 19045, without the header-cookie encoding),
// GENERIC_MAPPING, valid access mask and pool type.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "ntoskrnl-stubs/layout/nt_structs.h"

namespace kemu::nt::ob {

using ObjectId = uint32_t;
constexpr ObjectId kNoObject = 0;

enum class TypeIndex : uint8_t {
  Type = 2,
  Directory = 3,
  SymbolicLink = 4,
  Token = 5,
  Job = 6,
  Process = 7,
  Thread = 8,
  Event = 16,
  Mutant = 17,
  Callback = 18,
  Semaphore = 19,
  Timer = 20,
  Adapter = 31,
  Controller = 32,
  Device = 33,
  Driver = 34,
  IoCompletion = 35,
  File = 37,
  Section = 42,
  Session = 43,
  Key = 44,
};

struct TypeDescriptor {
  TypeIndex index;
  std::u16string_view name;
  std::string_view export_name;  // data export holding a POBJECT_TYPE, or ""
  layout::GENERIC_MAPPING mapping;
  uint32_t valid_access_mask;
  uint32_t pool_type;  // 0 NonPagedPool, 1 PagedPool
};

// Every type kemu creates, in creation order.
std::span<const TypeDescriptor> all_types();
const TypeDescriptor& descriptor(TypeIndex index);

// Maps GENERIC_* bits through a type's mapping (MAXIMUM_ALLOWED is kept).
uint32_t map_generic(uint32_t access, const layout::GENERIC_MAPPING& mapping);

// Access-mask bits (semantics.md §3).
constexpr uint32_t kGenericRead = 0x80000000;
constexpr uint32_t kGenericWrite = 0x40000000;
constexpr uint32_t kGenericExecute = 0x20000000;
constexpr uint32_t kGenericAll = 0x10000000;
constexpr uint32_t kMaximumAllowed = 0x02000000;
constexpr uint32_t kSynchronize = 0x00100000;
constexpr uint32_t kStandardRightsRequired = 0x000F0000;

}  // namespace kemu::nt::ob
