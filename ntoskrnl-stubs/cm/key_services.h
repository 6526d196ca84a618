// The decisions of the key services (NtQueryValueKey, NtEnumerateValueKey,
// NtSetValueKey, ...) on host-side arguments, shared by the Zw exports and
// the Rtl registry routines. `mode` is the caller's previous mode: the key
// handle is referenced with it (access checked only for UserMode).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "emulator/ntstatus.h"
#include "emulator/types.h"
#include "ntoskrnl-stubs/cm/hive.h"

namespace kemu::nt {
class Kernel;
}

namespace kemu::nt::cm {

// A value name as the services use it: trailing NULs dropped (NtSetValueKey
// and NtQueryValueKey agree on this).
std::u16string trim_value_name(std::u16string name);

// NtQueryValueKey's lookup: KEY_QUERY_VALUE on the handle, STATUS_KEY_DELETED,
// STATUS_OBJECT_NAME_NOT_FOUND.
NtStatus find_value_by_name(Kernel& k, ProcessorMode mode, uint64_t handle, const std::u16string& name, Value* out);
// NtEnumerateValueKey's lookup: STATUS_NO_MORE_ENTRIES past the last value.
NtStatus find_value_by_index(Kernel& k, ProcessorMode mode, uint64_t handle, uint32_t index, Value* out);
// NtSetValueKey / NtDeleteValueKey: KEY_SET_VALUE on the handle.
NtStatus set_value(Kernel& k, ProcessorMode mode, uint64_t handle, const std::u16string& name, uint32_t type,
                   std::vector<uint8_t> data);
NtStatus delete_value(Kernel& k, ProcessorMode mode, uint64_t handle, const std::u16string& name);

// ZwOpenKey / ZwCreateKey with a kernel handle, as the Rtl routines call
// them (OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE); `root` 0 for an absolute name.
NtStatus open_kernel_key(Kernel& k, uint64_t root, const std::u16string& name, uint32_t access, bool create,
                         uint64_t* handle);
// ZwClose of such a handle.
void close_kernel_key(Kernel& k, uint64_t handle);

}  // namespace kemu::nt::cm
