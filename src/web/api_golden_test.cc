// Every /api/ answer, byte for byte, on a fixed store: the bodies are compared with the files in
// testdata/api-golden/ (one per request; README.md there). They pin the API's shapes, number
// types, nulls and key order while the store's queries and the JSON built from them change.
// DMARC_UPDATE_GOLDEN=1 rewrites the files (review the diff; only the SQLite run writes them).
// Every answer is asked of each back end (kBackends): PostgreSQL must give the same bytes.
//
// The store is built from fixtures without DNS or geolocation: the sources' attributes come
// from a fixed table below (as enrichment would fill them), every text is relative to
// testdata/, and the one time the store takes from the clock (imported_at) is set to a fixed
// value afterwards, so nothing in the answers depends on the machine or the day.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "pipeline/extract.h"
#include "store/dashboard.h"
#include "store/pg/pg_db.h"
#include "store/sha256.h"
#include "store/store.h"
#include "testing/postgres.h"
#include "testing/test_util.h"
#include "web/api.h"

namespace dmarc::web {
namespace {

namespace fs = std::filesystem;
using dmarc::testing::ReadFile;
using dmarc::testing::TestData;

constexpr std::int64_t kImportedAt = 1704067200;  // 2024-01-01T00:00:00Z

// Aggregate reports, in the order stored (report ids 1, 2, ...); those marked keep their XML.
constexpr std::pair<const char*, bool> kAggregates[] = {
    {"real/parsedmarc-samples/aggregate/rfc9990-sample.xml", true},
    // The same report as !example.com!1538204542!1538463818.xml, with bytes that are not UTF-8.
    {"real/parsedmarc-samples/aggregate/invalid_utf_8.xml", false},
    {"real/parsedmarc-samples/aggregate/usssa.com!example.com!1538784000!1538870399.xml", true},
    {"real/parsedmarc-samples/aggregate/rfc9990-example.net!example.com!1700000000!1700086399.xml",
     false},
    {"real/parsedmarc-samples/aggregate/ikea.com!example.de!1538690400!1538776800.xml", true},
    {"real/parsedmarc-samples/aggregate/"
     "fastmail.com!example.com!1516060800!1516147199!102675056.xml.gz",
     true},
    {"real/parsedmarc-samples/aggregate/Report domain- borschow.com Submitter- google.com "
     "Report-ID- 949348866075514174.eml",
     false},
    {"real/parsedmarc-samples/aggregate/mimecast-weird-gzip.eml", false},
    {"real/parsedmarc-samples/aggregate/"
     "protection.outlook.com!example.com!1711756800!1711843200.xml",
     true},
    {"real/parsedmarc-samples/aggregate/veeam.com!example.com!1530133200!1530219600.xml", false},
    {"real/parsedmarc-samples/aggregate/addisonfoods.com!example.com!1536105600!1536191999.xml",
     false},
    {"real/parsedmarc-samples/aggregate/empty_reason.xml", false},
    {"web/xss-payloads.xml", true},
};

constexpr const char* kOthers[] = {
    "real/parsedmarc-samples/failure/dmarc_ruf_report_linkedin.eml",
    "real/parsedmarc-samples/failure/[Netease DMARC Failure Report] Rent Reminder.eml",
    "real/parsedmarc-samples/failure/"
    "DMARC Failure Report for domain.de (mail-from=sharepoint@domain.de, ip=10.10.10.10).eml",
    "real/parsedmarc-samples/smtp_tls/rfc8460.json",
    "real/parsedmarc-samples/smtp_tls/smtp_tls.json",
    "real/parsedmarc-samples/smtp_tls/mail.ru.json",
    "real/parsedmarc-samples/smtp_tls/google.com_smtp_tls_report.eml",
};

// What enrichment would know of the i-th distinct address (in sorted order): every fourth stays
// unknown, the others get attributes that group differently per attribute.
std::optional<model::Source> SourceFor(const std::string& ip, std::size_t i) {
  if (i % 4 == 3) return std::nullopt;
  static const char* kServices[] = {"Mailer A", "Mailer B", "Mailer C"};
  static const char* kCountries[] = {"US", "DE"};
  model::Source s;
  s.ip_address = ip;
  s.name = kServices[i % 3];
  s.type = i % 3 == 2 ? "Marketing" : "Email Provider";
  s.base_domain = "mail" + std::to_string(i % 3) + ".example.net";
  s.reverse_dns = "host" + std::to_string(i) + "." + *s.base_domain;
  s.country = kCountries[i % 2];
  s.asn = 64496 + static_cast<std::int64_t>(i % 5);
  s.as_name = "Example AS " + std::to_string(*s.asn);
  s.as_domain = "as" + std::to_string(*s.asn) + ".example";
  return s;
}

// Fills each record's source as enrichment does, and returns what the store should know of each
// address beside its DNS cache.
std::vector<model::Source> Enrich(std::vector<pipeline::Extracted>& inputs) {
  std::set<std::string> ips;
  for (auto& e : inputs) {
    for (auto& f : e.reports) {
      for (auto& r : f.aggregate.records) ips.insert(r.source.ip_address);
    }
  }
  std::map<std::string, model::Source> known;
  std::size_t i = 0;
  for (const auto& ip : ips) {
    if (auto s = SourceFor(ip, i++)) known[ip] = *s;
  }
  for (auto& e : inputs) {
    for (auto& f : e.reports) {
      for (auto& r : f.aggregate.records) {
        auto it = known.find(r.source.ip_address);
        if (it != known.end()) r.source = it->second;
      }
    }
  }
  std::vector<model::Source> out;
  for (auto& [ip, s] : known) out.push_back(s);
  return out;
}

struct Backend {
  std::string name;
  bool sqlite;
};
const Backend kBackends[] = {{"sqlite", true}, {"postgres", false}};
void PrintTo(const Backend& b, std::ostream* os) { *os << b.name; }

class ApiGoldenTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    dir_ = dmarc::testing::FreshTestDir("dmarc-api-golden");
    url_ = GetParam().sqlite ? "sqlite:" + (dir_ / "golden.db").string()
                             : dmarc::testing::SharedPostgresDatabase("api_golden");
    ASSERT_FALSE(url_.empty());
    auto st = store::OpenStore(url_, {});
    ASSERT_TRUE(st.ok()) << st.error();
    std::vector<pipeline::Extracted> inputs;
    for (const auto& [name, keep_xml] : kAggregates) {
      pipeline::ExtractOptions options;
      options.keep_raw_xml = keep_xml;
      inputs.push_back(pipeline::ExtractReports(ReadFile(TestData(name)), name, options));
      ASSERT_EQ(inputs.back().reports.size(), 1u) << name;
    }
    for (const char* name : kOthers) {
      pipeline::ExtractOptions options;
      options.keep_sample = parse::KeepSample::kFull;  // so that hiding the samples shows
      inputs.push_back(pipeline::ExtractReports(ReadFile(TestData(name)), name, options));
      ASSERT_EQ(inputs.back().failures.size() + inputs.back().smtp_tls.size(), 1u) << name;
    }
    const std::vector<model::Source> sources = Enrich(inputs);
    store::Batch batch;
    batch.sources_enriched_at = kImportedAt;
    for (const auto& e : inputs) {
      for (const auto& f : e.reports) {
        batch.aggregates.push_back({f.origin, &f.aggregate, f.raw_xml_packed, f.raw_xml_size});
      }
      for (const auto& f : e.failures) batch.failures.push_back({f.origin, &f.report});
      for (const auto& t : e.smtp_tls) batch.smtp_tls.push_back({t.origin, &t.report});
    }
    // Rejected inputs: one a day apart each, one with a name that is not UTF-8.
    const std::string raw1 = "<?xml version=\"1.0\"?><feedback><oops", raw2(300, '\xff');
    const std::string raw3 = "PK\x03\x04 cut short";
    batch.rejections.push_back({1538352000, "inbox/mail-1.eml[part 2: report.xml]",
                                "not well-formed XML", store::Sha256Hex(raw1), 5000, raw1});
    batch.rejections.push_back(
        {1538438400, "drop/\xff\xfe.bin", "garbage", store::Sha256Hex(raw2), raw2.size(), raw2});
    batch.rejections.push_back({1700006400, "drop/cut.zip", "zip: truncated archive",
                                store::Sha256Hex(raw3), raw3.size(), raw3});
    auto r = (*st)->Store(batch);
    ASSERT_TRUE(r.ok()) << r.error();
    auto put = (*st)->PutSourceInfo(sources);
    ASSERT_TRUE(put.ok()) << put.error();
    store_ = std::move(st).value();
    const std::string fix =
        "UPDATE aggregate_reports SET imported_at = " + std::to_string(kImportedAt) +
        "; UPDATE failure_reports SET imported_at = " + std::to_string(kImportedAt) +
        "; UPDATE smtp_tls_reports SET imported_at = " + std::to_string(kImportedAt) + ";";
    if (!GetParam().sqlite) {
      auto conn = store::pg::Connection::Open(url_, url_);
      ASSERT_TRUE(conn.ok()) << conn.error();
      auto done = conn->Exec(fix);
      ASSERT_TRUE(done.ok()) << done.error();
      return;
    }
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ / "golden.db").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, fix.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db);
    sqlite3_close(db);
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }

  fs::path dir_;
  std::string url_;
  std::unique_ptr<store::ReportStore> store_;
};

