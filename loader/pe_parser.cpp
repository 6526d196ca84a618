#include "loader/pe_parser.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "loader/pe_format.h"

namespace kemu::loader::detail {

namespace {

// The largest image kemu maps; the host is never at risk (DESIGN.md).
constexpr uint64_t kMaxSizeOfImage = 256ull << 20;
// PE spec: FileAlignment is a power of two between 512 and 64 KiB.
constexpr uint32_t kMinFileAlignment = 0x200;
constexpr uint32_t kMaxFileAlignment = 0x10000;
constexpr uint32_t kImageBaseAlignment = 0x10000;
constexpr size_t kMaxModuleNameChars = 255;
constexpr size_t kMaxSymbolNameChars = 4096;
// A block covers one 4 KiB page: 4096 offsets plus one ABSOLUTE pad is the most
// any linker can need. Bigger blocks only come from corrupt files.
constexpr uint32_t kMaxRelocBlockSize = pe::kRelocBlockHeaderSize + 2 * (0x1000 + 1);
// Far above any real driver (ntoskrnl-importing drivers use a few hundred).
constexpr size_t kMaxImports = 100000;
constexpr uint32_t kMaxImportModules = 4096;
constexpr uint32_t kMaxExportFunctions = 0x10000;

template <class... Args>
[[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) {
  throw LoadError(fmt::format(f, std::forward<Args>(args)...));
}

bool is_pow2(uint64_t v) {
  return v != 0 && (v & (v - 1)) == 0;
}

// Section names go into messages: keep printable ASCII, escape the rest.
std::string printable_name(const uint8_t* raw, size_t n) {
  std::string out;
  for (size_t i = 0; i < n && raw[i] != 0; ++i) {
    uint8_t c = raw[i];
    if (c >= 0x20 && c < 0x7F && c != '\\')
      out.push_back(static_cast<char>(c));
    else
      out += fmt::format("\\x{:02x}", c);
  }
  return out.empty() ? std::string("(unnamed)") : out;
}

const char* directory_name(uint32_t i) {
  static constexpr std::array<const char*, pe::kNumDataDirectories> kNames = {
      "export", "import",       "resource",       "exception", "certificate", "base relocation",
      "debug",  "architecture", "global pointer", "TLS",       "load config", "bound import",
      "IAT",    "delay import", "CLR runtime",    "reserved"};
  return i < kNames.size() ? kNames[i] : "?";
}

const char* subsystem_name(uint16_t s) {
  switch (s) {
    case 0:
      return "UNKNOWN";
    case 1:
      return "NATIVE";
    case 2:
      return "WINDOWS_GUI";
    case 3:
      return "WINDOWS_CUI";
    case 5:
      return "OS2_CUI";
    case 7:
      return "POSIX_CUI";
    case 8:
      return "NATIVE_WINDOWS";
    case 9:
      return "WINDOWS_CE_GUI";
    case 10:
      return "EFI_APPLICATION";
    case 11:
      return "EFI_BOOT_SERVICE_DRIVER";
    case 12:
      return "EFI_RUNTIME_DRIVER";
    case 13:
      return "EFI_ROM";
    case 14:
      return "XBOX";
    case 16:
      return "WINDOWS_BOOT_APPLICATION";
    default:
      return "unknown";
  }
}

Prot prot_from_characteristics(uint32_t c) {
  // x64 pages cannot be execute-only or write-only: Windows maps PAGE_EXECUTE
  // and write-only sections readable, and so does kemu.
  Prot p = Prot::Read;
  if (c & pe::kScnMemWrite) p = p | Prot::Write;
  if (c & pe::kScnMemExecute) p = p | Prot::Exec;
  return p;
}

// Raw file reads at offsets already checked against the file size.
class FileReader {
 public:
  explicit FileReader(std::span<const uint8_t> f) : f_(f) {}
  uint64_t size() const { return f_.size(); }
  bool has(uint64_t off, uint64_t n) const { return off <= f_.size() && n <= f_.size() - off; }
  uint16_t u16(uint64_t off) const { return pe::load<uint16_t>(f_.data() + off); }
  uint32_t u32(uint64_t off) const { return pe::load<uint32_t>(f_.data() + off); }
  uint64_t u64(uint64_t off) const { return pe::load<uint64_t>(f_.data() + off); }
  const uint8_t* at(uint64_t off) const { return f_.data() + off; }

 private:
  std::span<const uint8_t> f_;
};

// The image as the loader maps it, read straight from the file: headers,
// each section's raw data (at most its virtual size), zeros everywhere else
// below SizeOfImage. Validation reads through this, so it sees exactly the
// bytes the mapped image will hold before relocation.
class ImageView {
 public:
  struct Backing {
    uint32_t rva;
    uint32_t size;
    uint32_t file_offset;
  };

  ImageView(std::span<const uint8_t> file, uint32_t size_of_image, std::vector<Backing> backing)
      : file_(file), size_(size_of_image), backing_(std::move(backing)) {}

  uint32_t size() const { return size_; }
  bool contains(uint64_t rva, uint64_t n) const { return rva <= size_ && n <= size_ - rva; }

  // Copies [rva, rva+n); false if the range leaves the image.
  bool read(uint64_t rva, void* out, size_t n) const {
    if (!contains(rva, n)) return false;
    auto* dst = static_cast<uint8_t*>(out);
    std::memset(dst, 0, n);
    uint64_t lo = rva, hi = rva + n;
    for (const Backing& b : backing_) {
      uint64_t s = std::max<uint64_t>(lo, b.rva);
      uint64_t e = std::min<uint64_t>(hi, uint64_t{b.rva} + b.size);
      if (s < e) std::memcpy(dst + (s - lo), file_.data() + b.file_offset + (s - b.rva), e - s);
    }
    return true;
  }

  // Callers check contains() first.
  template <class T>
  T get(uint64_t rva) const {
    T v{};
    read(rva, &v, sizeof(T));
    return v;
  }

  enum class Str { Ok, Outside, Unterminated, TooLong };
  // A NUL-terminated string of at most max_chars characters.
  Str cstring(uint64_t rva, size_t max_chars, std::string& out) const {
    out.clear();
    if (rva >= size_) return Str::Outside;
    char chunk[256];
    while (true) {
      if (rva >= size_) return Str::Unterminated;
      size_t n = static_cast<size_t>(std::min<uint64_t>(sizeof(chunk), size_ - rva));
      read(rva, chunk, n);
      const void* nul = std::memchr(chunk, 0, n);
      size_t len = nul ? static_cast<size_t>(static_cast<const char*>(nul) - chunk) : n;
      if (out.size() + len > max_chars) return Str::TooLong;
      out.append(chunk, len);
      if (nul) return Str::Ok;
      rva += n;
    }
  }

 private:
  std::span<const uint8_t> file_;
  uint32_t size_;
  std::vector<Backing> backing_;
};

struct Dir {
  uint32_t rva = 0;
  uint32_t size = 0;
  bool present() const { return rva != 0 && size != 0; }
};

class Parser {
 public:
  explicit Parser(std::span<const uint8_t> file) : file_(file), raw_(file) {}

  ParsedImage run() {
    parse_nt_headers();
    parse_sections();
    check_entry_point();
    parse_directories();
    view_.emplace(file_, h().size_of_image, backing_);
    parse_relocations();
    parse_imports();
    parse_exports();
    parse_exception_directory();
    parse_load_config();
    return std::move(out_);
  }

 private:
  PeHeaders& h() { return out_.headers; }
  const ImageView& view() const { return *view_; }

  void parse_nt_headers() {
    // DOS header: only e_magic and e_lfanew matter to the loader.
    if (raw_.size() < pe::kDosHeaderSize)
      fail("truncated DOS header: the file is {} bytes, a DOS header needs {}", raw_.size(),
           pe::kDosHeaderSize);
    if (uint16_t mz = raw_.u16(0); mz != pe::kDosMagic)
      fail("DOS signature {:#06x} is not MZ (0x5a4d): this is not a PE file", mz);
    uint32_t lfanew = raw_.u32(pe::kDosLfanew);
    if (!raw_.has(lfanew, 4 + pe::kFileHeaderSize))
      fail(
          "bad e_lfanew {:#x}: the NT headers (24 bytes) would end beyond the end of the "
          "{:#x}-byte file",
          lfanew, raw_.size());
    if (uint32_t sig = raw_.u32(lfanew); sig != pe::kNtSignature)
      fail("NT signature {:#010x} at e_lfanew {:#x} is not PE\\0\\0", sig, lfanew);

    // IMAGE_FILE_HEADER
    uint64_t fh = uint64_t{lfanew} + 4;
    h().machine = raw_.u16(fh + pe::kFhMachine);
    if (h().machine != pe::kMachineAmd64)
      fail("machine {:#x} is not AMD64 (0x8664): kemu loads only x64 drivers", h().machine);
    num_sections_ = raw_.u16(fh + pe::kFhNumberOfSections);
    h().timestamp = raw_.u32(fh + pe::kFhTimeDateStamp);
    uint16_t opt_size = raw_.u16(fh + pe::kFhSizeOfOptionalHeader);
    h().characteristics = raw_.u16(fh + pe::kFhCharacteristics);

    // IMAGE_OPTIONAL_HEADER64
    uint64_t oh = fh + pe::kFileHeaderSize;
    if (!raw_.has(oh, 2))
      fail(
          "truncated optional header: the file ends at {:#x}, before the optional header magic "
          "at {:#x}",
          raw_.size(), oh);
    uint16_t magic = raw_.u16(oh + pe::kOhMagic);
    if (magic == pe::kMagicPe32)
      fail(
          "optional header magic 0x10b is PE32 (32-bit); kemu loads only PE32+ (0x20b) x64 "
          "drivers");
    if (magic != pe::kMagicPe32Plus)
      fail("optional header magic {:#x} is not PE32+ (0x20b)", magic);
    uint64_t need = std::max<uint64_t>(opt_size, pe::kOhDataDirectories);
    if (!raw_.has(oh, need))
      fail(
          "truncated optional header: it needs {:#x} bytes at offset {:#x} but the file is "
          "{:#x} bytes",
          need, oh, raw_.size());
    if (opt_size < pe::kOhDataDirectories)
      fail("SizeOfOptionalHeader {:#x} is smaller than the {:#x} bytes of a PE32+ optional header",
           opt_size, pe::kOhDataDirectories);
    // Directories past the 16 the format defines are ignored, as Windows does.
    uint32_t declared_dirs = raw_.u32(oh + pe::kOhNumberOfRvaAndSizes);
    num_dirs_ = std::min(declared_dirs, pe::kNumDataDirectories);
    if (opt_size < pe::kOhDataDirectories + 8 * num_dirs_)
      fail(
          "SizeOfOptionalHeader {:#x} cannot hold the {} data directories NumberOfRvaAndSizes "
          "declares",
          opt_size, num_dirs_);
    oh_ = oh;

    h().entry_rva = raw_.u32(oh + pe::kOhAddressOfEntryPoint);
    h().preferred_base = raw_.u64(oh + pe::kOhImageBase);
    section_alignment_ = raw_.u32(oh + pe::kOhSectionAlignment);
    file_alignment_ = raw_.u32(oh + pe::kOhFileAlignment);
    h().size_of_image = raw_.u32(oh + pe::kOhSizeOfImage);
    h().size_of_headers = raw_.u32(oh + pe::kOhSizeOfHeaders);
    h().checksum = raw_.u32(oh + pe::kOhCheckSum);
    h().subsystem = raw_.u16(oh + pe::kOhSubsystem);
    h().dll_characteristics = raw_.u16(oh + pe::kOhDllCharacteristics);

    if (h().subsystem != pe::kSubsystemNative)
      fail("subsystem {} ({}) is not NATIVE (1): kemu loads kernel drivers only", h().subsystem,
           subsystem_name(h().subsystem));
    if (!(h().characteristics & pe::kFileExecutableImage))
      fail("file characteristics {:#x} lack IMAGE_FILE_EXECUTABLE_IMAGE (0x2): not a linked image",
           h().characteristics);
    // kemu never loads a driver at its preferred base, exactly like the kernel.
    if (h().characteristics & pe::kFileRelocsStripped)
      fail(
          "file characteristics {:#x} include IMAGE_FILE_RELOCS_STRIPPED (0x1): the driver "
          "cannot be relocated into the kernel address space",
          h().characteristics);

    uint32_t sa = section_alignment_, fa = file_alignment_;
    if (!is_pow2(sa)) fail("SectionAlignment {:#x} is not a power of two", sa);
    if (sa < kPageSize)
      fail(
          "SectionAlignment {:#x} is below the {:#x}-byte page size; kemu does not load "
          "small-alignment images",
          sa, kPageSize);
    if (sa > kMaxSizeOfImage) fail("SectionAlignment {:#x} is larger than kemu's image cap", sa);
    if (!is_pow2(fa)) fail("FileAlignment {:#x} is not a power of two", fa);
    if (fa < kMinFileAlignment || fa > kMaxFileAlignment)
      fail("FileAlignment {:#x} is outside the 0x200..0x10000 range the PE format allows", fa);
    if (fa > sa) fail("FileAlignment {:#x} exceeds SectionAlignment {:#x}", fa, sa);

    uint32_t soi = h().size_of_image;
    if (soi == 0) fail("SizeOfImage is 0");
    if (soi > kMaxSizeOfImage)
      fail("SizeOfImage {:#x} exceeds kemu's cap of 256 MiB ({:#x})", soi, kMaxSizeOfImage);
    if (h().preferred_base % kImageBaseAlignment)
      fail("ImageBase {:#x} is not 64 KiB aligned", h().preferred_base);
    if (h().preferred_base + soi < h().preferred_base)
      fail("ImageBase {:#x} plus SizeOfImage {:#x} wraps around the address space",
           h().preferred_base, soi);

    if (num_sections_ == 0) fail("the image has zero sections (NumberOfSections is 0)");
    if (num_sections_ > pe::kMaxSections)
      fail("NumberOfSections {} exceeds the limit of {}", num_sections_, pe::kMaxSections);
    section_table_ = oh + opt_size;
    uint64_t table_end = section_table_ + uint64_t{num_sections_} * pe::kSectionHeaderSize;
    if (table_end > raw_.size())
      fail("section table ({} entries at {:#x}) runs past the end of the {:#x}-byte file",
           num_sections_, section_table_, raw_.size());
    uint32_t soh = h().size_of_headers;
    if (soh < table_end)
      fail("SizeOfHeaders {:#x} does not cover the headers and section table ending at {:#x}", soh,
           table_end);
    if (soh > raw_.size())
      fail("SizeOfHeaders {:#x} lies beyond the end of the {:#x}-byte file", soh, raw_.size());
    if (soh > soi) fail("SizeOfHeaders {:#x} exceeds SizeOfImage {:#x}", soh, soi);
  }

  void parse_sections() {
    uint32_t soi = h().size_of_image;
    backing_.push_back({0, h().size_of_headers, 0});
    for (uint32_t i = 0; i < num_sections_; ++i) {
      uint64_t sh = section_table_ + uint64_t{i} * pe::kSectionHeaderSize;
      SectionInfo s;
      s.name = printable_name(raw_.at(sh), 8);
      uint32_t vs = raw_.u32(sh + pe::kShVirtualSize);
      s.rva = raw_.u32(sh + pe::kShVirtualAddress);
      s.raw_size = raw_.u32(sh + pe::kShSizeOfRawData);
      s.raw_offset = raw_.u32(sh + pe::kShPointerToRawData);
      s.characteristics = raw_.u32(sh + pe::kShCharacteristics);
      // VirtualSize 0 means "as big as the raw data" (old linkers).
      s.virtual_size = vs != 0 ? vs : s.raw_size;
      s.prot = prot_from_characteristics(s.characteristics);

      if (s.rva % section_alignment_)
        fail("section {} VirtualAddress {:#x} is not a multiple of SectionAlignment {:#x}", s.name,
             s.rva, section_alignment_);
      if (s.rva < h().size_of_headers)
        fail("section {} at {:#x} overlaps the headers (SizeOfHeaders {:#x})", s.name, s.rva,
             h().size_of_headers);
      if (uint64_t{s.rva} + s.virtual_size > soi)
        fail("section {} virtual range {:#x}+{:#x} lies beyond SizeOfImage {:#x}", s.name, s.rva,
             s.virtual_size, soi);
      if (s.raw_size != 0) {
        if (uint64_t{s.raw_offset} + s.raw_size > raw_.size())
          fail("section {} raw data {:#x}+{:#x} lies beyond the end of the {:#x}-byte file", s.name,
               s.raw_offset, s.raw_size, raw_.size());
        // Windows rounds an unaligned PointerToRawData down, so such a file
        // would map different bytes on Windows than a naive reader sees.
        if (s.raw_offset % file_alignment_)
          fail("section {} PointerToRawData {:#x} is not a multiple of FileAlignment {:#x}", s.name,
               s.raw_offset, file_alignment_);
      }
      uint32_t copied = std::min(s.raw_size, s.virtual_size);
      if (copied) backing_.push_back({s.rva, copied, s.raw_offset});
      h().sections.push_back(std::move(s));
    }

    std::vector<const SectionInfo*> by_rva;
    for (const SectionInfo& s : h().sections) by_rva.push_back(&s);
    std::stable_sort(by_rva.begin(), by_rva.end(),
                     [](const SectionInfo* a, const SectionInfo* b) { return a->rva < b->rva; });
    for (size_t i = 1; i < by_rva.size(); ++i) {
      const SectionInfo& p = *by_rva[i - 1];
      const SectionInfo& c = *by_rva[i];
      if (c.rva < uint64_t{p.rva} + p.virtual_size)
        fail("section {} virtual range {:#x}+{:#x} overlaps section {} {:#x}+{:#x}", c.name, c.rva,
             c.virtual_size, p.name, p.rva, p.virtual_size);
    }
  }

  void check_entry_point() {
    uint32_t e = h().entry_rva;
    if (e == 0) fail("entry point RVA is 0: a driver must have a DriverEntry");
    if (e >= h().size_of_image)
      fail("entry point RVA {:#x} lies outside the image (SizeOfImage {:#x})", e,
           h().size_of_image);
    for (const SectionInfo& s : h().sections) {
      if (e >= s.rva && e - s.rva < s.virtual_size) {
        if (!s.executable())
          fail("entry point RVA {:#x} lies in section {}, which is not executable", e, s.name);
        return;
      }
    }
    fail("entry point RVA {:#x} is not inside any section", e);
  }

  void parse_directories() {
    for (uint32_t i = 0; i < num_dirs_; ++i) {
      uint64_t off = oh_ + pe::kOhDataDirectories + 8ull * i;
      Dir d{raw_.u32(off), raw_.u32(off + 4)};
      // Windows treats a directory with a zero address or size as absent.
      if (!d.present()) continue;
      if (i == pe::kDirSecurity) {
        // Authenticode data is not mapped; its "RVA" is a file offset.
        if (uint64_t{d.rva} + d.size > raw_.size())
          fail(
              "certificate directory (file offset {:#x}+{:#x}) lies beyond the end of the "
              "{:#x}-byte file",
              d.rva, d.size, raw_.size());
        continue;
      }
      if (uint64_t{d.rva} + d.size > h().size_of_image)
        fail("{} directory {:#x}+{:#x} lies outside the image (SizeOfImage {:#x})",
             directory_name(i), d.rva, d.size, h().size_of_image);
      dirs_[i] = d;
    }
  }

  void parse_relocations() {
    Dir d = dirs_[pe::kDirBaseReloc];
    if (!d.present()) return;
    uint32_t soi = h().size_of_image;
    std::vector<uint16_t> entries;
    uint64_t off = 0;
    while (off < d.size) {
      uint64_t block_rva = d.rva + off;
      if (d.size - off < pe::kRelocBlockHeaderSize)
        fail("relocation directory ends with a truncated {}-byte block header at RVA {:#x}",
             d.size - off, block_rva);
      uint32_t page = view().get<uint32_t>(block_rva);
      uint32_t block_size = view().get<uint32_t>(block_rva + 4);
      if (block_size < pe::kRelocBlockHeaderSize || block_size % 2)
        fail("relocation block at RVA {:#x} has SizeOfBlock {:#x}; it must be even and at least 8",
             block_rva, block_size);
      if (block_size > d.size - off)
        fail(
            "relocation block at RVA {:#x} (SizeOfBlock {:#x}) runs past the end of the "
            "{:#x}-byte relocation directory",
            block_rva, block_size, d.size);
      if (block_size > kMaxRelocBlockSize)
        fail(
            "relocation block at RVA {:#x} has SizeOfBlock {:#x}, more than one page can need "
            "({:#x})",
            block_rva, block_size, kMaxRelocBlockSize);
      if (page >= soi)
        fail(
            "relocation block at RVA {:#x} is for page {:#x}, past the end of the image "
            "(SizeOfImage {:#x})",
            block_rva, page, soi);
      size_t count = (block_size - pe::kRelocBlockHeaderSize) / 2;
      entries.resize(count);
      view().read(block_rva + pe::kRelocBlockHeaderSize, entries.data(), count * 2);
      for (size_t k = 0; k < count; ++k) {
        uint8_t type = static_cast<uint8_t>(entries[k] >> 12);
        uint64_t target = uint64_t{page} + (entries[k] & 0xFFF);
        uint32_t width = 0;
        switch (type) {
          case pe::kRelAbsolute:
            continue;  // padding
          case pe::kRelDir64:
            width = 8;
            break;
          // HIGHLOW adds the low 32 bits of the delta to a 32-bit field, as
          // the Windows x64 loader does; rare in x64 images but legal.
          case pe::kRelHighLow:
            width = 4;
            break;
          default:
            fail(
                "relocation entry {} of the block for page {:#x} has type {}; kemu supports only "
                "ABSOLUTE (0), HIGHLOW (3) and DIR64 (10)",
                k, page, type);
        }
        if (target + width > soi)
          fail(
              "relocation target {:#x} ({} bytes, block for page {:#x}) extends past the end of "
              "the image (SizeOfImage {:#x})",
              target, width, page, soi);
        out_.relocations.push_back({static_cast<uint32_t>(target), type});
      }
      off += block_size;
    }
  }

  std::string read_name(uint64_t rva, size_t max_chars, const std::string& what) {
    std::string s;
    switch (view().cstring(rva, max_chars, s)) {
      case ImageView::Str::Ok:
        break;
      case ImageView::Str::Outside:
        fail("{} RVA {:#x} lies outside the image (SizeOfImage {:#x})", what, rva,
             h().size_of_image);
      case ImageView::Str::Unterminated:
        fail("{} at RVA {:#x} is not NUL-terminated within the image", what, rva);
      case ImageView::Str::TooLong:
        fail("{} at RVA {:#x} is longer than {} characters", what, rva, max_chars);
    }
    if (s.empty()) fail("{} at RVA {:#x} is empty", what, rva);
    return s;
  }

  void parse_imports() {
    Dir d = dirs_[pe::kDirImport];
    if (!d.present()) return;
    for (uint32_t i = 0;; ++i) {
      uint64_t desc = uint64_t{d.rva} + uint64_t{i} * pe::kImportDescriptorSize;
      if (!view().contains(desc, pe::kImportDescriptorSize))
        fail(
            "import descriptor {} at RVA {:#x} lies outside the image: the descriptor array is "
            "not terminated",
            i, desc);
      uint32_t lookup = view().get<uint32_t>(desc + pe::kIdOriginalFirstThunk);
      uint32_t name_rva = view().get<uint32_t>(desc + pe::kIdName);
      uint32_t iat = view().get<uint32_t>(desc + pe::kIdFirstThunk);
      // The Windows loader stops at the first descriptor without a name or IAT.
      if (name_rva == 0 || iat == 0) break;
      if (i >= kMaxImportModules)
        fail("the image imports from more than {} modules", kMaxImportModules);
      std::string module =
          read_name(name_rva, kMaxModuleNameChars, fmt::format("import descriptor {} name", i));
      // Without an import lookup table the IAT doubles as one (old linkers).
      if (lookup == 0) lookup = iat;
      for (uint32_t j = 0;; ++j) {
        uint64_t thunk = uint64_t{lookup} + 8ull * j;
        if (!view().contains(thunk, 8))
          fail(
              "import thunk {} of {} at RVA {:#x} lies outside the image: the thunk array is not "
              "terminated",
              j, module, thunk);
        uint64_t v = view().get<uint64_t>(thunk);
        if (v == 0) break;
        uint64_t slot = uint64_t{iat} + 8ull * j;
        if (!view().contains(slot, 8))
          fail("IAT slot {} of {} at RVA {:#x} lies outside the image (SizeOfImage {:#x})", j,
               module, slot, h().size_of_image);
        ParsedImport imp;
        imp.import.module = module;
        imp.iat_rva = static_cast<uint32_t>(slot);
        if (v & pe::kOrdinalFlag64) {
          imp.import.by_ordinal = true;
          imp.import.ordinal = static_cast<uint16_t>(v & 0xFFFF);
        } else {
          // IMAGE_IMPORT_BY_NAME: a 2-byte hint, then the name.
          if (v > 0x7FFFFFFF || !view().contains(v, 2))
            fail("import {} of {}: hint/name RVA {:#x} lies outside the image (SizeOfImage {:#x})",
                 j, module, v, h().size_of_image);
          imp.import.name = read_name(v + 2, kMaxSymbolNameChars,
                                      fmt::format("import {} of {}: name", j, module));
        }
        if (out_.imports.size() >= kMaxImports)
          fail("the image imports more than {} functions", kMaxImports);
        h().imports.push_back(imp.import);
        out_.imports.push_back(std::move(imp));
      }
    }
  }

  void parse_exports() {
    Dir d = dirs_[pe::kDirExport];
    if (!d.present()) return;
    if (d.size < pe::kExportDirectorySize)
      fail("export directory is {:#x} bytes, smaller than an IMAGE_EXPORT_DIRECTORY (0x28)",
           d.size);
    uint64_t ed = d.rva;
    uint32_t name_rva = view().get<uint32_t>(ed + pe::kEdName);
    uint32_t base = view().get<uint32_t>(ed + pe::kEdBase);
    uint32_t nfuncs = view().get<uint32_t>(ed + pe::kEdNumberOfFunctions);
    uint32_t nnames = view().get<uint32_t>(ed + pe::kEdNumberOfNames);
    uint32_t funcs = view().get<uint32_t>(ed + pe::kEdAddressOfFunctions);
    uint32_t names = view().get<uint32_t>(ed + pe::kEdAddressOfNames);
    uint32_t ords = view().get<uint32_t>(ed + pe::kEdAddressOfNameOrdinals);
    if (name_rva != 0) read_name(name_rva, kMaxModuleNameChars, "export directory module name");
    if (nfuncs > kMaxExportFunctions)
      fail("export directory declares {} functions, more than 16-bit ordinals allow", nfuncs);
    if (nnames > kMaxExportFunctions)
      fail("export directory declares {} names, more than 16-bit ordinals allow", nnames);
    if (nfuncs != 0 && uint64_t{base} + nfuncs - 1 > 0xFFFF)
      fail("export ordinals {}..{} do not fit in 16 bits", base, uint64_t{base} + nfuncs - 1);
    if (!view().contains(funcs, 4ull * nfuncs))
      fail("export address table {:#x} ({} entries) lies outside the image", funcs, nfuncs);
    if (!view().contains(names, 4ull * nnames) || !view().contains(ords, 2ull * nnames))
      fail("export name tables ({} names at {:#x}, ordinals at {:#x}) lie outside the image",
           nnames, names, ords);

    std::multimap<uint32_t, std::string> names_by_index;
    for (uint32_t k = 0; k < nnames; ++k) {
      uint32_t nrva = view().get<uint32_t>(names + 4ull * k);
      uint16_t index = view().get<uint16_t>(ords + 2ull * k);
      if (index >= nfuncs)
        fail("export name {} maps to function index {}, but there are only {} functions", k, index,
             nfuncs);
      names_by_index.emplace(
          index, read_name(nrva, kMaxSymbolNameChars, fmt::format("export name {}", k)));
    }
    for (uint32_t idx = 0; idx < nfuncs; ++idx) {
      uint32_t rva = view().get<uint32_t>(funcs + 4ull * idx);
      if (rva == 0) continue;  // unused ordinal slot
      auto ordinal = static_cast<uint16_t>(base + idx);
      if (rva >= h().size_of_image)
        fail("export ordinal {} RVA {:#x} lies outside the image (SizeOfImage {:#x})", ordinal, rva,
             h().size_of_image);
      auto [lo, hi] = names_by_index.equal_range(idx);
      if (lo == hi) h().exports.push_back({"", ordinal, rva});
      for (auto it = lo; it != hi; ++it) h().exports.push_back({it->second, ordinal, rva});
    }
  }

  void check_unwind_info(uint32_t index, uint32_t unwind) {
    uint32_t soi = h().size_of_image;
    if (unwind & pe::kRuntimeFunctionIndirect) {
      uint64_t target = unwind - 1;
      if (!view().contains(target, pe::kRuntimeFunctionSize))
        fail("RUNTIME_FUNCTION {} names an indirect entry at RVA {:#x} outside the image", index,
             target);
      return;
    }
    if (!view().contains(unwind, 4))
      fail("RUNTIME_FUNCTION {} unwind info RVA {:#x} lies outside the image (SizeOfImage {:#x})",
           index, unwind, soi);
    uint8_t b0 = view().get<uint8_t>(unwind);
    uint8_t version = b0 & 7, flags = b0 >> 3;
    uint8_t codes = view().get<uint8_t>(unwind + 2);
    if (version != 1 && version != 2)
      fail(
          "unwind info at RVA {:#x} (RUNTIME_FUNCTION {}) has version {}; x64 unwind info is "
          "version 1 or 2",
          unwind, index, version);
    // UNWIND_CODE slots are padded to an even count.
    uint64_t tail = uint64_t{unwind} + 4 + 2ull * ((codes + 1u) & ~1u);
    uint64_t need = tail - unwind;
    if (flags & (pe::kUnwFlagEHandler | pe::kUnwFlagUHandler))
      need += 4;
    else if (flags & pe::kUnwFlagChainInfo)
      need += pe::kRuntimeFunctionSize;
    if (!view().contains(unwind, need))
      fail(
          "unwind info at RVA {:#x} with {} unwind codes runs past the end of the image "
          "(SizeOfImage {:#x})",
          unwind, codes, soi);
    if (flags & (pe::kUnwFlagEHandler | pe::kUnwFlagUHandler)) {
      uint32_t handler = view().get<uint32_t>(tail);
      if (handler >= soi)
        fail("unwind info at RVA {:#x} names exception handler RVA {:#x} outside the image", unwind,
             handler);
    } else if (flags & pe::kUnwFlagChainInfo) {
      uint32_t cb = view().get<uint32_t>(tail), ce = view().get<uint32_t>(tail + 4);
      uint32_t cu = view().get<uint32_t>(tail + 8);
      if (cb >= ce || ce > soi || cu >= soi)
        fail(
            "unwind info at RVA {:#x} chains to a RUNTIME_FUNCTION {:#x}-{:#x} (unwind {:#x}) "
            "outside the image",
            unwind, cb, ce, cu);
    }
  }

  void parse_exception_directory() {
    Dir d = dirs_[pe::kDirException];
    if (!d.present()) return;
    uint32_t soi = h().size_of_image;
    if (d.size % pe::kRuntimeFunctionSize)
      fail(
          "exception directory size {:#x} is not a multiple of 12 (the size of a "
          "RUNTIME_FUNCTION)",
          d.size);
    uint32_t n = d.size / pe::kRuntimeFunctionSize;
    auto& fns = out_.runtime_functions;
    fns.reserve(n);
    for (uint32_t i = 0; i < n; ++i) {
      uint64_t at = uint64_t{d.rva} + uint64_t{i} * pe::kRuntimeFunctionSize;
      RuntimeFunction f{view().get<uint32_t>(at), view().get<uint32_t>(at + 4),
                        view().get<uint32_t>(at + 8)};
      if (f.begin >= f.end)
        fail("RUNTIME_FUNCTION {} at RVA {:#x} has begin {:#x} >= end {:#x}", i, at, f.begin,
             f.end);
      if (f.end > soi)
        fail("RUNTIME_FUNCTION {} range {:#x}-{:#x} lies outside the image (SizeOfImage {:#x})", i,
             f.begin, f.end, soi);
      check_unwind_info(i, f.unwind_info);
      fns.push_back(f);
    }
    // RtlLookupFunctionEntry binary-searches the table; kemu sorts it and
    // refuses overlaps, which would make a lookup ambiguous.
    std::stable_sort(
        fns.begin(), fns.end(),
        [](const RuntimeFunction& a, const RuntimeFunction& b) { return a.begin < b.begin; });
    for (size_t i = 1; i < fns.size(); ++i)
      if (fns[i].begin < fns[i - 1].end)
        fail("RUNTIME_FUNCTIONs {:#x}-{:#x} and {:#x}-{:#x} overlap", fns[i - 1].begin,
             fns[i - 1].end, fns[i].begin, fns[i].end);
  }

  void parse_load_config() {
    Dir d = dirs_[pe::kDirLoadConfig];
    if (!d.present()) return;
    h().has_load_config = true;
    if (d.size < 4) return;
    // The structure's own Size field is authoritative (old linkers wrote a
    // legacy 0x40 into the directory size); its bytes must still be mapped.
    uint32_t lc_size = view().get<uint32_t>(d.rva + pe::kLcSize);
    if (lc_size < pe::kLcSecurityCookie + 8) return;  // too old to carry a cookie
    uint64_t field = uint64_t{d.rva} + pe::kLcSecurityCookie;
    if (!view().contains(field, 8))
      fail(
          "load config SecurityCookie field at RVA {:#x} lies outside the image (SizeOfImage "
          "{:#x})",
          field, h().size_of_image);
    uint64_t va = view().get<uint64_t>(field);
    if (va == 0) return;  // built without /GS
    uint64_t base = h().preferred_base;
    if (va < base || va - base > h().size_of_image || h().size_of_image - (va - base) < 8)
      fail(
          "load config SecurityCookie VA {:#x} lies outside the image (ImageBase {:#x}, "
          "SizeOfImage {:#x})",
          va, base, h().size_of_image);
    h().security_cookie_rva = static_cast<uint32_t>(va - base);
    out_.cookie_pointer_rva = static_cast<uint32_t>(field);
  }

  std::span<const uint8_t> file_;
  FileReader raw_;
  ParsedImage out_;
  uint32_t num_sections_ = 0;
  uint32_t num_dirs_ = 0;
  uint64_t oh_ = 0;
  uint64_t section_table_ = 0;
  uint32_t section_alignment_ = 0;
  uint32_t file_alignment_ = 0;
  std::array<Dir, pe::kNumDataDirectories> dirs_{};
  std::vector<ImageView::Backing> backing_;
  std::optional<ImageView> view_;
};

}  // namespace

ParsedImage parse_image(std::span<const uint8_t> file) {
  return Parser(file).run();
}

}  // namespace kemu::loader::detail
