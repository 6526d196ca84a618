// Section objects and their views (mm/sections.h). The memory manager's
// rules reproduced here, in the order the services apply them:
// - NtCreateSection: allocation attributes (STATUS_INVALID_PARAMETER_6), the
//   page protection (STATUS_INVALID_PAGE_PROTECTION), the size of a
//   pagefile-backed section (STATUS_INVALID_PARAMETER_4), then the file: its
//   handle referenced for the access the protection needs (MmMakeFileAccess),
//   a writable section needing a file opened for write, a file without a
//   data section pointer refused (STATUS_INVALID_FILE_FOR_SECTION), an empty
//   file (STATUS_MAPPED_FILE_SIZE_ZERO), a size beyond the file extending it
//   only when the section is writable (else STATUS_SECTION_TOO_BIG).
// - NtMapViewOfSection: ZeroBits (≤ 21), SECTION_INHERIT, AllocationType,
//   the view protection and its compatibility with the section's
//   (STATUS_SECTION_PROTECTION), the offset rounded down to the 64 KiB
//   allocation granularity (a page for \Device\PhysicalMemory) with the size
//   grown by the same amount, the size checked against the section
//   (STATUS_INVALID_VIEW_SIZE) and rounded up to pages, a caller-chosen base
//   64 KiB aligned (STATUS_MAPPED_ALIGNMENT) and free
//   (STATUS_CONFLICTING_ADDRESSES).
//
// kemu's model: a data section's pages are a kernel-only "store" region;
// views alias it. Sections of one file share one store (Windows' control
// area). A file's bytes are read when the store is made and written back
// when a writable view of it is unmapped and when its last section and view
// are gone. (Not modelled: ZwWriteFile/ZwReadFile on the file while a
// section of it lives do not go through the store; copy-on-write views get a
// private copy of their pages at map time.)
#include "ntoskrnl-stubs/mm/sections.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>

#include <fmt/format.h>

#include "ntoskrnl-stubs/api/kernel_modules.h"
#include "ntoskrnl-stubs/fs/file_system.h"
#include "ntoskrnl-stubs/kernel.h"
#include "ntoskrnl-stubs/layout/nt_structs.h"
#include "ntoskrnl-stubs/mm/mm.h"
#include "ntoskrnl-stubs/ob/object_attributes.h"
#include "ntoskrnl-stubs/ob/object_manager.h"
#include "ntoskrnl-stubs/se/acl.h"
#include "ntoskrnl-stubs/se/sid.h"

