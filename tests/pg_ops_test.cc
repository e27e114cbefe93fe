// The operations around a PostgreSQL store, on real servers: `migrate` SQLite → PostgreSQL →
// SQLite keeps everything (the same `stats --json` and `export` bytes, and what export does not
// show: origins, import times, raw XML, enrichment times, rejected bytes, the address table);
// a dashboard on a streaming standby shows what a collector wrote to the primary; a password
// file for a role that needs one, kept out of every output.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "store/sha256.h"
#include "store/store.h"
// GCC 12 sees an impossible overlap in a string concatenation of run_program.h once inlined here
// (a known false positive of -Wrestrict).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wrestrict"
#include "testing/cli.h"
#pragma GCC diagnostic pop
#include "testing/postgres.h"
#include "testing/process.h"
#include "testing/test_util.h"

namespace {

namespace fs = std::filesystem;
using dmarc::testing::PostgresServer;
using dmarc::testing::ReadFile;
using dmarc::testing::RunCli;
using dmarc::testing::TestData;

// Inputs with every kind of item: aggregate reports (some rejected), a failure and an SMTP TLS
// report.
std::vector<std::string> Inputs() {
  return {TestData("real/parsedmarc-samples/aggregate"),
          TestData("real/parsedmarc-samples/aggregate_invalid"),
          TestData("real/parsedmarc-samples/empty.xml"),
          TestData("real/parsedmarc-samples/failure"),
          TestData("real/parsedmarc-samples/smtp_tls")};
}

std::vector<std::string> With(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Everything ForEachCopy yields, as text: two stores holding the same give the same text.
std::string Dump(const std::string& url) {
  auto st = dmarc::store::OpenStore(url, {});
  EXPECT_TRUE(st) << (st ? "" : st.error());
  if (!st) return "";
  std::string out;
  auto n = (*st)->ForEachCopy(7, [&](dmarc::store::CopyBatch&& b) -> dmarc::Result<bool> {
    for (const auto& a : b.aggregates) {
      const std::string enriched = fmt::format("{}", fmt::join(a.sources_enriched_at, " "));
      out += fmt::format("A {} {} {} raw {} {} {} records {} enriched {} {}\n", a.origin,
                         a.imported_at, a.report.report_metadata.report_id, a.raw_xml_size,
                         a.raw_xml_encoding, dmarc::store::Sha256Hex(a.raw_xml_packed),
                         a.report.records.size(), enriched.substr(0, 40),
                         dmarc::store::Sha256Hex(enriched));
    }
    for (const auto& f : b.failures) {
      out += fmt::format("F {} {} {}\n", f.origin, f.imported_at,
                         dmarc::store::FailureDedupKey(f.report));
    }
    for (const auto& t : b.smtp_tls) {
      out += fmt::format("T {} {} {} {}\n", t.origin, t.imported_at, t.report.report_id,
                         t.report.policies.size());
    }
    for (const auto& r : b.rejections) {
      out += fmt::format("R {} {} {} {} {} {}\n", r.received_at, r.origin, r.reason, r.sha256,
                         r.size, dmarc::store::Sha256Hex(r.raw));
    }
    for (const auto& i : b.ip_info) {
      out += fmt::format("I {} {} {} {} {} {}\n", i.info.ip, i.info.status,
                         i.info.reverse_dns.value_or("-"), i.info.country.value_or("-"),
                         i.name.value_or("-"), i.info.expires_at);
    }
    return true;
  });
  EXPECT_TRUE(n) << (n ? "" : n.error());
  return out;
}

class PgOps : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = dmarc::testing::FreshTestDir("dmarc-pg-ops");
    // Not a report: stored as a rejected input, with its bytes.
    std::ofstream(dir_ / "junk.xml") << "not a report at all\n";
    inputs_ = Inputs();
    inputs_.push_back((dir_ / "junk.xml").string());
  }
  // A folder for a server of the test's own: short, for its Unix socket's path (108 bytes).
  fs::path ServerDir(const std::string& tag) const {
    return fs::path("/tmp") / ("pgo-" + std::to_string(::getpid()) + "-" + tag);
  }
  void TearDown() override {
    if (!HasFailure() && !std::getenv("DMARC_KEEP_TEST_DIRS")) fs::remove_all(dir_);
  }

  // Runs the program to its end; output in dir_/name.
  dmarc::testing::CliOutcome Cli(const std::vector<std::string>& args,
                                 const std::string& prefix = "") {
    return RunCli(dmarc::testing::EnrichmentOffByDefault(args), dir_, prefix);
  }

