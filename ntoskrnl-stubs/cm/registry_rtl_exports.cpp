// The Rtl registry helpers: RtlQueryRegistryValues(Ex), RtlWriteRegistryValue,
// RtlDeleteRegistryValue, RtlCheckRegistryKey, RtlCreateRegistryKey. They
// work as the Windows 10 kernel's copies do: the key is opened through
// ZwOpenKey/ZwCreateKey with a kernel handle (or taken from the caller with
// RTL_REGISTRY_HANDLE), values are read with ZwQueryValueKey /
// ZwEnumerateValueKey into a KEY_VALUE_FULL_INFORMATION pool buffer, and
// each QueryRoutine runs as guest code on the caller's thread.
#include <algorithm>
#include <cstring>

#include "emulator/ntstatus.h"
#include "ntoskrnl-stubs/api/registry.h"
#include "ntoskrnl-stubs/cm/config_manager.h"
#include "ntoskrnl-stubs/cm/key_services.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/cm_structs.h"
#include "ntoskrnl-stubs/layout/nt_structs.h"

namespace kemu::nt {

namespace {

using cm::reg::kExpandSz;
using cm::reg::kMultiSz;
using cm::reg::kNone;
using cm::reg::kSz;

// RelativeTo values and flags (wdm.h).
constexpr uint32_t kRtlRegistryAbsolute = 0;
constexpr uint32_t kRtlRegistryMaximum = 6;
constexpr uint32_t kRtlRegistryHandle = 0x40000000;
constexpr uint32_t kRtlRegistryOptional = 0x80000000;

// RTL_QUERY_REGISTRY_TABLE.Flags (wdm.h; TYPECHECK from the WDK 8 header).
constexpr uint32_t kSubkey = 0x01;
constexpr uint32_t kTopkey = 0x02;
constexpr uint32_t kRequired = 0x04;
constexpr uint32_t kNoValue = 0x08;
constexpr uint32_t kNoExpand = 0x10;
constexpr uint32_t kDirect = 0x20;
constexpr uint32_t kDelete = 0x40;
constexpr uint32_t kNoString = 0x80;  // the deprecated predecessor of TYPECHECK
constexpr uint32_t kTypeCheck = 0x100;
constexpr uint32_t kTypeCheckShift = 24;

constexpr uint32_t kGenericRead = 0x80000000;
constexpr uint32_t kGenericWrite = 0x40000000;
constexpr uint32_t kMaximumAllowed = 0x02000000;

constexpr uint32_t kStringTag = 0x53727447;  // Rtl string allocations ('GtrS')
constexpr uint32_t kQueryTag = 0x76727152;   // the query buffer ('Rqrv')
constexpr uint32_t kQueryBufferMinimum = 136;
// RtlpGetRegistryHandle builds the key name in a 524-byte buffer.
constexpr size_t kKeyNameBufferBytes = 0x20C;

// RtlpRegistryPaths: the roots RelativeTo names (RTL_REGISTRY_USER is the
// default user's key: kemu has no per-user hives).
constexpr std::u16string_view kRelativeRoots[kRtlRegistryMaximum] = {
    u"",
    u"\\Registry\\Machine\\System\\CurrentControlSet\\Services",
    u"\\Registry\\Machine\\System\\CurrentControlSet\\Control",
    u"\\Registry\\Machine\\Software\\Microsoft\\Windows NT\\CurrentVersion",
    u"\\Registry\\Machine\\Hardware\\DeviceMap",
    u"\\Registry\\User\\.Default",
};

// A NUL-terminated wide string from the caller (kernel access).
std::u16string read_wide(Kernel& k, GuestVa p) { return p ? k.memory().read_wstring(p, 1 << 15) : std::u16string(); }

// RtlpGetRegistryHandle: the caller's handle with RTL_REGISTRY_HANDLE;
// otherwise root + '\' + Path opened (GENERIC_READ | MAXIMUM_ALLOWED) or
// created (GENERIC_WRITE) with a kernel handle.
NtStatus get_registry_handle(Kernel& k, uint32_t relative_to, GuestVa path, bool create, uint64_t* handle) {
  if (relative_to & kRtlRegistryHandle) {
    *handle = path.value;
    return STATUS_SUCCESS;
  }
  const uint32_t root = relative_to & ~kRtlRegistryOptional;
  if (root >= kRtlRegistryMaximum) return STATUS_INVALID_PARAMETER;
  std::u16string name;
  if (root != kRtlRegistryAbsolute) name = std::u16string(kRelativeRoots[root]) + u"\\";
  name += read_wide(k, path);
  // RtlAppendUnicodeToString into the fixed buffer.
  if (name.size() * 2 > kKeyNameBufferBytes) return STATUS_BUFFER_TOO_SMALL;
  return cm::open_kernel_key(k, 0, name, create ? kGenericWrite : (kGenericRead | kMaximumAllowed), create, handle);
}

// RtlpCloseRegistryHandle: only handles the routine opened itself.
void close_registry_handle(Kernel& k, uint32_t relative_to, uint64_t handle) {
  if (!(relative_to & kRtlRegistryHandle)) cm::close_kernel_key(k, handle);
}

// Guest data a QueryRoutine (or the direct store) sees: a guest address and
// the same bytes on the host.
struct Data {
  GuestVa address;
  std::vector<uint8_t> bytes;
};

// A paged pool block freed when the query of one value is done.
class PoolBuffer {
 public:
  PoolBuffer(Kernel& k, uint64_t size) : k_(k) {
    auto block = k.machine().pool().allocate(size, 1, kQueryTag, GuestVa{});
    if (!block) throw emu::GuestMemoryExhausted("pool exhausted in RtlQueryRegistryValues");
    address_ = *block;
    std::vector<uint8_t> zero(size, 0);
    k.memory().write(address_, zero.data(), zero.size());
  }
  ~PoolBuffer() { k_.machine().pool().free(address_, std::nullopt); }
  PoolBuffer(const PoolBuffer&) = delete;
  PoolBuffer& operator=(const PoolBuffer&) = delete;
  GuestVa address() const { return address_; }

