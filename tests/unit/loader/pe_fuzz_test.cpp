// Fuzz-style robustness: truncations and random byte mutations of a valid
// image must end in success or LoadError — never another exception, a crash,
// a hang or a region left mapped after a refusal.
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "loader/pe_loader.h"
#include "unit/loader/fake_resolver.h"
#include "unit/loader/pe_builder.h"

namespace kemu::loader {
namespace {

constexpr GuestVa kBase{0xFFFFF80412340000};

enum class Outcome { Loaded, Refused };

// Loads `bytes` into a fresh address space; any exception other than LoadError
// fails the test with `what` describing the input.
Outcome try_load(const std::vector<uint8_t>& bytes, const std::string& what) {
  emu::AddressSpace space;
  test::FakeResolver resolver;
  test::add_default_exports(resolver);
  try {
    LoadedImage img = load_driver(bytes, "fuzz.sys", space, kBase, resolver, 3);
    EXPECT_TRUE(space.is_mapped(img.base)) << what;
    EXPECT_NO_THROW(parse_headers(bytes)) << what;
    return Outcome::Loaded;
  } catch (const LoadError& e) {
    EXPECT_TRUE(space.regions().empty()) << what << ": " << e.what();
    EXPECT_NE(std::string(e.what()), "") << what;
    // Some refusals need the load itself (a cookie pointer left unrelocated),
    // so parse_headers may accept; it must not throw anything else.
    try {
      parse_headers(bytes);
    } catch (const LoadError&) {
    }
    return Outcome::Refused;
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": unexpected exception: " << e.what();
  } catch (...) {
    ADD_FAILURE() << what << ": unexpected non-std exception";
  }
  return Outcome::Refused;
}

TEST(PeFuzz, EveryTruncationIsRefusedCleanly) {
  std::vector<uint8_t> full = test::build_pe().bytes;
  int loaded = 0;
  for (size_t len = 0; len < full.size(); len += 7) {
    std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(len));
    if (try_load(cut, "truncated to " + std::to_string(len)) == Outcome::Loaded) ++loaded;
  }
  // Every section's raw data reaches the end of the file, so no prefix is valid.
  EXPECT_EQ(loaded, 0);
  EXPECT_EQ(try_load(full, "the full image"), Outcome::Loaded);
}

TEST(PeFuzz, RandomHeaderMutationsNeverCrash) {
  std::vector<uint8_t> original = test::build_pe().bytes;
  std::mt19937_64 rng(0x6B656D75);  // fixed seed: the same 2000 mutations every run
  int loaded = 0, refused = 0;
  for (int i = 0; i < 2000; ++i) {
    std::vector<uint8_t> m = original;
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < edits; ++k) {
      // Mostly the headers and section table; sometimes anywhere in the file.
      size_t limit = (rng() % 4 == 0) ? m.size() : 0x400;
      size_t at = rng() % limit;
      switch (rng() % 3) {
        case 0:
          m[at] ^= static_cast<uint8_t>(1u << (rng() % 8));
          break;
        case 1:
          m[at] = static_cast<uint8_t>(rng());
          break;
        default:
          m[at] = (rng() % 2) ? 0x00 : 0xFF;
          break;
      }
    }
    if (try_load(m, "mutation " + std::to_string(i)) == Outcome::Loaded)
      ++loaded;
    else
      ++refused;
    if (::testing::Test::HasFailure()) break;  // one report is enough
  }
  // Both outcomes occur: the mutations hit fields that matter and fields that do not.
  EXPECT_GT(loaded, 0);
  EXPECT_GT(refused, 0);
}

TEST(PeFuzz, RandomMutationsOfDirectoriesNeverCrash) {
  test::BuiltPe pe = test::build_pe();
  std::mt19937_64 rng(0x5eed);
  for (int i = 0; i < 1000; ++i) {
    std::vector<uint8_t> m = pe.bytes;
    // Edit the import, unwind, pdata and relocation data (.rdata .. .reloc).
    size_t lo = pe.file_offset(0x2000);
    size_t span = m.size() - lo;
    int edits = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < edits; ++k) m[lo + rng() % span] = static_cast<uint8_t>(rng());
    try_load(m, "directory mutation " + std::to_string(i));
    if (::testing::Test::HasFailure()) break;
  }
}

}  // namespace
}  // namespace kemu::loader