  void Sqlite(const std::string& db, const std::string& sql) {
    const std::string cmd = "sqlite3 '" + db + "' \"" + sql + "\"";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << sql;
  }

  fs::path dir_;
  std::vector<std::string> inputs_;
};

TEST_F(PgOps, MigrateSqliteToPostgresAndBackKeepsEverything) {
  const std::string a = (dir_ / "a.db").string(), b = (dir_ / "b.db").string();
  const std::string pg = dmarc::testing::SharedPostgresDatabase("migrate");
  ASSERT_FALSE(pg.empty());
  auto imported = Cli(With({"import", "--db", a, "--offline", "-q"}, inputs_));
  ASSERT_TRUE(imported.status == 0 || imported.status == 1) << imported.err;
  // What a copy must keep and a fresh import would not give: old import times, records enriched
  // at different times (and some never), an address table with a service name.
  Sqlite(a,
         "UPDATE aggregate_reports SET imported_at = 1600000000 + id;"
         " UPDATE aggregate_records SET source_enriched_at = CASE WHEN id % 3 = 0 THEN NULL"
         " ELSE 1650000000 + id % 2 END;"
         " UPDATE failure_reports SET imported_at = 1610000000 + id;"
         " UPDATE smtp_tls_reports SET imported_at = 1620000000 + id;"
         // XML kept gzip-compressed by an older version (a copy takes the bytes as they are).
         " UPDATE aggregate_raw SET encoding = 'gzip' WHERE report % 2 = 0;"
         " INSERT INTO ip_info_cache (ip, status, reverse_dns, base_domain, country, asn,"
         " as_name, as_domain, name, type, resolved_at, expires_at) VALUES ('192.0.2.7', 'name',"
         " 'mx.example.net', 'example.net', 'DE', 64500, 'AS Example', 'example.net', 'Example"
         " Mail', 'Email Provider', 1700000000, 1800000000), ('2001:db8::1', 'failed', NULL,"
         " NULL, NULL, NULL, NULL, NULL, NULL, NULL, 1700000001, 1700003601);");
  const std::string dump_a = Dump(a);
  ASSERT_NE(dump_a.find("\nI 192.0.2.7 name mx.example.net DE Example Mail"), std::string::npos)
      << dump_a;
  ASSERT_NE(dump_a.find("\nR "), std::string::npos) << "some input is rejected: " << dump_a;
  ASSERT_NE(dump_a.find(" gzip "), std::string::npos) << dump_a;
  ASSERT_NE(dump_a.find(" zstd "), std::string::npos) << dump_a;

  auto there = Cli({"migrate", "--from", a, "--to", pg});
  ASSERT_EQ(there.status, 0) << there.err << there.out;
  EXPECT_NE(there.out.find("Aggregate reports"), std::string::npos) << there.out;
  EXPECT_EQ(there.out.find("differs"), std::string::npos) << there.out;
  // Again: everything is there already, nothing is copied twice.
  auto again = Cli({"migrate", "--from", a, "--to", pg});
  ASSERT_EQ(again.status, 0) << again.err << again.out;
  EXPECT_NE(again.err.find(": 0 aggregate report(s) copied (0 records)"), std::string::npos)
      << again.err;
  auto back = Cli({"migrate", "--from", pg, "--to", "sqlite:" + b, "--batch", "3"});
  ASSERT_EQ(back.status, 0) << back.err << back.out;

  EXPECT_EQ(Dump(pg), dump_a);
  EXPECT_EQ(Dump(b), dump_a);
  auto stats = [&](const std::string& db) {
    auto r = Cli({"stats", "--db", db, "--json"});
    EXPECT_EQ(r.status, 0) << r.err;
    return r.out;
  };
  const std::string stats_a = stats(a);
  EXPECT_NE(stats_a.find("\"failure_reports\": 4"), std::string::npos) << stats_a;
  EXPECT_EQ(stats(pg), stats_a);
  EXPECT_EQ(stats(b), stats_a);
  for (const char* type : {"aggregate", "failure", "smtp_tls"}) {
    for (const char* format : {"json", "csv"}) {
      auto export_of = [&](const std::string& db) {
        auto r = Cli({"export", "--db", db, "--type", type, "-f", format});
        EXPECT_EQ(r.status, 0) << r.err;
        return r.out;
      };
      const std::string ea = export_of(a);
      EXPECT_GT(ea.size(), 100u) << type << " " << format;
      EXPECT_EQ(export_of(pg), ea) << type << " " << format;
      EXPECT_EQ(export_of(b), ea) << type << " " << format;
    }
  }
}

