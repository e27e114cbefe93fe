// Enrichment wiring for parse, import and enrich: the command-line options, the store as the
// DNS cache, and the `enrich --db` command.
#pragma once

#include <memory>
#include <string>

#include "enrich/enrich.h"
#include "store/store.h"

namespace dmarc::app {

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

// The Enricher for these options, or nullptr when enrichment is off; prints why and sets
// *failed when the options or files are unusable.
std::unique_ptr<enrich::Enricher> MakeEnricher(const enrich::Options& options, bool* failed);

// Prints each distinct warning of a lookup once per run.
void PrintWarnings(const enrich::LookupStats& stats);

// Enriches the reports of a batch about to be stored (import, fetch), failure reports' sources
// too: the reports the store
// already has are duplicates and are skipped; the others' distinct addresses are looked up at
// once, the store's cache first, then DNS. Adds to *total and prints warnings. Returns the value
// for Batch::sources_enriched_at: `now` when every address got its DNS answer, else 0 (so
// `enrich --db` picks the records up again).
std::int64_t EnrichBeforeStore(enrich::Enricher& enricher, store::ReportStore& st,
                               const std::vector<model::AggregateReport*>& reports,
                               const std::vector<model::FailureReport*>& failures, std::int64_t now,
                               enrich::LookupStats* total);

struct EnrichCommandOptions {
  std::string db;
  enrich::Options enrich;
  bool quiet = false;
};

// `dmarc-report enrich --db URL`: fills in the source fields of stored records never enriched
// from DNS or enriched longer ago than the cache TTL. 0 on success, 2 on errors.
int RunEnrich(const EnrichCommandOptions& options);

}  // namespace dmarc::app
