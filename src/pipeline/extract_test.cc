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

#include "sinks/parsedmarc_format.h"
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

TEST(Extract, FailureReportMailIsNamedAsSuch) {
  const Extracted got =
      Extract(kSamples + "failure/[Netease DMARC Failure Report] Rent Reminder.eml");
  ASSERT_EQ(got.rejections.size(), 1u);
  EXPECT_NE(got.rejections[0].reason.find("failure (ARF) report"), std::string::npos);
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

}  // namespace
}  // namespace dmarc::pipeline
