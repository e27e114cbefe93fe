// The Splunk files outputs: the TA-dmarc event formats, rotation, idempotence and crash recovery.
#include "outputs/splunk_files.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "outputs/streams_test_util.h"
#include "testing/test_util.h"

namespace dmarc::outputs {
namespace {

namespace fs = std::filesystem;
using outputs::testing::AggregateItem;
using outputs::testing::FailureItem;
using outputs::testing::SampleAggregate;
using outputs::testing::SampleFailure;

std::size_t Count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

class SplunkFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("splunk_files_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  OutputConfig Config(const std::string& type, std::map<std::string, std::string> extra = {}) {
    OutputConfig c;
    c.name = "uf";
    c.type = type;
    c.options = std::move(extra);
    c.options["directory"] = dir_.string();
    return c;
  }
  std::unique_ptr<Output> Make(const std::string& type,
                               std::map<std::string, std::string> extra = {}) {
    auto r = MakeSplunkFileOutput(Config(type, std::move(extra)));
    EXPECT_TRUE(r.ok()) << r.error();
    return r.ok() ? std::move(r).value() : nullptr;
  }
  std::string Read(const std::string& name) const {
    return fs::exists(dir_ / name) ? dmarc::testing::ReadFile((dir_ / name).string()) : "";
  }
  fs::path dir_;
};

TEST(SplunkKv, OneEventPerRecordInTheAppsKeyOrder) {
  auto r = SampleAggregate("r-1", 2);
  r.records[1].dkim.push_back({"other.example", "s2", "fail", std::string("bad sig")});
  const std::string text = SplunkKvEvents(r);
  EXPECT_EQ(Count(text, "RUA BEGIN\n"), 2U);
  const auto lines = Lines(text);
  ASSERT_GE(lines.size(), 3U);
  EXPECT_EQ(lines[0], "RUA BEGIN");
  EXPECT_EQ(lines[1], "rpt_metadata_org_name=\"google.com\",");
  const std::vector<std::string> order = {"rpt_metadata_org_name",
                                          "rpt_metadata_email",
                                          "rpt_metadata_extra_contact_info",
                                          "rpt_metadata_report_id",
                                          "rpt_metadata_date_range_begin",
                                          "rpt_metadata_date_range_end",
                                          "policy_published_domain",
                                          "policy_published_adkim",
                                          "policy_published_aspf",
                                          "policy_published_p",
                                          "policy_published_sp",
                                          "policy_published_pct",
                                          "row_source_ip",
                                          "row_count",
                                          "row_policy_evaluated_disposition",
                                          "row_policy_evaluated_dkim",
                                          "row_policy_evaluated_spf",
                                          "identifiers_header_from",
                                          "auth_result_dkim_domain",
                                          "auth_result_dkim_result",
                                          "auth_result_dkim_human_result",
                                          "auth_result_spf_domain",
                                          "auth_result_spf_result",
                                          "vendor_rua_xsd_validation"};
  for (std::size_t i = 0; i < order.size(); ++i) {
    EXPECT_EQ(lines[i + 1].substr(0, order[i].size() + 2), order[i] + "=\"") << i;
  }
  EXPECT_EQ(lines[order.size()], "vendor_rua_xsd_validation=\"unknown\"");  // no comma: last
  EXPECT_NE(text.find("rpt_metadata_date_range_end=\"1700086399\","), std::string::npos);
  EXPECT_EQ(Count(text, "auth_result_dkim_domain="), 3U);  // 1 + 2
  EXPECT_NE(text.find("auth_result_dkim_human_result=\"bad sig\""), std::string::npos);
}

TEST(SplunkKv, AValueCannotBreakOutOfItsQuotesOrForgeAnEvent) {
  auto r = SampleAggregate("r-1", 1);
  r.records[0].identifiers.header_from = "evil\"\nRUA BEGIN\nrow_count=\"999\\";
  const std::string text = SplunkKvEvents(r);
  EXPECT_EQ(Count(text, "RUA BEGIN"), 2U);      // the real one and the quoted text
  EXPECT_EQ(Count(text, "\nRUA BEGIN\n"), 0U);  // but no line of its own
  EXPECT_NE(text.find("identifiers_header_from=\"evil\\\" RUA BEGIN row_count=\\\"999\\\\\","),
            std::string::npos)
      << text;
}

TEST(SplunkJson, OneLinePerRecordWithTheXmlsElementNames) {
  auto r = SampleAggregate("r-1", 2);
  r.records[1].dkim.push_back({"other.example", "s2", "fail", std::nullopt});
  const auto lines = Lines(SplunkJsonEvents(r));
  ASSERT_EQ(lines.size(), 2U);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto j = nlohmann::json::parse(lines[i]);
    const auto& fb = j["feedback"];
    ASSERT_EQ(fb.size(), 3U);
    EXPECT_EQ(fb[0]["report_metadata"]["org_name"], "google.com");
    EXPECT_EQ(fb[0]["report_metadata"]["email"], "noreply-dmarc-support@google.com");
    EXPECT_EQ(fb[0]["report_metadata"]["date_range"]["end"], "1700086399");
    EXPECT_EQ(fb[1]["policy_published"]["p"], "reject");
    const auto& rec = fb[2]["record"];
    EXPECT_EQ(rec["row"]["source_ip"], "192.0.2." + std::to_string(i + 1));
    EXPECT_EQ(rec["row"]["count"], std::to_string(i + 1));
    EXPECT_EQ(rec["identifiers"]["header_from"], "example.com");
    EXPECT_EQ(rec["auth_results"]["spf"]["domain"], "bounce.example.com");
    EXPECT_EQ(j["vendor_rua_xsd_validations"], "unknown");
  }
  // One DKIM result: an object; several: a list.
  EXPECT_TRUE(
      nlohmann::json::parse(lines[0])["feedback"][2]["record"]["auth_results"]["dkim"].is_object());
  const auto dkim2 =
      nlohmann::json::parse(lines[1])["feedback"][2]["record"]["auth_results"]["dkim"];
  ASSERT_TRUE(dkim2.is_array());
  EXPECT_EQ(dkim2[1]["domain"], "other.example");
}

