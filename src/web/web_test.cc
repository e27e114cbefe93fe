// The dashboard server over real sockets: security headers, loopback-only without
// authentication, bearer tokens, password sign-in with session cookies, TLS; the API's answers
// and errors; the HTML report's inline policy. (The pages themselves: tests/web/.)
#include <gtest/gtest.h>
#include <httplib.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "pipeline/extract.h"
#include "store/dashboard.h"
#include "store/store.h"
#include "testing/postgres.h"
#include "testing/sqlite_damage.h"
#include "testing/sqlite_schema_undo.h"
#include "testing/test_util.h"
#include "web/api.h"
#include "web/html_report.h"
#include "web/server.h"

namespace dmarc::web {
namespace {

namespace fs = std::filesystem;
using dmarc::testing::ReadFile;
using dmarc::testing::TestData;

class WebTest : public ::testing::Test {
 protected:
  // The URL of a new store (SQLite, unless a test asks for another back end).
  virtual std::string NewStoreUrl() { return "sqlite:" + (dir_ / "t.db").string(); }

  void SetUp() override {
    std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(test.begin(), test.end(), '/', '-');
    dir_ = fs::temp_directory_path() / ("dmarc-web-" + std::to_string(getpid()) + "-" + test);
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    db_ = NewStoreUrl();
    ASSERT_FALSE(db_.empty());
    auto st = store::OpenStore(db_, {});
    ASSERT_TRUE(st.ok()) << st.error();
    store::Batch batch;
    std::vector<pipeline::Extracted> keep;
    for (const char* name :
         {"aggregate/rfc9990-sample.xml", "aggregate/!example.com!1538204542!1538463818.xml"}) {
      const std::string path = TestData(std::string("real/parsedmarc-samples/") + name);
      // The first keeps its XML (as import does); the second is as if imported before.
      pipeline::ExtractOptions options;
      options.keep_raw_xml = keep.empty();
      keep.push_back(pipeline::ExtractReports(ReadFile(path), path, options));
    }
    for (const auto& e : keep) {
      for (const auto& f : e.reports) {
        batch.aggregates.push_back({"test", &f.aggregate, f.raw_xml_packed, f.raw_xml_size});
      }
    }
    auto r = (*st)->Store(batch);
    ASSERT_TRUE(r.ok()) << r.error();
    ASSERT_EQ(r->new_reports, 2u);
    store_ = std::move(st).value();
  }
  void TearDown() override {
    StopServer();
    store_.reset();
    fs::remove_all(dir_);
  }

  std::string Write(const std::string& name, const std::string& text) {
    const fs::path p = dir_ / name;
    std::ofstream(p) << text;
    return p.string();
  }

