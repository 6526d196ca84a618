// The KEY_*_INFORMATION and KEY_VALUE_*_INFORMATION records ZwQueryKey,
// ZwEnumerateKey, ZwQueryValueKey and ZwEnumerateValueKey return, encoded as
// the configuration manager fills a caller's buffer of `length` bytes
// (CmpQueryKeyData / CmpQueryKeyValueData): below the fixed part nothing is
// written (STATUS_BUFFER_TOO_SMALL); otherwise the fixed part and as much of
// the name, class or data as fits (STATUS_BUFFER_OVERFLOW when not all of
// it); the required size is always reported.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "emulator/ntstatus.h"
#include "ntoskrnl-stubs/cm/hive.h"

namespace kemu::nt::cm {

// KEY_VALUE_INFORMATION_CLASS
namespace value_class {
constexpr uint32_t kBasic = 0;
constexpr uint32_t kFull = 1;
constexpr uint32_t kPartial = 2;
constexpr uint32_t kFullAlign64 = 3;
constexpr uint32_t kPartialAlign64 = 4;
}  // namespace value_class

// KEY_INFORMATION_CLASS
namespace key_class {
constexpr uint32_t kBasic = 0;
constexpr uint32_t kNode = 1;
constexpr uint32_t kFull = 2;
constexpr uint32_t kName = 3;
constexpr uint32_t kCached = 4;
constexpr uint32_t kFlags = 5;
constexpr uint32_t kVirtualization = 6;
constexpr uint32_t kHandleTags = 7;
constexpr uint32_t kTrust = 8;
}  // namespace key_class

// Bytes written at an offset of the caller's buffer (the parts Windows
// writes; padding between them is left untouched).
struct InfoWrite {
  uint32_t offset = 0;
  std::vector<uint8_t> bytes;
};

struct InfoResult {
  NtStatus status = STATUS_SUCCESS;
  uint32_t result_length = 0;  // the size the whole record needs
  std::vector<InfoWrite> writes;
};

// What the key records describe.
struct KeySummary {
  int64_t last_write_time = 0;
  std::u16string name;       // the key's own name
  std::u16string full_path;  // \REGISTRY\...
  std::u16string class_name;
  uint32_t subkeys = 0;
  uint32_t values = 0;
  uint32_t max_name_len = 0;
  uint32_t max_class_len = 0;
  uint32_t max_value_name_len = 0;
  uint32_t max_value_data_len = 0;
};
KeySummary summarize(const Hive& hive, NodeId id);

// KeyValueBasic/Full/Partial/FullAlign64/PartialAlign64 of `value`; another
// class is STATUS_INVALID_PARAMETER.
InfoResult encode_value_info(uint32_t info_class, const Value& value, uint32_t length);

// KeyBasic/Node/Full/Name/Cached of `key`; KeyFlags, KeyVirtualization,
// KeyHandleTags and KeyTrust are not modelled (STATUS_NOT_IMPLEMENTED);
// another class is STATUS_INVALID_PARAMETER.
InfoResult encode_key_info(uint32_t info_class, const KeySummary& key, uint32_t length);

// The InfoResult's writes applied to a zero-filled buffer of `length` bytes
// (for tests and for callers that build the record in host memory).
std::vector<uint8_t> flatten(const InfoResult& result, uint32_t length);

}  // namespace kemu::nt::cm
