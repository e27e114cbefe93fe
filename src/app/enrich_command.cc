// `dmarc-report enrich --db URL`: fills in the source fields of stored records.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <ctime>

#include "app/cli.h"
#include "app/enrichment.h"
#include "app/progress.h"
#include "pipeline/enrich_batch.h"

namespace dmarc::app {

namespace {

constexpr std::size_t kAddressesPerRound = 10'000;  // addresses looked up and stored at once

}  // namespace

int RunEnrich(const EnrichCommandOptions& options) {
  UseTerminalLogger("enrich", false);
  bool failed = false;
  enrich::Options eo = options.enrich;
  eo.enabled = true;
  auto enricher = MakeEnricher(eo, &failed);
  if (!enricher) return 2;
  auto db = OpenStoreOrSay(options.store, Access::kUpdate);
  if (!db) return 2;
  store::ReportStore& st = *db;
  const auto start = std::chrono::steady_clock::now();
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  const std::int64_t stale_before = now - eo.dns_cache_ttl_seconds;
  auto ips = st.SourceIpsToEnrich(stale_before);
  if (!ips) {
    fmt::print(stderr, "{}: {}\n", st.Describe(), ips.error());
    return 2;
  }
  pipeline::StoreDnsCache cache(st);
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
    pipeline::Accumulate(stats, total);
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

// ---- The command line of `enrich`. ----

namespace {

EnrichCommandOptions& EnrichState() {
  static EnrichCommandOptions state;
  return state;
}

}  // namespace

void AddEnrichCommandOptions(CLI::App& cmd) {
  EnrichCommandOptions& enrich = EnrichState();
  AddStoreOptions(cmd, enrich.store);
  cmd.add_flag("-q,--quiet", enrich.quiet, "No summary");
  AddEnrichOptions(cmd, enrich.enrich, false);
}

int RunEnrichCommand() { return RunEnrich(EnrichState()); }

}  // namespace dmarc::app
