#include "connect/replay/csv.h"

#include <sstream>

#include <gtest/gtest.h>

namespace pf {
namespace {

std::vector<CsvRow> ReadAll(const std::string& text, CsvOptions opt = {}, bool header_count = false) {
  std::istringstream in(text);
  CsvReader r(in, opt);
  std::vector<CsvRow> rows;
  CsvRow row;
  while (r.Next(row)) {
    if (header_count && rows.empty()) r.ExpectFields(row.fields.size());
    rows.push_back(row);
  }
  return rows;
}

using Fields = std::vector<std::string>;

TEST(Csv, QuotesEscapesAndCrlf) {
  auto rows = ReadAll("a,b,c\r\n\"x, y\",\"he said \"\"hi\"\"\",3\r\n,,\r\n");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].fields, (Fields{"a", "b", "c"}));
  EXPECT_EQ(rows[1].fields, (Fields{"x, y", "he said \"hi\"", "3"}));
  EXPECT_EQ(rows[1].line, 2);
  EXPECT_EQ(rows[2].fields, (Fields{"", "", ""}));
  for (const auto& r : rows) EXPECT_TRUE(r.ok()) << r.detail;
}

TEST(Csv, BomIsSkippedAndBlankLinesCounted) {
  auto rows = ReadAll("\xEF\xBB\xBF" "date,v\n\n01,2\n\r\n02,3");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].fields[0], "date");
  EXPECT_EQ(rows[1].line, 3);
  EXPECT_EQ(rows[2].line, 5);
  EXPECT_EQ(rows[2].fields, (Fields{"02", "3"}));  // last line without a newline is a full row
  EXPECT_TRUE(rows[2].ok());
}

TEST(Csv, MultilineQuotedFieldKeepsLineNumbers) {
  auto rows = ReadAll("a,b\n\"two\nlines\",x\nc,d\n");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1].fields, (Fields{"two\nlines", "x"}));
  EXPECT_EQ(rows[1].line, 2);
  EXPECT_EQ(rows[2].line, 4);
}

TEST(Csv, UnterminatedQuoteAtEndOfFile) {
  auto rows = ReadAll("a,b\n1,2\n3,\"open\n4,5\n", {}, true);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[2].line, 3);
  EXPECT_EQ(rows[2].issue, CsvIssue::kUnterminatedQuote);
  EXPECT_EQ(rows[2].detail, "quoted field 2 opened on line 3 is not closed before the end of the file");
}

TEST(Csv, UnterminatedQuoteOnOneLineWhenMultilineIsOff) {
  CsvOptions opt;
  opt.multiline_fields = false;
  auto rows = ReadAll("a,b\n3,\"open\n4,5\n", opt, true);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1].issue, CsvIssue::kUnterminatedQuote);
  EXPECT_EQ(rows[1].detail, "quoted field 2 is not closed at the end of the line");
  EXPECT_EQ(rows[2].line, 3);
  EXPECT_EQ(rows[2].fields, (Fields{"4", "5"}));
  EXPECT_TRUE(rows[2].ok());
}

TEST(Csv, WrongFieldCountAndTruncatedLastLine) {
  auto rows = ReadAll("a,b,c\n1,2,3\n1,2,3,4\n1,2", {}, true);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_TRUE(rows[1].ok());
  EXPECT_EQ(rows[2].issue, CsvIssue::kFieldCount);
  EXPECT_EQ(rows[2].detail, "expected 3 fields, got 4");
  EXPECT_EQ(rows[3].line, 4);
  EXPECT_EQ(rows[3].detail, "expected 3 fields, got 2 (last line has no line end: truncated?)");
}

TEST(Csv, TextAfterClosingQuote) {
  auto rows = ReadAll("\"ab\"c,d\n");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].issue, CsvIssue::kBadQuote);
  EXPECT_EQ(rows[0].detail, "unexpected character 'c' after the closing quote of field 1");
}

TEST(Csv, RowTooLongIsSkippedAndReadingResumes) {
  CsvOptions opt;
  opt.max_row_bytes = 10;
  auto rows = ReadAll("a,b\n0123456789abcdef,1\nx,y\n", opt);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1].issue, CsvIssue::kRowTooLong);
  EXPECT_EQ(rows[1].line, 2);
  EXPECT_EQ(rows[2].fields, (Fields{"x", "y"}));
  EXPECT_EQ(rows[2].line, 3);
}

TEST(Csv, WhitespaceSeparatorLikeCmapss) {
  auto opt = ParseCsvSeparator("whitespace");
  ASSERT_TRUE(opt.ok());
  auto rows = ReadAll("1 1 -0.0007  100.0\t518.67  \n  2   3 \"a b\" 4\n", *opt);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].fields, (Fields{"1", "1", "-0.0007", "100.0", "518.67"}));
  EXPECT_EQ(rows[1].fields, (Fields{"2", "3", "a b", "4"}));
}

TEST(Csv, OtherSeparators) {
  auto semi = ParseCsvSeparator(";");
  ASSERT_TRUE(semi.ok());
  EXPECT_EQ(ReadAll("a;b,c\n", *semi)[0].fields, (Fields{"a", "b,c"}));
  auto tab = ParseCsvSeparator("tab");
  ASSERT_TRUE(tab.ok());
  EXPECT_EQ(ReadAll("a\tb c\n", *tab)[0].fields, (Fields{"a", "b c"}));
  auto bad = ParseCsvSeparator("::");
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(),
            "separator \"::\": expected one character (\",\", \";\", \"|\"), \"tab\" or \"whitespace\"");
}

TEST(Csv, LargeInputCrossesBufferBoundaries) {
  std::string text = "t,v\n";
  for (int i = 0; i < 20000; ++i) text += std::to_string(i) + ",\"" + std::to_string(i * 2) + "\"\r\n";
  auto rows = ReadAll(text, {}, true);
  ASSERT_EQ(rows.size(), 20001u);
  EXPECT_EQ(rows[12345].fields, (Fields{"12344", "24688"}));
  EXPECT_EQ(rows[20000].line, 20001);
  for (const auto& r : rows) ASSERT_TRUE(r.ok()) << r.line << ": " << r.detail;
}

}  // namespace
}  // namespace pf
