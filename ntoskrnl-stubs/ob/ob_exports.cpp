// Object manager routines by pointer. Handle-based routines arrive with the
// handle tables (I/O manager milestone).
#include "emulator/ntstatus.h"
#include "ntoskrnl-stubs/api/registry.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/ob/object_manager.h"

namespace kemu::nt {

namespace {
// REFERENCE_BY_POINTER (0x18): a reference count went wrong or the pointer
// is not an object.
void bad_reference(Kernel& k, GuestVa object, int64_t count) {
  k.machine().bugcheck(0x18, 0, object.value, 1, static_cast<uint64_t>(count), k.machine().call_site());
}
}  // namespace

int64_t ObfReferenceObject(Kernel& k, GuestVa object) {
  ob::ObjectRecord* r = k.ob().by_body(object);
  if (!r) {
    bad_reference(k, object, 0);
    return 0;
  }
  k.ob().reference(r->id);
  return r->pointer_count;
}

int64_t ObfDereferenceObject(Kernel& k, GuestVa object) {
  ob::ObjectRecord* r = k.ob().by_body(object);
  if (!r || r->pointer_count <= 0) {
    bad_reference(k, object, r ? r->pointer_count : 0);
    return 0;
  }
  int64_t after = r->pointer_count - 1;
  k.ob().dereference(r->id);
  return after;
}

int64_t ObfReferenceObjectWithTag(Kernel& k, GuestVa object, uint32_t tag) { return ObfReferenceObject(k, object); }
int64_t ObfDereferenceObjectWithTag(Kernel& k, GuestVa object, uint32_t tag) { return ObfDereferenceObject(k, object); }
void ObDereferenceObjectDeferDelete(Kernel& k, GuestVa object) { ObfDereferenceObject(k, object); }

void register_ob_exports(Registry& r) {
  KEMU_EXPORT(r, ObfReferenceObject);
  KEMU_EXPORT(r, ObfDereferenceObject);
  KEMU_EXPORT(r, ObfReferenceObjectWithTag);
  KEMU_EXPORT(r, ObfDereferenceObjectWithTag);
  KEMU_EXPORT(r, ObDereferenceObjectDeferDelete);
}

}  // namespace kemu::nt
