// The service commands as a user runs them: check-config, vacuum, and the shipped example
// configuration.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>
#include <tuple>

#include "testing/cli.h"
#include "testing/consul_agent.h"
#include "testing/dovecot.h"  // FreePort
#include "testing/process.h"
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
  EXPECT_NE(r.out.find("enrichment: DNS via the system's resolvers; failure samples: headers"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("hunter2-secret"), std::string::npos) << r.out;

  // The [enrich] and [failure] tables of fetch and run.
  const std::string mbox = Write("reports.mbox", "");
  const std::string more = Write("more.toml", "[mbox]\npath = \"" + mbox + "\"\n" + R"(
[enrich]
offline = true
dns_cache_ttl = "2d"
[failure]
keep_sample = "none"
)");
  r = RunCli({"check-config", more}, dir_);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("enrichment: offline (no DNS); failure samples: none"), std::string::npos)
      << r.out;
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

// A forwarders file the dashboard could not read is found by check-config, not at run's start.
TEST_F(Service, CheckConfigReadsTheDashboardsForwardersFile) {
  fs::create_directories(dir_ / "inbox");
  const std::string list = Write("forwarders.tsv", "relay.example.net Our relay\n");
  const std::string file =
      Write("fwd.toml", "[directory]\npath = \"" + (dir_ / "inbox").string() +
                            "\"\n[web]\nforwarders_file = [\"" + list + "\"]\n");
  auto r = RunCli({"check-config", file}, dir_);
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.err.find("[web]: web.forwarders_file " + list + ":1: expected KEY<TAB>NAME<TAB>KIND"),
            std::string::npos)
      << r.err;
  Write("forwarders.tsv", "relay.example.net\tOur relay\tforwarder\n");
  r = RunCli({"check-config", file}, dir_);
  EXPECT_EQ(r.status, 0) << r.err;
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
[enrich]
offline = true
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

std::string ReadLog(const std::string& path) {
  return fs::exists(path) ? dmarc::testing::ReadFile(path) : std::string();
}

std::uint64_t StoredReports(const std::string& db, const fs::path& dir) {
  auto r = RunCli({"stats", "--db", db, "--json"}, dir);
  EXPECT_EQ(r.status, 0) << r.err;
  return nlohmann::json::parse(r.out)["reports"].get<std::uint64_t>();
}

TEST_F(Service, VacuumPurgesWhatIsOlderThanTheRetention) {
  const std::string db = "sqlite:" + (dir_ / "reports.db").string();
  auto r = RunCli(
      {"import", "--db", db, "-q", dmarc::testing::TestData("real/parsedmarc-samples/aggregate")},
      dir_);
  ASSERT_EQ(r.status, 0) << r.err;
  const auto all = StoredReports(db, dir_);
  // Keep what began after 2021-01-01: the samples have reports from 2018 and from 2023 on.
  const auto days = (std::time(nullptr) - 1609459200) / 86400;
  // --dry-run says what the purge below removes, and removes nothing.
  r = RunCli({"vacuum", "--db", db, "--dry-run", "--retention-days", std::to_string(days)}, dir_);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(StoredReports(db, dir_), all);
  const std::string dry = r.err;
  r = RunCli({"vacuum", "--db", db, "--retention-days", std::to_string(days)}, dir_);
  ASSERT_EQ(r.status, 0) << r.err;
  const auto left = StoredReports(db, dir_);
  EXPECT_GT(left, 0u);
  EXPECT_LT(left, all);
  EXPECT_NE(r.err.find(fmt::format("purged {} aggregate report(s)", all - left)), std::string::npos)
      << r.err;
  EXPECT_NE(dry.find(fmt::format("would purge {} aggregate report(s)", all - left)),
            std::string::npos)
      << dry;
  EXPECT_NE(dry.find("nothing was changed"), std::string::npos) << dry;
  EXPECT_NE(r.err.find("vacuum: " + db + " from "), std::string::npos) << r.err;

  // From a configuration: retention_days of [store]; 0 days on the command line only compacts.
  const std::string file = Write("c.toml", "[store]\nurl = \"" + db +
                                               "\"\nretention_days = 1\n[directory]\npath = "
                                               "\"inbox\"\n");
  r = RunCli({"vacuum", "--config", file, "--retention-days", "0"}, dir_);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(StoredReports(db, dir_), left);
  r = RunCli({"vacuum", "--config", file, "-q"}, dir_);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << r.err;
  EXPECT_EQ(StoredReports(db, dir_), 0u);
}

