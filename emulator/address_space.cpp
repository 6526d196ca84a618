#include "emulator/address_space.h"

#include <sys/mman.h>
#include <unicorn/unicorn.h>

#include <cstring>

#include <fmt/format.h>

namespace kemu {

std::string GuestVa::hex() const { return fmt::format("{:#x}", value); }

const char* to_string(ProcessorMode m) {
  return m == ProcessorMode::KernelMode ? "KernelMode" : "UserMode";
}

}  // namespace kemu

namespace kemu::emu {

const char* to_string(RegionKind k) {
  switch (k) {
    case RegionKind::DriverImage: return "driver-image";
    case RegionKind::KernelImage: return "kernel-image";
    case RegionKind::Pool: return "pool";
    case RegionKind::Stack: return "stack";
    case RegionKind::ProcessorBlock: return "processor-block";
    case RegionKind::SharedData: return "shared-data";
    case RegionKind::KernelObjects: return "kernel-objects";
    case RegionKind::UserMemory: return "user-memory";
    case RegionKind::Scratch: return "scratch";
  }
  return "?";
}

GuestAccessError::GuestAccessError(GuestVa va, bool is_write)
    : std::runtime_error(fmt::format("guest {} of unmapped address {:#x}",
                                     is_write ? "write" : "read", va.value)),
      address(va),
      write(is_write) {}

namespace {

uint32_t uc_perms(Prot p) {
  uint32_t perms = UC_PROT_NONE;
  if (has(p, Prot::Read)) perms |= UC_PROT_READ;
  if (has(p, Prot::Write)) perms |= UC_PROT_WRITE;
  if (has(p, Prot::Exec)) perms |= UC_PROT_EXEC;
  return perms;
}

// Calls fn(first_page, page_count, prot) for each run of pages with equal protection.
template <class Fn>
void for_each_run(const Region& r, Fn fn) {
  size_t pages = r.page_prot.size();
  size_t start = 0;
  for (size_t i = 1; i <= pages; ++i) {
    if (i == pages || r.page_prot[i] != r.page_prot[start]) {
      fn(start, i - start, r.page_prot[start]);
      start = i;
    }
  }
}

void check_uc(uc_err err, const char* what, uint64_t va) {
  if (err != UC_ERR_OK)
    throw std::runtime_error(fmt::format("unicorn {} at {:#x}: {}", what, va, uc_strerror(err)));
}

}  // namespace

AddressSpace::AddressSpace(uint64_t cap_bytes) : cap_bytes_(cap_bytes) {}

// Host memory is released by the last Region holding its `backing`.
AddressSpace::~AddressSpace() = default;

void AddressSpace::attach(uc_struct* uc) {
  uc_ = uc;
  for (auto& [base, r] : regions_) {
    mirror_map(r);
    note_visibility(r);
  }
}

void AddressSpace::mirror_map(const Region& r) {
  if (!uc_) return;
  for_each_run(r, [&](size_t first, size_t count, Prot p) {
    uint64_t va = r.base.value + first * kPageSize;
    check_uc(uc_mem_map_ptr(uc_, va, count * kPageSize, uc_perms(p), r.host + first * kPageSize),
             "map", va);
  });
}

void AddressSpace::check_free(GuestVa base, uint64_t size, const std::string& name) const {
  if (size == 0 || base.value % kPageSize || size % kPageSize)
    throw std::invalid_argument(fmt::format("map of {} at {:#x}+{:#x}: not page aligned", name,
                                            base.value, size));
  if (base.value + size < base.value) throw std::invalid_argument("map range wraps");
  // Overlap: the region starting at or before base, and the next one.
  auto next = regions_.lower_bound(base.value);
  if (next != regions_.end() && next->first < base.value + size)
    throw std::invalid_argument(fmt::format("map of {} at {:#x} overlaps {}", name, base.value,
                                            next->second.name));
  if (next != regions_.begin()) {
    auto prev = std::prev(next);
    if (prev->second.end().value > base.value)
      throw std::invalid_argument(fmt::format("map of {} at {:#x} overlaps {}", name, base.value,
                                              prev->second.name));
  }
  if (mapped_bytes_ + size > cap_bytes_)
    throw GuestMemoryExhausted(fmt::format("guest memory cap of {} MiB reached mapping {}",
                                           cap_bytes_ >> 20, name));
}

Region& AddressSpace::insert(Region r) {
  uint64_t size = r.size;
  auto [it, inserted] = regions_.emplace(r.base.value, std::move(r));
  mapped_bytes_ += size;
  Region& added = it->second;
  if (added.kind == RegionKind::UserMemory) {
    user_regions_.insert(it->first);
    // Another process's user half is not reachable from the current one.
    if (added.owner != kKernelOwner && visible_owner_ && added.owner != *visible_owner_) added.hidden = true;
  }
  last_hit_ = nullptr;
  try {
    mirror_map(added);
    note_visibility(added);
  } catch (...) {
    mapped_bytes_ -= size;
    user_regions_.erase(it->first);
    regions_.erase(it);
    throw;
  }
  return it->second;
}

Region& AddressSpace::map(GuestVa base, uint64_t size, Prot prot, RegionKind kind,
                          std::string name, uint32_t owner) {
  check_free(base, size, name);
  void* mem = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
  if (mem == MAP_FAILED) throw GuestMemoryExhausted("host mmap failed for " + name);

  Region r;
  r.base = base;
  r.size = size;
  r.kind = kind;
  r.owner = owner;
  r.name = std::move(name);
  r.page_prot.assign(size / kPageSize, prot);
  r.host = static_cast<uint8_t*>(mem);
  r.backing = std::shared_ptr<uint8_t>(r.host, [size](uint8_t* p) { munmap(p, size); });
  return insert(std::move(r));
}

Region& AddressSpace::map_alias(GuestVa base, const Region& source, uint64_t offset, uint64_t size,
                                Prot prot, RegionKind kind, std::string name, uint32_t owner) {
  if (offset % kPageSize || offset > source.size || size > source.size - offset)
    throw std::invalid_argument(fmt::format("alias {} of {}+{:#x}+{:#x}: not whole pages of the source",
                                            name, source.name, offset, size));
  check_free(base, size, name);
  Region r;
  r.base = base;
  r.size = size;
  r.kind = kind;
  r.owner = owner;
  r.name = std::move(name);
  r.page_prot.assign(size / kPageSize, prot);
  r.host = source.host + offset;
  r.backing = source.backing;  // shared: unmapping either side leaves the bytes to the other
  r.alias_of = source.alias_of.value_or(source.base) + offset;
  return insert(std::move(r));
}

void AddressSpace::unmap(GuestVa base) {
  auto it = regions_.find(base.value);
  if (it == regions_.end())
    throw std::invalid_argument(fmt::format("unmap of {:#x}: no region starts there", base.value));
  if (uc_) check_uc(uc_mem_unmap(uc_, base.value, it->second.size), "unmap", base.value);
  engine_pending_.erase(base.value);
  user_regions_.erase(base.value);
  mapped_bytes_ -= it->second.size;  // the host bytes go with the last holder of `backing`
  regions_.erase(it);
  last_hit_ = nullptr;
}

void AddressSpace::unmap_pages(GuestVa base, uint64_t size) {
  Region* found = find(base);
  if (!found || base.value % kPageSize || size % kPageSize || size == 0 || size > found->end() - base)
    throw std::invalid_argument(fmt::format("unmap_pages {:#x}+{:#x}: not whole pages of one region",
                                            base.value, size));
  if (base == found->base && size == found->size) {
    unmap(base);
    return;
  }
  Region whole = std::move(regions_.extract(found->base.value).mapped());
  last_hit_ = nullptr;
  engine_pending_.erase(whole.base.value);
  user_regions_.erase(whole.base.value);
  mapped_bytes_ -= whole.size;
  if (uc_) check_uc(uc_mem_unmap(uc_, whole.base.value, whole.size), "unmap", whole.base.value);
  // The parts left on either side of the hole: same host bytes, owner, kind.
  auto part = [&](GuestVa from, GuestVa to) {
    Region r = whole;
    uint64_t offset = from - whole.base;
    r.base = from;
    r.size = to - from;
    r.host = whole.host + offset;
    r.page_prot.assign(whole.page_prot.begin() + offset / kPageSize,
                       whole.page_prot.begin() + (offset + r.size) / kPageSize);
    if (whole.alias_of) r.alias_of = *whole.alias_of + offset;
    r.engine_hidden = false;  // mirrored shown; hidden again at the next sync
    Region& inserted = insert(std::move(r));
    note_visibility(inserted);
  };
  if (base > whole.base) part(whole.base, base);
  if (base + size < whole.end()) part(base + size, whole.end());
}

void AddressSpace::discard_pages(GuestVa base, uint64_t size) {
  Region* r = find(base);
  if (!r || base.value % kPageSize || size % kPageSize || size > r->end() - base)
    throw std::invalid_argument(fmt::format("discard_pages {:#x}+{:#x}: not whole pages of one region",
                                            base.value, size));
  if (size == 0) return;
  // Anonymous private host pages read back as zeros after MADV_DONTNEED.
  uint8_t* host = r->host + (base - r->base);
  if (madvise(host, size, MADV_DONTNEED) != 0) std::memset(host, 0, size);
}

void AddressSpace::protect(GuestVa base, uint64_t size, Prot prot) {
  Region* r = find(base);
  if (!r || base.value % kPageSize || size % kPageSize || base.value + size > r->end().value)
    throw std::invalid_argument(fmt::format("protect {:#x}+{:#x}: not whole pages of one region",
                                            base.value, size));
  uint64_t first = (base - r->base) / kPageSize;
  uint64_t pages = size / kPageSize;
  for (uint64_t i = 0; i < pages; ++i) r->page_prot[first + i] = prot;
  mirror_protect(*r, first, pages);
}

void AddressSpace::set_owner_visible(uint32_t owner, bool visible) {
  if (owner == kKernelOwner) return;
  if (visible) visible_owner_ = owner;
  else if (visible_owner_ == owner) visible_owner_.reset();
  for (uint64_t base : user_regions_) {
    Region& r = regions_.at(base);
    if (r.owner != owner || r.hidden == !visible) continue;
    r.hidden = !visible;
    note_visibility(r);
  }
}

void AddressSpace::note_visibility(const Region& r) {
  if (!uc_) return;
  if (r.hidden != r.engine_hidden) engine_pending_.insert(r.base.value);
  else engine_pending_.erase(r.base.value);
}

void AddressSpace::apply_engine_visibility() {
  for (uint64_t base : engine_pending_) {
    auto it = regions_.find(base);
    if (it == regions_.end()) continue;
    Region& r = it->second;
    if (r.hidden == r.engine_hidden) continue;
    if (r.hidden) {
      check_uc(uc_mem_protect(uc_, r.base.value, r.size, UC_PROT_NONE), "hide", r.base.value);
    } else {
      for_each_run(r, [&](size_t first, size_t count, Prot p) {
        uint64_t va = r.base.value + first * kPageSize;
        check_uc(uc_mem_protect(uc_, va, count * kPageSize, uc_perms(p)), "show", va);
      });
    }
    r.engine_hidden = r.hidden;
  }
  engine_pending_.clear();
}

void AddressSpace::mirror_protect(const Region& r, uint64_t first_page, uint64_t pages) {
  // A region the engine has hidden gets its protections when it is shown.
  if (!uc_ || r.engine_hidden) return;
  // The pages were mapped with uc_mem_map_ptr; uc_mem_protect splits such
  // mappings correctly in Unicorn 2 (pinned by tests/unit/emulator).
  uint64_t va = r.base.value + first_page * kPageSize;
  check_uc(uc_mem_protect(uc_, va, pages * kPageSize, uc_perms(r.page_prot[first_page])), "protect",
           va);
}

const Region* AddressSpace::find(GuestVa va) const {
  if (last_hit_ && last_hit_->contains(va)) return last_hit_;
  auto it = regions_.upper_bound(va.value);
  if (it == regions_.begin()) return nullptr;
  --it;
  if (!it->second.contains(va)) return nullptr;
  last_hit_ = &it->second;
  return last_hit_;
}

Region* AddressSpace::find(GuestVa va) {
  return const_cast<Region*>(static_cast<const AddressSpace*>(this)->find(va));
}

bool AddressSpace::accessible(GuestVa va, uint64_t size, Prot need) const {
  if (size == 0) return true;
  if (va.value + size < va.value) return false;
  uint64_t page = page_down(va.value);
  uint64_t last = va.value + size - 1;
  while (page <= last) {
    const Region* r = find(GuestVa{page});
    if (!r || r->hidden || !has(r->prot_at(GuestVa{page}), need)) return false;
    if (page + kPageSize < page) break;
    page += kPageSize;
  }
  return true;
}

std::optional<GuestVa> AddressSpace::find_free(GuestVa lo, GuestVa hi, uint64_t size) const {
  uint64_t cursor = page_up(lo.value);
  auto it = regions_.upper_bound(cursor);
  if (it != regions_.begin()) {
    auto prev = std::prev(it);
    if (prev->second.end().value > cursor) cursor = prev->second.end().value;
  }
  for (; it != regions_.end() && it->first < hi.value; ++it) {
    if (it->first >= cursor + size) break;
    cursor = std::max(cursor, it->second.end().value);
  }
  if (cursor + size > hi.value || cursor + size < cursor) return std::nullopt;
  return GuestVa{cursor};
}

bool AddressSpace::read(GuestVa va, void* out, size_t size) const {
  auto* dst = static_cast<uint8_t*>(out);
  while (size > 0) {
    const Region* r = find(va);
    if (!r) return false;
    uint64_t off = va - r->base;
    size_t chunk = static_cast<size_t>(std::min<uint64_t>(size, r->size - off));
    std::memcpy(dst, r->host + off, chunk);
    dst += chunk;
    size -= chunk;
    va += chunk;
  }
  return true;
}

bool AddressSpace::write(GuestVa va, const void* in, size_t size) {
  // Validate first so a failed write changes nothing.
  {
    GuestVa probe = va;
    size_t left = size;
    while (left > 0) {
      const Region* r = find(probe);
      if (!r) return false;
      size_t chunk = static_cast<size_t>(std::min<uint64_t>(left, r->size - (probe - r->base)));
      left -= chunk;
      probe += chunk;
    }
  }
  auto* src = static_cast<const uint8_t*>(in);
  while (size > 0) {
    Region* r = find(va);
    uint64_t off = va - r->base;
    size_t chunk = static_cast<size_t>(std::min<uint64_t>(size, r->size - off));
    std::memcpy(r->host + off, src, chunk);
    src += chunk;
    size -= chunk;
    va += chunk;
  }
  return true;
}

uint8_t* AddressSpace::host(GuestVa va, size_t size) {
  Region* r = find(va);
  if (!r || size > r->size - (va - r->base)) return nullptr;  // no wrap for huge sizes
  return r->host + (va - r->base);
}

const uint8_t* AddressSpace::host(GuestVa va, size_t size) const {
  const Region* r = find(va);
  if (!r || size > r->size - (va - r->base)) return nullptr;
  return r->host + (va - r->base);
}

std::string AddressSpace::read_cstring(GuestVa va, size_t max_chars) const {
  std::string s;
  for (size_t i = 0; i < max_chars; ++i) {
    char c = read<char>(va + i);
    if (c == 0) break;
    s.push_back(c);
  }
  return s;
}

std::u16string AddressSpace::read_wstring(GuestVa va, size_t max_chars) const {
  std::u16string s;
  for (size_t i = 0; i < max_chars; ++i) {
    char16_t c = read<char16_t>(va + 2 * i);
    if (c == 0) break;
    s.push_back(c);
  }
  return s;
}

bool AddressSpace::is_ram_frame(uint64_t pfn) {
  uint64_t pa = pfn << 12;
  for (const PhysicalRange& r : kRamRanges)
    if (pa >= r.base && pa < r.base + r.size) return true;
  return false;
}

std::optional<uint64_t> AddressSpace::frame_of(GuestVa va) const {
  const Region* r = find(va);
  if (!r) return std::nullopt;
  const uint8_t* host_page = r->host + page_down(va - r->base);
  auto it = frame_by_host_page_.find(host_page);
  if (it != frame_by_host_page_.end()) {
    auto owner = owner_by_frame_.find(it->second);
    // Still the same host memory (not a new mapping that reuses the address).
    if (owner != owner_by_frame_.end() && owner->second.backing.lock() == r->backing) return it->second;
    frame_by_host_page_.erase(it);
  }
  // The next free RAM frame, skipping frames bound on purpose.
  for (;;) {
    uint64_t pa = next_frame_ << 12;
    const PhysicalRange* range = nullptr;
    for (const PhysicalRange& ram : kRamRanges)
      if (pa < ram.base + ram.size) {
        range = &ram;
        break;
      }
    if (!range) return std::nullopt;  // out of physical memory (cannot happen under the mapped-bytes cap)
    if (pa < range->base) next_frame_ = range->base >> 12;
    uint64_t pfn = next_frame_++;
    auto taken = owner_by_frame_.find(pfn);
    if (taken != owner_by_frame_.end() && !taken->second.backing.expired()) continue;
    frame_by_host_page_[host_page] = pfn;
    owner_by_frame_[pfn] = FrameOwner{r->backing, static_cast<uint64_t>(host_page - r->backing.get())};
    return pfn;
  }
}

std::optional<GuestVa> AddressSpace::page_of_frame(uint64_t pfn) const {
  auto owner = owner_by_frame_.find(pfn);
  if (owner == owner_by_frame_.end()) return std::nullopt;
  auto backing = owner->second.backing.lock();
  if (!backing) return std::nullopt;
  const uint8_t* host_page = backing.get() + owner->second.offset;
  for (const auto& [base, r] : regions_) {
    if (r.backing != backing || host_page < r.host || host_page >= r.host + r.size) continue;
    return r.base + static_cast<uint64_t>(host_page - r.host);
  }
  return std::nullopt;
}

void AddressSpace::bind_frame(GuestVa page, uint64_t pfn) {
  const Region* r = find(page);
  if (!r) throw std::invalid_argument(fmt::format("bind_frame: {:#x} is not mapped", page.value));
  const uint8_t* host_page = r->host + page_down(page - r->base);
  frame_by_host_page_[host_page] = pfn;
  owner_by_frame_[pfn] = FrameOwner{r->backing, static_cast<uint64_t>(host_page - r->backing.get())};
}

}  // namespace kemu::emu
