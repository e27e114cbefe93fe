// Source enrichment through the program, against dnsmasq on loopback (started here): parse and
// import fill the source fields, import caches answers in the store so a second import sends no
// query, `enrich --db` fills records imported offline, and a dead server costs only the timeout.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "testing/dns_servers.h"
#include "testing/process.h"
#include "testing/run_program.h"
#include "testing/test_util.h"

namespace {

namespace fs = std::filesystem;
using dmarc::testing::DelayProxy;
using dmarc::testing::Dnsmasq;
using dmarc::testing::FreshTestDir;
using dmarc::testing::Outcome;
using dmarc::testing::RunDmarcReport;
using dmarc::testing::SilentServer;

const std::vector<std::string> kHosts = {
    "8.8.8.8 o1.ptr1234.sendgrid.net",
    "192.0.2.10 mail-a.example.com",
    "2001:db8::25 mx.example.org",
};

// A report whose records come from these addresses.
std::string Report(const std::string& id, const std::vector<std::string>& ips) {
  std::string xml =
      "<?xml version=\"1.0\"?><feedback><report_metadata><org_name>enrich.example</org_name>"
      "<email>r@enrich.example</email><report_id>" +
      id +
      "</report_id><date_range><begin>1700000000</begin><end>1700086399</end></date_range>"
      "</report_metadata><policy_published><domain>example.com</domain><p>none</p>"
      "</policy_published>";
  for (const auto& ip : ips) {
    xml += "<record><row><source_ip>" + ip +
           "</source_ip><count>2</count><policy_evaluated><disposition>none</disposition>"
           "<dkim>pass</dkim><spf>pass</spf></policy_evaluated></row><identifiers>"
           "<header_from>example.com</header_from></identifiers><auth_results><spf><domain>"
           "example.com</domain><result>pass</result></spf></auth_results></record>";
  }
  return xml + "</feedback>";
}

class EnrichCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = FreshTestDir("dmarc-enrich",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    const fs::path p = dir_ / name;
    std::ofstream(p) << text;
    return p.string();
  }

  Outcome Exec(const std::vector<std::string>& args) { return RunDmarcReport(args, dir_); }

  // source objects of every record exported from a store, by address
  std::map<std::string, nlohmann::json> ExportedSources(const std::string& db) {
    Outcome r = Exec({"export", "--db", db});
    EXPECT_EQ(r.status, 0) << r.err;
    std::map<std::string, nlohmann::json> out;
    const auto exported = nlohmann::json::parse(r.out);
    for (const auto& rep : exported["aggregate_reports"]) {
      for (const auto& rec : rep["records"]) {
        out[rec["source"]["ip_address"].get<std::string>()] = rec["source"];
      }
    }
    return out;
  }

  fs::path dir_;
};

TEST_F(EnrichCli, ParseFillsSourceFieldsFromDnsGeolocationAndServices) {
  Dnsmasq dns(kHosts);
  ASSERT_TRUE(dns.error().empty()) << dns.error();
  const std::string in =
      Write("r.xml", Report("r1", {"8.8.8.8", "192.0.2.10", "2001:db8::25", "192.0.2.99"}));
  Outcome r = Exec({"parse", "--nameserver", dns.address(), in});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  const auto& recs = j["aggregate_reports"][0]["records"];
  ASSERT_EQ(recs.size(), 4u);
  const auto& google = recs[0]["source"];
  EXPECT_EQ(google["reverse_dns"], "o1.ptr1234.sendgrid.net");
  EXPECT_EQ(google["base_domain"], "sendgrid.net");
  EXPECT_EQ(google["name"], "SendGrid");
  EXPECT_EQ(google["type"], "Email Delivery");
  EXPECT_EQ(google["country"], "US");  // the bundled country database
  EXPECT_EQ(recs[1]["source"]["reverse_dns"], "mail-a.example.com");
  EXPECT_EQ(recs[1]["source"]["base_domain"], "example.com");
  EXPECT_EQ(recs[2]["source"]["reverse_dns"], "mx.example.org");
  EXPECT_TRUE(recs[3]["source"]["reverse_dns"].is_null());  // NXDOMAIN

  // CSV carries the same values.
  r = Exec({"parse", "-f", "csv", "--nameserver", dns.address(), in});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("o1.ptr1234.sendgrid.net"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("SendGrid"), std::string::npos);
}