// Every command that opens a store finds it the same three ways besides --db: the URL from
// DMARC_REPORT_STORE_URL, [store] of --config, and [store] of the file DMARC_REPORT_CONFIG names
// (how the installed /etc/dmarc-report/dmarc-report.toml is found without --config).
TEST_F(Service, EveryStoreCommandTakesTheEnvironmentOrAConfiguration) {
  const std::string sample = dmarc::testing::TestData(
      "real/parsedmarc-samples/aggregate/addisonfoods.com!example.com!1536105600!1536191999.xml");
  struct Way {
    std::string name, prefix;
    std::vector<std::string> args;
  };
  const auto url = [this](const std::string& name) {
    return "sqlite:" + (dir_ / (name + ".db")).string();
  };
  const std::string by_config =
      Write("by-config.toml", "[store]\nurl = \"" + url("config") + "\"\n");
  const std::string by_default =
      Write("by-default.toml", "[store]\nurl = \"" + url("default") + "\"\n");
  const std::vector<Way> ways = {
      {"env", "DMARC_REPORT_STORE_URL=" + url("env"), {}},
      {"config", "", {"--config", by_config}},
      {"default", "DMARC_REPORT_CONFIG=" + by_default, {}},
  };
  for (const Way& w : ways) {
    SCOPED_TRACE(w.name);
    const auto cli = [&](std::vector<std::string> args, const std::string& more_prefix = "") {
      args.insert(args.begin() + 1, w.args.begin(), w.args.end());
      return RunCli(args, dir_, w.prefix + " " + more_prefix);
    };
    auto r = cli({"import", "-q", sample});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(StoredReports(url(w.name), dir_), 1u);
    r = cli({"stats", "--json"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out)["reports"], 1) << r.out;
    r = cli({"export", "-f", "json"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("addisonfoods.com"), std::string::npos) << r.out;
    const fs::path html = dir_ / (w.name + ".html");
    r = cli({"report", "--html", html.string()});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(fs::exists(html));
    r = cli({"enrich", "--offline", "-q"});
    EXPECT_EQ(r.status, 0) << r.err;
    r = cli({"vacuum", "--dry-run", "--retention-days", "1"});  // the report is of 2018
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("would purge 1 aggregate report(s)"), std::string::npos) << r.err;
    r = cli({"serve", "--listen", "127.0.0.1:0"}, "timeout -s INT 2");
    EXPECT_NE(r.err.find("serving " + url(w.name) + " on http://127.0.0.1:"), std::string::npos)
        << r.err;
    // migrate copies into the configured store (--to's default) from --from.
    const std::string copy = url(w.name + "-copy");
    ASSERT_EQ(RunCli({"migrate", "--from", url(w.name), "--to", copy, "-q"}, dir_).status, 0);
    r = cli({"migrate", "--from", url(w.name), "-q"});
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_NE(r.err.find("--from and --to name the same store"), std::string::npos) << r.err;
    for (const char* suffix : {".db", ".db-wal", ".db-shm"}) fs::remove(dir_ / (w.name + suffix));
    r = cli({"migrate", "--from", copy, "-q"});
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(StoredReports(url(w.name), dir_), 1u);
  }
}

TEST_F(Service, VacuumNeedsAStore) {
  auto r = RunCli({"vacuum"}, dir_);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("give --db URL, --config FILE or DMARC_REPORT_STORE_URL"), std::string::npos)
      << r.err;
}

std::string Deploy(const std::string& name) { return SourceDir() + "/deploy/" + name; }

