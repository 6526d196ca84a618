// FsRtlIsNameInExpression's matching as ZwQueryDirectoryFile applies it.
#include <gtest/gtest.h>

#include "ntoskrnl-stubs/fs/name_match.h"

namespace {

using kemu::nt::fs::has_wildcards;
using kemu::nt::fs::name_in_expression;

TEST(NameMatch, StarMatchesAnyRunIncludingNone) {
  EXPECT_TRUE(name_in_expression(u"*", u"", true));
  EXPECT_TRUE(name_in_expression(u"*", u"a.txt", true));
  EXPECT_TRUE(name_in_expression(u"*.TXT", u"notes.txt", true));
  EXPECT_TRUE(name_in_expression(u"*.TXT", u".txt", true));
  EXPECT_FALSE(name_in_expression(u"*.TXT", u"notes.txt.bak", true));
  EXPECT_TRUE(name_in_expression(u"A*B*C", u"aXXbYYc", true));
  EXPECT_FALSE(name_in_expression(u"A*B*C", u"aXXcYYb", true));
  // "*.*" needs a period ('.' is literal in an NT expression).
  EXPECT_TRUE(name_in_expression(u"*.*", u".", true));
  EXPECT_TRUE(name_in_expression(u"*.*", u"a.b", true));
  EXPECT_FALSE(name_in_expression(u"*.*", u"noext", true));
}

TEST(NameMatch, QuestionMarkIsExactlyOneCharacter) {
  EXPECT_TRUE(name_in_expression(u"FILE?.TXT", u"file1.txt", true));
  EXPECT_FALSE(name_in_expression(u"FILE?.TXT", u"file.txt", true));
  EXPECT_FALSE(name_in_expression(u"FILE?.TXT", u"file12.txt", true));
  EXPECT_TRUE(name_in_expression(u"??", u"ab", true));
  EXPECT_FALSE(name_in_expression(u"??", u"a", true));
}

TEST(NameMatch, CaseFollowsIgnoreCase) {
  // The expression is upcased by the caller when it ignores case.
  EXPECT_TRUE(name_in_expression(u"DATA.TXT", u"data.txt", true));
  EXPECT_FALSE(name_in_expression(u"DATA.TXT", u"data.txt", false));
  EXPECT_TRUE(name_in_expression(u"data.txt", u"data.txt", false));
}

TEST(NameMatch, DosWildcards) {
  // DOS_STAR '<' stops before the final period; DOS_QM '>' matches one
  // character or nothing at a period / the end; DOS_DOT '"' is a period or
  // nothing at the end.
  EXPECT_TRUE(name_in_expression(u"<.TXT", u"a.b.txt", true));
  EXPECT_TRUE(name_in_expression(u"<", u"noext", true));
  EXPECT_FALSE(name_in_expression(u"<", u"a.txt", true));
  EXPECT_TRUE(name_in_expression(u"<\"*", u"a.txt", true));
  EXPECT_TRUE(name_in_expression(u">>>", u"ab", true));
  EXPECT_TRUE(name_in_expression(u">>>.TXT", u"ab.txt", true));
  EXPECT_FALSE(name_in_expression(u">>", u"abc", true));
  EXPECT_TRUE(name_in_expression(u"A\"", u"a", true));
  EXPECT_TRUE(name_in_expression(u"A\"B", u"a.b", true));
}

TEST(NameMatch, WildcardDetection) {
  EXPECT_FALSE(has_wildcards(u"plain.txt"));
  for (const char16_t* e : {u"*", u"a?", u"<", u">", u"\""}) EXPECT_TRUE(has_wildcards(e));
}

}  // namespace
