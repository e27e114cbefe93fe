// The outputs of a command ([output.NAME]): made from the configuration, given the store's outbox
// and delivered by the engine (outputs/engine.h) — on a thread of its own for `run` and
// `fetch --watch`, at the end for `fetch` and `import`. See docs/outputs.md.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "app/store_target.h"
#include "base/result.h"
#include "outputs/engine.h"
#include "outputs/settings.h"
#include "store/store.h"

namespace dmarc::app {

class OutputDelivery {
 public:
  // Makes every output (its factory checks its keys: an error names the key) and opens the
  // engine's own store connection. background: deliver on a thread from now on.
  static Result<std::unique_ptr<OutputDelivery>> Start(
      const std::vector<outputs::OutputTable>& tables, const StoreTarget& target, bool background);
  ~OutputDelivery();

  // The names each new report is queued for (ReportStore::SetOutboxOutputs).
  const std::vector<std::string>& Names() const { return names_; }
  bool HasRequired() const { return engine_->HasRequired(); }
  // Something new was queued.
  void Nudge();
  // The check before a batch's mails are filed (IngestOptions::before_filing) when an output is
  // required: its backlog delivered, or an error that keeps the mails.
  std::function<Status()> RequiredGate(const std::atomic<bool>& stop);
  // Without a thread: delivers what is due until every output has nothing waiting or fails (each
  // waits for its retry time). With one: stops it. True when nothing is left waiting.
  bool Finish(const std::atomic<bool>& stop);

  // Delivers output `name`'s backlog now, retrying with backoff until it is empty, or it failed
  // `attempts` times in a row, or stop is set (`export --to`). False when something is left.
  bool DeliverAll(const std::string& name, int attempts, const std::atomic<bool>& stop);

 private:
  OutputDelivery() = default;

  std::unique_ptr<store::ReportStore> store_;
  std::unique_ptr<outputs::Engine> engine_;
  std::vector<std::string> names_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::chrono::steady_clock::time_point gauges_at_;  // when the gauges were last set
};

// The [output.NAME] tables of the configuration a store command reads (its --config, or the
// default configuration when neither --db nor --config is given), with their secrets kept out of
// the log lines. Prints why and returns nullopt on an error.
Result<std::vector<outputs::OutputTable>> ResolveOutputs(const StoreArgs& args);

}  // namespace dmarc::app
