// ParseGate: bounds the memory that the workers of one ingest spend parsing reports at the same
// time. Parsing a report costs about ten times its XML in memory while it runs; with one worker
// per core, a few large reports parsed at once would multiply that. A worker enters the gate with
// what its report will cost (kParseBytesPerXmlByte × its XML) and waits while others hold the
// gate's capacity; one report alone always enters, whatever its size (the per-report limit,
// --max-report-bytes, bounds that one).
//
// Thread-safety: Enter() is called by many workers at once; a Pass is released by its holder.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <mutex>

namespace dmarc::pipeline {

// What parsing a report costs in memory while it runs, per byte of its XML (measured with reports
// of 12 and 100 MB: the document tree and the model side by side; docs/security.md, "Memory").
constexpr std::size_t kParseBytesPerXmlByte = 10;

class ParseGate {
 public:
  explicit ParseGate(std::size_t capacity) : capacity_(capacity) {}

  // Held while a report is parsed; leaving its scope lets the next one in.
  class Pass {
   public:
    Pass() = default;
    Pass(ParseGate* gate, std::size_t bytes) : gate_(gate), bytes_(bytes) {}
    Pass(Pass&& o) noexcept : gate_(o.gate_), bytes_(o.bytes_) { o.gate_ = nullptr; }
    Pass& operator=(Pass&&) = delete;
    Pass(const Pass&) = delete;
    Pass& operator=(const Pass&) = delete;
    ~Pass() {
      if (gate_) gate_->Leave(bytes_);
    }

   private:
    ParseGate* gate_ = nullptr;
    std::size_t bytes_ = 0;
  };

  // Waits until `bytes` more fit (or nothing else is being parsed), then takes them.
  Pass Enter(std::size_t bytes) {
    std::unique_lock lock(mu_);
    left_.wait(lock, [&] { return in_use_ == 0 || in_use_ + bytes <= capacity_; });
    in_use_ += bytes;
    return Pass(this, bytes);
  }

 private:
  void Leave(std::size_t bytes) {
    {
      std::lock_guard lock(mu_);
      in_use_ -= bytes;
    }
    left_.notify_all();
  }

  const std::size_t capacity_;
  std::mutex mu_;
  std::condition_variable left_;
  std::size_t in_use_ = 0;
};

}  // namespace dmarc::pipeline
