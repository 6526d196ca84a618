// The object manager: objects with an OBJECT_HEADER in guest pool memory in
// front of their body, pointer and handle counts, permanent vs temporary
// objects, and the namespace (directories and symbolic links) with lookups
// that follow links as Windows does. Host-side records are plain data keyed
// by ObjectId; the guest header mirrors the counts.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "emulator/ntstatus.h"
#include "emulator/types.h"
#include "ntoskrnl-stubs/ob/handle_table.h"
#include "ntoskrnl-stubs/ob/object_types.h"
#include "ntoskrnl-stubs/se/security_descriptor.h"

namespace kemu::nt {
class Kernel;
}

namespace kemu::nt::ob {

// Upcases one UTF-16 unit the way RtlUpcaseUnicodeChar does for the Basic
// Latin and Latin-1 ranges (other characters are returned unchanged).
char16_t upcase(char16_t c);
bool names_equal(std::u16string_view a, std::u16string_view b, bool case_insensitive);

struct NameLess {
  bool operator()(const std::u16string& a, const std::u16string& b) const;
};

struct ObjectRecord {
  ObjectId id = kNoObject;
  TypeIndex type = TypeIndex::Type;
  GuestVa header;  // OBJECT_HEADER
  GuestVa body;    // header + 0x30
  uint64_t body_size = 0;
  std::u16string name;  // leaf name, empty for unnamed objects
  ObjectId parent = kNoObject;
  int64_t pointer_count = 0;
  int64_t handle_count = 0;
  bool permanent = false;
  bool deleting = false;  // the delete procedure is running
  std::u16string link_target;                            // SymbolicLink
  std::map<std::u16string, ObjectId, NameLess> entries;  // Directory
  // The object's security descriptor (none: unnamed devices, most kernel
  // objects kemu creates) and its guest copy, a self-relative descriptor in
  // paged pool that OBJECT_HEADER.SecurityDescriptor points at.
  std::optional<se::SecurityDescriptor> security;
  GuestVa security_copy;
  // OBJ_EXCLUSIVE at creation (OB_FLAG_EXCLUSIVE_OBJECT): while exclusive
  // handles exist, only their process (exclusive_pid) may open it, and only
  // exclusively.
  bool exclusive = false;
  uint32_t exclusive_pid = 0;
  uint32_t exclusive_handles = 0;
  // OB_FLAG_KERNEL_ONLY_ACCESS (\Device\PhysicalMemory): no UserMode open.
  bool kernel_only = false;
};

struct HandleInfo {
  uint32_t granted_access = 0;
  uint32_t attributes = 0;
};

struct LookupResult {
  ObjectId object = kNoObject;
  std::u16string remaining;  // unparsed tail for objects with a parse procedure (devices)
};

class ObjectManager {
 public:
  explicit ObjectManager(Kernel& kernel);

  // Creates the object types and the namespace roots (\, \ObjectTypes,
  // \Device, \Driver, \GLOBAL??, \DosDevices, \BaseNamedObjects, ...).
  void initialize();

  // A new unnamed object with pointer count 1 and a zeroed body in pool.
  ObjectId create(TypeIndex type, uint64_t body_size);
  // Inserts a created object under an absolute name. Fails with
  // STATUS_OBJECT_NAME_COLLISION, STATUS_OBJECT_PATH_NOT_FOUND, ...
  NtStatus insert(ObjectId object, std::u16string_view path, bool permanent);

  // Resolves an absolute name, following symbolic links (also mid-path;
  // \?? means \GLOBAL??). With follow_final_link false, a link named by the
  // last component is returned itself. Stops at an object that is not a
  // directory and returns the rest of the path in `remaining`.
  std::optional<LookupResult> lookup(std::u16string_view path, bool follow_final_link = true,
                                     NtStatus* status = nullptr) const;

  // Type procedures: called when the last handle to an object closes (a
  // file's IRP_MJ_CLEANUP) and when it is deleted (IRP_MJ_CLOSE).
  using TypeProcedure = std::function<void(ObjectId)>;
  void set_close_procedure(TypeIndex type, TypeProcedure last_handle_closed);
  void set_delete_procedure(TypeIndex type, TypeProcedure deleted);
  // A type's query-name procedure (OBJECT_TYPE QueryNameProcedure): how
  // full_name names its objects when the namespace does not (a Key object's
  // registry path, CmpQueryKeyName).
  using NameProcedure = std::function<std::u16string(ObjectId)>;
  void set_query_name_procedure(TypeIndex type, NameProcedure procedure);

  void reference(ObjectId id);
  // Drops a pointer reference; deletes a temporary object with no handles
  // and no references left.
  void dereference(ObjectId id);
  void make_temporary(ObjectId id);

