#include "loader/pe_loader.h"

#include <algorithm>
#include <exception>

#include <fmt/format.h>

#include "loader/lief_check.h"
#include "loader/pe_format.h"
#include "loader/pe_parser.h"

namespace kemu::loader {

namespace {

template <class... Args>
[[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) {
  throw LoadError(fmt::format(f, std::forward<Args>(args)...));
}

detail::ParsedImage parse_and_check(std::span<const uint8_t> file) {
  detail::ParsedImage parsed = detail::parse_image(file);
  // kemu's parser runs first so every refusal it knows about gets its precise
  // message; LIEF then gets a file already proven sane.
  detail::cross_check_with_lief(file, parsed);
  return parsed;
}

// Unmaps the image unless the load completed: a failed load leaves nothing.
class MappingGuard {
 public:
  MappingGuard(emu::AddressSpace& space, GuestVa base) : space_(space), base_(base) {}
  ~MappingGuard() {
    if (!armed_) return;
    try {
      space_.unmap(base_);
    } catch (...) {  // NOLINT(bugprone-empty-catch): the original error matters more
    }
  }
  MappingGuard(const MappingGuard&) = delete;
  MappingGuard& operator=(const MappingGuard&) = delete;
  void release() { armed_ = false; }

 private:
  emu::AddressSpace& space_;
  GuestVa base_;
  bool armed_ = true;
};

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// The x64 /GS cookie the Windows loader writes: random, top 16 bits clear (so
// that a string overflow cannot reproduce it), never the default or 0, which
// __security_init_cookie in GsDriverEntry treats as "not initialised" and
// bugchecks on. kemu derives it from the seed so runs are reproducible.
uint64_t make_cookie(uint64_t seed) {
  uint64_t state = seed;
  while (true) {
    uint64_t c = splitmix64(state) & 0x0000FFFFFFFFFFFFull;
    if (c != 0 && c != kDefaultSecurityCookie) return c;
  }
}

std::string import_label(const PeHeaders::Import& imp) {
  return imp.by_ordinal ? fmt::format("{}!#{}", imp.module, imp.ordinal)
                        : fmt::format("{}!{}", imp.module, imp.name);
}

class Loader {
 public:
  Loader(const detail::ParsedImage& parsed, std::span<const uint8_t> file, emu::AddressSpace& space,
         GuestVa base, ExportResolver& resolver)
      : p_(parsed), file_(file), space_(space), base_(base), resolver_(resolver) {}

  void map_image() {
    const PeHeaders& h = p_.headers;
    // Headers and the gaps between sections stay read-only (the whole region
    // starts that way); each section then gets its own protection.
    write(base_, file_.data(), h.size_of_headers);
    for (const SectionInfo& s : h.sections) {
      uint32_t copied = std::min(s.raw_size, s.virtual_size);
      if (copied) write(base_ + s.rva, file_.data() + s.raw_offset, copied);
      if (s.virtual_size) space_.protect(base_ + s.rva, page_up(s.virtual_size), s.prot);
    }
  }

  void relocate(LoadedImage& img) {
    // Modular arithmetic: the delta wraps for kernel bases above the preferred one.
    uint64_t delta = base_.value - p_.headers.preferred_base;
    for (const detail::ParsedRelocation& r : p_.relocations) {
      GuestVa at = base_ + r.rva;
      if (r.type == pe::kRelDir64) {
        space_.write<uint64_t>(at, space_.read<uint64_t>(at) + delta);
      } else {
        space_.write<uint32_t>(at, space_.read<uint32_t>(at) + static_cast<uint32_t>(delta));
      }
      ++img.relocations_applied;
    }
  }

  void bind_imports(LoadedImage& img) {
    for (const detail::ParsedImport& pi : p_.imports) {
      const PeHeaders::Import& imp = pi.import;
      std::optional<GuestVa> target = imp.by_ordinal ? resolver_.by_ordinal(imp.module, imp.ordinal)
                                                     : resolver_.by_name(imp.module, imp.name);
      bool unknown = false;
      if (!target) {
        unknown = true;
        target = resolver_.bind_unknown(
            imp.module, imp.name,
            imp.by_ordinal ? std::optional<uint16_t>(imp.ordinal) : std::nullopt);
        if (!target)
          fail("import {} is not exported by kemu's kernel (--strict-imports)", import_label(imp));
      }
      GuestVa slot = base_ + pi.iat_rva;
      space_.write<uint64_t>(slot, target->value);
      img.imports.push_back(
          ImportBinding{imp.module, imp.name, imp.ordinal, imp.by_ordinal, slot, *target, unknown});
    }
  }

  void init_security_cookie(LoadedImage& img, uint64_t seed) {
    if (!p_.cookie_pointer_rva) return;
    // The pointer in the load config has been relocated like any other VA.
    uint64_t va = space_.read<uint64_t>(base_ + *p_.cookie_pointer_rva);
    uint64_t soi = p_.headers.size_of_image;
    if (va < base_.value || va - base_.value > soi || soi - (va - base_.value) < 8)
      fail(
          "load config SecurityCookie VA {:#x} lies outside the image at {} after relocation "
          "(is its DIR64 relocation missing?)",
          va, base_.hex());
    GuestVa cookie{va};
    uint64_t value = space_.read<uint64_t>(cookie);
    // A cookie the image initialised to something else is left alone, as the
    // Windows loader does.
    if (value == kDefaultSecurityCookie || value == 0) {
      value = make_cookie(seed);
      space_.write<uint64_t>(cookie, value);
    }
    img.security_cookie = cookie;
    img.security_cookie_value = value;
  }

 private:
  void write(GuestVa va, const uint8_t* data, size_t n) {
    if (!space_.write(va, data, n)) throw emu::GuestAccessError(va, true);
  }

  const detail::ParsedImage& p_;
  std::span<const uint8_t> file_;
  emu::AddressSpace& space_;
  GuestVa base_;
  ExportResolver& resolver_;
};

}  // namespace

const RuntimeFunction* LoadedImage::function_at(uint32_t rva) const {
  auto it = std::upper_bound(runtime_functions.begin(), runtime_functions.end(), rva,
                             [](uint32_t v, const RuntimeFunction& f) { return v < f.begin; });
  if (it == runtime_functions.begin()) return nullptr;
  --it;
  return rva < it->end ? &*it : nullptr;
}

PeHeaders parse_headers(std::span<const uint8_t> file) {
  return parse_and_check(file).headers;
}

LoadedImage load_driver(std::span<const uint8_t> file, std::string name, emu::AddressSpace& space,
                        GuestVa base, ExportResolver& resolver, uint64_t cookie_seed) {
  detail::ParsedImage parsed = parse_and_check(file);
  const PeHeaders& h = parsed.headers;

  uint64_t size = page_up(h.size_of_image);
  if (base.value % kPageSize) fail("load base {} for {} is not page aligned", base.hex(), name);
  if (base.value + size < base.value || !is_canonical(base) || !is_canonical(base + (size - 1)))
    fail("load base {} for {} ({:#x} bytes) is not a canonical address range", base.hex(), name,
         size);

  try {
    space.map(base, size, Prot::Read, emu::RegionKind::DriverImage, name);
  } catch (const std::exception& e) {
    fail("cannot map {} ({:#x} bytes) at {}: {}", name, size, base.hex(), e.what());
  }
  MappingGuard guard(space, base);

  LoadedImage img;
  img.name = std::move(name);
  img.base = base;
  img.size = size;
  img.entry = base + h.entry_rva;
  try {
    // The order of the Windows loader: map, relocate, snap imports, then
    // initialise the /GS cookie.
    Loader loader(parsed, file, space, base, resolver);
    loader.map_image();
    loader.relocate(img);
    loader.bind_imports(img);
    loader.init_security_cookie(img, cookie_seed);
  } catch (const LoadError&) {
    throw;
  } catch (const std::exception& e) {
    // Only reachable through a bug or a throwing resolver: every range was validated.
    fail("loading {} failed: {}", img.name, e.what());
  }
  img.runtime_functions = std::move(parsed.runtime_functions);
  img.headers = std::move(parsed.headers);
  guard.release();
  return img;
}

}  // namespace kemu::loader