namespace kemu::nt::mm {

namespace {

constexpr GuestVa kStoreBase{0xFFFF'B500'0000'0000ull};
constexpr GuestVa kStoreEnd{0xFFFF'B600'0000'0000ull};
// The size of \Device\PhysicalMemory: up to the end of the highest RAM range.
constexpr uint64_t kPhysicalSectionSize = 0x140000000ull;
// A SECTION body's size on Windows 10 x64 (drivers never look inside it).
constexpr uint64_t kSectionBodySize = 0x38;
// FILE_READ_DATA, FILE_WRITE_DATA, FILE_EXECUTE.
constexpr uint32_t kFileReadData = 0x1, kFileWriteData = 0x2, kFileExecute = 0x20;
constexpr uint32_t kMemDosLim = 0x40000000;  // MEM_DOS_LIM (x86 only, accepted and ignored)

// The pages of a section (a control area): shared by the sections of one
// file and by every view.
struct SectionData {
  uint64_t bytes = 0;   // whole pages
  GuestVa store;        // the kernel-only region holding them (data sections)
  bool physical = false;
  std::optional<fs::NodeId> file;
};
using DataRef = std::shared_ptr<SectionData>;

struct SectionRecord {
  DataRef data;
  uint64_t size = 0;  // SECTION.SizeOfSection
  uint32_t protect = 0;
  uint32_t allocation = 0;
};

struct View {
  ViewRecord record;
  DataRef data;
  bool private_copy = false;  // a copy-on-write view's own pages
  bool per_page = false;      // a physical view: one alias region per page
};

struct SectionState {
  std::map<ob::ObjectId, SectionRecord> sections;
  std::map<uint64_t, View> views;  // by base
  std::map<fs::NodeId, std::weak_ptr<SectionData>> file_data;
  ob::ObjectId physical_memory = ob::kNoObject;
};
SectionState& state(Kernel& k) { return k.state<SectionState>(); }

// The base protection (low byte) of a valid PAGE_* value, 0 when invalid
// (MiMakeProtectionMask) or, unless allowed, when it carries PAGE_GUARD.
uint32_t base_protection(uint32_t protect, bool allow_guard) {
  if (!valid_protection(protect) || ((protect & kPageGuard) && !allow_guard)) return 0;
  return protect & 0xFF;
}

// MmCompatibleProtectionMask: the view protections a section protection allows.
uint32_t compatible_views(uint32_t section_base) {
  constexpr uint32_t kReadish = kPageNoAccess | kPageReadOnly | kPageWriteCopy;
  switch (section_base) {
    case kPageReadOnly:
    case kPageWriteCopy: return kReadish;
    case kPageReadWrite: return kReadish | kPageReadWrite;
    case kPageExecute: return kPageNoAccess | kPageExecute;
    case kPageExecuteRead: return kReadish | kPageExecute | kPageExecuteRead;
    case kPageExecuteReadWrite: return 0xFF;
    case kPageExecuteWriteCopy: return kReadish | kPageExecute | kPageExecuteRead | kPageExecuteWriteCopy;
    default: return kPageNoAccess;
  }
}
bool writable(uint32_t base) { return base == kPageReadWrite || base == kPageExecuteReadWrite; }

// MmMakeFileAccess: the file access a section protection needs.
uint32_t file_access_for(uint32_t base) {
  switch (base) {
    case kPageExecute: return kFileExecute;
    case kPageExecuteRead:
    case kPageExecuteWriteCopy: return kFileExecute | kFileReadData;
    case kPageReadWrite: return kFileWriteData | kFileReadData;
    case kPageExecuteReadWrite: return kFileExecute | kFileWriteData | kFileReadData;
    default: return kFileReadData;  // PAGE_NOACCESS, PAGE_READONLY, PAGE_WRITECOPY
  }
}

uint64_t round_up(uint64_t v, uint64_t to) { return (v + to - 1) / to * to; }

int64_t now(Kernel& k) { return static_cast<int64_t>(k.machine().system_time()); }

// Writes [offset, offset+length) of a file-backed store back to its file
// (clipped to the file's size: the tail of the last page is not file data).
void write_back(Kernel& k, const SectionData& d, uint64_t offset, uint64_t length) {
  if (!d.file) return;
  fs::Vfs& vfs = k.fs().vfs();
  const fs::Node* node = vfs.node(*d.file);
  if (!node) return;  // the file was deleted: its data went with it
  uint64_t file_size = node->data.size();
  if (offset >= file_size) return;
  length = std::min(length, file_size - offset);
  const uint8_t* bytes = k.memory().host(d.store + offset, length);
  if (bytes) (void)vfs.write(*d.file, offset, bytes, length, now(k));
}

// Drops one holder of a store; the last one writes a file's data back and
// frees the pages (the views alias them, so they hold it too).
void release(Kernel& k, DataRef& d) {
  if (!d) return;
  if (d.use_count() == 1) {
    if (!d->physical && d->store) {
      write_back(k, *d, 0, d->bytes);
      k.memory().unmap(d->store);
    }
  }
  d.reset();
}

// A new store of `bytes` (whole pages), zero-filled.
NtStatus make_store(Kernel& k, uint64_t bytes, const std::string& name, DataRef* out) {
  auto& mem = k.memory();
  auto base = mem.find_free(kStoreBase, kStoreEnd, bytes + kPageSize);
  if (!base) return STATUS_NO_MEMORY;
  try {
    mem.map(*base, bytes, Prot::ReadWrite, emu::RegionKind::Scratch, name);
  } catch (const emu::GuestMemoryExhausted&) {
    return STATUS_NO_MEMORY;
  }
  auto d = std::make_shared<SectionData>();
  d->bytes = bytes;
  d->store = *base;
  *out = d;
  return STATUS_SUCCESS;
}

// The store of a file's data section: the live one when it is big enough,
// else a new one filled from the file.
NtStatus file_store(Kernel& k, fs::NodeId node, uint64_t section_size, DataRef* out) {
  auto& known = state(k).file_data;
  if (auto it = known.find(node); it != known.end()) {
    if (DataRef live = it->second.lock(); live && live->bytes >= round_up(section_size, kPageSize)) {
      *out = live;
      return STATUS_SUCCESS;
    } else if (live) {
      // A bigger section of the same file: what was written so far reaches
      // the file first, so the new pages start from it.
      write_back(k, *live, 0, live->bytes);
    }
  }
  fs::Vfs& vfs = k.fs().vfs();
  std::u16string path = vfs.path_of(node);
  DataRef d;
  if (NtStatus st = make_store(k, round_up(section_size, kPageSize),
                               "data section of C:" + std::string(path.begin(), path.end()), &d);
      !nt_success(st))
    return st;
  d->file = node;
  std::vector<uint8_t> bytes;
  (void)vfs.read(node, 0, std::min<uint64_t>(section_size, vfs.node(node)->data.size()), &bytes);
  if (!bytes.empty()) k.memory().write(d->store, bytes.data(), bytes.size());
  known[node] = d;
  *out = d;
  return STATUS_SUCCESS;
}

// The file side of a file-backed NtCreateSection: the section's data and size.
NtStatus file_section(Kernel& k, ProcessorMode mode, uint64_t file_handle, uint32_t base,
                      std::optional<uint64_t> maximum_size, DataRef* data, uint64_t* size) {
  ob::ObjectId file = ob::kNoObject;
  // ObReferenceObjectByHandle(FileHandle, MmMakeFileAccess[protection], *IoFileObjectType, PreviousMode).
  if (NtStatus st = k.ob().reference_by_handle(file_handle, file_access_for(base), ob::TypeIndex::File,
                                               mode, &file, nullptr);
      !nt_success(st))
    return st;
  GuestVa body = k.ob().get(file)->body;
  auto& mem = k.memory();
  uint8_t read_access = mem.read<uint8_t>(body + offsetof(layout::FILE_OBJECT, ReadAccess));
  uint8_t write_access = mem.read<uint8_t>(body + offsetof(layout::FILE_OBJECT, WriteAccess));
  uint64_t section_pointers = mem.read<uint64_t>(body + offsetof(layout::FILE_OBJECT, SectionObjectPointer));
  const fs::OpenFile* open = k.fs().open_file(body);
  k.ob().dereference(file);
  // A file system that gives the file object no SECTION_OBJECT_POINTERS
  // (devices, volumes, directories) cannot back a section.
  if (!section_pointers) return STATUS_INVALID_FILE_FOR_SECTION;
  if (!open) {
    k.modules().unimplemented_case("NtCreateSection", "a file of a file system other than kemu's volume");
    return STATUS_NOT_IMPLEMENTED;
  }
  fs::Vfs& vfs = k.fs().vfs();
  const fs::Node* node = vfs.node(open->node);
  if (!node || node->directory || open->volume) return STATUS_INVALID_FILE_FOR_SECTION;
  // The file object must have been opened for what the section does with it.
  if (writable(base) && !write_access) return STATUS_ACCESS_DENIED;
  if ((file_access_for(base) & kFileReadData) && !read_access) return STATUS_ACCESS_DENIED;
  uint64_t file_size = node->data.size();
  uint64_t wanted = maximum_size.value_or(0);
  if (wanted == 0) {
    if (file_size == 0) return STATUS_MAPPED_FILE_SIZE_ZERO;
    wanted = file_size;
  } else if (wanted > file_size) {
    // Only a writable section grows its file to the section's size.
    if (!writable(base)) return STATUS_SECTION_TOO_BIG;
    if (NtStatus st = vfs.set_size(open->node, wanted, now(k)); !nt_success(st)) return st;
  }
  *size = wanted;
  return file_store(k, open->node, wanted, data);
}

std::u16string name_of(Kernel& k, ob::ObjectId section) {
  const ob::ObjectRecord* r = k.ob().get(section);
  return r && !r->name.empty() ? k.ob().full_name(section) : std::u16string();
}

// The range a view will occupy: the caller's base (free) or a free one.
NtStatus place_view(Kernel& k, const ViewRequest& rq, bool system_space, GuestVa* base) {
  auto& mem = k.memory();
  if (rq.base) {
    for (uint64_t page = 0; page < rq.size; page += kPageSize)
      if (mem.find(rq.base + page)) return STATUS_CONFLICTING_ADDRESSES;
    *base = rq.base;
    return STATUS_SUCCESS;
  }
  GuestVa lo = system_space ? kSystemViewBase : kUserViewBase;
  GuestVa hi = system_space ? kSystemViewEnd : GuestVa{kemu::layout::kHighestUserAddress + 1};
  // Views start on the allocation granularity: room for the view plus one
  // granule, rounded up.
  auto free = mem.find_free(lo, hi, rq.size + kAllocationGranularity);
  if (!free) return STATUS_NO_MEMORY;
  *base = GuestVa{round_up(free->value, kAllocationGranularity)};
  return STATUS_SUCCESS;
}

NtStatus map_into(Kernel& k, ob::ObjectId section, uint32_t pid, bool system_space, ViewRequest& rq) {
  auto& st = state(k);
  auto it = st.sections.find(section);
  if (it == st.sections.end()) return STATUS_INVALID_PARAMETER;  // not a section kemu made
  SectionRecord& s = it->second;
  if (NtStatus status = check_view_arguments(rq); !nt_success(status)) return status;
  if (rq.protect & kPageGuard) {
    k.modules().unimplemented_case("MmMapViewOfSection", "PAGE_GUARD views");
    return STATUS_NOT_IMPLEMENTED;
  }
  if (rq.zero_bits) {
    k.modules().unimplemented_case("MmMapViewOfSection", "a nonzero ZeroBits (views below an address limit)");
    return STATUS_NOT_IMPLEMENTED;
  }
  const bool file_backed = s.data->file.has_value();
  const uint64_t section_bytes = round_up(s.size, kPageSize);
  uint32_t base_protect = base_protection(rq.protect, true);
  // MEM_RESERVE is for file-backed views (a pagefile-backed one: parameter 9).
  if (rq.allocation_type & kMemReserve) {
    if (!file_backed) return STATUS_INVALID_PARAMETER_9;
    if (rq.allocation_type & kMemLargePages) return STATUS_INVALID_PARAMETER;
  }
  // CommitSize: within the section; for a file-backed view only with MEM_RESERVE.
  if (rq.commit_size > section_bytes) return STATUS_INVALID_PARAMETER_5;
  if (file_backed && rq.commit_size && !(rq.allocation_type & kMemReserve)) return STATUS_INVALID_PARAMETER_5;
  // The view may not do more than the section allows (MmCompatibleProtectionMask).
  uint32_t section_base = base_protection(s.protect, false);
  if (!(compatible_views(section_base) & base_protect)) return STATUS_SECTION_PROTECTION;
  if ((rq.allocation_type & kMemReserve) && !writable(section_base)) return STATUS_SECTION_PROTECTION;
  if (rq.service) {
    // NtMapViewOfSection's own checks: the range in the user half, then the
    // alignments (a data section's offset is not rounded; a physical
    // section's is rounded down to its page and the size grows to match).
    if (!system_space && (rq.base.value > kemu::layout::kHighestUserAddress ||
                          rq.size > kemu::layout::kHighestUserAddress + 1 - rq.base.value))
      return STATUS_INVALID_PARAMETER_3;
    if (rq.base.value % kAllocationGranularity) return STATUS_MAPPED_ALIGNMENT;
    if (!s.data->physical && rq.offset % kAllocationGranularity) return STATUS_MAPPED_ALIGNMENT;
  }
  if (s.data->physical) {
    uint64_t delta = rq.offset % kPageSize;
    rq.offset -= delta;
    if (rq.size) rq.size += delta;
  }
  // The view lies inside the section; its size is whole pages.
  if (rq.offset >= section_bytes) return STATUS_INVALID_VIEW_SIZE;
  if (rq.size == 0) {
    rq.size = section_bytes - rq.offset;
  } else if (rq.size > section_bytes - rq.offset) {
    if (rq.allocation_type & kMemReserve) {
      k.modules().unimplemented_case("MmMapViewOfSection", "a MEM_RESERVE view beyond the end of its section");
      return STATUS_NOT_IMPLEMENTED;
    }
    return STATUS_INVALID_VIEW_SIZE;
  }
  rq.size = round_up(rq.size, kPageSize);
  GuestVa base;
  if (NtStatus status = place_view(k, rq, system_space, &base); !nt_success(status)) return status;

  auto& mem = k.memory();
  Prot prot = page_access(base_protect);
  auto kind = system_space ? emu::RegionKind::Scratch : emu::RegionKind::UserMemory;
  uint32_t owner = system_space ? emu::kKernelOwner : pid;
  std::u16string section_name = name_of(k, section);
  std::string label = section_name.empty()
                          ? std::string("view of a section")
                          : "view of " + std::string(section_name.begin(), section_name.end());
  View v;
  v.data = s.data;
  try {
    if (s.data->physical) {
      // Each page shows its physical frame (the same bytes as every other mapping of it).
      v.per_page = true;
      for (uint64_t i = 0; i < rq.size / kPageSize; ++i) {
        uint64_t page_offset = 0;
        const emu::Region* frame = page_for_frame(k, (rq.offset >> 12) + i, &page_offset);
        mem.map_alias(base + i * kPageSize, *frame, page_offset, kPageSize, prot, kind, label, owner);
      }
    } else if (base_protect == kPageWriteCopy || base_protect == kPageExecuteWriteCopy) {
      // Copy-on-write: the view's writes stay its own.
      v.private_copy = true;
      emu::Region& r = mem.map(base, rq.size, prot, kind, label + " (copy-on-write)", owner);
      std::memcpy(r.host, mem.host(s.data->store + rq.offset, rq.size), rq.size);
    } else {
      const emu::Region* store = mem.find(s.data->store);
      mem.map_alias(base, *store, rq.offset, rq.size, prot, kind, label, owner);
    }
  } catch (const emu::GuestMemoryExhausted&) {
    for (uint64_t page = 0; page < rq.size; page += kPageSize)
      if (const emu::Region* r = mem.find(base + page); r && r->base == base + page) mem.unmap(base + page);
    return STATUS_NO_MEMORY;
  }
  rq.base = base;
  v.record = {base, rq.size, owner, rq.offset, rq.protect, s.data->physical, file_backed, section_name};
  st.views.emplace(base.value, std::move(v));
  return STATUS_SUCCESS;
}

void drop_view(Kernel& k, std::map<uint64_t, View>::iterator it) {
  auto& mem = k.memory();
  View& v = it->second;
  if (v.per_page) {
    for (uint64_t page = 0; page < v.record.size; page += kPageSize) mem.unmap(v.record.base + page);
  } else {
    mem.unmap(v.record.base);
  }
  // A writable shared view's changes reach the file.
  if (!v.private_copy && writable(v.record.protect & 0xFF))
    write_back(k, *v.data, v.record.section_offset, v.record.size);
  release(k, v.data);
  state(k).views.erase(it);
}

}  // namespace

NtStatus check_view_arguments(const ViewRequest& rq) {
  if (rq.zero_bits > 21 && rq.zero_bits < 32) return STATUS_INVALID_PARAMETER_4;
  if (rq.inherit != kViewShare && rq.inherit != kViewUnmap) return STATUS_INVALID_PARAMETER_8;
  if ((rq.allocation_type & ~(kMemReserve | kMemTopDown | kMemLargePages | kMemDosLim)) ||
      (rq.allocation_type & kMemCommit))
    return STATUS_INVALID_PARAMETER_9;
  if (!base_protection(rq.protect, true)) return STATUS_INVALID_PAGE_PROTECTION;
  return STATUS_SUCCESS;
}

// MmMakeSectionAccess: the section rights a view protection needs (note that
// PAGE_READWRITE asks for SECTION_MAP_WRITE alone).
uint32_t section_access_for(uint32_t protect) {
  switch (protect & 0xFF) {
    case kPageExecute: return kSectionMapExecute;
    case kPageExecuteRead:
    case kPageExecuteWriteCopy: return kSectionMapExecute | kSectionMapRead;
    case kPageReadWrite: return kSectionMapWrite;
    case kPageExecuteReadWrite: return kSectionMapExecute | kSectionMapWrite;
    default: return kSectionMapRead;  // PAGE_NOACCESS, PAGE_READONLY, PAGE_WRITECOPY
  }
}

uint32_t section_protection(Kernel& k, ob::ObjectId section) {
  auto& sections = state(k).sections;
  auto it = sections.find(section);
  return it == sections.end() ? 0 : it->second.protect;
}

NtStatus create_section(Kernel& k, ProcessorMode mode, const ob::CapturedAttributes& attributes,
                        uint32_t desired_access, std::optional<uint64_t> maximum_size, uint32_t protect,
                        uint32_t allocation, uint64_t file_handle, uint64_t* handle, uint64_t* size) {
  *handle = 0;
  // 1. Allocation attributes: known bits, exactly one of SEC_COMMIT / SEC_RESERVE / SEC_IMAGE.
  constexpr uint32_t kKnown = kSecFile | kSecImage | kSecReserve | kSecCommit | kSecNoCache | kSecWriteCombine |
                              kSecLargePages | 0x400000 /* SEC_NO_CHANGE */ | 0x200000 /* SEC_BASED */ |
                              0x20000000 /* SEC_IMAGE_NO_EXECUTE with SEC_IMAGE */;
  if (allocation & ~kKnown) return STATUS_INVALID_PARAMETER_6;
  uint32_t kinds = allocation & (kSecCommit | kSecReserve | kSecImage);
  if (kinds == 0 || (kinds & (kinds - 1))) return STATUS_INVALID_PARAMETER_6;
  // 2. The page protection.
  uint32_t base = base_protection(protect, false);
  if (!base) return STATUS_INVALID_PAGE_PROTECTION;
  if (kinds == kSecImage) {
    k.modules().unimplemented_case("NtCreateSection", "SEC_IMAGE (image sections)");
    return STATUS_NOT_IMPLEMENTED;
  }
  if (allocation & (0x400000 | 0x200000 | kSecLargePages)) {
    k.modules().unimplemented_case("NtCreateSection", "SEC_NO_CHANGE, SEC_BASED or SEC_LARGE_PAGES");
    return STATUS_NOT_IMPLEMENTED;
  }
  DataRef data;
  uint64_t total = 0;
  if (!file_handle) {
    // 3. A pagefile-backed section needs its size.
    if (!maximum_size || *maximum_size == 0) return STATUS_INVALID_PARAMETER_4;
    if (kinds == kSecReserve) {
      k.modules().unimplemented_case("NtCreateSection", "SEC_RESERVE pagefile-backed sections (pages committed later)");
      return STATUS_NOT_IMPLEMENTED;
    }
    total = *maximum_size;
    if (total > k.memory().cap_bytes()) return STATUS_SECTION_TOO_BIG;
    if (NtStatus st = make_store(k, round_up(total, kPageSize), "pagefile-backed section", &data);
        !nt_success(st))
      return st;
  } else {
    if (NtStatus st = file_section(k, mode, file_handle, base, maximum_size, &data, &total);
        !nt_success(st))
      return st;
  }
  // 4. The object, named or not; the handle.
  std::optional<std::u16string> path;
  if (attributes.name && !attributes.name->empty()) {
    std::u16string absolute;
    if (NtStatus st = ob::absolute_name(k, mode, attributes, &absolute); !nt_success(st)) {
      release(k, data);
      return st;
    }
    path = std::move(absolute);
  }
  ob::ObjectId id = k.ob().create(ob::TypeIndex::Section, kSectionBodySize);
  state(k).sections[id] = {data, total, protect, allocation};
  ob::ObjectId opened = ob::kNoObject;
  NtStatus st = k.ob().insert_and_open(id, path, attributes.attributes, desired_access, mode, handle, &opened);
  // OBJ_OPENIF opened an existing section (the new one was dropped); its size is the existing one's.
  if (nt_success(st) && opened != id) {
    if (auto existing = section_size(k, opened)) total = *existing;
  }
  *size = total;
  return st;
}

std::optional<uint64_t> section_size(Kernel& k, ob::ObjectId section) {
  auto& sections = state(k).sections;
  auto it = sections.find(section);
  if (it == sections.end()) return std::nullopt;
  return it->second.size;
}

NtStatus map_view(Kernel& k, ob::ObjectId section, uint32_t pid, ViewRequest& request) {
  return map_into(k, section, pid, false, request);
}

NtStatus map_view_in_system_space(Kernel& k, ob::ObjectId section, ViewRequest& request) {
  request.base = GuestVa{};
  request.service = false;
  return map_into(k, section, emu::kKernelOwner, true, request);
}

NtStatus unmap_view(Kernel& k, uint32_t pid, GuestVa address) {
  auto& views = state(k).views;
  // Any address inside the view names it.
  auto it = views.upper_bound(address.value);
  if (it == views.begin()) return STATUS_NOT_MAPPED_VIEW;
  --it;
  const ViewRecord& v = it->second.record;
  if (v.pid != pid || address.value >= v.base.value + v.size) return STATUS_NOT_MAPPED_VIEW;
  drop_view(k, it);
  return STATUS_SUCCESS;
}

void unmap_process_views(Kernel& k, uint32_t pid) {
  auto& views = state(k).views;
  for (auto it = views.begin(); it != views.end();) {
    auto next = std::next(it);
    if (it->second.record.pid == pid) drop_view(k, it);
    it = next;
  }
}

void initialize_sections(Kernel& k) {
  auto& st = state(k);
  // The Section type's delete procedure (MiSectionDelete): the section's
  // hold on its pages goes; views keep them until they are unmapped.
  k.ob().set_delete_procedure(ob::TypeIndex::Section, [&k](ob::ObjectId id) {
    auto& sections = state(k).sections;
    auto it = sections.find(id);
    if (it == sections.end()) return;
    release(k, it->second.data);
    sections.erase(it);
  });
  ob::ObjectId id = k.ob().create(ob::TypeIndex::Section, kSectionBodySize);
  auto data = std::make_shared<SectionData>();
  data->physical = true;
  data->bytes = kPhysicalSectionSize;
  st.sections[id] = {data, kPhysicalSectionSize, kPageReadWrite, kSecCommit};
  // Only kernel mode may open it: user-mode access to \Device\PhysicalMemory
  // was withdrawn in Windows Server 2003 SP1 (the object is kernel-only and its
  // DACL names SYSTEM alone); kernel-mode opens are not checked.
  se::SecurityDescriptor sd;
  sd.owner = se::sids::local_system();
  sd.group = se::sids::local_system();
  sd.dacl = se::make_acl({{se::kAccessAllowedAce, 0, kSectionAllAccess, se::sids::local_system()}});
  sd.control |= se::kSeDaclPresent;
  k.ob().set_security(id, sd);
  k.ob().get(id)->kernel_only = true;  // OBJ_KERNEL_EXCLUSIVE: no UserMode open at all
  if (NtStatus status = k.ob().insert(id, u"\\Device\\PhysicalMemory", true); nt_success(status))
    st.physical_memory = id;
}

void sync_file_from_views(Kernel& k, uint64_t file_node) {
  auto& known = state(k).file_data;
  auto it = known.find(file_node);
  if (it == known.end()) return;
  if (DataRef live = it->second.lock()) write_back(k, *live, 0, live->bytes);
}

void sync_views_from_file(Kernel& k, uint64_t file_node, uint64_t offset, uint64_t length) {
  auto& known = state(k).file_data;
  auto it = known.find(file_node);
  if (it == known.end()) return;
  DataRef live = it->second.lock();
  if (!live || offset >= live->bytes) return;
  length = std::min(length, live->bytes - offset);
  std::vector<uint8_t> bytes;
  (void)k.fs().vfs().read(file_node, offset, length, &bytes);
  if (!bytes.empty()) k.memory().write(live->store + offset, bytes.data(), bytes.size());
}

std::vector<ViewRecord> views(Kernel& k) {
  std::vector<ViewRecord> out;
  for (const auto& [base, v] : state(k).views) out.push_back(v.record);
  return out;
}

}  // namespace kemu::nt::mm
