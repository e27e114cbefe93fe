#include "outputs/elastic_docs.h"

#include <fmt/format.h>
#include <sodium.h>

#include <algorithm>
#include <charconv>
#include <ctime>

#include "outputs/http_json.h"

namespace dmarc::outputs::elastic {

namespace {

using nlohmann::json;

// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm): no time zone, no locale.
void CivilFromDays(std::int64_t z, int& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<int>(yoe + era * 400) + (m <= 2 ? 1 : 0);
}

std::int64_t FloorDiv(std::int64_t a, std::int64_t b) { return a / b - (a % b < 0 ? 1 : 0); }

void Digits(char* at, unsigned value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    at[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

// "YYYY-MM-DD" (or "YYYY-MM") of a day; years outside 0..9999 are clamped.
std::string Date(std::int64_t t, bool monthly) {
  int y = 0;
  unsigned m = 0;
  unsigned d = 0;
  CivilFromDays(FloorDiv(t, 86400), y, m, d);
  std::string out(monthly ? 7 : 10, '-');
  Digits(out.data(), static_cast<unsigned>(std::clamp(y, 0, 9999)), 4);
  Digits(out.data() + 5, m, 2);
  if (!monthly) Digits(out.data() + 8, d, 2);
  return out;
}

std::string_view BaseName(ReportKind kind) {
  switch (kind) {
    case ReportKind::kAggregate:
      return "dmarc_aggregate";
    case ReportKind::kFailure:
      return "dmarc_failure";
    case ReportKind::kSmtpTls:
      return "smtp_tls";
  }
  return "dmarc_aggregate";
}

}  // namespace

std::string IsoTime(std::int64_t t) {
  const std::int64_t days = FloorDiv(t, 86400);
  const auto secs = static_cast<unsigned>(t - days * 86400);
  std::string out = Date(t, false) + "T00:00:00Z";
  Digits(out.data() + 11, secs / 3600, 2);
  Digits(out.data() + 14, secs / 60 % 60, 2);
  Digits(out.data() + 17, secs % 60, 2);
  return out;
}

std::string IndexBase(ReportKind kind, const IndexNaming& naming) {
  std::string name = naming.prefix;
  name += BaseName(kind);
  if (!naming.suffix.empty()) name += "_" + naming.suffix;
  return name;
}

std::string IndexName(ReportKind kind, std::int64_t unix_seconds, const IndexNaming& naming) {
  std::string name = IndexBase(kind, naming);
  if (naming.data_streams) return name;
  return name + "-" + Date(unix_seconds, naming.monthly);
}

std::string DocumentId(std::string_view key, std::size_t n) {
  unsigned char hash[16];
  crypto_generichash_state state;
  crypto_generichash_init(&state, nullptr, 0, sizeof hash);
  crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(key.data()), key.size());
  char number[24] = {'\n'};  // the key, a line end, the number
  const auto end = std::to_chars(number + 1, number + sizeof number, n).ptr;
  crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(number),
                            static_cast<std::size_t>(end - number));
  crypto_generichash_final(&state, hash, sizeof hash);
  char hex[sizeof hash * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, hash, sizeof hash);
  return std::string(hex, sizeof hash * 2);
}

std::size_t DocumentCount(const Item& item) {
  if (item.kind == ReportKind::kAggregate)
    return item.aggregate ? item.aggregate->records.size() : 0;
  if (item.kind == ReportKind::kFailure) return item.failure ? 1 : 0;
  return item.smtp_tls ? 1 : 0;
}

std::int64_t DocumentTime(const Item& item, std::size_t n) {
  switch (item.kind) {
    case ReportKind::kAggregate:
      return item.aggregate->records[n].interval_begin;
    case ReportKind::kFailure:
      return item.failure->arrival_ts;
    case ReportKind::kSmtpTls:
      return item.smtp_tls->begin;
  }
  return 0;
}

}  // namespace dmarc::outputs::elastic