 private:
  Kernel& k_;
  GuestVa address_;
};

// A guest call that did not return (the run stopped, or an exception
// unwound past RtlQueryRegistryValues): the whole query is abandoned.
struct Abandoned {};

class RegistryQuery {
 public:
  RegistryQuery(Kernel& k, uint64_t context) : k_(k), context_(context) {}

  // RtlpQueryRegistryDirect: stores a value at EntryContext.
  NtStatus store_direct(uint32_t type, const Data& data, uint32_t length, GuestVa destination) {
    auto& mem = k_.memory();
    if (type != kSz && type != kExpandSz && type != kMultiSz) {
      if (length <= 4) {
        // Up to a ULONG: copied straight to EntryContext.
        if (destination == data.address || length == 0) return STATUS_SUCCESS;
        mem.write(destination, data.bytes.data(), length);
        return STATUS_SUCCESS;
      }
      // Larger data: EntryContext starts with a LONG giving the buffer's
      // size; negative: raw data only; positive: length, type, then data.
      const uint32_t size = mem.read<uint32_t>(destination);
      if (static_cast<int32_t>(size) >= 0) {
        if (static_cast<uint64_t>(size) < static_cast<uint64_t>(length) + 8) return STATUS_BUFFER_TOO_SMALL;
        mem.write<uint32_t>(destination, length);
        mem.write<uint32_t>(destination + 4, type);
        mem.write(destination + 8, data.bytes.data(), length);
        return STATUS_SUCCESS;
      }
      if (static_cast<uint32_t>(-static_cast<int64_t>(static_cast<int32_t>(size))) < length) return STATUS_BUFFER_TOO_SMALL;
      mem.write(destination, data.bytes.data(), length);
      return STATUS_SUCCESS;
    }
    // Strings go to the UNICODE_STRING at EntryContext; a NULL Buffer is
    // allocated from paged pool for the caller (who frees it).
    const uint16_t bytes = length > 0xFFFE ? 0xFFFE : static_cast<uint16_t>(length);
    auto us = mem.read<layout::UNICODE_STRING>(destination);
    if (us.Buffer) {
      if (bytes > us.MaximumLength) return STATUS_BUFFER_TOO_SMALL;
    } else {
      auto block = k_.machine().pool().allocate(bytes, 1, kStringTag, k_.machine().return_address());
      if (!block) return STATUS_NO_MEMORY;
      us.Buffer = block->value;
      us.MaximumLength = bytes;
      mem.write<uint64_t>(destination + offsetof(layout::UNICODE_STRING, Buffer), us.Buffer);
      mem.write<uint16_t>(destination + offsetof(layout::UNICODE_STRING, MaximumLength), bytes);
    }
    mem.write(GuestVa{us.Buffer}, data.bytes.data(), std::min<size_t>(bytes, data.bytes.size()));
    mem.write<uint16_t>(destination, static_cast<uint16_t>(bytes - 2));
    return STATUS_SUCCESS;
  }

