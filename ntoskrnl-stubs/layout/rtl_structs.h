// Run-time library structures drivers pass to Rtl routines (x64 layouts;
// tests/conformance checks them against the DDK headers).
#pragma once

#include <cstddef>
#include <cstdint>

namespace kemu::nt::layout {

// TIME_FIELDS: RtlTimeToTimeFields / RtlTimeFieldsToTime (CSHORT fields).
struct TIME_FIELDS {
  int16_t Year;          // 1601...
  int16_t Month;         // 1..12
  int16_t Day;           // 1..31
  int16_t Hour;          // 0..23
  int16_t Minute;        // 0..59
  int16_t Second;        // 0..59
  int16_t Milliseconds;  // 0..999
  int16_t Weekday;       // 0 (Sunday)..6
};
static_assert(sizeof(TIME_FIELDS) == 16 && offsetof(TIME_FIELDS, Weekday) == 14);

}  // namespace kemu::nt::layout
