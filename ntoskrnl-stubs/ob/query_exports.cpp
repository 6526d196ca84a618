// What the object manager answers about an object from its OBJECT_HEADER:
// its type (ObGetObjectType), its name (ObQueryNameString) and, by handle,
// ZwQueryObject's basic, name and type information.
#include <algorithm>
#include <cstring>
#include <vector>

#include "emulator/ntstatus.h"
#include "ntoskrnl-stubs/api/caller_memory.h"
#include "ntoskrnl-stubs/api/previous_mode.h"
#include "ntoskrnl-stubs/api/registry.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/ob_structs.h"
#include "ntoskrnl-stubs/ob/object_manager.h"

namespace kemu::nt {

namespace {

enum ObjectInformationClass : uint32_t {
  kObjectBasicInformation = 0,
  kObjectNameInformation = 1,
  kObjectTypeInformation = 2,
};

// The name an object reports: its full namespace name; a file object's is
// its device's name followed by the FILE_OBJECT's FileName (what the file
// system would answer); unnamed objects have none.
std::u16string object_name(Kernel& k, const ob::ObjectRecord& r) {
  if (r.type == ob::TypeIndex::File) {
    GuestVa device{k.memory().read<uint64_t>(r.body + offsetof(layout::FILE_OBJECT, DeviceObject))};
    ob::ObjectRecord* d = k.ob().by_body(device);
    std::u16string name = d ? k.ob().full_name(d->id) : u"";
    return name + k.read_unicode_string(r.body + offsetof(layout::FILE_OBJECT, FileName));
  }
  if (r.id == k.ob().root()) return u"\\";
  return k.ob().full_name(r.id);
}

// OBJECT_NAME_INFORMATION for `name` as it lands at `buffer` (the string
// right after the structure, NUL-terminated; an unnamed object has an
// empty string with a NULL buffer).
std::vector<uint8_t> name_information(const std::u16string& name, GuestVa buffer) {
  layout::OBJECT_NAME_INFORMATION info{};
  size_t size = sizeof(info);
  if (!name.empty()) {
    info.Name.Length = static_cast<uint16_t>(name.size() * 2);
    info.Name.MaximumLength = static_cast<uint16_t>(name.size() * 2 + 2);
    info.Name.Buffer = buffer.value + sizeof(info);
    size += name.size() * 2 + 2;
  }
  std::vector<uint8_t> out(size, 0);
  std::memcpy(out.data(), &info, sizeof(info));
  if (!name.empty()) std::memcpy(out.data() + sizeof(info), name.data(), name.size() * 2);
  return out;
}

std::vector<uint8_t> type_information(Kernel& k, ob::TypeIndex type, GuestVa buffer) {
  const ob::TypeDescriptor& t = ob::descriptor(type);
  auto [objects, handles] = k.ob().type_counts(type);
  layout::OBJECT_TYPE_INFORMATION info{};
  info.TypeName.Length = static_cast<uint16_t>(t.name.size() * 2);
  info.TypeName.MaximumLength = static_cast<uint16_t>(t.name.size() * 2 + 2);
  info.TypeName.Buffer = buffer.value + sizeof(info);
  info.TotalNumberOfObjects = info.HighWaterNumberOfObjects = objects;
  info.TotalNumberOfHandles = info.HighWaterNumberOfHandles = handles;
  info.GenericMapping = t.mapping;
  info.ValidAccessMask = t.valid_access_mask;
  info.TypeIndex = static_cast<uint8_t>(type);
  info.PoolType = t.pool_type;
  info.MaintainHandleCount = type == ob::TypeIndex::File || type == ob::TypeIndex::Process ? 1 : 0;
  // The name follows the structure, padded to pointer alignment.
  size_t size = sizeof(info) + ((t.name.size() * 2 + 2 + 7) & ~size_t{7});
  std::vector<uint8_t> out(size, 0);
  std::memcpy(out.data(), &info, sizeof(info));
  std::memcpy(out.data() + sizeof(info), t.name.data(), t.name.size() * 2);
  return out;
}

// Copies a variable-size answer: too small is STATUS_INFO_LENGTH_MISMATCH
// with the needed length reported.
NtStatus answer(Kernel& k, ProcessorMode mode, const std::vector<uint8_t>& bytes, GuestVa buffer, uint32_t length,
                GuestVa return_length) {
  uint32_t needed = static_cast<uint32_t>(bytes.size());
  if (length < needed) {
    if (return_length) caller::write<uint32_t>(k, mode, return_length, needed);
    return STATUS_INFO_LENGTH_MISMATCH;
  }
  if (NtStatus st = caller::write_bytes(k, mode, buffer, bytes.data(), bytes.size(), 4); !nt_success(st)) return st;
  if (return_length) return caller::write<uint32_t>(k, mode, return_length, needed);
  return STATUS_SUCCESS;
}

}  // namespace

// ObGetObjectType(Object): the OBJECT_TYPE named by the header's TypeIndex.
GuestVa ObGetObjectType(Kernel& k, GuestVa object) {
  ob::ObjectRecord* r = k.ob().by_body(object);
  return r ? k.ob().type_object(r->type) : GuestVa{};
}

// ObQueryNameString(Object, ObjectNameInfo, Length, ReturnLength*).
NtStatus ObQueryNameString(Kernel& k, GuestVa object, GuestVa info, uint32_t length, GuestVa return_length) {
  ob::ObjectRecord* r = k.ob().by_body(object);
  if (!r) return STATUS_INVALID_PARAMETER;
  auto bytes = name_information(object_name(k, *r), info);
  return answer(k, ProcessorMode::KernelMode, bytes, info, length, return_length);
}

// ZwQueryObject(Handle, ObjectInformationClass, ObjectInformation, Length, ReturnLength*).
NtStatus query_object(Kernel& k, ProcessorMode mode, uint64_t handle, uint32_t info_class, GuestVa buffer,
                      uint32_t length, GuestVa return_length) {
  ob::ObjectId id = ob::kNoObject;
  ob::HandleInfo handle_info;
  NtStatus st = k.ob().reference_by_handle(handle, 0, std::nullopt, mode, &id, &handle_info);
  if (!nt_success(st)) return st;
  const ob::ObjectRecord r = *k.ob().get(id);
  k.ob().dereference(id);
  switch (info_class) {
    case kObjectBasicInformation: {
      layout::PUBLIC_OBJECT_BASIC_INFORMATION b{};
      // The structure is fixed: any other length is a mismatch.
      if (length != sizeof(b)) return STATUS_INFO_LENGTH_MISMATCH;
      b.Attributes = handle_info.attributes | (r.permanent ? ob::kObjPermanent : 0) | (r.exclusive ? ob::kObjExclusive : 0);
      b.GrantedAccess = handle_info.granted_access;
      b.HandleCount = static_cast<uint32_t>(r.handle_count);
      b.PointerCount = static_cast<uint32_t>(r.pointer_count);
      if (st = caller::write(k, mode, buffer, b, 4); !nt_success(st)) return st;
      if (return_length) return caller::write<uint32_t>(k, mode, return_length, sizeof(b));
      return STATUS_SUCCESS;
    }
    case kObjectNameInformation:
      return answer(k, mode, name_information(object_name(k, r), buffer), buffer, length, return_length);
    case kObjectTypeInformation:
      return answer(k, mode, type_information(k, r.type, buffer), buffer, length, return_length);
    default:
      return STATUS_INVALID_INFO_CLASS;
  }
}

NtStatus ZwQueryObject(Kernel& k, uint64_t handle, uint32_t info_class, GuestVa buffer,
                       uint32_t length, GuestVa return_length) {
  return as_kernel_caller(k, [&] {
    return query_object(k, ProcessorMode::KernelMode, handle, info_class, buffer, length,
                        return_length);
  });
}

void register_query_exports(Registry& r) {
  KEMU_EXPORT(r, ObGetObjectType);
  KEMU_EXPORT(r, ObQueryNameString);
  KEMU_EXPORT(r, ZwQueryObject);
}

}  // namespace kemu::nt