TEST_F(EnrichCli, FailureReportSourcesAreEnrichedToo) {
  // The real sample reports a message from 10.10.10.10; the test server names that address.
  Dnsmasq dns({"10.10.10.10 relay.mailer.example.net"});
  ASSERT_TRUE(dns.error().empty()) << dns.error();
  const std::string in = dmarc::testing::TestData(
      "real/parsedmarc-samples/failure/DMARC Failure Report for domain.de "
      "(mail-from=sharepoint@domain.de, ip=10.10.10.10).eml");
  Outcome r = Exec({"parse", "--nameserver", dns.address(), in});
  ASSERT_EQ(r.status, 0) << r.err;
  auto src = nlohmann::json::parse(r.out)["failure_reports"][0]["source"];
  EXPECT_EQ(src["ip_address"], "10.10.10.10");
  EXPECT_EQ(src["reverse_dns"], "relay.mailer.example.net");
  EXPECT_EQ(src["base_domain"], "example.net");

  // import enriches before storing: export shows the same source.
  const std::string db = (dir_ / "s.db").string();
  r = Exec({"import", "--db", db, "--nameserver", dns.address(), in});
  ASSERT_EQ(r.status, 0) << r.err;
  r = Exec({"export", "--db", db, "--type", "failure"});
  ASSERT_EQ(r.status, 0) << r.err;
  src = nlohmann::json::parse(r.out)["failure_reports"][0]["source"];
  EXPECT_EQ(src["reverse_dns"], "relay.mailer.example.net");
}

TEST_F(EnrichCli, ParseOfflineAndNoEnrich) {
  SilentServer silent;  // would hang a run that asked it anything without a timeout
  const std::string in = Write("r.xml", Report("r1", {"8.8.8.8"}));
  Outcome r = Exec({"parse", "--offline", "--nameserver", silent.address(), in});
  ASSERT_EQ(r.status, 0) << r.err;
  auto src = nlohmann::json::parse(r.out)["aggregate_reports"][0]["records"][0]["source"];
  EXPECT_EQ(src["country"], "US");
  EXPECT_TRUE(src["reverse_dns"].is_null());
  r = Exec({"parse", "--no-enrich", in});
  ASSERT_EQ(r.status, 0) << r.err;
  src = nlohmann::json::parse(r.out)["aggregate_reports"][0]["records"][0]["source"];
  EXPECT_TRUE(src["country"].is_null());
}

TEST_F(EnrichCli, DeadNameserverCostsOnlyTheTimeout) {
  SilentServer silent;
  std::vector<std::string> ips;
  for (int i = 1; i <= 100; ++i) ips.push_back("198.51.100." + std::to_string(i));
  const std::string in = Write("r.xml", Report("r1", ips));
  const auto start = std::chrono::steady_clock::now();
  Outcome r = Exec({"parse", "--nameserver", silent.address(), "--dns-timeout-ms", "200",
                    "--dns-retries", "1", in});
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_LT(took, 3.0);
  EXPECT_EQ(nlohmann::json::parse(r.out)["aggregate_reports"][0]["records"].size(), 100u);
}

