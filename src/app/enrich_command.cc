// `dmarc-report enrich --db URL`: fills in the source fields of stored records.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <ctime>

#include "app/cli.h"
#include "app/enrichment.h"
#include "app/progress.h"
#include "pipeline/enrich_batch.h"

namespace dmarc::app {

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
  auto done = pipeline::EnrichStoredRecords(*enricher, st, now);
  if (!done) {
    spdlog::error("{}: {}", st.Describe(), done.error());
    return 2;
  }
  PrintWarnings(done->stats);
  if (!options.quiet) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const auto& total = done->stats;
    fmt::print(
        stderr,
        "{} address(es) in {}: {} record(s) updated; {} from the cache, {} looked up ({} named, "
        "{} without a name, {} failed){}\n",
        done->addresses, FormatDuration(seconds), done->records, total.cache_hits, total.queried,
        total.names, total.no_names, total.failures,
        done->answered < done->addresses
            ? fmt::format("; {} left for a later run", done->addresses - done->answered)
            : "");
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
