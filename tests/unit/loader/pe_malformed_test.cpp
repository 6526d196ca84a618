// A corpus of hand-broken images: each must be refused with a LoadError whose
// message names the problem, by parse_headers and by load_driver, and a
// refused load_driver leaves nothing mapped.
#include <functional>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "loader/pe_loader.h"
#include "unit/loader/fake_resolver.h"
#include "unit/loader/pe_builder.h"

namespace kemu::loader {
namespace {

using test::BuiltPe;
using test::PeSpec;

struct Case {
  std::string name;
  std::function<BuiltPe()> make;
  std::string phrase;  // must appear in the LoadError message
};

BuiltPe patched(std::function<void(BuiltPe&)> patch, PeSpec spec = {}) {
  BuiltPe pe = test::build_pe(spec);
  patch(pe);
  return pe;
}

// Offsets used below (PE32+ optional header, section header, file header).
constexpr uint32_t kOhEntry = 0x10, kOhImageBase = 0x18, kOhSectionAlign = 0x20,
                   kOhFileAlign = 0x24, kOhSizeOfImage = 0x38, kOhSizeOfHeaders = 0x3C,
                   kOhSubsystem = 0x44;
constexpr uint32_t kShVirtualSize = 8, kShVirtualAddress = 12, kShSizeOfRawData = 16;
constexpr uint32_t kFhMachine = BuiltPe::kFileHeader, kFhSections = BuiltPe::kFileHeader + 2,
                   kFhOptSize = BuiltPe::kFileHeader + 16;

// The unwind info of the first RUNTIME_FUNCTION in the file.
uint32_t first_unwind_rva(const BuiltPe& pe) {
  return pe.get<uint32_t>(pe.file_offset(pe.pdata_rva + 8));
}

std::vector<Case> corpus() {
  std::vector<Case> c;
  auto add = [&](std::string name, std::function<void(BuiltPe&)> patch, std::string phrase,
                 PeSpec spec = {}) {
    c.push_back(
        {std::move(name), [patch, spec] { return patched(patch, spec); }, std::move(phrase)});
  };

  // DOS and NT headers.
  add(
      "TruncatedDosHeader", [](BuiltPe& p) { p.bytes.resize(40); }, "truncated DOS header");
  add(
      "EmptyFile", [](BuiltPe& p) { p.bytes.clear(); }, "truncated DOS header");
  add(
      "NotMz", [](BuiltPe& p) { p.bytes[0] = 'X'; }, "is not MZ");
  add(
      "BadLfanew", [](BuiltPe& p) { p.put<uint32_t>(0x3C, 0xFFFFFF00); },
      "bad e_lfanew 0xffffff00");
  add(
      "BadNtSignature", [](BuiltPe& p) { p.put<uint32_t>(BuiltPe::kLfanew, 0x01004550); },
      "is not PE\\0\\0");
  add(
      "TruncatedOptionalHeader",
      [](BuiltPe& p) { p.bytes.resize(BuiltPe::kOptionalHeader + 0x40); },
      "truncated optional header");
  add(
      "FileEndsBeforeOptionalHeader",
      [](BuiltPe& p) { p.bytes.resize(BuiltPe::kOptionalHeader + 1); },
      "truncated optional header");
  add(
      "SizeOfOptionalHeaderTooSmall", [](BuiltPe& p) { p.put<uint16_t>(kFhOptSize, 0x60); },
      "SizeOfOptionalHeader 0x60");
  add(
      "SizeOfOptionalHeaderMissesDirectories",
      [](BuiltPe& p) { p.put<uint16_t>(kFhOptSize, 0x80); }, "cannot hold the 16 data directories");
  add(
      "Pe32NotPe32Plus", [](BuiltPe& p) { p.put_opt<uint16_t>(0, 0x10B); }, "is PE32 (32-bit)");
  add(
      "UnknownMagic", [](BuiltPe& p) { p.put_opt<uint16_t>(0, 0x107); }, "magic 0x107");
  add(
      "WrongMachine", [](BuiltPe& p) { p.put<uint16_t>(kFhMachine, 0x14C); },
      "machine 0x14c is not AMD64");
  add(
      "Arm64Machine", [](BuiltPe& p) { p.put<uint16_t>(kFhMachine, 0xAA64); },
      "machine 0xaa64 is not AMD64");
  add(
      "GuiSubsystem", [](BuiltPe& p) { p.put_opt<uint16_t>(kOhSubsystem, 2); },
      "subsystem 2 (WINDOWS_GUI) is not NATIVE (1)");
  add(
      "NotAnExecutableImage", [](BuiltPe& p) { p.put<uint16_t>(BuiltPe::kFileHeader + 18, 0x20); },
      "IMAGE_FILE_EXECUTABLE_IMAGE");
  add(
      "RelocsStripped", [](BuiltPe& p) { p.put<uint16_t>(BuiltPe::kFileHeader + 18, 0x23); },
      "IMAGE_FILE_RELOCS_STRIPPED");
  add(
      "SmallSectionAlignment",
      [](BuiltPe& p) {
        p.put_opt<uint32_t>(kOhSectionAlign, 0x200);
        p.put_opt<uint32_t>(kOhFileAlign, 0x200);
      },
      "below the 0x1000-byte page size");
  add(
      "SectionAlignmentNotPowerOfTwo",
      [](BuiltPe& p) { p.put_opt<uint32_t>(kOhSectionAlign, 0x3000); },
      "SectionAlignment 0x3000 is not a power of two");
  add(
      "FileAlignmentNotPowerOfTwo", [](BuiltPe& p) { p.put_opt<uint32_t>(kOhFileAlign, 0x300); },
      "FileAlignment 0x300 is not a power of two");
  add(
      "FileAlignmentTooSmall", [](BuiltPe& p) { p.put_opt<uint32_t>(kOhFileAlign, 0x10); },
      "FileAlignment 0x10 is outside");
  add(
      "HugeSizeOfImage", [](BuiltPe& p) { p.put_opt<uint32_t>(kOhSizeOfImage, 0x40000000); },
      "SizeOfImage 0x40000000 exceeds kemu's cap of 256 MiB");
  add(
      "ZeroSizeOfImage", [](BuiltPe& p) { p.put_opt<uint32_t>(kOhSizeOfImage, 0); },
      "SizeOfImage is 0");
  add(
      "ImageBaseNotAligned", [](BuiltPe& p) { p.put_opt<uint64_t>(kOhImageBase, 0x180001000ull); },
      "ImageBase 0x180001000 is not 64 KiB aligned");
  add(
      "SizeOfHeadersBeyondFile",
      [](BuiltPe& p) { p.put_opt<uint32_t>(kOhSizeOfHeaders, 0x100000); },
      "SizeOfHeaders 0x100000 lies beyond the end");
  add(
      "SizeOfHeadersMissesSectionTable",
      [](BuiltPe& p) { p.put_opt<uint32_t>(kOhSizeOfHeaders, 0x100); },
      "SizeOfHeaders 0x100 does not cover");

  // Section table.
  add(
      "ZeroSections", [](BuiltPe& p) { p.put<uint16_t>(kFhSections, 0); }, "zero sections");
  add(
      "TooManySections", [](BuiltPe& p) { p.put<uint16_t>(kFhSections, 97); },
      "NumberOfSections 97 exceeds");
  add(
      "SectionTableBeyondFile", [](BuiltPe& p) { p.put<uint16_t>(kFhSections, 96); },
      "section table (96 entries");
  add(
      "SectionRawDataBeyondFile",
      [](BuiltPe& p) { p.put_section_field(BuiltPe::kText, kShSizeOfRawData, 0x20000); },
      "section .text raw data 0x400+0x20000 lies beyond the end of the");
  add(
      "SectionVirtualRangeBeyondSizeOfImage",
      [](BuiltPe& p) { p.put_section_field(BuiltPe::kReloc, kShVirtualSize, 0x5000); },
      "section .reloc virtual range 0x5000+0x5000 lies beyond SizeOfImage 0x6000");
  add(
      "OverlappingSections",
      [](BuiltPe& p) { p.put_section_field(BuiltPe::kData, kShVirtualAddress, 0x2000); },
      "section .data virtual range 0x2000+0x800 overlaps section .rdata");
  add(
      "SectionOverlapsHeaders",
      [](BuiltPe& p) { p.put_section_field(BuiltPe::kText, kShVirtualAddress, 0); },
      "overlaps the headers");
  add(
      "SectionNotAligned",
      [](BuiltPe& p) { p.put_section_field(BuiltPe::kData, kShVirtualAddress, 0x3800); },
      "is not a multiple of SectionAlignment");
  add(
      "SectionNameEscaped",
      [](BuiltPe& p) {
        p.bytes[BuiltPe::kSectionTable + 1] = 0x07;
        p.put_section_field(BuiltPe::kText, kShSizeOfRawData, 0x20000);
      },
      "section .\\x07ext raw data");

  // Entry point.
  add(
      "EntryPointOutsideImage", [](BuiltPe& p) { p.put_opt<uint32_t>(kOhEntry, 0x100000); },
      "entry point RVA 0x100000 lies outside the image");
  add(
      "EntryPointZero", [](BuiltPe& p) { p.put_opt<uint32_t>(kOhEntry, 0); },
      "entry point RVA is 0");
  add(
      "EntryPointNotExecutable", [](BuiltPe& p) { p.put_opt<uint32_t>(kOhEntry, 0x3000); },
      "which is not executable");
  add(
      "EntryPointInGap", [](BuiltPe& p) { p.put_opt<uint32_t>(kOhEntry, 0x1800); },
      "is not inside any section");

  // Data directories.
  add(
      "DirectoryOutsideImage", [](BuiltPe& p) { p.set_directory(6, 0x5F00, 0x200); },
      "debug directory 0x5f00+0x200 lies outside the image");
  add(
      "CertificateBeyondFile", [](BuiltPe& p) { p.set_directory(4, 0x10000, 0x100); },
      "certificate directory (file offset 0x10000+0x100)");

  // Base relocations.
  {
    PeSpec s;
    s.extra_reloc_block = {{0x7000000, {0xA000}}};
    add(
        "RelocationBlockPastTheImage", [](BuiltPe&) {},
        "is for page 0x7000000, past the end of the image", s);
  }
  {
    PeSpec s;
    s.extra_reloc_block = {{0x5000, {0xAFFC}}};
    add(
        "RelocationTargetPastTheImage", [](BuiltPe&) {},
        "relocation target 0x5ffc (8 bytes, block for page 0x5000) extends past the end", s);
  }
  {
    PeSpec s;
    s.extra_reloc_entries = {0x7020};
    add(
        "UnknownRelocationType", [](BuiltPe&) {}, "has type 7; kemu supports only", s);
  }
  add(
      "RelocationBlockTooSmall", [](BuiltPe& p) { p.put_rva<uint32_t>(p.reloc_rva + 4, 4); },
      "has SizeOfBlock 0x4");
  add(
      "RelocationBlockPastDirectory", [](BuiltPe& p) { p.set_directory(5, p.reloc_rva, 20); },
      "runs past the end of the 0x14-byte relocation directory");
  add(
      "RelocationHeaderTruncated", [](BuiltPe& p) { p.set_directory(5, p.reloc_rva, 30); },
      "truncated 2-byte block header");
  add(
      "RelocationBlockHuge",
      [](BuiltPe& p) {
        p.put_rva<uint32_t>(p.reloc_rva + 4, 0x4000);
        p.set_directory(5, p.reloc_rva, 0x4000);
        p.put_section_field(BuiltPe::kReloc, kShVirtualSize, 0x1000);
        p.put_opt<uint32_t>(kOhSizeOfImage, 0x9000);
      },
      "more than one page can need");

  // Imports.
  add(
      "ImportHintNameRvaOutOfRange",
      [](BuiltPe& p) {
        p.put_rva<uint64_t>(p.lookup_rva.at("ntoskrnl.exe!IoCreateDevice"), 0x7FFFFF00);
      },
      "hint/name RVA 0x7fffff00 lies outside the image");
  add(
      "ImportHintNameRvaHighBits",
      [](BuiltPe& p) {
        p.put_rva<uint64_t>(p.lookup_rva.at("HAL.dll!KeGetCurrentIrql"), 0x100002000ull);
      },
      "import 0 of HAL.dll: hint/name RVA 0x100002000");
  add(
      "ImportModuleNameRvaOutOfRange",
      [](BuiltPe& p) { p.put_rva<uint32_t>(p.import_directory_rva + 12, 0x10000000); },
      "import descriptor 0 name RVA 0x10000000 lies outside the image");
  {
    PeSpec s;
    s.unterminated_import_name = true;
    add(
        "UnterminatedImportName", [](BuiltPe&) {}, "is not NUL-terminated within the image", s);
  }
  add(
      "ImportThunkArrayOutsideImage",
      [](BuiltPe& p) { p.put_rva<uint32_t>(p.import_directory_rva + 0, 0x5FFC); },
      "thunk array is not terminated");
  add(
      "ImportIatOutsideImage",
      [](BuiltPe& p) { p.put_rva<uint32_t>(p.import_directory_rva + 16, 0x5FFC); },
      "IAT slot 0 of ntoskrnl.exe at RVA 0x5ffc lies outside the image");
  add(
      "ImportDescriptorsUnterminated",
      [](BuiltPe& p) {
        // Give .reloc a full page of raw data and copy descriptor 0 into its
        // last 20 bytes: the array then runs into the end of the image.
        uint32_t ptr = p.get<uint32_t>(p.section_header(BuiltPe::kReloc) + 20);
        p.bytes.resize(ptr + 0x1000, 0);
        p.put_section_field(BuiltPe::kReloc, kShSizeOfRawData, 0x1000);
        p.put_section_field(BuiltPe::kReloc, kShVirtualSize, 0x1000);
        uint32_t from = p.file_offset(p.import_directory_rva), to = p.file_offset(0x5FEC);
        for (uint32_t i = 0; i < 20; ++i) p.bytes[to + i] = p.bytes[from + i];
        p.set_directory(1, 0x5FEC, 0x14);
      },
      "import descriptor 1 at RVA 0x6000 lies outside the image: the descriptor array is not "
      "terminated");
  add(
      "EmptyImportName",
      [](BuiltPe& p) {
        uint64_t hn = p.get<uint64_t>(p.file_offset(p.lookup_rva.at("ntoskrnl.exe!DbgPrint")));
        p.put_rva<uint8_t>(static_cast<uint32_t>(hn) + 2, 0);
      },
      "import 3 of ntoskrnl.exe: name at RVA");

  // Exports.
  add(
      "ExportTooManyFunctions",
      [](BuiltPe& p) {
        uint32_t ed = p.get<uint32_t>(BuiltPe::kOptionalHeader + 0x70);
        p.put_rva<uint32_t>(ed + 20, 0x20000);
      },
      "export directory declares 131072 functions");
  add(
      "ExportTooManyNames",
      [](BuiltPe& p) {
        uint32_t ed = p.get<uint32_t>(BuiltPe::kOptionalHeader + 0x70);
        p.put_rva<uint32_t>(ed + 24, 0x20000);
      },
      "export directory declares 131072 names");
  add(
      "ExportNameOrdinalOutOfRange",
      [](BuiltPe& p) {
        uint32_t ed = p.get<uint32_t>(BuiltPe::kOptionalHeader + 0x70);
        uint32_t ords = p.get<uint32_t>(p.file_offset(ed + 36));
        p.put_rva<uint16_t>(ords, 9);
      },
      "maps to function index 9, but there are only 2 functions");
  add(
      "ExportFunctionOutsideImage",
      [](BuiltPe& p) {
        uint32_t ed = p.get<uint32_t>(BuiltPe::kOptionalHeader + 0x70);
        uint32_t funcs = p.get<uint32_t>(p.file_offset(ed + 28));
        p.put_rva<uint32_t>(funcs + 4, 0x9000);
      },
      "export ordinal 2 RVA 0x9000 lies outside the image");

  // Exception directory (.pdata) and unwind info.
  add(
      "PdataBeginAfterEnd", [](BuiltPe& p) { p.put_rva<uint32_t>(p.pdata_rva, 0x1030); },
      "has begin 0x1030 >= end 0x1023");
  add(
      "PdataSizeNotMultipleOf12", [](BuiltPe& p) { p.set_directory(3, p.pdata_rva, 0x20); },
      "exception directory size 0x20 is not a multiple of 12");
  add(
      "PdataEndOutsideImage", [](BuiltPe& p) { p.put_rva<uint32_t>(p.pdata_rva + 4, 0x7000); },
      "range 0x1020-0x7000 lies outside the image");
  add(
      "PdataEntriesOverlap", [](BuiltPe& p) { p.put_rva<uint32_t>(p.pdata_rva + 16, 0x1021); },
      "RUNTIME_FUNCTIONs 0x1010-0x1021 and 0x1020-0x1023 overlap");
  add(
      "UnwindInfoOutsideImage",
      [](BuiltPe& p) { p.put_rva<uint32_t>(p.pdata_rva + 8, 0x10000000); },
      "unwind info RVA 0x10000000 lies outside the image");
  add(
      "UnwindInfoBadVersion", [](BuiltPe& p) { p.put_rva<uint8_t>(first_unwind_rva(p), 0x03); },
      "has version 3");
  add(
      "UnwindCodesPastTheImage",
      [](BuiltPe& p) {
        // Point the unwind info at the last 4 bytes of .reloc and claim codes.
        p.put_section_field(BuiltPe::kReloc, kShVirtualSize, 0x200);
        p.put_opt<uint32_t>(kOhSizeOfImage, 0x5200);
        p.put_rva<uint32_t>(p.pdata_rva + 8, 0x51FC);
        p.put_rva<uint32_t>(0x51FC, 0x00100001);
      },
      "with 16 unwind codes runs past the end of the image");
  add(
      "UnwindHandlerOutsideImage",
      [](BuiltPe& p) {
        uint32_t u = first_unwind_rva(p);          // push/pop function: one code, padded to two
        p.put_rva<uint8_t>(u, 0x01 | (0x1 << 3));  // UNW_FLAG_EHANDLER
        p.put_rva<uint32_t>(u + 8, 0x00F00000);
      },
      "names exception handler RVA 0xf00000 outside the image");

  // Load config.
  add(
      "SecurityCookieOutsideImage",
      [](BuiltPe& p) { p.put_rva<uint64_t>(p.load_config_rva + 0x58, 0x190000000ull); },
      "SecurityCookie VA 0x190000000 lies outside the image");
  add(
      "SecurityCookieStraddlesImageEnd",
      [](BuiltPe& p) { p.put_rva<uint64_t>(p.load_config_rva + 0x58, 0x180005FFCull); },
      "SecurityCookie VA 0x180005ffc lies outside the image");
  return c;
}

class MalformedPe : public ::testing::TestWithParam<Case> {};

TEST_P(MalformedPe, IsRefusedWithAClearMessage) {
  const Case& c = GetParam();
  BuiltPe pe = c.make();

  try {
    parse_headers(pe.bytes);
    ADD_FAILURE() << "parse_headers accepted the image";
  } catch (const LoadError& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr(c.phrase));
  }

  emu::AddressSpace space;
  test::FakeResolver resolver;
  test::add_default_exports(resolver);
  try {
    load_driver(pe.bytes, "broken.sys", space, GuestVa{0xFFFFF80412340000}, resolver, 1);
    ADD_FAILURE() << "load_driver accepted the image";
  } catch (const LoadError& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr(c.phrase));
  }
  EXPECT_TRUE(space.regions().empty());
}

INSTANTIATE_TEST_SUITE_P(Corpus, MalformedPe, ::testing::ValuesIn(corpus()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return info.param.name;
                         });

TEST(MalformedPeBaseline, TheUnbrokenImageLoads) {
  // Guards the corpus: each case must fail because of its own patch.
  BuiltPe pe = test::build_pe();
  EXPECT_NO_THROW(parse_headers(pe.bytes));
}

}  // namespace
}  // namespace kemu::loader
