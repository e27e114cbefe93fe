// `dmarc-report status` on stores fed by real `fetch` runs: a drop directory of the example
// reports (SQLite and PostgreSQL), an IMAP server that cannot be reached, `fetch --watch`
// stopped by a signal; text and JSON, and what is refused.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "testing/net.h"
#include "testing/postgres.h"
#include "testing/process.h"
#include "testing/run_program.h"
#include "testing/test_util.h"

namespace {

namespace fs = std::filesystem;
using dmarc::testing::ReadFile;
using dmarc::testing::RunToEnd;
using dmarc::testing::TestData;

class Status : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (char& ch : test) {
      if (ch == '/') ch = '-';
    }
    dir_ = dmarc::testing::FreshTestDir("dmarc-status", test);
    url_ = "sqlite:" + (dir_ / "store.db").string();
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  // A configuration with this [store] url and these source tables.
  std::string Config(const std::string& sources, int watch_interval = 1) {
    const fs::path p = dir_ / "config.toml";
    std::ofstream(p) << "[store]\nurl = \"" << url_
                     << "\"\n[fetch]\nwatch_interval = " << watch_interval
                     << "\nmax_backoff = 60\n[enrich]\noffline = true\n"
                     << sources;
    return p.string();
  }

  // A drop directory holding the example reports and a broken one; returns how many files.
  int DropExamples(const fs::path& inbox) {
    fs::create_directories(inbox);
    int n = 0;
    for (const auto& e : fs::directory_iterator(TestData("real/parsedmarc-samples/aggregate"))) {
      fs::copy_file(e.path(), inbox / e.path().filename());
      ++n;
    }
    std::ofstream(inbox / "broken.xml") << "<feedback>not a report";  // rejected, filed Invalid
    return n + 1;
  }

  dmarc::testing::Outcome Run(const std::vector<std::string>& args) {
    return dmarc::testing::RunDmarcReport(args, dir_);
  }
  nlohmann::json StatusJson(const std::string& config, int want_status = 0) {
    auto r = Run({"status", "--config", config, "--json"});
    EXPECT_EQ(r.status, want_status) << r.out << r.err;
    return nlohmann::json::parse(r.out);
  }

  fs::path dir_;
  std::string url_;
};

// A fetch of the example reports' drop directory, then `status`: every count agrees with what
// the store holds.
void CheckDropDirectoryFetch(const fs::path& inbox, int files, const nlohmann::json& j,
                             const nlohmann::json& stats) {
  ASSERT_EQ(j["sources"].size(), 1u) << j.dump(1);
  const auto& s = j["sources"][0];
  EXPECT_EQ(s["name"], "directory:" + inbox.string());
  EXPECT_EQ(s["kind"], "directory");
  EXPECT_EQ(s["state"], "idle");  // fetch without --watch: no next poll
  EXPECT_TRUE(s["next_poll_at"].is_null());
  EXPECT_FALSE(s["poll_started_at"].is_null());
  EXPECT_FALSE(s["poll_ended_at"].is_null());
  EXPECT_TRUE(s["last_error"].is_null());
  EXPECT_EQ(s["inputs"]["total"], files);
  EXPECT_EQ(s["inputs"]["done"], files);
  EXPECT_EQ(s["mails"]["stored"].get<int>() + s["mails"]["invalid"].get<int>(), files);
  EXPECT_GT(s["mails"]["invalid"].get<int>(), 0);  // the examples hold broken reports
  EXPECT_EQ(s["mails"]["left"], 0);
  EXPECT_EQ(s["reports"]["aggregate"]["new"], stats["reports"]);
  EXPECT_EQ(s["records"], stats["records"]);
  EXPECT_EQ(s["rejections"], stats["rejected_inputs"]);
  EXPECT_EQ(j["in_progress"]["sources"], 0);
  EXPECT_TRUE(j["has_reports"].get<bool>());
  // Offline: every address waits for its reverse DNS answer.
  EXPECT_EQ(j["enrichment_backlog"]["addresses"], stats["source_ips"]);
  EXPECT_EQ(j["enrichment_backlog"]["records"], stats["records"]);
  ASSERT_EQ(j["rejections"].size(), stats["rejected_inputs"].get<std::size_t>());
  for (const auto& r : j["rejections"]) {
    EXPECT_NE(r["origin"].get<std::string>().find(inbox.string()), std::string::npos) << r;
    EXPECT_FALSE(r["reason"].get<std::string>().empty()) << r;
  }
}