constexpr const char* kJson = "application/json";

struct Request {
  std::string file;  // under testdata/api-golden/
  std::string path;
  Params params;
  int status = 200;
  std::string content_type = kJson;
  std::string download_name;
  bool samples = false;  // the server runs with --show-failure-samples
};

// A table, one entry per golden file (long for that reason only).
const std::vector<Request>& Requests() {
  static const std::vector<Request> requests = {
      {"stats.json", "/api/stats", {}},
      {"stats-domain-days.json",
       "/api/stats",
       {{"domain", "example.com"}, {"from", "2018-01-01"}, {"to", "2018-12-31"}}},
      {"overview.json", "/api/overview", {}},
      {"overview-days.json", "/api/overview", {{"from", "2018-10-01"}, {"to", "2018-10-31"}}},
      {"overview-domain-days.json",
       "/api/overview",
       {{"domain", "example.com"}, {"from", "2023-11-14"}, {"to", "2024-12-31"}}},
      {"overview-failing.json", "/api/overview", {{"failing", "1"}}},
      {"overview-failing-days.json",
       "/api/overview",
       {{"failing", "1"}, {"from", "2018-01-01"}, {"to", "2018-12-31"}}},
      {"overview-source-service.json",
       "/api/overview",
       {{"source_group", "service"}, {"source_value", "Mailer A"}}},
      {"overview-source-unknown.json",
       "/api/overview",
       {{"source_group", "country"}, {"source_value", ""}}},
      {"overview-header-from.json", "/api/overview", {{"header_from", "example.com"}}},
      {"overview-org.json", "/api/overview", {{"org", "usssa.com"}}},
      {"sources-service.json", "/api/sources", {{"group", "service"}}},
      {"sources-default.json", "/api/sources", {}},
      {"sources-base_domain.json", "/api/sources", {{"group", "base_domain"}}},
      {"sources-ptr.json", "/api/sources", {{"group", "ptr"}}},
      {"sources-ip.json", "/api/sources", {{"group", "ip"}}},
      {"sources-ip-limit.json", "/api/sources", {{"group", "ip"}, {"limit", "3"}}},
      {"sources-asn.json", "/api/sources", {{"group", "asn"}}},
      {"sources-country.json", "/api/sources", {{"group", "country"}}},
      {"sources-ip-domain.json", "/api/sources", {{"group", "ip"}, {"domain", "example.com"}}},
      {"sources-country-days.json",
       "/api/sources",
       {{"group", "country"}, {"from", "2018-01-01"}, {"to", "2018-12-31"}}},
      {"sources-service-failing.json", "/api/sources", {{"group", "service"}, {"failing", "1"}}},
      {"sources-ip-in-service.json",
       "/api/sources",
       {{"group", "ip"}, {"source_group", "service"}, {"source_value", "Mailer B"}}},
      {"sources-ip-in-unknown-service.json",
       "/api/sources",
       {{"group", "ip"}, {"source_group", "service"}, {"source_value", ""}}},
      {"sources-asn-in-country.json",
       "/api/sources",
       {{"group", "asn"}, {"source_group", "country"}, {"source_value", "DE"}}},
      {"sources-service-in-ip.json",
       "/api/sources",
       {{"group", "service"}, {"source_group", "ip"}, {"source_value", "199.230.200.36"}}},
      {"sources-asn-header-from.json",
       "/api/sources",
       {{"group", "asn"}, {"header_from", "example.com"}}},
      {"sources-ptr-org.json", "/api/sources", {{"group", "ptr"}, {"org", "usssa.com"}}},
      {"sources-ip-org-drill.json",
       "/api/sources",
       {{"group", "ip"},
        {"org", "usssa.com"},
        {"source_group", "service"},
        {"source_value", "Mailer A"}}},
      {"records.json", "/api/records", {}},
      {"records-limit.json", "/api/records", {{"limit", "2"}}},
      {"records-failing.json", "/api/records", {{"failing", "1"}}},
      {"records-source-ip.json",
       "/api/records",
       {{"source_group", "ip"}, {"source_value", "199.230.200.36"}}},
      {"records-source-unknown-service.json",
       "/api/records",
       {{"source_group", "service"}, {"source_value", ""}}},
      {"records-header-from-days.json",
       "/api/records",
       {{"header_from", "example.com"}, {"from", "2018-01-01"}, {"to", "2018-12-31"}}},
      {"records-org.json", "/api/records", {{"org", "outlook.com"}}},
      {"domains.json", "/api/domains", {}},
      {"domains-domain-days.json",
       "/api/domains",
       {{"domain", "example.com"}, {"from", "2018-01-01"}, {"to", "2018-12-31"}}},
      {"domains-org.json", "/api/domains", {{"org", "usssa.com"}}},
      {"domains-failing.json", "/api/domains", {{"failing", "1"}}},
      {"reporters.json", "/api/reporters", {}},
      {"reporters-failing-days.json",
       "/api/reporters",
       {{"failing", "1"}, {"from", "2018-01-01"}, {"to", "2018-12-31"}}},
      {"reports.json", "/api/reports", {}},
      {"reports-offset.json", "/api/reports", {{"limit", "3"}, {"offset", "4"}}},
      {"reports-offset-past-end.json", "/api/reports", {{"offset", "100"}}},
      {"reports-domain-failing.json",
       "/api/reports",
       {{"domain", "example.com"}, {"failing", "1"}}},
      {"reports-org.json", "/api/reports", {{"org", "google.com"}}},
      // The advisor over the year of example.com's newest sample (no sender approved).
      {"advise-domain-until.json",
       "/api/advise",
       {{"domain", "example.com"}, {"days", "366"}, {"until", "2024-03-31"}}},
      {"advise-no-domain.json", "/api/advise", {}, 400},
  };
  return requests;
}