  NtStatus call_routine(const layout::RTL_QUERY_REGISTRY_TABLE& t, GuestVa name, uint32_t type, GuestVa data,
                        uint32_t length) {
    auto r = k_.machine().call(GuestVa{t.QueryRoutine}, {name.value, type, data.value, length, context_, t.EntryContext});
    if (!r) throw Abandoned{};
    return static_cast<NtStatus>(*r);
  }

  // RtlpCallQueryRegistryRoutine for one entry and one value (or the
  // value's absence: `value` null). `named` marks the ZwQueryValueKey path,
  // whose REG_MULTI_SZ data gets one more terminating NUL.
  NtStatus deliver(GuestVa entry, const cm::Value* value, bool named) {
    auto& mem = k_.memory();
    auto t = mem.read<layout::RTL_QUERY_REGISTRY_TABLE>(entry);
    const uint32_t default_type = t.DefaultType & 0xFF;
    std::optional<PoolBuffer> buffer;
    GuestVa name{t.Name};
    Data data;
    uint32_t type = 0, length = 0;
    // A value of type REG_NONE or without data counts as absent.
    if (value && value->type != kNone && !value->data.empty()) {
      type = value->type;
      data.bytes = value->data;
      if (named && type == kMultiSz) data.bytes.insert(data.bytes.end(), {0, 0});
      length = static_cast<uint32_t>(data.bytes.size());
      // The KEY_VALUE_FULL_INFORMATION the value was read into, the data
      // 8-aligned after the name, then (for a QueryRoutine) a NUL-terminated
      // copy of the name 8-aligned after the data.
      const uint32_t name_bytes = static_cast<uint32_t>(value->name.size() * 2);
      const uint32_t data_offset = (layout::kKeyValueFullNameOffset + name_bytes + 7) & ~7u;
      const uint32_t name_copy = (data_offset + length + 7) & ~7u;
      const uint32_t size = std::max(kQueryBufferMinimum, name_copy + name_bytes + 2 + 8);
      buffer.emplace(k_, size);
      cm::Value shown = *value;
      shown.data = data.bytes;
      auto record = cm::flatten(cm::encode_value_info(cm::value_class::kFull, shown, size), size);
      mem.write(buffer->address(), record.data(), record.size());
      data.address = buffer->address() + data_offset;
      if (!(t.Flags & kDirect)) {
        name = buffer->address() + name_copy;
        auto copy = cm::utf16_bytes(value->name);
        mem.write(name, copy.data(), copy.size());
      }
    } else {
      // No value: the entry's default, if it has one.
      if (default_type == kNone) return (t.Flags & kRequired) ? STATUS_OBJECT_NAME_NOT_FOUND : STATUS_SUCCESS;
      type = default_type;
      data.address = GuestVa{t.DefaultData};
      length = t.DefaultLength;
      if (length == 0) {
        // String defaults may leave their length to be counted.
        if (type == kSz || type == kExpandSz) {
          if (!data.address) return STATUS_DATA_OVERRUN;
          length = static_cast<uint32_t>(mem.read_wstring(data.address, 1 << 15).size() * 2 + 2);
        } else if (type == kMultiSz) {
          if (!data.address) return STATUS_DATA_OVERRUN;
          uint32_t at = 0;
          while (mem.read<uint16_t>(data.address + at) != 0) {
            while (mem.read<uint16_t>(data.address + at) != 0) at += 2;
            at += 2;
          }
          length = at + 2;
        }
      }
      data.bytes.resize(length);
      if (length && !mem.read(data.address, data.bytes.data(), length)) throw emu::GuestAccessError(data.address, false);
    }

    if (t.Flags & kDirect) {
      if (t.Flags & kTypeCheck) {
        // The expected type sits in DefaultType's top byte.
        if ((t.DefaultType >> kTypeCheckShift) != type) return STATUS_OBJECT_TYPE_MISMATCH;
      } else if ((t.Flags & kNoString) && (type == kSz || type == kExpandSz || type == kMultiSz)) {
        return (t.Flags & kRequired) ? STATUS_OBJECT_NAME_NOT_FOUND : STATUS_SUCCESS;
      }
    }

    auto ignore_too_small = [](NtStatus s) { return s == STATUS_BUFFER_TOO_SMALL ? STATUS_SUCCESS : s; };
    if (!(t.Flags & kNoExpand)) {
      if (type == kMultiSz) {
        // One call per string, presented as REG_SZ (the DIRECT form stores
        // them into consecutive UNICODE_STRINGs, moving EntryContext on).
        NtStatus status = STATUS_SUCCESS;
        const uint32_t end = length >= 4 ? length - 4 : 0;
        for (uint32_t at = 0; at < end;) {
          uint32_t stop = at;
          while (stop + 1 < data.bytes.size() && (data.bytes[stop] | data.bytes[stop + 1]) != 0) stop += 2;
          const uint32_t string_length = stop + 2 - at;
          Data one{data.address + at,
                   std::vector<uint8_t>(data.bytes.begin() + at,
                                        data.bytes.begin() + std::min<size_t>(at + string_length, data.bytes.size()))};
          NtStatus st;
          if (t.Flags & kDirect) {
            st = store_direct(kSz, one, string_length, GuestVa{t.EntryContext});
            t.EntryContext += sizeof(layout::UNICODE_STRING);
            mem.write<uint64_t>(entry + offsetof(layout::RTL_QUERY_REGISTRY_TABLE, EntryContext), t.EntryContext);
          } else {
            st = call_routine(t, name, kSz, one.address, string_length);
          }
          status = ignore_too_small(st);
          if (!nt_success(status)) break;
          at += string_length;
        }
        return status;
      }
      if (type == kExpandSz && length != 2 && length - 2 <= 0xFFFA) {
        // The kernel expands no environment strings: a REG_EXPAND_SZ holding
        // a variable reference needs RTL_QUERY_REGISTRY_NOEXPAND.
        for (uint32_t at = 0; at + 2 <= length - 2 && at + 1 < data.bytes.size(); at += 2)
          if (data.bytes[at] == '%' && data.bytes[at + 1] == 0) return STATUS_INVALID_PARAMETER;
      }
    }
    if (t.Flags & kDirect) return ignore_too_small(store_direct(type, data, length, GuestVa{t.EntryContext}));
    return ignore_too_small(call_routine(t, name, type, data.address, length));
  }

