#include "unit/loader/pe_builder.h"

#include <algorithm>
#include <array>
#include <stdexcept>

namespace kemu::test {

namespace {

constexpr uint32_t kSectionAlignment = 0x1000;
constexpr uint32_t kFileAlignment = 0x200;
constexpr uint32_t kSizeOfHeaders = 0x400;

uint32_t align_up(uint32_t v, uint32_t a) {
  return (v + a - 1) & ~(a - 1);
}

// One section's content, addressed by RVA.
struct SectionData {
  const char* name;
  uint32_t rva;
  uint32_t characteristics;
  std::vector<uint8_t> bytes;
  uint32_t virtual_size = 0;  // 0: bytes.size()

  uint32_t cursor() const { return rva + static_cast<uint32_t>(bytes.size()); }
  void align(uint32_t a) { bytes.resize(align_up(static_cast<uint32_t>(bytes.size()), a), 0); }
  template <class T>
  uint32_t append(T v) {
    uint32_t at = cursor();
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    bytes.insert(bytes.end(), p, p + sizeof(T));
    return at;
  }
  uint32_t append_bytes(std::initializer_list<uint8_t> b) {
    uint32_t at = cursor();
    bytes.insert(bytes.end(), b.begin(), b.end());
    return at;
  }
  uint32_t append_cstring(const std::string& s) {
    uint32_t at = cursor();
    bytes.insert(bytes.end(), s.begin(), s.end());
    bytes.push_back(0);
    return at;
  }
  template <class T>
  void put(uint32_t at_rva, T v) {
    uint32_t off = at_rva - rva;
    if (bytes.size() < off + sizeof(T)) bytes.resize(off + sizeof(T), 0);
    std::memcpy(bytes.data() + off, &v, sizeof(T));
  }
  void pad_to(uint32_t at_rva) {
    if (cursor() < at_rva) bytes.resize(at_rva - rva, 0);
  }
};

std::string key(const std::string& module, const PeImportSpec& f) {
  return f.name.empty() ? module + "!#" + std::to_string(*f.ordinal) : module + "!" + f.name;
}

}  // namespace

uint32_t BuiltPe::file_offset(uint32_t rva) const {
  for (uint32_t s = 0; s < kNumSections; ++s) {
    uint32_t h = section_header(static_cast<Section>(s));
    uint32_t va = get<uint32_t>(h + 12), raw = get<uint32_t>(h + 16), ptr = get<uint32_t>(h + 20);
    if (rva >= va && rva < va + raw) return ptr + (rva - va);
  }
  throw std::out_of_range("rva has no file backing in the test image");
}

BuiltPe build_pe(const PeSpec& spec) {
  BuiltPe out;
  const uint64_t base = spec.image_base;
  SectionData text{".text", 0x1000, 0x60000020, {}};
  SectionData rdata{".rdata", 0x2000, 0x40000040, {}};
  SectionData data{".data", 0x3000, 0xC0000040, {}};
  SectionData pdata{".pdata", 0x4000, 0x40000040, {}};
  SectionData reloc{".reloc", 0x5000, 0x42000040, {}};

  // .text: DriverEntry: sub rsp,28h; xor eax,eax; add rsp,28h; ret
  text.append_bytes({0x48, 0x83, 0xEC, 0x28, 0x31, 0xC0, 0x48, 0x83, 0xC4, 0x28, 0xC3});
  text.pad_to(out.leaf_rva);
  text.append_bytes({0xC3});
  text.pad_to(out.pushpop_rva);
  text.append_bytes({0x53, 0x5B, 0xC3});  // push rbx; pop rbx; ret
  text.virtual_size = static_cast<uint32_t>(text.bytes.size());
  // Raw data past VirtualSize must not be mapped: fill it with int3.
  text.bytes.resize(kFileAlignment, 0xCC);

  // .rdata: import directory first.
  out.import_directory_rva = rdata.cursor();
  size_t n_modules = spec.imports.size();
  rdata.bytes.resize((n_modules + 1) * 20, 0);
  std::vector<uint32_t> lookup(n_modules), iat(n_modules), names(n_modules);
  for (size_t m = 0; m < n_modules; ++m) {
    rdata.align(8);
    lookup[m] = rdata.cursor();
    rdata.bytes.resize(rdata.bytes.size() + 8 * (spec.imports[m].functions.size() + 1), 0);
    iat[m] = rdata.cursor();
    rdata.bytes.resize(rdata.bytes.size() + 8 * (spec.imports[m].functions.size() + 1), 0);
  }
  uint32_t first_name_thunk = 0;
  for (size_t m = 0; m < n_modules; ++m) {
    const PeModuleSpec& mod = spec.imports[m];
    names[m] = rdata.append_cstring(mod.module);
    for (size_t f = 0; f < mod.functions.size(); ++f) {
      const PeImportSpec& fn = mod.functions[f];
      uint64_t thunk;
      if (fn.name.empty()) {
        thunk = (1ull << 63) | *fn.ordinal;
      } else {
        rdata.align(2);
        uint32_t hn = rdata.append<uint16_t>(0);
        rdata.append_cstring(fn.name);
        thunk = hn;
        if (!first_name_thunk) first_name_thunk = lookup[m] + 8 * static_cast<uint32_t>(f);
      }
      uint32_t l = lookup[m] + 8 * static_cast<uint32_t>(f);
      uint32_t s = iat[m] + 8 * static_cast<uint32_t>(f);
      rdata.put<uint64_t>(l, thunk);
      rdata.put<uint64_t>(s, thunk);  // the IAT holds a copy until bound
      out.lookup_rva[key(mod.module, fn)] = l;
      out.iat_rva[key(mod.module, fn)] = s;
    }
    uint32_t d = out.import_directory_rva + 20 * static_cast<uint32_t>(m);
    rdata.put<uint32_t>(d + 0, lookup[m]);
    rdata.put<uint32_t>(d + 12, names[m]);
    rdata.put<uint32_t>(d + 16, iat[m]);
  }
  uint32_t iat_begin = n_modules ? iat[0] : 0;
  uint32_t iat_end =
      n_modules
          ? iat[n_modules - 1] + 8 * static_cast<uint32_t>(spec.imports.back().functions.size() + 1)
          : 0;

  // Export directory: KemuHelper -> leaf (ordinal 1), ordinal-only 2 -> pushpop.
  uint32_t export_rva = 0, export_size = 0;
  if (spec.with_exports) {
    rdata.align(4);
    export_rva = rdata.cursor();
    rdata.bytes.resize(rdata.bytes.size() + 40, 0);
    uint32_t funcs = rdata.append<uint32_t>(out.leaf_rva);
    rdata.append<uint32_t>(out.pushpop_rva);
    uint32_t name_ptrs = rdata.append<uint32_t>(0);
    uint32_t ords = rdata.append<uint16_t>(0);
    rdata.align(2);
    uint32_t dll_name = rdata.append_cstring("test.sys");
    uint32_t helper_name = rdata.append_cstring("KemuHelper");
    rdata.put<uint32_t>(name_ptrs, helper_name);
    rdata.put<uint32_t>(export_rva + 12, dll_name);
    rdata.put<uint32_t>(export_rva + 16, 1);  // Base
    rdata.put<uint32_t>(export_rva + 20, 2);  // NumberOfFunctions
    rdata.put<uint32_t>(export_rva + 24, 1);  // NumberOfNames
    rdata.put<uint32_t>(export_rva + 28, funcs);
    rdata.put<uint32_t>(export_rva + 32, name_ptrs);
    rdata.put<uint32_t>(export_rva + 36, ords);
    export_size = rdata.cursor() - export_rva;
  }

  // UNWIND_INFO: version 1; codes padded to an even count.
  rdata.align(4);
  uint32_t unwind_entry = rdata.append_bytes({0x01, 0x04, 0x01, 0x00, 0x04, 0x42, 0x00, 0x00});
  uint32_t unwind_leaf = rdata.append_bytes({0x01, 0x00, 0x00, 0x00});
  uint32_t unwind_pushpop = rdata.append_bytes({0x01, 0x01, 0x01, 0x00, 0x01, 0x30, 0x00, 0x00});

  // IMAGE_LOAD_CONFIG_DIRECTORY64 through SEHandlerCount (0x70 bytes).
  if (spec.with_load_config) {
    rdata.align(8);
    out.load_config_rva = rdata.cursor();
    rdata.bytes.resize(rdata.bytes.size() + 0x70, 0);
    rdata.put<uint32_t>(out.load_config_rva, 0x70);
    rdata.put<uint64_t>(out.load_config_rva + 0x58, base + out.cookie_rva);
  }

  // .data: the pointer table and the cookie.
  data.put<uint64_t>(out.pointer_table_rva + 0, base + out.driver_entry_rva);
  data.put<uint64_t>(out.pointer_table_rva + 8, base + out.leaf_rva);
  data.put<uint64_t>(out.pointer_table_rva + 16, base + 0x2000);
  data.put<uint64_t>(out.pointer_table_rva + 24, base + out.cookie_rva);
  data.put<uint64_t>(out.cookie_rva, spec.cookie_value);
  data.virtual_size = 0x800;  // bigger than the raw data: the rest is zero-filled

  // .pdata
  struct Rf {
    uint32_t b, e, u;
  };
  std::vector<Rf> fns = {{out.driver_entry_rva, out.driver_entry_rva + 11, unwind_entry},
                         {out.leaf_rva, out.leaf_rva + 1, unwind_leaf},
                         {out.pushpop_rva, out.pushpop_rva + 3, unwind_pushpop}};
  if (spec.reverse_pdata) std::reverse(fns.begin(), fns.end());
  for (const Rf& f : fns) {
    pdata.append<uint32_t>(f.b);
    pdata.append<uint32_t>(f.e);
    pdata.append<uint32_t>(f.u);
  }

  // .reloc: one block per page.
  auto add_block = [&](uint32_t page, std::vector<uint16_t> entries) {
    if (entries.size() % 2) entries.push_back(0);  // ABSOLUTE pad to 4-byte blocks
    reloc.append<uint32_t>(page);
    reloc.append<uint32_t>(8 + 2 * static_cast<uint32_t>(entries.size()));
    for (uint16_t e : entries) reloc.append<uint16_t>(e);
  };
  if (spec.with_load_config)
    add_block(0x2000, {static_cast<uint16_t>(0xA000 | (out.load_config_rva + 0x58 - 0x2000))});
  std::vector<uint16_t> data_entries = {0xA000, 0xA008, 0xA010, 0xA018};
  data_entries.insert(data_entries.end(), spec.extra_reloc_entries.begin(),
                      spec.extra_reloc_entries.end());
  add_block(0x3000, data_entries);
  if (spec.extra_reloc_block)
    add_block(spec.extra_reloc_block->first, spec.extra_reloc_block->second);
  uint32_t reloc_size = reloc.cursor() - reloc.rva;

  if (spec.unterminated_import_name) {
    // The name fills .reloc up to SizeOfImage without a terminator.
    reloc.bytes.resize(kSectionAlignment, 'A');
    uint32_t hn = reloc.rva + kSectionAlignment - 16;
    if (first_name_thunk) rdata.put<uint64_t>(first_name_thunk, hn);
  }

  std::array<SectionData*, BuiltPe::kNumSections> sections = {&text, &rdata, &data, &pdata, &reloc};

  // Assemble the file.
  std::vector<uint8_t>& f = out.bytes;
  uint32_t raw_ptr = kSizeOfHeaders;
  std::vector<std::pair<uint32_t, uint32_t>> raw(sections.size());  // ptr, size
  for (size_t i = 0; i < sections.size(); ++i) {
    SectionData& s = *sections[i];
    if (s.bytes.size() > kSectionAlignment) throw std::length_error("test section too big");
    uint32_t size = align_up(static_cast<uint32_t>(s.bytes.size()), kFileAlignment);
    raw[i] = {raw_ptr, size};
    raw_ptr += size;
  }
  f.assign(raw_ptr, 0);
  for (size_t i = 0; i < sections.size(); ++i)
    std::copy(sections[i]->bytes.begin(), sections[i]->bytes.end(), f.begin() + raw[i].first);

  out.put<uint16_t>(0, 0x5A4D);
  out.put<uint32_t>(0x3C, BuiltPe::kLfanew);
  out.put<uint32_t>(BuiltPe::kLfanew, 0x00004550);
  uint32_t fh = BuiltPe::kFileHeader;
  out.put<uint16_t>(fh + 0, spec.machine);
  out.put<uint16_t>(fh + 2, BuiltPe::kNumSections);
  out.put<uint32_t>(fh + 4, 0x5F000000);
  out.put<uint16_t>(fh + 16, 0xF0);
  out.put<uint16_t>(fh + 18, spec.file_characteristics);
  uint32_t oh = BuiltPe::kOptionalHeader;
  out.put<uint16_t>(oh + 0x00, spec.magic);
  out.put<uint8_t>(oh + 0x02, 14);
  out.put<uint32_t>(oh + 0x04, raw[0].second);                                  // SizeOfCode
  out.put<uint32_t>(oh + 0x08, raw[1].second + raw[2].second + raw[3].second);  // init data
  out.put<uint32_t>(oh + 0x10, out.driver_entry_rva);
  out.put<uint32_t>(oh + 0x14, text.rva);  // BaseOfCode
  out.put<uint64_t>(oh + 0x18, base);
  out.put<uint32_t>(oh + 0x20, kSectionAlignment);
  out.put<uint32_t>(oh + 0x24, kFileAlignment);
  out.put<uint16_t>(oh + 0x28, 10);  // OS version
  out.put<uint16_t>(oh + 0x30, 10);  // subsystem version
  out.put<uint32_t>(oh + 0x38, out.size_of_image);
  out.put<uint32_t>(oh + 0x3C, kSizeOfHeaders);
  out.put<uint16_t>(oh + 0x44, spec.subsystem);
  out.put<uint16_t>(oh + 0x46, 0x0160);  // HIGH_ENTROPY_VA | DYNAMIC_BASE | NX_COMPAT
  out.put<uint64_t>(oh + 0x48, 0x40000);
  out.put<uint64_t>(oh + 0x50, 0x1000);
  out.put<uint64_t>(oh + 0x58, 0x100000);
  out.put<uint64_t>(oh + 0x60, 0x1000);
  out.put<uint32_t>(oh + 0x6C, 16);
  if (export_size) out.set_directory(0, export_rva, export_size);
  if (n_modules)
    out.set_directory(1, out.import_directory_rva, 20 * static_cast<uint32_t>(n_modules + 1));
  out.set_directory(3, pdata.rva, static_cast<uint32_t>(pdata.bytes.size()));
  out.set_directory(5, reloc.rva, reloc_size);
  if (spec.with_load_config) out.set_directory(10, out.load_config_rva, 0x70);
  if (n_modules) out.set_directory(12, iat_begin, iat_end - iat_begin);

  for (size_t i = 0; i < sections.size(); ++i) {
    const SectionData& s = *sections[i];
    uint32_t h = BuiltPe::kSectionTable + 40 * static_cast<uint32_t>(i);
    std::memcpy(out.bytes.data() + h, s.name, std::strlen(s.name));
    uint32_t vs = s.virtual_size ? s.virtual_size : static_cast<uint32_t>(s.bytes.size());
    out.put<uint32_t>(h + 8, vs);
    out.put<uint32_t>(h + 12, s.rva);
    out.put<uint32_t>(h + 16, raw[i].second);
    out.put<uint32_t>(h + 20, raw[i].first);
    out.put<uint32_t>(h + 36, s.characteristics);
  }
  return out;
}

}  // namespace kemu::test