// check-config refuses what run refuses (the same check, in the configuration's words): the
// example listens beyond loopback, so without the web token the systemd unit hands over it is
// refused; with the credentials it passes.
TEST_F(Service, TheExampleConfigurationIsValid) {
  auto r = RunCli({"check-config", Deploy("dmarc-report.toml")}, dir_, "env -i");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.err.find("[web]: web.listen 10.0.0.20:8080: refusing to serve report data beyond "
                       "this machine without authentication; add web.token_file or "
                       "web.users_file (or set web.listen to 127.0.0.1)"),
            std::string::npos)
      << r.err;
  // With the secrets the systemd unit hands over as credentials.
  Write("imap-password", "imap-pw\n");
  Write("consul-token", "token\n");
  const std::string web_token =
      Write("web-token", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n");
  const std::string env =
      "env -i DMARC_REPORT_IMAP_PASSWORD_FILE=" + (dir_ / "imap-password").string() +
      " DMARC_REPORT_CONSUL_TOKEN_FILE=" + (dir_ / "consul-token").string();
  r = RunCli({"check-config", Deploy("dmarc-report.toml")}, dir_,
             env + " DMARC_REPORT_WEB_TOKEN_FILE=/run/credentials/web-token");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("web.token_file /run/credentials/web-token"), std::string::npos) << r.err;
  r = RunCli({"check-config", Deploy("dmarc-report.toml")}, dir_,
             env + " DMARC_REPORT_WEB_TOKEN_FILE=" + web_token);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("consul: http://127.0.0.1:8500 as dmarc-report"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("web: http://10.0.0.20:8080, token " + web_token), std::string::npos)
      << r.out;
}

// Runs a shell command, returning its exit status and what it printed (both streams).
std::pair<int, std::string> Shell(const std::string& cmd, const fs::path& dir) {
  const fs::path out = dir / "shell.out";
  const int raw = std::system((cmd + " >'" + out.string() + "' 2>&1").c_str());
  return {WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, dmarc::testing::ReadFile(out.string())};
}

TEST_F(Service, TheSystemdUnitVerifiesAndIsHardened) {
  ASSERT_TRUE(fs::exists("/usr/bin/systemd-analyze")) << "install systemd (systemd-analyze)";
  // The unit names the installed binary; verify needs one that exists.
  std::string unit = dmarc::testing::ReadFile(Deploy("dmarc-report.service"));
  const std::string installed = "/usr/local/bin/dmarc-report";
  for (auto at = unit.find(installed); at != std::string::npos; at = unit.find(installed)) {
    unit.replace(at, installed.size(), std::string(DMARC_BINARY_DIR) + "/dmarc-report");
  }
  const std::string copy = Write("dmarc-report.service", unit);
  auto [status, out] = Shell("systemd-analyze verify '" + copy + "'", dir_);
  EXPECT_EQ(status, 0) << out;
  EXPECT_EQ(out, "") << "warnings from systemd-analyze verify";
  // Exposure 2.0 or less on systemd's 0 (locked down) .. 10 (exposed) scale.
  std::tie(status, out) =
      Shell("systemd-analyze security --offline=yes --threshold=20 '" + copy + "'", dir_);
  EXPECT_EQ(status, 0) << out;
  for (const char* line :
       {"DynamicUser=yes", "StateDirectory=dmarc-report", "ProtectSystem=strict", "ProtectHome=yes",
        "PrivateTmp=yes", "NoNewPrivileges=yes", "CapabilityBoundingSet=\n",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX", "SystemCallFilter=@system-service",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "LoadCredential=imap-password:/etc/dmarc-report/imap-password\n"
        "Environment=DMARC_REPORT_IMAP_PASSWORD_FILE=%d/imap-password",
        "#LoadCredential=consul-token:/etc/dmarc-report/consul-token\n"
        "#Environment=DMARC_REPORT_CONSUL_TOKEN_FILE=%d/consul-token"}) {
    EXPECT_NE(unit.find(line), std::string::npos) << line;
  }
}