// The rest: one report each, downloads, failure and SMTP TLS reports, rejected inputs, errors.
const std::vector<Request>& MoreRequests() {
  static const std::vector<Request> requests = [] {
    std::vector<Request> r;
    for (int id = 1; id <= 13; ++id) {
      r.push_back({fmt::format("report-{}.json", id), "/api/report", {{"id", std::to_string(id)}}});
    }
    r.push_back({"report-raw-1.xml",
                 "/api/report/raw",
                 {{"id", "1"}},
                 200,
                 "application/xml",
                 "report-1.xml"});
    r.push_back({"report-raw-6.xml",
                 "/api/report/raw",
                 {{"id", "6"}},
                 200,
                 "application/xml",
                 "report-6.xml"});
    r.push_back({"rejected.json", "/api/rejected", {}});
    r.push_back(
        {"rejected-days.json", "/api/rejected", {{"from", "2018-10-01"}, {"to", "2018-10-02"}}});
    r.push_back({"rejected-limit.json", "/api/rejected", {{"limit", "1"}}});
    r.push_back({"rejected-raw-2.bin",
                 "/api/rejected/raw",
                 {{"id", "2"}},
                 200,
                 "application/octet-stream",
                 "rejected-2-5263250339d3961c.bin"});
    r.push_back({"failures.json", "/api/failures", {}});
    r.push_back({"failures-samples.json", "/api/failures", {}, 200, kJson, "", true});
    r.push_back({"failures-domain.json", "/api/failures", {{"domain", "domain.de"}}});
    r.push_back({"failures-limit-days.json",
                 "/api/failures",
                 {{"limit", "1"}, {"from", "2000-01-01"}, {"to", "2030-12-31"}}});
    r.push_back({"failure-3.json", "/api/failure", {{"id", "3"}}});
    r.push_back({"failure-3-samples.json", "/api/failure", {{"id", "3"}}, 200, kJson, "", true});
    r.push_back({"failure-2-samples.json", "/api/failure", {{"id", "2"}}, 200, kJson, "", true});
    r.push_back({"domain-names.json", "/api/domain-names", {}});
    r.push_back({"enrichment.json", "/api/enrichment", {}});
    r.push_back({"smtp-tls.json", "/api/smtp-tls", {}});
    r.push_back({"smtp-tls-domain.json", "/api/smtp-tls", {{"domain", "company-y.example"}}});
    r.push_back(
        {"smtp-tls-days.json", "/api/smtp-tls", {{"from", "2016-04-01"}, {"to", "2016-04-01"}}});
    // Lists: pages, searches, the largest page.
    r.push_back({"sources-ip-page-2.json",
                 "/api/sources",
                 {{"group", "ip"}, {"limit", "5"}, {"offset", "5"}}});
    r.push_back(
        {"sources-service-q.json", "/api/sources", {{"group", "service"}, {"q", "MAILER"}}});
    r.push_back({"sources-ip-q.json",
                 "/api/sources",
                 {{"group", "ip"}, {"q", "192.0.2."}, {"limit", "3"}, {"offset", "1"}}});
    r.push_back({"sources-limit-cap.json",
                 "/api/sources",
                 {{"group", "ip"}, {"limit", "5000"}, {"offset", "20"}}});
    r.push_back({"records-q-page.json",
                 "/api/records",
                 {{"q", "EXAMPLE"}, {"limit", "2"}, {"offset", "1"}}});
    r.push_back({"records-q-wildcard.json", "/api/records", {{"q", "_"}, {"limit", "1"}}});
    r.push_back({"reports-q.json", "/api/reports", {{"q", "Google"}}});
    r.push_back({"reporters-page.json", "/api/reporters", {{"limit", "2"}, {"offset", "1"}}});
    r.push_back({"reporters-q.json", "/api/reporters", {{"q", "GOOGLE"}}});
    r.push_back({"domains-q.json", "/api/domains", {{"q", "example.com"}, {"limit", "2"}}});
    r.push_back({"rejected-q.json", "/api/rejected", {{"q", "eml"}}});
    r.push_back({"failures-q.json", "/api/failures", {{"q", "auth"}, {"limit", "1"}}});
    r.push_back({"smtp-tls-q.json", "/api/smtp-tls", {{"q", "company-y"}}});
    // Errors.
    r.push_back({"error-long-q.json", "/api/sources", {{"q", std::string(101, 'q')}}, 400});
    r.push_back({"error-q-control.json", "/api/records", {{"q", "a\tb"}}, 400});
    r.push_back({"error-q-not-utf8.json", "/api/reports", {{"q", "\xff"}}, 400});
    r.push_back({"error-huge-offset.json", "/api/records", {{"offset", "99999999999999"}}, 400});
    r.push_back({"error-negative-offset.json", "/api/failures", {{"offset", "-5"}}, 400});
    r.push_back({"error-bad-date.json", "/api/overview", {{"from", "yesterday"}}, 400});
    r.push_back({"error-to-before-from.json",
                 "/api/records",
                 {{"from", "2024-02-01"}, {"to", "2024-01-01"}},
                 400});
    r.push_back({"error-bad-group.json", "/api/sources", {{"group", "password"}}, 400});
    r.push_back({"error-bad-source-group.json",
                 "/api/records",
                 {{"source_group", "ip;DROP"}, {"source_value", "x"}},
                 400});
    r.push_back({"error-bad-limit.json", "/api/reports", {{"limit", "-1"}}, 400});
    r.push_back({"error-bad-offset.json", "/api/reports", {{"offset", "many"}}, 400});
    r.push_back({"error-long-param.json", "/api/domains", {{"org", std::string(1025, 'o')}}, 400});
    r.push_back({"error-report-without-id.json", "/api/report", {}, 400});
    r.push_back({"error-report-unknown-id.json", "/api/report", {{"id", "999"}}, 404});
    r.push_back({"error-report-raw-not-stored.json", "/api/report/raw", {{"id", "2"}}, 404});
    r.push_back({"error-report-raw-unknown-id.json", "/api/report/raw", {{"id", "999"}}, 404});
    r.push_back({"error-rejected-raw-unknown-id.json", "/api/rejected/raw", {{"id", "999"}}, 404});
    r.push_back({"error-rejected-raw-bad-id.json", "/api/rejected/raw", {{"id", "x"}}, 400});
    r.push_back({"error-failure-unknown-id.json", "/api/failure", {{"id", "999"}}, 404});
    r.push_back({"error-failure-without-id.json", "/api/failure", {}, 400});
    r.push_back({"error-unknown-path.json", "/api/nothing", {}, 404});
    return r;
  }();
  return requests;
}

