#include "loader/pe_loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "unit/loader/fake_resolver.h"
#include "unit/loader/pe_builder.h"

namespace kemu::loader {
namespace {

using test::BuiltPe;
using test::FakeResolver;
using ::testing::HasSubstr;

constexpr GuestVa kBase{0xFFFFF80412340000};
constexpr uint64_t kPreferredBase = 0x180000000;

class PeLoaderTest : public ::testing::Test {
 protected:
  PeLoaderTest() { test::add_default_exports(resolver); }

  LoadedImage load(const BuiltPe& pe, uint64_t seed = 0) {
    return load_driver(pe.bytes, "test.sys", space, kBase, resolver, seed);
  }

  emu::AddressSpace space;
  FakeResolver resolver;
};

TEST_F(PeLoaderTest, ValidImageLoadsAtKernelBaseAwayFromPreferredBase) {
  BuiltPe pe = test::build_pe();
  LoadedImage img = load(pe);

  EXPECT_EQ(img.name, "test.sys");
  EXPECT_EQ(img.base, kBase);
  EXPECT_EQ(img.size, 0x6000u);
  EXPECT_EQ(img.entry, kBase + 0x1000);
  EXPECT_EQ(img.headers.preferred_base, kPreferredBase);
  EXPECT_NE(img.base.value, img.headers.preferred_base);
  EXPECT_EQ(img.headers.machine, 0x8664);
  EXPECT_EQ(img.headers.subsystem, 1);
  ASSERT_EQ(img.headers.sections.size(), 5u);
  EXPECT_EQ(img.headers.sections[0].name, ".text");

  const emu::Region* r = space.find(kBase);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->base, kBase);
  EXPECT_EQ(r->size, 0x6000u);
  EXPECT_EQ(r->kind, emu::RegionKind::DriverImage);
  EXPECT_EQ(r->name, "test.sys");
  EXPECT_TRUE(img.contains(kBase + 0x5FFF));
  EXPECT_FALSE(img.contains(kBase + 0x6000));
}

TEST_F(PeLoaderTest, SectionsGetProtectionsFromCharacteristics) {
  LoadedImage img = load(test::build_pe());
  const emu::Region* r = space.find(kBase);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->prot_at(kBase), Prot::Read);                // headers
  EXPECT_EQ(r->prot_at(kBase + 0x1000), Prot::ReadExec);   // .text
  EXPECT_EQ(r->prot_at(kBase + 0x2000), Prot::Read);       // .rdata
  EXPECT_EQ(r->prot_at(kBase + 0x3000), Prot::ReadWrite);  // .data
  EXPECT_EQ(r->prot_at(kBase + 0x4000), Prot::Read);       // .pdata
  EXPECT_EQ(r->prot_at(kBase + 0x5000), Prot::Read);       // .reloc
  EXPECT_TRUE(img.headers.sections[0].executable());
  EXPECT_FALSE(img.headers.sections[2].executable());
  EXPECT_TRUE(space.accessible(kBase + 0x1000, 0x23, Prot::ReadExec));
  EXPECT_FALSE(space.accessible(kBase + 0x2000, 8, Prot::Write));
}

TEST_F(PeLoaderTest, SectionWithoutMemFlagsIsStillReadable) {
  BuiltPe pe = test::build_pe();
  pe.put_section_field(BuiltPe::kPdata, 36, 0x00000040);  // CNT_INITIALIZED_DATA only
  load(pe);
  EXPECT_EQ(space.find(kBase)->prot_at(kBase + 0x4000), Prot::Read);
}

TEST_F(PeLoaderTest, HeadersAndSectionDataAreCopied) {
  BuiltPe pe = test::build_pe();
  LoadedImage img = load(pe);
  EXPECT_EQ(space.read<uint16_t>(kBase), 0x5A4D);
  EXPECT_EQ(space.read<uint32_t>(kBase + 0x80), 0x00004550u);
  EXPECT_EQ(space.read<uint32_t>(kBase + 0x1000), 0x28EC8348u);  // sub rsp,28h
  EXPECT_EQ(space.read<uint8_t>(kBase + 0x1022), 0xC3);
}

