// The Enricher of the options and its warnings, shared by parse, import, fetch and enrich. Its
// diagnostics go through the logger (level, time, file and syslog sinks where configured).
#include "app/enrichment.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <mutex>
#include <set>

#include "base/text.h"

namespace dmarc::app {

std::unique_ptr<enrich::Enricher> MakeEnricher(const enrich::Options& options, bool* failed) {
  *failed = false;
  if (!options.enabled) return nullptr;
  auto e = enrich::Enricher::Create(options);
  if (!e) {
    spdlog::error("enrichment: {}", e.error());
    *failed = true;
    return nullptr;
  }
  if ((*e)->geoip_files().empty()) {
    spdlog::warn(
        "enrichment: no country database found (install it with scripts/install-deps.sh or give "
        "--geoip-db); country stays empty");
  }
  return std::move(e).value();
}

void PrintWarnings(const enrich::LookupStats& stats) {
  static std::mutex mutex;
  static std::set<std::string> printed;
  std::lock_guard lock(mutex);
  for (const auto& w : stats.warnings) {
    // Host names come from DNS answers: escaped like every value from outside.
    if (printed.insert(w).second) spdlog::warn("enrichment: {}", EscapeControls(w));
  }
}

}  // namespace dmarc::app