// The Debian package's unit (packaging/): as hardened, as its static system user, with the
// configuration the package installs and no credential a fresh install lacks.
TEST_F(Service, TheDebianUnitVerifiesAndIsHardened) {
  ASSERT_TRUE(fs::exists("/usr/bin/systemd-analyze")) << "install systemd (systemd-analyze)";
  std::string unit = dmarc::testing::ReadFile(SourceDir() + "/packaging/dmarc-report.service");
  const std::string installed = "/usr/bin/dmarc-report";
  const auto at = unit.find(installed);
  ASSERT_NE(at, std::string::npos);
  unit.replace(at, installed.size(), std::string(DMARC_BINARY_DIR) + "/dmarc-report");
  const std::string copy = Write("dmarc-report.service", unit);
  auto [status, out] = Shell("systemd-analyze verify '" + copy + "'", dir_);
  EXPECT_EQ(status, 0) << out;
  EXPECT_EQ(out, "") << "warnings from systemd-analyze verify";
  std::tie(status, out) =
      Shell("systemd-analyze security --offline=yes --threshold=20 '" + copy + "'", dir_);
  EXPECT_EQ(status, 0) << out;
  for (const char* line :
       {"run --config /etc/dmarc-report/dmarc-report.toml\n", "User=dmarc-report\n",
        "StateDirectory=dmarc-report\n", "WorkingDirectory=/var/lib/dmarc-report\n",
        "ProtectSystem=strict", "NoNewPrivileges=yes", "CapabilityBoundingSet=\n",
        "SystemCallFilter=@system-service", "ExecReload=/bin/kill -HUP $MAINPID",
        "#LoadCredential=imap-password:/etc/dmarc-report/imap-password\n"
        "#Environment=DMARC_REPORT_IMAP_PASSWORD_FILE=%d/imap-password",
        "\n#LoadCredential=web-token:/etc/dmarc-report/web-token\n"}) {
    EXPECT_NE(unit.find(line), std::string::npos) << line;
  }
  EXPECT_EQ(unit.find("\nLoadCredential="), std::string::npos) << "a fresh install has none";
  EXPECT_EQ(unit.find("DynamicUser=yes"), std::string::npos);
}

// The package's configuration starts as installed: check-config passes it without a secret (with
// the drop folder the package's postinst creates, stood in for here by a folder of the test), and
// it keeps the service's store and dashboard where the package and the unit expect them.
TEST_F(Service, TheDebianConfigurationIsValidAsInstalled) {
  const std::string file = SourceDir() + "/packaging/dmarc-report.toml";
  auto r =
      RunCli({"check-config", file}, dir_, "env -i DMARC_REPORT_DIRECTORY_PATH=" + dir_.string());
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find(file + ": ok"), std::string::npos) << r.out;
  const std::string text = dmarc::testing::ReadFile(file);
  for (const char* line :
       {"url = \"sqlite:/var/lib/dmarc-report/dmarc-report.db\"",
        "path = \"/var/lib/dmarc-report/inbox\"", "listen = \"127.0.0.1:8080\""}) {
    EXPECT_NE(text.find(line), std::string::npos) << line;
  }
}

TEST_F(Service, TheFreeBsdRcScriptIsValidShell) {
  auto [status, out] = Shell("sh -n '" + Deploy("freebsd/dmarc_report") + "'", dir_);
  EXPECT_EQ(status, 0) << out;
  const std::string script = dmarc::testing::ReadFile(Deploy("freebsd/dmarc_report"));
  EXPECT_NE(script.find("run --config ${dmarc_report_config}"), std::string::npos);
  EXPECT_NE(script.find("kill -HUP"), std::string::npos);
}

// Puts a copy of `from` into a watched folder whole (copy beside it, then rename).
void Drop(const fs::path& from, const fs::path& to) {
  const fs::path part = to.parent_path().parent_path() / (to.filename().string() + ".part");
  fs::copy_file(from, part);
  fs::rename(part, to);
}