TEST_F(SplunkFilesTest, RefusesUnknownKeysAndNeedsADirectory) {
  auto r = MakeSplunkFileOutput(Config("splunk_kv", {{"rotate", "1"}}));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("output.uf.rotate"), std::string::npos) << r.error();
  OutputConfig c;
  c.name = "uf";
  c.type = "splunk_json";
  r = MakeSplunkFileOutput(c);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("output.uf.directory"), std::string::npos) << r.error();
  r = MakeSplunkFileOutput(Config("splunk_kv", {{"file_name", "../x"}}));
  ASSERT_FALSE(r.ok());
}

TEST_F(SplunkFilesTest, AReportSentAgainIsNotWrittenTwiceEvenByANewProcess) {
  const auto a = SampleAggregate("a", 3), b = SampleAggregate("b", 2);
  const auto f = SampleFailure();
  {
    auto out = Make("splunk_kv");
    ASSERT_TRUE(out->Prepare().ok());
    const std::vector<Item> items = {AggregateItem(a), FailureItem(f, "f-1")};
    ASSERT_TRUE(out->Deliver(items).ok());
    ASSERT_TRUE(out->Deliver(items).ok());  // the engine's resend after an error
  }
  EXPECT_EQ(Read("dmarc.kv"), SplunkKvEvents(a));
  auto out = Make("splunk_kv");  // a restarted process
  const std::vector<Item> items = {AggregateItem(a), AggregateItem(b)};
  ASSERT_TRUE(out->Deliver(items).ok());
  EXPECT_EQ(Read("dmarc.kv"), SplunkKvEvents(a) + SplunkKvEvents(b));
}

