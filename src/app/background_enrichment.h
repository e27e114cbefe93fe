// Store first, enrich after: `run` (and `fetch --watch`) store each batch with what the caches
// and the local databases know, and this thread fills in the reverse-DNS names afterwards, with
// its own store connection, so that a slow or silent nameserver never holds back a report, a
// mail's acknowledgement or a stop.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "app/store_target.h"
#include "enrich/enrich.h"

namespace dmarc::app {

class BackgroundEnrichment {
 public:
  // Starts the thread: a first pass at once (records left by earlier runs), then one after each
  // Wake(), and one every `recheck` for names past the cache TTL. After a pass that found DNS
  // down, the next waits `retry` (doubling up to `max_retry`), wakes or not.
  struct Timing {
    std::chrono::seconds recheck{3600};
    std::chrono::seconds retry{60};
    std::chrono::seconds max_retry{1800};
  };
  BackgroundEnrichment(StoreTarget target, const enrich::Options& options, Timing timing);
  BackgroundEnrichment(StoreTarget target, const enrich::Options& options)
      : BackgroundEnrichment(std::move(target), options, Timing{}) {}
  // Cancels a pass in progress (its lookups stop within ~200 ms) and joins the thread.
  ~BackgroundEnrichment();
  BackgroundEnrichment(const BackgroundEnrichment&) = delete;
  BackgroundEnrichment& operator=(const BackgroundEnrichment&) = delete;

  // New records were stored without some names: a pass soon (at once, unless DNS was found down).
  void Wake();

 private:
  void Loop();
  // One pass; returns the count of addresses not asked (DNS found down, over the time budget):
  // 0 when every address was answered or failed on its own.
  std::size_t Pass(store::ReportStore& st);

  StoreTarget target_;
  enrich::Options options_;
  Timing timing_;
  std::atomic<bool> cancel_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;    // guarded by mutex_
  bool pending_ = true;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace dmarc::app
