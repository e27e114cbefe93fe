// Runs work(i) for i in [0, n) on a pool of threads and hands each result to emit() in index
// order on the calling thread. What waits to be emitted is bounded by BYTES, not by count: each
// result weighs weigh(result), and no worker takes a new input while the results waiting weigh
// max_bytes or more. So workers run as far ahead as they like while what waits is small (one big
// input among thousands of small ones no longer holds the others back), and stop when it is not.
// A result heavier than max_bytes still passes: the input next in order is always already taken
// (inputs are taken in order), so it never waits for room, and once it is emitted the room is
// back. Waiting workers and the emitting thread sleep on condition variables (no spinning). With
// one worker, the sleeping emitter is woken once per few results (up to 16, while they hold less
// than half of max_bytes, and always before the worker stops), not once per result.
//
// Memory held: the results waiting and the one being emitted (< max_bytes + one result per
// worker: each may finish the input it took while there was room) + the inputs being worked on.
// max_pending bounds the bookkeeping only (inputs taken and not yet emitted).
//
// With a spill function, workers do not wait for bytes at all: a result that would take what
// waits past max_bytes (and is not the next to emit) is handed to spill() by the worker that made
// it, which moves its bytes out of memory (parse: into a temporary file), and is weighed again.
// So one slow input among many small ones holds back nothing but max_pending, and memory stays
// at the budget (+ one result per worker).
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

namespace dmarc::pipeline {

inline constexpr std::size_t kOrderedMaxPending = 4096;

namespace detail {

// The state RunOrdered's threads share.
template <class T>
class OrderedQueue {
 public:
  OrderedQueue(std::size_t n, std::size_t max_bytes, std::size_t max_pending, bool spills,
               bool one_worker)
      : n_(n),
        max_bytes_(max_bytes),
        max_pending_(std::max<std::size_t>(1, max_pending)),
        spills_(spills),
        one_worker_(one_worker) {}

  // The next input for a worker, or nothing once all are taken. Waits while max_pending inputs
  // are taken and not emitted, or (results not spilled) while the results waiting weigh
  // max_bytes or more.
  std::optional<std::size_t> Claim() {
    std::unique_lock lock(mu_);
    // Results whose wake-up was put off: the emitting thread is woken before this worker
    // stops, for lack of room or of inputs.
    if (deferred_ > 0 && (next_ >= n_ || Full())) {
      deferred_ = 0;
      result_ready_.notify_one();
    }
    while (next_ < n_ && Full()) {
      ++sleeping_workers_;
      room_.wait(lock);
      --sleeping_workers_;
    }
    if (next_ >= n_) return std::nullopt;
    return next_++;
  }

  // Whether result i of this weight, kept, would take what waits past the budget (the next to
  // emit never does: it does not wait).
  bool WouldOverflow(std::size_t i, std::size_t weight) {
    std::lock_guard lock(mu_);
    return i != emitted_ && held_ + weight > max_bytes_;
  }

  void Put(std::size_t i, T&& result, std::size_t weight) {
    bool wake;
    {
      std::lock_guard lock(mu_);
      ready_.emplace(i, std::make_pair(std::move(result), weight));
      held_ += weight;
      wake = i == emitted_ || deferred_ > 0;
      // One worker puts its results in order: while the emitting thread sleeps, its wake-up
      // waits for a few more results (at most kDeferredWakes, half the byte budget, or until
      // the worker stops in Claim), which it then emits in one go. A wake-up per small input
      // (a futex call and two context switches) was ~5 % of `parse -j 1`.
      if (wake && one_worker_ && emitter_sleeping_ && deferred_ + 1 < kDeferredWakes &&
          held_ < max_bytes_ / 2) {
        ++deferred_;
        wake = false;
      } else if (wake) {
        deferred_ = 0;
      }
    }
    // Only the emitting thread can go on, and only if this is the result it waits for: a
    // wake-up per input per thread is measurable when inputs are small.
    if (wake) result_ready_.notify_one();
  }

  // The result of input `emitted_`, once it is there.
  T Take() {
    std::unique_lock lock(mu_);
    emitter_sleeping_ = true;
    result_ready_.wait(lock, [&] { return ready_.count(emitted_) > 0; });
    emitter_sleeping_ = false;
    auto it = ready_.find(emitted_);
    T item = std::move(it->second.first);
    emitting_weight_ = it->second.second;
    ready_.erase(it);
    return item;
  }

  // After the result taken has been emitted (until then, it is counted as held).
  void Emitted() {
    bool wake;
    {
      std::lock_guard lock(mu_);
      held_ -= emitting_weight_;
      ++emitted_;
      wake = sleeping_workers_ > 0 && !Full();
    }
    if (wake) room_.notify_all();
  }

 private:
  // Under mu_. Bytes block only while some result is held (waits or is being emitted): with
  // none, the next input may be taken whatever max_bytes is (0 included). They never block when
  // results spill.
  bool Full() const {
    return next_ - emitted_ >= max_pending_ ||
           (!spills_ && next_ > emitted_ && held_ >= max_bytes_);
  }

  static constexpr std::size_t kDeferredWakes = 16;

  const std::size_t n_, max_bytes_, max_pending_;
  const bool spills_, one_worker_;
  bool emitter_sleeping_ = false;  // in Take, waiting for a result
  std::size_t deferred_ = 0;       // results put since the sleeping emitter's wake-up was due
  std::mutex mu_;
  std::condition_variable result_ready_;                    // the emitting thread waits here
  std::condition_variable room_;                            // workers wait here while Full()
  std::map<std::size_t, std::pair<T, std::size_t>> ready_;  // results and their weights
  std::size_t held_ = 0;             // weight of the results in ready_ and of the one emitted
  std::size_t emitting_weight_ = 0;  // of the result being emitted
  std::size_t next_ = 0;             // next input to take
  std::size_t emitted_ = 0;          // next input to emit
  unsigned sleeping_workers_ = 0;
};

}  // namespace detail

// weigh: the bytes a result holds (nullptr: every result weighs nothing, and only max_pending
// bounds what waits). spill: see above (nullptr: workers wait for room instead).
template <class T>
void RunOrdered(std::size_t n, unsigned threads, const std::function<T(std::size_t)>& work,
                const std::function<void(std::size_t, T&&)>& emit,
                const std::function<std::size_t(const T&)>& weigh, std::size_t max_bytes,
                std::size_t max_pending = kOrderedMaxPending,
                const std::function<void(T&)>& spill = nullptr) {
  threads = std::max(1u, threads);
  const bool spills = spill && weigh;
  detail::OrderedQueue<T> queue(n, max_bytes, std::max<std::size_t>(max_pending, threads), spills,
                                threads == 1);
  auto worker = [&] {
    while (const std::optional<std::size_t> i = queue.Claim()) {
      T result = work(*i);
      std::size_t weight = weigh ? weigh(result) : 0;
      if (spills && queue.WouldOverflow(*i, weight)) {
        spill(result);
        weight = weigh(result);
      }
      queue.Put(*i, std::move(result), weight);
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (unsigned t = 0; t < threads; ++t) pool.emplace_back(worker);
  for (std::size_t i = 0; i < n; ++i) {
    emit(i, queue.Take());
    queue.Emitted();
  }
  for (auto& t : pool) t.join();
}

}  // namespace dmarc::pipeline