std::string GoldenDir() { return TestData("api-golden/"); }

// Where two texts first differ, with some context, for a readable failure.
std::string FirstDifference(const std::string& got, const std::string& want) {
  std::size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
  const std::size_t from = i < 80 ? 0 : i - 80;
  return "first difference at byte " + std::to_string(i) + "\n got: ..." + got.substr(from, 200) +
         "\nwant: ..." + want.substr(from, 200);
}

TEST_P(ApiGoldenTest, EveryAnswerIsAsRecorded) {
  auto q = store::OpenDashboard(url_);
  ASSERT_TRUE(q.ok()) << q.error();
  Api api(*store_, **q, {});
  Api with_samples(*store_, **q, {.show_failure_samples = true});
  const bool update = std::getenv("DMARC_UPDATE_GOLDEN") != nullptr && GetParam().sqlite;
  std::set<std::string> files;
  std::vector<Request> all = Requests();
  for (const auto& r : MoreRequests()) all.push_back(r);
  for (const auto& r : all) {
    SCOPED_TRACE(r.file);
    ASSERT_TRUE(files.insert(r.file).second) << "two requests write " << r.file;
    const ApiAnswer a = (r.samples ? with_samples : api).Get(r.path, r.params);
    EXPECT_EQ(a.status, r.status) << a.body;
    EXPECT_EQ(a.content_type, r.content_type);
    EXPECT_EQ(a.download_name, r.download_name);
    const std::string path = GoldenDir() + r.file;
    if (update) {
      std::ofstream(path, std::ios::binary) << a.body;
      continue;
    }
    ASSERT_TRUE(fs::exists(path)) << "missing; DMARC_UPDATE_GOLDEN=1 writes it";
    const std::string want = ReadFile(path);
    EXPECT_TRUE(a.body == want) << FirstDifference(a.body, want);
  }
  // No file left over from a request that is gone.
  for (const auto& e : fs::directory_iterator(GoldenDir())) {
    const std::string name = e.path().filename().string();
    if (name == "README.md") continue;  // how they are made
    EXPECT_TRUE(files.count(name)) << name << " belongs to no request";
  }
}

