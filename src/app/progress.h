// Progress of a long run on standard error: a redrawn bar on a terminal (files done/total,
// reports/s, ETA), nothing otherwise (callers log summaries instead).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <string>
#include <thread>

#include "enrich/enrich.h"

namespace dmarc::app {

class Progress {
 public:
  // Enabled only when standard error is a terminal and enabled is true. `unit` names what is
  // counted ("files", "mails"), `rate_unit` what the rate is of.
  Progress(std::size_t total_files, bool enabled, std::string unit = "files",
           std::string rate_unit = "reports");
  ~Progress() { Finish(); }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void Update(std::size_t files_done, std::size_t reports);
  // Clears the bar so the summary starts on a clean line.
  void Finish();

 private:
  std::size_t total_;
  bool active_;
  bool drawn_ = false;
  std::string unit_, rate_unit_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// The "resolving N addresses" stage of a command whose lookups run inline (parse): once an
// Enricher's lookups have been in flight for a second, a line redrawn on a terminal ("resolving
// 2300 addresses: 1200 answered, 410/s"), or, not on a terminal, an info line every 5 s (parse -v);
// at the end, when it showed anything, an info line with the total and the rate.
class DnsStage {
 public:
  DnsStage(const enrich::Enricher* enricher, bool enabled);
  ~DnsStage();
  DnsStage(const DnsStage&) = delete;
  DnsStage& operator=(const DnsStage&) = delete;

 private:
  void Loop();
  void Show(const enrich::Enricher::DnsActivity& a, std::chrono::steady_clock::time_point now);

  const enrich::Enricher* enricher_;
  const bool terminal_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  bool drawn_ = false;  // a line on the terminal to clear
  bool shown_ = false;  // anything shown: the closing line is due
  std::size_t done_at_start_ = 0;
  std::chrono::steady_clock::time_point busy_since_{}, last_line_{};
  std::thread thread_;
};

// "1:02:03" / "2:03".
std::string FormatDuration(double seconds);

}  // namespace dmarc::app
