#include "enrich/enrich.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <unordered_set>

#include "enrich/geoip.h"
#include "enrich/resolver.h"
#include "enrich/services.h"
#include "psl/psl.h"

namespace dmarc::enrich {

namespace {

constexpr std::int64_t kFailureTtlSeconds = 3600;
constexpr std::size_t kMaxMemoryEntries = 1'000'000;
constexpr const char* kNpmPath =
    "node_modules/@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb";

// The canonical text of an address (so "::FFFF:1.2.3.4" and "0:0::1" share cache entries), or
// nothing when it is not an address.
std::optional<std::string> CanonicalIp(const std::string& ip) {
  unsigned char buf[16];
  char text[INET6_ADDRSTRLEN];
  // glibc's inet_pton takes exactly four decimal octets without leading zeros, which is how
  // inet_ntop writes them: an IPv4 address it accepts is its own canonical text (inet_ntop
  // formats with sprintf, ~2,000 instructions an address).
  if (ip.size() < INET6_ADDRSTRLEN && inet_pton(AF_INET, ip.c_str(), buf) == 1) return ip;
  if (ip.size() < INET6_ADDRSTRLEN && inet_pton(AF_INET6, ip.c_str(), buf) == 1) {
    return inet_ntop(AF_INET6, buf, text, sizeof text) ? std::optional<std::string>(text)
                                                       : std::nullopt;
  }
  return std::nullopt;
}

using Answers = std::unordered_map<std::string, CachedDns>;  // canonical address → answer

// Distinct addresses, each under its canonical text for the DNS side (given → canonical).
// Whether the first `bits` bits of a and b (network byte order) agree.
bool InPrefix(const unsigned char* a, const unsigned char* b, int bits) {
  for (int i = 0; bits > 0; ++i, bits -= 8) {
    const unsigned mask = bits >= 8 ? 0xffu : (0xffu << (8 - bits)) & 0xffu;
    if ((a[i] & mask) != (b[i] & mask)) return false;
  }
  return true;
}

AddressScope ScopeOfV4(const unsigned char* a) {
  struct Net {
    unsigned char addr[4];
    int bits;
    AddressScope scope;
  };
  static constexpr Net kNets[] = {
      {{10, 0, 0, 0}, 8, AddressScope::kPrivate},
      {{172, 16, 0, 0}, 12, AddressScope::kPrivate},
      {{192, 168, 0, 0}, 16, AddressScope::kPrivate},
      {{100, 64, 0, 0}, 10, AddressScope::kPrivate},
      {{127, 0, 0, 0}, 8, AddressScope::kReserved},
      {{169, 254, 0, 0}, 16, AddressScope::kReserved},
      {{0, 0, 0, 0}, 8, AddressScope::kReserved},
      {{192, 0, 0, 0}, 24, AddressScope::kReserved},
      {{192, 0, 2, 0}, 24, AddressScope::kReserved},
      {{198, 18, 0, 0}, 15, AddressScope::kReserved},
      {{198, 51, 100, 0}, 24, AddressScope::kReserved},
      {{203, 0, 113, 0}, 24, AddressScope::kReserved},
      {{224, 0, 0, 0}, 4, AddressScope::kReserved},
      {{240, 0, 0, 0}, 4, AddressScope::kReserved},
  };
  for (const Net& n : kNets) {
    if (InPrefix(a, n.addr, n.bits)) return n.scope;
  }
  return AddressScope::kGlobal;
}

}  // namespace

AddressScope ScopeOf(std::string_view ip) {
  const std::string text(ip);
  unsigned char a[16];
  if (inet_pton(AF_INET, text.c_str(), a) == 1) return ScopeOfV4(a);
  if (inet_pton(AF_INET6, text.c_str(), a) != 1) return AddressScope::kGlobal;
  static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (InPrefix(a, kMapped, 96)) return ScopeOfV4(a + 12);
  struct Net {
    unsigned char addr[16];
    int bits;
    AddressScope scope;
  };
  static constexpr Net kNets[] = {
      {{0xfc}, 7, AddressScope::kPrivate},                      // unique local
      {{0xfe, 0x80}, 10, AddressScope::kReserved},              // link-local
      {{0xff}, 8, AddressScope::kReserved},                     // multicast
      {{0x20, 0x01, 0x0d, 0xb8}, 32, AddressScope::kReserved},  // documentation
      {{0x01, 0x00}, 64, AddressScope::kReserved},              // discard
      {{}, 127, AddressScope::kReserved},                       // :: and ::1
  };
  for (const Net& n : kNets) {
    if (InPrefix(a, n.addr, n.bits)) return n.scope;
  }
  return AddressScope::kGlobal;
}

std::string_view ToString(AddressScope s) {
  switch (s) {
    case AddressScope::kPrivate:
      return "private";
    case AddressScope::kReserved:
      return "reserved";
    case AddressScope::kGlobal:
      break;
  }
  return "global";
}

namespace {

std::unordered_map<std::string, std::optional<std::string>> DistinctAddresses(
    const std::vector<std::string>& ips) {
  std::unordered_map<std::string, std::optional<std::string>> canonical;
  for (const auto& ip : ips) {
    if (!canonical.count(ip)) canonical.emplace(ip, CanonicalIp(ip));
  }
  return canonical;
}

// Moves the answers the cache still holds for `wanted` into `answers`, leaving in `wanted` only
// the addresses to query.
void ReadDnsCache(DnsCache* cache, std::int64_t now, std::vector<std::string>& wanted,
                  Answers& answers, LookupStats& st) {
  if (!cache || wanted.empty()) return;
  auto got = cache->Get(wanted, now);
  if (!got) {
    st.warnings.push_back("DNS cache not readable: " + got.error());
    return;
  }
  for (auto& c : *got) {
    if (c.expires_at <= now) continue;
    ++st.cache_hits;
    answers.emplace(c.ip, std::move(c));
  }
  std::erase_if(wanted, [&](const std::string& ip) { return answers.count(ip) > 0; });
}

ResolverOptions ResolverOptionsOf(const Options& options) {
  ResolverOptions ro;
  ro.nameservers = options.nameservers;
  ro.concurrency = options.dns_concurrency;
  ro.timeout_ms = options.dns_timeout_ms;
  ro.retries = options.dns_retries;
  return ro;
}

// The cache entry of one resolver answer, counted in `st`.
CachedDns ToCachedDns(const std::string& ip, const PtrResult& r, std::int64_t now,
                      std::int64_t failure_ttl, std::int64_t ttl, LookupStats& st) {
  CachedDns c;
  c.ip = ip;
  c.status = r.status;
  if (r.status == DnsStatus::kName) c.reverse_dns = r.name;
  c.resolved_at = now;
  c.expires_at = now + (r.status == DnsStatus::kFailed ? failure_ttl : ttl);
  (r.status == DnsStatus::kName     ? st.names
   : r.status == DnsStatus::kNoName ? st.no_names
                                    : st.failures)++;
  return c;
}

// What is known of one address: its DNS answer (if any), geolocation and sending service.
IpInfo DescribeAddress(const std::string& given, const std::optional<std::string>& canon,
                       const Answers& answers, const GeoIp& geoip, const Services& services) {
  IpInfo info;
  info.source.ip_address = given;
  if (!canon) return info;
  if (auto it = answers.find(*canon); it != answers.end()) {
    info.resolved = true;
    info.status = it->second.status;
    info.source.reverse_dns = it->second.reverse_dns;
    if (info.source.reverse_dns) {
      info.source.base_domain = psl::RegistrableDomain(*info.source.reverse_dns);
    }
  }
  // A private or reserved address is nowhere: a database that places one in a country (some do,
  // by the registrant of the range) would mislead.
  GeoInfo g = ScopeOf(*canon) == AddressScope::kGlobal ? geoip.Lookup(*canon) : GeoInfo{};
  info.source.country = std::move(g.country);
  info.source.asn = g.asn;
  info.source.as_name = std::move(g.as_name);
  info.source.as_domain = std::move(g.as_domain);
  if (const Service* s = services.Find(info.source.base_domain, info.source.asn)) {
    info.source.name = s->name;
    info.source.type = s->type;
  }
  return info;
}

}  // namespace

std::int64_t FailureTtl(const Options& options) {
  return std::min(options.dns_cache_ttl_seconds, kFailureTtlSeconds);
}

std::string_view ToString(DnsStatus s) {
  switch (s) {
    case DnsStatus::kName:
      return "name";
    case DnsStatus::kNoName:
      return "no_name";
    case DnsStatus::kFailed:
      break;
  }
  return "failed";
}

std::optional<DnsStatus> ParseDnsStatus(std::string_view s) {
  if (s == "name") return DnsStatus::kName;
  if (s == "no_name") return DnsStatus::kNoName;
  if (s == "failed") return DnsStatus::kFailed;
  return std::nullopt;
}

std::optional<std::string> FindDefaultGeoIpDatabase(const std::string& preferred) {
  namespace fs = std::filesystem;
  std::vector<fs::path> candidates;
  if (!preferred.empty()) candidates.emplace_back(preferred);
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    candidates.push_back(exe.parent_path() / "../share/dmarc-report/geoip" / kNpmPath);
    candidates.push_back(exe.parent_path() / "../geoip" / kNpmPath);
  }
#ifdef DMARC_SOURCE_DIR
  candidates.push_back(fs::path(DMARC_SOURCE_DIR) / "geoip" / kNpmPath);
#endif
  for (const auto& c : candidates) {
    if (fs::is_regular_file(c, ec)) return fs::weakly_canonical(c, ec).string();
  }
  return std::nullopt;
}

