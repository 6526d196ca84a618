#include "cli/checks_command.h"

#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "verifier/catalog.h"

namespace kemu::cli {
namespace {

using ::testing::StartsWith;

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// `kemu checks`: a header, one aligned row per check, a closing count.
TEST(ChecksCommand, TableHasOneAlignedRowPerCheck) {
  std::vector<std::string> rows = lines(render_checks_table());
  ASSERT_EQ(rows.size(), verifier::catalog().size() + 2);
  // Column widths: the longest id (handle.force-access-check-missing, 33), "severity" (8),
  // "implemented" (11), the longest title.
  size_t title_width = 0;
  for (const auto& c : verifier::catalog()) title_width = std::max(title_width, c.title.size());
  std::string header = "id" + std::string(31, ' ') + "  severity  state        title" +
                       std::string(title_width - 5, ' ') + "  Microsoft equivalent";
  EXPECT_EQ(rows[0], header);
  EXPECT_EQ(rows[1], "crash.bugcheck" + std::string(19, ' ') + "  error     implemented  " +
                         "the driver crashed the emulated system" +
                         std::string(title_width - 38, ' ') + "  the bugcheck itself");
  EXPECT_THAT(
      rows[6],
      StartsWith("handle.no-access-check             warning   implemented  caller-supplied"));
  EXPECT_THAT(rows[11],
              StartsWith("probe.missing                      error     implemented  user address"));
  EXPECT_THAT(rows[25],
              StartsWith("irp.double-completion              error     implemented  IRP completed twice"));
  // The Microsoft column starts at the same terminal column on every row, also
  // after a title with a multi-byte character ("\u2265" in irql.paged-at-dispatch).
  auto column_of = [](const std::string& row, const std::string& text) {
    size_t bytes = row.find(text), n = 0;
    for (size_t i = 0; i < bytes; ++i) n += (static_cast<unsigned char>(row[i]) & 0xC0) != 0x80;
    return n;
  };
  size_t ms_column = header.find("Microsoft equivalent");
  EXPECT_EQ(column_of(rows[45], "0xD1"), ms_column) << rows[45];
  EXPECT_EQ(column_of(rows[11], "Verifier security checks; DevCtl"), ms_column) << rows[11];
  EXPECT_EQ(rows[6].substr(rows[6].size() - 32), "  ObReferenceObjectByHandle docs");
  // Every row puts the title at the same column.
  size_t title_column = header.find("title");
  for (size_t i = 1; i + 1 < rows.size(); ++i)
    EXPECT_EQ(rows[i].substr(title_column, verifier::catalog()[i - 1].title.size()),
              verifier::catalog()[i - 1].title)
        << rows[i];
  EXPECT_EQ(rows.back(),
            "51 checks, 51 implemented; 'kemu checks ID' shows one with its rule and fix");
}

TEST(ChecksCommand, DetailShowsRuleAndFix) {
  std::string d = render_check_detail("irp.stack-copy");
  EXPECT_EQ(lines(d)[0], "irp.stack-copy");
  EXPECT_EQ(lines(d)[1], "  severity   warning");
  EXPECT_EQ(lines(d)[2], "  state      implemented");
  EXPECT_EQ(lines(d)[3],
            "  title      next stack location filled by copying the whole current one");
  EXPECT_EQ(lines(d)[5], "  microsoft  \"Creating reliable kernel-mode drivers\"");
  EXPECT_THAT(lines(d)[6], StartsWith("  rule       The next stack location must not inherit"));
  EXPECT_THAT(lines(d)[7], StartsWith("  fix        Use IoCopyCurrentIrpStackLocationToNext"));
  EXPECT_EQ(render_check_detail("no.such"), "");
}

TEST(ChecksCommand, JsonIsTheCatalogAsAnArray) {
  auto j = nlohmann::json::parse(render_checks_json());
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), verifier::catalog().size());
  EXPECT_EQ(j[0]["id"], "crash.bugcheck");
  EXPECT_EQ(j[0]["implemented"], true);
  EXPECT_EQ(j[1]["id"], "handle.user-handle-kernel-mode");
  EXPECT_EQ(j[1]["severity"], "error");
  EXPECT_EQ(j[1]["implemented"], true);
  EXPECT_EQ(j[10]["id"], "probe.missing");
  EXPECT_EQ(j[10]["implemented"], true);
  EXPECT_EQ(j[24]["id"], "irp.double-completion");
  EXPECT_EQ(j[24]["implemented"], true);
  EXPECT_EQ(j[1]["microsoft"], "Verifier 0xC4/0xF6; CA C28126");
  EXPECT_EQ(j[1]["title"], "handle from user mode referenced with AccessMode=KernelMode");
  std::vector<std::string> keys;
  for (auto it = j[1].begin(); it != j[1].end(); ++it) keys.push_back(it.key());
  // nlohmann::json sorts keys; the set is what matters.
  EXPECT_THAT(keys, ::testing::UnorderedElementsAre("id", "severity", "implemented", "title",
                                                    "seen", "microsoft", "rule", "fix"));
}

}  // namespace
}  // namespace kemu::cli