TEST_F(Status, ADropDirectoryFetchIsRecordedWithItsCounts) {
  const fs::path inbox = dir_ / "inbox";
  const int files = DropExamples(inbox);
  const std::string config = Config("[directory]\npath = \"" + inbox.string() + "\"\n");
  const auto fetched = Run({"fetch", "--config", config, "--quiet"});
  ASSERT_EQ(fetched.status, 0) << fetched.err;
  const auto stats = dmarc::testing::StoreStats(url_, dir_);
  ASSERT_GT(stats["reports"].get<int>(), 10);
  const auto json = StatusJson(config);
  CheckDropDirectoryFetch(inbox, files, json, stats);

  const auto text = Run({"status", "--config", config});
  ASSERT_EQ(text.status, 0) << text.err;
  for (const std::string& want : std::vector<std::string>{
           "Store: " + url_, "Sources (1):", "  directory:" + inbox.string() + " [idle]",
           "next poll:    -",
           fmt::format("aggregate {} new, {} duplicate", stats["reports"].get<int>(),
                       json["sources"][0]["reports"]["aggregate"]["duplicate"].get<int>()),
           fmt::format("Enrichment backlog: {} address(es)", stats["source_ips"].get<int>()),
           "Latest rejected inputs ("}) {
    EXPECT_NE(text.out.find(want), std::string::npos) << want << "\n" << text.out;
  }
  EXPECT_EQ(text.out.find("[polling]"), std::string::npos);

  // The store named by DMARC_REPORT_STORE_URL, like the other store commands.
  const auto by_env = dmarc::testing::RunDmarcReport({"status", "--json"}, dir_, "/dev/null",
                                                     "DMARC_REPORT_STORE_URL=" + url_);
  ASSERT_EQ(by_env.status, 0) << by_env.err;
  EXPECT_EQ(nlohmann::json::parse(by_env.out)["sources"], StatusJson(config)["sources"]);

  // A second poll of the same (now empty) folder adds nothing and keeps the counts.
  const auto before = StatusJson(config)["sources"][0];
  ASSERT_EQ(Run({"fetch", "--config", config, "--quiet"}).status, 0);
  const auto after = StatusJson(config)["sources"][0];
  EXPECT_EQ(after["reports"], before["reports"]);
  EXPECT_EQ(after["mails"], before["mails"]);
  EXPECT_EQ(after["inputs"], (nlohmann::json{{"done", 0}, {"total", 0}}));
  EXPECT_GE(after["poll_started_at"].get<std::string>(),
            before["poll_started_at"].get<std::string>());
}

TEST_F(Status, PostgresStoreGivesTheSameStatus) {
  url_ = dmarc::testing::SharedPostgresDatabase("StatusCli");
  const fs::path inbox = dir_ / "inbox";
  const int files = DropExamples(inbox);
  const std::string config = Config("[directory]\npath = \"" + inbox.string() + "\"\n");
  const auto fetched = Run({"fetch", "--config", config, "--quiet"});
  ASSERT_EQ(fetched.status, 0) << fetched.err;
  const auto stats = dmarc::testing::StoreStats(url_, dir_);
  CheckDropDirectoryFetch(inbox, files, StatusJson(config), stats);
}

