// RunOrdered: results in input order, what waits bounded by bytes (issue #14). No test here
// measures time: a slow input is one that waits for a condition, and a deadline only keeps a
// broken build from hanging (the assertions are on counts).
#include "pipeline/ordered_parallel.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdlib>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace dmarc::pipeline {
namespace {

using std::chrono::seconds;

void RaiseTo(std::atomic<std::size_t>& max, std::size_t value) {
  std::size_t seen = max.load();
  while (value > seen && !max.compare_exchange_weak(seen, value)) continue;
}

TEST(RunOrdered, EmitsEveryResultInInputOrder) {
  constexpr std::size_t kN = 5000;
  for (const unsigned threads : {1u, 2u, 7u}) {
    std::vector<std::size_t> seen;
    RunOrdered<std::string>(
        kN, threads,
        [](std::size_t i) {
          // Uneven work: later inputs often finish before earlier ones.
          if (i % 97 == 0) std::this_thread::yield();
          return std::to_string(i);
        },
        [&](std::size_t i, std::string&& s) {
          EXPECT_EQ(s, std::to_string(i));
          seen.push_back(i);
        },
        [](const std::string& s) { return s.size(); }, 64);
    ASSERT_EQ(seen.size(), kN) << threads << " threads";
    for (std::size_t i = 0; i < kN; ++i) ASSERT_EQ(seen[i], i) << threads << " threads";
  }
}

// One worker puts off waking the sleeping emitter for a few results (fewer wake-ups); it must wake
// it before it stops: for lack of room by count or by bytes, and after its last input. Each input
// takes a moment, so the emitter sleeps while it waits.
TEST(RunOrdered, OneWorkerWakesTheEmitterBeforeItStops) {
  struct Bounds {
    std::size_t max_pending, max_bytes;
  };
  for (const Bounds b : {Bounds{3, 1u << 20}, Bounds{4096, 8}, Bounds{4096, 1u << 20}}) {
    constexpr std::size_t kN = 37;
    std::vector<std::size_t> seen;
    auto run = std::async(std::launch::async, [&] {
      RunOrdered<std::size_t>(
          kN, 1,
          [](std::size_t i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
            return i;
          },
          [&](std::size_t i, std::size_t&& r) {
            EXPECT_EQ(r, i);
            seen.push_back(i);
          },
          [](const std::size_t&) { return std::size_t{1}; }, b.max_bytes, b.max_pending);
    });
    if (run.wait_for(seconds(30)) != std::future_status::ready) {
      ADD_FAILURE() << "RunOrdered hangs (max_pending " << b.max_pending << ", max_bytes "
                    << b.max_bytes << "): " << seen.size() << " of " << kN << " emitted";
      std::_Exit(1);  // its threads cannot be joined
    }
    ASSERT_EQ(seen.size(), kN) << b.max_pending << " / " << b.max_bytes;
    for (std::size_t i = 0; i < kN; ++i) ASSERT_EQ(seen[i], i);
  }
}

TEST(RunOrdered, NoInputsEmitsNothing) {
  int calls = 0;
  RunOrdered<int>(
      0, 4, [&](std::size_t) { return ++calls; }, [&](std::size_t, int&&) { ++calls; }, nullptr, 0);
  EXPECT_EQ(calls, 0);
}

// One slow, heavy input first and 1,000 light ones after it: with room in the byte budget, the
// other worker does every light input while the first is still being worked on. (With a window
// of a few inputs by count, as before, it stopped after the window and the first input waited
// for its deadline.)
TEST(RunOrdered, ASlowHeavyFirstInputDoesNotHoldBackTheLightOnes) {
  constexpr std::size_t kLight = 1000;
  std::mutex mu;
  std::condition_variable cv;
  std::size_t light_done = 0;
  std::size_t light_done_before_first = 0;
  std::vector<std::size_t> order;
  RunOrdered<std::string>(
      kLight + 1, 2,
      [&](std::size_t i) {
        if (i == 0) {
          std::unique_lock lock(mu);
          cv.wait_for(lock, seconds(30), [&] { return light_done == kLight; });
          light_done_before_first = light_done;
          return std::string(1 << 20, 'h');  // 1 MiB: heavier than the budget
        }
        std::string light(100, 'l');
        {
          std::lock_guard lock(mu);
          if (++light_done == kLight) cv.notify_all();
        }
        return light;
      },
      [&](std::size_t i, std::string&&) { order.push_back(i); },
      [](const std::string& s) { return s.size(); }, 512 * 1024);
  EXPECT_EQ(light_done_before_first, kLight);
  ASSERT_EQ(order.size(), kLight + 1);
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
}

// Results heavier than the whole budget pass, one after the other and between light ones.
TEST(RunOrdered, AResultHeavierThanTheBudgetPasses) {
  for (const unsigned threads : {1u, 2u, 4u}) {
    std::vector<std::size_t> sizes;
    RunOrdered<std::string>(
        40, threads, [](std::size_t i) { return std::string(i % 3 == 0 ? 10000 : 10, 'x'); },
        [&](std::size_t, std::string&& s) { sizes.push_back(s.size()); },
        [](const std::string& s) { return s.size(); }, 1000);
    ASSERT_EQ(sizes.size(), 40u);
    for (std::size_t i = 0; i < 40; ++i) EXPECT_EQ(sizes[i], i % 3 == 0 ? 10000u : 10u);
  }
  // A budget of no bytes at all still lets every input through.
  std::size_t emitted = 0;
  RunOrdered<std::string>(
      10, 3, [](std::size_t) { return std::string(5, 'x'); },
      [&](std::size_t, std::string&&) { ++emitted; }, [](const std::string& s) { return s.size(); },
      0);
  EXPECT_EQ(emitted, 10u);
}

// The emitting thread is held back on the first input until the workers can go no further; the
// weight of the results held (counted by the test as they are made and emitted: the waiting ones
// and the one being emitted) never goes past the budget + one result per worker (each may finish
// the input it took while there was room), and it does reach the budget (the workers did run
// ahead, and stopped there).
TEST(RunOrdered, WaitingResultsStayWithinTheByteBudget) {
  constexpr std::size_t kItem = 1000, kBudget = 50 * kItem, kN = 400;
  for (const unsigned threads : {1u, 2u, 4u}) {
    std::atomic<std::size_t> made{0}, emitted_weight{0}, max_held{0}, started{0};
    std::size_t started_while_held = 0;
    RunOrdered<std::string>(
        kN, threads,
        [&](std::size_t i) {
          ++started;
          return std::string(kItem + i % 7, 'x');
        },
        [&](std::size_t i, std::string&& s) {
          if (i == 0) {
            // Wait until what is held reaches the budget, then until no new input is taken for
            // 50 ms (the deadlines only keep a broken build from hanging).
            for (int k = 0; k < 3000 && made.load() < kBudget; ++k) {
              std::this_thread::sleep_for(std::chrono::milliseconds(10));
            }
            std::size_t last = SIZE_MAX;
            for (int k = 0; k < 100 && started.load() != last; ++k) {
              last = started.load();
              std::this_thread::sleep_for(std::chrono::milliseconds(50));
            }
            started_while_held = started.load();
          }
          emitted_weight += s.size();
        },
        [&](const std::string& s) {
          // Called by the worker before its result waits: the weight made so far minus the weight
          // emitted bounds what is held from above.
          RaiseTo(max_held, (made += s.size()) - emitted_weight.load());
          return s.size();
        },
        kBudget);
    EXPECT_EQ(emitted_weight.load(), made.load());
    const std::size_t largest = kItem + 6;
    EXPECT_LE(max_held.load(), kBudget + threads * largest) << threads << " threads";
    EXPECT_GE(max_held.load(), kBudget) << threads << " threads";
    EXPECT_LE(started_while_held, kBudget / kItem + threads + 1) << threads << " threads";
  }
}

// With a spill function, one slow first input holds back nothing: the light inputs are all made
// while it is, those that would wait beyond the budget are spilled (here: marked, as if their
// bytes went to a file), the others stay in memory within the budget, and every result comes out
// whole and in order.
TEST(RunOrdered, WithSpillTheWorkersNeverWaitForBytesAndMemoryStaysWithinTheBudget) {
  struct Item {
    std::string text;
    bool spilled = false;
  };
  constexpr std::size_t kLight = 1000, kItem = 100, kBudget = 20 * kItem;
  for (const unsigned threads : {1u, 2u, 4u}) {
    std::mutex mu;
    std::condition_variable cv;
    std::size_t light_done = 0, light_done_before_first = 0;
    std::atomic<std::size_t> spilled{0};
    std::vector<std::size_t> order;
    std::size_t kept_in_memory = 0;
    bool intact = true;
    RunOrdered<Item>(
        kLight + 1, threads + 1,
        [&](std::size_t i) {
          if (i == 0) {
            std::unique_lock lock(mu);
            cv.wait_for(lock, seconds(30), [&] { return light_done == kLight; });
            light_done_before_first = light_done;
            return Item{std::string(10 * kBudget, 'h')};  // heavier than the budget
          }
          Item light{std::string(kItem, static_cast<char>('a' + i % 26))};
          {
            std::lock_guard lock(mu);
            if (++light_done == kLight) cv.notify_all();
          }
          return light;
        },
        [&](std::size_t i, Item&& item) {
          order.push_back(i);
          if (i > 0 && !item.spilled) ++kept_in_memory;
          const char want = i == 0 ? 'h' : static_cast<char>('a' + i % 26);
          if (item.text.size() != (i == 0 ? 10 * kBudget : kItem) ||
              item.text.find_first_not_of(want) != std::string::npos) {
            intact = false;
          }
        },
        [](const Item& item) { return item.spilled ? 0 : item.text.size(); }, kBudget,
        kOrderedMaxPending,
        [&](Item& item) {
          item.spilled = true;
          ++spilled;
        });
    // One worker waits on the first input; the others make every light one meanwhile.
    EXPECT_EQ(light_done_before_first, kLight) << threads << " threads";
    ASSERT_EQ(order.size(), kLight + 1);
    EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
    EXPECT_TRUE(intact);
    // (Workers that finish at the same moment may each see the last room.)
    EXPECT_LE(kept_in_memory, kBudget / kItem + threads) << threads << " threads";
    EXPECT_GE(spilled.load(), kLight - kBudget / kItem - threads) << threads << " threads";
  }
}

}  // namespace
}  // namespace dmarc::pipeline
