// Runs work(i) for i in [0, n) on a pool of threads and hands each result to emit() in index
// order on the calling thread. At most `window` results wait to be emitted, so memory stays
// bounded however many inputs there are while every core stays busy. With a `weigh` function,
// no new work starts either while the results waiting weigh max_weight or more (large results
// are held by count and by bytes).
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

namespace dmarc::pipeline {

template <class T>
void RunOrdered(std::size_t n, unsigned threads, std::size_t window,
                const std::function<T(std::size_t)>& work,
                const std::function<void(std::size_t, T&&)>& emit,
                const std::function<std::size_t(const T&)>& weigh = nullptr,
                std::size_t max_weight = SIZE_MAX) {
  threads = std::max(1u, threads);
  window = std::max<std::size_t>(window, threads);
  std::mutex mu;
  // Two condition variables, and a wake-up only for the thread that can go on: a system call per
  // input per thread is measurable when inputs are small.
  std::condition_variable result_ready;  // the emitting thread waits here
  std::condition_variable slot_free;     // workers wait here when `window` results are pending
  std::map<std::size_t, std::pair<T, std::size_t>> ready;  // results and their weights
  std::size_t waiting_weight = 0;                          // of the results in `ready`
  std::size_t next = 0;                                    // next index to claim
  std::size_t emitted = 0;                                 // next index to emit
  unsigned waiting_workers = 0;
  auto worker = [&] {
    for (;;) {
      std::size_t i;
      {
        std::unique_lock lock(mu);
        // NOLINTNEXTLINE(bugprone-infinite-loop): other threads change next and emitted.
        while (next < n && (next >= emitted + window || waiting_weight >= max_weight)) {
          ++waiting_workers;
          slot_free.wait(lock);
          --waiting_workers;
        }
        if (next >= n) return;
        i = next++;
      }
      T result = work(i);
      const std::size_t weight = weigh ? weigh(result) : 0;
      bool wanted;
      {
        std::lock_guard lock(mu);
        ready.emplace(i, std::make_pair(std::move(result), weight));
        waiting_weight += weight;
        wanted = i == emitted;
      }
      if (wanted) result_ready.notify_one();
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (unsigned t = 0; t < threads; ++t) pool.emplace_back(worker);
  while (emitted < n) {
    std::optional<T> item;
    {
      std::unique_lock lock(mu);
      result_ready.wait(lock, [&] { return ready.count(emitted) > 0; });
      auto it = ready.find(emitted);
      item.emplace(std::move(it->second.first));
      waiting_weight -= it->second.second;
      ready.erase(it);
    }
    emit(emitted, std::move(*item));
    bool wake;
    {
      std::lock_guard lock(mu);
      ++emitted;
      wake = waiting_workers > 0;
    }
    if (wake) slot_free.notify_all();
  }
  for (auto& t : pool) t.join();
}

}  // namespace dmarc::pipeline
