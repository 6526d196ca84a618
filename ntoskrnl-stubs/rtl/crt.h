// The C runtime string and formatting routines ntoskrnl exports (its
// "C"-locale CRT: case mapping of ASCII letters only), with the Microsoft
// CRT's return values and truncation rules. Declared here so unit tests can
// call them directly; the printf family is reached through *_with_args,
// which takes the variadic arguments as a FormatArgs.
#pragma once

#include <cstdint>

#include "emulator/types.h"
#include "ntoskrnl-stubs/rtl/format.h"

namespace kemu::nt {

class Kernel;

// errno values the secure (_s) routines return (errno.h).
namespace crt_errno {
constexpr int32_t kEinval = 22;
constexpr int32_t kErange = 34;
constexpr int32_t kStruncate = 80;
}  // namespace crt_errno
constexpr uint64_t kTruncate = ~0ull;  // _TRUNCATE

// --- narrow strings ----------------------------------------------------------
uint64_t strlen(Kernel& k, GuestVa s);  // rtl/rtl_exports.cpp
uint64_t wcslen(Kernel& k, GuestVa s);
int32_t strcmp(Kernel& k, GuestVa a, GuestVa b);
int32_t strncmp(Kernel& k, GuestVa a, GuestVa b, uint64_t count);
int32_t _stricmp(Kernel& k, GuestVa a, GuestVa b);
int32_t _strnicmp(Kernel& k, GuestVa a, GuestVa b, uint64_t count);
GuestVa strchr(Kernel& k, GuestVa s, int32_t c);
GuestVa strrchr(Kernel& k, GuestVa s, int32_t c);
GuestVa strstr(Kernel& k, GuestVa haystack, GuestVa needle);
GuestVa strcpy(Kernel& k, GuestVa dst, GuestVa src);
GuestVa strncpy(Kernel& k, GuestVa dst, GuestVa src, uint64_t count);
GuestVa strcat(Kernel& k, GuestVa dst, GuestVa src);
GuestVa strncat(Kernel& k, GuestVa dst, GuestVa src, uint64_t count);
int32_t strcpy_s(Kernel& k, GuestVa dst, uint64_t size, GuestVa src);
int32_t strcat_s(Kernel& k, GuestVa dst, uint64_t size, GuestVa src);
int32_t strncpy_s(Kernel& k, GuestVa dst, uint64_t size, GuestVa src, uint64_t count);
int32_t strncat_s(Kernel& k, GuestVa dst, uint64_t size, GuestVa src, uint64_t count);
GuestVa _strupr(Kernel& k, GuestVa s);
GuestVa _strlwr(Kernel& k, GuestVa s);
int32_t tolower(Kernel& k, int32_t c);
int32_t toupper(Kernel& k, int32_t c);

// --- wide strings --------------------------------------------------------------
int32_t wcscmp(Kernel& k, GuestVa a, GuestVa b);
int32_t wcsncmp(Kernel& k, GuestVa a, GuestVa b, uint64_t count);
int32_t _wcsicmp(Kernel& k, GuestVa a, GuestVa b);
int32_t _wcsnicmp(Kernel& k, GuestVa a, GuestVa b, uint64_t count);
GuestVa wcschr(Kernel& k, GuestVa s, uint16_t c);
GuestVa wcsrchr(Kernel& k, GuestVa s, uint16_t c);
GuestVa wcsstr(Kernel& k, GuestVa haystack, GuestVa needle);
GuestVa wcscpy(Kernel& k, GuestVa dst, GuestVa src);
GuestVa wcsncpy(Kernel& k, GuestVa dst, GuestVa src, uint64_t count);
GuestVa wcscat(Kernel& k, GuestVa dst, GuestVa src);
GuestVa wcsncat(Kernel& k, GuestVa dst, GuestVa src, uint64_t count);
int32_t wcscpy_s(Kernel& k, GuestVa dst, uint64_t size, GuestVa src);
int32_t wcscat_s(Kernel& k, GuestVa dst, uint64_t size, GuestVa src);
int32_t wcsncpy_s(Kernel& k, GuestVa dst, uint64_t size, GuestVa src, uint64_t count);
int32_t wcsncat_s(Kernel& k, GuestVa dst, uint64_t size, GuestVa src, uint64_t count);
GuestVa _wcsupr(Kernel& k, GuestVa s);
GuestVa _wcslwr(Kernel& k, GuestVa s);
uint16_t towlower(Kernel& k, uint16_t c);
uint16_t towupper(Kernel& k, uint16_t c);

int32_t memcpy_s(Kernel& k, GuestVa dst, uint64_t size, GuestVa src, uint64_t count);
int32_t memmove_s(Kernel& k, GuestVa dst, uint64_t size, GuestVa src, uint64_t count);

// --- formatting ------------------------------------------------------------------
// _snprintf / _vsnprintf and _snwprintf / _vsnwprintf: with len characters
// formatted, len < count stores them and a terminator and returns len;
// len == count stores them without a terminator and returns len; len > count
// stores count characters, no terminator, and returns -1. A NULL buffer with
// count 0 only counts (returns len).
int32_t snprintf_with_args(Kernel& k, GuestVa buffer, uint64_t count, GuestVa format,
                           rtl::FormatArgs& args);
int32_t snwprintf_with_args(Kernel& k, GuestVa buffer, uint64_t count, GuestVa format,
                            rtl::FormatArgs& args);
// sprintf / swprintf (ntoskrnl's swprintf has no count: buffer, format, ...):
// everything plus a terminator; returns len.
int32_t sprintf_with_args(Kernel& k, GuestVa buffer, GuestVa format, rtl::FormatArgs& args);
int32_t swprintf_with_args(Kernel& k, GuestVa buffer, GuestVa format, rtl::FormatArgs& args);

int32_t _vsnprintf(Kernel& k, GuestVa buffer, uint64_t count, GuestVa format, GuestVa va_list);
int32_t _vsnwprintf(Kernel& k, GuestVa buffer, uint64_t count, GuestVa format, GuestVa va_list);
int32_t vsprintf(Kernel& k, GuestVa buffer, GuestVa format, GuestVa va_list);

}  // namespace kemu::nt
