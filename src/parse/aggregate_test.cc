#include "parse/aggregate.h"

#include <gtest/gtest.h>

#include <numeric>

#include "testing/test_util.h"

namespace dmarc::parse {
namespace {

using dmarc::testing::ReadFile;
using dmarc::testing::TestData;

// A small report; pieces can be replaced to build each case.
struct Doc {
  std::string decl = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  std::string version = "<version>1.0</version>";
  std::string org = "<org_name>example.net</org_name>";
  std::string email = "<email>dmarc@example.net</email>";
  std::string report_id = "<report_id>r-1</report_id>";
  std::string range = "<date_range><begin>1700000000</begin><end>1700086399</end></date_range>";
  std::string policy =
      "<policy_published><domain>example.com</domain><adkim>s</adkim>"
      "<aspf>r</aspf><p>reject</p><sp>quarantine</sp><pct>100</pct>"
      "<fo>1</fo></policy_published>";
  std::string records = Record("192.0.2.1", "5", "none", "pass", "fail");

  static std::string Record(const std::string& ip, const std::string& count,
                            const std::string& disposition, const std::string& dkim,
                            const std::string& spf, const std::string& extra = "") {
    return "<record><row><source_ip>" + ip + "</source_ip><count>" + count +
           "</count><policy_evaluated><disposition>" + disposition + "</disposition><dkim>" + dkim +
           "</dkim><spf>" + spf + "</spf>" + extra +
           "</policy_evaluated></row><identifiers><header_from>Example.COM</header_from>"
           "</identifiers><auth_results><dkim><domain>example.com</domain><selector>s1</selector>"
           "<result>pass</result></dkim><spf><domain>bounce.example.com</domain>"
           "<result>fail</result></spf></auth_results></record>";
  }

