// Many writers into one PostgreSQL store, with real processes: four `import --db postgresql://`
// at once over overlapping inputs, and `kill -9` of a writer at random moments followed by a
// re-run. The store must end equal to one SQLite import of the same inputs (`stats --json`),
// without a duplicate report, with every report whole (its record_count records, no more, no
// less) and with rollups that are exactly the sums of the records (checked with psql, so that a
// wrong rollup cannot hide behind a reader computing the same wrong thing).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "testing/postgres.h"
#include "testing/process.h"
#include "testing/test_util.h"

namespace {

namespace fs = std::filesystem;
using dmarc::testing::FreshTestDir;
using dmarc::testing::PostgresServer;
using dmarc::testing::ReadFile;
using dmarc::testing::RunToEnd;
using dmarc::testing::SharedPostgresDatabase;
using dmarc::testing::Spawn;
using dmarc::testing::StoreStats;
using dmarc::testing::TestData;
using dmarc::testing::Wait;

// Statements whose answer is 0 in a consistent store (each counts the rows that break a promise).
const char* const kBrokenRows[] = {
    // A report identity twice.
    "SELECT count(*) FROM (SELECT 1 FROM aggregate_reports GROUP BY org_name, report_id, domain,"
    " begin_ts, end_ts HAVING count(*) > 1) x",
    // A report without all its records, or with more.
    "SELECT count(*) FROM aggregate_reports a WHERE a.record_count <>"
    " (SELECT count(*) FROM aggregate_records r WHERE r.report = a.id)",
    // Records of no report.
    "SELECT count(*) FROM aggregate_records r WHERE NOT EXISTS"
    " (SELECT 1 FROM aggregate_reports a WHERE a.id = r.report)",
    // A report's totals that are not its records' sums.
    "SELECT count(*) FROM aggregate_reports a LEFT JOIN report_totals t ON t.report = a.id"
    " LEFT JOIN (SELECT report, sum(count) m, sum(count * dmarc_aligned) p FROM aggregate_records"
    " GROUP BY report) r ON r.report = a.id"
    " WHERE t.report IS NULL OR t.messages <> coalesce(r.m, 0) OR t.dmarc_pass <> coalesce(r.p, 0)",
    // daily_messages, daily_results, daily_sources, source_totals, ip_totals: exactly the sums.
    "SELECT count(*) FROM (SELECT day, domain, header_from, disposition, count(*) n, sum(count) m,"
    " sum(count * dmarc_aligned) p FROM aggregate_records GROUP BY 1, 2, 3, 4) r"
    " FULL JOIN daily_messages d USING (day, domain, header_from, disposition)"
    " WHERE r.n IS DISTINCT FROM d.records OR r.m IS DISTINCT FROM d.messages"
    " OR r.p IS DISTINCT FROM d.dmarc_pass",
    "SELECT count(*) FROM (SELECT day, domain, header_from, disposition, dmarc_aligned,"
    " spf_aligned, dkim_aligned, count(*) n, sum(count) m FROM aggregate_records"
    " GROUP BY 1, 2, 3, 4, 5, 6, 7) r FULL JOIN daily_results d USING (day, domain, header_from,"
    " disposition, dmarc_aligned, spf_aligned, dkim_aligned)"
    " WHERE r.n IS DISTINCT FROM d.records OR r.m IS DISTINCT FROM d.messages",
    "SELECT count(*) FROM (SELECT r.day, r.domain, s.id AS ip, count(*) n, sum(r.count) m,"
    " sum(r.count * r.dmarc_aligned) p, sum(r.count * r.spf_aligned) sa,"
    " sum(r.count * r.dkim_aligned) da FROM aggregate_records r JOIN source_ips s"
    " ON s.ip = r.source_ip GROUP BY 1, 2, 3) r FULL JOIN daily_sources d USING (day, domain, ip)"
    " WHERE r.n IS DISTINCT FROM d.records OR r.m IS DISTINCT FROM d.messages"
    " OR r.p IS DISTINCT FROM d.dmarc_pass OR r.sa IS DISTINCT FROM d.spf_aligned"
    " OR r.da IS DISTINCT FROM d.dkim_aligned",
    "SELECT count(*) FROM (SELECT r.domain, s.id AS ip, count(*) n, sum(r.count) m"
    " FROM aggregate_records r JOIN source_ips s ON s.ip = r.source_ip GROUP BY 1, 2) r"
    " FULL JOIN source_totals d USING (domain, ip)"
    " WHERE r.n IS DISTINCT FROM d.records OR r.m IS DISTINCT FROM d.messages",
    "SELECT count(*) FROM (SELECT s.id AS ip, count(*) n, sum(r.count) m, sum(r.count *"
    " r.dkim_aligned) da FROM aggregate_records r JOIN source_ips s ON s.ip = r.source_ip"
    " GROUP BY 1) r FULL JOIN ip_totals d USING (ip)"
    " WHERE r.n IS DISTINCT FROM d.records OR r.m IS DISTINCT FROM d.messages"
    " OR r.da IS DISTINCT FROM d.dkim_aligned",
    // An address twice in source_ips.
    "SELECT count(*) FROM (SELECT ip FROM source_ips GROUP BY ip HAVING count(*) > 1) x",
    // Policies of no SMTP TLS report.
    "SELECT count(*) FROM smtp_tls_policies p WHERE NOT EXISTS"
    " (SELECT 1 FROM smtp_tls_reports r WHERE r.id = p.report)",
};

class PgConcurrency : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = FreshTestDir("dmarc-pgconc");
    fs::create_directories(dir_ / "corpus");
    url_ = SharedPostgresDatabase(::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_FALSE(url_.empty());
    // postgresql://postgres@127.0.0.1:PORT/DB
    const std::size_t colon = url_.rfind(':');
    const std::size_t slash = url_.find('/', colon);
    port_ = std::stoi(url_.substr(colon + 1, slash - colon - 1));
    db_ = url_.substr(slash + 1);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Psql(const std::string& sql) const { return PostgresServer::PsqlOn(port_, sql, db_); }

  // Every promise of kBrokenRows holds.
  void ExpectConsistent(const std::string& when) const {
    for (const char* sql : kBrokenRows) EXPECT_EQ(Psql(sql), "0") << when << ": " << sql;
  }

  // The real-world samples (aggregate, failure and SMTP TLS reports, and inputs that are
  // rejected), plus `n` generated aggregate reports over two years of months (so that writers
  // race to make the same partitions), three policy domains and shared source addresses (so that
  // they race to number the same addresses and to add to the same rollup rows); two are dated
  // far outside the partitioned years. Returns every input's path, sorted.
  std::vector<std::string> MakeCorpus(int n, int records) {
    std::vector<std::string> paths;
    const fs::path samples = TestData("real/parsedmarc-samples");
    for (const auto& e : fs::recursive_directory_iterator(samples)) {
      if (!e.is_regular_file()) continue;
      // Damaged or changed copies of other samples: the same report (same identity) with other
      // contents, so which copy is stored depends on which importer comes first. The totals of
      // concurrent importers are only comparable without them (REFERENCE.json: same report_id).
      const std::string file = e.path().filename().string();
      if (file == "invalid_xml.xml" || file == "invalid_utf_8.xml") continue;
      const std::string name = fs::relative(e.path(), samples).string();
      std::string flat = name;
      std::replace(flat.begin(), flat.end(), '/', '_');
      fs::copy_file(e.path(), dir_ / "corpus" / ("s_" + flat));
      paths.push_back((dir_ / "corpus" / ("s_" + flat)).string());
    }
    const char* domains[] = {"example.com", "example.org", "example.net"};
    const char* dispositions[] = {"none", "quarantine", "reject"};
    for (int i = 0; i < n; ++i) {
      std::int64_t begin = 1672531200 + static_cast<std::int64_t>(i % 24) * 2629800 + i * 600;
      if (i == 5) begin = 400 * 86400;     // 1971
      if (i == 6) begin = 3000000000 + i;  // 2065
      const std::string domain = domains[i % 3];
      std::string xml = "<?xml version=\"1.0\"?><feedback><report_metadata><org_name>org" +
                        std::to_string(i % 5) +
                        ".example</org_name><email>r@gen.example</email><report_id>gen-" +
                        std::to_string(i) + "</report_id><date_range><begin>" +
                        std::to_string(begin) + "</begin><end>" + std::to_string(begin + 86399) +
                        "</end></date_range></report_metadata><policy_published><domain>" + domain +
                        "</domain><p>none</p></policy_published>";
      for (int k = 0; k < records; ++k) {
        const int count = 1 + (i * 7 + k) % 13;
        const bool dkim = (i + k) % 3 != 0, spf = (i + 2 * k) % 4 != 0;
        xml += "<record><row><source_ip>192.0.2." + std::to_string((i * 3 + k) % 200) +
               "</source_ip><count>" + std::to_string(count) +
               "</count><policy_evaluated><disposition>" + dispositions[(i + k) % 3] +
               "</disposition><dkim>" + (dkim ? "pass" : "fail") + "</dkim><spf>" +
               (spf ? "pass" : "fail") +
               "</spf></policy_evaluated></row><identifiers><header_from>" +
               (k % 4 == 0 ? "news." : "") + domain +
               "</header_from></identifiers><auth_results><dkim><domain>" + domain +
               "</domain><selector>s" + std::to_string(k % 3) + "</selector><result>" +
               (dkim ? "pass" : "fail") + "</result></dkim><spf><domain>" + domain +
               "</domain><result>" + (spf ? "pass" : "fail") +
               "</result></spf></auth_results>"
               "</record>";
      }
      xml += "</feedback>";
      const fs::path p = dir_ / "corpus" / ("g" + std::to_string(i) + ".xml");
      std::ofstream(p) << xml;
      paths.push_back(p.string());
    }
    std::sort(paths.begin(), paths.end());
    return paths;
  }

  // One SQLite import of all the inputs: the totals every PostgreSQL store must end with, and
  // that import's exit status.
  nlohmann::json Reference(const std::vector<std::string>& paths, int* status) {
    const std::string db = (dir_ / "reference.db").string();
    std::vector<std::string> args = {"import", "-q", "--db", db};
    args.insert(args.end(), paths.begin(), paths.end());
    *status = RunToEnd(args, dir_ / "reference.log");
    EXPECT_LE(*status, 1) << ReadFile(dir_ / "reference.log");
    return StoreStats(db, dir_);
  }

  // The totals psql finds in the PostgreSQL store, in `stats --json`'s names: these do not
  // depend on the store's own reading code.
  void ExpectTotals(const nlohmann::json& ref) const {
    EXPECT_EQ(Psql("SELECT count(*) FROM aggregate_reports"), ref["reports"].dump());
    EXPECT_EQ(Psql("SELECT count(*) FROM aggregate_records"), ref["records"].dump());
    EXPECT_EQ(Psql("SELECT coalesce(sum(count), 0) FROM aggregate_records"),
              ref["messages"].dump());
    EXPECT_EQ(Psql("SELECT coalesce(sum(count * dmarc_aligned), 0) FROM aggregate_records"),
              ref["dmarc_pass"].dump());
    EXPECT_EQ(Psql("SELECT count(DISTINCT source_ip) FROM aggregate_records"),
              ref["source_ips"].dump());
    EXPECT_EQ(Psql("SELECT count(*) FROM failure_reports"), ref["failure_reports"].dump());
    EXPECT_EQ(Psql("SELECT count(*) FROM smtp_tls_reports"), ref["smtp_tls_reports"].dump());
    EXPECT_EQ(Psql("SELECT count(*) FROM rejected_inputs"), ref["rejected_inputs"].dump());
    for (const auto& [disposition, messages] : ref["by_disposition"].items()) {
      EXPECT_EQ(Psql("SELECT sum(messages) FROM daily_messages WHERE disposition = '" +
                     disposition + "'"),
                messages.dump())
          << disposition;
    }
  }

  fs::path dir_;
  std::string url_;
  int port_ = 0;
  std::string db_;
};

TEST_F(PgConcurrency, FourImportersOverOverlappingInputsGiveTheTotalsOfOneImport) {
  const std::vector<std::string> all = MakeCorpus(240, 25);
  int ref_status = 0;
  const nlohmann::json ref = Reference(all, &ref_status);
  ASSERT_EQ(ref["reports"].get<int>(), 240 + 20) << ref.dump();  // 20 sample reports

  // Importer k gets every input but a quarter of the generated ones (each generated report is
  // in three of the four), in an order of its own (so they collide in every order), in small
  // batches (many transactions interleave).
  std::vector<pid_t> pids;
  std::mt19937 rng(17);
  for (int k = 0; k < 4; ++k) {
    std::vector<std::string> mine;
    for (std::size_t i = 0; i < all.size(); ++i) {
      if (all[i].find("/g") != std::string::npos && (i % 4) == static_cast<std::size_t>(k)) {
        continue;
      }
      mine.push_back(all[i]);
    }
    std::shuffle(mine.begin(), mine.end(), rng);
    std::vector<std::string> args = {"import", "-q", "--batch-records", "300", "--db", url_};
    args.insert(args.end(), mine.begin(), mine.end());
    pids.push_back(Spawn(args, dir_ / ("import" + std::to_string(k) + ".log")));
  }
  for (int k = 0; k < 4; ++k) {
    const std::string log = ReadFile(dir_ / ("import" + std::to_string(k) + ".log"));
    EXPECT_EQ(Wait(pids[k]), ref_status) << log;
  }
  for (int k = 0; k < 4; ++k) {
    const std::string log = ReadFile(dir_ / ("import" + std::to_string(k) + ".log"));
    EXPECT_EQ(log.find("deadlock"), std::string::npos) << log;
  }
  ExpectConsistent("after four importers");
  ExpectTotals(ref);
  // The two far-away reports went to the partitions for before 2010 and from 2060.
  EXPECT_EQ(Psql("SELECT count(*) FROM aggregate_records_before_2010 r JOIN aggregate_reports a"
                 " ON a.id = r.report WHERE a.report_id = 'gen-5'"),
            "25");
  EXPECT_EQ(Psql("SELECT count(*) FROM aggregate_records_from_2060 r JOIN aggregate_reports a"
                 " ON a.id = r.report WHERE a.report_id = 'gen-6'"),
            "25");
  // Monthly partitions only for the 24 generated months and the samples' own months.
  EXPECT_LE(std::stoi(Psql("SELECT count(*) FROM pg_inherits"
                           " WHERE inhparent = 'aggregate_records'::regclass")),
            24 + 12 + 2);
  EXPECT_EQ(StoreStats(url_, dir_), ref);
}

TEST_F(PgConcurrency, KillNineOfAWriterAtAnyMomentThenRerunLosesAndDuplicatesNothing) {
  const std::vector<std::string> all = MakeCorpus(300, 30);
  int ref_status = 0;
  const nlohmann::json ref = Reference(all, &ref_status);
  std::vector<std::string> args = {"import",          "-q",  "-j",   "1",
                                   "--batch-records", "150", "--db", url_};
  args.insert(args.end(), all.begin(), all.end());
  // How long a whole import takes here, to spread the kills over it (in its own database).
  const std::string probe = SharedPostgresDatabase("pgconc_probe");
  std::vector<std::string> probe_args = args;
  probe_args[7] = probe;
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(RunToEnd(probe_args, dir_ / "probe.log"), ref_status) << ReadFile(dir_ / "probe.log");
  const long full_ms = std::max<long>(50, std::chrono::duration_cast<std::chrono::milliseconds>(
                                              std::chrono::steady_clock::now() - t0)
                                              .count());
  std::mt19937 rng(4242);
  int killed = 0, partial = 0;
  for (int round = 0; round < 8; ++round) {
    const pid_t pid = Spawn(args, dir_ / "killed.log");
    // Up to the time a whole import takes: each round stores some more before its kill.
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<long>(1, full_ms)(rng)));
    kill(pid, SIGKILL);
    if (Wait(pid) == -SIGKILL) ++killed;  // not when it had ended already
    // Whatever was committed is whole at every moment: the killed batch left nothing.
    ExpectConsistent("after kill " + std::to_string(round));
    const int reports = std::stoi(Psql("SELECT count(*) FROM aggregate_reports"));
    EXPECT_LE(reports, ref["reports"].get<int>());
    if (reports > 0 && reports < ref["reports"].get<int>()) ++partial;
  }
  EXPECT_GT(killed, 0);
  EXPECT_GT(partial, 0);  // some kill came in the middle of the import
  ASSERT_EQ(RunToEnd(args, dir_ / "final.log"), ref_status) << ReadFile(dir_ / "final.log");
  ExpectConsistent("after the re-run");
  ExpectTotals(ref);
  EXPECT_EQ(StoreStats(url_, dir_), ref);
}

}  // namespace
