// The Enricher of the options and its warnings, shared by parse, import, fetch and enrich.
#include "app/enrichment.h"

#include <fmt/format.h>

#include <mutex>
#include <set>

#include "base/text.h"

namespace dmarc::app {

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
    // Host names come from DNS answers: escaped like every value from outside.
    if (printed.insert(w).second) fmt::print(stderr, "enrichment: {}\n", EscapeControls(w));
  }
}

}  // namespace dmarc::app
