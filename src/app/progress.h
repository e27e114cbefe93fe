// Progress of a long run on standard error: a redrawn bar on a terminal (files done/total,
// reports/s, ETA), nothing otherwise (callers log summaries instead).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

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

// "1:02:03" / "2:03".
std::string FormatDuration(double seconds);

}  // namespace dmarc::app
