#include "app/progress.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace dmarc::app {

Progress::Progress(std::size_t total_files, bool enabled, std::string unit, std::string rate_unit)
    : total_(total_files),
      active_(enabled && ::isatty(STDERR_FILENO) == 1),
      unit_(std::move(unit)),
      rate_unit_(std::move(rate_unit)),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

std::string FormatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = std::llround(seconds);
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

void Progress::Update(std::size_t files_done, std::size_t reports) {
  if (!active_) return;
  const auto now = std::chrono::steady_clock::now();
  if (files_done < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double fraction =
      total_ ? static_cast<double>(files_done) / static_cast<double>(total_) : 1;
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(fraction * kWidth);
  const double rate = elapsed > 0 ? static_cast<double>(reports) / elapsed : 0;
  const double eta = files_done ? elapsed * static_cast<double>(total_ - files_done) /
                                      static_cast<double>(files_done)
                                : NAN;
  fmt::print(stderr, "\r[{}{}] {}/{} {}  {:.0f} {}/s  ETA {}  ", std::string(filled, '#'),
             std::string(kWidth - filled, ' '), files_done, total_, unit_, rate, rate_unit_,
             FormatDuration(eta));
  std::fflush(stderr);
  drawn_ = true;
}

void Progress::Finish() {
  if (drawn_) {
    fmt::print(stderr, "\r{}\r", std::string(100, ' '));
    std::fflush(stderr);
    drawn_ = false;
  }
}

namespace {

constexpr auto kStageAfter = std::chrono::seconds(1);
constexpr auto kStageTick = std::chrono::milliseconds(250);
constexpr auto kStageLogEvery = std::chrono::seconds(5);

}  // namespace

DnsStage::DnsStage(const enrich::Enricher* enricher, bool enabled)
    : enricher_(enricher), terminal_(::isatty(STDERR_FILENO) == 1) {
  if (!enricher_ || !enabled) return;
  done_at_start_ = enricher_->Activity().done;
  thread_ = std::thread([this] { Loop(); });
}

DnsStage::~DnsStage() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
  if (drawn_) fmt::print(stderr, "\r{}\r", std::string(100, ' '));
  if (shown_) {
    spdlog::info("reverse DNS: {} address(es) answered",
                 enricher_->Activity().done - done_at_start_);
  }
}

void DnsStage::Show(const enrich::Enricher::DnsActivity& a,
                    std::chrono::steady_clock::time_point now) {
  const double seconds = std::chrono::duration<double>(now - busy_since_).count();
  const std::size_t answered = a.done - done_at_start_;
  const std::string line = fmt::format("resolving {} address(es): {} answered, {:.0f}/s", a.pending,
                                       answered, seconds > 0 ? answered / seconds : 0.0);
  shown_ = true;
  if (terminal_) {
    fmt::print(stderr, "\r{:<78}", line);
    std::fflush(stderr);
    drawn_ = true;
  } else if (last_line_ == std::chrono::steady_clock::time_point{} ||
             now - last_line_ >= kStageLogEvery) {
    spdlog::info("{}", line);
    last_line_ = now;
  }
}

void DnsStage::Loop() {
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, kStageTick, [this] { return stop_; })) {
    const auto a = enricher_->Activity();
    const auto now = std::chrono::steady_clock::now();
    if (a.pending == 0) {
      busy_since_ = {};
      continue;
    }
    if (busy_since_ == std::chrono::steady_clock::time_point{}) busy_since_ = now;
    if (now - busy_since_ >= kStageAfter) Show(a, now);
  }
}

}  // namespace dmarc::app