Result<std::string> NormalizeNameserver(std::string_view text) {
  std::string host(text), port;
  unsigned char buf[16];
  auto bad = [&] {
    return MakeError(
        fmt::format("nameserver \"{}\": expected an IP address, IP:PORT or [IPv6]:PORT", text));
  };
  if (!host.empty() && host.front() == '[') {
    const std::size_t close = host.find(']');
    if (close == std::string::npos) return bad();
    if (close + 1 < host.size()) {
      if (host[close + 1] != ':') return bad();
      port = host.substr(close + 2);
    }
    host = host.substr(1, close - 1);
    if (inet_pton(AF_INET6, host.c_str(), buf) != 1) return bad();
  } else if (inet_pton(AF_INET6, host.c_str(), buf) == 1) {
    // a bare IPv6 address: no port
  } else {
    if (const std::size_t colon = host.find(':'); colon != std::string::npos) {
      port = host.substr(colon + 1);
      host.resize(colon);
    }
    if (inet_pton(AF_INET, host.c_str(), buf) != 1) return bad();
  }
  if (!port.empty()) {
    if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) return bad();
    const int p = std::stoi(port);
    if (p < 1 || p > 65535) return bad();
  }
  const bool v6 = host.find(':') != std::string::npos;
  if (port.empty()) return v6 ? "[" + host + "]:53" : host + ":53";
  return v6 ? "[" + host + "]:" + port : host + ":" + port;
}

