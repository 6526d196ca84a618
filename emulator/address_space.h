// The guest address space: a table of page-aligned regions, each with an owner,
// a kind and per-page protections, backed by host memory kemu owns. An alias
// region (map_alias) is a second guest mapping of another region's host bytes,
// as when the kernel maps locked pages again at a system address. When a
// Unicorn engine is attached, every map/unmap/protect is mirrored into it with
// uc_mem_map_ptr, so the CPU and kemu's handlers see the same bytes.
//
// Without an engine the same class is the in-memory backend that unit tests of
// the object manager, loader and handle tables use (no CPU needed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "emulator/types.h"

struct uc_struct;

namespace kemu::emu {

enum class RegionKind : uint8_t {
  DriverImage,     // a loaded .sys
  KernelImage,     // kemu's synthesized ntoskrnl.exe / hal.dll
  Pool,            // kernel pool arena
  Stack,           // a thread's kernel stack
  ProcessorBlock,  // KPCR / KPRCB
  SharedData,      // KUSER_SHARED_DATA (kernel and user alias)
  KernelObjects,   // EPROCESS / ETHREAD and other structures kemu lays out
  UserMemory,      // memory of a user process
  Scratch,         // kemu-owned scratch pages (e.g. "kernel" buffer placements)
};
const char* to_string(RegionKind k);

// Owner id of regions that belong to no process (the kernel half).
constexpr uint32_t kKernelOwner = 0;

struct Region {
  GuestVa base;
  uint64_t size = 0;
  RegionKind kind = RegionKind::Scratch;
  uint32_t owner = kKernelOwner;  // process id for user memory
  std::string name;
  std::vector<Prot> page_prot;  // one entry per page
  // User memory of a process that is not current: mapped for kemu, but no
  // guest access reaches it (the user half switches with the process).
  bool hidden = false;
  // What the engine (Unicorn) currently has for this region: hiding and
  // showing reach it only when guest code next runs (sync_engine), so a
  // process switch the guest never sees costs no engine remap.
  bool engine_hidden = false;
  uint8_t* host = nullptr;      // size bytes, page aligned
  // The host memory, shared by a region and its aliases: the bytes stay valid
  // until the last guest mapping of them is gone.
  std::shared_ptr<uint8_t> backing;
  // For an alias: where its first byte was mapped in the source region when
  // the alias was made (the "same page" two mappings share).
  std::optional<GuestVa> alias_of;

  GuestVa end() const { return base + size; }
  bool contains(GuestVa va) const { return va >= base && va < end(); }
  Prot prot_at(GuestVa va) const { return page_prot[(va - base) / kPageSize]; }
};

// Host-side error raised by typed reads/writes of guest memory that is not
// mapped. Handlers never let it escape to the user: the API bridge turns it
// into what Windows would do (an exception raised into the driver or a
// bugcheck).
struct GuestAccessError : std::runtime_error {
  GuestVa address;
  bool write;
  GuestAccessError(GuestVa va, bool is_write);
};

// Raised when a map would exceed the configured guest memory cap.
struct GuestMemoryExhausted : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class AddressSpace {
 public:
  // cap_bytes limits the sum of all mapped regions (the host is never at risk).
  explicit AddressSpace(uint64_t cap_bytes = 2ull << 30);
  ~AddressSpace();
  AddressSpace(const AddressSpace&) = delete;
  AddressSpace& operator=(const AddressSpace&) = delete;

  // Mirrors every existing and future region into this Unicorn engine.
  void attach(uc_struct* uc);

  // Maps [base, base+size) (page aligned, not overlapping) zero-filled.
  Region& map(GuestVa base, uint64_t size, Prot prot, RegionKind kind, std::string name,
              uint32_t owner = kKernelOwner);
  // Maps [base, base+size) over the host bytes of `source` from `offset` on:
  // both mappings show the same bytes, a write through either is seen through
  // the other. The alias never frees those bytes (they live as long as any
  // mapping of them). offset and size are whole pages inside source.
  // `owner` is the process of a user-half alias (a section view), else kKernelOwner.
  Region& map_alias(GuestVa base, const Region& source, uint64_t offset, uint64_t size, Prot prot,
                    RegionKind kind, std::string name, uint32_t owner = kKernelOwner);
  void unmap(GuestVa base);
  // Unmaps whole pages [base, base+size) of one region: the region shrinks,
  // or splits in two around the hole (both parts keep their bytes, frames,
  // owner and visibility), as when part of an allocation is released.
  void unmap_pages(GuestVa base, uint64_t size);
  // Gives pages of one region back as zero-filled (their next read shows
  // zeros; the host memory is returned), as when memory is decommitted.
  void discard_pages(GuestVa base, uint64_t size);
  // Shows or hides the user memory of process `owner` (RegionKind::UserMemory):
  // the user half belongs to the current process only. kemu's own view
  // changes at once; the engine's at the next sync_engine(). User memory
  // mapped later for a process other than the visible one starts hidden.
  void set_owner_visible(uint32_t owner, bool visible);
  // Brings the engine's protections in line with the regions' visibility;
  // called before guest code runs (a no-op when nothing changed).
  void sync_engine() {
    if (!engine_pending_.empty()) apply_engine_visibility();
  }
  // Changes the protection of whole pages inside one region.
  void protect(GuestVa base, uint64_t size, Prot prot);

