#include "ntoskrnl-stubs/cm/key_info.h"

#include <algorithm>
#include <cstring>

#include "ntoskrnl-stubs/layout/cm_structs.h"

namespace kemu::nt::cm {

namespace {

constexpr uint32_t align4(uint32_t v) { return (v + 3) & ~3u; }
constexpr uint32_t align8(uint32_t v) { return (v + 7) & ~7u; }

template <class T>
std::vector<uint8_t> bytes_of(const T& v) {
  std::vector<uint8_t> out(sizeof(T));
  std::memcpy(out.data(), &v, sizeof(T));
  return out;
}

std::vector<uint8_t> utf16_of(std::u16string_view s) {
  std::vector<uint8_t> out(s.size() * 2);
  if (!out.empty()) std::memcpy(out.data(), s.data(), out.size());
  return out;
}

// Appends the first `room` bytes of `part` at `offset`; a part cut short
// makes the whole record STATUS_BUFFER_OVERFLOW.
void put_prefix(InfoResult& r, uint32_t offset, std::vector<uint8_t> part, uint32_t room) {
  if (room < part.size()) {
    part.resize(room);
    r.status = STATUS_BUFFER_OVERFLOW;
  }
  if (!part.empty()) r.writes.push_back({offset, std::move(part)});
}

// Room left in a buffer of `length` bytes from `offset` on (none past its end).
uint32_t room_from(uint32_t length, uint32_t offset) { return length > offset ? length - offset : 0; }

}  // namespace

KeySummary summarize(const Hive& hive, NodeId id) {
  const KeyNode& n = hive.node(id);
  KeySummary s;
  s.last_write_time = n.last_write_time;
  s.name = n.name;
  s.full_path = hive.full_path(id);
  s.class_name = n.class_name;
  s.subkeys = static_cast<uint32_t>(n.subkeys.size());
  s.values = static_cast<uint32_t>(n.values.size());
  s.max_name_len = n.max_name_len;
  s.max_class_len = n.max_class_len;
  s.max_value_name_len = n.max_value_name_len;
  s.max_value_data_len = n.max_value_data_len;
  return s;
}

InfoResult encode_value_info(uint32_t info_class, const Value& v, uint32_t length) {
  InfoResult r;
  const auto name_len = static_cast<uint32_t>(v.name.size() * 2);
  const auto data_len = static_cast<uint32_t>(v.data.size());
  switch (info_class) {
    case value_class::kBasic: {
      // TitleIndex, Type, NameLength, Name
      const uint32_t fixed = layout::kKeyValueBasicNameOffset;
      r.result_length = fixed + name_len;
      if (length < fixed) {
        r.status = STATUS_BUFFER_TOO_SMALL;
        return r;
      }
      r.writes.push_back({0, bytes_of(layout::KEY_VALUE_BASIC_INFORMATION{0, v.type, name_len})});
      put_prefix(r, fixed, utf16_of(v.name), length - fixed);
      return r;
    }
    case value_class::kFull:
    case value_class::kFullAlign64: {
      // TitleIndex, Type, DataOffset, DataLength, NameLength, Name, Data. On
      // x64 the data starts 8-aligned for both classes.
      const uint32_t fixed = layout::kKeyValueFullNameOffset;
      const uint32_t base = fixed + name_len;
      const uint32_t data_offset = data_len ? align8(base) : 0;
      r.result_length = data_len ? data_offset + data_len : base;
      if (length < fixed) {
        r.status = STATUS_BUFFER_TOO_SMALL;
        return r;
      }
      // A value without data reports DataOffset -1.
      r.writes.push_back({0, bytes_of(layout::KEY_VALUE_FULL_INFORMATION{
                                  0, v.type, data_len ? data_offset : 0xFFFFFFFFu, data_len, name_len})});
      put_prefix(r, fixed, utf16_of(v.name), length - fixed);
      if (data_len) put_prefix(r, data_offset, v.data, room_from(length, data_offset));
      return r;
    }
    case value_class::kPartial: {
      // TitleIndex, Type, DataLength, Data
      const uint32_t fixed = layout::kKeyValuePartialDataOffset;
      r.result_length = fixed + data_len;
      if (length < fixed) {
        r.status = STATUS_BUFFER_TOO_SMALL;
        return r;
      }
      r.writes.push_back({0, bytes_of(layout::KEY_VALUE_PARTIAL_INFORMATION{0, v.type, data_len})});
      put_prefix(r, fixed, v.data, length - fixed);
      return r;
    }
    case value_class::kPartialAlign64: {
      // Type, DataLength, Data
      const uint32_t fixed = layout::kKeyValuePartialAlign64DataOffset;
      r.result_length = fixed + data_len;
      if (length < fixed) {
        r.status = STATUS_BUFFER_TOO_SMALL;
        return r;
      }
      r.writes.push_back({0, bytes_of(layout::KEY_VALUE_PARTIAL_INFORMATION_ALIGN64{v.type, data_len})});
      put_prefix(r, fixed, v.data, length - fixed);
      return r;
    }
    default:
      r.status = STATUS_INVALID_PARAMETER;
      return r;
  }
}

InfoResult encode_key_info(uint32_t info_class, const KeySummary& k, uint32_t length) {
  InfoResult r;
  const auto name_len = static_cast<uint32_t>(k.name.size() * 2);
  const auto class_len = static_cast<uint32_t>(k.class_name.size() * 2);
  switch (info_class) {
    case key_class::kBasic: {
      // LastWriteTime, TitleIndex, NameLength, Name
      const uint32_t fixed = layout::kKeyBasicNameOffset;
      r.result_length = fixed + name_len;
      if (length < fixed) {
        r.status = STATUS_BUFFER_TOO_SMALL;
        return r;
      }
      r.writes.push_back({0, bytes_of(layout::KEY_BASIC_INFORMATION{k.last_write_time, 0, name_len})});
      put_prefix(r, fixed, utf16_of(k.name), length - fixed);
      return r;
    }
    case key_class::kNode: {
      // LastWriteTime, TitleIndex, ClassOffset, ClassLength, NameLength,
      // Name, Class. The required size counts no alignment padding, though
      // the class is written 4-aligned after the name.
      const uint32_t fixed = layout::kKeyNodeNameOffset;
      r.result_length = fixed + name_len + class_len;
      if (length < fixed) {
        r.status = STATUS_BUFFER_TOO_SMALL;
        return r;
      }
      const uint32_t class_offset = class_len ? align4(fixed + name_len) : 0xFFFFFFFFu;
      r.writes.push_back(
          {0, bytes_of(layout::KEY_NODE_INFORMATION{k.last_write_time, 0, class_offset, class_len, name_len})});
      put_prefix(r, fixed, utf16_of(k.name), length - fixed);
      if (class_len) put_prefix(r, class_offset, utf16_of(k.class_name), room_from(length, class_offset));
      return r;
    }
    case key_class::kFull: {
      // LastWriteTime, TitleIndex, ClassOffset, ClassLength, SubKeys,
      // MaxNameLen, MaxClassLen, Values, MaxValueNameLen, MaxValueDataLen, Class
      const uint32_t fixed = layout::kKeyFullClassOffset;
      r.result_length = fixed + class_len;
      if (length < fixed) {
        r.status = STATUS_BUFFER_TOO_SMALL;
        return r;
      }
      layout::KEY_FULL_INFORMATION f{};
      f.LastWriteTime = k.last_write_time;
      f.ClassOffset = class_len ? fixed : 0xFFFFFFFFu;
      f.ClassLength = class_len;
      f.SubKeys = k.subkeys;
      f.MaxNameLen = k.max_name_len;
      f.MaxClassLen = k.max_class_len;
      f.Values = k.values;
      f.MaxValueNameLen = k.max_value_name_len;
      f.MaxValueDataLen = k.max_value_data_len;
      auto header = bytes_of(f);
      header.resize(fixed);  // the structure's tail padding is the class's first bytes
      r.writes.push_back({0, std::move(header)});
      if (class_len) put_prefix(r, fixed, utf16_of(k.class_name), length - fixed);
      return r;
    }
    case key_class::kName: {
      // NameLength, Name: the key's full name.
      const uint32_t fixed = layout::kKeyNameNameOffset;
      const auto path_len = static_cast<uint32_t>(k.full_path.size() * 2);
      r.result_length = fixed + path_len;
      if (length < fixed) {
        r.status = STATUS_BUFFER_TOO_SMALL;
        return r;
      }
      r.writes.push_back({0, bytes_of(layout::KEY_NAME_INFORMATION{path_len})});
      put_prefix(r, fixed, utf16_of(k.full_path), length - fixed);
      return r;
    }
    case key_class::kCached: {
      // The fixed record only (NameLength without the name).
      r.result_length = sizeof(layout::KEY_CACHED_INFORMATION);
      if (length < r.result_length) {
        r.status = STATUS_BUFFER_TOO_SMALL;
        return r;
      }
      layout::KEY_CACHED_INFORMATION c{};
      c.LastWriteTime = k.last_write_time;
      c.SubKeys = k.subkeys;
      c.MaxNameLen = k.max_name_len;
      c.Values = k.values;
      c.MaxValueNameLen = k.max_value_name_len;
      c.MaxValueDataLen = k.max_value_data_len;
      c.NameLength = name_len;
      auto record = bytes_of(c);
      record.resize(offsetof(layout::KEY_CACHED_INFORMATION, pad));
      r.writes.push_back({0, std::move(record)});
      return r;
    }
    case key_class::kFlags:
    case key_class::kVirtualization:
    case key_class::kHandleTags:
    case key_class::kTrust:
      // Not modelled: kemu does not know these records' contents for 22H2.
      r.status = STATUS_NOT_IMPLEMENTED;
      return r;
    default:
      r.status = STATUS_INVALID_PARAMETER;
      return r;
  }
}

std::vector<uint8_t> flatten(const InfoResult& result, uint32_t length) {
  std::vector<uint8_t> out(length, 0);
  for (const InfoWrite& w : result.writes)
    for (size_t i = 0; i < w.bytes.size() && w.offset + i < length; ++i) out[w.offset + i] = w.bytes[i];
  return out;
}

}  // namespace kemu::nt::cm
