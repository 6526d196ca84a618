// Section objects (mm/sections.cpp): pagefile-backed and file-backed data
// sections, \Device\PhysicalMemory, and the views the memory manager maps of
// them — into a process's user half (ZwMapViewOfSection, MmMapViewOfSection)
// or into system space (MmMapViewInSystemSpace). A section's pages are one
// set of host pages; every view is a second guest mapping of those pages, so
// a write through any view is seen through every other (and, for a file, by
// the file once the view is unmapped or the last section and view are gone).
//
// The view records stay queryable for the verifier (who mapped what, where,
// with which protection, on behalf of which process).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "emulator/ntstatus.h"
#include "emulator/types.h"
#include "ntoskrnl-stubs/mm/virtual_memory.h"  // PAGE_*, MEM_*, the allocation granularity
#include "ntoskrnl-stubs/ob/handle_table.h"

namespace kemu::nt {
class Kernel;
class Registry;
void register_section_exports(Registry& r);  // mm/section_exports.cpp
}  // namespace kemu::nt

namespace kemu::nt::ob {
struct CapturedAttributes;
}

namespace kemu::nt::mm {

// SECTION_* access rights (wdm.h).
constexpr uint32_t kSectionQuery = 0x1;
constexpr uint32_t kSectionMapWrite = 0x2;
constexpr uint32_t kSectionMapRead = 0x4;
constexpr uint32_t kSectionMapExecute = 0x8;
constexpr uint32_t kSectionExtendSize = 0x10;
constexpr uint32_t kSectionAllAccess = 0xF001F;

// SEC_* allocation attributes.
constexpr uint32_t kSecFile = 0x800000;
constexpr uint32_t kSecImage = 0x1000000;
constexpr uint32_t kSecReserve = 0x4000000;
constexpr uint32_t kSecCommit = 0x8000000;
constexpr uint32_t kSecNoCache = 0x10000000;
constexpr uint32_t kSecWriteCombine = 0x40000000;
constexpr uint32_t kSecLargePages = 0x80000000;

// SECTION_INHERIT.
constexpr uint32_t kViewShare = 1, kViewUnmap = 2;

// Where kemu places views when the caller lets it choose.
constexpr GuestVa kUserViewBase{0x0000'01F0'0000'0000ull};
constexpr GuestVa kSystemViewBase{0xFFFF'B400'0000'0000ull};
constexpr GuestVa kSystemViewEnd{0xFFFF'B480'0000'0000ull};

// NtCreateSection after the caller's arguments are captured. `file_handle`
// 0 is a pagefile-backed section (maximum_size required); otherwise the
// file's data (maximum_size 0 or absent: the file's size). `mode` is the
// previous mode the file handle is referenced with. *size is the section's
// size (what NtCreateSection writes back to MaximumSize).
NtStatus create_section(Kernel& k, ProcessorMode mode, const ob::CapturedAttributes& attributes,
                        uint32_t desired_access, std::optional<uint64_t> maximum_size, uint32_t protect,
                        uint32_t allocation, uint64_t file_handle, uint64_t* handle, uint64_t* size);

// One view request (NtMapViewOfSection's in/out arguments, captured).
struct ViewRequest {
  GuestVa base;            // in: wanted base (0: kemu chooses); out: the view's base
  uint64_t zero_bits = 0;
  uint64_t offset = 0;     // in/out: rounded down to the allocation granularity
  uint64_t size = 0;       // in/out: 0 = to the end of the section; out: whole pages
  uint32_t inherit = kViewShare;
  uint32_t allocation_type = 0;
  uint32_t protect = kPageReadWrite;
  uint64_t commit_size = 0;
  // NtMapViewOfSection's own checks apply (MmMapViewOfSection skips them):
  // the range in the user half, a 64 KiB aligned base and data-section offset.
  bool service = false;
};

// The checks NtMapViewOfSection makes before touching any handle: ZeroBits,
// SECTION_INHERIT, AllocationType, the page protection.
NtStatus check_view_arguments(const ViewRequest& request);
// MmMakeSectionAccess: the SECTION_MAP_* rights a view protection needs.
uint32_t section_access_for(uint32_t protect);
// The page protection a section was created with (0: not a section).
uint32_t section_protection(Kernel& k, ob::ObjectId section);

// The section-object side of a map (what MmMapViewOfSection does for a
// section object and a process): validation, the view, its record.
NtStatus map_view(Kernel& k, ob::ObjectId section, uint32_t pid, ViewRequest& request);
// MmMapViewInSystemSpace(Ex): a view at a system address (offset, size as above).
NtStatus map_view_in_system_space(Kernel& k, ob::ObjectId section, ViewRequest& request);
// Unmaps the view of process `pid` (kKernelOwner: system space) containing
// `address`. STATUS_NOT_MAPPED_VIEW when there is none.
NtStatus unmap_view(Kernel& k, uint32_t pid, GuestVa address);
// A process ends: its views go.
void unmap_process_views(Kernel& k, uint32_t pid);

// Kernel start-up: the Section type's delete procedure and the permanent
// \Device\PhysicalMemory section.
void initialize_sections(Kernel& k);

// The file system's cached reads and writes and the views of a file's data
// section are one cache on Windows: before a read the views' bytes reach the
// file, after a write the file's bytes reach the views (no-ops when the file
// has no live data section).
void sync_file_from_views(Kernel& k, uint64_t file_node);
void sync_views_from_file(Kernel& k, uint64_t file_node, uint64_t offset, uint64_t length);

// A mapped view, as the verifier and tests see it.
struct ViewRecord {
  GuestVa base;
  uint64_t size = 0;
  uint32_t pid = 0;               // kKernelOwner (0): a system-space view
  uint64_t section_offset = 0;
  uint32_t protect = 0;
  bool physical = false;          // a view of \Device\PhysicalMemory
  bool file_backed = false;
  std::u16string section_name;    // empty for an unnamed section
};
std::vector<ViewRecord> views(Kernel& k);

// The section's size in bytes (nullopt: not a section object kemu made).
std::optional<uint64_t> section_size(Kernel& k, ob::ObjectId section);

}  // namespace kemu::nt::mm
