// Enrichment against real servers on loopback: dnsmasq for PTR records, a proxy that delays
// every answer, and a server that never answers; geolocation against the shipped database.
#include "enrich/enrich.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "enrich/geoip.h"
#include "enrich/resolver.h"
#include "enrich/services.h"
#include "testing/dns_servers.h"
#include "testing/mmdb_writer.h"

namespace dmarc::enrich {
namespace {

using dmarc::testing::DelayProxy;
using dmarc::testing::Dnsmasq;
using dmarc::testing::SilentServer;
using Clock = std::chrono::steady_clock;

constexpr std::int64_t kNow = 1'700'000'000;

const std::vector<std::string> kHosts = {
    "192.0.2.1 mail-a.example.com",
    "192.0.2.2 o1.ptr1234.sendgrid.net",
    "192.0.2.3 MAIL-SOR-F41.GOOGLE.COM",
    "2001:db8::1 v6host.example.org",
};

// The store's part, in memory: what Get and Put were asked.
class MemoryCache : public DnsCache {
 public:
  Result<std::vector<CachedDns>> Get(const std::vector<std::string>& ips,
                                     std::int64_t now) override {
    std::vector<CachedDns> out;
    for (const auto& ip : ips) {
      if (auto it = entries.find(ip); it != entries.end() && it->second.expires_at > now)
        out.push_back(it->second);
    }
    return out;
  }
  Result<bool> Put(const std::vector<CachedDns>& e) override {
    for (const auto& c : e) entries[c.ip] = c;
    puts += e.size();
    return true;
  }
  std::map<std::string, CachedDns> entries;
  std::size_t puts = 0;
};

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string ShippedDb() {
  auto db = FindDefaultGeoIpDatabase();
  return db ? *db : std::string();
}

TEST(Nameserver, Normalized) {
  EXPECT_EQ(*NormalizeNameserver("127.0.0.1"), "127.0.0.1:53");
  EXPECT_EQ(*NormalizeNameserver("127.0.0.1:5353"), "127.0.0.1:5353");
  EXPECT_EQ(*NormalizeNameserver("::1"), "[::1]:53");
  EXPECT_EQ(*NormalizeNameserver("[::1]:5353"), "[::1]:5353");
  for (const char* bad : {"", "localhost", "1.2.3.4:0", "1.2.3.4:70000", "[::1", "1.2.3.4:x"}) {
    EXPECT_FALSE(NormalizeNameserver(bad)) << bad;
  }
}

TEST(Resolver, NamesNxdomainAndInvalidAddresses) {
  Dnsmasq dns(kHosts);
  ASSERT_TRUE(dns.error().empty()) << dns.error();
  ResolverOptions o;
  o.nameservers = {dns.address()};
  auto r = ResolvePtr({"192.0.2.1", "192.0.2.9", "2001:db8::1", "not-an-ip", "192.0.2.3"}, o);
  ASSERT_TRUE(r) << r.error();
  ASSERT_EQ(r->results.size(), 5u);
  EXPECT_EQ(r->results[0].status, DnsStatus::kName);
  EXPECT_EQ(r->results[0].name, "mail-a.example.com");
  EXPECT_EQ(r->results[1].status, DnsStatus::kNoName) << r->results[1].detail;
  EXPECT_EQ(r->results[2].status, DnsStatus::kName);
  EXPECT_EQ(r->results[2].name, "v6host.example.org");
  EXPECT_EQ(r->results[3].status, DnsStatus::kFailed);
  EXPECT_EQ(r->results[4].name, "mail-sor-f41.google.com");  // lower-cased
}

TEST(Resolver, SilentServerTimesOutWithinTheBound) {
  SilentServer silent;
  ResolverOptions o;
  o.nameservers = {silent.address()};
  o.timeout_ms = 200;
  o.retries = 1;  // 200 ms, then 400 ms (c-ares doubles the timeout per retry)
  const auto start = Clock::now();
  std::vector<std::string> ips;
  for (int i = 1; i <= 50; ++i) ips.push_back("198.51.100." + std::to_string(i));
  auto r = ResolvePtr(ips, o);
  const double took = SecondsSince(start);
  ASSERT_TRUE(r) << r.error();
  for (const auto& x : r->results) EXPECT_EQ(x.status, DnsStatus::kFailed);
  EXPECT_GE(took, 0.5);  // both tries waited
  EXPECT_LT(took, 3.0);  // all 50 at once, not one after another
}

// A nameserver that never answers is found out by the first failures: the rest of the addresses
// are not asked (one lookup of a hostile report's 100,000 addresses took hours).
TEST(Resolver, GivesUpOnASilentServerAfterTheFirstFailures) {
  SilentServer silent;
  ResolverOptions o;
  o.nameservers = {silent.address()};
  o.timeout_ms = 200;
  o.retries = 1;
  o.concurrency = 8;
  o.give_up_after_failures = 4;
  std::vector<std::string> ips;
  for (int i = 0; i < 2000; ++i) {
    ips.push_back("198.51." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1));
  }
  const auto start = Clock::now();
  auto r = ResolvePtr(ips, o);
  const double took = SecondsSince(start);
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE(r->gave_up);
  EXPECT_NE(r->stopped.find("no answer from DNS"), std::string::npos) << r->stopped;
  EXPECT_LT(took, 2.0);  // 2,000 / 8 × 0.6 s = 150 s without giving up
  std::size_t skipped = 0;
  for (const auto& x : r->results) {
    EXPECT_EQ(x.status, DnsStatus::kFailed);
    if (x.skipped) {
      ++skipped;
      EXPECT_NE(x.detail.find("not asked"), std::string::npos) << x.detail;
    }
  }
  EXPECT_GE(skipped, 1990u);
}

// A slow but answering server is not given up on; the time budget ends the lookup instead, and a
// stop (a signal) ends it within a fraction of a second.
TEST(Resolver, DeadlineAndCancelStopALookup) {
  Dnsmasq dns(kHosts);
  ASSERT_TRUE(dns.error().empty()) << dns.error();
  DelayProxy slow(dns.port(), std::chrono::milliseconds(200));
  ResolverOptions o;
  o.nameservers = {slow.address()};
  o.concurrency = 1;
  o.timeout_ms = 3000;
  o.give_up_after_failures = 4;
  std::vector<std::string> ips;
  for (int i = 0; i < 40; ++i) ips.push_back("192.0.2." + std::to_string(i % 3 + 1));
  o.deadline = Clock::now() + std::chrono::milliseconds(700);
  auto start = Clock::now();
  auto r = ResolvePtr(ips, o);
  ASSERT_TRUE(r) << r.error();
  EXPECT_LT(SecondsSince(start), 1.5);  // 40 × 0.2 s = 8 s without the budget
  EXPECT_FALSE(r->gave_up);
  EXPECT_NE(r->stopped.find("time budget"), std::string::npos) << r->stopped;
  EXPECT_EQ(r->results[0].status, DnsStatus::kName);
  EXPECT_TRUE(r->results.back().skipped);

  std::atomic<bool> stop{false};
  o.deadline.reset();
  o.cancel = &stop;
  std::thread signal([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    stop = true;
  });
  start = Clock::now();
  r = ResolvePtr(ips, o);
  signal.join();
  ASSERT_TRUE(r) << r.error();
  EXPECT_LT(SecondsSince(start), 1.0);
  EXPECT_EQ(r->stopped, "stopping");
  EXPECT_TRUE(r->results.back().skipped);
}

TEST(Resolver, ManyQueriesInFlight) {
  std::vector<std::string> hosts;
  std::vector<std::string> ips;
  for (int i = 0; i < 256; ++i) {
    const std::string ip = "10.1." + std::to_string(i / 100) + "." + std::to_string(i % 100 + 1);
    hosts.push_back(ip + " host" + std::to_string(i) + ".example.net");
    ips.push_back(ip);
  }
  Dnsmasq dns(hosts);
  ASSERT_TRUE(dns.error().empty()) << dns.error();
  DelayProxy slow(dns.port(), std::chrono::milliseconds(200));
  ResolverOptions o;
  o.nameservers = {slow.address()};
  o.concurrency = 64;
  o.timeout_ms = 3000;
  const auto start = Clock::now();
  auto r = ResolvePtr(ips, o);
  const double took = SecondsSince(start);
  ASSERT_TRUE(r) << r.error();
  for (int i = 0; i < 256; ++i) {
    ASSERT_EQ(r->results[i].status, DnsStatus::kName) << ips[i] << ": " << r->results[i].detail;
    EXPECT_EQ(r->results[i].name, "host" + std::to_string(i) + ".example.net");
  }
  // One at a time would take 256 × 0.2 s = 51 s; 64 at a time about 4 × 0.2 s.
  EXPECT_LT(took, 5.0);
  EXPECT_GE(slow.max_in_flight(), 48u);
  EXPECT_LE(slow.max_in_flight(), 64u);
}

TEST(Resolver, ConcurrencyLimitIsKept) {
  Dnsmasq dns(kHosts);
  ASSERT_TRUE(dns.error().empty()) << dns.error();
  DelayProxy slow(dns.port(), std::chrono::milliseconds(100));
  ResolverOptions o;
  o.nameservers = {slow.address()};
  o.concurrency = 1;
  const auto start = Clock::now();
  auto r = ResolvePtr({"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"}, o);
  ASSERT_TRUE(r) << r.error();
  EXPECT_GE(SecondsSince(start), 0.4);
  EXPECT_EQ(slow.max_in_flight(), 1u);
}

TEST(Services, BuiltInListParsesAndCoversCommonSenders) {
  Services s;
  ASSERT_TRUE(s.Add(BuiltInServicesText(), "services.tsv"));
  EXPECT_GE(s.size(), 100u);
  const Service* sg = s.Find(std::string("sendgrid.net"), std::nullopt);
  ASSERT_NE(sg, nullptr);
  EXPECT_EQ(sg->name, "SendGrid");
  const Service* g = s.Find(std::string("google.com"), std::nullopt);
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->name, "Google Workspace");
  EXPECT_EQ(g->type, "Email Provider");
  const Service* by_asn = s.Find(std::string("unknown.example"), 15169);
  ASSERT_NE(by_asn, nullptr);
  EXPECT_EQ(by_asn->name, "Google");
  EXPECT_EQ(s.Find(std::string("unknown.example"), 64512), nullptr);
}

