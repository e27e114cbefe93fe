// GET /api/status: the ingest status as JSON, on both back ends, behind the same sign-in as the
// rest of the API; texts from strangers come back as they were written (the page shows them as
// text), bounded.
#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "pipeline/extract.h"
#include "store/dashboard.h"
#include "store/store.h"
#include "testing/postgres.h"
#include "testing/test_util.h"
#include "web/api.h"
#include "web/server.h"

namespace dmarc::web {
namespace {

namespace fs = std::filesystem;
using dmarc::testing::ReadFile;
using dmarc::testing::TestData;

const std::string kHostile = "<img src=x onerror=alert(1)>\x1b[2J";

// Two sources (one polling 5 of 19 inputs, one failed) and a store without reports.
void RecordSources(store::ReportStore& st) {
  store::SourceState polling;
  polling.name = "directory:/var/lib/dmarc-report/inbox" + kHostile;
  polling.kind = "directory";
  polling.state = "polling";
  polling.updated_at = 1700000100;
  polling.poll_started_at = 1700000000;
  polling.inputs_total = 19;
  polling.inputs_done = 5;
  store::SourceCounts counts;
  counts.mails_stored = 5;
  counts.aggregate_new = 4;
  counts.aggregate_duplicate = 1;
  counts.records = 40;
  ASSERT_TRUE(st.RecordSourceState(polling, counts).ok());
  store::SourceState failed;
  failed.name = "imap://dmarc@127.0.0.1:1/INBOX";
  failed.kind = "imap";
  failed.state = "error";
  failed.updated_at = 1700000100;
  failed.poll_started_at = 1700000000;
  failed.poll_ended_at = 1700000001;
  failed.next_poll_at = 1700000060;
  failed.last_error = "connect: Connection refused " + kHostile;
  failed.last_error_at = 1700000001;
  ASSERT_TRUE(st.RecordSourceState(failed, {}).ok());
}

void ExpectStatusJson(const nlohmann::json& j) {
  EXPECT_FALSE(j["has_reports"].get<bool>());
  EXPECT_EQ(j["in_progress"], (nlohmann::json{{"sources", 1}, {"done", 5}, {"total", 19}}));
  ASSERT_EQ(j["sources"].size(), 2u);
  const auto& d = j["sources"][0];
  EXPECT_EQ(d["name"], "directory:/var/lib/dmarc-report/inbox" + kHostile);
  EXPECT_EQ(d["state"], "polling");
  EXPECT_EQ(d["kind"], "directory");
  EXPECT_EQ(d["poll_started_at"], "2023-11-14 22:13:20");
  EXPECT_TRUE(d["poll_ended_at"].is_null());
  EXPECT_TRUE(d["next_poll_at"].is_null());
  EXPECT_TRUE(d["last_error"].is_null());
  EXPECT_EQ(d["inputs"], (nlohmann::json{{"done", 5}, {"total", 19}}));
  EXPECT_EQ(d["mails"], (nlohmann::json{{"stored", 5}, {"invalid", 0}, {"left", 0}}));
  EXPECT_EQ(d["reports"]["aggregate"], (nlohmann::json{{"new", 4}, {"duplicate", 1}}));
  EXPECT_EQ(d["records"], 40);
  const auto& e = j["sources"][1];
  EXPECT_EQ(e["state"], "error");
  EXPECT_EQ(e["last_error"], "connect: Connection refused " + kHostile);
  EXPECT_EQ(e["last_error_at"], "2023-11-14 22:13:21");
  EXPECT_EQ(e["next_poll_at"], "2023-11-14 22:14:20");
  EXPECT_EQ(j["enrichment_backlog"], (nlohmann::json{{"addresses", 0}, {"records", 0}}));
  EXPECT_TRUE(j["rejections"].empty());
}

class ApiStatus : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("dmarc-api-status-" + std::to_string(getpid()));
    fs::create_directories(dir_);
    const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::string name = test.substr(test.find('/') + 1);
    url_ = GetParam() == "sqlite" ? "sqlite:" + (dir_ / (name + ".db")).string()
                                  : testing::SharedPostgresDatabase("ApiStatus" + name);
    for (const char* suffix : {"", "-wal", "-shm"}) {
      fs::remove((dir_ / (name + ".db")).string() + suffix);
    }
    auto st = store::OpenStore(url_, {});
    ASSERT_TRUE(st.ok()) << st.error();
    store_ = std::move(st).value();
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }
  fs::path dir_;
  std::string url_;
  std::unique_ptr<store::ReportStore> store_;
};

