// Source enrichment: what a source IP address means to a person. For each distinct address:
// its reverse-DNS (PTR) name, looked up with c-ares, many queries in flight, bounded by a
// per-query timeout and retries; the registrable domain of that name (libpsl); country and
// autonomous system from MaxMind DB files (libmaxminddb); and the sending service from a data
// file of base domains and ASNs (services.tsv, built in, plus the user's own).
//
// DNS answers (names, NXDOMAIN and failures alike) are cached: in memory for the life of an
// Enricher, and in a caller's Cache (the store) with an expiry, so re-imports never wait on DNS.
// Geolocation and services are not cached: they are local lookups, and stay current with the
// database files.
//
// Thread-safety: an Enricher may be used by several threads at once.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "model/aggregate.h"
#include "model/failure.h"

namespace dmarc::enrich {

// Everything a user can set; the config file of `fetch` maps its keys onto this.
struct Options {
  bool enabled = true;   // false: records keep only their IP address
  bool offline = false;  // no DNS at all; geolocation and services by ASN still work
  // Answers from the caches only: addresses not cached are left unresolved ("not asked") for a
  // later lookup, without a query (store first, enrich after: `run`'s background enrichment).
  bool dns_deferred = false;
  // "IP" or "IP:PORT" ("[IPv6]:PORT"); empty: the system's resolvers (/etc/resolv.conf).
  std::vector<std::string> nameservers;
  unsigned dns_concurrency = 64;                       // PTR queries in flight at once
  int dns_timeout_ms = 1500;                           // first try; c-ares doubles it per retry
  int dns_retries = 1;                                 // tries after the first
  std::int64_t dns_cache_ttl_seconds = 7 * 24 * 3600;  // names and NXDOMAIN
  // The budget of one lookup (one input of `parse`, one batch of `import`/`fetch`): at most this
  // many addresses sent to DNS, for at most this long; the rest are left without a name (a
  // hostile report can list 100,000 addresses).
  std::size_t dns_max_addresses = 10'000;
  int dns_max_seconds = 30;
  // MaxMind DB files (country and/or ASN), read in order; the first that knows a field wins.
  // Empty: the default country database (see FindDefaultGeoIpDatabase).
  std::vector<std::string> geoip_dbs;
  // Tried first for the default country database; the app takes it from $DMARC_REPORT_GEOIP_DB.
  std::string preferred_geoip_db;
  std::vector<std::string> services_files;  // read after the built-in list
};

inline constexpr std::size_t kDownAfterAllFailed = 4;
// The start of the warning a lookup gives when it finds DNS down.
inline constexpr std::string_view kDnsDownWarning = "no answer from DNS";
inline constexpr std::size_t kDownAfterFailures = 16;

// How long a failed lookup (timeout, SERVFAIL, refused) is cached: shorter than names, since
// it may be the network's fault rather than the address's.
std::int64_t FailureTtl(const Options& options);

// The outcome of one PTR lookup.
enum class DnsStatus { kName, kNoName, kFailed };
std::string_view ToString(DnsStatus s);  // "name", "no_name", "failed"
std::optional<DnsStatus> ParseDnsStatus(std::string_view s);

// One cached DNS answer.
struct CachedDns {
  std::string ip;
  DnsStatus status = DnsStatus::kFailed;
  std::optional<std::string> reverse_dns;
  std::int64_t resolved_at = 0;
  std::int64_t expires_at = 0;
};

// Where DNS answers outlive the process: implemented over the store by the app.
class DnsCache {
 public:
  virtual ~DnsCache() = default;
  // The unexpired entries for these addresses (any order; missing ones are not cached).
  virtual Result<std::vector<CachedDns>> Get(const std::vector<std::string>& ips,
                                             std::int64_t now) = 0;
  virtual Result<bool> Put(const std::vector<CachedDns>& entries) = 0;
};

// What the lookups found for one address.
struct IpInfo {
  bool resolved = false;  // DNS was asked (or answered from a cache); false when offline
  DnsStatus status = DnsStatus::kFailed;
  model::Source source;  // ip_address and every field found
};

struct LookupStats {
  std::size_t addresses = 0;                          // distinct addresses asked about
  std::size_t cache_hits = 0;                         // answered from memory or the DnsCache
  std::size_t queried = 0;                            // sent to DNS
  std::size_t names = 0, no_names = 0, failures = 0;  // outcomes of the queries sent
  // Addresses without a DNS answer: failed now or recently (cached failure), invalid, or not
  // asked because the run is offline or DNS was found down. 0: every address has its answer.
  std::size_t unresolved = 0;
  // Of those, not sent to DNS: over the lookup's budget of addresses or time, DNS found down
  // within the lookup, or a stop asked for.
  std::size_t not_asked = 0;
  std::vector<std::string> warnings;  // e.g. the cache could not be written
};

class GeoIp;
class Services;
struct ResolveOutcome;

class Enricher {
 public:
  // Opens the databases and reads the services files; errors name the file.
  static Result<std::unique_ptr<Enricher>> Create(const Options& options);
  ~Enricher();