TEST(Services, UserFileAddsAndOverridesAndBadLinesAreNamed) {
  auto s = Services::BuiltIn();
  ASSERT_TRUE(
      s->Add("# mine\nexample.com\tExample Mail\tEmail Provider\r\n"
             "sendgrid.net\tOur SendGrid\tMarketing\nAS64512\tLab\tISP\n",
             "mine.tsv"));
  EXPECT_EQ(s->Find(std::string("example.com"), std::nullopt)->name, "Example Mail");
  EXPECT_EQ(s->Find(std::string("sendgrid.net"), std::nullopt)->type, "Marketing");
  EXPECT_EQ(s->Find(std::nullopt, 64512)->name, "Lab");
  auto bad = s->Add("ok.com\tA\tB\nno-tabs-here\n", "bad.tsv");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("bad.tsv:2:"), std::string::npos) << bad.error();
  EXPECT_FALSE(s->Add("nodot\tA\tB\n", "x.tsv"));
  EXPECT_FALSE(s->Add("a.com\t\tB\n", "x.tsv"));
  EXPECT_FALSE(s->AddFile("/nonexistent/services.tsv"));
}

TEST(GeoIp, ShippedDatabaseKnowsCountries) {
  const std::string db = ShippedDb();
  ASSERT_FALSE(db.empty()) << "the default country database is missing: run "
                              "scripts/install-deps.sh (npm ci in geoip/)";
  auto g = GeoIp::Open({db});
  ASSERT_TRUE(g) << g.error();
  EXPECT_EQ((*g)->Lookup("8.8.8.8").country, "US");          // Google
  EXPECT_EQ((*g)->Lookup("193.0.6.139").country, "NL");      // RIPE NCC
  EXPECT_EQ((*g)->Lookup("2001:67c:2e8::1").country, "NL");  // RIPE NCC, IPv6
  EXPECT_FALSE((*g)->Lookup("127.0.0.1").country);
  EXPECT_FALSE((*g)->Lookup("not an ip").country);
  // 8.8.8.8 written as one number: getaddrinfo takes it, inet_pton (and so the DNS side) not.
  EXPECT_FALSE((*g)->Lookup("134744072").country);
  EXPECT_FALSE((*g)->Lookup("8.8.8.8").asn);  // a country-only database
}