  const Region* find(GuestVa va) const;
  Region* find(GuestVa va);
  bool is_mapped(GuestVa va) const { return find(va) != nullptr; }
  // True when every byte of [va, va+size) is mapped with at least `need`.
  bool accessible(GuestVa va, uint64_t size, Prot need) const;
  // Lowest free, page-aligned range of `size` bytes in [lo, hi).
  std::optional<GuestVa> find_free(GuestVa lo, GuestVa hi, uint64_t size) const;

  // Host view of guest bytes. These ignore page protections (they are how the
  // kernel itself sees memory) and return false if any byte is unmapped.
  bool read(GuestVa va, void* out, size_t size) const;
  bool write(GuestVa va, const void* in, size_t size);
  // Host pointer to size bytes at va if they lie in one region, else nullptr.
  uint8_t* host(GuestVa va, size_t size);
  const uint8_t* host(GuestVa va, size_t size) const;

  template <class T>
  T read(GuestVa va) const {
    T value;
    if (!read(va, &value, sizeof(T))) throw GuestAccessError(va, false);
    return value;
  }
  template <class T>
  std::optional<T> try_read(GuestVa va) const {
    T value;
    if (!read(va, &value, sizeof(T))) return std::nullopt;
    return value;
  }
  template <class T>
  void write(GuestVa va, const T& value) {
    if (!write(va, &value, sizeof(T))) throw GuestAccessError(va, true);
  }

  // NUL-terminated strings (bounded); throw GuestAccessError when unmapped.
  std::string read_cstring(GuestVa va, size_t max_chars = 4096) const;
  std::u16string read_wstring(GuestVa va, size_t max_chars = 4096) const;

  const std::map<uint64_t, Region>& regions() const { return regions_; }

  // --- physical memory (kemu's model) ---------------------------------------
  // A page's physical frame number is given the first time it is asked for,
  // per host page: a region and its aliases share frames, so two mappings of
  // one page have one physical address. Frames are handed out in order from
  // the machine's RAM ranges (kRamRanges), deterministically. nullopt for an
  // unmapped address.
  std::optional<uint64_t> frame_of(GuestVa va) const;
  // A mapped page showing frame `pfn` (the lowest such address), if any.
  std::optional<GuestVa> page_of_frame(uint64_t pfn) const;
  // Binds a page that has no frame yet to `pfn` (a page kemu materialises for
  // a physical address nothing used before).
  void bind_frame(GuestVa page, uint64_t pfn);
  // Whether `pfn` lies in RAM (else it is in a device (MMIO) hole).
  static bool is_ram_frame(uint64_t pfn);
  uint64_t mapped_bytes() const { return mapped_bytes_; }
  uint64_t cap_bytes() const { return cap_bytes_; }

 private:
  void mirror_map(const Region& r);
  void apply_engine_visibility();
  void note_visibility(const Region& r);
  void mirror_protect(const Region& r, uint64_t first_page, uint64_t pages);
  // Throws unless [base, base+size) is page aligned, free and within the cap.
  void check_free(GuestVa base, uint64_t size, const std::string& name) const;
  // Adds a prepared region and mirrors it into the engine.
  Region& insert(Region r);

  std::map<uint64_t, Region> regions_;  // keyed by base
  uint64_t mapped_bytes_ = 0;
  uint64_t cap_bytes_;
  uc_struct* uc_ = nullptr;
  mutable const Region* last_hit_ = nullptr;
  std::set<uint64_t> engine_pending_;  // bases of regions whose engine visibility lags
  std::set<uint64_t> user_regions_;    // bases of RegionKind::UserMemory regions (process switches)
  std::optional<uint32_t> visible_owner_;  // whose user half is shown (unknown before the first switch)
  // Frames by host page, and host pages by frame (weak: a page whose last
  // mapping went gives its frame a new owner when asked again).
  struct FrameOwner {
    std::weak_ptr<uint8_t> backing;
    uint64_t offset = 0;  // page offset inside the backing
  };
  mutable std::map<const uint8_t*, uint64_t> frame_by_host_page_;
  mutable std::map<uint64_t, FrameOwner> owner_by_frame_;
  mutable uint64_t next_frame_ = 0;
};

// The machine's RAM as MmGetPhysicalMemoryRanges reports it: [base, base+size)
// physical byte ranges, below and above the PCI hole at 3-4 GiB.
struct PhysicalRange {
  uint64_t base;
  uint64_t size;
};
inline constexpr PhysicalRange kRamRanges[] = {
    {0x1000, 0x9E000},            // conventional memory below the legacy hole
    {0x100000, 0xBFF00000},       // 1 MiB .. 3 GiB
    {0x100000000, 0x40000000},    // 4 GiB .. 5 GiB
};

}  // namespace kemu::emu