  // Looks up these addresses (duplicates and invalid ones allowed): memory first, then cache,
  // then DNS for the rest, concurrently; new answers go to the cache. Never fails: an address
  // that could not be resolved gets what the local databases know.
  std::unordered_map<std::string, IpInfo> Lookup(const std::vector<std::string>& ips,
                                                 DnsCache* cache, std::int64_t now,
                                                 LookupStats* stats = nullptr);

  // Enriches these sources in place (one Lookup over their distinct addresses).
  LookupStats EnrichSources(const std::vector<model::Source*>& sources, DnsCache* cache,
                            std::int64_t now);
  // Enriches every record of these reports, and the failure reports' sources, in place.
  LookupStats EnrichReports(const std::vector<model::AggregateReport*>& reports, DnsCache* cache,
                            std::int64_t now,
                            const std::vector<model::FailureReport*>& failures = {});

  const Options& options() const { return options_; }
  // What this Enricher's DNS lookups are doing now, for a progress line: addresses sent to DNS
  // and not answered yet (all lookups in flight), and addresses answered so far.
  struct DnsActivity {
    std::size_t pending = 0, done = 0;
  };
  DnsActivity Activity() const { return {dns_pending_.load(), dns_done_.load()}; }
  // Lookups stop within ~200 ms once *flag is set (a signal); the addresses left stay unresolved.
  void SetCancel(const std::atomic<bool>* flag) { cancel_ = flag; }
  // Files in use, for messages: the geolocation databases actually opened.
  const std::vector<std::string>& geoip_files() const;

 private:
  Enricher() = default;
  // What one lookup's DNS queries came to (those sent; not those skipped).
  struct DnsTally {
    std::size_t asked = 0, failed = 0, timed_out = 0;
    std::string detail;  // the last failure's reason
  };
  std::vector<CachedDns> Resolve(std::vector<std::string> wanted, std::int64_t now,
                                 LookupStats& st);
  void NoteDnsHealth(const ResolveOutcome& resolved, const DnsTally& tally, std::size_t wanted,
                     LookupStats& st);
  Options options_;
  std::unique_ptr<GeoIp> geoip_;
  std::unique_ptr<Services> services_;
  std::mutex memory_mutex_;
  std::unordered_map<std::string, CachedDns> memory_;  // answers of this run
  // DNS found down: after a lookup whose every query (at least kDownAfterAllFailed) failed, or
  // kDownAfterFailures failures in a row with no answer between them, or a first lookup that
  // timed out entirely (not one reply yet), or one that gave up within itself (a silent server),
  // the rest of the run is offline, so a machine without network pays the timeout once, not once
  // per input.
  std::size_t failures_in_a_row_ = 0;  // guarded by memory_mutex_
  bool any_reply_ = false;             // guarded by memory_mutex_
  bool dns_down_ = false;              // guarded by memory_mutex_
  const std::atomic<bool>* cancel_ = nullptr;
  std::atomic<std::size_t> dns_pending_{0}, dns_done_{0};
};

// Where an address can be: the public internet, a private network (RFC 1918, RFC 6598 shared,
// IPv6 unique local) or a reserved range (loopback, link-local, documentation, benchmarking,
// multicast, unspecified). Private and reserved addresses are never geolocated; the dashboard
// shows their scope in place of a country. Text that is not an address is kGlobal.
enum class AddressScope { kGlobal, kPrivate, kReserved };
AddressScope ScopeOf(std::string_view ip);
std::string_view ToString(AddressScope s);  // "global", "private", "reserved"

// Copies what was found into a record's source (the IP address stays as it is).
void Apply(const IpInfo& info, model::Source& source);

// The default country database: the first existing file of
//   `preferred` (when not empty; the app passes $DMARC_REPORT_GEOIP_DB),
//   <executable dir>/../share/dmarc-report/geoip/<npm path>,
//   <executable dir>/../geoip/<npm path>   (a build directory inside the source tree),
//   <source dir at build time>/geoip/<npm path>,
// where <npm path> is node_modules/@ip-location-db/geo-whois-asn-country-mmdb/
// geo-whois-asn-country.mmdb (installed by scripts/install-deps.sh with npm ci in geoip/).
std::optional<std::string> FindDefaultGeoIpDatabase(const std::string& preferred = "");

// Validates a nameserver as given on the command line: "IP" or "IP:PORT" or "[IPv6]:PORT".
Result<std::string> NormalizeNameserver(std::string_view text);

}  // namespace dmarc::enrich