// An ASN database in each of the layouts the reader knows, written for the test.
std::string WriteAsnDb(const std::string& name) {
  using dmarc::testing::MmdbStringMap;
  const std::string db = dmarc::testing::BuildMmdbV4(
      {
          {"192.0.2.0",
           24,
           {{"autonomous_system_number", 64500u},
            {"autonomous_system_organization", std::string("Example Transit")}}},
          {"198.51.100.0",
           24,
           {{"asn", std::string("AS15169")},
            {"as_name", std::string("Google LLC")},
            {"as_domain", std::string("google.com")},
            {"country_code", std::string("de")}}},
          {"203.0.113.0", 24, {{"country", MmdbStringMap{{"iso_code", "FR"}}}}},
          {"8.8.4.0",
           24,
           {{"asn", std::string("AS15169")},
            {"as_name", std::string("Google LLC")},
            {"as_domain", std::string("google.com")},
            {"country_code", std::string("de")}}},
          {"10.0.0.0",
           8,
           {{"autonomous_system_number", 64501u}, {"country", MmdbStringMap{{"iso_code", "NL"}}}}},
      },
      "Test-ASN");
  const auto path =
      std::filesystem::temp_directory_path() / (name + "-" + std::to_string(::getpid()) + ".mmdb");
  std::ofstream(path, std::ios::binary) << db;
  return path.string();
}

