#include "parse/aggregate_stream.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <limits>
#include <sstream>

#include "testing/test_util.h"

namespace dmarc::parse {
namespace {

using dmarc::testing::ReadFile;
using dmarc::testing::TestData;

constexpr std::size_t kWhole = std::numeric_limits<std::size_t>::max();
constexpr std::size_t kChunkSizes[] = {1, 7, 4096, kWhole};

std::string Opt(const model::OptString& s) { return s ? "\"" + *s + "\"" : "null"; }

// Every field of the model, one per line: a failed comparison shows the difference.
std::string Dump(const model::AggregateReport& r) {
  std::ostringstream o;
  const auto& m = r.report_metadata;
  const auto& p = r.policy_published;
  o << "schema " << r.xml_schema << " ns " << Opt(r.xml_namespace) << "\norg " << m.org_name << " "
    << m.org_email << " " << Opt(m.org_extra_contact_info) << " id " << m.report_id << " "
    << m.begin << "-" << m.end << " gen " << Opt(m.generator) << " split "
    << m.timespan_requires_normalization << " " << m.original_timespan_seconds << "\n";
  for (const auto& e : m.errors) o << "error " << e << "\n";
  o << "policy " << p.domain << " " << p.adkim << " " << p.aspf << " " << p.p << " " << p.sp << " "
    << Opt(p.pct) << " " << Opt(p.fo) << " " << Opt(p.np) << " " << Opt(p.testing) << " "
    << Opt(p.discovery_method) << "\n";
  for (const auto& x : r.records) {
    o << "record " << x.interval_begin << "-" << x.interval_end << " " << x.normalized_timespan
      << " " << x.source.ip_address << " " << x.count << " align " << x.alignment.spf
      << x.alignment.dkim << x.alignment.dmarc << " " << x.policy_evaluated.disposition << " "
      << x.policy_evaluated.dkim << " " << x.policy_evaluated.spf << " from "
      << x.identifiers.header_from << " " << Opt(x.identifiers.envelope_from) << " "
      << Opt(x.identifiers.envelope_to) << "\n";
    for (const auto& o2 : x.policy_evaluated.policy_override_reasons) {
      o << "  reason " << Opt(o2.type) << " " << Opt(o2.comment) << "\n";
    }
    for (const auto& d : x.dkim) {
      o << "  dkim " << d.domain << " " << d.selector << " " << d.result << " "
        << Opt(d.human_result) << "\n";
    }
    for (const auto& s : x.spf) {
      o << "  spf " << s.domain << " " << s.scope << " " << s.result << " " << Opt(s.human_result)
        << "\n";
    }
  }
  return o.str();
}

// The streamed parse, fed in pieces of each size, gives what ParseAggregateXml gives: the same
// model with the same errors, or a rejection. A rejection's text is the same too, except for a
// document that is not well-formed even after repair: ParseAggregateXml names pugixml's error in
// the repaired document, which the streamed parse never builds, so only the start is compared.
void ExpectSameAsWhole(const std::string& xml, const std::string& what,
                       const AggregateStreamOptions& options = {}) {
  const auto whole = ParseAggregateXml(xml, options.aggregate);
  for (const std::size_t chunk : kChunkSizes) {
    SCOPED_TRACE(what + ", chunks of " + (chunk == kWhole ? "all" : std::to_string(chunk)));
    const auto streamed = ParseAggregateXmlStreamed(xml, options, chunk);
    ASSERT_EQ(whole.ok(), streamed.ok()) << (whole.ok() ? streamed.error() : whole.error());
    if (whole.ok()) {
      EXPECT_EQ(Dump(*whole), Dump(*streamed));
    } else if (whole.error().starts_with("not well-formed XML")) {
      EXPECT_TRUE(streamed.error().starts_with("not well-formed XML")) << streamed.error();
    } else {
      EXPECT_EQ(whole.error(), streamed.error());
    }
  }
}

TEST(AggregateStream, EveryXmlUnderTestdataGivesTheWholeParsesAnswer) {
  std::size_t files = 0, accepted = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(TestData(""))) {
    if (!entry.is_regular_file() || entry.path().extension() != ".xml") continue;
    const std::string xml = ReadFile(entry.path().string());
    ExpectSameAsWhole(xml, entry.path().string());
    ++files;
    accepted += ParseAggregateXml(xml, {}).ok() ? 1 : 0;
  }
  EXPECT_GE(files, 30u);
  EXPECT_GE(accepted, 20u);
}

// A small report; pieces can be replaced to build each case.
struct Doc {
  std::string decl = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  std::string open = "<feedback>";
  std::string close = "</feedback>";
  std::string version = "<version>1.0</version>";
  std::string org = "<org_name>example.net</org_name>";
  std::string email = "<email>dmarc@example.net</email>";
  std::string range = "<date_range><begin>1700000000</begin><end>1700086399</end></date_range>";
  std::string policy =
      "<policy_published><domain>example.com</domain><p>reject</p></policy_published>";
  std::string records = Record("192.0.2.1", "5") + "\n" + Record("192.0.2.2", "7");
  bool records_first = false;