TEST_F(SplunkFilesTest, AWriteTheLedgerDoesNotRecordIsTakenBackAtStart) {
  const auto a = SampleAggregate("a", 3), b = SampleAggregate("b", 2);
  {
    auto out = Make("splunk_json");
    const std::vector<Item> items = {AggregateItem(a)};
    ASSERT_TRUE(out->Deliver(items).ok());
  }
  // A crash after b's events were written, before the ledger recorded them: half of them.
  const std::string half = SplunkJsonEvents(b).substr(0, 100);
  std::ofstream(dir_ / "dmarc.json", std::ios::app) << half;
  auto out = Make("splunk_json");
  ASSERT_TRUE(out->Prepare().ok());
  EXPECT_EQ(Read("dmarc.json"), SplunkJsonEvents(a));
  const std::vector<Item> items = {AggregateItem(a), AggregateItem(b)};
  ASSERT_TRUE(out->Deliver(items).ok());
  EXPECT_EQ(Read("dmarc.json"), SplunkJsonEvents(a) + SplunkJsonEvents(b));
}

TEST_F(SplunkFilesTest, RotatesBySizeAndKeepsTheNewestFiles) {
  auto out = Make("splunk_kv", {{"rotate_bytes", "4096"}, {"keep", "3"}});
  std::vector<model::AggregateReport> reports;
  for (int i = 0; i < 12; ++i)
    reports.push_back(SampleAggregate(std::string("r").append(std::to_string(i)), 2));
  for (const auto& r : reports) {
    const Item items[] = {AggregateItem(r)};
    ASSERT_TRUE(out->Deliver(items).ok());
  }
  const std::string per_report = SplunkKvEvents(reports[0]);
  ASSERT_GT(per_report.size() * 2, 4096U / 2);  // the test rotates several times
  EXPECT_TRUE(fs::exists(dir_ / "dmarc.kv.1"));
  EXPECT_TRUE(fs::exists(dir_ / "dmarc.kv.3"));
  EXPECT_FALSE(fs::exists(dir_ / "dmarc.kv.4"));
  std::string all;
  for (const char* n : {"dmarc.kv.3", "dmarc.kv.2", "dmarc.kv.1", "dmarc.kv"}) {
    const std::string text = Read(n);
    EXPECT_LE(text.size(), 4096U) << n;
    EXPECT_EQ(Count(text, "RUA BEGIN\n") % 2, 0U) << n;  // a report never spans two files
    all += text;
  }
  // The newest files hold the last reports, in order and complete.
  std::string tail;
  for (std::size_t i = reports.size() - Count(all, "RUA BEGIN\n") / 2; i < reports.size(); ++i) {
    tail += SplunkKvEvents(reports[i]);
  }
  EXPECT_EQ(all, tail);
}

TEST_F(SplunkFilesTest, TheLedgerKeepsItsNewestHalfWhenItGrowsPastItsBound) {
  std::vector<model::AggregateReport> reports;
  for (int i = 0; i < 150; ++i)
    reports.push_back(SampleAggregate(std::string("r").append(std::to_string(i)), 1));
  {
    auto out = Make("splunk_json", {{"ledger_keys", "100"}});
    for (const auto& r : reports) {
      const Item items[] = {AggregateItem(r)};
      ASSERT_TRUE(out->Deliver(items).ok());
    }
  }
  const auto ledger_lines = Lines(Read(".dmarc-report-delivered")).size();
  EXPECT_GE(ledger_lines, 50U);
  EXPECT_LE(ledger_lines, 100U);
  const std::string before = Read("dmarc.json");
  EXPECT_EQ(Lines(before).size(), 150U);
  // A new process still knows the newest reports (nothing written again) ...
  auto out = Make("splunk_json", {{"ledger_keys", "100"}});
  const Item newest[] = {AggregateItem(reports[149]), AggregateItem(reports[120])};
  ASSERT_TRUE(out->Deliver(newest).ok());
  EXPECT_EQ(Read("dmarc.json"), before);
  // ... and the oldest, forgotten, is written again.
  const Item oldest[] = {AggregateItem(reports[0])};
  ASSERT_TRUE(out->Deliver(oldest).ok());
  EXPECT_EQ(Read("dmarc.json"), before + SplunkJsonEvents(reports[0]));
}

}  // namespace
}  // namespace dmarc::outputs