  ObjectRecord* get(ObjectId id);
  const ObjectRecord* get(ObjectId id) const;
  ObjectRecord* by_body(GuestVa body);
  std::u16string full_name(ObjectId id) const;
  GuestVa type_object(TypeIndex type) const;  // body of the OBJECT_TYPE
  std::optional<TypeIndex> type_by_object(GuestVa type_body) const;
  // A routine's POBJECT_TYPE argument: NULL is "any type" (nullopt); a pointer
  // that is no type object matches no object (an index no object has).
  std::optional<TypeIndex> type_argument(GuestVa type_object) const;
  ObjectId root() const { return root_; }
  size_t live_objects() const { return objects_.size(); }

  // --- handles (ob/handles.cpp) ---------------------------------------------
  // The handle table of a process; the System process's table is the kernel table.
  HandleTable& table(uint32_t pid) { return tables_[pid]; }
  // The process whose address space and handle table are current.
  uint32_t current_pid() const;
  // A new handle to `object` (granted = desired mapped through the type's
  // GENERIC_MAPPING; MAXIMUM_ALLOWED grants the valid mask). OBJ_KERNEL_HANDLE
  // in `attributes` puts it in the kernel table with bit 31 set; otherwise it
  // goes into the current process's table. Takes a handle and a pointer count.
  uint64_t create_handle(ObjectId object, uint32_t desired_access, uint32_t attributes);
  // ObpIncrementHandleCount's attribute checks before a handle to an existing
  // object is made: a kernel-only object refuses UserMode (STATUS_ACCESS_DENIED);
  // OBJ_EXCLUSIVE needs an object created exclusive and no OBJ_INHERIT
  // (STATUS_INVALID_PARAMETER) and no handles of another process
  // (STATUS_ACCESS_DENIED); an object with exclusive handles cannot be
  // opened without OBJ_EXCLUSIVE (STATUS_ACCESS_DENIED).
  NtStatus check_handle_attributes(ObjectId object, uint32_t attributes, ProcessorMode mode) const;
  // ObReferenceObjectByHandle's decisions, in Windows' order (semantics.md §3).
  NtStatus reference_by_handle(uint64_t handle, uint32_t desired_access, std::optional<TypeIndex> type,
                               ProcessorMode mode, ObjectId* object, HandleInfo* info);
  // NtDuplicateObject/ZwDuplicateObject (semantics.md §3): source and target
  // are process ids; `mode` is the caller's previous mode. Options:
  // DUPLICATE_CLOSE_SOURCE 1 (closes the source whatever happens),
  // DUPLICATE_SAME_ACCESS 2, DUPLICATE_SAME_ATTRIBUTES 4.
  NtStatus duplicate_handle(uint32_t source_pid, uint64_t source_handle, std::optional<uint32_t> target_pid,
                            uint32_t desired_access, uint32_t attributes, uint32_t options, ProcessorMode mode,
                            uint64_t* target_handle);

  // --- named objects (ob/named_objects.cpp) --------------------------------
  // ObInsertObject with a handle: names `object` at `path` (none: unnamed),
  // OBJ_OPENIF opening an existing object of the same type instead
  // (STATUS_OBJECT_NAME_EXISTS, the new object dropped), OBJ_PERMANENT from
  // KernelMode only (UserMode lacks SeCreatePermanentPrivilege). The handle
  // takes over the creation reference. On failure the object is dropped.
  NtStatus insert_and_open(ObjectId object, const std::optional<std::u16string>& path, uint32_t attributes,
                           uint32_t desired_access, ProcessorMode mode, uint64_t* handle, ObjectId* opened = nullptr);
  // ObReferenceObjectByName / ObOpenObjectByName for objects without a parse
  // procedure: the name resolved (OBJ_OPENLINK opens a final link itself),
  // the type checked. A device (whose parse procedure needs an open packet)
  // is STATUS_OBJECT_TYPE_MISMATCH.
  NtStatus reference_by_name(std::u16string_view path, std::optional<TypeIndex> type, uint32_t attributes,
                             ObjectId* object);
  NtStatus open_by_name(std::u16string_view path, std::optional<TypeIndex> type, uint32_t attributes,
                        uint32_t desired_access, ProcessorMode mode, uint64_t* handle);
  // A new permanent-or-not directory / symbolic link object, unnamed (insert_and_open names it).
  ObjectId create_directory_object();
  ObjectId create_link_object(std::u16string_view target);
  // Entries of a directory in enumeration order.
  std::vector<ObjectId> directory_entries(ObjectId directory) const;
  // Objects and handles of a type (OBJECT_TYPE's TotalNumberOfObjects/Handles).
  std::pair<uint32_t, uint32_t> type_counts(TypeIndex type) const;