  static std::string Record(const std::string& ip, const std::string& count,
                            const std::string& from = "Example.COM",
                            const std::string& r = "record") {
    return "<" + r + "><row><source_ip>" + ip + "</source_ip><count>" + count +
           "</count><policy_evaluated><disposition>none</disposition><dkim>pass</dkim>"
           "<spf>fail</spf></policy_evaluated></row><identifiers><header_from>" +
           from +
           "</header_from></identifiers><auth_results><dkim><domain>example.com</domain>"
           "<selector>s1</selector><result>pass</result></dkim><spf><domain>b.example.com"
           "</domain><result>fail</result></spf></auth_results></" +
           r + ">";
  }

  std::string str() const {
    const std::string head = version + "<report_metadata>" + org + email +
                             "<report_id>r-1</report_id>" + range + "</report_metadata>" + policy;
    return decl + open + (records_first ? records + head : head + records) + close;
  }
};

TEST(AggregateStream, GeneratedCasesGiveTheWholeParsesAnswer) {
  ExpectSameAsWhole(Doc().str(), "plain");
  Doc ns;
  ns.open = "<d:feedback xmlns:d=\"urn:ietf:params:xml:ns:dmarc-2.0\">";
  ns.close = "</d:feedback>";
  ns.records = Doc::Record("192.0.2.1", "3", "a.example", "d:record") +
               Doc::Record("192.0.2.2", "4", "b.example", "d:record");
  ExpectSameAsWhole(ns.str(), "namespace prefix on <feedback> and <record>");
  Doc wrapped;
  wrapped.open = "<wrapper><feedback>";
  wrapped.close = "</feedback></wrapper>\n";
  ExpectSameAsWhole(wrapped.str(), "well-formed wrapper");
  Doc unclosed = wrapped;
  unclosed.close = "</feedback>\n";
  ExpectSameAsWhole(unclosed.str(), "unclosed wrapper");
  Doc trailing;
  trailing.close = "</feedback>\n</junk>";
  ExpectSameAsWhole(trailing.str(), "end tag after </feedback>");
  Doc lt;
  lt.email = "<email><bad@example.net></email>";
  lt.records = Doc::Record("192.0.2.1", "1", "a<b.example") + Doc::Record("192.0.2.2", "2") +
               Doc::Record("192.0.2.3", "3", "c & d <e");
  ExpectSameAsWhole(lt.str(), "unescaped '<' and '&' in the header and in records");
  Doc amp;
  amp.org = "<org_name>Smith & Sons &amp; Co</org_name>";
  ExpectSameAsWhole(amp.str(), "stray '&' in a well-formed document");
  Doc first;
  first.records_first = true;
  ExpectSameAsWhole(first.str(), "records before the metadata");
  Doc split;
  split.range = "<date_range><begin>1700000000</begin><end>1700300000</end></date_range>";
  split.records = Doc::Record("192.0.2.1", "1000") + Doc::Record("192.0.2.2", "1");
  ExpectSameAsWhole(split.str(), "timespan split per day");
  Doc bad;
  bad.records = Doc::Record("192.0.2.1", "lots") + "<record/>" +
                Doc::Record("192.0.2.2", "99999999999999999999999") +
                "<!-- between --><record><row><source_ip>192.0.2.9</source_ip><count><![CDATA[ 4 "
                "]]></count></row></record>" +
                Doc::Record("192.0.2.3", "-4") + "<extra>x</extra>" + Doc::Record("192.0.2.4", "1");
  ExpectSameAsWhole(bad.str(), "unreadable, empty, clamped, CDATA records; comments; extras");
  Doc none;
  none.records = "";
  ExpectSameAsWhole(none.str(), "no records");
  Doc allbad;
  allbad.records = Doc::Record("192.0.2.1", "lots");
  ExpectSameAsWhole(allbad.str(), "no valid record");
  Doc nometa;
  nometa.org = nometa.email = "";
  ExpectSameAsWhole(nometa.str(), "neither org_name nor email");
  const std::string truncated = Doc().str();
  ExpectSameAsWhole(truncated.substr(0, truncated.size() - 30), "truncated in a record");
  ExpectSameAsWhole(truncated.substr(0, truncated.size() - 5), "truncated in </feedback>");
  ExpectSameAsWhole(truncated.substr(0, 200), "truncated in the metadata");
  ExpectSameAsWhole("", "empty");
  ExpectSameAsWhole(" \n ", "blank");
  ExpectSameAsWhole("<html><body/></html>", "not a report");
}

TEST(AggregateStream, EncodingsAcrossChunkBoundaries) {
  Doc bom;
  bom.decl = "\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"windows-1252\"?>\n";
  bom.org = "<org_name>Caf\xE9 \x93Mail\x94</org_name>";
  bom.records = Doc::Record("192.0.2.1", "1", "caf\xE9.example");
  ExpectSameAsWhole(bom.str(), "BOM + windows-1252");
  const auto r = ParseAggregateXmlStreamed(bom.str(), {}, 1);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->report_metadata.org_name, "Caf\xC3\xA9 \xE2\x80\x9CMail\xE2\x80\x9D");
  EXPECT_EQ(r->records.at(0).identifiers.header_from, "caf\xC3\xA9.example");