TEST_F(Status, AnUnreachableImapServerIsAnErrorWithItsMessage) {
  const int port = dmarc::testing::FreePort();  // nothing listens there
  std::ofstream(dir_ / "password") << "s3cret-Passw0rd\n";
  const std::string config = Config("[imap]\nhost = \"127.0.0.1\"\nport = " + std::to_string(port) +
                                    "\ntls = \"none\"\nuser = \"dmarc\"\npassword_file = \"" +
                                    (dir_ / "password").string() + "\"\ntimeout = 5\n");
  const auto fetched = Run({"fetch", "--config", config, "--quiet"});
  EXPECT_EQ(fetched.status, 1) << fetched.err;
  const auto j = StatusJson(config, 1);  // a source in error: status exits 1
  ASSERT_EQ(j["sources"].size(), 1u) << j.dump(1);
  const auto& s = j["sources"][0];
  EXPECT_EQ(s["name"], "imap://dmarc@127.0.0.1:" + std::to_string(port) + "/INBOX");
  EXPECT_EQ(s["kind"], "imap");
  EXPECT_EQ(s["state"], "error");
  const std::string error = s["last_error"].get<std::string>();
  EXPECT_NE(error.find("127.0.0.1"), std::string::npos) << error;
  EXPECT_FALSE(s["last_error_at"].is_null());
  EXPECT_FALSE(j["has_reports"].get<bool>());

  const auto text = Run({"status", "--config", config});
  EXPECT_EQ(text.status, 1);
  EXPECT_NE(text.out.find("[error]"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("last error:   "), std::string::npos) << text.out;
  EXPECT_NE(text.out.find(error), std::string::npos) << text.out;
  EXPECT_EQ(text.out.find("s3cret-Passw0rd"), std::string::npos);
  EXPECT_EQ(j.dump().find("s3cret-Passw0rd"), std::string::npos);
}

TEST_F(Status, WatchingRecordsTheNextPollAndAStopDisablesTheSource) {
  const fs::path inbox = dir_ / "inbox";
  DropExamples(inbox);
  const std::string config =
      Config("[directory]\npath = \"" + inbox.string() + "\"\n", /*watch_interval=*/30);
  const pid_t pid = dmarc::testing::Spawn({"fetch", "--config", config, "--watch"}, dir_ / "log");
  nlohmann::json j;
  bool scheduled = false;
  for (int i = 0; i < 300 && !scheduled; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto r = Run({"status", "--config", config, "--json"});
    if (r.status != 0 || r.out.empty()) continue;
    j = nlohmann::json::parse(r.out);
    scheduled = j["sources"].size() == 1 && j["sources"][0]["state"] == "idle" &&
                !j["sources"][0]["next_poll_at"].is_null();
  }
  ASSERT_TRUE(scheduled) << j.dump(1) << ReadFile((dir_ / "log").string());
  // The next poll is the watch interval after the last one ended.
  EXPECT_GT(j["sources"][0]["next_poll_at"].get<std::string>(),
            j["sources"][0]["poll_ended_at"].get<std::string>());
  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  EXPECT_EQ(dmarc::testing::Wait(pid), 0);
  j = StatusJson(config);
  EXPECT_EQ(j["sources"][0]["state"], "disabled");
  EXPECT_TRUE(j["sources"][0]["next_poll_at"].is_null());
  const auto text = Run({"status", "--config", config});
  EXPECT_NE(text.out.find("[disabled]"), std::string::npos) << text.out;
}

TEST_F(Status, ControlCharactersInNamesAreShownEscaped) {
  const fs::path inbox = dir_ / "in\x1b[2Jbox";
  fs::create_directories(inbox);
  std::ofstream(inbox / "x\x1b]0;title\x07.xml") << "not a report";
  const std::string config =
      Config("[directory]\npath = \"" + dir_.string() + "/in\\u001b[2Jbox\"\n");
  ASSERT_EQ(Run({"fetch", "--config", config, "--quiet"}).status, 0);
  const auto text = Run({"status", "--config", config});
  ASSERT_EQ(text.status, 0) << text.err;
  EXPECT_EQ(text.out.find('\x1b'), std::string::npos) << text.out;
  EXPECT_EQ(text.out.find('\x07'), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("in\\x1b[2Jbox [idle]"), std::string::npos) << text.out;
  // JSON keeps the text as it was (escaped by JSON itself).
  const auto j = StatusJson(config);
  EXPECT_EQ(j["sources"][0]["name"], "directory:" + inbox.string());
  ASSERT_EQ(j["rejections"].size(), 1u);
}

TEST_F(Status, AMissingStoreIsRefused) {
  const auto r = Run({"status", "--db", (dir_ / "none.db").string()});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("no store at"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "none.db"));
}

}  // namespace