  // --- security (ob/object_security.cpp) ------------------------------------
  // Assigns (or, with nullopt, removes) the object's security descriptor: a
  // new guest copy replaces the old one (kept while ObGetObjectSecurity
  // references it), then the type's security procedure runs (a device's
  // DEVICE_OBJECT.SecurityDescriptor follows).
  void set_security(ObjectId object, std::optional<se::SecurityDescriptor> sd);
  const std::optional<se::SecurityDescriptor>& security(ObjectId object) const;
  void set_security_procedure(TypeIndex type, TypeProcedure changed);
  // ObCheckObjectAccess: a UserMode request is checked against the object's
  // descriptor with the current process's token (an object without one
  // grants what is asked); KernelMode requests are not checked. *granted is
  // the access mapped through the type's GENERIC_MAPPING.
  NtStatus check_access(ObjectId object, uint32_t desired, ProcessorMode mode, uint32_t* granted);
  // A type's open procedure (OBJECT_TYPE OpenProcedure), which
  // ObpIncrementHandleCountEx calls after the access check: it may refuse the
  // open or change the rights granted (PspProcessOpen: protected processes,
  // PROCESS_QUERY_LIMITED_INFORMATION implied). `mode` is the mode the access
  // was checked with (UserMode for OBJ_FORCE_ACCESS_CHECK).
  using OpenProcedure = std::function<NtStatus(ObjectId, ProcessorMode mode, uint32_t* granted)>;
  void set_open_procedure(TypeIndex type, OpenProcedure procedure);
  // Runs the type's open procedure (a type without one: STATUS_SUCCESS, *granted unchanged).
  NtStatus open_procedure(ObjectId object, ProcessorMode mode, uint32_t* granted);
  // ObGetObjectSecurity / ObReleaseObjectSecurity: the guest copy, counted.
  GuestVa reference_security(ObjectId object);
  void release_security(GuestVa copy);

  // NtClose/ZwClose/ObCloseHandle semantics; a kernel-mode close of an
  // invalid or protected handle bugchecks 0x93 (returns nullopt then).
  std::optional<NtStatus> close_handle(uint64_t handle, ProcessorMode mode);

  // --explain wording: "client.exe's table (pid 0x1234)", "the File object \Device\X".
  std::string table_name(uint32_t pid) const;
  std::string describe(ObjectId id) const;

 private:
  ObjectId create_directory(ObjectId parent, std::u16string_view name);
  ObjectId create_link(ObjectId parent, std::u16string_view name, std::u16string_view target);
  void link_into(ObjectId parent, ObjectId child, std::u16string_view name);
  void sync_header(const ObjectRecord& r);
  // Removes handle `index` of process `pid`: the handle count drops, the
  // close procedure runs on the last handle, the handle's reference goes.
  void release_handle(uint32_t pid, uint32_t index);
  void destroy(ObjectId id);
  // Keeps the OBJECT_TYPE's TotalNumberOfObjects/Handles (and high-water
  // marks) in step with creations, deletions and handles.
  void count_in_type(TypeIndex type, int objects, int handles);
  struct TypeCounts {
    uint32_t objects = 0, handles = 0, high_objects = 0, high_handles = 0;
  };
  std::map<uint8_t, TypeCounts> type_counts_;
  // The decisions behind reference_by_handle / close_handle, with the reasons
  // collected for --explain when `why` is given.
  NtStatus reference_by_handle_decided(uint64_t handle, uint32_t desired_access, std::optional<TypeIndex> type,
                                       ProcessorMode mode, ObjectId* object, HandleInfo* info, std::string* why);
  std::optional<NtStatus> close_handle_decided(uint64_t handle, ProcessorMode mode, std::string* why);

  Kernel& kernel_;
  std::map<ObjectId, ObjectRecord> objects_;
  std::map<uint64_t, ObjectId> by_body_;
  std::map<uint8_t, ObjectId> type_objects_;
  ObjectId next_id_ = 1;
  ObjectId root_ = kNoObject;
  ObjectId global_dos_devices_ = kNoObject;
  std::map<uint32_t, HandleTable> tables_;
  std::map<uint8_t, TypeProcedure> close_procedures_;
  std::map<uint8_t, TypeProcedure> delete_procedures_;
  std::map<uint8_t, TypeProcedure> security_procedures_;
  std::map<uint8_t, OpenProcedure> open_procedures_;
  std::map<uint64_t, int64_t> security_references_;  // guest copy -> ObGetObjectSecurity references
  std::map<uint64_t, bool> retired_security_;         // replaced copies still referenced
  void retire_security_copy(GuestVa copy);
  std::map<uint8_t, NameProcedure> name_procedures_;
};

}  // namespace kemu::nt::ob
