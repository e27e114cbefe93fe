#include "app/enrichment.h"

#include <fmt/format.h>

#include <chrono>
#include <ctime>
#include <map>
#include <mutex>
#include <set>

#include "app/progress.h"

namespace dmarc::app {

namespace {

constexpr std::size_t kAddressesPerRound = 10'000;  // addresses looked up and stored at once

void Accumulate(const enrich::LookupStats& s, enrich::LookupStats& total) {
  total.addresses += s.addresses;
  total.cache_hits += s.cache_hits;
  total.queried += s.queried;
  total.names += s.names;
  total.no_names += s.no_names;
  total.failures += s.failures;
  total.unresolved += s.unresolved;
}

}  // namespace

Result<std::vector<enrich::CachedDns>> StoreDnsCache::Get(const std::vector<std::string>& ips,
                                                          std::int64_t now) {
  auto rows = store_.GetIpInfo(ips, now);
  if (!rows) return MakeError(rows.error());
  std::vector<enrich::CachedDns> out;
  out.reserve(rows->size());
  for (auto& r : *rows) {
    const auto status = enrich::ParseDnsStatus(r.status);
    if (!status) continue;  // written by a newer program: ask again
    out.push_back(
        {std::move(r.ip), *status, std::move(r.reverse_dns), r.resolved_at, r.expires_at});
  }
  return out;
}

Result<bool> StoreDnsCache::Put(const std::vector<enrich::CachedDns>& entries) {
  std::vector<store::IpInfoRow> rows;
  rows.reserve(entries.size());
  for (const auto& e : entries) {
    store::IpInfoRow r;
    r.ip = e.ip;
    r.status = std::string(enrich::ToString(e.status));
    r.reverse_dns = e.reverse_dns;
    r.resolved_at = e.resolved_at;
    r.expires_at = e.expires_at;
    rows.push_back(std::move(r));
  }
  return store_.PutIpInfo(rows);
}

std::unique_ptr<enrich::Enricher> MakeEnricher(const enrich::Options& options, bool* failed) {
  *failed = false;
  if (!options.enabled) return nullptr;
  auto e = enrich::Enricher::Create(options);
  if (!e) {
    fmt::print(stderr, "enrichment: {}\n", e.error());
    *failed = true;
    return nullptr;
  }
  if ((*e)->geoip_files().empty()) {
    fmt::print(stderr,
               "enrichment: no country database found (install it with scripts/install-deps.sh "
               "or give --geoip-db); country stays empty\n");
  }
  return std::move(e).value();
}

void PrintWarnings(const enrich::LookupStats& stats) {
  static std::mutex mutex;
  static std::set<std::string> printed;
  std::lock_guard lock(mutex);
  for (const auto& w : stats.warnings) {
    if (printed.insert(w).second) fmt::print(stderr, "enrichment: {}\n", w);
  }
}

std::int64_t EnrichBeforeStore(enrich::Enricher& enricher, store::ReportStore& st,
                               const std::vector<model::AggregateReport*>& reports,
                               const std::vector<model::FailureReport*>& failures, std::int64_t now,
                               enrich::LookupStats* total) {
  const auto stored = st.AggregatesStored({reports.begin(), reports.end()});
  std::vector<model::AggregateReport*> fresh;
  for (std::size_t i = 0; i < reports.size(); ++i) {
    if (!stored || !(*stored)[i]) fresh.push_back(reports[i]);
  }
  StoreDnsCache cache(st);
  enrich::LookupStats s = enricher.EnrichReports(fresh, &cache, now, failures);
  // Per address, what the dashboard shows of it (base domain, country, ASN).
  std::map<std::string, const model::Source*> distinct;
  for (const auto* r : fresh) {
    for (const auto& rec : r->records) distinct.emplace(rec.source.ip_address, &rec.source);
  }
  for (const auto* f : failures) distinct.emplace(f->source.ip_address, &f->source);
  std::vector<model::Source> sources;
  sources.reserve(distinct.size());
  for (const auto& [ip, src] : distinct) sources.push_back(*src);
  if (auto put = st.PutSourceInfo(sources); !put) {
    s.warnings.push_back("cannot record address details: " + put.error());
  }
  PrintWarnings(s);
  Accumulate(s, *total);
  return s.unresolved == 0 ? now : 0;
}

int RunEnrich(const EnrichCommandOptions& options) {
  bool failed = false;
  enrich::Options eo = options.enrich;
  eo.enabled = true;
  auto enricher = MakeEnricher(eo, &failed);
  if (!enricher) return 2;
  auto db = store::OpenStore(options.db, store::OpenOptions{});
  if (!db) {
    fmt::print(stderr, "{}\n", db.error());
    return 2;
  }
  store::ReportStore& st = **db;
  const auto start = std::chrono::steady_clock::now();
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  const std::int64_t stale_before = now - eo.dns_cache_ttl_seconds;
  auto ips = st.SourceIpsToEnrich(stale_before);
  if (!ips) {
    fmt::print(stderr, "{}: {}\n", st.Describe(), ips.error());
    return 2;
  }
  StoreDnsCache cache(st);
  enrich::LookupStats total;
  std::size_t records = 0;
  for (std::size_t begin = 0; begin < ips->size(); begin += kAddressesPerRound) {
    const std::size_t end = std::min(ips->size(), begin + kAddressesPerRound);
    const std::vector<std::string> round(ips->begin() + static_cast<std::ptrdiff_t>(begin),
                                         ips->begin() + static_cast<std::ptrdiff_t>(end));
    enrich::LookupStats stats;
    auto infos = enricher->Lookup(round, &cache, now, &stats);
    PrintWarnings(stats);
    std::vector<model::Source> sources;
    sources.reserve(infos.size());
    for (auto& [ip, info] : infos) sources.push_back(std::move(info.source));
    if (auto put = st.PutSourceInfo(sources); !put) {
      fmt::print(stderr, "{}: {}\n", st.Describe(), put.error());
      return 2;
    }
    // Offline, the records get what the local databases know but stay selected for DNS.
    auto changed = st.UpdateSources(sources, eo.offline ? 0 : now, stale_before);
    if (!changed) {
      fmt::print(stderr, "{}: {}\n", st.Describe(), changed.error());
      return 2;
    }
    records += *changed;
    Accumulate(stats, total);
  }
  if (!options.quiet) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    fmt::print(stderr,
               "{} address(es) in {}: {} record(s) updated; {} from the cache, {} looked up "
               "({} named, {} without a name, {} failed)\n",
               ips->size(), FormatDuration(seconds), records, total.cache_hits, total.queried,
               total.names, total.no_names, total.failures);
  }
  return 0;
}

}  // namespace dmarc::app