// Every list: its total is the number of rows it has, its pages put together are the whole
// list (in order, each row once), a search keeps only rows that contain the text, and a limit
// above the largest page is cut to it.
TEST_P(ApiGoldenTest, ListsPageThroughEveryRowOnceWithExactTotals) {
  auto q = store::OpenDashboard(url_);
  ASSERT_TRUE(q.ok()) << q.error();
  Api api(*store_, **q, {});
  auto get = [&](const std::string& path, Params params) {
    const ApiAnswer a = api.Get(path, params);
    EXPECT_EQ(a.status, 200) << path << ": " << a.body;
    return nlohmann::json::parse(a.body);
  };
  struct List {
    std::string path;
    Params params;
    std::string rows, total;
    std::string search = "EXAMPLE";  // some of its rows hold it (in lower case)
  };
  const std::vector<List> lists = {
      {"/api/sources", {{"group", "ip"}}, "rows", "total"},
      {"/api/sources", {{"group", "service"}}, "rows", "total"},
      {"/api/sources", {{"group", "asn"}, {"header_from", "example.com"}}, "rows", "total"},
      {"/api/records", {}, "rows", "total"},
      {"/api/reports", {}, "rows", "total"},
      {"/api/reporters", {}, "rows", "total"},
      {"/api/rejected", {}, "rows", "total", "REPORT"},
      {"/api/failures", {}, "rows", "total"},
      {"/api/domains", {}, "header_from", "header_from_total"},
      {"/api/domains", {}, "policies", "policies_total"},
      {"/api/smtp-tls", {}, "policies", "policies_total"},
  };
  for (const List& l : lists) {
    SCOPED_TRACE(l.path + " " + l.rows + " " + (l.params.empty() ? "" : l.params.begin()->second));
    Params all = l.params;
    all.emplace("limit", "1000");
    const nlohmann::json whole = get(l.path, all);
    const std::size_t total = whole[l.total].get<std::size_t>();
    ASSERT_EQ(whole[l.rows].size(), total);
    ASSERT_GE(total, 3u);  // the fixtures give every list several rows
    nlohmann::json paged = nlohmann::json::array();
    for (std::size_t offset = 0; offset < total + 2; offset += 2) {
      Params p = l.params;
      p.emplace("limit", "2");
      p.emplace("offset", std::to_string(offset));
      const nlohmann::json page = get(l.path, p);
      EXPECT_EQ(page[l.total].get<std::size_t>(), total);
      EXPECT_EQ(page["offset"].get<std::size_t>(), offset);
      EXPECT_LE(page[l.rows].size(), 2u);
      for (const auto& row : page[l.rows]) paged.push_back(row);
    }
    EXPECT_EQ(paged, whole[l.rows]);
    // A search: only rows holding the text (in any case), counted exactly.
    Params s = all;
    s.emplace("q", l.search);
    std::string lower = l.search;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    const nlohmann::json found = get(l.path, s);
    EXPECT_EQ(found[l.rows].size(), found[l.total].get<std::size_t>());
    EXPECT_LE(found[l.total].get<std::size_t>(), total);
    std::size_t holding = 0;
    for (const auto& row : whole[l.rows]) {
      std::string text = row.dump();
      std::transform(text.begin(), text.end(), text.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      holding += text.find(lower) != std::string::npos;
    }
    for (const auto& row : found[l.rows]) {
      std::string text = row.dump();
      std::transform(text.begin(), text.end(), text.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      EXPECT_NE(text.find(lower), std::string::npos) << text;
    }
    EXPECT_LE(found[l.total].get<std::size_t>(), holding);
    EXPECT_GT(found[l.total].get<std::size_t>(), 0u);  // each list has such rows
    s.erase("q");
    s.emplace("q", "no-such-text-anywhere");
    EXPECT_EQ(get(l.path, s)[l.total], 0);
  }
  const nlohmann::json capped = get("/api/records", {{"limit", "5000"}});
  EXPECT_EQ(capped["limit"], 1000);
}

INSTANTIATE_TEST_SUITE_P(Backends, ApiGoldenTest, ::testing::ValuesIn(kBackends),
                         [](const auto& p) { return p.param.name; });

}  // namespace
}  // namespace dmarc::web
