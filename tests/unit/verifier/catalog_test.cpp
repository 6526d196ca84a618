// The check catalog against ../shared/reference/checks.md: every id, in
// order, with the severity the contract gives it.
#include "verifier/catalog.h"

#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace kemu::verifier {
namespace {

using ::testing::ElementsAreArray;

// checks.md, table by table.
const std::vector<std::string> kContractIds = {
    "crash.bugcheck",
    "handle.user-handle-kernel-mode",
    "handle.kernel-handle-user-mode",
    "handle.invalid",
    "handle.no-object-type",
    "handle.no-access-check",
    "handle.not-kernel-handle",
    "handle.user-handle-to-zw",
    "handle.leak",
    "handle.force-access-check-missing",
    "probe.missing",
    "probe.outside-try",
    "probe.kernel-address-accepted",
    "probe.double-fetch",
    "probe.embedded-pointer",
    "probe.user-pointer-to-zw",
    "probe.kernel-irp-user-buffer",
    "buffer.input-overread",
    "buffer.output-overflow",
    "buffer.information-too-large",
    "buffer.uninitialized-output",
    "buffer.length-overflow",
    "buffer.null-mdl",
    "buffer.write-read-locked",
    "irp.double-completion",
    "irp.lost",
    "irp.pending-mismatch",
    "irp.status-mismatch",
    "irp.bad-completion-status",
    "irp.unhandled-success",
    "irp.ioctl-code-masked",
    "irp.any-access-dangerous",
    "irp.use-after-cleanup",
    "irp.insecure-open",
    "irp.stack-copy",
    "pool.leak",
    "pool.overrun",
    "pool.use-after-free",
    "pool.bad-free",
    "pool.must-succeed",
    "pool.null-unchecked",
    "unload.leftovers",
    "irql.api-level",
    "irql.unbalanced",
    "irql.paged-at-dispatch",
    "section.user-view-unsafe",
    "primitive.physical-memory",
    "primitive.msr-write",
    "primitive.port-io",
    "primitive.arbitrary-rw",
    "primitive.process-access",
};

TEST(Catalog, HasEveryContractIdInChecksMdOrder) {
  std::vector<std::string> ids;
  for (const CheckInfo& c : catalog()) ids.emplace_back(c.id);
  EXPECT_THAT(ids, ElementsAreArray(kContractIds));
  EXPECT_EQ(catalog().size(), 51u);
}

TEST(Catalog, SeverityIsErrorExceptTheTwoMarkedWarning) {
  std::set<std::string> warnings;
  for (const CheckInfo& c : catalog()) {
    if (c.severity == "warning")
      warnings.emplace(c.id);
    else
      EXPECT_EQ(c.severity, "error") << c.id;
  }
  EXPECT_EQ(warnings, (std::set<std::string>{"handle.no-access-check", "irp.stack-copy"}));
}

TEST(Catalog, EveryCheckHasItsTextsAndTheImplementedOnesAreMarked) {
  for (const CheckInfo& c : catalog()) {
    EXPECT_FALSE(c.title.empty()) << c.id;
    EXPECT_FALSE(c.seen.empty()) << c.id;
    EXPECT_FALSE(c.microsoft.empty()) << c.id;
    // The rule and the fix are sentences the reports print as they are.
    EXPECT_GT(c.rule.size(), 40u) << c.id;
    EXPECT_EQ(c.rule.back(), '.') << c.id;
    EXPECT_GT(c.fix.size(), 40u) << c.id;
    EXPECT_EQ(c.fix.back(), '.') << c.id;
    // Every check of the catalog is raised today (each with a bug/fixed pair in samples/bugs/).
    EXPECT_TRUE(c.implemented) << c.id;
  }
}

TEST(Catalog, TitlesAndMicrosoftEquivalentsFollowTheContract) {
  const CheckInfo* c = find_check("handle.user-handle-kernel-mode");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->title, "handle from user mode referenced with AccessMode=KernelMode");
  EXPECT_EQ(c->microsoft, "Verifier 0xC4/0xF6; CA C28126");
  EXPECT_EQ(c->rule,
            "A handle that came from user mode must be referenced with the requestor's mode "
            "(Irp->RequestorMode or "
            "ExGetPreviousMode()) so the object manager checks the caller's access; KernelMode "
            "skips every check.");
  EXPECT_EQ(find_check("crash.bugcheck")->microsoft, "the bugcheck itself");
  EXPECT_EQ(find_check("irp.double-completion")->microsoft, "bugcheck 0x44");
  // checks.md's own characters, markdown code marks left out.
  EXPECT_EQ(find_check("handle.leak")->microsoft, "misc checks; 0xC4/0x3F (the 0 \u2192 1 case)");
  EXPECT_EQ(find_check("irql.paged-at-dispatch")->title,
            "pageable code or paged pool touched at IRQL \u2265 DISPATCH");
  EXPECT_EQ(find_check("probe.outside-try")->title, "user memory touched outside a __try");
  EXPECT_EQ(find_check("handle.invalid")->title,
            "reference or close of a handle that does not exist (incl. NULL, closed, tag-bit games)");
  EXPECT_EQ(find_check("buffer.null-mdl")->title,
            "NULL MdlAddress (zero-length direct I/O) dereferenced");
}

TEST(Catalog, LookupsByIdAndIndex) {
  EXPECT_EQ(check_index("crash.bugcheck"), 0);
  EXPECT_EQ(check_index("handle.invalid"), 3);
  EXPECT_EQ(check_index("primitive.process-access"), 50);
  EXPECT_EQ(check_index("handle"), -1);
  EXPECT_EQ(check_index("Handle.Invalid"), -1);  // ids are case-sensitive
  EXPECT_EQ(find_check(""), nullptr);
  EXPECT_EQ(find_check("probe.double-fetch"), &catalog()[13]);
}

TEST(Catalog, SeverityRank) {
  EXPECT_EQ(severity_rank("error"), 0);
  EXPECT_EQ(severity_rank("warning"), 1);
  EXPECT_EQ(severity_rank("note"), 2);
  EXPECT_EQ(severity_rank("fatal"), 3);
  EXPECT_EQ(severity_rank(""), 3);
}

}  // namespace
}  // namespace kemu::verifier
