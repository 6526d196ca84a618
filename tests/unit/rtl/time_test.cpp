// Time conversions (rtl/time_exports.cpp) against known calendar dates.
#include <gtest/gtest.h>

#include "ntoskrnl-stubs/layout/rtl_structs.h"
#include "unit/rtl/rtl_fixture.h"

namespace kemu::nt {

void RtlTimeToTimeFields(Kernel& k, GuestVa time, GuestVa fields);
bool RtlTimeFieldsToTime(Kernel& k, GuestVa fields, GuestVa time);
bool RtlTimeToSecondsSince1970(Kernel& k, GuestVa time, GuestVa seconds_out);
void RtlSecondsSince1970ToTime(Kernel& k, uint32_t seconds, GuestVa time);
void ExSystemTimeToLocalTime(Kernel& k, GuestVa system_time, GuestVa local_time);
void ExLocalTimeToSystemTime(Kernel& k, GuestVa local_time, GuestVa system_time);

namespace {

using layout::TIME_FIELDS;
using test::RtlFixture;

constexpr uint64_t k2000 = 125'911'584'000'000'000ull;  // 2000-01-01T00:00:00Z, a Saturday
constexpr uint64_t k1970 = 116'444'736'000'000'000ull;

class Time : public RtlFixture {
 protected:
  TIME_FIELDS fields_of(uint64_t time) {
    GuestVa t = alloc(8), f = alloc(16);
    mem().write<uint64_t>(t, time);
    RtlTimeToTimeFields(kernel_, t, f);
    return mem().read<TIME_FIELDS>(f);
  }
  std::optional<uint64_t> time_of(TIME_FIELDS tf) {
    GuestVa t = buffer(8, 0xAB), f = alloc(16);
    mem().write(f, tf);
    if (!RtlTimeFieldsToTime(kernel_, f, t)) {
      EXPECT_EQ(mem().read<uint64_t>(t), 0xABABABABABABABABull);  // untouched
      return std::nullopt;
    }
    return mem().read<uint64_t>(t);
  }
};

bool same(const TIME_FIELDS& a, const TIME_FIELDS& b) {
  return a.Year == b.Year && a.Month == b.Month && a.Day == b.Day && a.Hour == b.Hour &&
         a.Minute == b.Minute && a.Second == b.Second && a.Milliseconds == b.Milliseconds &&
         a.Weekday == b.Weekday;
}

TEST_F(Time, TimeToTimeFields) {
  EXPECT_TRUE(same(fields_of(0), TIME_FIELDS{1601, 1, 1, 0, 0, 0, 0, 1}));  // a Monday
  EXPECT_TRUE(same(fields_of(k2000), TIME_FIELDS{2000, 1, 1, 0, 0, 0, 0, 6}));
  // kemu's boot time, 2024-01-01 (a Monday), plus 12:34:56.789 and 59 days: 2024-02-29, a Thursday.
  uint64_t t = emu::Machine::kBootSystemTime + 59ull * 864'000'000'000ull +
               (12 * 3600 + 34 * 60 + 56) * 10'000'000ull + 7'890'000;
  EXPECT_TRUE(same(fields_of(t), TIME_FIELDS{2024, 2, 29, 12, 34, 56, 789, 4}));
}

TEST_F(Time, TimeFieldsToTimeValidates) {
  EXPECT_EQ(time_of({2000, 1, 1, 0, 0, 0, 0, 3}), k2000);  // Weekday is ignored
  EXPECT_EQ(time_of({1601, 1, 1, 0, 0, 0, 1, 0}), 10'000u);
  EXPECT_EQ(time_of({2000, 2, 29, 0, 0, 0, 0, 0}), k2000 + 59ull * 864'000'000'000ull);
  EXPECT_EQ(time_of({1900, 2, 29, 0, 0, 0, 0, 0}), std::nullopt);  // 1900 is not a leap year
  EXPECT_EQ(time_of({1600, 12, 31, 0, 0, 0, 0, 0}), std::nullopt);
  EXPECT_EQ(time_of({2024, 4, 31, 0, 0, 0, 0, 0}), std::nullopt);
  EXPECT_EQ(time_of({2024, 1, 1, 24, 0, 0, 0, 0}), std::nullopt);
  EXPECT_EQ(time_of({2024, 1, 1, 0, 0, 0, 1000, 0}), std::nullopt);
}

TEST_F(Time, SecondsSince1970) {
  GuestVa t = alloc(8), s = buffer(4);
  mem().write<uint64_t>(t, k1970 + 15'000'000);  // 1.5 s
  EXPECT_TRUE(RtlTimeToSecondsSince1970(kernel_, t, s));
  EXPECT_EQ(mem().read<uint32_t>(s), 1u);
  mem().write<uint64_t>(t, emu::Machine::kBootSystemTime);
  EXPECT_TRUE(RtlTimeToSecondsSince1970(kernel_, t, s));
  EXPECT_EQ(mem().read<uint32_t>(s), 1'704'067'200u);
  mem().write<uint64_t>(t, k1970 - 10'000'000);
  EXPECT_FALSE(RtlTimeToSecondsSince1970(kernel_, t, s));
  mem().write<uint64_t>(t, k1970 + 0x100000000ull * 10'000'000);  // past 2106
  EXPECT_FALSE(RtlTimeToSecondsSince1970(kernel_, t, s));
  RtlSecondsSince1970ToTime(kernel_, 1'704'067'200u, t);
  EXPECT_EQ(mem().read<uint64_t>(t), emu::Machine::kBootSystemTime);
}

TEST_F(Time, LocalTimeIsUtcInKemu) {
  GuestVa sys = alloc(8), local = alloc(8);
  mem().write<uint64_t>(sys, emu::Machine::kBootSystemTime);
  ExSystemTimeToLocalTime(kernel_, sys, local);
  EXPECT_EQ(mem().read<uint64_t>(local), emu::Machine::kBootSystemTime);
  ExLocalTimeToSystemTime(kernel_, local, sys);
  EXPECT_EQ(mem().read<uint64_t>(sys), emu::Machine::kBootSystemTime);
}

}  // namespace
}  // namespace kemu::nt
