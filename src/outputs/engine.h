// The delivery engine: each configured output delivers the store's outbox for it in order, a
// batch at a time, and after a failure waits (exponential backoff, kept in the store so that it
// survives a restart) before trying again. See docs/outputs.md.
//
// Thread-safety: one thread runs Attempt / Drain / Run; Nudge and WaitRequiredDelivered may be
// called from others (the ingest of `run`, which holds mails until required outputs delivered).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/result.h"
#include "outputs/output.h"
#include "outputs/settings.h"
#include "store/store.h"

namespace dmarc::outputs {

struct ConfiguredOutput {
  std::unique_ptr<Output> output;
  DeliverySettings delivery;
  bool required = false;
};

// What one attempt came to.
struct Attempted {
  std::size_t delivered = 0;  // reports the receiver accepted
  std::size_t dropped = 0;    // reports it refused for good (kInvalid)
  bool empty = false;         // nothing was waiting
  bool failed = false;        // the receiver (or the store) failed: try again later
  std::string error;          // the last error, if any
};

class Engine {
 public:
  using Clock = std::function<std::int64_t()>;  // Unix seconds
  // st: a connection of the engine's own (ReportStore is one thread's).
  Engine(store::ReportStore& st, std::vector<ConfiguredOutput> outputs, Clock clock = {});

  // Reads when each output may try next from the store (the backoff survives restarts).
  Status Load();

  std::size_t size() const { return outputs_.size(); }
  const std::string& Name(std::size_t i) const { return outputs_[i].config.output->Name(); }
  bool Required(std::size_t i) const { return outputs_[i].config.required; }
  bool HasRequired() const;
  // When output i may try next (Unix seconds; 0: now).
  std::int64_t NextAttemptAt(std::size_t i) const { return outputs_[i].next_attempt_at; }

  // One attempt of output i now, due or not: a batch read, delivered and settled.
  Attempted Attempt(std::size_t i);

  // Attempts the outputs (only the required ones with only_required) until each has nothing
  // waiting, or has failed once, or is not due (with honor_backoff), or `stop` is set or the
  // clock passes deadline (Unix seconds; 0: none). True when all of them have nothing waiting.
  bool Drain(bool only_required, bool honor_backoff, const std::atomic<bool>& stop,
             std::int64_t deadline = 0);

  // `run`: delivers what is due, round after round, sleeping up to idle_ms when nothing is
  // (or until Nudge), until stop is set.
  void Run(const std::atomic<bool>& stop, int idle_ms = 1000);
  // Wakes Run: something new was queued.
  void Nudge();
  // Blocks until a round of Run that began after this call found every required output with
  // nothing waiting (true), or one of them failing or waiting for its retry, or timeout_ms passed
  // or stop was set (false).
  bool WaitRequiredDelivered(int timeout_ms, const std::atomic<bool>& stop);

  // Called after each attempt (metrics, logs): the output's name and what came of it.
  std::function<void(const std::string&, const Attempted&)> on_attempt;
  // Called by Run after each round, on its thread (which may use the engine's store).
  std::function<void()> on_round;

 private:
  struct State {
    ConfiguredOutput config;
    bool prepared = false;
    std::uint64_t failures = 0;  // in a row
    std::int64_t next_attempt_at = 0;
  };
  std::int64_t Now() const { return clock_(); }
  // Delivers items one at a time after a batch was refused (kInvalid), so that only the reports
  // refused on their own are dropped.
  Attempted DeliverSingly(State& s, const std::vector<store::OutboxEntry>& entries);
  Attempted Fail(State& s, const std::string& error);
  Attempted Settle(State& s, std::vector<std::int64_t> ids, Attempted a);
  Attempted Finish(State& s, Attempted a);

  store::ReportStore& store_;
  std::vector<State> outputs_;
  Clock clock_;

  std::mutex mu_;
  std::condition_variable wake_, drained_cv_;
  // Generations of WaitRequiredDelivered: asked for, answered by a round, found drained.
  std::uint64_t requested_ = 0, answered_ = 0, drained_ = 0;
  bool nudged_ = false;
};

}  // namespace dmarc::outputs
