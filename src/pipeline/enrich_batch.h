// Enrichment of a batch about to be stored (import, fetch), with the store as the DNS cache.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
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

// What one pass over the stored records came to.
struct StoredEnrichment {
  std::size_t addresses = 0;  // distinct addresses selected
  std::size_t records = 0;    // records whose source fields were set
  std::size_t answered = 0;   // addresses with their DNS answer (a name or none)
  bool stopped = false;       // *stop was set before the last round
  enrich::LookupStats stats;
};

// Fills in the source fields of stored records never enriched from DNS or enriched before the
// cache TTL (`enrich`, and `run`'s background enrichment), one lookup's budget of addresses
// (dns_max_addresses) at a time. The records of an address that got its DNS answer (a name, or
// none) are marked enriched at `now`; those of the others (a failure, not asked: DNS down, offline,
// over the time budget) get what the local databases know and stay selected for a later pass,
// and records named before keep their name. Stops between rounds once *stop is set;
// `round_done(done, total)` after each round.
Result<StoredEnrichment> EnrichStoredRecords(
    enrich::Enricher& enricher, store::ReportStore& st, std::int64_t now,
    const std::atomic<bool>* stop = nullptr,
    const std::function<void(std::size_t, std::size_t)>& round_done = {});

}  // namespace dmarc::pipeline