  Doc utf8;
  utf8.org = "<org_name>\xE2\x82\xAC and \xE2\x82 and \xF0\x9F\x98\x80 \x01</org_name>";
  utf8.records = Doc::Record("192.0.2.1", "1", "\xC3\xA9\xC3.example");
  ExpectSameAsWhole(utf8.str(), "valid and invalid UTF-8, a control character");
  const auto u = ParseAggregateXmlStreamed(utf8.str(), {}, 1);
  ASSERT_TRUE(u.ok()) << u.error();
  // Each invalid byte is replaced, the control character removed, however the bytes were cut.
  EXPECT_EQ(u->report_metadata.org_name,
            "\xE2\x82\xAC and \xEF\xBF\xBD\xEF\xBF\xBD and \xF0\x9F\x98\x80");
}

// Records a sink sees, and when.
class RecordingSink : public AggregateSink {
 public:
  Status OnHeader(const model::AggregateReport& header) override {
    events.push_back("header");
    EXPECT_TRUE(header.records.empty());
    org = header.report_metadata.org_name;
    return Ok();
  }
  Status OnRecords(std::vector<model::Record>& records) override {
    events.push_back("records " + std::to_string(records.size()));
    total += records.size();
    largest = std::max(largest, records.size());
    if (fail_after > 0 && total >= fail_after) return MakeError("sink is full");
    return Ok();
  }
  Status OnEnd(const std::vector<std::string>& e) override {
    events.push_back("end");
    errors = e;
    return Ok();
  }
  std::vector<std::string> events, errors;
  std::string org;
  std::size_t total = 0, largest = 0, fail_after = 0;
};

std::string ManyRecords(std::size_t n) {
  Doc d;
  d.records.clear();
  for (std::size_t i = 0; i < n; ++i) {
    d.records += Doc::Record("192.0.2." + std::to_string(i % 250), i % 97 == 0 ? "-1" : "2");
  }
  return d.str();
}

TEST(AggregateStream, SinkGetsTheHeaderOnceThenBatchesThenEveryError) {
  AggregateStreamOptions options;
  options.batch_records = 10;
  RecordingSink sink;
  AggregateStreamParser parser(options, sink);
  const std::string xml = ManyRecords(95);
  for (std::size_t at = 0; at < xml.size(); at += 100) {
    ASSERT_TRUE(parser.Feed(std::string_view(xml).substr(at, 100)).ok());
  }
  ASSERT_TRUE(parser.Finish().ok());
  ASSERT_GE(sink.events.size(), 3u);
  EXPECT_EQ(sink.events.front(), "header");
  EXPECT_EQ(sink.events.back(), "end");
  EXPECT_EQ(std::count(sink.events.begin(), sink.events.end(), "header"), 1);
  EXPECT_EQ(std::count(sink.events.begin(), sink.events.end(), "end"), 1);
  EXPECT_EQ(sink.total, 95u);
  EXPECT_EQ(sink.largest, 10u);
  EXPECT_EQ(sink.org, "example.net");
  // The negative counts of records 1 and 98... are in OnEnd's list, as in the whole parse.
  const auto whole = ParseAggregateXml(xml, {});
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(sink.errors, whole->report_metadata.errors);
  EXPECT_EQ(sink.errors.size(), 1u);   // record 1 (i = 0); i = 97 is past 95
  EXPECT_FALSE(parser.Finish().ok());  // once only
}

