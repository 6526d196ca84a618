// NTSTATUS values kemu uses, with their names (for reports and scenarios).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kemu {

using NtStatus = uint32_t;

#define KEMU_NTSTATUS_LIST(X)                                   \
  X(STATUS_SUCCESS, 0x00000000)                                 \
  X(STATUS_WAIT_1, 0x00000001)                                  \
  X(STATUS_ALERTED, 0x00000101)                                 \
  X(STATUS_TIMEOUT, 0x00000102)                                 \
  X(STATUS_PENDING, 0x00000103)                                 \
  X(STATUS_REPARSE, 0x00000104)                                 \
  X(STATUS_MORE_ENTRIES, 0x00000105)                            \
  X(STATUS_NOT_ALL_ASSIGNED, 0x00000106)                        \
  X(STATUS_SOME_NOT_MAPPED, 0x00000107)                         \
  X(STATUS_OBJECT_NAME_EXISTS, 0x40000000)                      \
  X(STATUS_BUFFER_OVERFLOW, 0x80000005)                         \
  X(STATUS_NO_MORE_FILES, 0x80000006)                           \
  X(STATUS_NO_MORE_ENTRIES, 0x8000001A)                         \
  X(STATUS_GUARD_PAGE_VIOLATION, 0x80000001)                    \
  X(STATUS_DATATYPE_MISALIGNMENT, 0x80000002)                   \
  X(STATUS_BREAKPOINT, 0x80000003)                              \
  X(STATUS_SINGLE_STEP, 0x80000004)                             \
  X(STATUS_UNSUCCESSFUL, 0xC0000001)                            \
  X(STATUS_NOT_IMPLEMENTED, 0xC0000002)                         \
  X(STATUS_INVALID_INFO_CLASS, 0xC0000003)                      \
  X(STATUS_INFO_LENGTH_MISMATCH, 0xC0000004)                    \
  X(STATUS_ACCESS_VIOLATION, 0xC0000005)                        \
  X(STATUS_IN_PAGE_ERROR, 0xC0000006)                           \
  X(STATUS_INVALID_HANDLE, 0xC0000008)                          \
  X(STATUS_INVALID_PARAMETER, 0xC000000D)                       \
  X(STATUS_NO_SUCH_DEVICE, 0xC000000E)                          \
  X(STATUS_NO_SUCH_FILE, 0xC000000F)                            \
  X(STATUS_INVALID_DEVICE_REQUEST, 0xC0000010)                  \
  X(STATUS_END_OF_FILE, 0xC0000011)                             \
  X(STATUS_NO_MEMORY, 0xC0000017)                               \
  X(STATUS_CONFLICTING_ADDRESSES, 0xC0000018)                   \
  X(STATUS_ILLEGAL_INSTRUCTION, 0xC000001D)                     \
  X(STATUS_INVALID_SYSTEM_SERVICE, 0xC000001C)                  \
  X(STATUS_NONCONTINUABLE_EXCEPTION, 0xC0000025)                \
  X(STATUS_INVALID_DISPOSITION, 0xC0000026)                     \
  X(STATUS_UNWIND, 0xC0000027)                                  \
  X(STATUS_ACCESS_DENIED, 0xC0000022)                           \
  X(STATUS_BUFFER_TOO_SMALL, 0xC0000023)                        \
  X(STATUS_OBJECT_TYPE_MISMATCH, 0xC0000024)                    \
  X(STATUS_OBJECT_NAME_INVALID, 0xC0000033)                     \
  X(STATUS_OBJECT_NAME_NOT_FOUND, 0xC0000034)                   \
  X(STATUS_OBJECT_NAME_COLLISION, 0xC0000035)                   \
  X(STATUS_OBJECT_PATH_INVALID, 0xC0000039)                     \
  X(STATUS_OBJECT_PATH_NOT_FOUND, 0xC000003A)                   \
  X(STATUS_OBJECT_PATH_SYNTAX_BAD, 0xC000003B)                  \
  X(STATUS_SHARING_VIOLATION, 0xC0000043)                       \
  X(STATUS_QUOTA_EXCEEDED, 0xC0000044)                          \
  X(STATUS_DELETE_PENDING, 0xC0000056)                          \
  X(STATUS_PRIVILEGE_NOT_HELD, 0xC0000061)                      \
  X(STATUS_UNKNOWN_REVISION, 0xC0000058)              \
  X(STATUS_REVISION_MISMATCH, 0xC0000059)             \
  X(STATUS_INVALID_OWNER, 0xC000005A)                 \
  X(STATUS_INVALID_PRIMARY_GROUP, 0xC000005B)         \
  X(STATUS_INVALID_ACL, 0xC0000077)                   \
  X(STATUS_INVALID_SID, 0xC0000078)                   \
  X(STATUS_INVALID_SECURITY_DESCR, 0xC0000079)        \
  X(STATUS_NO_TOKEN, 0xC000007C)                      \
  X(STATUS_ALLOTTED_SPACE_EXCEEDED, 0xC0000099)       \
  X(STATUS_NO_SECURITY_ON_OBJECT, 0xC00000D7)         \
  X(STATUS_BAD_DESCRIPTOR_FORMAT, 0xC00000E7)         \
  X(STATUS_INSUFFICIENT_RESOURCES, 0xC000009A)                  \
  X(STATUS_ARRAY_BOUNDS_EXCEEDED, 0xC000008C)                   \
  X(STATUS_FLOAT_DIVIDE_BY_ZERO, 0xC000008E)                    \
  X(STATUS_INTEGER_DIVIDE_BY_ZERO, 0xC0000094)                  \
  X(STATUS_INTEGER_OVERFLOW, 0xC0000095)                        \
  X(STATUS_PRIVILEGED_INSTRUCTION, 0xC0000096)                  \
  X(STATUS_FILE_IS_A_DIRECTORY, 0xC00000BA)                     \
  X(STATUS_NOT_SUPPORTED, 0xC00000BB)                           \
  X(STATUS_INVALID_PARAMETER_1, 0xC00000EF)                     \
  X(STATUS_INVALID_PARAMETER_2, 0xC00000F0)                     \
  X(STATUS_INVALID_PARAMETER_3, 0xC00000F1)                     \
  X(STATUS_INVALID_PARAMETER_4, 0xC00000F2)                     \
  X(STATUS_INTERNAL_ERROR, 0xC00000E5)                          \
  X(STATUS_CANCELLED, 0xC0000120)                               \
  X(STATUS_FILE_CLOSED, 0xC0000128)                             \
  X(STATUS_DLL_NOT_FOUND, 0xC0000135)                           \
  X(STATUS_ORDINAL_NOT_FOUND, 0xC0000138)                       \
  X(STATUS_ENTRYPOINT_NOT_FOUND, 0xC0000139)                    \
  X(STATUS_PROCEDURE_NOT_FOUND, 0xC000007A)                     \
  X(STATUS_INVALID_IMAGE_FORMAT, 0xC000007B)                    \
  X(STATUS_DEVICE_NOT_READY, 0xC00000A3)                        \
  X(STATUS_DATA_OVERRUN, 0xC000003C)                            \
  X(STATUS_KEY_DELETED, 0xC000017C)                             \
  X(STATUS_CHILD_MUST_BE_VOLATILE, 0xC0000181)                  \
  X(STATUS_IO_DEVICE_ERROR, 0xC0000185)                         \
  X(STATUS_STACK_OVERFLOW, 0xC00000FD)                          \
  X(STATUS_HANDLE_NOT_CLOSABLE, 0xC0000235)                     \
  X(STATUS_INVALID_CID, 0xC000000B)                             \
  X(STATUS_INVALID_PARAMETER_MIX, 0xC0000030)                   \
  X(STATUS_PROCESS_IS_TERMINATING, 0xC000010A)                  \
  X(STATUS_DISK_FULL, 0xC000007F)                               \
  X(STATUS_DIRECTORY_NOT_EMPTY, 0xC0000101)                     \
  X(STATUS_NOT_A_DIRECTORY, 0xC0000103)                         \
  X(STATUS_EAS_NOT_SUPPORTED, 0xC000004F)                       \
  X(STATUS_NOT_SAME_DEVICE, 0xC00000D4)                         \
  X(STATUS_CANNOT_DELETE, 0xC0000121)                           \
  X(STATUS_FILE_DELETED, 0xC0000123)                            \
  X(STATUS_NOT_FOUND, 0xC0000225)                               \
  X(STATUS_DRIVER_ENTRYPOINT_NOT_FOUND, 0xC0000263)             \
  X(STATUS_INVALID_BUFFER_SIZE, 0xC0000206)                     \
  X(STATUS_INVALID_USER_BUFFER, 0xC00000E8)                     \
  X(STATUS_INVALID_DEVICE_STATE, 0xC0000184)                    \
  X(STATUS_DEVICE_BUSY, 0x80000011)                             \
  X(STATUS_MORE_PROCESSING_REQUIRED, 0xC0000016)                \
  X(STATUS_STACK_BUFFER_OVERRUN, 0xC0000409)                    \
  X(STATUS_ASSERTION_FAILURE, 0xC0000420)                       \
  X(STATUS_FAIL_CHECK, 0xC0000229)                              \
  X(STATUS_PORT_DISCONNECTED, 0xC0000037)                       \
  X(STATUS_VERIFIER_STOP, 0xC0000421)                           \
  X(STATUS_INVALID_VIEW_SIZE, 0xC000001F)                       \
  X(STATUS_SECTION_PROTECTION, 0xC000004E)                      \
  X(STATUS_MAPPED_ALIGNMENT, 0xC0000220)                        \
  X(STATUS_NOT_MAPPED_VIEW, 0xC0000019)                         \
  X(STATUS_INVALID_PAGE_PROTECTION, 0xC0000045)                 \
  X(STATUS_MAPPED_FILE_SIZE_ZERO, 0xC000011E)                   \
  X(STATUS_SECTION_TOO_BIG, 0xC0000040)                         \
  X(STATUS_INVALID_FILE_FOR_SECTION, 0xC0000020)                \
  X(STATUS_INVALID_PARAMETER_5, 0xC00000F3)                     \
  X(STATUS_INVALID_PARAMETER_6, 0xC00000F4)                     \
  X(STATUS_INVALID_PARAMETER_8, 0xC00000F6)                     \
  X(STATUS_INVALID_PARAMETER_9, 0xC00000F7)                     \
  X(STATUS_PARTIAL_COPY, 0x8000000D)                            \
  X(STATUS_UNABLE_TO_FREE_VM, 0xC000001A)                       \
  X(STATUS_UNABLE_TO_DELETE_SECTION, 0xC000001B)                \
  X(STATUS_ALREADY_COMMITTED, 0xC0000021)                       \
  X(STATUS_NOT_COMMITTED, 0xC000002D)                           \
  X(STATUS_FREE_VM_NOT_AT_BASE, 0xC000009F)                     \
  X(STATUS_MEMORY_NOT_ALLOCATED, 0xC00000A0)                    \
  X(STATUS_INVALID_ADDRESS, 0xC0000141)

enum : NtStatus {
#define KEMU_NTSTATUS_ENUM(name, value) name = value,
  KEMU_NTSTATUS_LIST(KEMU_NTSTATUS_ENUM)
#undef KEMU_NTSTATUS_ENUM
};

// "STATUS_ACCESS_DENIED", or "" when kemu does not know the name.
std::string_view status_name(NtStatus s);
// Accepts a STATUS_ name or a number (decimal or 0x-hex).
std::optional<NtStatus> parse_status(std::string_view text);

// NT_SUCCESS / NT_ERROR as the DDK defines them.
constexpr bool nt_success(NtStatus s) { return static_cast<int32_t>(s) >= 0; }
constexpr bool nt_error(NtStatus s) { return (s >> 30) == 3; }

}  // namespace kemu