TEST(GeoIp, AsnAndCountryLayoutsOfGeoLite2AndIpinfo) {
  const std::string path = WriteAsnDb("dmarc-asn");
  auto g = GeoIp::Open({path});
  ASSERT_TRUE(g) << g.error();
  GeoInfo a = (*g)->Lookup("192.0.2.200");  // GeoLite2-ASN / DB-IP layout
  EXPECT_EQ(a.asn, 64500);
  EXPECT_EQ(a.as_name, "Example Transit");
  EXPECT_FALSE(a.as_domain);
  GeoInfo b = (*g)->Lookup("198.51.100.9");  // IPinfo Lite layout
  EXPECT_EQ(b.asn, 15169);
  EXPECT_EQ(b.as_name, "Google LLC");
  EXPECT_EQ(b.as_domain, "google.com");
  EXPECT_EQ(b.country, "DE");
  EXPECT_EQ((*g)->Lookup("203.0.113.1").country, "FR");  // GeoLite2-Country layout
  EXPECT_FALSE((*g)->Lookup("9.9.9.9").asn);
  EXPECT_FALSE((*g)->Lookup("2001:db8::1").asn);  // IPv6 in an IPv4 database
  std::filesystem::remove(path);
}

TEST(Enricher, CountryFromTheFirstDatabaseAsnFromTheNextServiceByAsn) {
  const std::string asn_db = WriteAsnDb("dmarc-asn2");
  const std::string country_db = ShippedDb();
  ASSERT_FALSE(country_db.empty());
  Options o;
  o.offline = true;
  o.geoip_dbs = {country_db, asn_db};
  auto e = Enricher::Create(o);
  ASSERT_TRUE(e) << e.error();
  EXPECT_EQ((*e)->geoip_files().size(), 2u);
  auto got = (*e)->Lookup({"8.8.4.4"}, nullptr, kNow);
  const model::Source& s = got.at("8.8.4.4").source;
  EXPECT_EQ(s.country, "US");  // the first database's, not the second's "DE"
  EXPECT_EQ(s.asn, 15169);
  EXPECT_EQ(s.as_domain, "google.com");
  EXPECT_EQ(s.name, "Google");  // by ASN: offline, there is no PTR name
  EXPECT_EQ(s.type, "Email Provider");
  std::filesystem::remove(asn_db);
}