  void StartWith(ServeOptions options) {
    options.db = db_;
    auto s = StartServer(options);
    ASSERT_TRUE(s.ok()) << s.error();
    server_ = std::move(s).value();
    thread_ = std::thread([this] { server_->Run(); });
    for (int i = 0; i < 200; ++i) {
      httplib::Client c("127.0.0.1", server_->port());
      if (!tls_ && c.Get("/favicon.svg")) break;
      if (tls_) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  void StopServer() {
    if (server_) server_->Stop();
    if (thread_.joinable()) thread_.join();
    server_.reset();
  }
  httplib::Client Client() { return httplib::Client("127.0.0.1", server_->port()); }

  fs::path dir_;
  std::string db_;
  std::unique_ptr<store::ReportStore> store_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
  bool tls_ = false;
};

TEST_F(WebTest, ServesThePagesAndApiWithAStrictPolicy) {
  StartWith({.listen = "127.0.0.1:0"});
  auto c = Client();
  for (const char* path : {"/", "/app.js", "/app.css", "/api/stats", "/anything"}) {
    auto res = c.Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 200) << path;
    const std::string csp = res->get_header_value("Content-Security-Policy");
    EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << path;
    EXPECT_EQ(csp.find("unsafe"), std::string::npos) << path;
    EXPECT_EQ(res->get_header_value("X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(res->get_header_value("X-Frame-Options"), "DENY");
  }
  auto index = c.Get("/");
  EXPECT_NE(index->body.find("<script src=\"/app.js\">"), std::string::npos);
  EXPECT_EQ(index->body.find("<script>"), std::string::npos);  // no inline script
  EXPECT_EQ(c.Get("/app.js")->get_header_value("Content-Type"), "text/javascript; charset=utf-8");
}

// The dashboard says why DNS names are missing from what the serving program does.
TEST_F(WebTest, EnrichmentStateSaysHowNamesAreFilledIn) {
  StartWith({.listen = "127.0.0.1:0", .enrichment = "offline"});
  auto c = Client();
  auto res = c.Get("/api/enrichment");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  auto j = nlohmann::json::parse(res->body);
  EXPECT_EQ(j["mode"], "offline");
  // The fixture's reports were stored without enrichment: their addresses wait for DNS.
  ASSERT_TRUE(j["pending_addresses"].is_number_unsigned()) << res->body;
  EXPECT_GT(j["pending_addresses"].get<std::size_t>(), 0u);
  StopServer();
  StartWith({.listen = "127.0.0.1:0"});  // `serve`: it does not enrich
  auto plain = nlohmann::json::parse(Client().Get("/api/enrichment")->body);
  EXPECT_TRUE(plain["mode"].is_null());
}

TEST_F(WebTest, ApiStatsIsTheStatsObjectAndErrorsAreJson) {
  StartWith({.listen = "127.0.0.1:0"});
  auto c = Client();
  store::Filter f;
  f.domain = "example.com";
  auto expected = store_->QueryStats(f);
  ASSERT_TRUE(expected.ok());
  auto res = c.Get("/api/stats?domain=example.com");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, DumpJson(StatsJson(*expected)));
  EXPECT_EQ(res->get_header_value("Cache-Control"), "no-store");
  EXPECT_EQ(c.Get("/api/stats?from=yesterday")->status, 400);
  EXPECT_EQ(c.Get("/api/stats?from=2024-02-01&to=2024-01-01")->status, 400);
  EXPECT_EQ(c.Get("/api/sources?group=password")->status, 400);
  EXPECT_EQ(c.Get("/api/report?id=999999")->status, 404);
  EXPECT_EQ(c.Get("/api/nothing")->status, 404);
  auto bad = c.Get("/api/records?source_group=ip;DROP&source_value=x");
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("\"error\""), std::string::npos);
}

TEST_F(WebTest, ReportRawXmlIsADownloadOfTheXmlAsReceived) {
  StartWith({.listen = "127.0.0.1:0"});
  auto c = Client();
  const std::string xml =
      ReadFile(TestData("real/parsedmarc-samples/aggregate/rfc9990-sample.xml"));
  // Reports are numbered in the order stored: 1 has its XML, 2 was stored without.
  auto res = c.Get("/api/report/raw?id=1");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, xml);
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/xml");
  EXPECT_EQ(res->get_header_value("Content-Disposition"), "attachment; filename=\"report-1.xml\"");
  EXPECT_EQ(res->get_header_value("X-Content-Type-Options"), "nosniff");
  auto report = c.Get("/api/report?id=1");
  ASSERT_TRUE(report);
  auto j = nlohmann::json::parse(report->body);
  EXPECT_EQ(j["raw_xml"]["size"], xml.size());
  EXPECT_GT(j["raw_xml"]["stored_bytes"], 0);
  EXPECT_LT(j["raw_xml"]["stored_bytes"], xml.size());
  auto without = nlohmann::json::parse(c.Get("/api/report?id=2")->body);
  EXPECT_TRUE(without["raw_xml"].is_null());
  auto none = c.Get("/api/report/raw?id=2");
  EXPECT_EQ(none->status, 404);
  EXPECT_NE(none->body.find("no stored XML"), std::string::npos);
  EXPECT_EQ(c.Get("/api/report/raw?id=999999")->status, 404);
  EXPECT_EQ(c.Get("/api/report/raw?id=x")->status, 400);
}

// The API's answers that hold on every back end: the same tests on SQLite and on PostgreSQL
// (a database on the suite's shared server).
class WebApiTest : public WebTest, public ::testing::WithParamInterface<std::string> {
 protected:
  std::string NewStoreUrl() override {
    if (GetParam() == "sqlite") return WebTest::NewStoreUrl();
    return dmarc::testing::SharedPostgresDatabase(
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
};
INSTANTIATE_TEST_SUITE_P(Backends, WebApiTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& p) { return p.param; });

TEST_P(WebApiTest, OverviewTotalsAgreeWithStats) {
  auto q = store::OpenDashboard(db_);
  ASSERT_TRUE(q.ok()) << q.error();
  Api api(*store_, **q, {});
  auto stats = nlohmann::json::parse(api.Get("/api/stats", {}).body);
  auto overview = nlohmann::json::parse(api.Get("/api/overview", {}).body);
  EXPECT_EQ(overview["totals"]["messages"], stats["messages"]);
  EXPECT_EQ(overview["totals"]["dmarc_pass"], stats["dmarc_pass"]);
  EXPECT_EQ(overview["totals"]["sources"], stats["source_ips"]);
  EXPECT_EQ(overview["totals"]["reports"], stats["reports"]);
  std::int64_t daily = 0;
  for (const auto& d : overview["daily"]) daily += d["messages"].get<std::int64_t>();
  EXPECT_EQ(daily, stats["messages"].get<std::int64_t>());
  // Drill-down to records: every record of the IP, with its DKIM and SPF results.
  auto ip = overview["top_sources"][0]["key"].get<std::string>();
  auto records = nlohmann::json::parse(
      api.Get("/api/records", {{"source_group", "ip"}, {"source_value", ip}}).body);
  ASSERT_FALSE(records["rows"].empty());
  for (const auto& r : records["rows"]) {
    EXPECT_EQ(r["source_ip"], ip);
    EXPECT_TRUE(r.contains("dkim") && r.contains("spf"));
  }
}

// Sums of the rows /api/records lists (every row of this small store), per source IP.
std::map<std::string, std::array<std::int64_t, 4>> SumsByIp(Api& api, const Params& filter) {
  Params p = filter;
  p.emplace("limit", "1000");
  auto records = nlohmann::json::parse(api.Get("/api/records", p).body);
  std::map<std::string, std::array<std::int64_t, 4>> out;
  for (const auto& r : records["rows"]) {
    auto& s = out[r["source_ip"].get<std::string>()];
    const auto n = r["count"].get<std::int64_t>();
    s[0] += n;
    s[1] += r["dmarc_aligned"].get<bool>() ? n : 0;
    s[2] += r["spf_aligned"].get<bool>() ? n : 0;
    s[3] += r["dkim_aligned"].get<bool>() ? n : 0;
  }
  return out;
}

TEST_P(WebApiTest, SourcesByServiceFromAddressDetailsEqualTheRecords) {
  // Enrichment names the service of each address in the records and, per address, beside the
  // store's DNS cache (PutSourceInfo); the grouped view reads the latter.
  auto q = store::OpenDashboard(db_);
  ASSERT_TRUE(q.ok());
  Api api(*store_, **q, {});
  auto records = nlohmann::json::parse(api.Get("/api/records", {{"limit", "1000"}}).body);
  std::vector<model::Source> sources;
  std::map<std::string, std::int64_t> expected;  // service → messages
  std::set<std::string> seen;
  for (const auto& r : records["rows"]) {
    const std::string ip = r["source_ip"].get<std::string>();
    const std::string service = ip.find(':') == std::string::npos && ip.back() % 2 ? "Odd" : "Even";
    expected[service] += r["count"].get<std::int64_t>();
    if (!seen.insert(ip).second) continue;
    model::Source src;
    src.ip_address = ip;
    src.name = service;
    src.type = "Test";
    sources.push_back(src);
  }
  ASSERT_GE(sources.size(), 2u);
  ASSERT_TRUE(store_->PutSourceInfo(sources));
  auto grouped =
      nlohmann::json::parse(api.Get("/api/sources", {{"group", "service"}, {"limit", "100"}}).body);
  std::map<std::string, std::int64_t> got;
  for (const auto& r : grouped["rows"]) {
    ASSERT_FALSE(r["key"].is_null()) << r.dump();
    EXPECT_EQ(r["type"], "Test");
    got[r["key"].get<std::string>()] = r["messages"].get<std::int64_t>();
  }
  EXPECT_EQ(got, expected);
}

TEST_P(WebApiTest, DrillDownFromAGroupListsTheRecordsOfItsAddresses) {
  auto q = store::OpenDashboard(db_);
  ASSERT_TRUE(q.ok());
  Api api(*store_, **q, {});
  auto services = [&] {
    auto j = nlohmann::json::parse(api.Get("/api/sources", {{"group", "service"}}).body);
    std::set<std::string> keys;
    for (const auto& r : j["rows"])
      keys.insert(r["key"].is_null() ? "" : r["key"].get<std::string>());
    return keys;
  };
  EXPECT_EQ(services(), std::set<std::string>{""});  // nothing known of any address yet
  // Two more reports, for more addresses.
  std::vector<pipeline::Extracted> more;
  store::Batch batch;
  for (const char* name : {"aggregate/usssa.com!example.com!1538784000!1538870399.xml",
                           "aggregate/rfc9990-example.net!example.com!1700000000!1700086399.xml"}) {
    const std::string path = TestData(std::string("real/parsedmarc-samples/") + name);
    more.push_back(pipeline::ExtractReports(ReadFile(path), path, {}));
  }
  for (const auto& e : more) {
    for (const auto& f : e.reports) batch.aggregates.push_back({"test", &f.aggregate, ""});
  }
  ASSERT_TRUE(store_->Store(batch).ok());
  const auto all = SumsByIp(api, {});
  ASSERT_GE(all.size(), 5u);
  // Addresses 0, 3, 6, ... get service Even, 1, 4, 7, ... Odd; the rest stay unknown.
  std::map<std::string, std::string> service_of;
  std::vector<model::Source> sources;
  for (const auto& [ip, sums] : all) {
    const std::size_t i = service_of.size();
    service_of[ip] = i % 3 == 0 ? "Even" : i % 3 == 1 ? "Odd" : "";
    if (service_of[ip].empty()) continue;
    model::Source src;
    src.ip_address = ip;
    src.name = service_of[ip];
    sources.push_back(src);
  }
  ASSERT_TRUE(store_->PutSourceInfo(sources));
  // The dashboard's connection sees the other connection's commit.
  EXPECT_EQ(services(), (std::set<std::string>{"", "Even", "Odd"}));
  for (const std::string service : {"Even", "Odd", ""}) {
    std::map<std::string, std::array<std::int64_t, 4>> expected;
    for (const auto& [ip, sums] : all) {
      if (service_of[ip] == service) expected[ip] = sums;
    }
    ASSERT_FALSE(expected.empty()) << service;
    auto drill = nlohmann::json::parse(
        api.Get("/api/sources",
                {{"group", "ip"}, {"source_group", "service"}, {"source_value", service}})
            .body);
    std::map<std::string, std::array<std::int64_t, 4>> got;
    for (const auto& r : drill["rows"]) {
      got[r["key"].get<std::string>()] = {
          r["messages"].get<std::int64_t>(), r["dmarc_pass"].get<std::int64_t>(),
          r["spf_aligned"].get<std::int64_t>(), r["dkim_aligned"].get<std::int64_t>()};
    }
    EXPECT_EQ(got, expected) << service;
  }
  // From one address to itself, and to nothing for an address never seen.
  const auto& [ip, sums] = *all.begin();
  auto one = nlohmann::json::parse(
      api.Get("/api/sources", {{"group", "service"}, {"source_group", "ip"}, {"source_value", ip}})
          .body);
  ASSERT_EQ(one["rows"].size(), 1u);
  EXPECT_EQ(one["rows"][0]["key"],
            service_of[ip].empty() ? nlohmann::json() : nlohmann::json(service_of[ip]));
  EXPECT_EQ(one["rows"][0]["messages"].get<std::int64_t>(), sums[0]);
  auto none = nlohmann::json::parse(
      api.Get("/api/sources",
              {{"group", "ip"}, {"source_group", "ip"}, {"source_value", "192.0.2.255"}})
          .body);
  EXPECT_TRUE(none["rows"].empty());
}

TEST_P(WebApiTest, RollupAnswersEqualTheRecords) {
  auto q = store::OpenDashboard(db_);
  ASSERT_TRUE(q.ok());
  Api api(*store_, **q, {});
  for (const Params& filter :
       {Params{}, Params{{"failing", "1"}}, Params{{"domain", "example.com"}},
        Params{{"from", "2018-10-01"}, {"to", "2018-10-01"}}}) {
    auto expected = SumsByIp(api, filter);
    Params p = filter;
    p.emplace("group", "ip");
    p.emplace("limit", "1000");
    auto sources = nlohmann::json::parse(api.Get("/api/sources", p).body);
    std::map<std::string, std::array<std::int64_t, 4>> got;
    for (const auto& r : sources["rows"]) {
      got[r["key"].get<std::string>()] = {
          r["messages"].get<std::int64_t>(), r["dmarc_pass"].get<std::int64_t>(),
          r["spf_aligned"].get<std::int64_t>(), r["dkim_aligned"].get<std::int64_t>()};
    }
    EXPECT_EQ(got, expected) << nlohmann::json(filter).dump();
    auto overview = nlohmann::json::parse(api.Get("/api/overview", filter).body);
    std::int64_t messages = 0, spf = 0;
    for (const auto& [ip, s] : expected) {
      messages += s[0];
      spf += s[2];
    }
    EXPECT_EQ(overview["totals"]["messages"].get<std::int64_t>(), messages);
    EXPECT_EQ(overview["totals"]["spf_aligned"].get<std::int64_t>(), spf);
    EXPECT_EQ(overview["totals"]["sources"].get<std::size_t>(), expected.size());
    // Reports with a record in range (with "failing", a record that failed DMARC).
    Params all_records = filter;
    all_records.emplace("limit", "1000");
    std::set<std::int64_t> reports;
    const auto records = nlohmann::json::parse(api.Get("/api/records", all_records).body);
    for (const auto& r : records["rows"]) reports.insert(r["report"].get<std::int64_t>());
    EXPECT_EQ(overview["totals"]["reports"].get<std::size_t>(), reports.size())
        << nlohmann::json(filter).dump();
  }
}

TEST_F(WebTest, MigrationFillsTheRollupsFromStoredRecords) {
  auto q = store::OpenDashboard(db_);
  ASSERT_TRUE(q.ok());
  Api api(*store_, **q, {});
  const std::string before = api.Get("/api/sources", {{"group", "ip"}}).body;
  const std::string reporters = api.Get("/api/reporters", {}).body;
  store_.reset();
  q->reset();
  // Back to the schema before the dashboard's migration (and those after it), with the records
  // kept.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "t.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, dmarc::testing::kUndoDailyMessagesView, nullptr, nullptr, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(db);
  ASSERT_EQ(sqlite3_exec(db, dmarc::testing::kUndoAuthResultsInRecords, nullptr, nullptr, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(db);
  ASSERT_EQ(
      sqlite3_exec(db,
                   "DROP TABLE daily_results; DROP TABLE report_totals; DROP TABLE source_totals;"
                   " DROP TABLE ip_totals;"
                   " DROP TABLE aggregate_raw;"
                   " DROP TABLE ingest_sources; DROP INDEX aggregate_records_not_enriched;"
                   " DROP TABLE outbox; DROP TABLE output_state;"
                   " DROP INDEX aggregate_records_source_ip;"
                   " DROP INDEX aggregate_records_header_from;"
                   " DROP INDEX aggregate_reports_reporter;"
                   " ALTER TABLE aggregate_reports DROP COLUMN reporter_key;"
                   " DROP INDEX failure_reports_not_enriched;"
                   " ALTER TABLE failure_reports DROP COLUMN source_enriched_at;"
                   " ALTER TABLE daily_sources DROP COLUMN records;"
                   " ALTER TABLE daily_sources DROP COLUMN dmarc_pass;"
                   " ALTER TABLE daily_sources DROP COLUMN spf_aligned;"
                   " ALTER TABLE daily_sources DROP COLUMN dkim_aligned;"
                   " ALTER TABLE ip_info_cache DROP COLUMN name;"
                   " ALTER TABLE ip_info_cache DROP COLUMN type;"
                   " PRAGMA user_version = 3;",
                   nullptr, nullptr, nullptr),
      SQLITE_OK)
      << sqlite3_errmsg(db);
  sqlite3_close(db);
  auto st = store::OpenStore(db_, {});
  ASSERT_TRUE(st.ok()) << st.error();
  auto q2 = store::OpenDashboard(db_);
  ASSERT_TRUE(q2.ok());
  Api api2(**st, **q2, {});
  EXPECT_EQ(api2.Get("/api/sources", {{"group", "ip"}}).body, before);
  EXPECT_EQ(api2.Get("/api/reporters", {}).body, reporters);
}

TEST_F(WebTest, StoreErrorsReachTheLogNotTheAnswer) {
  auto q = store::OpenDashboard(db_);
  ASSERT_TRUE(q.ok());
  Api api(*store_, **q, {});
  // Every table gone under the open connections: each query fails with SQLite's message and
  // the statement it ran.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "t.db").c_str(), &db), SQLITE_OK);
  std::vector<std::string> tables;
  sqlite3_exec(
      db, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
      [](void* out, int, char** cols, char**) {
        static_cast<std::vector<std::string>*>(out)->push_back(cols[0]);
        return 0;
      },
      &tables, nullptr);
  for (const auto& t : tables) {
    ASSERT_EQ(sqlite3_exec(db, ("DROP TABLE \"" + t + "\"").c_str(), nullptr, nullptr, nullptr),
              SQLITE_OK)
        << sqlite3_errmsg(db);
  }
  sqlite3_close(db);
  std::ostringstream log;
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>(
      "test", std::make_shared<spdlog::sinks::ostream_sink_mt>(log)));
  for (const char* path :
       {"/api/stats", "/api/overview", "/api/sources", "/api/records", "/api/domains",
        "/api/reporters", "/api/reports", "/api/report", "/api/report/raw", "/api/rejected/raw",
        "/api/rejected", "/api/failures", "/api/smtp-tls"}) {
    const ApiAnswer a = api.Get(path, {{"id", "1"}});
    EXPECT_EQ(a.status, 500) << path << ": " << a.body;
    for (const std::string& leak :
         std::vector<std::string>{"SQL", "sqlite", "SELECT", "no such table", dir_.string()}) {
      EXPECT_EQ(a.body.find(leak), std::string::npos)
          << path << " shows " << leak << ": " << a.body;
    }
    EXPECT_NE(a.body.find("the details are in the log"), std::string::npos)
        << path << ": " << a.body;
  }
  spdlog::set_default_logger(previous);
  EXPECT_NE(log.str().find("no such table"), std::string::npos) << log.str();
}

TEST_F(WebTest, HealthzReportsADamagedStore) {
  StartWith({.listen = "127.0.0.1:0"});
  auto healthy = Client().Get("/healthz");
  ASSERT_TRUE(healthy);
  EXPECT_EQ(healthy->status, 200);
  EXPECT_EQ(healthy->body, "ok\n");
  StopServer();
  store_.reset();
  dmarc::testing::DamageSqliteTable((dir_ / "t.db").string(), "aggregate_records");
  StartWith({.listen = "127.0.0.1:0"});
  // The integrity check runs in the background: /healthz says 503 once it has ended.
  auto c = Client();
  int status = 200;
  std::string body;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (status == 200 && std::chrono::steady_clock::now() < deadline) {
    auto res = c.Get("/healthz");
    ASSERT_TRUE(res);
    status = res->status;
    body = res->body;
    if (status == 200) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(status, 503);
  EXPECT_EQ(body, "unavailable: the store is damaged (integrity check failed)\n");
}

TEST_F(WebTest, RefusesToListenBeyondLoopbackWithoutAuthentication) {
  ServeOptions o{.db = db_, .listen = "0.0.0.0:0"};
  auto s = StartServer(o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().find("authentication"), std::string::npos) << s.error();
  o.listen = "[::1]:0";
  auto v6 = StartServer(o);
  EXPECT_TRUE(v6.ok()) << v6.error();
  o.listen = "127.0.0.1";
  EXPECT_FALSE(StartServer(o).ok());
  o.listen = "0.0.0.0:0";
  o.token_file = Write("short-token", "abc\n");
  EXPECT_FALSE(StartServer(o).ok());  // a guessable token is refused
}

TEST_F(WebTest, BearerTokenAndSessionCookie) {
  const std::string token = "5d1e8a3fb7c04e29a6f1d83c0b5e7a94";
  StartWith({.listen = "0.0.0.0:0", .token_file = Write("token", token + "\n")});
  auto c = Client();
  EXPECT_EQ(c.Get("/api/stats")->status, 401);
  EXPECT_EQ(c.Get("/")->status, 200);  // the page itself holds no data
  EXPECT_EQ(c.Get("/api/stats", {{"Authorization", "Bearer wrong"}})->status, 401);
  EXPECT_EQ(c.Get("/api/stats", {{"Authorization", "Bearer " + token}})->status, 200);

  auto session = nlohmann::json::parse(c.Get("/api/session")->body);
  EXPECT_TRUE(session["auth_required"].get<bool>());
  EXPECT_FALSE(session["signed_in"].get<bool>());

  auto hostile = c.Post("/api/login", {{"Origin", "http://evil.example"}},
                        R"({"token":")" + token + R"("})", "application/json");
  EXPECT_EQ(hostile->status, 403);
  auto login = c.Post("/api/login", R"({"token":")" + token + R"("})", "application/json");
  ASSERT_EQ(login->status, 200);
  const std::string cookie = login->get_header_value("Set-Cookie");
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos);
  EXPECT_NE(cookie.find("SameSite=Strict"), std::string::npos);
  const std::string id = cookie.substr(0, cookie.find(';'));
  EXPECT_EQ(c.Get("/api/stats", {{"Cookie", id}})->status, 200);
  // Signed in with a session (the dashboard offers to sign out); a bearer token is no session.
  auto with_session = nlohmann::json::parse(c.Get("/api/session", {{"Cookie", id}})->body);
  EXPECT_TRUE(with_session["signed_in"].get<bool>());
  EXPECT_TRUE(with_session["session"].get<bool>());
  auto with_bearer =
      nlohmann::json::parse(c.Get("/api/session", {{"Authorization", "Bearer " + token}})->body);
  EXPECT_TRUE(with_bearer["signed_in"].get<bool>());
  EXPECT_FALSE(with_bearer["session"].get<bool>());
  // Signing out from another site is refused; from the dashboard it ends the session on the
  // server (the old cookie no longer works) and clears the cookie.
  EXPECT_EQ(c.Post("/api/logout", {{"Cookie", id}, {"Origin", "http://evil.example"}}, "",
                   "application/json")
                ->status,
            403);
  EXPECT_EQ(c.Get("/api/stats", {{"Cookie", id}})->status, 200);
  auto logout = c.Post("/api/logout", {{"Cookie", id}}, "", "application/json");
  EXPECT_EQ(logout->status, 200);
  EXPECT_NE(logout->get_header_value("Set-Cookie").find("session=; "), std::string::npos);
  EXPECT_NE(logout->get_header_value("Set-Cookie").find("Max-Age=0"), std::string::npos);
  EXPECT_EQ(c.Get("/api/stats", {{"Cookie", id}})->status, 401);
  auto after = nlohmann::json::parse(c.Get("/api/session", {{"Cookie", id}})->body);
  EXPECT_FALSE(after["signed_in"].get<bool>());
  EXPECT_FALSE(after["session"].get<bool>());
}

TEST_F(WebTest, SignInGuessesAreLimitedPerAddress) {
  const std::string token = "5d1e8a3fb7c04e29a6f1d83c0b5e7a94";
  StartWith({.listen = "127.0.0.1:0", .token_file = Write("token", token + "\n")});
  auto c = Client();
  auto login = [&](const std::string& t) {
    return c.Post("/api/login", R"({"token":")" + t + R"("})", "application/json");
  };
  // A success forgets earlier failures.
  for (int i = 0; i < 4; ++i) EXPECT_EQ(login("wrong")->status, 401);
  EXPECT_EQ(login(token)->status, 200);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(login("wrong")->status, 401) << i;
  // The sixth try within the window is refused, the right token too, with the wait to respect.
  auto refused = login(token);
  EXPECT_EQ(refused->status, 429);
  const long wait = std::stol(refused->get_header_value("Retry-After"));
  EXPECT_GT(wait, 800);
  EXPECT_LE(wait, 901);
  EXPECT_NE(nlohmann::json::parse(refused->body)["error"].get<std::string>().find("try again"),
            std::string::npos);
  // Bearer tokens share the limit (else they would be a way to go on guessing): not even the
  // right one is compared now.
  auto bearer = c.Get("/api/stats", {{"Authorization", "Bearer " + token}});
  EXPECT_EQ(bearer->status, 429);
  EXPECT_FALSE(bearer->get_header_value("Retry-After").empty());
}

TEST_F(WebTest, UsersWithPasswordHashes) {
  auto hash = HashPassword("correct horse");
  ASSERT_TRUE(hash.ok()) << hash.error();
  EXPECT_TRUE(hash->starts_with("$argon2id$"));
  StartWith(
      {.listen = "127.0.0.1:0", .users_file = Write("users", "# users\nana:" + *hash + "\n")});
  auto c = Client();
  EXPECT_EQ(c.Get("/api/overview")->status, 401);
  EXPECT_EQ(
      c.Post("/api/login", R"({"user":"ana","password":"wrong"})", "application/json")->status,
      401);
  EXPECT_EQ(c.Post("/api/login", R"({"user":"bob","password":"correct horse"})", "application/json")
                ->status,
            401);
  auto ok =
      c.Post("/api/login", R"({"user":"ana","password":"correct horse"})", "application/json");
  ASSERT_EQ(ok->status, 200);
  const std::string cookie = ok->get_header_value("Set-Cookie");
  EXPECT_EQ(c.Get("/api/overview", {{"Cookie", cookie.substr(0, cookie.find(';'))}})->status, 200);
  ServeOptions bad{.db = db_, .users_file = Write("bad-users", "ana:plaintext\n")};
  EXPECT_FALSE(StartServer(bad).ok());
}

TEST_F(WebTest, ServesHttpsWithACertificate) {
  const std::string cert = (dir_ / "cert.pem").string(), key = (dir_ / "key.pem").string();
  const std::string cmd =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -keyout " + key +
      " -out " + cert + " 2>/dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "openssl is needed (scripts/install-deps.sh)";
  tls_ = true;
  StartWith({.listen = "127.0.0.1:0", .tls_cert = cert, .tls_key = key});
  httplib::SSLClient c("127.0.0.1", server_->port());
  c.enable_server_certificate_verification(false);
  std::shared_ptr<httplib::Response> res;
  for (int i = 0; i < 100 && !res; ++i) {
    auto r = c.Get("/api/stats");
    if (r)
      res = std::make_shared<httplib::Response>(*r);
    else
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  httplib::Client plain("127.0.0.1", server_->port());
  auto p = plain.Get("/api/stats");
  EXPECT_TRUE(!p || p->status != 200);
  ServeOptions missing{.db = db_, .tls_cert = cert};
  EXPECT_FALSE(StartServer(missing).ok());  // a certificate without its key
}

TEST_F(WebTest, HtmlReportIsSelfContainedWithAPolicyByHash) {
  auto q = store::OpenDashboard(db_);
  ASSERT_TRUE(q.ok());
  auto html = BuildHtmlReport(*store_, **q, {.domain = "example.com"});
  ASSERT_TRUE(html.ok()) << html.error();
  EXPECT_NE(html->find("script-src 'sha256-"), std::string::npos);
  EXPECT_EQ(html->find("unsafe-inline"), std::string::npos);
  EXPECT_EQ(html->find("src=\""), std::string::npos);  // nothing loaded from elsewhere
  // Two scripts (data, app): exactly two closing tags, however hostile the data.
  std::size_t closes = 0;
  for (std::size_t pos = 0; (pos = html->find("</script", pos)) != std::string::npos; ++pos) {
    ++closes;
  }
  EXPECT_EQ(closes, 2u);
  EXPECT_NE(html->find("\"domain\":\"example.com\""), std::string::npos);
}

}  // namespace
}  // namespace dmarc::web