TEST_F(EnrichCli, ImportCachesAnswersInTheStore) {
  Dnsmasq dns(kHosts);
  ASSERT_TRUE(dns.error().empty()) << dns.error();
  DelayProxy proxy(dns.port(), std::chrono::milliseconds(0));
  const std::string db = (dir_ / "s.db").string();
  const std::vector<std::string> ips = {"8.8.8.8", "192.0.2.10", "192.0.2.99"};
  const std::string a = Write("a.xml", Report("a", ips));
  const std::string b = Write("b.xml", Report("b", ips));
  Outcome r = Exec({"import", "--db", db, "--nameserver", proxy.address(), a});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(proxy.queries(), 3u);
  EXPECT_NE(r.err.find("0 from the DNS cache, 3 looked up"), std::string::npos) << r.err;
  // Another report with the same addresses, in another process: all from the store.
  r = Exec({"import", "--db", db, "--nameserver", proxy.address(), b});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(proxy.queries(), 3u);
  EXPECT_NE(r.err.find("3 from the DNS cache, 0 looked up"), std::string::npos) << r.err;
  auto sources = ExportedSources(db);
  EXPECT_EQ(sources["8.8.8.8"]["name"], "SendGrid");
  EXPECT_EQ(sources["192.0.2.10"]["reverse_dns"], "mail-a.example.com");
  EXPECT_TRUE(sources["192.0.2.99"]["reverse_dns"].is_null());
  // A duplicate report's addresses are not looked up at all, not even in the cache.
  r = Exec({"import", "--db", db, "--nameserver", proxy.address(), a});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("1 duplicate(s)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("0 from the DNS cache, 0 looked up"), std::string::npos) << r.err;
  EXPECT_EQ(proxy.queries(), 3u);
}

TEST_F(EnrichCli, EnrichFillsRecordsImportedOffline) {
  Dnsmasq dns(kHosts);
  ASSERT_TRUE(dns.error().empty()) << dns.error();
  const std::string db = (dir_ / "s.db").string();
  const std::string a = Write("a.xml", Report("a", {"8.8.8.8", "192.0.2.10"}));
  Outcome r = Exec({"import", "-q", "--offline", "--db", db, a});
  ASSERT_EQ(r.status, 0) << r.err;
  auto sources = ExportedSources(db);
  EXPECT_EQ(sources["8.8.8.8"]["country"], "US");
  EXPECT_TRUE(sources["8.8.8.8"]["reverse_dns"].is_null());

  r = Exec({"enrich", "--db", db, "--nameserver", dns.address()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("2 address(es)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("2 record(s) updated"), std::string::npos) << r.err;
  sources = ExportedSources(db);
  EXPECT_EQ(sources["8.8.8.8"]["reverse_dns"], "o1.ptr1234.sendgrid.net");
  EXPECT_EQ(sources["8.8.8.8"]["name"], "SendGrid");
  EXPECT_EQ(sources["192.0.2.10"]["base_domain"], "example.com");

  // Nothing is missing or stale any more.
  r = Exec({"enrich", "--db", db, "--nameserver", dns.address()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("0 address(es)"), std::string::npos) << r.err;
}

// Lookups that take a while are a stage of their own: "resolving N addresses" with the count
// answered and the rate (info lines off a terminal, shown with -v), and the total at the end.
TEST_F(EnrichCli, ParseShowsTheResolvingStageOfSlowLookups) {
  Dnsmasq dns(kHosts);
  ASSERT_TRUE(dns.error().empty()) << dns.error();
  DelayProxy slow(dns.port(), std::chrono::milliseconds(2500));
  const std::string in = Write("r.xml", Report("r1", {"8.8.8.8", "192.0.2.10", "192.0.2.99"}));
  Outcome r = Exec({"parse", "-v", "--nameserver", slow.address(), "--dns-timeout-ms", "5000", in});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("resolving 3 address(es): 0 answered"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("reverse DNS: 3 address(es) answered"), std::string::npos) << r.err;
  // Quick lookups show no stage.
  r = Exec({"parse", "-v", "--nameserver", dns.address(), in});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err.find("resolving"), std::string::npos) << r.err;
}

TEST_F(EnrichCli, UnusableOptionsAreUsageErrors) {
  const std::string in = Write("r.xml", Report("r1", {"8.8.8.8"}));
  EXPECT_EQ(Exec({"parse", "--nameserver", "dns.example", in}).status, 2);
  Outcome r = Exec({"parse", "--geoip-db", (dir_ / "none.mmdb").string(), in});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("none.mmdb"), std::string::npos) << r.err;
  EXPECT_EQ(Exec({"parse", "--dns-cache-ttl", "forever", in}).status, 2);
  const std::string bad = Write("bad.tsv", "example.com\tonly-two-fields\n");
  r = Exec({"parse", "--services-file", bad, in});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("bad.tsv:1:"), std::string::npos) << r.err;
}

TEST_F(EnrichCli, UserServicesFileNamesSenders) {
  Dnsmasq dns(kHosts);
  ASSERT_TRUE(dns.error().empty()) << dns.error();
  const std::string in = Write("r.xml", Report("r1", {"192.0.2.10"}));
  const std::string svc = Write("mine.tsv", "# ours\nexample.com\tOur Relay\tEmail Provider\n");
  Outcome r = Exec({"parse", "--nameserver", dns.address(), "--services-file", svc,
                    "--dns-cache-ttl", "1h", in});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto src = nlohmann::json::parse(r.out)["aggregate_reports"][0]["records"][0]["source"];
  EXPECT_EQ(src["name"], "Our Relay");
  EXPECT_EQ(src["type"], "Email Provider");
}

}  // namespace

TEST(EnrichFetch, FetchEnrichesStoredRecordsFromTheEnrichTable) {
  const fs::path dir = FreshTestDir(
      "dmarc-enrich-fetch", ::testing::UnitTest::GetInstance()->current_test_info()->name());
  Dnsmasq dns(kHosts);
  ASSERT_TRUE(dns.error().empty()) << dns.error();
  fs::create_directories(dir / "drop");
  std::ofstream(dir / "drop" / "r.xml") << Report("f1", {"8.8.8.8", "192.0.2.10", "192.0.2.99"});
  const std::string db = (dir / "s.db").string();
  const fs::path config = dir / "fetch.toml";
  std::ofstream(config) << "[store]\nurl = \"sqlite:" << db << "\"\n[directory]\npath = \""
                        << (dir / "drop").string() << "\"\n[enrich]\nnameservers = [\""
                        << dns.address() << "\"]\ndns_timeout_ms = 500\ndns_cache_ttl = \"1d\"\n";
  Outcome r = RunDmarcReport({"fetch", "--config", config.string()}, dir);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir / "drop" / "processed" / "r.xml")) << r.err;
  r = RunDmarcReport({"export", "--db", db}, dir);
  ASSERT_EQ(r.status, 0) << r.err;
  std::map<std::string, nlohmann::json> sources;
  const auto first = nlohmann::json::parse(r.out);
  for (const auto& rep : first["aggregate_reports"]) {
    for (const auto& rec : rep["records"])
      sources[rec["source"]["ip_address"].get<std::string>()] = rec["source"];
  }
  ASSERT_EQ(sources.size(), 3u) << r.out;
  EXPECT_EQ(sources["8.8.8.8"]["reverse_dns"], "o1.ptr1234.sendgrid.net");
  EXPECT_EQ(sources["8.8.8.8"]["name"], "SendGrid");
  EXPECT_EQ(sources["192.0.2.10"]["reverse_dns"], "mail-a.example.com");
  EXPECT_TRUE(sources["192.0.2.99"]["reverse_dns"].is_null());

  // enabled = false (here from the environment) stores the address alone.
  std::ofstream(dir / "drop" / "r2.xml") << Report("f2", {"192.0.2.10"});
  ::setenv("DMARC_REPORT_ENRICH_ENABLED", "false", 1);
  r = RunDmarcReport({"fetch", "--config", config.string()}, dir);
  ::unsetenv("DMARC_REPORT_ENRICH_ENABLED");
  ASSERT_EQ(r.status, 0) << r.err;
  r = RunDmarcReport({"export", "--db", db}, dir);
  ASSERT_EQ(r.status, 0) << r.err;
  int bare = 0;
  const auto second = nlohmann::json::parse(r.out);
  for (const auto& rep : second["aggregate_reports"]) {
    if (rep["report_metadata"]["report_id"] != "f2") continue;
    for (const auto& rec : rep["records"]) bare += rec["source"]["reverse_dns"].is_null();
  }
  EXPECT_EQ(bare, 1) << r.out;
  fs::remove_all(dir);
}

