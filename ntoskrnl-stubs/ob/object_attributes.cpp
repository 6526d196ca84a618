#include "ntoskrnl-stubs/ob/object_attributes.h"

#include "ntoskrnl-stubs/api/caller_memory.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/ob_structs.h"
#include "ntoskrnl-stubs/ob/object_manager.h"

namespace kemu::nt::ob {

NtStatus capture_object_attributes(Kernel& k, ProcessorMode mode, GuestVa oa, CapturedAttributes* out) {
  *out = {};
  if (!oa) return STATUS_SUCCESS;
  layout::OBJECT_ATTRIBUTES a{};
  if (NtStatus st = caller::read(k, mode, oa, &a, 8); !nt_success(st)) return st;
  if (a.Length != sizeof(layout::OBJECT_ATTRIBUTES) || (a.Attributes & ~kObjValidAttributes))
    return STATUS_INVALID_PARAMETER;
  out->root_directory = a.RootDirectory;
  out->attributes = a.Attributes;
  if (mode == ProcessorMode::UserMode) out->attributes &= ~kObjKernelHandle;
  out->security_descriptor = GuestVa{a.SecurityDescriptor};
  if (a.ObjectName) {
    std::u16string name;
    NtStatus st = caller::read_unicode_string(k, mode, GuestVa{a.ObjectName}, &name);
    // An odd length is a malformed name, not a bad parameter.
    if (st == STATUS_INVALID_PARAMETER) return STATUS_OBJECT_NAME_INVALID;
    if (!nt_success(st)) return st;
    out->name = std::move(name);
  }
  return STATUS_SUCCESS;
}

NtStatus absolute_name(Kernel& k, ProcessorMode mode, const CapturedAttributes& a, std::u16string* path) {
  const std::u16string name = a.name.value_or(u"");
  if (!a.root_directory) {
    if (name.empty() || name[0] != u'\\') return STATUS_OBJECT_PATH_SYNTAX_BAD;
    *path = name;
    return STATUS_SUCCESS;
  }
  if (!name.empty() && name[0] == u'\\') return STATUS_OBJECT_PATH_SYNTAX_BAD;
  ObjectId root = kNoObject;
  NtStatus st = k.ob().reference_by_handle(a.root_directory, 0, std::nullopt, mode, &root, nullptr);
  if (!nt_success(st)) return st;
  const ObjectRecord* r = k.ob().get(root);
  bool directory = r->type == TypeIndex::Directory;
  std::u16string base = root == k.ob().root() ? u"" : k.ob().full_name(root);
  k.ob().dereference(root);
  if (!directory) return STATUS_OBJECT_TYPE_MISMATCH;
  *path = base + u"\\" + name;
  if (name.empty()) *path = base.empty() ? u"\\" : base;
  return STATUS_SUCCESS;
}

}  // namespace kemu::nt::ob