Enricher::~Enricher() = default;

const std::vector<std::string>& Enricher::geoip_files() const { return geoip_->paths(); }

Result<std::unique_ptr<Enricher>> Enricher::Create(const Options& options) {
  std::unique_ptr<Enricher> e(new Enricher());
  e->options_ = options;
  if (options.dns_concurrency < 1 || options.dns_concurrency > 10'000) {
    return MakeError("DNS concurrency must be between 1 and 10000");
  }
  if (options.dns_timeout_ms < 1 || options.dns_timeout_ms > 60'000) {
    return MakeError("DNS timeout must be between 1 and 60000 ms");
  }
  if (options.dns_retries < 0 || options.dns_retries > 10) {
    return MakeError("DNS retries must be between 0 and 10");
  }
  if (options.dns_cache_ttl_seconds < 0) return MakeError("DNS cache TTL must not be negative");
  if (options.dns_max_addresses < 1)
    return MakeError("DNS addresses per lookup must be at least 1");
  if (options.dns_max_seconds < 1 || options.dns_max_seconds > 86'400) {
    return MakeError("DNS seconds per lookup must be between 1 and 86400");
  }
  e->options_.nameservers.clear();
  for (const auto& ns : options.nameservers) {
    auto n = NormalizeNameserver(ns);
    if (!n) return MakeError(n.error());
    e->options_.nameservers.push_back(*n);
  }
  std::vector<std::string> dbs = options.geoip_dbs;
  if (dbs.empty()) {
    if (auto d = FindDefaultGeoIpDatabase(options.preferred_geoip_db)) dbs.push_back(*d);
  }
  auto geo = GeoIp::Open(dbs);
  if (!geo) return MakeError(geo.error());
  e->geoip_ = std::move(geo).value();
  e->services_ = Services::BuiltIn();
  for (const auto& f : options.services_files) {
    if (auto r = e->services_->AddFile(f); !r) return MakeError(r.error());
  }
  return e;
}