  // RtlpQueryRegistryValues.
  NtStatus run(uint32_t relative_to, GuestVa path, GuestVa table) {
    auto& mem = k_.memory();
    uint64_t top = 0;
    NtStatus status = get_registry_handle(k_, relative_to, path, false, &top);
    if (!nt_success(status)) return status;
    uint64_t current = top;
    for (GuestVa entry = table;; entry += sizeof(layout::RTL_QUERY_REGISTRY_TABLE)) {
      auto t = mem.read<layout::RTL_QUERY_REGISTRY_TABLE>(entry);
      // The table ends at an entry with no QueryRoutine that is neither SUBKEY nor DIRECT.
      if (!t.QueryRoutine && !(t.Flags & (kSubkey | kDirect))) break;
      // DIRECT needs a Name, no QueryRoutine and no SUBKEY.
      if ((t.Flags & kDirect) && (!t.Name || (t.Flags & kSubkey) || t.QueryRoutine)) {
        status = STATUS_INVALID_PARAMETER;
        break;
      }
      if ((t.Flags & (kTopkey | kSubkey)) && current != top) {
        cm::close_kernel_key(k_, current);
        current = top;
      }
      bool enumerate = false;
      if (t.Flags & kSubkey) {
        if (!t.Name) {
          status = STATUS_INVALID_PARAMETER;
          break;
        }
        // Later entries read the subkey (relative to the top key).
        status = cm::open_kernel_key(k_, top, read_wide(k_, GuestVa{t.Name}), kMaximumAllowed, false, &current);
        if (!nt_success(status)) break;
        if (!t.QueryRoutine) continue;
        enumerate = true;
      } else if (t.Name) {
        std::u16string name = cm::trim_value_name(read_wide(k_, GuestVa{t.Name}));
        cm::Value value;
        status = cm::find_value_by_name(k_, ProcessorMode::KernelMode, current, name, &value);
        if (status == STATUS_OBJECT_NAME_NOT_FOUND) {
          status = deliver(entry, nullptr, true);
        } else if (nt_success(status)) {
          status = deliver(entry, &value, true);
          if (nt_success(status) && (t.Flags & kDelete))
            cm::delete_value(k_, ProcessorMode::KernelMode, current, name);
        }
        if (!nt_success(status)) break;
        continue;
      } else if (t.Flags & kNoValue) {
        // Just the callback: no name, REG_NONE, no data.
        status = call_routine(t, GuestVa{}, kNone, GuestVa{}, 0);
        if (!nt_success(status)) break;
        continue;
      } else {
        enumerate = true;
      }
      if (enumerate) {
        // Every value of the current key, in order.
        for (uint32_t index = 0;; ++index) {
          cm::Value value;
          status = cm::find_value_by_index(k_, ProcessorMode::KernelMode, current, index, &value);
          if (status == STATUS_NO_MORE_ENTRIES) {
            status = (index == 0 && (t.Flags & kRequired)) ? STATUS_OBJECT_NAME_NOT_FOUND : STATUS_SUCCESS;
            break;
          }
          if (!nt_success(status)) break;
          status = deliver(entry, &value, false);
          if (!nt_success(status)) break;
          if ((t.Flags & kDelete) &&
              nt_success(cm::delete_value(k_, ProcessorMode::KernelMode, current, value.name)))
            --index;  // the next value moved into this slot
        }
        if (!nt_success(status)) break;
      }
    }
    close_registry_handle(k_, relative_to, top);
    if (current != top) cm::close_kernel_key(k_, current);
    return status;
  }

