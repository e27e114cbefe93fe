// The service commands as a user runs them: check-config, vacuum, and the shipped example
// configuration.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "testing/cli.h"
#include "testing/test_util.h"

namespace {

namespace fs = std::filesystem;
using dmarc::testing::RunCli;
using dmarc::testing::SourceDir;

class Service : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("dmarc-service-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return (dir_ / name).string();
  }

  fs::path dir_;
};

TEST_F(Service, CheckConfigAcceptsAValidFileAndSummarisesIt) {
  const std::string file = Write("ok.toml", R"(
[store]
url = "sqlite:/var/db/dmarc-report/reports.db"
retention_days = 365
[imap]
host = "mail.example.com"
user = "dmarc"
password = "hunter2-secret"
folder = "DMARC"
[log]
syslog = "tcp://10.0.0.9:5140"
)");
  auto r = RunCli({"check-config", file}, dir_);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find(file + ": ok"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("imap dmarc@mail.example.com:993/DMARC"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("reports kept 365 days"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("syslog tcp://10.0.0.9:5140"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("hunter2-secret"), std::string::npos) << r.out;
}

TEST_F(Service, CheckConfigListsEveryErrorWithFileKeyAndExpectation) {
  const std::string file = Write("bad.toml", R"(
[imap]
host = "mail.example.com"
port = "993"
after = "archve"
[log]
level = "loud"
[consul]
check_timeout = "soon"
[dashboard]
)");
  auto r = RunCli({"check-config", file}, dir_);
  EXPECT_EQ(r.status, 1);
  for (const std::string want : {
           file + ": imap.port: must be an integer",
           file + ": imap.after: must be one of \"archive\", \"move\", \"delete\", \"keep\", not "
                  "\"archve\"",
           file + ": imap.user: is required",
           file + ": log.level: must be one of \"debug\"",
           file + ": consul.check_timeout: must be a duration such as \"10s\"",
           file + ": [dashboard]: unknown table (expected one of: consul, directory,",
       }) {
    EXPECT_NE(r.err.find(want), std::string::npos) << "missing: " << want << "\nin:\n" << r.err;
  }
  EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST_F(Service, CheckConfigNamesAMissingFileAndTheEnvironmentCounts) {
  auto r = RunCli({"check-config", (dir_ / "none.toml").string()}, dir_);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("cannot read " + (dir_ / "none.toml").string()), std::string::npos) << r.err;
  const std::string file = Write("env.toml", "[directory]\npath = \"inbox\"\n");
  r = RunCli({"check-config", file}, dir_, "DMARC_REPORT_STORE_RETENTION_DAYS=x");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("store.retention_days: DMARC_REPORT_STORE_RETENTION_DAYS: must be an "
                       "integer, not \"x\""),
            std::string::npos)
      << r.err;
}

TEST_F(Service, NoConfiguredSecretReachesTheLogs) {
  // The secret also names the drop folder, so that real log lines (the rejection of a file in
  // it, the failed IMAP login) would carry it if the guard were not wired in.
  const std::string secret = "Zz9-hunter2-Zz9";
  const fs::path drop = dir_ / ("drop-" + secret);
  fs::create_directories(drop);
  std::ofstream(drop / "not-a-report.txt") << "hello";
  const std::string log = (dir_ / "service.log").string();
  const std::string file = Write("c.toml", R"(
[store]
url = "sqlite:)" + (dir_ / "db.sqlite").string() +
                                               R"("
[directory]
path = ")" + drop.string() + R"("
[log]
level = "debug"
file = ")" + log + R"("
[pop3]
host = "127.0.0.1"
port = 1
tls = "none"
user = "dmarc"
password = ")" + secret + R"("
)");
  auto r = RunCli({"fetch", "--config", file}, dir_);
  const std::string text = dmarc::testing::ReadFile(log);
  EXPECT_NE(text.find("[redacted]"), std::string::npos) << text << r.err;
  EXPECT_EQ(text.find(secret), std::string::npos) << text;
  EXPECT_EQ(r.err.find(secret), std::string::npos) << r.err;
}

}  // namespace
