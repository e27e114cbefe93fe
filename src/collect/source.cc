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

const char* FolderName(MailClass c) {
  switch (c) {
    case MailClass::kAggregate:
      return "Aggregate";
    case MailClass::kForensic:
      return "Forensic";
    case MailClass::kSmtpTls:
      return "SMTP-TLS";
    case MailClass::kInvalid:
      break;
  }
  return "Invalid";
}

}  // namespace dmarc::collect