 private:
  Kernel& k_;
  uint64_t context_;
};

}  // namespace

// RtlQueryRegistryValues(RelativeTo, Path, QueryTable, Context, Environment).
// Environment is not consulted: the kernel's copy expands no variables.
NtStatus RtlQueryRegistryValues(Kernel& k, uint32_t relative_to, GuestVa path, GuestVa table, GuestVa context,
                                GuestVa environment) {
  (void)environment;
  RegistryQuery query(k, context.value);
  try {
    return query.run(relative_to, path, table);
  } catch (const Abandoned&) {
    return STATUS_UNSUCCESSFUL;  // never seen by the driver: the run stopped or unwound
  }
}

// RtlQueryRegistryValuesEx: the same walk (both call RtlpQueryRegistryValues).
NtStatus RtlQueryRegistryValuesEx(Kernel& k, uint32_t relative_to, GuestVa path, GuestVa table, GuestVa context,
                                  GuestVa environment) {
  return RtlQueryRegistryValues(k, relative_to, path, table, context, environment);
}

NtStatus RtlWriteRegistryValue(Kernel& k, uint32_t relative_to, GuestVa path, GuestVa value_name, uint32_t type,
                               GuestVa data, uint32_t length) {
  uint64_t handle = 0;
  NtStatus st = get_registry_handle(k, relative_to, path, true, &handle);
  if (!nt_success(st)) return st;
  std::vector<uint8_t> bytes(length);
  if (length && !k.memory().read(data, bytes.data(), length)) {
    close_registry_handle(k, relative_to, handle);
    throw emu::GuestAccessError(data, false);
  }
  st = cm::set_value(k, ProcessorMode::KernelMode, handle, cm::trim_value_name(read_wide(k, value_name)), type,
                     std::move(bytes));
  close_registry_handle(k, relative_to, handle);
  return st;
}

NtStatus RtlDeleteRegistryValue(Kernel& k, uint32_t relative_to, GuestVa path, GuestVa value_name) {
  uint64_t handle = 0;
  // The key is opened for creation, as Windows does.
  NtStatus st = get_registry_handle(k, relative_to, path, true, &handle);
  if (!nt_success(st)) return st;
  st = cm::delete_value(k, ProcessorMode::KernelMode, handle, cm::trim_value_name(read_wide(k, value_name)));
  close_registry_handle(k, relative_to, handle);
  return st;
}

NtStatus RtlCheckRegistryKey(Kernel& k, uint32_t relative_to, GuestVa path) {
  uint64_t handle = 0;
  NtStatus st = get_registry_handle(k, relative_to, path, false, &handle);
  if (!nt_success(st)) return st;
  close_registry_handle(k, relative_to, handle);
  return STATUS_SUCCESS;
}

NtStatus RtlCreateRegistryKey(Kernel& k, uint32_t relative_to, GuestVa path) {
  uint64_t handle = 0;
  NtStatus st = get_registry_handle(k, relative_to, path, true, &handle);
  if (!nt_success(st)) return st;
  close_registry_handle(k, relative_to, handle);
  return STATUS_SUCCESS;
}

void register_rtl_registry_exports(Registry& r) {
  KEMU_EXPORT(r, RtlQueryRegistryValues);
  KEMU_EXPORT(r, RtlQueryRegistryValuesEx);
  KEMU_EXPORT(r, RtlWriteRegistryValue);
  KEMU_EXPORT(r, RtlDeleteRegistryValue);
  KEMU_EXPORT(r, RtlCheckRegistryKey);
  KEMU_EXPORT(r, RtlCreateRegistryKey);
}

}  // namespace kemu::nt
