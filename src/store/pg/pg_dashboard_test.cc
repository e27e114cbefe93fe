// The PostgreSQL dashboard's own promises, beyond the API golden tests (web/api_golden_test.cc,
// which compare every answer with SQLite's): a filter's texts that no stored text can equal
// (NUL, invalid UTF-8, an AS number that is no number) find what SQLite finds, never an error;
// and a dashboard outlives a restart of its server, without trying again what cannot succeed.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <tuple>
#include <vector>

#include "store/dashboard.h"
#include "store/store.h"
#include "testing/postgres.h"
#include "testing/test_util.h"

namespace dmarc::store {
namespace {

namespace fs = std::filesystem;

model::Record Rec(const std::string& ip, std::int64_t begin, std::uint64_t count,
                  std::optional<std::int64_t> asn) {
  model::Record r;
  r.interval_begin = begin;
  r.interval_end = begin + 86399;
  r.source.ip_address = ip;
  r.source.asn = asn;
  r.count = count;
  r.alignment = {count % 2 == 0, false, true};
  r.policy_evaluated.disposition = "none";
  r.policy_evaluated.dkim = "pass";
  r.policy_evaluated.spf = "fail";
  r.identifiers.header_from = count % 2 ? "example.com" : "example.org";
  r.dkim.push_back({"example.com", "s1", "pass", std::nullopt});
  r.spf.push_back({"example.com", "mfrom", "fail", "softfail"});
  return r;
}

model::AggregateReport Report() {
  model::AggregateReport r;
  r.xml_schema = "1.0";
  r.report_metadata.org_name = "org.example";
  r.report_metadata.org_email = "r@org.example";
  r.report_metadata.report_id = "r1";
  r.report_metadata.begin = 1700000000;
  r.report_metadata.end = 1700000000 + 86399;
  r.policy_published.domain = "example.com";
  r.policy_published.p = "none";
  r.policy_published.sp = "none";
  r.records = {Rec("192.0.2.1", 1700000000, 3, 64500), Rec("192.0.2.2", 1700000000, 4, 64501),
               Rec("192.0.2.3", 1700000000, 5, std::nullopt)};
  return r;
}

// A store at url holding Report(), and its dashboard.
struct Opened {
  std::unique_ptr<ReportStore> store;
  std::unique_ptr<DashboardQueries> dashboard;
};
Opened Open(const std::string& url, const model::AggregateReport& report) {
  Opened o;
  auto s = OpenStore(url, {});
  EXPECT_TRUE(s.ok()) << s.error();
  if (!s.ok()) return o;
  o.store = std::move(s).value();
  Batch batch;
  batch.aggregates.push_back({"test", &report, "", 0});
  auto stored = o.store->Store(batch);
  EXPECT_TRUE(stored.ok()) << stored.error();
  auto d = OpenDashboard(url, {});
  EXPECT_TRUE(d.ok()) << d.error();
  if (d.ok()) o.dashboard = std::move(d).value();
  return o;
}

using RecordKey = std::tuple<std::string, std::int64_t, std::string>;
std::vector<RecordKey> Keys(const std::vector<RecordRow>& rows) {
  std::vector<RecordKey> out;
  for (const auto& r : rows) out.emplace_back(r.source_ip, r.count, r.header_from);
  return out;
}

TEST(PgDashboard, FilterTextsNoStoredTextCanEqualFindWhatSqliteFinds) {
  const fs::path dir = dmarc::testing::FreshTestDir("dmarc-pg-dashboard");
  const model::AggregateReport report = Report();
  Opened sqlite = Open("sqlite:" + (dir / "s.db").string(), report);
  Opened pg = Open(dmarc::testing::SharedPostgresDatabase("pg_dashboard_texts"), report);
  ASSERT_TRUE(sqlite.dashboard && pg.dashboard);
  const std::string nul("example.com\0x", 13), bad_utf8 = "example.com\xff";
  std::vector<DashboardFilter> filters;
  for (const std::string& text :
       {nul, bad_utf8, std::string("example.com' OR '1'='1"), std::string("example.com")}) {
    DashboardFilter f;
    f.header_from = text;
    filters.push_back(f);
    f = {};
    f.org_name = text;
    filters.push_back(f);
    f = {};
    f.range.domain = text;
    filters.push_back(f);
  }
  // An AS number as SQLite compares it with the column: the same number with spaces or a plus,
  // nothing for a text that is no number, unknown ones for "".
  for (const std::string& asn :
       {std::string("64500"), std::string(" +64500 "), std::string("64500x"), bad_utf8,
        std::string("99999999999999999999"), std::string("")}) {
    DashboardFilter f;
    f.source_group = "asn";
    f.source_value = asn;
    filters.push_back(f);
  }
  for (const std::string& ip : {std::string("192.0.2.1"), bad_utf8, nul}) {
    DashboardFilter f;
    f.source_group = "ip";
    f.source_value = ip;
    filters.push_back(f);
  }
  int found = 0;
  for (const auto& f : filters) {
    SCOPED_TRACE(::testing::PrintToString(f.header_from.value_or("-")) + " " +
                 ::testing::PrintToString(f.org_name.value_or("-")) + " " +
                 ::testing::PrintToString(f.range.domain.value_or("-")) + " " +
                 ::testing::PrintToString(f.source_value.value_or("-")));
    auto want = sqlite.dashboard->Records(f, {});
    auto got = pg.dashboard->Records(f, {});
    ASSERT_TRUE(want.ok()) << want.error();
    ASSERT_TRUE(got.ok()) << got.error();
    EXPECT_EQ(Keys(got->rows), Keys(want->rows));
    EXPECT_EQ(got->total, want->total);
    found += !want->rows.empty();
    for (const char* group : {"ip", "asn"}) {
      auto ws = sqlite.dashboard->Sources(f, group, {.offset = 0, .limit = 10, .search = {}});
      auto gs = pg.dashboard->Sources(f, group, {.offset = 0, .limit = 10, .search = {}});
      ASSERT_TRUE(ws.ok()) << ws.error();
      ASSERT_TRUE(gs.ok()) << gs.error();
      ASSERT_EQ(gs->rows.size(), ws->rows.size()) << group;
      for (std::size_t i = 0; i < ws->rows.size(); ++i) {
        EXPECT_EQ(gs->rows[i].key, ws->rows[i].key);
        EXPECT_EQ(gs->rows[i].sums.messages, ws->rows[i].sums.messages);
      }
    }
  }
  EXPECT_GE(found, 5);  // the plain texts and the numbers do find records
  sqlite = {};
  fs::remove_all(dir);
}

TEST(PgDashboard, AnswersAgainAfterItsServerRestarts) {
  const fs::path dir = dmarc::testing::FreshTestDir("dmarc-pg-dashboard-restart");
  struct RemovedLast {  // after the server below has stopped
    fs::path dir;
    ~RemovedLast() { fs::remove_all(dir); }
  } removed_last{dir};
  dmarc::testing::PostgresServer server(dir / "pg");
  server.Start();
  const model::AggregateReport report = Report();
  Opened o = Open(server.CreateDatabase("dash"), report);
  ASSERT_TRUE(o.dashboard);
  auto before = o.dashboard->Overview({});
  ASSERT_TRUE(before.ok()) << before.error();
  EXPECT_EQ(before->totals.sums.messages, 12);
  server.Restart();
  auto after = o.dashboard->Overview({});
  ASSERT_TRUE(after.ok()) << after.error();
  EXPECT_EQ(after->totals.sums.messages, 12);
  EXPECT_EQ(after->totals.sources, 3);
  // An error of the question itself is answered at once, not tried again until the time
  // allowed for retries is spent.
  const auto t0 = std::chrono::steady_clock::now();
  auto bad = o.dashboard->Sources({}, "password", {});
  EXPECT_FALSE(bad.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  auto missing = o.dashboard->Report(999);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error_kind(), ErrorKind::kNotFound);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  o = {};
}

}  // namespace
}  // namespace dmarc::store
