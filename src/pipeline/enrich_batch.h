// Enrichment of a batch about to be stored (import, fetch), with the store as the DNS cache.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "enrich/enrich.h"
#include "model/aggregate.h"
#include "model/failure.h"
#include "store/store.h"

namespace dmarc::pipeline {

// The store's ip_info_cache as enrichment's DNS cache.
class StoreDnsCache : public enrich::DnsCache {
 public:
  explicit StoreDnsCache(store::ReportStore& st) : store_(st) {}
  Result<std::vector<enrich::CachedDns>> Get(const std::vector<std::string>& ips,
                                             std::int64_t now) override;
  Result<bool> Put(const std::vector<enrich::CachedDns>& entries) override;

 private:
  store::ReportStore& store_;
};

// Adds the counts and warnings of one lookup to a total.
void Accumulate(const enrich::LookupStats& s, enrich::LookupStats& total);

// Enriches the reports of a batch about to be stored, failure reports' sources too: the reports
// the store already has are duplicates and are skipped; the others' distinct addresses are looked
// up at once, the store's cache first, then DNS. Adds to *total (warnings included: the caller
// shows them). Returns the value for Batch::sources_enriched_at: `now` when every address got its
// DNS answer, else 0 (so `enrich --db` picks the records up again).
// With `enriched` (the workers enriched them offline: InputResult::enriched), only the addresses
// are recorded.
std::int64_t EnrichBeforeStore(enrich::Enricher& enricher, store::ReportStore& st,
                               const std::vector<model::AggregateReport*>& reports,
                               const std::vector<model::FailureReport*>& failures, std::int64_t now,
                               enrich::LookupStats* total, bool enriched = false);

}  // namespace dmarc::pipeline
