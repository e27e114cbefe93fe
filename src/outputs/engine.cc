#include "outputs/engine.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <ctime>

#include "base/text.h"
#include "outputs/outbox.h"

namespace dmarc::outputs {

namespace {

constexpr std::size_t kMaxErrorBytes = 1000;

std::int64_t WallClock() { return static_cast<std::int64_t>(std::time(nullptr)); }

// An error as kept in the store and shown: valid UTF-8, one line, bounded.
std::string Bounded(std::string s) {
  RepairUtf8(s);
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  if (s.size() <= kMaxErrorBytes) return s;
  std::size_t end = kMaxErrorBytes;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  s.resize(end);
  return s;
}

}  // namespace

Engine::Engine(store::ReportStore& st, std::vector<ConfiguredOutput> outputs, Clock clock)
    : store_(st), clock_(clock ? std::move(clock) : Clock(WallClock)) {
  for (auto& o : outputs) outputs_.push_back({std::move(o)});
}

Status Engine::Load() {
  auto states = store_.QueryOutbox();
  if (!states) return std::move(states).error_value();
  for (auto& s : outputs_) {
    for (const auto& row : *states) {
      if (row.name != s.config.output->Name()) continue;
      s.failures = row.consecutive_failures;
      s.next_attempt_at = row.next_attempt_at;
    }
  }
  return Ok();
}

bool Engine::HasRequired() const {
  for (const auto& s : outputs_) {
    if (s.config.required) return true;
  }
  return false;
}

Attempted Engine::Finish(State& s, Attempted a) {
  if (on_attempt) on_attempt(s.config.output->Name(), a);
  return a;
}

Attempted Engine::Fail(State& s, const std::string& error) {
  s.prepared = false;
  ++s.failures;
  const std::int64_t now = Now();
  s.next_attempt_at = now + RetryDelay(s.config.delivery, s.failures);
  Attempted a{.failed = true, .error = Bounded(error)};
  spdlog::warn("output {}: {} (attempt {} failed; next in {} s)", s.config.output->Name(), a.error,
               s.failures, s.next_attempt_at - now);
  const store::OutboxOutcome o{.now = now, .error = a.error, .next_attempt_at = s.next_attempt_at};
  if (auto r = store_.OutboxSettle(s.config.output->Name(), o); !r) {
    spdlog::error("output {}: cannot record the failure: {}", s.config.output->Name(), r.error());
  }
  return Finish(s, std::move(a));
}

Attempted Engine::Settle(State& s, std::vector<std::int64_t> ids, Attempted a) {
  a.error = Bounded(a.error);
  const store::OutboxOutcome o{.ids = std::move(ids),
                               .now = Now(),
                               .settled = true,
                               .delivered = a.delivered,
                               .dropped = a.dropped,
                               .error = a.error};
  if (auto r = store_.OutboxSettle(s.config.output->Name(), o); !r) {
    // Delivered but not recorded: the next attempt sends these again (outputs are idempotent).
    spdlog::error("output {}: cannot record the delivery: {}", s.config.output->Name(), r.error());
    a.failed = true;
    a.error = r.error();
    return Finish(s, std::move(a));
  }
  s.failures = 0;
  s.next_attempt_at = 0;
  return Finish(s, std::move(a));
}

Attempted Engine::Attempt(std::size_t i) {
  State& s = outputs_[i];
  Output& out = *s.config.output;
  if (!s.prepared) {
    if (auto p = out.Prepare(); !p) return Fail(s, p.error());
    s.prepared = true;
  }
  auto entries =
      store_.OutboxNext(out.Name(), s.config.delivery.batch_size, s.config.delivery.batch_records);
  if (!entries) {
    spdlog::error("output {}: cannot read the outbox: {}", out.Name(), entries.error());
    return {.failed = true, .error = entries.error()};
  }
  if (entries->empty()) return {.empty = true};
  std::vector<Item> items;
  std::vector<std::int64_t> ids;
  for (const auto& e : *entries) {
    if (!e.purged) items.push_back(ItemOf(e));
    ids.push_back(e.id);
  }
  if (items.empty()) return Settle(s, std::move(ids), {});
  Status sent = out.Deliver(items);
  if (sent) return Settle(s, std::move(ids), {.delivered = items.size()});
  if (sent.error_kind() != ErrorKind::kInvalid) return Fail(s, sent.error());
  if (items.size() > 1) return DeliverSingly(s, *entries);
  spdlog::warn("output {}: refused for good, dropped: {}", out.Name(), sent.error());
  return Settle(s, std::move(ids), {.dropped = 1, .error = sent.error()});
}

Attempted Engine::DeliverSingly(State& s, const std::vector<store::OutboxEntry>& entries) {
  Output& out = *s.config.output;
  Attempted a;
  std::vector<std::int64_t> done;  // the entries settled
  for (const auto& e : entries) {
    if (!e.purged) {
      const Item item = ItemOf(e);
      Status sent = out.Deliver(std::span<const Item>(&item, 1));
      if (!sent && sent.error_kind() != ErrorKind::kInvalid) {
        if (!done.empty()) Settle(s, std::move(done), a);
        return Fail(s, sent.error());
      }
      if (sent) {
        ++a.delivered;
      } else {
        spdlog::warn("output {}: refused for good, dropped: {}", out.Name(), sent.error());
        ++a.dropped;
        a.error = sent.error();
      }
    }
    done.push_back(e.id);
  }
  return Settle(s, std::move(done), std::move(a));
}

bool Engine::Drain(bool only_required, bool honor_backoff, const std::atomic<bool>& stop,
                   std::int64_t deadline) {
  bool all_empty = true;
  for (std::size_t i = 0; i < outputs_.size(); ++i) {
    if (only_required && !outputs_[i].config.required) continue;
    for (;;) {
      if (stop || (deadline > 0 && Now() >= deadline) ||
          (honor_backoff && outputs_[i].next_attempt_at > Now())) {
        all_empty = false;
        break;
      }
      const Attempted a = Attempt(i);
      if (a.empty) break;
      if (a.failed) {
        all_empty = false;
        break;
      }
    }
  }
  return all_empty;
}

void Engine::Run(const std::atomic<bool>& stop, int idle_ms) {
  while (!stop) {
    std::uint64_t generation = 0;
    {
      const std::lock_guard lock(mu_);
      generation = requested_;
      nudged_ = false;
    }
    bool busy = false, required_empty = true, required_blocked = false;
    for (std::size_t i = 0; i < outputs_.size() && !stop; ++i) {
      State& s = outputs_[i];
      const bool due = s.next_attempt_at <= Now();
      const Attempted a = due ? Attempt(i) : Attempted{.failed = true};
      if (!a.empty && !a.failed) busy = true;
      if (s.config.required && !a.empty) required_empty = false;
      if (s.config.required && a.failed) required_blocked = true;
    }
    if (on_round) on_round();
    std::unique_lock lock(mu_);
    if ((required_empty || required_blocked) && generation > answered_) {
      answered_ = generation;
      if (required_empty) drained_ = generation;
      drained_cv_.notify_all();
    }
    if (!busy && !nudged_) {
      wake_.wait_for(lock, std::chrono::milliseconds(idle_ms), [&] { return nudged_ || stop; });
    }
  }
  const std::lock_guard lock(mu_);
  drained_cv_.notify_all();
}

void Engine::Nudge() {
  const std::lock_guard lock(mu_);
  nudged_ = true;
  wake_.notify_all();
}

bool Engine::WaitRequiredDelivered(int timeout_ms, const std::atomic<bool>& stop) {
  std::unique_lock lock(mu_);
  const std::uint64_t generation = ++requested_;
  nudged_ = true;
  wake_.notify_all();
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (answered_ < generation && !stop) {
    if (drained_cv_.wait_until(lock, until) == std::cv_status::timeout) break;
  }
  return drained_ >= generation;
}

}  // namespace dmarc::outputs
