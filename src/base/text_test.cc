#include "base/text.h"

#include <gtest/gtest.h>

#include "base/time.h"

namespace dmarc {
namespace {

TEST(Text, TrimAndCase) {
  EXPECT_EQ(Trim(" \t\r\n pass \n"), "pass");
  EXPECT_EQ(Trim("   "), "");
  EXPECT_EQ(ToLowerAscii("PaSS Ünï"), "pass Ünï");
  EXPECT_TRUE(EqualsIgnoreCase("HardFail", "hardfail"));
  EXPECT_FALSE(EqualsIgnoreCase("fail", "fails"));
}

TEST(Text, EscapeControlsShowsEveryControlCharacterAsAnEscape) {
  EXPECT_EQ(EscapeControls("plain Ünï text, C:\\path"), "plain Ünï text, C:\\path");
  EXPECT_EQ(EscapeControls("a\nb\r\tc"), "a\\nb\\r\\tc");
  EXPECT_EQ(EscapeControls("\x1b[31mred\x1b[0m"), "\\x1b[31mred\\x1b[0m");
  EXPECT_EQ(EscapeControls(std::string("nul\0del\x7f", 8)), "nul\\x00del\\x7f");
  // C1 controls encoded in UTF-8 (U+009B is a CSI), a raw C1 byte, the line separator.
  EXPECT_EQ(EscapeControls("\xc2\x9b"
                           "2J \x9b"
                           "2J \xe2\x80\xa8"),
            "\\u009b2J \\x9b2J \\u2028");
}

TEST(Text, ParseUnsigned) {
  EXPECT_EQ(ParseUnsigned(" 42 "), 42u);
  EXPECT_EQ(ParseUnsigned("+7"), 7u);
  EXPECT_EQ(ParseUnsigned("18446744073709551615"), 18446744073709551615ull);
  EXPECT_FALSE(ParseUnsigned("18446744073709551616"));
  EXPECT_FALSE(ParseUnsigned("-1"));
  EXPECT_FALSE(ParseUnsigned("1 2"));
  EXPECT_FALSE(ParseUnsigned(""));
  EXPECT_EQ(ParseSigned("-12"), -12);
  EXPECT_FALSE(ParseSigned("9223372036854775808"));
}

TEST(Text, Utf8Validation) {
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\x91"));              // windows-1252 quote
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xE2\x82"));          // truncated
}

TEST(Text, RepairUtf8ReplacesEachBadByte) {
  std::string s =
      "a\x91"
      "b\xC3";
  EXPECT_EQ(RepairUtf8(s), 2u);
  EXPECT_EQ(s,
            "a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD");
  std::string ok = "fine";
  EXPECT_EQ(RepairUtf8(ok), 0u);
  EXPECT_EQ(ok, "fine");
}

TEST(Text, StripXmlForbiddenControls) {
  std::string s = "a\x01\tb\x1F\nc";
  EXPECT_EQ(StripXmlForbiddenControls(s), 2u);
  EXPECT_EQ(s, "a\tb\nc");
}

TEST(Time, FormatsUtc) {
  EXPECT_EQ(FormatUtc(0), "1970-01-01 00:00:00");
  EXPECT_EQ(FormatUtc(1538463818), "2018-10-02 07:03:38");
  EXPECT_EQ(FormatUtc(951782400), "2000-02-29 00:00:00");
  EXPECT_EQ(FormatUtcDate(1700086399), "2023-11-15");
}

TEST(Time, ParsesDates) {
  EXPECT_EQ(ParseDate("1970-01-02"), 86400);
  EXPECT_EQ(ParseDate("2000-02-29"), 951782400);
  EXPECT_FALSE(ParseDate("2023-02-30"));
  EXPECT_FALSE(ParseDate("2023-13-01"));
  EXPECT_FALSE(ParseDate("20230101"));
}

TEST(Time, ParsesDateTimes) {
  bool zone = false;
  EXPECT_EQ(ParseDateTime("2016-04-01T00:00:00Z", &zone), 1459468800);
  EXPECT_TRUE(zone);
  EXPECT_EQ(ParseDateTime("2016-04-01T02:30:00.123+02:30"), 1459468800);
  EXPECT_EQ(ParseDateTime("2016-03-31T23:00:00-01:00"), 1459468800);
  EXPECT_EQ(ParseDateTime("2016-04-01 00:00:00", &zone), 1459468800);  // FormatUtc's form
  EXPECT_FALSE(zone);
  EXPECT_EQ(ParseDateTime(FormatUtc(1538463818)), 1538463818);
  for (const char* bad : {"2016-04-01", "2016-04-01T24:00:00Z", "2016-02-30T00:00:00Z",
                          "2016-04-01T00:00:00+0200", "2016-04-01T00:00:00Zjunk", "x"}) {
    EXPECT_FALSE(ParseDateTime(bad).has_value()) << bad;
  }
}

TEST(Time, FloorDay) {
  EXPECT_EQ(FloorDay(86399), 0);
  EXPECT_EQ(FloorDay(86400), 86400);
  EXPECT_EQ(FloorDay(-1), -86400);
}

// Every byte value at every position of a block and across blocks: the sixteen-bytes-at-a-time
// path and the byte-by-byte one agree on what XML allows (tab, LF, CR; not the other controls;
// valid UTF-8 only).
TEST(Text, IsCleanXmlTextJudgesEveryByteWhereverItIs) {
  const std::string base(40, 'a');  // two blocks of 16 bytes and 8 after them
  for (std::size_t at = 0; at < base.size(); ++at) {
    for (int c = 0; c < 0x80; ++c) {
      std::string s = base;
      s[at] = static_cast<char>(c);
      const bool allowed = c >= 0x20 || c == '\t' || c == '\n' || c == '\r';
      EXPECT_EQ(IsCleanXmlText(s), allowed) << "byte " << c << " at " << at;
    }
    for (int c = 0x80; c < 0x100; ++c) {  // a lone byte >= 0x80 is never UTF-8
      std::string s = base;
      s[at] = static_cast<char>(c);
      EXPECT_FALSE(IsCleanXmlText(s)) << "byte " << c << " at " << at;
    }
    if (at + 2 <= base.size()) {
      std::string s = base;
      s.replace(at, 2, "\xC3\xA9");  // é, across a block's end at 15, 31
      EXPECT_TRUE(IsCleanXmlText(s)) << at;
      s[at] = '\n';  // a continuation byte alone
      EXPECT_FALSE(IsCleanXmlText(s)) << at;
    }
  }
  // Indented XML: LF and spaces in every block.
  EXPECT_TRUE(IsCleanXmlText("<feedback>\n  <record>\r\n\t<row>x</row>\n  </record>\n</feedback>"));
  EXPECT_FALSE(IsCleanXmlText("<feedback>\n  <record>\x0B</record>\n</feedback>"));
}

}  // namespace
}  // namespace dmarc