TEST_F(PgOps, MigrateResumesAfterAnInterruptAndRefusesDifferentTotals) {
  const std::string a = (dir_ / "a.db").string();
  const std::string pg = dmarc::testing::SharedPostgresDatabase("migrate_resume");
  ASSERT_FALSE(pg.empty());
  auto imported = Cli(With({"import", "--db", a, "--offline", "-q"}, inputs_));
  ASSERT_TRUE(imported.status == 0 || imported.status == 1) << imported.err;
  // An interrupted copy: the first reports only (as a copy stopped after its first batches).
  const std::string part = (dir_ / "part.db").string();
  ASSERT_EQ(std::system(("cp '" + a + "' '" + part + "'").c_str()), 0);
  Sqlite(part,
         "DELETE FROM aggregate_records WHERE report > 4; DELETE FROM aggregate_raw WHERE"
         " report > 4; DELETE FROM report_totals WHERE report > 4;"
         " DELETE FROM aggregate_reports WHERE id > 4;");
  auto partial = Cli({"migrate", "--from", part, "--to", pg, "-q"});
  // part.db's rollups still count what was deleted: its own totals say so, the copy differs.
  EXPECT_EQ(partial.status, 1) << partial.err << partial.out;
  EXPECT_NE(partial.out.find("differs"), std::string::npos) << partial.out;
  auto resumed = Cli({"migrate", "--from", a, "--to", pg});
  ASSERT_EQ(resumed.status, 0) << resumed.err << resumed.out;
  EXPECT_NE(resumed.err.find("4 already there"), std::string::npos) << resumed.err;
  auto sa = Cli({"stats", "--db", a, "--json"});
  auto sp = Cli({"stats", "--db", pg, "--json"});
  EXPECT_EQ(sp.out, sa.out);
}

