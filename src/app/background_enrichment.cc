#include "app/background_enrichment.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>

#include "app/enrichment.h"
#include "app/progress.h"
#include "metrics/metrics.h"
#include "pipeline/enrich_batch.h"

namespace dmarc::app {

BackgroundEnrichment::BackgroundEnrichment(StoreTarget target, const enrich::Options& options,
                                           Timing timing)
    : target_(std::move(target)), options_(options), timing_(timing) {
  options_.dns_deferred = false;
  thread_ = std::thread([this] { Loop(); });
}

BackgroundEnrichment::~BackgroundEnrichment() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cancel_ = true;
  wake_.notify_all();
  thread_.join();
}

void BackgroundEnrichment::Wake() {
  {
    std::lock_guard lock(mutex_);
    pending_ = true;
  }
  wake_.notify_all();
}

std::size_t BackgroundEnrichment::Pass(store::ReportStore& st) {
  // A new Enricher each pass: DNS found down in one pass is asked again in the next.
  auto enricher = enrich::Enricher::Create(options_);
  if (!enricher) {
    spdlog::default_logger()->error("enrichment: {}", enricher.error());
    return 0;
  }
  (*enricher)->SetCancel(&cancel_);
  const auto start = std::chrono::steady_clock::now();
  auto done = pipeline::EnrichStoredRecords(
      **enricher, st, static_cast<std::int64_t>(std::time(nullptr)), &cancel_);
  if (!done) {
    spdlog::default_logger()->error("enrichment: {}: {}", st.Describe(), done.error());
    return 0;
  }
  // DNS found down is said below, with when it is asked again (not "for the rest of the run").
  auto& warnings = done->stats.warnings;
  warnings.erase(
      std::remove_if(warnings.begin(), warnings.end(),
                     [](const std::string& w) { return w.rfind(enrich::kDnsDownWarning, 0) == 0; }),
      warnings.end());
  PrintWarnings(done->stats);
  auto& m = metrics::Program();
  m.dns_lookups.Add({}, static_cast<double>(done->stats.queried));
  m.dns_cache_hits.Add({}, static_cast<double>(done->stats.cache_hits));
  if (done->stats.queried > 0) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    spdlog::default_logger()->info(
        "enrichment: {} of {} address(es) resolved in {} ({} named, {} without a name, {} failed); "
        "{} record(s) updated",
        done->answered, done->addresses, FormatDuration(seconds), done->stats.names,
        done->stats.no_names, done->stats.failures, done->records);
  }
  return done->stopped ? 0 : done->stats.not_asked;
}

void BackgroundEnrichment::Loop() {
  auto db = target_.Open();
  if (!db) {
    spdlog::default_logger()->error("enrichment: {}", db.error());
    return;
  }
  auto retry = timing_.retry;
  auto not_before = std::chrono::steady_clock::now();
  std::unique_lock lock(mutex_);
  while (!stop_) {
    const auto now = std::chrono::steady_clock::now();
    if (pending_ && now >= not_before) {
      pending_ = false;
      lock.unlock();
      const std::size_t waiting = Pass(**db);
      lock.lock();
      if (waiting == 0) {
        retry = timing_.retry;
        not_before = std::chrono::steady_clock::now();
      } else {
        // What is left is asked again later, new records or not.
        not_before = std::chrono::steady_clock::now() + retry;
        spdlog::default_logger()->warn(
            "enrichment: DNS does not answer; {} address(es) wait for their names, asked again "
            "in {} s (the reports are stored; `dmarc-report enrich` fills them in too)",
            waiting, retry.count());
        retry = std::min(timing_.max_retry, retry * 2);
        pending_ = true;
      }
      continue;
    }
    const auto until = pending_ ? not_before : now + timing_.recheck;
    if (!wake_.wait_until(lock, until, [&] {
          return stop_ || (pending_ && std::chrono::steady_clock::now() >= not_before);
        })) {
      pending_ = true;  // the hourly recheck, or the retry time has come
    }
  }
}

}  // namespace dmarc::app
