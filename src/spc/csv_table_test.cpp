#include "spc/csv_table.h"

#include <gtest/gtest.h>

#include <limits>

namespace pf::spc {
namespace {

std::string ErrorOf(std::string_view text) {
  auto t = ParseCsv(text, "data.csv");
  EXPECT_FALSE(t.ok());
  return t.status().message();
}

TEST(CsvTable, ReadsHeaderRowsAndQuotedFields) {
  auto t = ParseCsv("id,note,x\r\n1,\"a, b\",2.5\r\n2,\"say \"\"hi\"\"\",3\n3,\"two\nlines\",-4e-1\n", "data.csv");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->header, (std::vector<std::string>{"id", "note", "x"}));
  ASSERT_EQ(t->rows.size(), 3u);
  EXPECT_EQ(t->rows[0][1], "a, b");
  EXPECT_EQ(t->rows[1][1], "say \"hi\"");
  EXPECT_EQ(t->rows[2][1], "two\nlines");
  EXPECT_EQ(t->lines, (std::vector<int>{2, 3, 4}));
  auto x = t->NumericColumn("x");
  ASSERT_TRUE(x.ok());
  EXPECT_EQ((*x)[0], 2.5);
  EXPECT_EQ((*x)[2], -0.4);
}

TEST(CsvTable, EmptyAndNaCellsAreMissingAndBooleansStayText) {
  auto t = ParseCsv("x,trial\n1,TRUE\n,FALSE\nNA,TRUE\n 7 ,x", "d.csv");
  ASSERT_TRUE(t.ok());
  auto x = *t->NumericColumn("x");
  ASSERT_EQ(x.size(), 4u);
  EXPECT_EQ(x[0], 1.0);
  EXPECT_FALSE(x[1].has_value());
  EXPECT_FALSE(x[2].has_value());
  EXPECT_EQ(x[3], 7.0);
  EXPECT_EQ(t->rows[0][1], "TRUE");
  auto trial = t->NumericColumn("trial");
  ASSERT_FALSE(trial.ok());
  EXPECT_EQ(trial.status().message(), "d.csv:2:2: column 'trial': not a number 'TRUE'");
}

TEST(CsvTable, NumbersAreDecimalAndFinite) {
  auto t = *ParseCsv("x\n0x10\n", "d.csv");
  EXPECT_EQ(t.NumericColumn("x").status().message(), "d.csv:2:1: column 'x': not a number '0x10'");
  for (const char* bad : {"inf", "nan", "1e999", "1.5kg", "--1"}) {
    auto u = *ParseCsv(std::string("x\n") + bad + "\n", "d.csv");
    EXPECT_EQ(u.NumericColumn("x").status().message(), fmt::format("d.csv:2:1: column 'x': not a number '{}'", bad));
  }
}

// Found by fuzz_spc_csv: strtod flags underflow with ERANGE too, and "2e-308" was refused as not a number.
// Below DBL_MIN (2.2250738585072014e-308) a decimal rounds to the nearest subnormal, or to 0 below half
// of the smallest one (4.9406564584124654e-324); only overflow is refused.
TEST(CsvTable, NumbersBelowTheNormalRangeRoundToSubnormalsOrZero) {
  auto t = *ParseCsv("x\n2e-308\n-1e-310\n4.9406564584124654e-324\n1e-400\n1.7976931348623157e308\n", "d.csv");
  auto x = t.NumericColumn("x");
  ASSERT_TRUE(x.ok()) << x.status().ToString();
  ASSERT_EQ(x->size(), 5u);
  EXPECT_EQ((*x)[0], 2e-308);
  EXPECT_LT(*(*x)[0], 2.2250738585072014e-308);  // a subnormal, not clamped to DBL_MIN
  EXPECT_EQ((*x)[1], -1e-310);
  EXPECT_EQ((*x)[2], std::numeric_limits<double>::denorm_min());
  EXPECT_EQ((*x)[3], 0.0);
  EXPECT_EQ((*x)[4], std::numeric_limits<double>::max());
  auto big = *ParseCsv("x\n1.8e308\n", "d.csv");
  EXPECT_EQ(big.NumericColumn("x").status().message(), "d.csv:2:1: column 'x': not a number '1.8e308'");
}

TEST(CsvTable, PreciseErrors) {
  EXPECT_EQ(ErrorOf(""), "data.csv: empty file (expected a header row)");
  EXPECT_EQ(ErrorOf("a,b\n1,2\n3\n"), "data.csv:3: 1 fields, the header has 2");
  EXPECT_EQ(ErrorOf("a,b\n1,\"2\n"), "data.csv:2:2: unterminated quoted field (opened on line 2)");
  EXPECT_EQ(ErrorOf("a,b\n1,\"2\"x\n"), "data.csv:2:2: text after the closing quote");
  EXPECT_EQ(ErrorOf("a,b\n1,2\"\n"), "data.csv:2:2: a quote inside an unquoted field");
  EXPECT_EQ(ErrorOf("a,,b\n"), "data.csv:1:2: empty column name in the header");
  EXPECT_EQ(ErrorOf("a,b,a\n"), "data.csv:1:3: duplicate column name 'a'");
  auto t = *ParseCsv("a,b\n1,2\n", "data.csv");
  EXPECT_EQ(t.Column("z").status().message(), "data.csv: no column 'z' (columns: 'a', 'b')");
  EXPECT_EQ(t.Column("z").status().code(), StatusCode::kNotFound);
}

TEST(CsvTable, BlankLinesAndNoFinalNewline) {
  auto t = ParseCsv("\xEF\xBB\xBFx,y\n1,2\n\n2,3", "d.csv");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->header[0], "x");
  ASSERT_EQ(t->rows.size(), 2u);
  EXPECT_EQ(t->lines, (std::vector<int>{2, 4}));
  // One column: a blank line inside the data is a missing value; trailing ones are not rows.
  auto one = ParseCsv("x\n1\n\n2\n\n\n", "d.csv");
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->rows.size(), 3u);
  EXPECT_EQ(one->lines, (std::vector<int>{2, 3, 4}));
  EXPECT_FALSE((*one->NumericColumn("x"))[1].has_value());
}

}  // namespace
}  // namespace pf::spc
