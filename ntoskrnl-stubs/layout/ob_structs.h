// Object-manager structures system services read from and write to their
// callers' memory (x64 layouts; tests/conformance checks them against the
// DDK headers where the headers declare them).
#pragma once

#include <cstddef>
#include <cstdint>

#include "ntoskrnl-stubs/layout/nt_structs.h"

namespace kemu::nt::layout {

struct OBJECT_ATTRIBUTES {
  uint32_t Length;  // must be sizeof(OBJECT_ATTRIBUTES)
  uint32_t pad0;
  uint64_t RootDirectory;
  uint64_t ObjectName;  // PUNICODE_STRING
  uint32_t Attributes;
  uint32_t pad1;
  uint64_t SecurityDescriptor;
  uint64_t SecurityQualityOfService;
};
static_assert(sizeof(OBJECT_ATTRIBUTES) == 0x30);

// OBJECT_NAME_INFORMATION: the name's UNICODE_STRING, its buffer right after.
struct OBJECT_NAME_INFORMATION {
  UNICODE_STRING Name;
};
static_assert(sizeof(OBJECT_NAME_INFORMATION) == 0x10);

// ZwQueryObject(ObjectBasicInformation).
struct PUBLIC_OBJECT_BASIC_INFORMATION {
  uint32_t Attributes;
  uint32_t GrantedAccess;
  uint32_t HandleCount;
  uint32_t PointerCount;
  uint32_t Reserved[10];
};
static_assert(sizeof(PUBLIC_OBJECT_BASIC_INFORMATION) == 0x38);

// ZwQueryObject(ObjectTypeInformation): the full OBJECT_TYPE_INFORMATION
// Windows fills (the DDK declares only PUBLIC_OBJECT_TYPE_INFORMATION, whose
// TypeName comes first too); the type name's buffer follows.
struct OBJECT_TYPE_INFORMATION {
  UNICODE_STRING TypeName;
  uint32_t TotalNumberOfObjects;
  uint32_t TotalNumberOfHandles;
  uint32_t TotalPagedPoolUsage;
  uint32_t TotalNonPagedPoolUsage;
  uint32_t TotalNamePoolUsage;
  uint32_t TotalHandleTableUsage;
  uint32_t HighWaterNumberOfObjects;
  uint32_t HighWaterNumberOfHandles;
  uint32_t HighWaterPagedPoolUsage;
  uint32_t HighWaterNonPagedPoolUsage;
  uint32_t HighWaterNamePoolUsage;
  uint32_t HighWaterHandleTableUsage;
  uint32_t InvalidAttributes;
  GENERIC_MAPPING GenericMapping;
  uint32_t ValidAccessMask;
  uint8_t SecurityRequired;
  uint8_t MaintainHandleCount;
  uint8_t TypeIndex;
  uint8_t ReservedByte;
  uint32_t PoolType;
  uint32_t DefaultPagedPoolCharge;
  uint32_t DefaultNonPagedPoolCharge;
};
static_assert(sizeof(OBJECT_TYPE_INFORMATION) == 0x68);

// ZwQueryDirectoryObject's entries: {Name, TypeName}, an all-zero entry
// ends the array, the strings follow it.
struct OBJECT_DIRECTORY_INFORMATION {
  UNICODE_STRING Name;
  UNICODE_STRING TypeName;
};
static_assert(sizeof(OBJECT_DIRECTORY_INFORMATION) == 0x20);

}  // namespace kemu::nt::layout