// Private and reserved addresses are never placed in a country or an AS, even by a database that
// has them (the test database puts 10/8 in NL and 198.51.100/24 in DE).
TEST(Enricher, PrivateAndReservedAddressesAreNotGeolocated) {
  const std::string asn_db = WriteAsnDb("dmarc-asn3");
  Options o;
  o.offline = true;
  o.geoip_dbs = {asn_db};
  auto e = Enricher::Create(o);
  ASSERT_TRUE(e) << e.error();
  auto got =
      (*e)->Lookup({"10.1.2.3", "198.51.100.9", "::ffff:10.0.0.1", "8.8.4.4"}, nullptr, kNow);
  for (const char* ip : {"10.1.2.3", "198.51.100.9", "::ffff:10.0.0.1"}) {
    EXPECT_FALSE(got.at(ip).source.country) << ip;
    EXPECT_FALSE(got.at(ip).source.asn) << ip;
  }
  EXPECT_EQ(got.at("8.8.4.4").source.country, "DE");
  std::filesystem::remove(asn_db);
}

TEST(Enricher, AddressScopes) {
  for (const char* ip : {"10.0.0.1", "172.16.5.4", "172.31.255.255", "192.168.1.1", "100.64.0.1",
                         "fd00::1", "::ffff:192.168.0.1"}) {
    EXPECT_EQ(ScopeOf(ip), AddressScope::kPrivate) << ip;
  }
  for (const char* ip : {"127.0.0.1", "169.254.1.1", "192.0.2.7", "198.51.100.1", "203.0.113.9",
                         "198.19.0.1", "224.0.0.1", "255.255.255.255", "0.1.2.3", "::1",
                         "::", "fe80::1", "2001:db8::5", "ff02::1"}) {
    EXPECT_EQ(ScopeOf(ip), AddressScope::kReserved) << ip;
  }
  for (const char* ip : {"8.8.8.8", "172.32.0.1", "172.15.255.255", "100.128.0.1", "192.0.3.1",
                         "2a00:1450::1", "2001:db9::1", "not an address"}) {
    EXPECT_EQ(ScopeOf(ip), AddressScope::kGlobal) << ip;
  }
  EXPECT_EQ(ToString(AddressScope::kPrivate), "private");
}

TEST(GeoIp, UnusableFileIsNamed) {
  auto g = GeoIp::Open({"/nonexistent/x.mmdb"});
  ASSERT_FALSE(g);
  EXPECT_NE(g.error().find("/nonexistent/x.mmdb"), std::string::npos);
  const auto path = std::filesystem::temp_directory_path() / "dmarc-not-mmdb.mmdb";
  std::ofstream(path) << "not a database";
  auto g2 = GeoIp::Open({path.string()});
  std::filesystem::remove(path);
  EXPECT_FALSE(g2);
}