namespace {

// A drop folder with one report of these addresses, and a configuration that watches it with
// these nameservers.
fs::path WatchedDrop(const fs::path& dir, const std::string& nameserver,
                     const std::vector<std::string>& ips) {
  fs::create_directories(dir / "drop");
  std::ofstream(dir / "drop" / "r.xml") << Report("w1", ips);
  const fs::path config = dir / "watch.toml";
  std::ofstream(config) << "[store]\nurl = \"sqlite:" << (dir / "s.db").string()
                        << "\"\n[directory]\npath = \"" << (dir / "drop").string()
                        << "\"\n[fetch]\nwatch_interval = 1\n[enrich]\nnameservers = [\""
                        << nameserver << "\"]\ndns_timeout_ms = 8000\ndns_retries = 0\n";
  return config;
}

// The sources of the stored records by address (empty while the store has none).
std::map<std::string, nlohmann::json> StoredSources(const fs::path& dir) {
  std::map<std::string, nlohmann::json> out;
  if (!fs::exists(dir / "s.db")) return out;
  Outcome r = RunDmarcReport({"export", "--db", (dir / "s.db").string()}, dir);
  if (r.status != 0) {
    ADD_FAILURE() << r.err;
    return out;
  }
  const auto exported = nlohmann::json::parse(r.out);
  for (const auto& rep : exported["aggregate_reports"]) {
    for (const auto& rec : rep["records"])
      out[rec["source"]["ip_address"].get<std::string>()] = rec["source"];
  }
  return out;
}

using Clock = std::chrono::steady_clock;

// A failure report (the LinkedIn sample) about a message from `ip`, dropped beside the report.
void DropFailureReport(const fs::path& dir, const std::string& ip) {
  std::string mail = dmarc::testing::ReadFile(
      dmarc::testing::TestData("real/parsedmarc-samples/failure/dmarc_ruf_report_linkedin.eml"));
  const std::string from = "Source-IP: 10.10.10.10";
  const std::size_t at = mail.find(from);
  ASSERT_NE(at, std::string::npos);
  mail.replace(at, from.size(), "Source-IP: " + ip);
  std::ofstream(dir / "drop" / "failure.eml") << mail;
}

// The source of the stored failure reports (null while there is none).
nlohmann::json StoredFailureSource(const fs::path& dir) {
  Outcome r = RunDmarcReport({"export", "--type", "failure", "--db", (dir / "s.db").string()}, dir);
  if (r.status != 0) return nullptr;
  const auto exported = nlohmann::json::parse(r.out);
  const auto& failures = exported["failure_reports"];
  return failures.empty() ? nlohmann::json(nullptr) : failures[0]["source"];
}

// Starts `fetch --watch` on the configuration and waits (up to 20 s) until both records of the
// report are stored; returns the process and their sources.
pid_t WatchUntilStored(const fs::path& config, const fs::path& log,
                       std::map<std::string, nlohmann::json>& sources) {
  const fs::path dir = config.parent_path();
  const auto start = Clock::now();
  const pid_t pid = dmarc::testing::Spawn({"fetch", "--watch", "-c", config.string()}, log);
  sources = StoredSources(dir);
  while (sources.size() < 2 && Clock::now() - start < std::chrono::seconds(20)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    sources = StoredSources(dir);
  }
  return pid;
}

}  // namespace

