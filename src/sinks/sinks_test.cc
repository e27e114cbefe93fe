#include <fmt/format.h>
#include <gtest/gtest.h>

#include <iterator>
#include <nlohmann/json.hpp>
#include <random>

#include "sinks/csv_text.h"
#include "sinks/json_text.h"
#include "sinks/parsedmarc_format.h"

namespace dmarc::sinks {
namespace {

model::AggregateReport Sample() {
  model::AggregateReport r;
  r.xml_schema = "1.0";
  r.report_metadata.org_name = "Evil \"Org\", <script>alert('x')</script>";
  r.report_metadata.org_email = "a@b.example";
  r.report_metadata.report_id = "id\n\x01with\\controls";
  r.report_metadata.begin = 1700000000;
  r.report_metadata.end = 1700086399;
  r.report_metadata.errors = {"first", "second"};
  r.policy_published.domain = "example.com";
  r.policy_published.p = "reject";
  r.policy_published.sp = "reject";
  model::Record rec;
  rec.source.ip_address = "192.0.2.1";
  rec.count = 7;
  rec.alignment = {true, false, true};
  rec.interval_begin = 1700000000;
  rec.interval_end = 1700086399;
  rec.policy_evaluated = {"none", "fail", "pass", {{"forwarded", "via, list"}, {std::nullopt, {}}}};
  rec.identifiers.header_from = "example.com";
  rec.dkim = {{"Example.com", "S1", "pass", {}}, {"other.example", "k2", "fail", "bad"}};
  rec.spf = {{"example.com", "mfrom", "pass", {}}};
  r.records.push_back(rec);
  return r;
}

TEST(JsonText, EscapesEverythingJsonRequires) {
  std::string out;
  AppendJsonString(out, std::string("q\"b\\n\nt\tc\x01\x1f", 11));
  EXPECT_EQ(out, R"("q\"b\\n\nt\tc\u0001\u001f")");
}

// For receivers that refuse a document over its encoding (the HTTP outputs): every byte that does
// not start a valid UTF-8 sequence becomes U+FFFD, valid sequences (2, 3 and 4 bytes) stay.
TEST(JsonText, ReplacesInvalidUtf8WhenAskedAndKeepsValidSequences) {
  const std::string valid = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa7";
  const std::string bad =
      "a\xff"             // never in UTF-8
      "\xc0\xaf"          // overlong '/'
      "\xed\xa0\x80"      // a surrogate
      "\xf4\x90\x80\x80"  // above U+10FFFF
      "\xe2\x82";         // cut short
  std::string out;
  AppendJsonString(out, valid + bad + "\"", InvalidUtf8::kReplace);
  const std::string r = "\\ufffd";
  std::string want = "\"" + valid + "a";
  for (int i = 0; i < 12; ++i) want += r;  // 1 + 2 + 3 + 4 + 2 bytes refused
  EXPECT_EQ(out, want + "\\\"\"");
  EXPECT_TRUE(nlohmann::json::accept(out));
  out.clear();
  AppendJsonString(out, valid + bad, InvalidUtf8::kKeep);
  EXPECT_EQ(out, "\"" + valid + bad + "\"");
}

// Strings of every length around the 16-byte blocks the escaping skips at once, of plain bytes
// mixed with each kind it must stop at, against the rules byte by byte.
TEST(JsonText, EscapesAlikeWhereverTheSpecialBytesFallInTheBlocks) {
  auto reference = [](std::string_view s, bool replace) {
    std::string out = "\"";
    for (std::size_t i = 0; i < s.size(); ++i) {
      const auto c = static_cast<unsigned char>(s[i]);
      if (c == '"' || c == '\\') {
        out += '\\';
        out += static_cast<char>(c);
      } else if (c == '\n') {
        out += "\\n";
      } else if (c == '\t') {
        out += "\\t";
      } else if (c < 0x20) {
        out += fmt::format("\\u{:04x}", c);
      } else if (c >= 0x80 && replace) {
        // The test's inputs hold only two-byte sequences (C3 A9) and lone bytes (FF, A9).
        if (c == 0xC3 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0xA9) {
          out += s.substr(i, 2);
          ++i;
        } else {
          out += "\\ufffd";
        }
      } else {
        out += static_cast<char>(c);
      }
    }
    return out + "\"";
  };
  std::mt19937 rng(5);
  const std::string kPieces[] = {
      "a",    "b",        "0",    " ",   "\"", "\\", "\n", "\t", std::string(1, '\x01'),
      "\x1f", "\xc3\xa9", "\xff", "\xa9"};
  for (int round = 0; round < 3000; ++round) {
    std::string s;
    const std::size_t len = rng() % 70;
    while (s.size() < len) {
      // Mostly plain letters, so that many blocks are plain and some hold one special byte.
      const std::size_t k = rng() % 8 < 6 ? rng() % 4 : rng() % std::size(kPieces);
      s += kPieces[k];
    }
    for (const bool replace : {false, true}) {
      std::string out;
      AppendJsonString(out, s, replace ? InvalidUtf8::kReplace : InvalidUtf8::kKeep);
      ASSERT_EQ(out, reference(s, replace)) << replace;
    }
  }
}

TEST(ParsedmarcJson, IsValidJsonWithParsedmarcFields) {
  std::string doc = JsonDocumentBegin();
  std::string fragment;
  AppendAggregateJson(Sample(), fragment, true);
  doc += fragment.substr(1);
  doc += JsonDocumentEnd(true);
  const auto j = nlohmann::json::parse(doc);
  ASSERT_EQ(j["aggregate_reports"].size(), 1u);
  EXPECT_TRUE(j["failure_reports"].empty());
  EXPECT_TRUE(j["smtp_tls_reports"].empty());
  const auto& r = j["aggregate_reports"][0];
  EXPECT_EQ(r["report_metadata"]["org_name"], Sample().report_metadata.org_name);
  EXPECT_EQ(r["report_metadata"]["report_id"], Sample().report_metadata.report_id);
  EXPECT_EQ(r["report_metadata"]["begin_date"], "2023-11-14 22:13:20");
  EXPECT_EQ(r["report_metadata"]["errors"], nlohmann::json({"first", "second"}));
  EXPECT_TRUE(r["policy_published"]["pct"].is_null());
  const auto& rec = r["records"][0];
  EXPECT_EQ(rec["source"]["ip_address"], "192.0.2.1");
  EXPECT_TRUE(rec["source"]["country"].is_null());
  EXPECT_TRUE(rec["source"]["asn"].is_null());
  EXPECT_EQ(rec["count"], 7);
  EXPECT_EQ(rec["alignment"]["dmarc"], true);
  EXPECT_EQ(rec["policy_evaluated"]["policy_override_reasons"][0]["comment"], "via, list");
  EXPECT_TRUE(rec["policy_evaluated"]["policy_override_reasons"][1]["type"].is_null());
  EXPECT_EQ(rec["auth_results"]["dkim"][1]["human_result"], "bad");
  EXPECT_EQ(rec["interval_end"], "2023-11-15 22:13:19");
  EXPECT_EQ(rec["normalized_timespan"], false);
}

TEST(ParsedmarcJson, EmptyDocumentIsValid) {
  const auto j = nlohmann::json::parse(JsonDocumentBegin() + JsonDocumentEnd(false));
  EXPECT_TRUE(j["aggregate_reports"].empty());
}

// Splits one CSV line (RFC 4180) into fields.
std::vector<std::string> SplitCsv(const std::string& text, std::size_t& pos) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (; pos < text.size(); ++pos) {
    const char c = text[pos];
    if (quoted) {
      if (c == '"' && pos + 1 < text.size() && text[pos + 1] == '"') {
        fields.back() += '"';
        ++pos;
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else if (c == '\r' && pos + 1 < text.size() && text[pos + 1] == '\n') {
      pos += 2;
      break;
    } else {
      fields.back() += c;
    }
  }
  return fields;
}

TEST(ParsedmarcCsv, HasTheFortyFourColumnsAndQuotesFields) {
  const std::string header = AggregateCsvHeader();
  std::size_t pos = 0;
  const auto columns = SplitCsv(header, pos);
  ASSERT_EQ(columns.size(), 44u);
  EXPECT_EQ(columns.front(), "xml_schema");
  EXPECT_EQ(columns.back(), "spf_results");

  std::string rows;
  AppendAggregateCsvRows(Sample(), rows);
  pos = 0;
  const auto row = SplitCsv(rows, pos);
  EXPECT_EQ(pos, rows.size());  // exactly one line
  ASSERT_EQ(row.size(), 44u);
  std::map<std::string, std::string> m;
  for (std::size_t i = 0; i < 44; ++i) m[columns[i]] = row[i];
  EXPECT_EQ(m["org_name"], Sample().report_metadata.org_name);
  EXPECT_EQ(m["report_id"], Sample().report_metadata.report_id);
  EXPECT_EQ(m["begin_date"], "2023-11-14 22:13:20");
  EXPECT_EQ(m["errors"], "first|second");
  EXPECT_EQ(m["normalized_timespan"], "False");
  EXPECT_EQ(m["count"], "7");
  EXPECT_EQ(m["spf_aligned"], "True");
  EXPECT_EQ(m["dkim_aligned"], "False");
  EXPECT_EQ(m["policy_override_reasons"], "forwarded,none");
  EXPECT_EQ(m["policy_override_comments"], "via, list|none");
  EXPECT_EQ(m["dkim_domains"], "example.com,other.example");
  EXPECT_EQ(m["dkim_selectors"], "s1,k2");
  EXPECT_EQ(m["pct"], "");
  EXPECT_EQ(m["source_asn"], "");
}

// Report fields are the sender's text: a cell a spreadsheet would run as a formula is shown as
// text (OWASP: a leading '), unless parsedmarc's raw cells are asked for.
TEST(ParsedmarcCsv, CellsThatStartLikeAFormulaAreNeutralisedUnlessRaw) {
  const auto cell = [](std::string_view v) {
    std::string out;
    AppendCsvField(out, v);
    return out;
  };
  EXPECT_EQ(cell("=HYPERLINK(\"http://x\")"), "\"'=HYPERLINK(\"\"http://x\"\")\"");
  EXPECT_EQ(cell("+1+cmd|' /C calc'!A0"), "'+1+cmd|' /C calc'!A0");
  EXPECT_EQ(cell("-2+3"), "'-2+3");
  EXPECT_EQ(cell("@SUM(A1)"), "'@SUM(A1)");
  EXPECT_EQ(cell("\t=1"), "'\t=1");
  EXPECT_EQ(cell("\r=1"), "\"'\r=1\"");
  // Ordinary values are unchanged: addresses (IPv6 too), dates, domains, a formula sign inside.
  for (const char* v : {"2001:db8::1", "::ffff:10.0.0.1", "2023-11-14 22:13:20", "a=b", "x-y"}) {
    EXPECT_EQ(cell(v), v);
  }
  model::AggregateReport r = Sample();
  r.report_metadata.org_name = "=1+1";
  std::string rows;
  AppendAggregateCsvRows(r, rows);
  EXPECT_TRUE(rows.starts_with(",'=1+1,") || rows.find(",'=1+1,") != std::string::npos) << rows;
  SetCsvRaw(true);
  EXPECT_EQ(cell("=1+1"), "=1+1");
  SetCsvRaw(false);
}

}  // namespace
}  // namespace dmarc::sinks
