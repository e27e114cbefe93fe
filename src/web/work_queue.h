// A few threads that run slow jobs (sign-in checks, store queries) off the server's own threads,
// with a bounded queue: when it is full a job is refused at once (the caller answers 503), so a
// flood of slow requests neither blocks the other requests nor piles up memory.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace dmarc::web {

class WorkQueue {
 public:
  // `threads` run the jobs; at most `capacity` wait. `nice` (0..19) lowers the threads'
  // priority so that CPU-heavy jobs leave the CPU to the server's threads first.
  WorkQueue(unsigned threads, std::size_t capacity, int nice);
  ~WorkQueue() { Stop(); }
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Queues the job; false (and the job is not run) when the queue is full or stopped.
  bool TryPush(std::function<void()> job);
  // Runs the jobs already queued, refuses new ones, and joins the threads.
  void Stop();

 private:
  void Work(int nice);

  std::size_t capacity_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace dmarc::web
