// Enrichment wiring for parse, import, fetch and enrich: the Enricher of the options and its
// warnings on standard error (enrichment.cc), and the `enrich --db` command (enrich_command.cc).
#pragma once

#include <memory>
#include <string>

#include "app/store_target.h"
#include "enrich/enrich.h"
#include "store/store.h"

namespace dmarc::app {

// The Enricher for these options, or nullptr when enrichment is off; prints why and sets
// *failed when the options or files are unusable.
std::unique_ptr<enrich::Enricher> MakeEnricher(const enrich::Options& options, bool* failed);

// Prints each distinct warning of a lookup once per run.
void PrintWarnings(const enrich::LookupStats& stats);

struct EnrichCommandOptions {
  StoreArgs store;
  enrich::Options enrich;
  bool quiet = false;
};

// `dmarc-report enrich --db URL`: fills in the source fields of stored records never enriched
// from DNS or enriched longer ago than the cache TTL. 0 on success, 2 on errors.
int RunEnrich(const EnrichCommandOptions& options);

}  // namespace dmarc::app
