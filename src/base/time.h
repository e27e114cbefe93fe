// UTC calendar arithmetic without the C library's time zone state (thread-safe, no locale).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dmarc {

constexpr std::int64_t kSecondsPerDay = 86400;

// "YYYY-MM-DD HH:MM:SS" for a Unix time, in UTC (parsedmarc's timestamp format).
std::string FormatUtc(std::int64_t unix_seconds);
// Writes the same 19 characters into out.
void FormatUtc(std::int64_t unix_seconds, char out[19]);
// "YYYY-MM-DD" for a Unix time, in UTC.
std::string FormatUtcDate(std::int64_t unix_seconds);

// Days since 1970-01-01 for a proleptic Gregorian date.
std::int64_t DaysFromCivil(std::int64_t y, unsigned m, unsigned d);

struct Civil {
  std::int64_t y;
  unsigned m, d;
};
// The proleptic Gregorian date of a day number (days since 1970-01-01).
Civil CivilFromDays(std::int64_t days);

// Parses "YYYY-MM-DD" (midnight UTC) into Unix seconds.
std::optional<std::int64_t> ParseDate(std::string_view s);

// "YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)" (RFC 3339; 't' or a space for 'T', and
// FormatUtc's output, are read too) → Unix seconds. Without a zone the time is read as UTC and
// *had_zone (when given) is set to false.
std::optional<std::int64_t> ParseDateTime(std::string_view s, bool* had_zone = nullptr);

// "3600", "90m", "12h", "7d" → seconds; nothing for anything else.
std::optional<std::int64_t> ParseDuration(std::string_view text);

// Start of the UTC day containing t.
constexpr std::int64_t FloorDay(std::int64_t t) {
  const std::int64_t r = t % kSecondsPerDay;
  return r < 0 ? t - r - kSecondsPerDay : t - r;
}

}  // namespace dmarc
