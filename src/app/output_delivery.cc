#include "app/output_delivery.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <ctime>

#include "log/log.h"
#include "metrics/metrics.h"
#include "outputs/registry.h"

namespace dmarc::app {

namespace {

// How long a batch's mails wait for a required output before they stay for the next poll.
constexpr int kRequiredWaitMs = 30'000;

void CountAttempt(const std::string& name, const outputs::Attempted& a) {
  auto& m = metrics::Program();
  m.output_failures.Add({name}, (a.failed ? 1.0 : 0.0) + static_cast<double>(a.dropped));
  m.output_delivered.Add({name}, static_cast<double>(a.delivered));
}

// The outbox's gauges, from the store (no secret: names, counts and times only).
void SetGauges(store::ReportStore& st) {
  auto states = st.QueryOutbox();
  if (!states) return;
  auto& m = metrics::Program();
  for (const auto& s : *states) {
    m.output_backlog.Set({s.name}, static_cast<double>(s.backlog));
    m.output_failing.Set({s.name}, s.consecutive_failures > 0 ? 1.0 : 0.0);
    m.output_last_success.Set({s.name}, static_cast<double>(s.last_success_at));
  }
}

}  // namespace

Result<std::unique_ptr<OutputDelivery>> OutputDelivery::Start(
    const std::vector<outputs::OutputTable>& tables, const StoreTarget& target, bool background) {
  std::vector<outputs::ConfiguredOutput> made;
  std::unique_ptr<OutputDelivery> d(new OutputDelivery());
  for (const auto& t : tables) {
    auto out = outputs::MakeOutput(t.output);
    if (!out) return std::move(out).error_value();
    made.push_back({std::move(out).value(), t.delivery, t.output.required});
    d->names_.push_back(t.output.name);
  }
  auto st = target.Open();
  if (!st) return std::move(st).error_value();
  d->store_ = std::move(st).value();
  d->engine_ = std::make_unique<outputs::Engine>(*d->store_, std::move(made));
  d->engine_->on_attempt = CountAttempt;
  // After each round of the background thread (its own connection), at most every 5 s.
  d->engine_->on_round = [p = d.get()] {
    const auto now = std::chrono::steady_clock::now();
    if (now - p->gauges_at_ < std::chrono::seconds(5)) return;
    p->gauges_at_ = now;
    SetGauges(*p->store_);
  };
  SetGauges(*d->store_);
  if (Status loaded = d->engine_->Load(); !loaded) return std::move(loaded).error_value();
  if (background && !d->names_.empty()) {
    d->thread_ = std::thread([p = d.get()] { p->engine_->Run(p->stop_); });
  }
  return d;
}

OutputDelivery::~OutputDelivery() {
  stop_ = true;
  if (thread_.joinable()) {
    engine_->Nudge();
    thread_.join();
  }
}

void OutputDelivery::Nudge() {
  if (thread_.joinable()) engine_->Nudge();
}

std::function<Status()> OutputDelivery::RequiredGate(const std::atomic<bool>& stop) {
  if (!engine_->HasRequired()) return {};
  return [this, &stop]() -> Status {
    const bool done = thread_.joinable()
                          ? engine_->WaitRequiredDelivered(kRequiredWaitMs, stop)
                          : engine_->Drain(/*only_required=*/true, /*honor_backoff=*/true, stop);
    if (done) return Ok();
    return MakeError(ErrorKind::kIo,
                     "a required output has not delivered them yet (dmarc-report outputs)");
  };
}

bool OutputDelivery::Finish(const std::atomic<bool>& stop) {
  if (thread_.joinable()) {
    stop_ = true;
    engine_->Nudge();
    thread_.join();
    return true;
  }
  return engine_->Drain(/*only_required=*/false, /*honor_backoff=*/true, stop);
}

bool OutputDelivery::DeliverAll(const std::string& name, int attempts,
                                const std::atomic<bool>& stop) {
  std::size_t index = engine_->size();
  for (std::size_t i = 0; i < engine_->size(); ++i) {
    if (engine_->Name(i) == name) index = i;
  }
  if (index == engine_->size()) return false;
  int failed = 0;
  while (!stop) {
    const std::int64_t wait = engine_->NextAttemptAt(index) - std::time(nullptr);
    if (wait > 0) {
      spdlog::info("output {}: next attempt in {} s", name, wait);
      for (std::int64_t s = 0; s < wait * 10 && !stop; ++s) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      continue;
    }
    const outputs::Attempted a = engine_->Attempt(index);
    if (a.empty) return true;
    if (a.failed && ++failed >= attempts) return false;
    if (!a.failed) failed = 0;
  }
  return false;
}

Result<std::vector<outputs::OutputTable>> ResolveOutputs(const StoreArgs& args) {
  const config::EnvLookup env = config::ProcessEnvironment();
  const std::string file =
      args.config.empty() && args.db.empty() ? config::DefaultConfigPath(env) : args.config;
  std::vector<std::string> secrets, warnings;
  auto tables = config::LoadOutputsConfig(file, env, secrets, warnings);
  if (!tables) return tables;
  for (const auto& w : warnings) spdlog::warn("{}", w);
  if (secrets.empty()) return tables;
  // The logger that keeps secrets out of its lines, with the store's password too (ResolveStore
  // set one up for that alone).
  std::vector<std::string> store_warnings;
  (void)config::LoadStoreConfig(file, env, secrets, store_warnings);
  if (auto logged = log::Setup(log::Options{}, secrets); !logged) {
    return std::move(logged).error_value();
  }
  return tables;
}

}  // namespace dmarc::app