TEST(Enricher, FullSourceFromDnsPslGeoAndServices) {
  Dnsmasq dns({"8.8.8.8 o1.ptr1234.sendgrid.net", "192.0.2.1 mail-a.example.com"});
  ASSERT_TRUE(dns.error().empty()) << dns.error();
  Options o;
  o.nameservers = {dns.address()};
  auto e = Enricher::Create(o);
  ASSERT_TRUE(e) << e.error();
  MemoryCache cache;
  LookupStats stats;
  auto got = (*e)->Lookup({"8.8.8.8", "192.0.2.1", "192.0.2.1", "192.0.2.77", "junk"}, &cache, kNow,
                          &stats);
  EXPECT_EQ(stats.addresses, 4u);
  EXPECT_EQ(stats.queried, 3u);
  EXPECT_EQ(stats.names, 2u);
  EXPECT_EQ(stats.no_names, 1u);
  const model::Source& s = got.at("8.8.8.8").source;
  EXPECT_EQ(s.reverse_dns, "o1.ptr1234.sendgrid.net");
  EXPECT_EQ(s.base_domain, "sendgrid.net");
  EXPECT_EQ(s.name, "SendGrid");
  EXPECT_EQ(s.type, "Email Delivery");
  EXPECT_EQ(s.country, "US");
  EXPECT_EQ(got.at("192.0.2.1").source.base_domain, "example.com");
  EXPECT_FALSE(got.at("192.0.2.1").source.name);
  EXPECT_FALSE(got.at("192.0.2.77").source.reverse_dns);
  EXPECT_EQ(got.at("192.0.2.77").status, DnsStatus::kNoName);
  EXPECT_FALSE(got.at("junk").resolved);
  // Names and NXDOMAIN are cached for the TTL.
  ASSERT_EQ(cache.entries.size(), 3u);
  EXPECT_EQ(cache.entries.at("192.0.2.77").status, DnsStatus::kNoName);
  EXPECT_EQ(cache.entries.at("192.0.2.77").expires_at, kNow + o.dns_cache_ttl_seconds);
  EXPECT_EQ(cache.entries.at("8.8.8.8").reverse_dns, "o1.ptr1234.sendgrid.net");
}

TEST(Enricher, SecondRunIsServedFromTheCacheIncludingNegativeAnswers) {
  Dnsmasq dns(kHosts);
  ASSERT_TRUE(dns.error().empty()) << dns.error();
  DelayProxy proxy(dns.port(), std::chrono::milliseconds(0));
  Options o;
  o.nameservers = {proxy.address()};
  MemoryCache cache;
  const std::vector<std::string> ips = {"192.0.2.1", "192.0.2.50", "2001:db8::1"};
  {
    auto e = Enricher::Create(o);
    ASSERT_TRUE(e) << e.error();
    (*e)->Lookup(ips, &cache, kNow);
  }
  EXPECT_EQ(proxy.queries(), 3u);
  // A new process (a new Enricher): everything comes from the cache, no query is sent.
  auto e = Enricher::Create(o);
  ASSERT_TRUE(e) << e.error();
  LookupStats stats;
  auto got = (*e)->Lookup(ips, &cache, kNow + 3600, &stats);
  EXPECT_EQ(proxy.queries(), 3u);
  EXPECT_EQ(stats.cache_hits, 3u);
  EXPECT_EQ(got.at("192.0.2.1").source.reverse_dns, "mail-a.example.com");
  EXPECT_EQ(got.at("192.0.2.50").status, DnsStatus::kNoName);
  // Past the TTL the addresses are asked again.
  auto e2 = Enricher::Create(o);
  (*e2)->Lookup(ips, &cache, kNow + o.dns_cache_ttl_seconds + 1);
  EXPECT_EQ(proxy.queries(), 6u);
}

// Options asking a server that never answers, with a 100 ms timeout and no retry.
Options QuickTimeout(const SilentServer& silent) {
  Options o;
  o.nameservers = {silent.address()};
  o.dns_timeout_ms = 100;
  o.dns_retries = 0;
  return o;
}

TEST(Enricher, FailuresAreCachedBriefly) {
  SilentServer silent;
  const Options o = QuickTimeout(silent);
  auto e = Enricher::Create(o);
  ASSERT_TRUE(e) << e.error();
  MemoryCache cache;
  LookupStats stats;
  const auto start = Clock::now();
  (*e)->Lookup({"198.51.100.7"}, &cache, kNow, &stats);
  EXPECT_LT(SecondsSince(start), 2.0);
  EXPECT_EQ(stats.failures, 1u);
  ASSERT_EQ(cache.entries.count("198.51.100.7"), 1u);
  EXPECT_EQ(cache.entries.at("198.51.100.7").status, DnsStatus::kFailed);
  EXPECT_EQ(cache.entries.at("198.51.100.7").expires_at, kNow + FailureTtl(o));
  EXPECT_LT(FailureTtl(o), o.dns_cache_ttl_seconds);
  // Within the failure TTL the same Enricher does not ask again.
  LookupStats again;
  (*e)->Lookup({"198.51.100.7"}, &cache, kNow + 60, &again);
  EXPECT_EQ(again.queried, 0u);
}

