// The section services as drivers call them: NtCreateSection/ZwCreateSection,
// ZwOpenSection, NtMapViewOfSection/ZwMapViewOfSection, ZwUnmapViewOfSection,
// MmMapViewOfSection/MmUnmapViewOfSection (object pointers, no access
// checks), MmMapViewInSystemSpace/MmUnmapViewInSystemSpace and their
// session-space twins. Each NtXxx captures its arguments with the caller's
// PreviousMode; each ZwXxx runs it with PreviousMode KernelMode
// (api/previous_mode.h). The work is in mm/sections.cpp.
#include "emulator/ntstatus.h"
#include "ntoskrnl-stubs/api/caller_memory.h"
#include "ntoskrnl-stubs/api/kernel_modules.h"
#include "ntoskrnl-stubs/api/previous_mode.h"
#include "ntoskrnl-stubs/api/registry.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/mm/sections.h"
#include "ntoskrnl-stubs/ob/object_attributes.h"
#include "ntoskrnl-stubs/ob/object_manager.h"
#include "ntoskrnl-stubs/ps/process_manager.h"
#include "ntoskrnl-stubs/ps/process_security.h"

namespace kemu::nt {

namespace {

// The process a ProcessHandle names, referenced for PROCESS_VM_OPERATION
// with the caller's mode.
NtStatus process_of(Kernel& k, uint64_t handle, ProcessorMode mode, uint32_t* pid) {
  const ps::ProcessRecord* p = nullptr;
  if (NtStatus st = ps::reference_process(k, handle, ps::kProcessVmOperation, mode, &p); !nt_success(st)) return st;
  *pid = p->pid;
  return STATUS_SUCCESS;
}

// The section object behind a PVOID Section argument (Mm* routines take
// object pointers, referenced by their caller).
std::optional<ob::ObjectId> section_at(Kernel& k, GuestVa body, const char* routine) {
  const ob::ObjectRecord* r = k.ob().by_body(body);
  if (!r || r->type != ob::TypeIndex::Section || !mm::section_size(k, r->id)) {
    k.modules().unimplemented_case(routine, "a pointer that is not a section object");
    return std::nullopt;
  }
  return r->id;
}

const ps::ProcessRecord* process_at(Kernel& k, GuestVa eprocess, const char* routine) {
  const ps::ProcessRecord* p = k.ps().process_by_eprocess(eprocess);
  if (!p) k.modules().unimplemented_case(routine, "a pointer that is not a process object");
  return p;
}

}  // namespace

// NtCreateSection(SectionHandle*, DesiredAccess, ObjectAttributes*, MaximumSize*,
//                 SectionPageProtection, AllocationAttributes, FileHandle)
NtStatus NtCreateSection(Kernel& k, GuestVa handle_out, uint32_t desired, GuestVa oa, GuestVa maximum_size,
                         uint32_t protect, uint32_t allocation, uint64_t file_handle) {
  ProcessorMode mode = k.machine().previous_mode();
  // The caller's HANDLE* and LARGE_INTEGER (probed from UserMode).
  if (NtStatus st = caller::probe_for_write(k, mode, handle_out, sizeof(uint64_t)); !nt_success(st)) return st;
  std::optional<uint64_t> size;
  if (maximum_size) {
    int64_t value = 0;
    if (NtStatus st = caller::read(k, mode, maximum_size, &value); !nt_success(st)) return st;
    if (value < 0) return STATUS_INVALID_PARAMETER_4;
    size = static_cast<uint64_t>(value);
    if (NtStatus st = caller::probe_for_write(k, mode, maximum_size, sizeof(int64_t)); !nt_success(st)) return st;
  }
  ob::CapturedAttributes attributes;
  if (NtStatus st = ob::capture_object_attributes(k, mode, oa, &attributes); !nt_success(st)) return st;
  uint64_t handle = 0, section_size = 0;
  NtStatus st = mm::create_section(k, mode, attributes, desired, size, protect, allocation, file_handle, &handle,
                                   &section_size);
  if (nt_success(st)) {
    caller::store_result<uint64_t>(k, mode, handle_out, handle);
    // The section's size goes back to MaximumSize.
    if (maximum_size) caller::store_result<int64_t>(k, mode, maximum_size, static_cast<int64_t>(section_size));
  }
  return st;
}

NtStatus ZwCreateSection(Kernel& k, GuestVa handle_out, uint32_t desired, GuestVa oa, GuestVa maximum_size,
                         uint32_t protect, uint32_t allocation, uint64_t file_handle) {
  return as_kernel_caller(
      k, [&] { return NtCreateSection(k, handle_out, desired, oa, maximum_size, protect, allocation, file_handle); });
}

// NtOpenSection(SectionHandle*, DesiredAccess, ObjectAttributes*): ObOpenObjectByName with *MmSectionObjectType.
NtStatus NtOpenSection(Kernel& k, GuestVa handle_out, uint32_t desired, GuestVa oa) {
  ProcessorMode mode = k.machine().previous_mode();
  if (NtStatus st = caller::probe_for_write(k, mode, handle_out, sizeof(uint64_t)); !nt_success(st)) return st;
  if (!oa) return STATUS_INVALID_PARAMETER;
  ob::CapturedAttributes attributes;
  if (NtStatus st = ob::capture_object_attributes(k, mode, oa, &attributes); !nt_success(st)) return st;
  std::u16string path;
  if (NtStatus st = ob::absolute_name(k, mode, attributes, &path); !nt_success(st)) return st;
  uint64_t handle = 0;
  NtStatus st = k.ob().open_by_name(path, ob::TypeIndex::Section, attributes.attributes, desired, mode, &handle);
  if (nt_success(st)) caller::store_result<uint64_t>(k, mode, handle_out, handle);
  return st;
}

NtStatus ZwOpenSection(Kernel& k, GuestVa handle_out, uint32_t desired, GuestVa oa) {
  return as_kernel_caller(k, [&] { return NtOpenSection(k, handle_out, desired, oa); });
}

// NtMapViewOfSection(SectionHandle, ProcessHandle, BaseAddress*, ZeroBits, CommitSize,
//                    SectionOffset*, ViewSize*, InheritDisposition, AllocationType, Win32Protect)
NtStatus NtMapViewOfSection(Kernel& k, uint64_t section_handle, uint64_t process_handle, GuestVa base_out,
                            uint64_t zero_bits, uint64_t commit_size, GuestVa offset_inout, GuestVa size_inout,
                            uint32_t inherit, uint32_t allocation_type, uint32_t protect) {
  ProcessorMode mode = k.machine().previous_mode();
  mm::ViewRequest rq;
  rq.zero_bits = zero_bits;
  rq.inherit = inherit;
  rq.allocation_type = allocation_type;
  rq.protect = protect;
  rq.commit_size = commit_size;
  rq.service = true;
  // 1. The arguments that need no memory.
  if (NtStatus st = mm::check_view_arguments(rq); !nt_success(st)) return st;
  // 2. The caller's in/out values.
  uint64_t base = 0, size = 0;
  int64_t offset = 0;
  if (NtStatus st = caller::read(k, mode, base_out, &base); !nt_success(st)) return st;
  if (NtStatus st = caller::read(k, mode, size_inout, &size); !nt_success(st)) return st;
  if (offset_inout) {
    if (NtStatus st = caller::read(k, mode, offset_inout, &offset); !nt_success(st)) return st;
  }
  if (mode == ProcessorMode::UserMode) {
    for (auto [va, bytes] : {std::pair{base_out, 8u}, std::pair{size_inout, 8u}, std::pair{offset_inout, 8u}})
      if (va)
        if (NtStatus st = caller::probe_for_write(k, mode, va, bytes); !nt_success(st)) return st;
  }
  rq.base = GuestVa{base};
  rq.size = size;
  rq.offset = static_cast<uint64_t>(offset);
  // 3. The process (PROCESS_VM_OPERATION), then the section (the access the protection needs).
  uint32_t pid = 0;
  if (NtStatus st = process_of(k, process_handle, mode, &pid); !nt_success(st)) return st;
  ob::ObjectId section = ob::kNoObject;
  if (NtStatus st = k.ob().reference_by_handle(section_handle, mm::section_access_for(protect),
                                               ob::TypeIndex::Section, mode, &section, nullptr);
      !nt_success(st))
    return st;
  NtStatus st = mm::map_view(k, section, pid, rq);
  k.ob().dereference(section);
  if (!nt_success(st)) return st;
  // 4. The view's base, size and (rounded) offset go back.
  caller::store_result<uint64_t>(k, mode, base_out, rq.base.value);
  caller::store_result<uint64_t>(k, mode, size_inout, rq.size);
  if (offset_inout) caller::store_result<int64_t>(k, mode, offset_inout, static_cast<int64_t>(rq.offset));
  return st;
}

NtStatus ZwMapViewOfSection(Kernel& k, uint64_t section_handle, uint64_t process_handle, GuestVa base_out,
                            uint64_t zero_bits, uint64_t commit_size, GuestVa offset_inout, GuestVa size_inout,
                            uint32_t inherit, uint32_t allocation_type, uint32_t protect) {
  return as_kernel_caller(k, [&] {
    return NtMapViewOfSection(k, section_handle, process_handle, base_out, zero_bits, commit_size, offset_inout,
                              size_inout, inherit, allocation_type, protect);
  });
}

// NtUnmapViewOfSection(ProcessHandle, BaseAddress): any address inside the view.
NtStatus NtUnmapViewOfSection(Kernel& k, uint64_t process_handle, GuestVa base) {
  ProcessorMode mode = k.machine().previous_mode();
  uint32_t pid = 0;
  if (NtStatus st = process_of(k, process_handle, mode, &pid); !nt_success(st)) return st;
  return mm::unmap_view(k, pid, base);
}

NtStatus ZwUnmapViewOfSection(Kernel& k, uint64_t process_handle, GuestVa base) {
  return as_kernel_caller(k, [&] { return NtUnmapViewOfSection(k, process_handle, base); });
}

// MmMapViewOfSection(SectionObject, Process, BaseAddress*, ZeroBits, CommitSize,
//                    SectionOffset*, ViewSize*, InheritDisposition, AllocationType, Protect):
// kernel pointers, no handle and no access check.
NtStatus MmMapViewOfSection(Kernel& k, GuestVa section_body, GuestVa eprocess, GuestVa base_inout,
                            uint64_t zero_bits, uint64_t commit_size, GuestVa offset_inout, GuestVa size_inout,
                            uint32_t inherit, uint32_t allocation_type, uint32_t protect) {
  auto section = section_at(k, section_body, "MmMapViewOfSection");
  const ps::ProcessRecord* p = process_at(k, eprocess, "MmMapViewOfSection");
  if (!section || !p) return STATUS_INVALID_PARAMETER;
  auto& mem = k.memory();
  mm::ViewRequest rq;
  rq.base = GuestVa{mem.read<uint64_t>(base_inout)};
  rq.size = mem.read<uint64_t>(size_inout);
  if (offset_inout) rq.offset = mem.read<uint64_t>(offset_inout);
  rq.zero_bits = zero_bits;
  rq.commit_size = commit_size;
  rq.inherit = inherit;
  rq.allocation_type = allocation_type;
  rq.protect = protect;
  NtStatus st = mm::map_view(k, *section, p->pid, rq);
  if (!nt_success(st)) return st;
  mem.write<uint64_t>(base_inout, rq.base.value);
  mem.write<uint64_t>(size_inout, rq.size);
  if (offset_inout) mem.write<uint64_t>(offset_inout, rq.offset);
  return st;
}

NtStatus MmUnmapViewOfSection(Kernel& k, GuestVa eprocess, GuestVa base) {
  const ps::ProcessRecord* p = process_at(k, eprocess, "MmUnmapViewOfSection");
  if (!p) return STATUS_INVALID_PARAMETER;
  return mm::unmap_view(k, p->pid, base);
}

// MmMapViewInSystemSpace(Section, MappedBase*, ViewSize*): the whole section
// (ViewSize 0) or its first ViewSize bytes, at a system address.
NtStatus MmMapViewInSystemSpace(Kernel& k, GuestVa section_body, GuestVa base_out, GuestVa size_inout) {
  auto section = section_at(k, section_body, "MmMapViewInSystemSpace");
  if (!section) return STATUS_INVALID_PARAMETER;
  auto& mem = k.memory();
  mm::ViewRequest rq;
  rq.size = mem.read<uint64_t>(size_inout);
  // The view takes the section's own protection.
  rq.protect = mm::section_protection(k, *section);
  NtStatus st = mm::map_view_in_system_space(k, *section, rq);
  if (!nt_success(st)) return st;
  mem.write<uint64_t>(base_out, rq.base.value);
  mem.write<uint64_t>(size_inout, rq.size);
  return st;
}

// MmUnmapViewInSystemSpace(MappedBase): an address that starts no system
// view is DRIVER_UNMAPPING_INVALID_VIEW (0x81: the address, 1 = unmapping).
NtStatus MmUnmapViewInSystemSpace(Kernel& k, GuestVa base) {
  NtStatus st = mm::unmap_view(k, emu::kKernelOwner, base);
  if (st == STATUS_NOT_MAPPED_VIEW) {
    k.machine().bugcheck(0x81, base.value, 1, 0, 0, k.machine().call_site());
    return st;
  }
  return st;
}

// Session space: kemu has one session, whose views live where system views do.
NtStatus MmMapViewInSessionSpace(Kernel& k, GuestVa section_body, GuestVa base_out, GuestVa size_inout) {
  return MmMapViewInSystemSpace(k, section_body, base_out, size_inout);
}
NtStatus MmUnmapViewInSessionSpace(Kernel& k, GuestVa base) { return MmUnmapViewInSystemSpace(k, base); }

void register_section_exports(Registry& r) {
  KEMU_EXPORT(r, NtCreateSection);
  KEMU_EXPORT(r, ZwCreateSection);
  KEMU_EXPORT(r, ZwOpenSection);
  KEMU_EXPORT(r, NtMapViewOfSection);
  KEMU_EXPORT(r, ZwMapViewOfSection);
  KEMU_EXPORT(r, ZwUnmapViewOfSection);
  KEMU_EXPORT(r, MmMapViewOfSection);
  KEMU_EXPORT(r, MmUnmapViewOfSection);
  KEMU_EXPORT(r, MmMapViewInSystemSpace);
  KEMU_EXPORT(r, MmUnmapViewInSystemSpace);
  KEMU_EXPORT(r, MmMapViewInSessionSpace);
  KEMU_EXPORT(r, MmUnmapViewInSessionSpace);
}

}  // namespace kemu::nt