// The DNS part of Lookup: the addresses within the call's budget sent to DNS (unless it was found
// down), the answers returned for the caches.
std::vector<CachedDns> Enricher::Resolve(std::vector<std::string> wanted, std::int64_t now,
                                         LookupStats& st) {
  std::vector<CachedDns> fresh;
  bool down = false;
  {
    std::lock_guard lock(memory_mutex_);
    down = dns_down_;
  }
  // One call's budget (one input's in parse, one batch's in import): addresses past it and
  // whatever the time budget leaves are not looked up, and stay without a name until
  // `dmarc-report enrich` (or a later import) asks again.
  if (wanted.size() > options_.dns_max_addresses) {
    st.not_asked += wanted.size() - options_.dns_max_addresses;
    st.warnings.push_back(fmt::format(
        "{} addresses: reverse DNS for the first {} only (dns_max_addresses); the others "
        "are left without a name",
        wanted.size(), options_.dns_max_addresses));
    wanted.resize(options_.dns_max_addresses);
  }
  if (options_.dns_deferred) {
    st.not_asked += wanted.size();
    return fresh;
  }
  if (wanted.empty() || down) return fresh;
  ResolverOptions ro = ResolverOptionsOf(options_);
  ro.give_up_after_failures = kDownAfterAllFailed;
  ro.deadline = std::chrono::steady_clock::now() +
                std::chrono::milliseconds(std::int64_t{options_.dns_max_seconds} * 1000);
  ro.cancel = cancel_;
  dns_pending_ += wanted.size();
  auto resolved = ResolvePtr(wanted, ro);
  dns_pending_ -= wanted.size();
  if (!resolved) {
    st.warnings.push_back("reverse DNS unavailable: " + resolved.error());
    return fresh;
  }
  DnsTally tally;
  for (std::size_t i = 0; i < wanted.size(); ++i) {
    const PtrResult& r = resolved->results[i];
    if (r.skipped) {
      ++st.not_asked;
      continue;
    }
    ++tally.asked;
    if (r.status == DnsStatus::kFailed) {
      ++tally.failed;
      tally.detail = r.detail;
    }
    if (r.timed_out) ++tally.timed_out;
    fresh.push_back(
        ToCachedDns(wanted[i], r, now, FailureTtl(options_), options_.dns_cache_ttl_seconds, st));
  }
  st.queried += tally.asked;
  dns_done_ += tally.asked;
  NoteDnsHealth(*resolved, tally, wanted.size(), st);
  return fresh;
}