TEST_F(PeLoaderTest, BytesBeyondVirtualSizeAreZero) {
  BuiltPe pe = test::build_pe();
  // .text raw data past its 0x23-byte VirtualSize is int3 filler in the file.
  ASSERT_EQ(pe.bytes[pe.file_offset(0x1023)], 0xCC);
  load(pe);
  for (uint64_t off = 0x23; off < 0x1000; ++off)
    ASSERT_EQ(space.read<uint8_t>(kBase + 0x1000 + off), 0) << "offset " << off;
  // .data: VirtualSize 0x800, raw 0x200; the tail is zero and mapped.
  EXPECT_TRUE(space.accessible(kBase + 0x3000, 0x800, Prot::ReadWrite));
  EXPECT_EQ(space.read<uint64_t>(kBase + 0x37F8), 0u);
}

TEST_F(PeLoaderTest, PointerTableInDataPointsAtNewAddresses) {
  BuiltPe pe = test::build_pe();
  LoadedImage img = load(pe);
  GuestVa table = kBase + pe.pointer_table_rva;
  EXPECT_EQ(space.read<uint64_t>(table + 0), (kBase + 0x1000).value);
  EXPECT_EQ(space.read<uint64_t>(table + 8), (kBase + 0x1010).value);
  EXPECT_EQ(space.read<uint64_t>(table + 16), (kBase + 0x2000).value);
  EXPECT_EQ(space.read<uint64_t>(table + 24), (kBase + pe.cookie_rva).value);
  // Four table entries and the load config's SecurityCookie pointer.
  EXPECT_EQ(img.relocations_applied, 5u);
  EXPECT_EQ(space.read<uint64_t>(kBase + pe.load_config_rva + 0x58), (kBase + pe.cookie_rva).value);
}

TEST_F(PeLoaderTest, HighLowRelocationAddsTheLowHalfOfTheDelta) {
  test::PeSpec spec;
  spec.extra_reloc_entries = {0x3000 | 0x20};  // HIGHLOW at 0x3020
  BuiltPe pe = test::build_pe(spec);
  pe.put_rva<uint32_t>(0x3020, 0x12345678);
  LoadedImage img = load(pe);
  uint32_t low_delta = static_cast<uint32_t>(kBase.value - kPreferredBase);
  EXPECT_EQ(space.read<uint32_t>(kBase + 0x3020), 0x12345678u + low_delta);
  EXPECT_EQ(img.relocations_applied, 6u);
}

TEST_F(PeLoaderTest, AbsoluteRelocationsArePadding) {
  test::PeSpec spec;
  spec.extra_reloc_entries = {0x0000, 0x0000};
  LoadedImage img = load(test::build_pe(spec));
  EXPECT_EQ(img.relocations_applied, 5u);
}

TEST_F(PeLoaderTest, BindsImportsByNameAndByOrdinal) {
  BuiltPe pe = test::build_pe();
  LoadedImage img = load(pe);

  GuestVa by_name = kBase + pe.iat_rva.at("ntoskrnl.exe!IoCreateDevice");
  GuestVa by_ordinal = kBase + pe.iat_rva.at("ntoskrnl.exe!#5");
  GuestVa hal = kBase + pe.iat_rva.at("HAL.dll!KeGetCurrentIrql");
  EXPECT_EQ(space.read<uint64_t>(by_name), 0xFFFFF80000010000u);
  EXPECT_EQ(space.read<uint64_t>(by_ordinal), 0xFFFFF80000010050u);
  EXPECT_EQ(space.read<uint64_t>(hal), 0xFFFFF80000020000u);

  ASSERT_EQ(img.imports.size(), 6u);
  const ImportBinding& ord = img.imports[2];
  EXPECT_EQ(ord.module, "ntoskrnl.exe");
  EXPECT_TRUE(ord.by_ordinal);
  EXPECT_EQ(ord.ordinal, 5);
  EXPECT_EQ(ord.name, "");
  EXPECT_EQ(ord.iat_slot, by_ordinal);
  EXPECT_EQ(ord.target, GuestVa{0xFFFFF80000010050});
  EXPECT_FALSE(ord.unknown);
  const ImportBinding& named = img.imports[0];
  EXPECT_EQ(named.name, "IoCreateDevice");
  EXPECT_FALSE(named.by_ordinal);
  EXPECT_EQ(named.iat_slot, by_name);
  EXPECT_FALSE(named.unknown);
  EXPECT_EQ(img.imports[4].module, "HAL.dll");  // as written in the image
}