TEST(AggregateStream, AnErrorFromTheSinkStopsTheParse) {
  AggregateStreamOptions options;
  options.batch_records = 4;
  RecordingSink sink;
  sink.fail_after = 8;
  AggregateStreamParser parser(options, sink);
  const std::string xml = ManyRecords(50);
  Status s = Ok();
  for (std::size_t at = 0; at < xml.size() && s.ok(); at += 64) {
    s = parser.Feed(std::string_view(xml).substr(at, 64));
  }
  if (s.ok()) s = parser.Finish();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error(), "sink is full");
  EXPECT_EQ(sink.total, 8u);
  EXPECT_EQ(std::count(sink.events.begin(), sink.events.end(), "end"), 0);
}

TEST(AggregateStream, RecordCapsApplyPerRecord) {
  Doc d;
  d.records = Doc::Record("192.0.2.1", "1") +
              Doc::Record("192.0.2.2", "1", std::string(3000, 'x') + ".example") +
              Doc::Record("192.0.2.3", "1");
  AggregateStreamOptions options;
  options.aggregate.limits.max_record_bytes = 2000;
  for (const std::size_t chunk : kChunkSizes) {
    const auto r = ParseAggregateXmlStreamed(d.str(), options, chunk);
    ASSERT_TRUE(r.ok()) << r.error();
    ASSERT_EQ(r->records.size(), 2u);
    EXPECT_EQ(r->records[1].source.ip_address, "192.0.2.3");
    ASSERT_EQ(r->report_metadata.errors.size(), 1u);
    EXPECT_EQ(r->report_metadata.errors[0], "record 2: larger than 2000 bytes: record skipped");
  }
  // The rest of the report is held whole, so it is capped too: over it, a rejection.
  options.aggregate.limits.max_record_bytes = 200;
  auto frame = ParseAggregateXmlStreamed(d.str(), options, 4096);
  ASSERT_FALSE(frame.ok());
  EXPECT_EQ(frame.error(), "report has more than 200 bytes outside its records");

  AggregateStreamOptions few;
  few.aggregate.limits.max_xml_elements = 20;  // a record of Doc has 16 elements
  EXPECT_TRUE(ParseAggregateXmlStreamed(ManyRecords(30), few, 7).ok());
  EXPECT_FALSE(ParseAggregateXml(ManyRecords(30), few.aggregate).ok());  // whole: 480 elements
  few.aggregate.limits.max_xml_elements = 14;                            // the frame has 12
  auto many = ParseAggregateXmlStreamed(ManyRecords(3), few, 7);
  ASSERT_FALSE(many.ok());
  EXPECT_EQ(many.error(), "XML has more than 14 elements in record 1");

  AggregateStreamOptions shallow;
  shallow.aggregate.limits.max_xml_depth = 4;  // feedback/record/row/policy_evaluated/dkim: 5
  auto deep = ParseAggregateXmlStreamed(ManyRecords(3), shallow, 7);
  ASSERT_FALSE(deep.ok());
  EXPECT_EQ(deep.error(), "XML nested deeper than 4 levels");
  ExpectSameAsWhole(ReadFile(TestData("broken/deep-nesting.xml")), "deep nesting");

  AggregateStreamOptions four;
  four.aggregate.limits.max_records = 4;
  ExpectSameAsWhole(ManyRecords(5), "more than max_records", four);
}

TEST(AggregateStream, HundredThousandRecordsInSmallChunks) {
  const std::string xml = ManyRecords(100'000);
  AggregateStreamOptions options;
  options.batch_records = 1000;
  options.aggregate.limits.max_record_bytes = 4096;
  RecordingSink sink;
  AggregateStreamParser parser(options, sink);
  for (std::size_t at = 0; at < xml.size(); at += 1000) {
    ASSERT_TRUE(parser.Feed(std::string_view(xml).substr(at, 1000)).ok());
  }
  ASSERT_TRUE(parser.Finish().ok());
  EXPECT_EQ(sink.total, 100'000u);
  EXPECT_EQ(sink.largest, 1000u);
  EXPECT_EQ(sink.events.size(), 102u);                  // header, 100 batches, end
  EXPECT_EQ(sink.errors.size(), (100'000u + 96) / 97);  // each negative count noted
  EXPECT_EQ(sink.errors.back(), "record 99911: negative count -1 read as 0");
}

}  // namespace
}  // namespace dmarc::parse