TEST_P(ApiStatus, TellsEachSourceTheImportInProgressAndTheBacklog) {
  RecordSources(*store_);
  auto q = store::OpenDashboard(url_, {});
  ASSERT_TRUE(q.ok()) << q.error();
  Api api(*store_, **q, {});
  auto a = api.Get("/api/status", {});
  ASSERT_EQ(a.status, 200) << a.body;
  ExpectStatusJson(nlohmann::json::parse(a.body));

  // Reports stored, never enriched (offline), and a rejected input: the backlog counts their
  // addresses, the rejection comes with its reason.
  const std::string path = TestData("real/parsedmarc-samples/aggregate/empty_reason.xml");
  auto extracted = pipeline::ExtractReports(ReadFile(path), path, {});
  ASSERT_EQ(extracted.reports.size(), 1u);
  store::Batch batch;
  batch.aggregates.push_back({"test", &extracted.reports[0].aggregate});
  batch.rejections.push_back({1700000000, "mail.eml[" + kHostile + "]", "not a report: " + kHostile,
                              std::string(64, 'a'), 3, "abc"});
  ASSERT_TRUE(store_->Store(batch).ok());
  std::set<std::string> ips;
  for (const auto& r : extracted.reports[0].aggregate.records) ips.insert(r.source.ip_address);
  a = api.Get("/api/status", {});
  ASSERT_EQ(a.status, 200) << a.body;
  const auto j = nlohmann::json::parse(a.body);
  EXPECT_TRUE(j["has_reports"].get<bool>());
  EXPECT_EQ(j["enrichment_backlog"]["addresses"], ips.size());
  EXPECT_EQ(j["enrichment_backlog"]["records"], extracted.reports[0].aggregate.records.size());
  ASSERT_EQ(j["rejections"].size(), 1u);
  EXPECT_EQ(j["rejections"][0]["origin"], "mail.eml[" + kHostile + "]");
  EXPECT_EQ(j["rejections"][0]["reason"], "not a report: " + kHostile);
  EXPECT_EQ(j["rejections"][0]["received_at"], "2023-11-14 22:13:20");
  EXPECT_EQ(j["rejections"][0]["size"], 3);
}

INSTANTIATE_TEST_SUITE_P(Backends, ApiStatus, ::testing::Values("sqlite", "postgres"),
                         [](const auto& p) { return p.param; });

TEST(ApiStatusServer, AnswersOnlyWithTheSignInTheOtherEndpointsNeed) {
  const fs::path dir =
      fs::temp_directory_path() / ("dmarc-api-status-server-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string db = "sqlite:" + (dir / "t.db").string();
  {
    auto st = store::OpenStore(db, {});
    ASSERT_TRUE(st.ok()) << st.error();
    RecordSources(**st);
  }
  const std::string token = "5d1e8a3fb7c04e29a6f1d83c0b5e7a94";
  std::ofstream(dir / "token") << token << "\n";
  ServeOptions o;
  o.listen = "0.0.0.0:0";
  o.token_file = (dir / "token").string();
  o.db = db;
  auto s = StartServer(o);
  ASSERT_TRUE(s.ok()) << s.error();
  std::unique_ptr<Server> server = std::move(s).value();
  std::thread t([&] { server->Run(); });
  httplib::Client c("127.0.0.1", server->port());
  for (int i = 0; i < 200 && !c.Get("/favicon.svg"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto res = c.Get("/api/status");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  EXPECT_EQ(res->body.find("directory:"), std::string::npos);
  res = c.Get("/api/status", {{"Authorization", "Bearer " + token}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type").rfind("application/json", 0), 0u);
  ExpectStatusJson(nlohmann::json::parse(res->body));
  server->Stop();
  t.join();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace dmarc::web
