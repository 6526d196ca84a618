// The KEY_*_INFORMATION / KEY_VALUE_*_INFORMATION encoders
// (ntoskrnl-stubs/cm/key_info.h): record bytes, required sizes, and the
// STATUS_BUFFER_TOO_SMALL (nothing written) / STATUS_BUFFER_OVERFLOW (fixed
// part and what fits) boundary of each class.
#include "ntoskrnl-stubs/cm/key_info.h"

#include <gtest/gtest.h>

#include <cstring>

namespace kemu::nt::cm {
namespace {

constexpr uint8_t kPad = 0xCC;

// The record as a caller's buffer pre-filled with 0xCC sees it.
std::vector<uint8_t> buffer_after(const InfoResult& r, uint32_t length) {
  std::vector<uint8_t> out(length, kPad);
  for (const InfoWrite& w : r.writes)
    for (size_t i = 0; i < w.bytes.size(); ++i) out.at(w.offset + i) = w.bytes[i];
  return out;
}

std::vector<uint8_t> u32(uint32_t v) { return {uint8_t(v), uint8_t(v >> 8), uint8_t(v >> 16), uint8_t(v >> 24)}; }
std::vector<uint8_t> u64(uint64_t v) {
  auto lo = u32(static_cast<uint32_t>(v)), hi = u32(static_cast<uint32_t>(v >> 32));
  lo.insert(lo.end(), hi.begin(), hi.end());
  return lo;
}
std::vector<uint8_t> w(std::u16string_view s) {
  std::vector<uint8_t> out;
  for (char16_t c : s) out.insert(out.end(), {uint8_t(c), uint8_t(c >> 8)});
  return out;
}
std::vector<uint8_t> cat(std::initializer_list<std::vector<uint8_t>> parts) {
  std::vector<uint8_t> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}
std::vector<uint8_t> pad(size_t n) { return std::vector<uint8_t>(n, kPad); }

const Value kMode{u"Mode", reg::kDword, {0x01, 0x00, 0x00, 0x00}};

TEST(KeyValueInfo, BasicIsTitleIndexTypeNameLengthAndName) {
  InfoResult r = encode_value_info(value_class::kBasic, kMode, 20);
  EXPECT_EQ(r.status, STATUS_SUCCESS);
  EXPECT_EQ(r.result_length, 20u);
  EXPECT_EQ(buffer_after(r, 20), cat({u32(0), u32(4), u32(8), w(u"Mode")}));
  // Below the fixed 12 bytes: nothing written, the size still reported.
  r = encode_value_info(value_class::kBasic, kMode, 11);
  EXPECT_EQ(r.status, STATUS_BUFFER_TOO_SMALL);
  EXPECT_EQ(r.result_length, 20u);
  EXPECT_TRUE(r.writes.empty());
  // The fixed part and as much of the name as fits.
  r = encode_value_info(value_class::kBasic, kMode, 15);
  EXPECT_EQ(r.status, STATUS_BUFFER_OVERFLOW);
  EXPECT_EQ(r.result_length, 20u);
  EXPECT_EQ(buffer_after(r, 15), cat({u32(0), u32(4), u32(8), {'M', 0, 'o'}}));
}

TEST(KeyValueInfo, FullPutsTheDataEightAlignedAfterTheName) {
  // 20 fixed + 8 name = 28, data at 32: 36 bytes.
  InfoResult r = encode_value_info(value_class::kFull, kMode, 40);
  EXPECT_EQ(r.status, STATUS_SUCCESS);
  EXPECT_EQ(r.result_length, 36u);
  EXPECT_EQ(buffer_after(r, 40), cat({u32(0), u32(4), u32(32), u32(4), u32(8), w(u"Mode"), pad(4), u32(1), pad(4)}));
  // The Align64 class is the same record on x64.
  InfoResult a = encode_value_info(value_class::kFullAlign64, kMode, 40);
  EXPECT_EQ(buffer_after(a, 40), buffer_after(r, 40));
  EXPECT_EQ(a.result_length, 36u);
  // Room for the name but not all the data.
  r = encode_value_info(value_class::kFull, kMode, 34);
  EXPECT_EQ(r.status, STATUS_BUFFER_OVERFLOW);
  EXPECT_EQ(r.result_length, 36u);
  EXPECT_EQ(buffer_after(r, 34), cat({u32(0), u32(4), u32(32), u32(4), u32(8), w(u"Mode"), pad(4), {1, 0}}));
  // The buffer ends before the data offset: header (with the offset) and name only.
  r = encode_value_info(value_class::kFull, kMode, 30);
  EXPECT_EQ(r.status, STATUS_BUFFER_OVERFLOW);
  EXPECT_EQ(buffer_after(r, 30), cat({u32(0), u32(4), u32(32), u32(4), u32(8), w(u"Mode"), pad(2)}));
  r = encode_value_info(value_class::kFull, kMode, 19);
  EXPECT_EQ(r.status, STATUS_BUFFER_TOO_SMALL);
  EXPECT_EQ(r.result_length, 36u);
  EXPECT_TRUE(r.writes.empty());
}

TEST(KeyValueInfo, AValueWithoutDataHasDataOffsetMinusOne) {
  Value empty{u"E", reg::kBinary, {}};
  InfoResult r = encode_value_info(value_class::kFull, empty, 22);
  EXPECT_EQ(r.status, STATUS_SUCCESS);
  EXPECT_EQ(r.result_length, 22u);
  EXPECT_EQ(buffer_after(r, 22), cat({u32(0), u32(3), u32(0xFFFFFFFF), u32(0), u32(2), w(u"E")}));
}

TEST(KeyValueInfo, PartialAndPartialAlign64CarryTheDataOnly) {
  InfoResult r = encode_value_info(value_class::kPartial, kMode, 16);
  EXPECT_EQ(r.status, STATUS_SUCCESS);
  EXPECT_EQ(r.result_length, 16u);
  EXPECT_EQ(buffer_after(r, 16), cat({u32(0), u32(4), u32(4), u32(1)}));
  r = encode_value_info(value_class::kPartial, kMode, 12);
  EXPECT_EQ(r.status, STATUS_BUFFER_OVERFLOW);
  EXPECT_EQ(buffer_after(r, 12), cat({u32(0), u32(4), u32(4)}));
  r = encode_value_info(value_class::kPartial, kMode, 11);
  EXPECT_EQ(r.status, STATUS_BUFFER_TOO_SMALL);
  EXPECT_EQ(r.result_length, 16u);

  r = encode_value_info(value_class::kPartialAlign64, kMode, 12);
  EXPECT_EQ(r.status, STATUS_SUCCESS);
  EXPECT_EQ(r.result_length, 12u);
  EXPECT_EQ(buffer_after(r, 12), cat({u32(4), u32(4), u32(1)}));
  r = encode_value_info(value_class::kPartialAlign64, kMode, 7);
  EXPECT_EQ(r.status, STATUS_BUFFER_TOO_SMALL);
}

TEST(KeyValueInfo, AnUnknownClassIsAnInvalidParameter) {
  EXPECT_EQ(encode_value_info(5, kMode, 100).status, STATUS_INVALID_PARAMETER);
}

KeySummary parameters_key() {
  KeySummary k;
  k.last_write_time = 0x01D9'0000'1234'5678;
  k.name = u"Parameters";
  k.full_path = u"\\REGISTRY\\MACHINE\\SYSTEM\\ControlSet001\\Services\\drv\\Parameters";
  k.subkeys = 2;
  k.values = 3;
  k.max_name_len = 12;
  k.max_value_name_len = 14;
  k.max_value_data_len = 40;
  return k;
}

TEST(KeyInfo, BasicIsWriteTimeTitleIndexNameLengthAndName) {
  KeySummary k = parameters_key();
  InfoResult r = encode_key_info(key_class::kBasic, k, 36);
  EXPECT_EQ(r.status, STATUS_SUCCESS);
  EXPECT_EQ(r.result_length, 36u);
  EXPECT_EQ(buffer_after(r, 36), cat({u64(k.last_write_time), u32(0), u32(20), w(u"Parameters")}));
  r = encode_key_info(key_class::kBasic, k, 15);
  EXPECT_EQ(r.status, STATUS_BUFFER_TOO_SMALL);
  EXPECT_EQ(r.result_length, 36u);
  EXPECT_TRUE(r.writes.empty());
  r = encode_key_info(key_class::kBasic, k, 20);
  EXPECT_EQ(r.status, STATUS_BUFFER_OVERFLOW);
  EXPECT_EQ(buffer_after(r, 20), cat({u64(k.last_write_time), u32(0), u32(20), w(u"Pa")}));
}

TEST(KeyInfo, NodeWithoutClassHasClassOffsetMinusOne) {
  KeySummary k = parameters_key();
  InfoResult r = encode_key_info(key_class::kNode, k, 44);
  EXPECT_EQ(r.status, STATUS_SUCCESS);
  EXPECT_EQ(r.result_length, 44u);
  EXPECT_EQ(buffer_after(r, 44),
            cat({u64(k.last_write_time), u32(0), u32(0xFFFFFFFF), u32(0), u32(20), w(u"Parameters")}));
}

TEST(KeyInfo, NodeClassIsFourAlignedButTheRequiredSizeCountsNoPadding) {
  KeySummary k;
  k.name = u"Abc";        // 6 bytes: name ends at 30, class at 32
  k.class_name = u"Cls";  // 6 bytes
  InfoResult r = encode_key_info(key_class::kNode, k, 38);
  EXPECT_EQ(r.result_length, 36u);  // 24 + 6 + 6
  EXPECT_EQ(r.status, STATUS_SUCCESS);
  EXPECT_EQ(buffer_after(r, 38), cat({u64(0), u32(0), u32(32), u32(6), u32(6), w(u"Abc"), pad(2), w(u"Cls")}));
  // A buffer of exactly the reported size cannot hold the class.
  r = encode_key_info(key_class::kNode, k, 36);
  EXPECT_EQ(r.status, STATUS_BUFFER_OVERFLOW);
  EXPECT_EQ(buffer_after(r, 36), cat({u64(0), u32(0), u32(32), u32(6), u32(6), w(u"Abc"), pad(2), w(u"Cl")}));
}

TEST(KeyInfo, FullCarriesTheCountsAndTheClass) {
  KeySummary k = parameters_key();
  k.class_name = u"X";
  k.max_class_len = 4;
  InfoResult r = encode_key_info(key_class::kFull, k, 46);
  EXPECT_EQ(r.status, STATUS_SUCCESS);
  EXPECT_EQ(r.result_length, 46u);
  EXPECT_EQ(buffer_after(r, 46), cat({u64(k.last_write_time), u32(0), u32(44), u32(2), u32(2), u32(12), u32(4), u32(3),
                                      u32(14), u32(40), w(u"X")}));
  k.class_name.clear();
  r = encode_key_info(key_class::kFull, k, 44);
  EXPECT_EQ(r.status, STATUS_SUCCESS);
  EXPECT_EQ(r.result_length, 44u);
  EXPECT_EQ(buffer_after(r, 44).at(12), 0xFF);  // ClassOffset -1
  EXPECT_EQ(encode_key_info(key_class::kFull, k, 43).status, STATUS_BUFFER_TOO_SMALL);
}

TEST(KeyInfo, NameIsTheFullRegistryPath) {
  KeySummary k = parameters_key();
  const uint32_t path_bytes = static_cast<uint32_t>(k.full_path.size() * 2);
  InfoResult r = encode_key_info(key_class::kName, k, 4 + path_bytes);
  EXPECT_EQ(r.status, STATUS_SUCCESS);
  EXPECT_EQ(r.result_length, 4 + path_bytes);
  EXPECT_EQ(buffer_after(r, 4 + path_bytes), cat({u32(path_bytes), w(k.full_path)}));
  r = encode_key_info(key_class::kName, k, 3);
  EXPECT_EQ(r.status, STATUS_BUFFER_TOO_SMALL);
  r = encode_key_info(key_class::kName, k, 12);
  EXPECT_EQ(r.status, STATUS_BUFFER_OVERFLOW);
  EXPECT_EQ(buffer_after(r, 12), cat({u32(path_bytes), w(u"\\REG")}));
}

TEST(KeyInfo, CachedIsTheFixedFortyByteRecord) {
  KeySummary k = parameters_key();
  InfoResult r = encode_key_info(key_class::kCached, k, 40);
  EXPECT_EQ(r.status, STATUS_SUCCESS);
  EXPECT_EQ(r.result_length, 40u);
  EXPECT_EQ(buffer_after(r, 40),
            cat({u64(k.last_write_time), u32(0), u32(2), u32(12), u32(3), u32(14), u32(40), u32(20), pad(4)}));
  r = encode_key_info(key_class::kCached, k, 39);
  EXPECT_EQ(r.status, STATUS_BUFFER_TOO_SMALL);
  EXPECT_EQ(r.result_length, 40u);
}

TEST(KeyInfo, UnmodelledClassesSaySoAndUnknownOnesAreInvalid) {
  KeySummary k = parameters_key();
  for (uint32_t c : {key_class::kFlags, key_class::kVirtualization, key_class::kHandleTags, key_class::kTrust})
    EXPECT_EQ(encode_key_info(c, k, 100).status, STATUS_NOT_IMPLEMENTED) << c;
  EXPECT_EQ(encode_key_info(9, k, 100).status, STATUS_INVALID_PARAMETER);
}

}  // namespace
}  // namespace kemu::nt::cm
