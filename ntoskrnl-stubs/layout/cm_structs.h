// Configuration-manager (registry) structures drivers read and write (x64
// layouts; tests/conformance checks the ones the DDK headers declare).
#pragma once

#include <cstddef>
#include <cstdint>

namespace kemu::nt::layout {

// KEY_VALUE_INFORMATION_CLASS records (the name/data arrays follow the fixed part).
struct KEY_VALUE_BASIC_INFORMATION {
  uint32_t TitleIndex;
  uint32_t Type;
  uint32_t NameLength;
  // WCHAR Name[]
};
constexpr uint32_t kKeyValueBasicNameOffset = 12;

struct KEY_VALUE_FULL_INFORMATION {
  uint32_t TitleIndex;
  uint32_t Type;
  uint32_t DataOffset;
  uint32_t DataLength;
  uint32_t NameLength;
  // WCHAR Name[]
};
constexpr uint32_t kKeyValueFullNameOffset = 20;

struct KEY_VALUE_PARTIAL_INFORMATION {
  uint32_t TitleIndex;
  uint32_t Type;
  uint32_t DataLength;
  // UCHAR Data[]
};
constexpr uint32_t kKeyValuePartialDataOffset = 12;

struct KEY_VALUE_PARTIAL_INFORMATION_ALIGN64 {
  uint32_t Type;
  uint32_t DataLength;
  // UCHAR Data[]
};
constexpr uint32_t kKeyValuePartialAlign64DataOffset = 8;

// KEY_INFORMATION_CLASS records.
struct KEY_BASIC_INFORMATION {
  int64_t LastWriteTime;
  uint32_t TitleIndex;
  uint32_t NameLength;
  // WCHAR Name[]
};
constexpr uint32_t kKeyBasicNameOffset = 16;

struct KEY_NODE_INFORMATION {
  int64_t LastWriteTime;
  uint32_t TitleIndex;
  uint32_t ClassOffset;
  uint32_t ClassLength;
  uint32_t NameLength;
  // WCHAR Name[], then the class at ClassOffset
};
constexpr uint32_t kKeyNodeNameOffset = 24;

struct KEY_FULL_INFORMATION {
  int64_t LastWriteTime;
  uint32_t TitleIndex;
  uint32_t ClassOffset;
  uint32_t ClassLength;
  uint32_t SubKeys;
  uint32_t MaxNameLen;
  uint32_t MaxClassLen;
  uint32_t Values;
  uint32_t MaxValueNameLen;
  uint32_t MaxValueDataLen;
  // WCHAR Class[]
};
constexpr uint32_t kKeyFullClassOffset = 44;

struct KEY_NAME_INFORMATION {
  uint32_t NameLength;
  // WCHAR Name[]
};
constexpr uint32_t kKeyNameNameOffset = 4;

struct KEY_CACHED_INFORMATION {
  int64_t LastWriteTime;
  uint32_t TitleIndex;
  uint32_t SubKeys;
  uint32_t MaxNameLen;
  uint32_t Values;
  uint32_t MaxValueNameLen;
  uint32_t MaxValueDataLen;
  uint32_t NameLength;
  uint32_t pad;  // the structure is 8-aligned (LARGE_INTEGER)
};
static_assert(sizeof(KEY_CACHED_INFORMATION) == 40);

// RtlQueryRegistryValues' table entry.
struct RTL_QUERY_REGISTRY_TABLE {
  uint64_t QueryRoutine;  // PRTL_QUERY_REGISTRY_ROUTINE
  uint32_t Flags;
  uint32_t pad0;
  uint64_t Name;          // PWSTR
  uint64_t EntryContext;  // PVOID
  uint32_t DefaultType;
  uint32_t pad1;
  uint64_t DefaultData;   // PVOID
  uint32_t DefaultLength;
  uint32_t pad2;
};
static_assert(sizeof(RTL_QUERY_REGISTRY_TABLE) == 0x38);
static_assert(offsetof(RTL_QUERY_REGISTRY_TABLE, EntryContext) == 0x18);
static_assert(offsetof(RTL_QUERY_REGISTRY_TABLE, DefaultType) == 0x20);
static_assert(offsetof(RTL_QUERY_REGISTRY_TABLE, DefaultData) == 0x28);
static_assert(offsetof(RTL_QUERY_REGISTRY_TABLE, DefaultLength) == 0x30);

// Body of a Key object (CM_KEY_BODY): only its signature is meaningful to
// kemu; the key itself is host-side data keyed by the object's id.
constexpr uint32_t kKeyBodyType = 0x6B793032;  // 'ky02'
constexpr uint64_t kKeyBodySize = 0x58;

}  // namespace kemu::nt::layout
