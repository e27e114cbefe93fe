// End-to-end checks over real and hostile inputs: every aggregate sample agrees with what
// parsedmarc 10.4.3 extracts (testdata/real/parsedmarc-samples/REFERENCE.json), JSON and CSV
// output match the reviewed golden files, and each hostile fixture has its expected outcome.
#include "pipeline/extract.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <tuple>

#include "archive/archive.h"
#include "base/time.h"
#include "sinks/parsedmarc_format.h"
#include "sinks/report_json.h"
#include "testing/base64.h"
#include "testing/compress.h"
#include "testing/test_util.h"

namespace dmarc::pipeline {
namespace {

using dmarc::testing::ReadFile;
using dmarc::testing::TestData;
using Row = std::tuple<std::string, std::uint64_t, std::string, std::string, std::string>;

const std::string kSamples = "real/parsedmarc-samples/";

Extracted Extract(const std::string& relative, ExtractOptions options = {}) {
  return ExtractReports(ReadFile(TestData(relative)), relative, options);
}

nlohmann::json Reference() {
  return nlohmann::json::parse(ReadFile(TestData(kSamples + "REFERENCE.json")));
}

std::vector<std::string> AggregateSamples() {
  std::vector<std::string> names;
  const nlohmann::json reference = Reference();
  for (const auto& [name, ref] : reference.items()) {
    if (ref.value("type", "") == "aggregate") names.push_back(name);
  }
  return names;
}

class ReferenceTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ReferenceTest, AgreesWithParsedmarc) {
  const std::string name = GetParam();
  const auto ref = Reference()[name];
  const Extracted got = Extract(kSamples + name);
  ASSERT_TRUE(got.rejections.empty())
      << got.rejections[0].origin << ": " << got.rejections[0].reason;
  ASSERT_EQ(got.reports.size(), 1u);
  const auto& r = got.reports[0].aggregate;
  EXPECT_EQ(r.report_metadata.report_id, ref["report_id"].get<std::string>());
  EXPECT_EQ(r.report_metadata.org_name, ref["org_name"].get<std::string>());
  EXPECT_EQ(r.policy_published.domain, ref["domain"].get<std::string>());
  EXPECT_EQ(r.records.size(), ref["records"].get<std::size_t>());
  EXPECT_EQ(r.MessageCount(), ref["messages"].get<std::uint64_t>());
  std::uint64_t dmarc_pass = 0;
  std::vector<Row> rows;
  for (const auto& rec : r.records) {
    if (rec.alignment.dmarc) dmarc_pass += rec.count;
    rows.emplace_back(rec.source.ip_address, rec.count, rec.policy_evaluated.disposition,
                      rec.policy_evaluated.dkim, rec.policy_evaluated.spf);
  }
  EXPECT_EQ(dmarc_pass, ref["dmarc_pass"].get<std::uint64_t>());
  std::vector<Row> want;
  for (const auto& row : ref["rows"]) {
    want.emplace_back(row[0].get<std::string>(), row[1].get<std::uint64_t>(),
                      row[2].get<std::string>(), row[3].get<std::string>(),
                      row[4].get<std::string>());
  }
  std::sort(rows.begin(), rows.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(rows, want);
}

std::string TestName(const ::testing::TestParamInfo<std::string>& info) {
  std::string s;
  for (char c : info.param) s += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return s + "_" + std::to_string(info.index);
}

INSTANTIATE_TEST_SUITE_P(Samples, ReferenceTest, ::testing::ValuesIn(AggregateSamples()), TestName);

TEST(Reference, CoversEveryAggregateSample) {
  // Guards against REFERENCE.json being read wrongly and the parameterised test running on
  // nothing: the corpus has 24 aggregate entries.
  EXPECT_EQ(AggregateSamples().size(), 24u);
}

TEST(Reference, EmptyFileIsRejected) {
  const Extracted got = Extract(kSamples + "empty.xml");
  EXPECT_TRUE(got.reports.empty());
  ASSERT_EQ(got.rejections.size(), 1u);
  EXPECT_EQ(got.rejections[0].reason, "empty input");
}

// Golden files: testdata/golden/<sample>.json and .csv, rewritten when DMARC_UPDATE_GOLDEN=1
// (review the diff before committing).
class GoldenTest : public ::testing::TestWithParam<std::string> {};

void CompareGolden(const std::string& golden_path, const std::string& actual) {
  if (std::getenv("DMARC_UPDATE_GOLDEN")) {
    std::filesystem::create_directories(std::filesystem::path(golden_path).parent_path());
    std::ofstream(golden_path, std::ios::binary) << actual;
    return;
  }
  std::string expected;
  ASSERT_NO_THROW(expected = ReadFile(golden_path)) << "missing golden file " << golden_path;
  EXPECT_EQ(actual, expected) << "output differs from " << golden_path
                              << " (DMARC_UPDATE_GOLDEN=1 rewrites it)";
}

TEST_P(GoldenTest, OutputMatchesGoldenFiles) {
  const std::string name = GetParam();
  const Extracted got = Extract(kSamples + name);
  ASSERT_EQ(got.reports.size(), 1u);
  std::string json = sinks::JsonDocumentBegin();
  std::string fragment;
  sinks::AppendAggregateJson(got.reports[0].aggregate, fragment, false);
  json += fragment + sinks::JsonDocumentEnd(true);
  std::string csv = sinks::AggregateCsvHeader();
  sinks::AppendAggregateCsvRows(got.reports[0].aggregate, csv);
  CompareGolden(TestData("golden/" + name + ".json"), json);
  CompareGolden(TestData("golden/" + name + ".csv"), csv);
  // The golden JSON must be valid JSON whose record count matches the CSV rows.
  const auto parsed = nlohmann::json::parse(json);
  EXPECT_EQ(parsed["aggregate_reports"][0]["records"].size(),
            static_cast<std::size_t>(std::count(csv.begin(), csv.end(), '\n')) - 1);
}

INSTANTIATE_TEST_SUITE_P(Samples, GoldenTest, ::testing::ValuesIn(AggregateSamples()), TestName);

std::vector<std::string> OtherSamples() {
  std::vector<std::string> names;
  const nlohmann::json reference = Reference();
  for (const auto& [name, ref] : reference.items()) {
    const std::string type = ref.value("type", "");
    if (type == "failure" || type == "smtp_tls") names.push_back(name);
  }
  return names;
}

// Failure and SMTP TLS samples: the whole document parse prints, and the CSV of their type.
class OtherGoldenTest : public ::testing::TestWithParam<std::string> {};

TEST_P(OtherGoldenTest, OutputMatchesGoldenFiles) {
  const std::string name = GetParam();
  const Extracted got = Extract(kSamples + name);
  ASSERT_EQ(got.failures.size() + got.smtp_tls.size(), 1u);
  std::string fragments, csv;
  for (const auto& f : got.failures) {
    sinks::AppendFailureJson(f.report, fragments, false);
    csv = sinks::FailureCsvHeader();
    sinks::AppendFailureCsvRow(f.report, csv);
  }
  for (const auto& t : got.smtp_tls) {
    sinks::AppendSmtpTlsJson(t.report, fragments, false);
    csv = sinks::SmtpTlsCsvHeader();
    sinks::AppendSmtpTlsCsvRows(t.report, csv);
  }
  const bool failure = !got.failures.empty();
  std::string json = sinks::JsonDocumentBegin() + sinks::JsonAggregatesEnd(false) +
                     sinks::JsonFailuresBegin() + (failure ? fragments : "") +
                     sinks::JsonFailuresEnd(failure) + (failure ? "" : fragments) +
                     sinks::JsonSmtpTlsEnd(!failure);
  CompareGolden(TestData("golden/" + name + ".json"), json);
  CompareGolden(TestData("golden/" + name + ".csv"), csv);
  const auto parsed = nlohmann::json::parse(json);
  EXPECT_EQ(parsed[failure ? "failure_reports" : "smtp_tls_reports"].size(), 1u);
  // Stored and read back, a report prints the same.
  if (failure) {
    auto back = sinks::FailureFromJson(
        nlohmann::ordered_json::parse(sinks::FailureToJson(got.failures[0].report).dump()));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(sinks::FailureToJson(*back), sinks::FailureToJson(got.failures[0].report));
  } else {
    auto back = sinks::SmtpTlsFromJson(
        nlohmann::ordered_json::parse(sinks::SmtpTlsToJson(got.smtp_tls[0].report).dump()));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(sinks::SmtpTlsToJson(*back), sinks::SmtpTlsToJson(got.smtp_tls[0].report));
  }
}

INSTANTIATE_TEST_SUITE_P(Samples, OtherGoldenTest, ::testing::ValuesIn(OtherSamples()), TestName);

// Hostile inputs: each is rejected with a clear reason or parsed safely.
struct Hostile {
  std::string file;
  std::size_t reports;
  std::string reason;  // substring of the (first) rejection; empty: no rejection expected
};

void PrintTo(const Hostile& h, std::ostream* os) { *os << h.file; }

class HostileTest : public ::testing::TestWithParam<Hostile> {};

TEST_P(HostileTest, HasTheExpectedOutcome) {
  const Hostile h = GetParam();
  const Extracted got = Extract("broken/" + h.file);
  EXPECT_EQ(got.reports.size(), h.reports);
  if (h.reason.empty()) {
    EXPECT_TRUE(got.rejections.empty())
        << got.rejections[0].origin << ": " << got.rejections[0].reason;
  } else {
    ASSERT_FALSE(got.rejections.empty());
    EXPECT_NE(got.rejections[0].reason.find(h.reason), std::string::npos)
        << got.rejections[0].reason;
    EXPECT_EQ(got.rejections[0].origin.rfind("broken/" + h.file, 0), 0u);
  }
  for (const auto& r : got.reports) {
    // Nothing read from the file system ever reaches the output.
    EXPECT_EQ(r.aggregate.report_metadata.org_name.find("root:"), std::string::npos);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, HostileTest,
    ::testing::Values(
        Hostile{"gzip-bomb.xml.gz", 0, "compression bomb"},
        Hostile{"double-gzip-bomb.gz", 0, "compression bomb"},
        Hostile{"zip-bomb.zip", 0, "over the limit"},
        Hostile{"zip-many-entries.zip", 0, "1500 entries"}, Hostile{"billion-laughs.xml", 1, ""},
        Hostile{"xxe-file.xml", 1, ""}, Hostile{"deep-nesting.xml", 0, "nested deeper"},
        Hostile{"truncated.xml.gz", 0, "truncated gzip"}, Hostile{"truncated.zip", 0, "zip"},
        Hostile{"truncated.xml", 0, "not well-formed"}, Hostile{"empty.xml", 0, "empty input"},
        Hostile{"whitespace-only.xml", 0, "empty input"},
        Hostile{"garbage.bin", 0, "not a recognized report format"},
        Hostile{"not-a-report.xml", 0, "not a DMARC aggregate report"},
        Hostile{"zip-path-traversal.zip", 2, ""}, Hostile{"invalid-utf8.xml", 1, ""},
        Hostile{"script-payload.xml", 1, ""}, Hostile{"huge-count.xml", 1, ""},
        Hostile{"big-count.xml", 1, ""}, Hostile{"negative-count.xml", 1, ""},
        Hostile{"nan-count.xml", 0, "invalid count"}, Hostile{"zip-mixed.zip", 2, ""},
        Hostile{"zlib-not-gzip.xml.gz", 0, "not a recognized report format"},
        Hostile{"nested.gz", 1, ""}),
    [](const auto& param_info) {
      std::string s;
      for (char c : param_info.param.file)
        s += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
      return s;
    });

TEST(Hostile, EveryFixtureIsCovered) {
  std::size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(TestData("broken"))) {
    if (e.path().extension() != ".py" && e.path().filename() != "README.md") ++files;
  }
  EXPECT_EQ(files, 24u) << "a fixture in testdata/broken has no expected outcome above";
}

TEST(Extract, ReportMailsAreOpened) {
  for (const char* name : {"aggregate/twilight.eml", "aggregate/mimecast-weird-gzip.eml",
                           "aggregate/Report domain- borschow.com Submitter- google.com Report-ID- "
                           "949348866075514174.eml"}) {
    const Extracted got = Extract(kSamples + name);
    EXPECT_EQ(got.reports.size(), 1u) << name;
    EXPECT_TRUE(got.rejections.empty()) << name;
  }
}

// Microsoft's report mails carry an HTML body beside the gzip attachment, and its text asks "for
// any feedback": the body is not a report and not an error, with or without streaming.
TEST(Extract, AnHtmlBodyBesideTheReportIsNeitherAReportNorARejection) {
  const std::string xml = ReadFile(TestData(kSamples + "aggregate/rfc9990-sample.xml"));
  const std::string mail =
      "From: dmarcreport@microsoft.com\r\nTo: dmarc@example.com\r\n"
      "Subject: Report Domain: example.com Submitter: protection.outlook.com\r\n"
      "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
      "--b\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n"
      "<div style=\"font-family:Calibri\">This is a DMARC aggregate report from Microsoft "
      "Corporation. For more information see https://aka.ms/dmarc. For any feedback/suggestions, "
      "kindly mail to dmarcreport@microsoft.com.<br><br>DMARC Feedback</div>\r\n"
      "--b\r\nContent-Type: application/gzip\r\nContent-Transfer-Encoding: base64\r\n"
      "Content-Disposition: attachment; "
      "filename=\"protection.outlook.com!example.com!1.xml.gz\"\r\n"
      "\r\n" +
      dmarc::testing::Base64(dmarc::testing::GzipOf(xml)) + "\r\n--b--\r\n";
  for (const std::size_t stream_bytes : {std::size_t{0}, std::size_t{16}}) {
    ExtractOptions options;
    options.stream_bytes = stream_bytes;
    const Extracted got = ExtractReports(mail, "microsoft.eml", options);
    EXPECT_EQ(got.reports.size(), 1u) << stream_bytes;
    EXPECT_TRUE(got.rejections.empty())
        << (got.rejections.empty() ? ""
                                   : got.rejections[0].origin + ": " + got.rejections[0].reason);
  }
  // The same words as an XHTML part sent as text/plain: XML, but with no <feedback> element.
  std::string plain = mail;
  plain.replace(plain.find("text/html"), 9, "text/plain");
  const Extracted got = ExtractReports(plain, "microsoft.eml", {});
  EXPECT_EQ(got.reports.size(), 1u);
  EXPECT_TRUE(got.rejections.empty())
      << (got.rejections.empty() ? "" : got.rejections[0].origin + ": " + got.rejections[0].reason);
}

TEST(Extract, ForwardedReportMailInsideAMailIsFound) {
  const std::string inner = ReadFile(TestData(kSamples + "aggregate/twilight.eml"));
  const std::string outer =
      "From: someone@example.org\r\nSubject: Fwd: report\r\nMIME-Version: 1.0\r\n"
      "Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n--outer\r\n"
      "Content-Type: text/plain\r\n\r\nSee attached.\r\n--outer\r\n"
      "Content-Type: message/rfc822\r\n\r\n" +
      inner + "\r\n--outer--\r\n";
  const Extracted got = ExtractReports(outer, "forwarded.eml", {});
  ASSERT_EQ(got.reports.size(), 1u);
  EXPECT_TRUE(got.rejections.empty());
  EXPECT_EQ(got.reports[0].aggregate.report_metadata.report_id, "1627703331531660819");
  EXPECT_NE(got.reports[0].origin.find("forwarded.eml[part 2.1"), std::string::npos)
      << got.reports[0].origin;
}

TEST(Extract, MailWithoutAReportIsRejectedWithItsSubject) {
  const Extracted got = ExtractReports(
      "From: a@example.org\r\nSubject: Out of office\r\n\r\nI am away.\r\n", "ooo.eml", {});
  EXPECT_TRUE(got.reports.empty());
  ASSERT_EQ(got.rejections.size(), 1u);
  EXPECT_NE(got.rejections[0].reason.find("Out of office"), std::string::npos);
}

TEST(Extract, AbuseArfReportIsRejectedAsNotADmarcReport) {
  const std::string mail =
      "From: abuse@example.net\r\nTo: postmaster@example.com\r\nSubject: abuse\r\n"
      "Date: Mon, 01 Oct 2018 11:20:27 +0200\r\nMIME-Version: 1.0\r\n"
      "Content-Type: multipart/report; report-type=feedback-report; boundary=\"b\"\r\n\r\n"
      "--b\r\nContent-Type: text/plain\r\n\r\nspam\r\n"
      "--b\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\n"
      "User-Agent: x/1\r\nVersion: 1\r\nSource-IP: 192.0.2.1\r\n"
      "Reported-Domain: example.com\r\n\r\n"
      "--b\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: a@example.com\r\n"
      "Subject: buy\r\n\r\n--b--\r\n";
  const Extracted got = ExtractReports(mail, "abuse.eml", {});
  EXPECT_EQ(got.ReportCount(), 0u);
  ASSERT_EQ(got.rejections.size(), 1u);
  EXPECT_NE(got.rejections[0].reason.find("Feedback-Type \"abuse\""), std::string::npos)
      << got.rejections[0].reason;
}

// A failure report mail built from parts, for the lenient cases.
std::string ArfMail(const std::string& fields, const std::string& sample_type = "message/rfc822",
                    const std::string& sample =
                        "From: Someone <someone@example.com>\r\nTo: x@example.org\r\n"
                        "Subject: Hello\r\nMessage-ID: <m1@example.com>\r\n"
                        "Date: Tue, 30 Apr 2019 02:08:00 +0000\r\n\r\nSecret body\r\n") {
  return "From: ruf@example.net\r\nTo: dmarc@example.com\r\nSubject: report\r\n"
         "Date: Tue, 30 Apr 2019 04:09:00 +0200\r\nMIME-Version: 1.0\r\n"
         "Content-Type: multipart/report; report-type=feedback-report; boundary=\"b\"\r\n\r\n"
         "--b\r\nContent-Type: text/plain\r\n\r\nA report.\r\n"
         "--b\r\nContent-Type: message/feedback-report\r\n\r\n" +
         fields + "\r\n--b\r\nContent-Type: " + sample_type + "\r\n\r\n" + sample + "\r\n--b--\r\n";
}

TEST(Extract, ArfFieldsAreReadLeniently) {
  const std::string fields =
      "Feedback-Type: auth-failure\r\nVersion: 1\r\nUser-Agent: t/1\r\n"
      "Source-IP: 192.0.2.7 (mail.example.com)\r\nReported-Domain: Example.COM\r\n"
      "Original-Rcpt-To: <a@example.org>\r\nOriginal-Rcpt-To: <b@example.org>\r\n"
      "Identity-Alignment: dkim, spf\r\nDKIM-Domain: example.com\r\n"
      "DKIM-Selector: s1\r\nSPF-DNS: txt : example.com : \"v=spf1 -all\"\r\n"
      "Delivery-Result: reject\r\nX-Custom-Field: kept\r\n";
  const Extracted got = ExtractReports(ArfMail(fields), "arf.eml", {});
  ASSERT_EQ(got.failures.size(), 1u) << (got.rejections.empty() ? "" : got.rejections[0].reason);
  const auto& r = got.failures[0].report;
  EXPECT_EQ(r.source.ip_address, "192.0.2.7");
  EXPECT_EQ(r.reported_domain, "example.com");
  // No Arrival-Date: the mail's Date, and the fact recorded.
  EXPECT_EQ(FormatUtc(r.arrival_ts), "2019-04-30 02:09:00");
  EXPECT_NE(std::find(r.errors.begin(), r.errors.end(), "no Arrival-Date: the mail's Date used"),
            r.errors.end());
  EXPECT_EQ(r.original_rcpt_to.value_or(""), "<a@example.org>, <b@example.org>");
  EXPECT_EQ(r.authentication_mechanisms, (std::vector<std::string>{"dkim", "spf"}));
  EXPECT_EQ(r.auth_failure, std::vector<std::string>{"dmarc"});
  EXPECT_EQ(r.dkim_selector.value_or(""), "s1");
  EXPECT_EQ(r.spf_dns.value_or(""), "txt : example.com : \"v=spf1 -all\"");
  EXPECT_EQ(r.delivery_result.value_or(""), "reject");
  ASSERT_FALSE(r.other_fields.empty());
  EXPECT_EQ(r.other_fields[0], (std::pair<std::string, std::string>{"x_custom_field", "kept"}));
  ASSERT_TRUE(r.parsed_sample.has_value());
  EXPECT_EQ(r.parsed_sample->subject.value_or(""), "Hello");
  EXPECT_EQ(r.parsed_sample->message_id.value_or(""), "m1@example.com");
  ASSERT_TRUE(r.parsed_sample->from.has_value());
  EXPECT_EQ(r.parsed_sample->from->domain.value_or(""), "example.com");
  EXPECT_EQ(r.parsed_sample->from->display_name.value_or(""), "Someone");
  // The default keeps headers only: the body is personal data.
  EXPECT_EQ(r.sample.find("Secret body"), std::string::npos);
  EXPECT_NE(r.sample.find("Subject: Hello"), std::string::npos);
  EXPECT_FALSE(r.parsed_sample->body.has_value());
  EXPECT_FALSE(r.sample_headers_only);
}

TEST(Extract, KeepSampleFullAndNone) {
  const std::string fields =
      "Feedback-Type: auth-failure\r\nSource-IP: 192.0.2.7\r\nReported-Domain: example.com\r\n"
      "Arrival-Date: Tue, 30 Apr 2019 02:09:00 +0000\r\n";
  ExtractOptions full;
  full.keep_sample = parse::KeepSample::kFull;
  const Extracted f = ExtractReports(ArfMail(fields), "arf.eml", full);
  ASSERT_EQ(f.failures.size(), 1u);
  EXPECT_NE(f.failures[0].report.sample.find("Secret body"), std::string::npos);
  ASSERT_TRUE(f.failures[0].report.parsed_sample.has_value());
  EXPECT_NE(f.failures[0].report.parsed_sample->body.value_or("").find("Secret body"),
            std::string::npos);
  ExtractOptions none;
  none.keep_sample = parse::KeepSample::kNone;
  const Extracted n = ExtractReports(ArfMail(fields), "arf.eml", none);
  ASSERT_EQ(n.failures.size(), 1u);
  EXPECT_TRUE(n.failures[0].report.sample.empty());
  EXPECT_FALSE(n.failures[0].report.parsed_sample.has_value());
  EXPECT_EQ(n.failures[0].report.source.ip_address, "192.0.2.7");
}

TEST(Extract, HeadersOnlySampleAndMissingReportedDomain) {
  const std::string fields =
      "Feedback-Type: auth-failure\r\nSource-IP: [2001:db8::1]\r\n"
      "Arrival-Date: Tue, 30 Apr 2019 02:09:00 +0000\r\n";
  const Extracted got = ExtractReports(
      ArfMail(
          fields, "text/rfc822-headers",
          "From: x@Sub.Example.NET\r\nSubject: hi\r\nDate: Tue, 30 Apr 2019 02:00:00 +0000\r\n"),
      "arf.eml", {});
  ASSERT_EQ(got.failures.size(), 1u) << (got.rejections.empty() ? "" : got.rejections[0].reason);
  const auto& r = got.failures[0].report;
  EXPECT_TRUE(r.sample_headers_only);
  EXPECT_EQ(r.source.ip_address, "2001:db8::1");
  EXPECT_EQ(r.reported_domain, "sub.example.net");
}

TEST(Extract, ForwardedArfReportKeepsItsOwnSample) {
  const std::string fields =
      "Feedback-Type: auth-failure\r\nSource-IP: 192.0.2.7\r\nReported-Domain: example.com\r\n"
      "Arrival-Date: Tue, 30 Apr 2019 02:09:00 +0000\r\n";
  const std::string outer =
      "From: admin@example.com\r\nSubject: Fwd: report\r\nMIME-Version: 1.0\r\n"
      "Date: Wed, 01 May 2019 10:00:00 +0000\r\n"
      "Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n--outer\r\n"
      "Content-Type: text/plain\r\n\r\nFYI\r\n--outer\r\n"
      "Content-Type: message/rfc822\r\n\r\n" +
      ArfMail(fields) + "\r\n--outer--\r\n";
  const Extracted got = ExtractReports(outer, "fwd.eml", {});
  ASSERT_EQ(got.failures.size(), 1u) << (got.rejections.empty() ? "" : got.rejections[0].reason);
  const auto& r = got.failures[0].report;
  ASSERT_TRUE(r.parsed_sample.has_value());
  EXPECT_EQ(r.parsed_sample->subject.value_or(""), "Hello");  // not the report mail's subject
}

TEST(Extract, HostileArfIsBounded) {
  // Thousands of feedback fields and sample headers: kept up to the limit, the rest skipped
  // and recorded.
  std::string fields =
      "Feedback-Type: auth-failure\r\nSource-IP: 192.0.2.7\r\nReported-Domain: example.com\r\n";
  std::string sample = "From: a@example.com\r\n";
  for (int i = 0; i < 3000; ++i) {
    fields += "X-F" + std::to_string(i) + ": " + std::string(50, 'v') + "\r\n";
    sample += "X-S" + std::to_string(i) + ": v\r\n";
  }
  const Extracted got =
      ExtractReports(ArfMail(fields, "message/rfc822", sample + "\r\nbody\r\n"), "big.eml", {});
  ASSERT_EQ(got.failures.size(), 1u) << (got.rejections.empty() ? "" : got.rejections[0].reason);
  const auto& r = got.failures[0].report;
  const Limits limits;
  EXPECT_EQ(r.other_fields.size(), limits.max_headers - 3);
  ASSERT_TRUE(r.parsed_sample.has_value());
  EXPECT_EQ(r.parsed_sample->headers.size(), limits.max_headers);
  auto has = [&](std::string_view part) {
    return std::any_of(r.errors.begin(), r.errors.end(),
                       [&](const std::string& e) { return e.find(part) != std::string::npos; });
  };
  EXPECT_TRUE(has("feedback fields: the rest were skipped"));
  EXPECT_TRUE(has("headers: the rest were skipped"));
}

TEST(Extract, ArfWithoutSourceIpIsRejected) {
  const Extracted got = ExtractReports(
      ArfMail("Feedback-Type: auth-failure\r\nReported-Domain: example.com\r\n"), "arf.eml", {});
  EXPECT_EQ(got.ReportCount(), 0u);
  ASSERT_EQ(got.rejections.size(), 1u);
  EXPECT_NE(got.rejections[0].reason.find("Source-IP"), std::string::npos);
}

TEST(Extract, FailureAndSmtpTlsSamplesAgreeWithParsedmarc) {
  const nlohmann::json reference = Reference();
  std::size_t failures = 0, tls = 0;
  for (const auto& [name, ref] : reference.items()) {
    const std::string type = ref.value("type", "");
    if (type != "failure" && type != "smtp_tls") continue;
    const Extracted got = Extract(kSamples + name);
    ASSERT_TRUE(got.rejections.empty()) << name << ": " << got.rejections[0].reason;
    EXPECT_TRUE(got.reports.empty()) << name;
    if (type == "failure") {
      ++failures;
      ASSERT_EQ(got.failures.size(), 1u) << name;
      const auto& r = got.failures[0].report;
      EXPECT_EQ(FormatUtc(r.arrival_ts), ref["arrival_date_utc"].get<std::string>()) << name;
      EXPECT_EQ(r.auth_failure, ref["auth_failure"].get<std::vector<std::string>>()) << name;
      EXPECT_EQ(r.reported_domain, ref["reported_domain"].get<std::string>()) << name;
      EXPECT_EQ(r.source.ip_address, ref["source_ip"].get<std::string>()) << name;
    } else {
      ++tls;
      ASSERT_EQ(got.smtp_tls.size(), 1u) << name;
      const auto& r = got.smtp_tls[0].report;
      EXPECT_EQ(r.organization_name, ref["org"].get<std::string>()) << name;
      EXPECT_EQ(r.report_id, ref["report_id"].get<std::string>()) << name;
      EXPECT_EQ(r.policies.size(), ref["policies"].get<std::size_t>()) << name;
      EXPECT_EQ(r.Successful(), ref["successful"].get<std::uint64_t>()) << name;
      EXPECT_EQ(r.Failed(), ref["failed"].get<std::uint64_t>()) << name;
    }
  }
  EXPECT_EQ(failures, 5u);
  EXPECT_EQ(tls, 4u);
}

TEST(Extract, SmtpTlsJsonAttachedToAMailIsFound) {
  const std::string json = ReadFile(TestData(kSamples + "smtp_tls/rfc8460.json"));
  const std::string mail =
      "From: tlsrpt@example.net\r\nSubject: Report Domain: example.com\r\nMIME-Version: 1.0\r\n"
      "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n"
      "Content-Type: text/plain\r\n\r\nA report.\r\n--b\r\n"
      "Content-Type: application/json\r\nContent-Disposition: attachment; filename=r.json\r\n\r\n" +
      json + "\r\n--b--\r\n";
  const Extracted got = ExtractReports(mail, "tls.eml", {});
  ASSERT_EQ(got.smtp_tls.size(), 1u);
  EXPECT_EQ(got.smtp_tls[0].origin, "tls.eml[part 2: r.json]");
  EXPECT_EQ(got.smtp_tls[0].report.organization_name, "Company-X");
}

TEST(Extract, MboxWithSeveralReportMails) {
  const std::string mail = ReadFile(TestData(kSamples + "aggregate/twilight.eml"));
  std::string mbox;
  for (int i = 0; i < 3; ++i) {
    mbox += "From dmarc@example.com Mon Jan  1 00:00:00 2024\n" + mail + "\n";
  }
  mbox += "From x@example.com Mon Jan  1 00:00:00 2024\nSubject: spam\n\nbuy now\n";
  const Extracted got = ExtractReports(mbox, "box.mbox", {});
  EXPECT_EQ(got.reports.size(), 3u);
  ASSERT_EQ(got.rejections.size(), 1u);
  EXPECT_EQ(got.rejections[0].origin, "box.mbox[message 4]");
}

TEST(Extract, NestingLimitStopsContainerChains) {
  ExtractOptions options;
  options.aggregate.limits.max_nesting = 1;
  const Extracted got = Extract("broken/nested.gz", options);
  EXPECT_TRUE(got.reports.empty());
  ASSERT_FALSE(got.rejections.empty());
  EXPECT_NE(got.rejections[0].reason.find("nested more than 1"), std::string::npos);
}

// The XML a report keeps, decompressed; checks its recorded size.
std::string RawXml(const FoundReport& f) {
  auto xml = archive::Unzstd(f.raw_xml_packed, SIZE_MAX);
  EXPECT_TRUE(xml.ok()) << xml.error();
  if (!xml.ok()) return "";
  EXPECT_EQ(xml->size(), f.raw_xml_size);
  return *xml;
}

TEST(KeepRawXml, KeepsTheXmlAsReceivedFromEveryContainer) {
  const std::string dir = TestData("real/parsedmarc-samples/");
  const std::string xml = ReadFile(dir + "extract_report/nice-input.xml");
  ExtractOptions keep;
  keep.keep_raw_xml = true;
  for (const char* name : {"nice-input.xml", "nice-input.xml.gz", "nice-input.xml.zip"}) {
    const std::string path = dir + "extract_report/" + name;
    auto got = ExtractReports(ReadFile(path), path, keep);
    ASSERT_EQ(got.reports.size(), 1u) << name;
    EXPECT_EQ(RawXml(got.reports[0]), xml) << name;
    EXPECT_LT(got.reports[0].raw_xml_packed.size(), xml.size()) << name;  // kept compressed
    const auto without = ExtractReports(ReadFile(path), path, {});
    EXPECT_TRUE(without.reports[0].raw_xml_packed.empty()) << name;
    EXPECT_EQ(without.reports[0].raw_xml_size, 0u) << name;
  }
  // From a mail: the decoded attachment, which parses to the same report.
  const std::string mail = dir + "aggregate/twilight.eml";
  auto got = ExtractReports(ReadFile(mail), mail, keep);
  ASSERT_EQ(got.reports.size(), 1u);
  const std::string raw = RawXml(got.reports[0]);
  EXPECT_NE(raw.find("<feedback"), std::string::npos);
  auto again = ExtractReports(raw, "raw", keep);
  ASSERT_EQ(again.reports.size(), 1u);
  EXPECT_EQ(RawXml(again.reports[0]), raw);
  std::string a, b;
  sinks::AppendAggregateJson(got.reports[0].aggregate, a, false);
  sinks::AppendAggregateJson(again.reports[0].aggregate, b, false);
  EXPECT_EQ(a, b);
}

}  // namespace
}  // namespace dmarc::pipeline