TEST_F(PeLoaderTest, UnknownImportIsBoundToTheUnknownThunk) {
  BuiltPe pe = test::build_pe();
  LoadedImage img = load(pe);
  EXPECT_THAT(resolver.unknown, ::testing::ElementsAre("HAL.dll!HalMysteryRoutine"));
  const ImportBinding& b = img.imports.back();
  EXPECT_EQ(b.name, "HalMysteryRoutine");
  EXPECT_TRUE(b.unknown);
  EXPECT_EQ(b.target, GuestVa{FakeResolver::kUnknownThunk});
  EXPECT_EQ(space.read<uint64_t>(kBase + pe.iat_rva.at("HAL.dll!HalMysteryRoutine")),
            FakeResolver::kUnknownThunk);
}

TEST_F(PeLoaderTest, UnknownOrdinalIsPassedToBindUnknownWithItsOrdinal) {
  test::PeSpec spec;
  spec.imports = {{"ntoskrnl.exe", {{"", 77}}}};
  LoadedImage img = load(test::build_pe(spec));
  EXPECT_THAT(resolver.unknown, ::testing::ElementsAre("ntoskrnl.exe!#77"));
  EXPECT_TRUE(img.imports[0].unknown);
}

TEST_F(PeLoaderTest, StrictModeRefusesUnknownImportAndMapsNothing) {
  FakeResolver strict(/*strict=*/true);
  test::add_default_exports(strict);
  try {
    load_driver(test::build_pe().bytes, "test.sys", space, kBase, strict, 0);
    FAIL() << "expected LoadError";
  } catch (const LoadError& e) {
    EXPECT_THAT(e.what(), HasSubstr("HAL.dll!HalMysteryRoutine"));
    EXPECT_THAT(e.what(), HasSubstr("--strict-imports"));
  }
  EXPECT_TRUE(space.regions().empty());
  EXPECT_EQ(space.mapped_bytes(), 0u);
}

TEST_F(PeLoaderTest, SecurityCookieGetsANonDefaultValue) {
  BuiltPe pe = test::build_pe();
  LoadedImage img = load(pe, /*seed=*/42);
  ASSERT_TRUE(img.security_cookie.has_value());
  EXPECT_EQ(*img.security_cookie, kBase + pe.cookie_rva);
  uint64_t cookie = space.read<uint64_t>(*img.security_cookie);
  EXPECT_EQ(cookie, img.security_cookie_value);
  EXPECT_NE(cookie, kDefaultSecurityCookie);
  EXPECT_NE(cookie, 0u);
  EXPECT_EQ(cookie >> 48, 0u);
  EXPECT_TRUE(img.headers.has_load_config);
  EXPECT_EQ(img.headers.security_cookie_rva, pe.cookie_rva);
}

TEST_F(PeLoaderTest, SecurityCookieIsDeterministicForASeed) {
  BuiltPe pe = test::build_pe();
  uint64_t first = load(pe, 7).security_cookie_value;
  space.unmap(kBase);
  uint64_t again = load(pe, 7).security_cookie_value;
  space.unmap(kBase);
  uint64_t other = load(pe, 8).security_cookie_value;
  EXPECT_EQ(first, again);
  EXPECT_NE(first, other);
  for (uint64_t seed = 0; seed < 64; ++seed) {
    space.unmap(kBase);
    uint64_t c = load(pe, seed).security_cookie_value;
    EXPECT_EQ(c >> 48, 0u);
    EXPECT_NE(c, kDefaultSecurityCookie);
    EXPECT_NE(c, 0u);
  }
}