TEST(Enricher, DnsFoundDownMakesTheRestOfTheRunOffline) {
  SilentServer silent;
  const Options o = QuickTimeout(silent);
  auto e = Enricher::Create(o);
  ASSERT_TRUE(e) << e.error();
  LookupStats first;
  (*e)->Lookup({"198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4"}, nullptr, kNow,
               &first);
  EXPECT_EQ(first.failures, 4u);
  EXPECT_EQ(first.unresolved, 4u);
  ASSERT_EQ(first.warnings.size(), 1u);
  EXPECT_NE(first.warnings[0].find("no answer from DNS"), std::string::npos);
  LookupStats second;
  const auto start = Clock::now();
  auto got = (*e)->Lookup({"8.8.8.8"}, nullptr, kNow, &second);
  EXPECT_LT(SecondsSince(start), 0.05);
  EXPECT_EQ(second.queried, 0u);
  EXPECT_EQ(second.unresolved, 1u);
  EXPECT_EQ(got.at("8.8.8.8").source.country, "US");  // the local databases still answer
}

// Past the budget of addresses of one lookup, the rest get no name, are not cached (a later
// `enrich` asks for them) and are named in a warning.
TEST(Enricher, AddressesOverTheBudgetAreNotAsked) {
  Dnsmasq dns(kHosts);
  ASSERT_TRUE(dns.error().empty()) << dns.error();
  Options o;
  o.nameservers = {dns.address()};
  o.dns_max_addresses = 2;
  auto e = Enricher::Create(o);
  ASSERT_TRUE(e) << e.error();
  MemoryCache cache;
  LookupStats stats;
  auto got = (*e)->Lookup({"192.0.2.1", "192.0.2.3", "2001:db8::1"}, &cache, kNow, &stats);
  EXPECT_EQ(stats.queried, 2u);
  EXPECT_EQ(stats.not_asked, 1u);
  EXPECT_EQ(stats.unresolved, 1u);
  EXPECT_EQ(cache.entries.size(), 2u);
  ASSERT_EQ(stats.warnings.size(), 1u);
  EXPECT_NE(stats.warnings[0].find("first 2 only"), std::string::npos) << stats.warnings[0];
  int named = 0;
  for (const auto& [ip, info] : got) named += info.source.reverse_dns ? 1 : 0;
  EXPECT_EQ(named, 2);
}

// A first lookup that got no reply at all is enough: a run of many one-address inputs pays one
// timeout, not one per input.
TEST(Enricher, AFirstLookupWithoutAnyReplyMakesTheRunOffline) {
  SilentServer silent;
  const Options o = QuickTimeout(silent);
  auto e = Enricher::Create(o);
  ASSERT_TRUE(e) << e.error();
  LookupStats first;
  (*e)->Lookup({"198.51.100.1"}, nullptr, kNow, &first);
  ASSERT_EQ(first.warnings.size(), 1u);
  EXPECT_NE(first.warnings[0].find("no answer from DNS"), std::string::npos) << first.warnings[0];
  LookupStats second;
  const auto start = Clock::now();
  (*e)->Lookup({"198.51.100.2"}, nullptr, kNow, &second);
  EXPECT_LT(SecondsSince(start), 0.05);
  EXPECT_EQ(second.queried, 0u);
}