// Waits up to `seconds` for pred().
template <class Pred>
bool WaitUntil(Pred pred, int seconds = 20) {
  for (int i = 0; i < seconds * 20; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return pred();
}

TEST_F(Service, RunWatchesPurgesReloadsRegistersAndStopsCleanly) {
  dmarc::testing::FakeConsulAgent agent;
  const std::string samples = dmarc::testing::TestData("real/parsedmarc-samples/aggregate/");
  const std::string db = "sqlite:" + (dir_ / "reports.db").string();
  // An old report (2018) already stored: the retention purges it at start.
  ASSERT_EQ(RunCli({"import", "--db", db, "-q",
                    samples + "addisonfoods.com!example.com!1536105600!1536191999.xml"},
                   dir_)
                .status,
            0);
  ASSERT_EQ(StoredReports(db, dir_), 1u);
  const fs::path inbox1 = dir_ / "inbox1", inbox2 = dir_ / "inbox2";
  fs::create_directories(inbox1);
  fs::create_directories(inbox2);
  const std::string log = (dir_ / "run.log").string();
  const auto days = (std::time(nullptr) - 1609459200) / 86400;  // keeps 2021-01-01 on
  auto config_for = [&](const fs::path& inbox) {
    return fmt::format(
        "[store]\nurl = \"{}\"\nretention_days = {}\n[directory]\npath = \"{}\"\n"
        "[fetch]\nwatch_interval = 1\n[enrich]\noffline = true\n[log]\nfile = \"{}\"\nstderr = "
        "false\n"
        "[consul]\naddress = \"{}\"\nservice_id = \"dmarc-test\"\ntoken = \"tok-Zz81\"\n"
        "[web]\nlisten = \"127.0.0.1:0\"\n",
        db, days, inbox.string(), log, agent.address());
  };
  const std::string file = Write("run.toml", config_for(inbox1));
  const pid_t pid = dmarc::testing::Spawn({"run", "--config", file}, dir_ / "run.out");
  auto log_has = [&](const std::string& text) {
    return fs::exists(log) && dmarc::testing::ReadFile(log).find(text) != std::string::npos;
  };
  EXPECT_TRUE(WaitUntil([&] { return log_has("retention: purged 1 aggregate report(s)"); }));
  EXPECT_TRUE(WaitUntil([&] { return !agent.requests().empty(); }));

  Drop(samples + "rfc9990-example.net!example.com!1700000000!1700086399.xml", inbox1 / "a.xml");
  EXPECT_TRUE(WaitUntil([&] { return StoredReports(db, dir_) == 1; }));

  // SIGHUP: the new configuration watches the other folder.
  Write("run.toml", config_for(inbox2));
  ::kill(pid, SIGHUP);
  EXPECT_TRUE(WaitUntil([&] { return log_has("configuration reloaded from " + file); }));
  Drop(samples + "protection.outlook.com!example.com!1711756800!1711843200.xml", inbox2 / "b.xml");
  EXPECT_TRUE(WaitUntil([&] { return StoredReports(db, dir_) == 2; }));

  // A configuration with an error is refused and the running one stays.
  Write("run.toml", "[store]\nretention_days = \"x\"\n");
  ::kill(pid, SIGHUP);
  EXPECT_TRUE(WaitUntil([&] { return log_has("the running one stays"); }));
  EXPECT_TRUE(log_has("store.retention_days: must be an integer")) << ReadLog(log);

  ::kill(pid, SIGTERM);
  int status = -1;
  EXPECT_TRUE(WaitUntil([&] {
    const pid_t done = waitpid(pid, &status, WNOHANG);
    return done == pid;
  }));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  const auto reqs = agent.requests();
  ASSERT_GE(reqs.size(), 2u);
  EXPECT_EQ(reqs.front().path, "/v1/agent/service/register");
  EXPECT_EQ(reqs.back().path, "/v1/agent/service/deregister/dmarc-test");
  EXPECT_EQ(reqs.back().token, "tok-Zz81");
  const std::string text = ReadLog(log);
  EXPECT_NE(text.find("info stopped"), std::string::npos) << text;
  EXPECT_EQ(text.find("tok-Zz81"), std::string::npos) << text;
}

TEST_F(Service, RunWithoutAConfigurationUsesTheBuiltInDropFolder) {
  fs::create_directories(dir_ / "inbox");
  fs::copy_file(dmarc::testing::TestData("real/parsedmarc-samples/aggregate/rfc9990-sample.xml"),
                dir_ / "inbox" / "r.xml");
  // SIGTERM after 5 s: `timeout` then exits 124, having seen run stop.
  auto r =
      RunCli({"run"}, dir_,
             "cd '" + dir_.string() +
                 "' && env -i DMARC_REPORT_ENRICH_OFFLINE=true DMARC_REPORT_WEB_LISTEN=127.0.0.1:0 "
                 "timeout -s TERM 5");
  EXPECT_EQ(r.status, 124) << r.err;
  EXPECT_NE(r.err.find("running with built-in default"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("info stopped"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(dir_ / "inbox" / "processed" / "r.xml"));
  EXPECT_EQ(StoredReports("sqlite:" + (dir_ / "data" / "dmarc-report.db").string(), dir_), 1u);
}

// Runs `promtool check metrics` (Debian: prometheus) on text; fails when promtool is missing.
void ExpectPromtoolAccepts(const std::string& text, const fs::path& dir) {
  ASSERT_TRUE(fs::exists("/usr/bin/promtool"))
      << "/usr/bin/promtool is missing: install prometheus";
  const fs::path file = dir / "metrics.prom";
  std::ofstream(file) << text;
  const std::string out = (dir / "promtool.out").string();
  const int raw = std::system(
      ("/usr/bin/promtool check metrics <'" + file.string() + "' >'" + out + "' 2>&1").c_str());
  EXPECT_TRUE(WIFEXITED(raw) && WEXITSTATUS(raw) == 0) << ReadLog(out) << "\n" << text;
}

// The README's main command on a fresh checkout: `run` without a configuration copies the example
// reports into the new drop folder, stores them and serves them on the dashboard.
TEST_F(Service, RunWithoutAConfigurationServesTheExampleReports) {
  const int port = dmarc::testing::FreePort();
  std::atomic<int> status{-100};
  std::thread runner([&] {
    // The shell's pid becomes the program's (exec), so that the test can send it SIGTERM.
    status =
        RunCli({"run"}, dir_,
               fmt::format("cd '{}' && echo $$ >run.pid && exec env -i "
                           "DMARC_REPORT_ENRICH_OFFLINE=true DMARC_REPORT_WEB_LISTEN=127.0.0.1:{}",
                           dir_.string(), port))
            .status;
  });
  httplib::Client http("127.0.0.1", port);
  http.set_connection_timeout(1);
  std::uint64_t reports = 0;
  EXPECT_TRUE(WaitUntil(
      [&] {
        auto res = http.Get("/api/stats");
        if (!res || res->status != 200) return false;
        reports = nlohmann::json::parse(res->body, nullptr, false).value("reports", 0ull);
        return reports == 17;  // 19 files, two of them duplicates
      },
      60))
      << reports;
  auto health = http.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->body, "ok\n");
  auto metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_EQ(metrics->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(metrics->body.find("dmarc_report_reports_total{type=\"aggregate\"} 17"),
            std::string::npos)
      << metrics->body;
  ExpectPromtoolAccepts(metrics->body, dir_);

  const std::string pid = dmarc::testing::ReadFile(dir_ / "run.pid");
  ASSERT_FALSE(pid.empty());
  ::kill(std::stoi(pid), SIGTERM);
  runner.join();
  EXPECT_EQ(status, 0);
  const std::string err = ReadLog((dir_ / "stderr").string());
  EXPECT_NE(err.find("first start: copied 19 example report files"), std::string::npos) << err;
  EXPECT_NE(err.find(fmt::format("dashboard on http://127.0.0.1:{}/", port)), std::string::npos)
      << err;
  EXPECT_NE(err.find("info stopped"), std::string::npos) << err;
  EXPECT_FALSE(http.Get("/healthz")) << "the dashboard stopped with the service";

  // A second start finds the folder and the store: nothing is copied again.
  auto again = RunCli({"run"}, dir_,
                      fmt::format("cd '{}' && env -i DMARC_REPORT_ENRICH_OFFLINE=true "
                                  "DMARC_REPORT_WEB_LISTEN=127.0.0.1:0 timeout "
                                  "-s TERM 2",
                                  dir_.string()));
  EXPECT_EQ(again.status, 124) << again.err;
  EXPECT_EQ(again.err.find("first start"), std::string::npos) << again.err;
  EXPECT_EQ(StoredReports("sqlite:" + (dir_ / "data" / "dmarc-report.db").string(), dir_), 17u);
}

TEST_F(Service, RunDashboardAsksForTheTokenOnMetricsButNotOnHealthz) {
  const int port = dmarc::testing::FreePort();
  fs::create_directories(dir_ / "inbox");
  const std::string token = Write("token", "metrics-afff3e5fe67191b7f9145120d0a976e6\n");
  const std::string file =
      Write("run.toml",
            fmt::format("[store]\nurl = \"sqlite:{}\"\n[directory]\npath = \"{}\"\n"
                        "[web]\nlisten = \"127.0.0.1:{}\"\ntoken_file = \"{}\"\n",
                        (dir_ / "db.sqlite").string(), (dir_ / "inbox").string(), port, token));
  const pid_t pid = dmarc::testing::Spawn({"run", "--config", file}, dir_ / "run.out");
  httplib::Client http("127.0.0.1", port);
  http.set_connection_timeout(1);
  EXPECT_TRUE(WaitUntil([&] { return static_cast<bool>(http.Get("/healthz")); }));
  auto health = http.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto denied = http.Get("/metrics");
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 401);
  auto metrics =
      http.Get("/metrics", {{"Authorization", "Bearer metrics-afff3e5fe67191b7f9145120d0a976e6"}});
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_NE(metrics->body.find("# TYPE dmarc_report_reports_total counter"), std::string::npos)
      << metrics->body;
  ExpectPromtoolAccepts(metrics->body, dir_);
  ::kill(pid, SIGTERM);
  EXPECT_EQ(dmarc::testing::Wait(pid), 0);
}

TEST_F(Service, RunMovesTheDashboardOnReload) {
  const int first = dmarc::testing::FreePort(), second = dmarc::testing::FreePort();
  fs::create_directories(dir_ / "inbox");
  auto config_for = [&](int port) {
    return fmt::format(
        "[store]\nurl = \"sqlite:{}\"\n[directory]\npath = \"{}\"\n"
        "[web]\nlisten = \"127.0.0.1:{}\"\n",
        (dir_ / "db.sqlite").string(), (dir_ / "inbox").string(), port);
  };
  const std::string file = Write("run.toml", config_for(first));
  const pid_t pid = dmarc::testing::Spawn({"run", "--config", file}, dir_ / "run.out");
  httplib::Client a("127.0.0.1", first), b("127.0.0.1", second);
  a.set_connection_timeout(1);
  b.set_connection_timeout(1);
  EXPECT_TRUE(WaitUntil([&] { return static_cast<bool>(a.Get("/healthz")); }));
  Write("run.toml", config_for(second));
  ::kill(pid, SIGHUP);
  EXPECT_TRUE(WaitUntil([&] { return static_cast<bool>(b.Get("/healthz")); }));
  EXPECT_FALSE(a.Get("/healthz")) << "the old address is closed";
  // A reload that changes nothing else keeps the dashboard where it is.
  ::kill(pid, SIGHUP);
  EXPECT_TRUE(WaitUntil([&] {
    return ReadLog((dir_ / "run.out").string()).find("configuration reloaded") !=
           ReadLog((dir_ / "run.out").string()).rfind("configuration reloaded");
  }));
  EXPECT_TRUE(b.Get("/healthz"));
  ::kill(pid, SIGTERM);
  EXPECT_EQ(dmarc::testing::Wait(pid), 0);
  const std::string out = ReadLog((dir_ / "run.out").string());
  EXPECT_NE(out.find(fmt::format("dashboard on http://127.0.0.1:{}/", second)), std::string::npos)
      << out;
}

TEST_F(Service, RunStopsWhenTheDashboardCannotListen) {
  fs::create_directories(dir_ / "inbox");
  const std::string file =
      Write("run.toml", fmt::format("[store]\nurl = \"sqlite:{}\"\n[directory]\npath = \"{}\"\n"
                                    "[web]\nlisten = \"0.0.0.0:0\"\n",
                                    (dir_ / "db.sqlite").string(), (dir_ / "inbox").string()));
  auto r = RunCli({"run", "--config", file}, dir_);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("[web]: web.listen 0.0.0.0:0: refusing to serve report data beyond this "
                       "machine without authentication; add web.token_file or web.users_file"),
            std::string::npos)
      << r.err;
  // check-config refuses it with the same words.
  auto checked = RunCli({"check-config", file}, dir_);
  EXPECT_EQ(checked.status, 1);
  EXPECT_NE(checked.err.find("[web]: web.listen 0.0.0.0:0: refusing to serve report data beyond "
                             "this machine without authentication"),
            std::string::npos)
      << checked.err;
}

// A local source that is not there: check-config, fetch and run refuse it before anything, with
// the same words (the key, the path, what is wrong); a reload to it keeps the running one.
TEST_F(Service, MissingFoldersAreRefusedByCheckConfigFetchAndRun) {
  const std::string missing = (dir_ / "no-such-maildir").string();
  const std::string file =
      Write("run.toml", fmt::format("[store]\nurl = \"sqlite:{}\"\n[maildir]\npath = \"{}\"\n"
                                    "[enrich]\noffline = true\n[web]\nenabled = false\n",
                                    (dir_ / "db.sqlite").string(), missing));
  const std::string want = "maildir.path: " + missing + ": does not exist";
  auto checked = RunCli({"check-config", file}, dir_);
  EXPECT_EQ(checked.status, 1);
  EXPECT_NE(checked.err.find(want), std::string::npos) << checked.err;
  auto fetched = RunCli({"fetch", "--config", file}, dir_);
  EXPECT_EQ(fetched.status, 2);
  EXPECT_NE(fetched.err.find(want), std::string::npos) << fetched.err;
  auto ran = RunCli({"run", "--config", file}, dir_);
  EXPECT_EQ(ran.status, 2);
  EXPECT_NE(ran.err.find(want), std::string::npos) << ran.err;
  EXPECT_FALSE(fs::exists(dir_ / "db.sqlite"));  // refused before the store is created
  // A folder without new/ and cur/ is not a Maildir.
  fs::create_directories(missing);
  checked = RunCli({"check-config", file}, dir_);
  EXPECT_EQ(checked.status, 1);
  EXPECT_NE(checked.err.find("maildir.path: " + missing + ": not a Maildir (no new/ folder)"),
            std::string::npos)
      << checked.err;
  fs::create_directories(fs::path(missing) / "new");
  fs::create_directories(fs::path(missing) / "cur");
  checked = RunCli({"check-config", file}, dir_);
  EXPECT_EQ(checked.status, 0) << checked.err;
}

TEST_F(Service, RunRegistersWithAConsulAgentThatStartsLater) {
  const int port = dmarc::testing::FreePort();
  fs::create_directories(dir_ / "inbox");
  const std::string file = Write(
      "run.toml", fmt::format("[store]\nurl = \"sqlite:{}\"\n[directory]\npath = \"{}\"\n"
                              "[enrich]\noffline = true\n"
                              "[consul]\naddress = \"http://127.0.0.1:{}\"\nservice_id = \"late\"\n"
                              "[web]\nlisten = \"127.0.0.1:0\"\n",
                              (dir_ / "db.sqlite").string(), (dir_ / "inbox").string(), port));
  const pid_t pid = dmarc::testing::Spawn({"run", "--config", file}, dir_ / "run.out");
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // a first attempt fails
  dmarc::testing::FakeConsulAgent agent(200, "", port);
  EXPECT_TRUE(WaitUntil([&] { return !agent.requests().empty(); }, 10));
  ::kill(pid, SIGTERM);
  EXPECT_EQ(dmarc::testing::Wait(pid), 0);
  const auto reqs = agent.requests();
  ASSERT_GE(reqs.size(), 2u);
  EXPECT_EQ(reqs.front().path, "/v1/agent/service/register");
  EXPECT_EQ(reqs.back().path, "/v1/agent/service/deregister/late");
  const std::string out = ReadLog((dir_ / "run.out").string());
  EXPECT_NE(out.find("/v1/agent/service/register failed"), std::string::npos) << out;
  EXPECT_NE(out.find("(retrying)"), std::string::npos) << out;
  EXPECT_NE(out.find("consul: registered late"), std::string::npos) << out;
}

}  // namespace