TEST_F(PeLoaderTest, ZeroCookieIsInitialisedAndCustomCookieLeftAlone) {
  test::PeSpec zero;
  zero.cookie_value = 0;
  LoadedImage a = load(test::build_pe(zero), 1);
  EXPECT_NE(a.security_cookie_value, 0u);
  space.unmap(kBase);

  test::PeSpec custom;
  custom.cookie_value = 0x0000123456789ABCull;
  LoadedImage b = load(test::build_pe(custom), 1);
  EXPECT_EQ(b.security_cookie_value, 0x0000123456789ABCull);
  EXPECT_EQ(space.read<uint64_t>(*b.security_cookie), 0x0000123456789ABCull);
}

TEST_F(PeLoaderTest, NoLoadConfigMeansNoCookie) {
  test::PeSpec spec;
  spec.with_load_config = false;
  BuiltPe pe = test::build_pe(spec);
  LoadedImage img = load(pe);
  EXPECT_FALSE(img.security_cookie.has_value());
  EXPECT_FALSE(img.headers.has_load_config);
  EXPECT_EQ(space.read<uint64_t>(kBase + pe.cookie_rva), kDefaultSecurityCookie);
  EXPECT_EQ(img.relocations_applied, 4u);
}

TEST_F(PeLoaderTest, LoadConfigTooSmallForACookieIsIgnored) {
  BuiltPe pe = test::build_pe();
  pe.put_rva<uint32_t>(pe.load_config_rva, 0x40);  // a legacy-size structure
  LoadedImage img = load(pe);
  EXPECT_TRUE(img.headers.has_load_config);
  EXPECT_FALSE(img.security_cookie.has_value());
}

TEST_F(PeLoaderTest, CookiePointerWithoutRelocationIsRefused) {
  BuiltPe pe = test::build_pe();
  // Turn the DIR64 entry for the cookie pointer into ABSOLUTE padding: the
  // pointer keeps its preferred-base value, outside the loaded image.
  pe.put_rva<uint16_t>(pe.reloc_rva + 8, 0);
  try {
    load(pe);
    FAIL() << "expected LoadError";
  } catch (const LoadError& e) {
    EXPECT_THAT(e.what(), HasSubstr("SecurityCookie VA"));
    EXPECT_THAT(e.what(), HasSubstr("after relocation"));
  }
  EXPECT_TRUE(space.regions().empty());
}

TEST_F(PeLoaderTest, PdataIsParsedAndSorted) {
  LoadedImage img = load(test::build_pe());
  ASSERT_EQ(img.runtime_functions.size(), 3u);
  EXPECT_EQ(img.runtime_functions[0].begin, 0x1000u);
  EXPECT_EQ(img.runtime_functions[0].end, 0x100Bu);
  EXPECT_EQ(img.runtime_functions[1].begin, 0x1010u);
  EXPECT_EQ(img.runtime_functions[2].begin, 0x1020u);
  EXPECT_EQ(img.runtime_functions[2].end, 0x1023u);
  for (const RuntimeFunction& f : img.runtime_functions) {
    EXPECT_GT(f.unwind_info, 0x2000u);
    EXPECT_LT(f.unwind_info, 0x3000u);
  }
}

TEST_F(PeLoaderTest, FunctionAtFindsTheCoveringEntry) {
  LoadedImage img = load(test::build_pe());
  ASSERT_NE(img.function_at(0x1000), nullptr);
  EXPECT_EQ(img.function_at(0x1000)->begin, 0x1000u);
  EXPECT_EQ(img.function_at(0x100A)->begin, 0x1000u);
  EXPECT_EQ(img.function_at(0x100B), nullptr);  // end is exclusive
  EXPECT_EQ(img.function_at(0x100F), nullptr);  // gap
  EXPECT_EQ(img.function_at(0x1010)->end, 0x1011u);
  EXPECT_EQ(img.function_at(0x1022)->begin, 0x1020u);
  EXPECT_EQ(img.function_at(0x0FFF), nullptr);
  EXPECT_EQ(img.function_at(0x5000), nullptr);
  LoadedImage empty;
  EXPECT_EQ(empty.function_at(0x1000), nullptr);
}