TEST(Enricher, OneFailedAddressDoesNotStopDns) {
  Dnsmasq dns(kHosts);
  ASSERT_TRUE(dns.error().empty()) << dns.error();
  Options o;
  o.nameservers = {dns.address()};
  auto e = Enricher::Create(o);
  ASSERT_TRUE(e) << e.error();
  LookupStats a, b;
  (*e)->Lookup({"not-an-address"}, nullptr, kNow, &a);
  EXPECT_EQ(a.unresolved, 1u);
  EXPECT_TRUE(a.warnings.empty());
  (*e)->Lookup({"192.0.2.1", "192.0.2.99"}, nullptr, kNow, &b);
  EXPECT_EQ(b.names, 1u);
  EXPECT_EQ(b.no_names, 1u);
  EXPECT_EQ(b.unresolved, 0u);
}

TEST(Enricher, OfflineSendsNoQueryButKeepsGeolocation) {
  Dnsmasq dns(kHosts);
  ASSERT_TRUE(dns.error().empty()) << dns.error();
  DelayProxy proxy(dns.port(), std::chrono::milliseconds(0));
  Options o;
  o.offline = true;
  o.nameservers = {proxy.address()};
  auto e = Enricher::Create(o);
  ASSERT_TRUE(e) << e.error();
  MemoryCache cache;
  model::AggregateReport report;
  report.records.resize(2);
  report.records[0].source.ip_address = "8.8.8.8";
  report.records[1].source.ip_address = "192.0.2.1";
  auto stats = (*e)->EnrichReports({&report}, &cache, kNow);
  EXPECT_EQ(proxy.queries(), 0u);
  EXPECT_EQ(stats.queried, 0u);
  EXPECT_TRUE(cache.entries.empty());
  EXPECT_EQ(report.records[0].source.ip_address, "8.8.8.8");
  EXPECT_EQ(report.records[0].source.country, "US");
  EXPECT_FALSE(report.records[0].source.reverse_dns);
}

// Store first, enrich after: a deferred lookup answers from the caches and asks DNS nothing;
// the addresses it could not answer are counted as not asked (left for the background).
TEST(Enricher, DeferredAnswersFromTheCacheOnlyAndLeavesTheRestUnasked) {
  Dnsmasq dns(kHosts);
  ASSERT_TRUE(dns.error().empty()) << dns.error();
  DelayProxy proxy(dns.port(), std::chrono::milliseconds(0));
  Options o;
  o.nameservers = {proxy.address()};
  MemoryCache cache;
  {
    auto e = Enricher::Create(o);
    ASSERT_TRUE(e) << e.error();
    (*e)->Lookup({"192.0.2.1"}, &cache, kNow);
  }
  ASSERT_EQ(proxy.queries(), 1u);
  o.dns_deferred = true;
  auto e = Enricher::Create(o);
  ASSERT_TRUE(e) << e.error();
  LookupStats stats;
  auto got = (*e)->Lookup({"192.0.2.1", "192.0.2.2", "8.8.8.8"}, &cache, kNow + 60, &stats);
  EXPECT_EQ(proxy.queries(), 1u);
  EXPECT_EQ(stats.cache_hits, 1u);
  EXPECT_EQ(stats.queried, 0u);
  EXPECT_EQ(stats.not_asked, 2u);
  EXPECT_EQ(stats.unresolved, 2u);
  EXPECT_TRUE(stats.warnings.empty());
  EXPECT_EQ(got.at("192.0.2.1").source.reverse_dns, "mail-a.example.com");
  EXPECT_FALSE(got.at("192.0.2.2").resolved);
  EXPECT_EQ(got.at("8.8.8.8").source.country, "US");  // local databases still answer
}

TEST(Enricher, BadOptionsAreErrors) {
  Options o;
  o.nameservers = {"dns.example"};
  EXPECT_FALSE(Enricher::Create(o));
  o = Options{};
  o.dns_concurrency = 0;
  EXPECT_FALSE(Enricher::Create(o));
  o = Options{};
  o.geoip_dbs = {"/nonexistent.mmdb"};
  EXPECT_FALSE(Enricher::Create(o));
  o = Options{};
  o.services_files = {"/nonexistent.tsv"};
  EXPECT_FALSE(Enricher::Create(o));
}

}  // namespace
}  // namespace dmarc::enrich