  std::string str() const {
    return decl + "<feedback>" + version + "<report_metadata>" + org + email + report_id + range +
           "</report_metadata>" + policy + records + "</feedback>";
  }
};

model::AggregateReport MustParse(const std::string& xml, AggregateOptions opts = {}) {
  auto r = ParseAggregateXml(xml, opts);
  EXPECT_TRUE(r.ok()) << r.error();
  if (!r.ok()) return {};
  return std::move(r).value();
}

bool HasError(const model::AggregateReport& r, const std::string& needle) {
  for (const auto& e : r.report_metadata.errors) {
    if (e.find(needle) != std::string::npos) return true;
  }
  return false;
}

TEST(Aggregate, LooksLikeAReportOnlyWithAFeedbackStartTag) {
  EXPECT_TRUE(LooksLikeAggregateXml("<?xml version=\"1.0\"?>\n<feedback>"));
  EXPECT_TRUE(LooksLikeAggregateXml("<feedback xmlns=\"urn:ietf:params:xml:ns:dmarc-2.0\">"));
  EXPECT_TRUE(LooksLikeAggregateXml("<dmarc:feedback xmlns:dmarc=\"x\">"));
  EXPECT_TRUE(LooksLikeAggregateXml("<root><feedback\n>"));
  EXPECT_TRUE(LooksLikeAggregateXml("<feedback"));  // the look-ahead may end inside the tag
  EXPECT_FALSE(LooksLikeAggregateXml("<div>For any feedback/suggestions, mail us</div>"));
  EXPECT_FALSE(LooksLikeAggregateXml("<p>DMARC <b>feedback</b></p><feedbacks>"));
  EXPECT_FALSE(LooksLikeAggregateXml("<a:feedbackx/><nofeedback>"));
}

TEST(Aggregate, ReadsEveryRfc7489Field) {
  Doc d;
  d.records = Doc::Record("192.0.2.1", "5", "quarantine", "pass", "fail",
                          "<reason><type>forwarded</type><comment>list</comment></reason>"
                          "<reason><type>local_policy</type></reason>");
  auto r = MustParse(d.str());
  EXPECT_EQ(r.xml_schema, "1.0");
  EXPECT_EQ(r.report_metadata.org_name, "example.net");
  EXPECT_EQ(r.report_metadata.org_email, "dmarc@example.net");
  EXPECT_EQ(r.report_metadata.report_id, "r-1");
  EXPECT_EQ(r.report_metadata.begin, 1700000000);
  EXPECT_EQ(r.report_metadata.end, 1700086399);
  EXPECT_EQ(r.policy_published.domain, "example.com");
  EXPECT_EQ(r.policy_published.adkim, "s");
  EXPECT_EQ(r.policy_published.sp, "quarantine");
  EXPECT_EQ(r.policy_published.pct, "100");
  EXPECT_EQ(r.policy_published.fo, "1");
  ASSERT_EQ(r.records.size(), 1u);
  const auto& rec = r.records[0];
  EXPECT_EQ(rec.source.ip_address, "192.0.2.1");
  EXPECT_EQ(rec.count, 5u);
  EXPECT_EQ(rec.policy_evaluated.disposition, "quarantine");
  ASSERT_EQ(rec.policy_evaluated.policy_override_reasons.size(), 2u);
  EXPECT_EQ(rec.policy_evaluated.policy_override_reasons[0].type, "forwarded");
  EXPECT_EQ(rec.policy_evaluated.policy_override_reasons[0].comment, "list");
  EXPECT_FALSE(rec.policy_evaluated.policy_override_reasons[1].comment.has_value());
  EXPECT_EQ(rec.identifiers.header_from, "example.com");  // lower-cased
  // envelope_from missing: taken from the last SPF result, as parsedmarc does.
  EXPECT_EQ(rec.identifiers.envelope_from, "bounce.example.com");
  ASSERT_EQ(rec.dkim.size(), 1u);
  EXPECT_EQ(rec.dkim[0].selector, "s1");
  ASSERT_EQ(rec.spf.size(), 1u);
  EXPECT_EQ(rec.spf[0].scope, "mfrom");  // default scope
  EXPECT_TRUE(rec.alignment.dkim);
  EXPECT_FALSE(rec.alignment.spf);
  EXPECT_TRUE(rec.alignment.dmarc);
  EXPECT_TRUE(r.report_metadata.errors.empty());
}

TEST(Aggregate, AppliesParsedmarcDefaults) {
  Doc d;
  d.version = "";
  d.policy = "<policy_published><domain>Example.com</domain><p>none</p></policy_published>";
  auto r = MustParse(d.str());
  EXPECT_EQ(r.xml_schema, "draft");
  EXPECT_EQ(r.policy_published.domain, "example.com");
  EXPECT_EQ(r.policy_published.adkim, "r");
  EXPECT_EQ(r.policy_published.aspf, "r");
  EXPECT_EQ(r.policy_published.sp, "none");  // sp defaults to p
  EXPECT_FALSE(r.policy_published.pct.has_value());
  EXPECT_FALSE(r.policy_published.fo.has_value());
  EXPECT_FALSE(r.policy_published.np.has_value());
}

TEST(Aggregate, OrgNameRules) {
  Doc d;
  d.org = "<org_name></org_name>";
  d.email = "<email>Admin@Reports.Example.co.uk</email>";
  EXPECT_EQ(MustParse(d.str()).report_metadata.org_name, "example.co.uk");
  d.org = "<org_name>Outlook.com</org_name>";
  EXPECT_EQ(MustParse(d.str()).report_metadata.org_name, "outlook.com");
  d.org = "<org_name> FastMail Pty Ltd </org_name>";
  EXPECT_EQ(MustParse(d.str()).report_metadata.org_name, "FastMail Pty Ltd");
  d.org = "<org_name>Mimecast</org_name>";
  EXPECT_EQ(MustParse(d.str()).report_metadata.org_name, "Mimecast");
}

TEST(Aggregate, ReportIdIsStripped) {
  Doc d;
  d.report_id = "<report_id> &lt;abc123@mx.example.net&gt; </report_id>";
  EXPECT_EQ(MustParse(d.str()).report_metadata.report_id, "abc123");
}

TEST(Aggregate, ReadsRfc9990WithNamespace) {
  auto r = MustParse(ReadFile(TestData("real/parsedmarc-samples/aggregate/rfc9990-sample.xml")));
  EXPECT_EQ(r.xml_namespace, "urn:ietf:params:xml:ns:dmarc-2.0");
  EXPECT_EQ(r.report_metadata.generator, "Example DMARC Aggregate Reporter v1.2");
  EXPECT_EQ(r.report_metadata.org_extra_contact_info, "...");
  EXPECT_EQ(r.policy_published.np, "none");
  EXPECT_EQ(r.policy_published.testing, "n");
  EXPECT_EQ(r.policy_published.discovery_method, "treewalk");
  ASSERT_EQ(r.records.size(), 1u);
  EXPECT_EQ(r.records[0].policy_evaluated.disposition, "pass");
  EXPECT_EQ(r.records[0].count, 123u);
}

TEST(Aggregate, ReadsRfc9990ExtrasAndPrefixedNames) {
  const std::string xml =
      "<d:feedback xmlns:d=\"urn:ietf:params:xml:ns:dmarc-2.0\"><d:version>2.0</d:version>"
      "<d:report_metadata><d:org_name>Example Inc</d:org_name><d:email>x@example.org</d:email>"
      "<d:report_id>id-9</d:report_id><d:date_range><d:begin>1700000000</d:begin>"
      "<d:end>1700003600</d:end></d:date_range><d:error lang=\"en\">bad DNS</d:error>"
      "</d:report_metadata><d:policy_published><d:domain>example.com</d:domain><d:p>reject</d:p>"
      "<d:np>quarantine</d:np><d:testing>y</d:testing><d:discovery_method>psl</d:discovery_method>"
      "</d:policy_published><d:record><d:row><d:source_ip>2001:db8::1</d:source_ip>"
      "<d:count>2</d:count><d:policy_evaluated><d:disposition>reject</d:disposition>"
      "<d:dkim>fail</d:dkim><d:spf>fail</d:spf><d:reason><d:type>policy_test_mode</d:type>"
      "<d:comment lang=\"en\">testing</d:comment></d:reason></d:policy_evaluated></d:row>"
      "<d:identities><d:header_from>example.com</d:header_from>"
      "<d:envelope_from>example.org</d:envelope_from><d:envelope_to>example.net</d:envelope_to>"
      "</d:identities><d:auth_results><d:dkim><d:domain>example.org</d:domain>"
      "<d:selector>sel</d:selector><d:result>fail</d:result>"
      "<d:human_result lang=\"en\">bad signature</d:human_result></d:dkim>"
      "<d:spf><d:domain>example.org</d:domain><d:scope>mfrom</d:scope><d:result>softfail</d:result>"
      "</d:spf></d:auth_results></d:record>"
      "<d:extension><x:thing xmlns:x=\"urn:x\">ignored</x:thing></d:extension></d:feedback>";
  auto r = MustParse(xml);
  EXPECT_EQ(r.xml_schema, "2.0");
  EXPECT_EQ(r.policy_published.np, "quarantine");
  EXPECT_EQ(r.policy_published.testing, "y");
  EXPECT_EQ(r.policy_published.discovery_method, "psl");
  EXPECT_TRUE(HasError(r, "reporter: bad DNS"));
  ASSERT_EQ(r.records.size(), 1u);
  const auto& rec = r.records[0];
  EXPECT_EQ(rec.source.ip_address, "2001:db8::1");
  EXPECT_EQ(rec.identifiers.envelope_from, "example.org");
  EXPECT_EQ(rec.identifiers.envelope_to, "example.net");
  EXPECT_EQ(rec.policy_evaluated.policy_override_reasons[0].type, "policy_test_mode");
  EXPECT_EQ(rec.policy_evaluated.policy_override_reasons[0].comment, "testing");
  EXPECT_EQ(rec.dkim[0].human_result, "bad signature");
  EXPECT_EQ(rec.spf[0].result, "softfail");
  EXPECT_FALSE(rec.alignment.dmarc);
}

TEST(Aggregate, ToleratesSloppyReporters) {
  Doc d;
  d.decl = "\xEF\xBB\xBF<?xml version=\"1.0\"?>\n";
  d.records = Doc::Record(" 192.0.2.7 ", " 12\n", " None ", "Pass", " hardfail ");
  auto r = MustParse(d.str());
  EXPECT_TRUE(HasError(r, "byte order mark"));
  EXPECT_TRUE(HasError(r, "hardfail"));
  ASSERT_EQ(r.records.size(), 1u);
  EXPECT_EQ(r.records[0].source.ip_address, "192.0.2.7");
  EXPECT_EQ(r.records[0].count, 12u);
  EXPECT_EQ(r.records[0].policy_evaluated.disposition, "none");
  EXPECT_EQ(r.records[0].policy_evaluated.dkim, "pass");
  EXPECT_EQ(r.records[0].policy_evaluated.spf, "fail");
}

TEST(Aggregate, TranscodesDeclaredWindows1252) {
  Doc d;
  d.decl = "<?xml version=\"1.0\" encoding=\"windows-1252\"?>\n";
  d.org = "<org_name>Caf\xE9 \x93Mail\x94</org_name>";
  auto r = MustParse(d.str());
  EXPECT_EQ(r.report_metadata.org_name, "Caf\xC3\xA9 \xE2\x80\x9CMail\xE2\x80\x9D");
  EXPECT_TRUE(HasError(r, "windows-1252"));
}

TEST(Aggregate, ReplacesInvalidUtf8) {
  auto r = MustParse(ReadFile(TestData("real/parsedmarc-samples/aggregate/invalid_utf_8.xml")));
  EXPECT_TRUE(HasError(r, "invalid UTF-8"));
  ASSERT_EQ(r.records.size(), 1u);
  EXPECT_NE(r.records[0].identifiers.header_from.find("\xEF\xBF\xBD"), std::string::npos);
}

TEST(Aggregate, RecoversFromUnclosedSchemaWrapper) {
  auto r = MustParse(
      ReadFile(TestData("real/parsedmarc-samples/aggregate/ikea.com!example.de!1538690400!"
                        "1538776800.xml")));
  EXPECT_EQ(r.report_metadata.report_id, "aggr_report_2018_10_05_5bc7e9b4f3e8a");
  EXPECT_TRUE(HasError(r, "not well-formed"));
  EXPECT_TRUE(HasError(r, "kept only the <feedback> element"));
  ASSERT_EQ(r.records.size(), 1u);
  EXPECT_EQ(r.records[0].spf[0].scope, "helo");
  EXPECT_EQ(r.records[0].dkim[0].selector, "none");
}

TEST(Aggregate, RecoversFromUnescapedAngleBrackets) {
  auto r = MustParse(ReadFile(TestData("real/parsedmarc-samples/aggregate/invalid_xml.xml")));
  EXPECT_EQ(r.report_metadata.org_email, "<bad-xml@bad-xml.net>");
  ASSERT_EQ(r.records.size(), 1u);
  EXPECT_EQ(r.records[0].identifiers.header_from, "bad<xml.net");
  EXPECT_TRUE(HasError(r, "escaped 2 '<'"));
  // Only the escaping was needed: nothing outside <feedback> was dropped.
  EXPECT_FALSE(HasError(r, "kept only the <feedback> element"));
}

TEST(Aggregate, ToleratesStrayAmpersands) {
  Doc d;
  d.org = "<org_name>Smith & Sons &amp; Co</org_name>";
  EXPECT_EQ(MustParse(d.str()).report_metadata.org_name, "Smith & Sons & Co");
  // When the document also needs repair, a stray '&' is escaped and the repair recorded.
  d.email = "<email><x@example.net></email>";
  auto r = MustParse(d.str());
  EXPECT_EQ(r.report_metadata.org_name, "Smith & Sons & Co");
  EXPECT_TRUE(HasError(r, "escaped 1 '&'"));
}

TEST(Aggregate, RejectsWhatIsNotAReport) {
  AggregateOptions opts;
  EXPECT_FALSE(ParseAggregateXml("", opts).ok());
  EXPECT_FALSE(ParseAggregateXml("<html><body/></html>", opts).ok());
  Doc no_domain;
  no_domain.policy = "<policy_published><p>none</p></policy_published>";
  auto r = ParseAggregateXml(no_domain.str(), opts);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("domain"), std::string::npos);
  Doc no_range;
  no_range.range = "";
  EXPECT_FALSE(ParseAggregateXml(no_range.str(), opts).ok());
  Doc bad_time;
  bad_time.range = "<date_range><begin>yesterday</begin><end>1</end></date_range>";
  auto bt = ParseAggregateXml(bad_time.str(), opts);
  ASSERT_FALSE(bt.ok());
  EXPECT_NE(bt.error().find("yesterday"), std::string::npos);
}

TEST(Aggregate, SkipsABadRecordButKeepsTheOthers) {
  Doc d;
  d.records = Doc::Record("192.0.2.1", "lots", "none", "pass", "pass") +
              Doc::Record("192.0.2.2", "4", "none", "pass", "pass");
  auto r = MustParse(d.str());
  ASSERT_EQ(r.records.size(), 1u);
  EXPECT_EQ(r.records[0].source.ip_address, "192.0.2.2");
  EXPECT_TRUE(HasError(r, "record 1: invalid count \"lots\""));
}

TEST(Aggregate, ClampsHugeAndNegativeCounts) {
  Doc d;
  d.records = Doc::Record("192.0.2.1", "99999999999999999999999", "none", "pass", "pass") +
              Doc::Record("192.0.2.2", "-4", "none", "pass", "pass");
  auto r = MustParse(d.str());
  ASSERT_EQ(r.records.size(), 2u);
  EXPECT_EQ(r.records[0].count, Limits{}.max_count);
  EXPECT_EQ(r.records[1].count, 0u);
  EXPECT_TRUE(HasError(r, "clamped"));
  EXPECT_TRUE(HasError(r, "negative count"));
}

TEST(Aggregate, NeverExpandsEntities) {
  for (const char* name : {"broken/billion-laughs.xml", "broken/xxe-file.xml"}) {
    const std::string input = ReadFile(TestData(name));
    auto r = MustParse(input);
    EXPECT_EQ(r.report_metadata.org_name.find("lollol"), std::string::npos) << name;
    EXPECT_EQ(r.report_metadata.org_name.find("root:"), std::string::npos) << name;
    EXPECT_TRUE(HasError(r, "DOCTYPE")) << name;
  }
}

TEST(Aggregate, RejectsDeepNestingBeforeBuildingATree) {
  auto r = ParseAggregateXml(ReadFile(TestData("broken/deep-nesting.xml")), {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("nested deeper than 64"), std::string::npos);
}

// Records are read into their place in the report: one that fails is taken out again, and the
// ones around it keep their order and their own values.
TEST(Aggregate, ABadRecordIsSkippedAndTheOthersKeepTheirPlaces) {
  Doc d;
  d.records = Doc::Record("192.0.2.1", "1", "none", "pass", "pass") +
              "<record><identifiers><header_from>example.com</header_from></identifiers></record>" +
              Doc::Record("192.0.2.3", "3", "reject", "fail", "fail");
  const auto r = MustParse(d.str());
  ASSERT_EQ(r.records.size(), 2u);
  EXPECT_EQ(r.records[0].source.ip_address, "192.0.2.1");
  EXPECT_EQ(r.records[0].count, 1u);
  EXPECT_EQ(r.records[1].source.ip_address, "192.0.2.3");
  EXPECT_EQ(r.records[1].count, 3u);
  EXPECT_EQ(r.records[1].policy_evaluated.disposition, "reject");
  EXPECT_EQ(r.records[1].identifiers.header_from, "example.com");
  EXPECT_TRUE(HasError(r, "record 2: missing <row>: record skipped"));
}

// Thousands of empty <record/> elements are no records at all: the report is refused.
TEST(Aggregate, EmptyRecordElementsAreNoRecords) {
  Doc d;
  d.records.clear();
  for (int i = 0; i < 20000; ++i) d.records += "<record/>";
  auto r = ParseAggregateXml(d.str(), {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("no valid record in report"), std::string::npos) << r.error();
}

TEST(Aggregate, EnforcesRecordAndFieldLimits) {
  Doc d;
  d.records.clear();
  for (int i = 0; i < 5; ++i) d.records += Doc::Record("192.0.2.1", "1", "none", "pass", "pass");
  AggregateOptions opts;
  opts.limits.max_records = 4;
  auto r = ParseAggregateXml(d.str(), opts);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("more than 4 records"), std::string::npos);

  Doc longfield;
  longfield.org =
      "<org_name>" + std::string(100, 'a') + " " + std::string(100, 'b') + "</org_name>";
  AggregateOptions small;
  small.limits.max_field_bytes = 50;
  auto t = MustParse(longfield.str(), small);
  EXPECT_EQ(t.report_metadata.org_name.size(), 50u);
  EXPECT_TRUE(HasError(t, "org_name truncated to 50 bytes"));
}

TEST(Aggregate, KeepsScriptPayloadsVerbatim) {
  auto r = MustParse(ReadFile(TestData("broken/script-payload.xml")));
  EXPECT_EQ(r.report_metadata.org_name, "<script>alert(1)</script>\"'&,;\n=cmd|' /C calc'!A0");
  EXPECT_EQ(r.records[0].dkim[0].selector, r.report_metadata.org_name);
}

// Timespan normalisation: a report over more than 24 h is split per UTC day.
TEST(Timespan, SplitsProportionallyAndKeepsTheTotal) {
  Doc d;
  // 2023-11-14 12:00:00 → 2023-11-17 06:00:00: 12 h + 24 h + 24 h + 6 h = 66 h.
  d.range = "<date_range><begin>1699963200</begin><end>1700200800</end></date_range>";
  d.records = Doc::Record("192.0.2.1", "66", "none", "pass", "pass") +
              Doc::Record("192.0.2.2", "1", "none", "fail", "fail");
  auto r = MustParse(d.str());
  EXPECT_TRUE(r.report_metadata.timespan_requires_normalization);
  EXPECT_EQ(r.report_metadata.original_timespan_seconds, 237600);
  // 66 messages over 66 hours: 12, 24, 24, 6 — then the single message lands in one day.
  ASSERT_EQ(r.records.size(), 5u);
  EXPECT_EQ(r.records[0].count, 12u);
  EXPECT_EQ(r.records[1].count, 24u);
  EXPECT_EQ(r.records[2].count, 24u);
  EXPECT_EQ(r.records[3].count, 6u);
  EXPECT_EQ(r.records[0].interval_begin, 1699963200);
  EXPECT_EQ(r.records[0].interval_end, 1700006400);
  EXPECT_EQ(r.records[3].interval_begin, 1700179200);
  EXPECT_EQ(r.records[3].interval_end, 1700200800);
  for (const auto& rec : r.records) EXPECT_TRUE(rec.normalized_timespan);
  EXPECT_EQ(r.MessageCount(), 67u);
  // The lone message goes to the day with the largest share (a full day, the first of them).
  EXPECT_EQ(r.records[4].source.ip_address, "192.0.2.2");
  EXPECT_EQ(r.records[4].interval_begin, 1700006400);
}

TEST(Timespan, LeavesShortReportsAlone) {
  Doc d;
  auto r = MustParse(d.str());
  EXPECT_FALSE(r.report_metadata.timespan_requires_normalization);
  ASSERT_EQ(r.records.size(), 1u);
  EXPECT_FALSE(r.records[0].normalized_timespan);
  EXPECT_EQ(r.records[0].interval_begin, 1700000000);
  EXPECT_EQ(r.records[0].interval_end, 1700086399);
}

TEST(Timespan, ThresholdIsConfigurable) {
  Doc d;
  AggregateOptions opts;
  opts.timespan_threshold_hours = 1;
  auto r = MustParse(d.str(), opts);
  EXPECT_TRUE(r.report_metadata.timespan_requires_normalization);
  EXPECT_EQ(r.MessageCount(), 5u);
  EXPECT_GE(r.records.size(), 1u);
}

TEST(Timespan, TotalsSurviveManyShapes) {
  // Property: for any span and count, the split keeps the total and each record inside its day.
  for (std::int64_t span : {86401, 100000, 259199, 604800, 2592000}) {
    for (std::uint64_t count : {1u, 2u, 7u, 1000u, 99991u}) {
      Doc d;
      d.range = "<date_range><begin>1700000123</begin><end>" + std::to_string(1700000123 + span) +
                "</end></date_range>";
      d.records = Doc::Record("192.0.2.1", std::to_string(count), "none", "pass", "pass");
      auto r = MustParse(d.str());
      EXPECT_EQ(r.MessageCount(), count) << span << " " << count;
      for (const auto& rec : r.records) {
        EXPECT_GT(rec.count, 0u);
        EXPECT_LE(rec.interval_end - rec.interval_begin, 86400);
        EXPECT_EQ(rec.interval_begin / 86400, (rec.interval_end - 1) / 86400);
      }
    }
  }
}

}  // namespace
}  // namespace dmarc::parse