TEST(PeHeadersTest, ParseHeadersListsImportsExportsAndCookieWithoutMapping) {
  BuiltPe pe = test::build_pe();
  PeHeaders h = parse_headers(pe.bytes);
  EXPECT_EQ(h.machine, 0x8664);
  EXPECT_EQ(h.subsystem, 1);
  EXPECT_EQ(h.preferred_base, kPreferredBase);
  EXPECT_EQ(h.size_of_image, 0x6000u);
  EXPECT_EQ(h.size_of_headers, 0x400u);
  EXPECT_EQ(h.entry_rva, 0x1000u);
  EXPECT_EQ(h.timestamp, 0x5F000000u);
  EXPECT_EQ(h.dll_characteristics, 0x160);
  ASSERT_EQ(h.sections.size(), 5u);
  EXPECT_EQ(h.sections[2].name, ".data");
  EXPECT_EQ(h.sections[2].virtual_size, 0x800u);
  EXPECT_EQ(h.sections[2].raw_size, 0x200u);
  EXPECT_EQ(h.sections[2].prot, Prot::ReadWrite);
  EXPECT_EQ(h.sections[0].prot, Prot::ReadExec);

  ASSERT_EQ(h.imports.size(), 6u);
  EXPECT_EQ(h.imports[0].module, "ntoskrnl.exe");
  EXPECT_EQ(h.imports[0].name, "IoCreateDevice");
  EXPECT_TRUE(h.imports[2].by_ordinal);
  EXPECT_EQ(h.imports[2].ordinal, 5);
  EXPECT_EQ(h.imports[5].module, "HAL.dll");
  EXPECT_EQ(h.imports[5].name, "HalMysteryRoutine");

  ASSERT_EQ(h.exports.size(), 2u);
  EXPECT_EQ(h.exports[0].name, "KemuHelper");
  EXPECT_EQ(h.exports[0].ordinal, 1);
  EXPECT_EQ(h.exports[0].rva, 0x1010u);
  EXPECT_EQ(h.exports[1].name, "");
  EXPECT_EQ(h.exports[1].ordinal, 2);
  EXPECT_EQ(h.exports[1].rva, 0x1020u);

  EXPECT_TRUE(h.has_load_config);
  EXPECT_EQ(h.security_cookie_rva, pe.cookie_rva);
}

TEST_F(PeLoaderTest, BaseConflictIsALoadErrorAndLeavesTheOtherRegion) {
  space.map(kBase + 0x2000, 0x1000, Prot::Read, emu::RegionKind::Pool, "pool");
  try {
    load(test::build_pe());
    FAIL() << "expected LoadError";
  } catch (const LoadError& e) {
    EXPECT_THAT(e.what(), HasSubstr("cannot map test.sys"));
  }
  ASSERT_EQ(space.regions().size(), 1u);
  EXPECT_EQ(space.regions().begin()->second.name, "pool");
}

TEST_F(PeLoaderTest, UnalignedOrNonCanonicalBaseIsRefused) {
  BuiltPe pe = test::build_pe();
  EXPECT_THROW(load_driver(pe.bytes, "t.sys", space, kBase + 0x10, resolver), LoadError);
  EXPECT_THROW(load_driver(pe.bytes, "t.sys", space, GuestVa{0x0000800000000000}, resolver),
               LoadError);
  EXPECT_TRUE(space.regions().empty());
}

TEST_F(PeLoaderTest, TwoDriversLoadSideBySide) {
  BuiltPe pe = test::build_pe();
  LoadedImage a = load(pe);
  LoadedImage b = load_driver(pe.bytes, "second.sys", space, kBase + 0x10000, resolver, 0);
  EXPECT_EQ(space.read<uint64_t>(b.base + pe.pointer_table_rva), (b.base + 0x1000).value);
  EXPECT_EQ(space.read<uint64_t>(a.base + pe.pointer_table_rva), (a.base + 0x1000).value);
  EXPECT_EQ(space.regions().size(), 2u);
}

}  // namespace
}  // namespace kemu::loader
