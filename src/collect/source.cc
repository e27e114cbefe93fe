#include "collect/source.h"

#include <fmt/format.h>

#include <chrono>
#include <thread>

#include "base/time.h"

namespace dmarc::collect {

Status Source::Wait(std::int64_t seconds, const std::atomic<bool>& stop) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (!stop && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return Ok();
}

namespace {

struct Civil {
  std::int64_t y;
  unsigned m, d;
};

// Howard Hinnant's civil_from_days.
Civil CivilFromDays(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {m <= 2 ? y + 1 : y, m, d};
}

}  // namespace

std::string ExpandFolderTemplate(const std::string& pattern, std::int64_t t) {
  const std::int64_t days = FloorDay(t) / kSecondsPerDay;
  const Civil c = CivilFromDays(days);
  // ISO 8601 week: the week (Monday first) whose Thursday lies in the year counted.
  const std::int64_t weekday = ((days + 3) % 7 + 7) % 7;  // 0 = Monday; 1970-01-01 was a Thursday
  const std::int64_t thursday = days - weekday + 3;
  const std::int64_t week = (thursday - DaysFromCivil(CivilFromDays(thursday).y, 1, 1)) / 7 + 1;
  std::string out;
  for (std::size_t i = 0; i < pattern.size();) {
    auto try_token = [&](std::string_view token, const std::string& value) {
      if (pattern.compare(i, token.size(), token) != 0) return false;
      out += value;
      i += token.size();
      return true;
    };
    if (try_token("[YEAR]", fmt::format("{:04}", c.y)) ||
        try_token("[MONTH]", fmt::format("{:02}", c.m)) ||
        try_token("[DAY]", fmt::format("{:02}", c.d)) ||
        try_token("[WEEK]", fmt::format("{:02}", week))) {
      continue;
    }
    out += pattern[i++];
  }
  return out;
}

}  // namespace dmarc::collect
