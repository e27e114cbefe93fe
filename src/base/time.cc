#include "base/time.h"

#include <fmt/format.h>

#include <string>

namespace dmarc {

namespace {

void Put2(char* p, unsigned v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
}

}  // namespace

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

std::int64_t DaysFromCivil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void FormatUtc(std::int64_t t, char out[19]) {
  const std::int64_t day = FloorDay(t) / kSecondsPerDay;
  const auto secs = static_cast<unsigned>(t - day * kSecondsPerDay);
  const Civil c = CivilFromDays(day);
  if (c.y < 0 || c.y > 9999) {
    // Out of the four-digit range: clamp to keep a fixed width (such inputs are flagged earlier).
    const char* fallback = c.y < 0 ? "0000-01-01 00:00:00" : "9999-12-31 23:59:59";
    for (int i = 0; i < 19; ++i) out[i] = fallback[i];
    return;
  }
  const auto y = static_cast<unsigned>(c.y);
  Put2(out, y / 100);
  Put2(out + 2, y % 100);
  out[4] = '-';
  Put2(out + 5, c.m);
  out[7] = '-';
  Put2(out + 8, c.d);
  out[10] = ' ';
  Put2(out + 11, secs / 3600);
  out[13] = ':';
  Put2(out + 14, secs / 60 % 60);
  out[16] = ':';
  Put2(out + 17, secs % 60);
}

std::string FormatUtc(std::int64_t t) {
  std::string s(19, '\0');
  FormatUtc(t, s.data());
  return s;
}

std::string FormatUtcDate(std::int64_t t) { return FormatUtc(t).substr(0, 10); }

namespace {

// The unsigned number in s[pos, pos + len), digits only.
std::optional<unsigned> Digits(std::string_view s, std::size_t pos, std::size_t len) {
  if (pos + len > s.size()) return std::nullopt;
  unsigned v = 0;
  for (std::size_t i = pos; i < pos + len; ++i) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
    v = v * 10 + static_cast<unsigned>(s[i] - '0');
  }
  return v;
}

}  // namespace

std::optional<std::int64_t> ParseDate(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  auto y = Digits(s, 0, 4), m = Digits(s, 5, 2), d = Digits(s, 8, 2);
  if (!y || !m || !d || *m < 1 || *m > 12 || *d < 1 || *d > 31) return std::nullopt;
  const std::int64_t days = DaysFromCivil(*y, *m, *d);
  if (CivilFromDays(days).m != *m) return std::nullopt;  // e.g. 2023-02-30
  return days * kSecondsPerDay;
}

std::optional<std::int64_t> ParseDateTime(std::string_view s, bool* had_zone) {
  if (s.size() < 19 || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' ||
      s[16] != ':') {
    return std::nullopt;
  }
  const auto day = ParseDate(s.substr(0, 10));
  auto h = Digits(s, 11, 2), mi = Digits(s, 14, 2), se = Digits(s, 17, 2);
  if (!day || !h || !mi || !se || *h > 23 || *mi > 59 || *se > 60) return std::nullopt;
  std::size_t i = 19;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  }
  std::int64_t offset = 0;
  bool zone = true;
  if (i == s.size()) {
    zone = false;
  } else if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == s.size()) {
  } else if ((s[i] == '+' || s[i] == '-') && s.size() == i + 6 && s[i + 3] == ':') {
    auto oh = Digits(s, i + 1, 2), om = Digits(s, i + 4, 2);
    if (!oh || !om || *oh > 23 || *om > 59) return std::nullopt;
    offset = static_cast<std::int64_t>(*oh * 3600 + *om * 60) * (s[i] == '-' ? -1 : 1);
  } else {
    return std::nullopt;
  }
  if (had_zone) *had_zone = zone;
  return *day + *h * 3600 + *mi * 60 + *se - offset;
}

// "3600", "90m", "12h", "7d" → seconds; nothing for anything else.
std::optional<std::int64_t> ParseDuration(std::string_view text) {
  if (text.empty() || text.size() > 12) return std::nullopt;
  std::int64_t unit = 1;
  std::string digits(text);
  switch (text.back()) {
    case 's':
      digits.pop_back();
      break;
    case 'm':
      unit = 60;
      digits.pop_back();
      break;
    case 'h':
      unit = 3600;
      digits.pop_back();
      break;
    case 'd':
      unit = 86400;
      digits.pop_back();
      break;
    default:
      break;
  }
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  return std::stoll(digits) * unit;
}

}  // namespace dmarc