// Whether DNS is to be taken as down for the rest of the run after a lookup, said once.
void Enricher::NoteDnsHealth(const ResolveOutcome& resolved, const DnsTally& t, std::size_t wanted,
                             LookupStats& st) {
  std::lock_guard lock(memory_mutex_);
  failures_in_a_row_ = t.failed == t.asked ? failures_in_a_row_ + t.failed : 0;
  if (t.timed_out < t.asked) any_reply_ = true;
  // Not one reply from the nameservers in this run, and every query of this lookup timed out:
  // they are silent (a SERVFAIL is a reply: a broken delegation is not a dead server).
  const bool silent = t.asked > 0 && t.timed_out == t.asked && !any_reply_;
  if (dns_down_) return;
  if (resolved.gave_up || silent || (t.failed == t.asked && t.failed >= kDownAfterAllFailed) ||
      failures_in_a_row_ >= kDownAfterFailures) {
    dns_down_ = true;
    st.warnings.push_back(fmt::format(
        "{} ({}; {} queries failed, none answered): the rest of this run resolves "
        "no names; run `dmarc-report enrich` on the store when DNS works to fill them in",
        kDnsDownWarning, t.detail, std::max(failures_in_a_row_, t.failed)));
  } else if (!resolved.stopped.empty() && !(cancel_ && cancel_->load())) {
    st.warnings.push_back(fmt::format(
        "reverse DNS stopped after {} s (dns_max_seconds): {} of {} addresses left without a name",
        options_.dns_max_seconds, wanted - t.asked, wanted));
  }
}

std::unordered_map<std::string, IpInfo> Enricher::Lookup(const std::vector<std::string>& ips,
                                                         DnsCache* cache, std::int64_t now,
                                                         LookupStats* stats) {
  LookupStats local;
  LookupStats& st = stats ? *stats : local;
  const auto canonical = DistinctAddresses(ips);
  st.addresses += canonical.size();

  Answers answers;
  if (!options_.offline) {
    std::vector<std::string> wanted;
    {
      std::lock_guard lock(memory_mutex_);
      std::unordered_set<std::string> seen;
      for (const auto& [given, canon] : canonical) {
        if (!canon || !seen.insert(*canon).second) continue;
        if (auto it = memory_.find(*canon); it != memory_.end() && it->second.expires_at > now) {
          answers.emplace(*canon, it->second);
        } else {
          wanted.push_back(*canon);
        }
      }
    }
    st.cache_hits += answers.size();
    ReadDnsCache(cache, now, wanted, answers, st);
    std::vector<CachedDns> fresh = Resolve(std::move(wanted), now, st);
    for (const auto& c : fresh) answers.emplace(c.ip, c);
    if (!fresh.empty()) {
      if (cache) {
        if (auto r = cache->Put(fresh); !r) {
          st.warnings.push_back("DNS cache not written: " + r.error());
        }
      }
      std::lock_guard lock(memory_mutex_);
      if (memory_.size() + fresh.size() > kMaxMemoryEntries) memory_.clear();
      for (auto& c : fresh) memory_[c.ip] = std::move(c);
    }
  }

  std::unordered_map<std::string, IpInfo> out;
  out.reserve(canonical.size());
  for (const auto& [given, canon] : canonical) {
    IpInfo info = DescribeAddress(given, canon, answers, *geoip_, *services_);
    if (!info.resolved || info.status == DnsStatus::kFailed) ++st.unresolved;
    out.emplace(given, std::move(info));
  }
  return out;
}

LookupStats Enricher::EnrichSources(const std::vector<model::Source*>& sources, DnsCache* cache,
                                    std::int64_t now) {
  std::vector<std::string> ips;
  ips.reserve(sources.size());
  for (const auto* s : sources) ips.push_back(s->ip_address);
  LookupStats stats;
  const auto infos = Lookup(ips, cache, now, &stats);
  for (auto* s : sources) {
    if (auto it = infos.find(s->ip_address); it != infos.end()) Apply(it->second, *s);
  }
  return stats;
}

LookupStats Enricher::EnrichReports(const std::vector<model::AggregateReport*>& reports,
                                    DnsCache* cache, std::int64_t now,
                                    const std::vector<model::FailureReport*>& failures) {
  std::vector<model::Source*> sources;
  for (auto* r : reports) {
    for (auto& rec : r->records) sources.push_back(&rec.source);
  }
  for (auto* f : failures) sources.push_back(&f->source);
  return EnrichSources(sources, cache, now);
}

void Apply(const IpInfo& info, model::Source& source) {
  const std::string ip = std::move(source.ip_address);
  source = info.source;
  source.ip_address = ip;
}

}  // namespace dmarc::enrich
