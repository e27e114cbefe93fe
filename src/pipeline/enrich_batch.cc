#include "pipeline/enrich_batch.h"

#include <algorithm>
#include <map>

namespace dmarc::pipeline {

void Accumulate(const enrich::LookupStats& s, enrich::LookupStats& total) {
  total.addresses += s.addresses;
  total.cache_hits += s.cache_hits;
  total.queried += s.queried;
  total.names += s.names;
  total.no_names += s.no_names;
  total.failures += s.failures;
  total.unresolved += s.unresolved;
  total.not_asked += s.not_asked;
  total.warnings.insert(total.warnings.end(), s.warnings.begin(), s.warnings.end());
}

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

std::int64_t EnrichBeforeStore(enrich::Enricher& enricher, store::ReportStore& st,
                               const std::vector<model::AggregateReport*>& reports,
                               const std::vector<model::FailureReport*>& failures, std::int64_t now,
                               enrich::LookupStats* total, bool enriched) {
  const auto stored = st.AggregatesStored({reports.begin(), reports.end()});
  std::vector<model::AggregateReport*> fresh;
  for (std::size_t i = 0; i < reports.size(); ++i) {
    if (!stored || !(*stored)[i]) fresh.push_back(reports[i]);
  }
  StoreDnsCache cache(st);
  enrich::LookupStats s;
  if (!enriched) s = enricher.EnrichReports(fresh, &cache, now, failures);
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
  Accumulate(s, *total);  // the workers' lookups: added by the caller
  // Enriched by the workers means offline: no name from DNS.
  return !enriched && s.unresolved == 0 ? now : 0;
}

namespace {

// One round of EnrichStoredRecords: these addresses looked up, their records updated.
Status EnrichRound(enrich::Enricher& enricher, store::ReportStore& st,
                   const std::vector<std::string>& round, std::int64_t now,
                   std::int64_t stale_before, StoredEnrichment& out) {
  StoreDnsCache cache(st);
  enrich::LookupStats stats;
  auto infos = enricher.Lookup(round, &cache, now, &stats);
  std::vector<model::Source> sources, answered, unanswered;
  sources.reserve(infos.size());
  for (auto& [ip, info] : infos) {
    sources.push_back(info.source);
    const bool has_answer = info.resolved && info.status != enrich::DnsStatus::kFailed;
    (has_answer ? answered : unanswered).push_back(std::move(info.source));
  }
  if (auto put = st.PutSourceInfo(sources); !put) return MakeError(put.error());
  auto named = st.UpdateSources(answered, now, stale_before);
  if (!named) return MakeError(named.error());
  // Only records never enriched: a stale name stays until an answer replaces it.
  auto kept = st.UpdateSources(unanswered, 0, 1);
  if (!kept) return MakeError(kept.error());
  out.records += *named + *kept;
  out.answered += answered.size();
  Accumulate(stats, out.stats);
  return Ok();
}

}  // namespace

Result<StoredEnrichment> EnrichStoredRecords(
    enrich::Enricher& enricher, store::ReportStore& st, std::int64_t now,
    const std::atomic<bool>* stop,
    const std::function<void(std::size_t, std::size_t)>& round_done) {
  const std::int64_t stale_before = now - enricher.options().dns_cache_ttl_seconds;
  auto ips = st.SourceIpsToEnrich(stale_before);
  if (!ips) return MakeError(ips.error());
  StoredEnrichment out;
  out.addresses = ips->size();
  const std::size_t per_round = std::max<std::size_t>(1, enricher.options().dns_max_addresses);
  for (std::size_t begin = 0; begin < ips->size(); begin += per_round) {
    if (stop && stop->load()) {
      out.stopped = true;
      break;
    }
    const std::size_t end = std::min(ips->size(), begin + per_round);
    const std::vector<std::string> round(ips->begin() + static_cast<std::ptrdiff_t>(begin),
                                         ips->begin() + static_cast<std::ptrdiff_t>(end));
    DMARC_TRY(EnrichRound(enricher, st, round, now, stale_before, out));
    if (round_done) round_done(end, ips->size());
  }
  return out;
}

}  // namespace dmarc::pipeline