// The port of a running `serve` from its log line "serving ... on http://HOST:PORT/".
int ServedPort(const fs::path& log) {
  static constexpr std::string_view kMark = "on http://127.0.0.1:";
  for (int i = 0; i < 300; ++i) {
    const std::string text = ReadFile(log);
    const auto at = text.find(kMark);
    if (at != std::string::npos) {
      const auto digits = at + kMark.size();
      const auto end = text.find('/', digits);
      if (end != std::string::npos && end > digits)
        return std::stoi(text.substr(digits, end - digits));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return 0;
}

TEST_F(PgOps, ServeOnAStandbyShowsWhatACollectorWroteToThePrimary) {
  PostgresServer primary(ServerDir("primary"));
  primary.Start();
  const std::string url = primary.CreateDatabase("dmarc");
  // The standby is copied after the database exists (its schema comes by replication).
  auto standby = PostgresServer::StartStandby(primary, ServerDir("standby"));
  const std::string read_url = standby->Url("dmarc");
  // A dashboard on the standby before anything was written: the primary's schema is made at
  // its start and replicated.
  const fs::path log = dir_ / "serve.log";
  const pid_t pid = dmarc::testing::Spawn(
      {"serve", "--db", url, "--read-db", read_url, "--listen", "127.0.0.1:0"}, log);
  const int port = ServedPort(log);
  ASSERT_GT(port, 0) << ReadFile(log);
  httplib::Client http("127.0.0.1", port);
  auto reports = [&]() -> int {
    auto res = http.Get("/api/stats");
    if (!res || res->status != 200) return -1;
    return nlohmann::json::parse(res->body)["reports"].get<int>();
  };
  EXPECT_EQ(reports(), 0) << ReadFile(log);
  auto imported = Cli(With({"import", "--db", url, "--offline", "-q"}, inputs_));
  ASSERT_TRUE(imported.status == 0 || imported.status == 1) << imported.err;
  auto written = Cli({"stats", "--db", url, "--json"});
  const int expected = nlohmann::json::parse(written.out)["reports"].get<int>();
  ASSERT_GT(expected, 10);
  int seen = -1;
  for (int i = 0; i < 300 && (seen = reports()) != expected; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(seen, expected) << ReadFile(log);
  // The standby answers the reads: with the primary stopped the dashboard still shows it all,
  // and so do `stats` with [store] read_url and /healthz.
  primary.Stop();
  EXPECT_EQ(reports(), expected) << ReadFile(log);
  auto health = http.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200) << health->body;
  auto read = Cli({"stats", "--json"}, "DMARC_REPORT_STORE_URL='" + url +
                                           "' DMARC_REPORT_STORE_READ_URL='" + read_url + "'");
  EXPECT_EQ(read.status, 0) << read.err;
  EXPECT_EQ(read.out, written.out);
  // A standby takes no writes: import says so (it does not migrate a read-only store).
  auto refused = Cli(With({"import", "--db", read_url, "--offline", "-q"}, inputs_));
  EXPECT_EQ(refused.status, 2) << refused.err;
  ::kill(pid, SIGTERM);  // serve has no handler: the signal ends it
  EXPECT_EQ(dmarc::testing::Wait(pid), -SIGTERM) << ReadFile(log);
}

TEST_F(PgOps, PasswordFileOpensAStoreWhoseRoleNeedsOneAndStaysOutOfEveryOutput) {
  PostgresServer server(ServerDir("pw"));
  server.Start();
  server.CreateDatabase("dmarc");
  server.AddPasswordRole("dmarc");
  const std::string url = "postgresql://" + std::string(PostgresServer::kPasswordRole) +
                          "@127.0.0.1:" + std::to_string(server.port()) + "/dmarc";
  const fs::path secret = dir_ / "pg-password";
  std::ofstream(secret) << PostgresServer::kPassword << "\n";
  ::chmod(secret.c_str(), 0600);
  const fs::path config = dir_ / "store.toml";
  std::ofstream(config) << "[store]\nurl = \"" << url << "\"\npassword_file = \"" << secret.string()
                        << "\"\n";
  // No password anywhere else libpq would look.
  const std::string clean = "env -u PGPASSFILE -u PGPASSWORD HOME='" + dir_.string() + "'";
  std::vector<dmarc::testing::CliOutcome> outputs;
  auto without = Cli(With({"import", "--db", url, "--offline"}, Inputs()), clean);
  EXPECT_EQ(without.status, 2) << without.err;
  EXPECT_NE(without.err.find("password"), std::string::npos) << without.err;
  outputs.push_back(without);
  auto with = Cli(With({"import", "--config", config.string(), "--offline"}, Inputs()), clean);
  EXPECT_TRUE(with.status == 0 || with.status == 1) << with.err;
  EXPECT_NE(with.err.find("new report(s)"), std::string::npos) << with.err;
  outputs.push_back(with);
  auto env = Cli({"stats", "--db", url, "--json"},
                 clean + " DMARC_REPORT_STORE_PASSWORD_FILE='" + secret.string() + "'");
  EXPECT_EQ(env.status, 0) << env.err;
  EXPECT_GT(nlohmann::json::parse(env.out)["reports"].get<int>(), 10) << env.out;
  outputs.push_back(env);
  // The store lines of check-config name where the password comes from, never the password.
  const fs::path full = dir_ / "full.toml";
  fs::create_directories(dir_ / "in");  // check-config, like run, refuses a missing drop folder
  std::ofstream(full) << ReadFile(config) << "[directory]\npath = \"" << (dir_ / "in").string()
                      << "\"\n";
  auto checked = Cli({"check-config", full.string()}, clean);
  EXPECT_EQ(checked.status, 0) << checked.err;
  EXPECT_NE(checked.out.find("password from store.password_file"), std::string::npos)
      << checked.out;
  outputs.push_back(checked);
  // A wrong password: refused, and the wrong one is not shown either.
  std::ofstream(secret, std::ios::trunc) << "not-" << PostgresServer::kPassword << "\n";
  auto wrong = Cli({"stats", "--config", config.string()}, clean);
  EXPECT_EQ(wrong.status, 2) << wrong.err;
  EXPECT_NE(wrong.err.find("password authentication failed"), std::string::npos) << wrong.err;
  outputs.push_back(wrong);
  // A password in the URL is refused before anything connects.
  auto in_url = Cli(
      {"stats", "--db",
       "postgresql://" + std::string(PostgresServer::kPasswordRole) + ":" +
           PostgresServer::kPassword + "@127.0.0.1:" + std::to_string(server.port()) + "/dmarc"},
      clean);
  EXPECT_EQ(in_url.status, 2);
  EXPECT_NE(in_url.err.find("password_file"), std::string::npos) << in_url.err;
  outputs.push_back(in_url);
  for (const auto& o : outputs) {
    EXPECT_EQ(o.out.find(PostgresServer::kPassword), std::string::npos) << o.out;
    EXPECT_EQ(o.err.find(PostgresServer::kPassword), std::string::npos) << o.err;
  }
}

}  // namespace