// Store first, enrich after: a watch stores a report at once although its nameserver takes 5 s to
// answer, and the names come into the stored records afterwards.
TEST(EnrichFetch, AWatchStoresFirstAndNamesTheSourcesInTheBackground) {
  const fs::path dir = FreshTestDir(
      "dmarc-enrich-bg", ::testing::UnitTest::GetInstance()->current_test_info()->name());
  Dnsmasq dns(kHosts);
  ASSERT_TRUE(dns.error().empty()) << dns.error();
  DelayProxy slow(dns.port(), std::chrono::milliseconds(5000));
  const fs::path config = WatchedDrop(dir, slow.address(), {"8.8.8.8", "192.0.2.10"});
  DropFailureReport(dir, "192.0.2.10");
  const fs::path log = dir / "watch.log";
  const auto start = Clock::now();
  std::map<std::string, nlohmann::json> sources;
  const pid_t pid = WatchUntilStored(config, log, sources);
  ASSERT_EQ(sources.size(), 2u) << dmarc::testing::ReadFile(log.string());
  // Stored before the first DNS answer could have come (5 s), with what local databases know.
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(4));
  EXPECT_TRUE(sources["8.8.8.8"]["reverse_dns"].is_null());
  nlohmann::json failure_source = StoredFailureSource(dir);
  ASSERT_TRUE(failure_source.is_object()) << dmarc::testing::ReadFile(log.string());
  EXPECT_TRUE(failure_source["reverse_dns"].is_null());
  EXPECT_EQ(sources["8.8.8.8"]["country"], "US");
  while (sources["8.8.8.8"]["reverse_dns"].is_null() &&
         Clock::now() - start < std::chrono::seconds(20)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    sources = StoredSources(dir);
  }
  EXPECT_EQ(sources["8.8.8.8"]["reverse_dns"], "o1.ptr1234.sendgrid.net");
  EXPECT_EQ(sources["8.8.8.8"]["name"], "SendGrid");
  EXPECT_EQ(sources["192.0.2.10"]["reverse_dns"], "mail-a.example.com");
  // The failure report's source, from the same answers.
  while (StoredFailureSource(dir)["reverse_dns"].is_null() &&
         Clock::now() - start < std::chrono::seconds(20)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  failure_source = StoredFailureSource(dir);
  EXPECT_EQ(failure_source["ip_address"], "192.0.2.10");
  EXPECT_EQ(failure_source["reverse_dns"], "mail-a.example.com");
  ::kill(pid, SIGTERM);
  EXPECT_EQ(dmarc::testing::Wait(pid), 0);
  EXPECT_NE(dmarc::testing::ReadFile(log.string()).find("enrichment: 2 of 2 address(es) resolved"),
            std::string::npos)
      << dmarc::testing::ReadFile(log.string());
  fs::remove_all(dir);
}

// With a nameserver that never answers, the report is stored at once, the wait is said with
// the addresses left, and a stop is not held up by the lookups.
TEST(EnrichFetch, AWatchWithASilentNameserverStoresAtOnceAndStopsAtOnce) {
  const fs::path dir = FreshTestDir(
      "dmarc-enrich-bg", ::testing::UnitTest::GetInstance()->current_test_info()->name());
  SilentServer silent;
  const fs::path config = WatchedDrop(dir, silent.address(), {"8.8.8.8", "192.0.2.10"});
  const fs::path log = dir / "watch.log";
  const auto start = Clock::now();
  std::map<std::string, nlohmann::json> sources;
  const pid_t pid = WatchUntilStored(config, log, sources);
  ASSERT_EQ(sources.size(), 2u) << dmarc::testing::ReadFile(log.string());
  // Inline lookups would have waited for the 8 s timeout first.
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(4));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // lookups in flight
  const auto stop = Clock::now();
  ::kill(pid, SIGTERM);
  EXPECT_EQ(dmarc::testing::Wait(pid), 0);
  EXPECT_LT(Clock::now() - stop, std::chrono::seconds(2)) << dmarc::testing::ReadFile(log.string());
  fs::remove_all(dir);
}
