// Time conversions: RtlTimeToTimeFields, RtlTimeFieldsToTime,
// RtlTimeToSecondsSince1970, RtlSecondsSince1970ToTime and the executive's
// ExSystemTimeToLocalTime / ExLocalTimeToSystemTime. System times are
// 100-ns units since 1601-01-01 UTC (a Monday), proleptic Gregorian.
#include "emulator/processor_layout.h"
#include "ntoskrnl-stubs/api/registry.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/rtl_structs.h"

namespace kemu::nt {

namespace {

constexpr uint64_t kTicksPerMillisecond = 10'000;
constexpr uint64_t kTicksPerSecond = 10'000'000;
constexpr uint64_t kSecondsPerDay = 86'400;
constexpr uint64_t kSecondsTo1970 = 11'644'473'600;  // 1601-01-01 .. 1970-01-01
constexpr int64_t kDays1601To1970 = 134'774;

bool leap(int64_t year) {
  return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int days_in_month(int64_t year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && leap(year) ? 29 : kDays[month - 1];
}

// Days since 1970-01-01 -> civil date (H. Hinnant's civil_from_days).
void civil_from_days(int64_t z, int64_t* y, int* m, int* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  *d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  *m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2 ? 1 : 0);
}

// Civil date -> days since 1970-01-01.
int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

// KUSER_SHARED_DATA.TimeZoneBias: system time minus local time, 100 ns units.
int64_t time_zone_bias(Kernel& k) {
  GuestVa bias{kemu::layout::kSharedUserData + emu::shared_data::kTimeZoneBias};
  uint32_t low = k.memory().read<uint32_t>(bias);
  int32_t high = k.memory().read<int32_t>(bias + 4);
  return static_cast<int64_t>((static_cast<uint64_t>(static_cast<uint32_t>(high)) << 32) | low);
}

}  // namespace

// RtlTimeToTimeFields(Time*, TimeFields*): the time read as an unsigned count.
void RtlTimeToTimeFields(Kernel& k, GuestVa time, GuestVa fields) {
  const uint64_t t = k.memory().read<uint64_t>(time);
  const uint64_t total_seconds = t / kTicksPerSecond;
  const uint64_t days = total_seconds / kSecondsPerDay;
  const uint64_t seconds_of_day = total_seconds % kSecondsPerDay;
  layout::TIME_FIELDS tf{};
  tf.Milliseconds = static_cast<int16_t>((t / kTicksPerMillisecond) % 1000);
  tf.Second = static_cast<int16_t>(seconds_of_day % 60);
  tf.Minute = static_cast<int16_t>((seconds_of_day / 60) % 60);
  tf.Hour = static_cast<int16_t>(seconds_of_day / 3600);
  tf.Weekday = static_cast<int16_t>((days + 1) % 7);  // 1601-01-01 was a Monday
  int64_t year = 0;
  int month = 0, day = 0;
  civil_from_days(static_cast<int64_t>(days) - kDays1601To1970, &year, &month, &day);
  tf.Year = static_cast<int16_t>(year);
  tf.Month = static_cast<int16_t>(month);
  tf.Day = static_cast<int16_t>(day);
  k.memory().write(fields, tf);
}

// RtlTimeFieldsToTime(TimeFields*, Time*): FALSE (Time untouched) unless every
// field is in range and Year >= 1601; Weekday is ignored.
bool RtlTimeFieldsToTime(Kernel& k, GuestVa fields, GuestVa time) {
  const auto tf = k.memory().read<layout::TIME_FIELDS>(fields);
  if (tf.Milliseconds < 0 || tf.Milliseconds > 999 || tf.Second < 0 || tf.Second > 59 ||
      tf.Minute < 0 || tf.Minute > 59 || tf.Hour < 0 || tf.Hour > 23 || tf.Month < 1 ||
      tf.Month > 12 || tf.Day < 1 || tf.Year < 1601 || tf.Day > days_in_month(tf.Year, tf.Month))
    return false;
  const int64_t days = days_from_civil(tf.Year, tf.Month, tf.Day) + kDays1601To1970;
  const uint64_t seconds = static_cast<uint64_t>(days) * kSecondsPerDay + tf.Hour * 3600ull +
                           tf.Minute * 60ull + static_cast<uint64_t>(tf.Second);
  k.memory().write<uint64_t>(
      time,
      seconds * kTicksPerSecond + static_cast<uint64_t>(tf.Milliseconds) * kTicksPerMillisecond);
  return true;
}

// RtlTimeToSecondsSince1970(Time*, ElapsedSeconds*): FALSE before 1970 or
// past the 32-bit range (2106).
bool RtlTimeToSecondsSince1970(Kernel& k, GuestVa time, GuestVa seconds_out) {
  const int64_t t = k.memory().read<int64_t>(time);
  const int64_t seconds =
      t / static_cast<int64_t>(kTicksPerSecond) - static_cast<int64_t>(kSecondsTo1970);
  if (seconds < 0 || seconds > 0xFFFFFFFFll) return false;
  k.memory().write<uint32_t>(seconds_out, static_cast<uint32_t>(seconds));
  return true;
}

void RtlSecondsSince1970ToTime(Kernel& k, uint32_t seconds, GuestVa time) {
  k.memory().write<uint64_t>(time, (seconds + kSecondsTo1970) * kTicksPerSecond);
}

// ExSystemTimeToLocalTime: local = system - the time-zone bias (kemu's zone is UTC: bias 0).
void ExSystemTimeToLocalTime(Kernel& k, GuestVa system_time, GuestVa local_time) {
  k.memory().write<int64_t>(local_time, k.memory().read<int64_t>(system_time) - time_zone_bias(k));
}

void ExLocalTimeToSystemTime(Kernel& k, GuestVa local_time, GuestVa system_time) {
  k.memory().write<int64_t>(system_time, k.memory().read<int64_t>(local_time) + time_zone_bias(k));
}

void register_time_exports(Registry& r) {
  KEMU_EXPORT(r, RtlTimeToTimeFields);
  KEMU_EXPORT(r, RtlTimeFieldsToTime);
  KEMU_EXPORT(r, RtlTimeToSecondsSince1970);
  KEMU_EXPORT(r, RtlSecondsSince1970ToTime);
  KEMU_EXPORT(r, ExSystemTimeToLocalTime);
  KEMU_EXPORT(r, ExLocalTimeToSystemTime);
}

}  // namespace kemu::nt
