#include "store/ingest_status.h"

#include <fmt/format.h>

#include "base/text.h"
#include "store/ingest_status_sql.h"
#include "store/store.h"

namespace dmarc::store {

namespace {

// s cut to at most max bytes, at a character boundary, and made valid UTF-8.
std::string Bounded(std::string s, std::size_t max) {
  RepairUtf8(s);
  if (s.size() <= max) return s;
  std::size_t end = max;
  // Back to the first byte of a character (continuation bytes are 10xxxxxx).
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  s.resize(end);
  return s;
}

}  // namespace

void SourceCounts::Add(const SourceCounts& o) {
  mails_stored += o.mails_stored;
  mails_invalid += o.mails_invalid;
  aggregate_new += o.aggregate_new;
  aggregate_duplicate += o.aggregate_duplicate;
  failure_new += o.failure_new;
  failure_duplicate += o.failure_duplicate;
  smtp_tls_new += o.smtp_tls_new;
  smtp_tls_duplicate += o.smtp_tls_duplicate;
  records += o.records;
  rejections += o.rejections;
}

SourceState BoundedSourceState(const SourceState& state) {
  SourceState out = state;
  out.name = Bounded(std::move(out.name), kMaxSourceNameBytes);
  out.kind = Bounded(std::move(out.kind), 32);
  out.state = Bounded(std::move(out.state), 32);
  if (out.last_error) out.last_error = Bounded(std::move(*out.last_error), kMaxSourceErrorBytes);
  return out;
}

std::string IngestSourceUpsert(char mark) {
  static constexpr std::string_view kFields[] = {
      "kind",          "state",        "updated_at", "poll_started_at",
      "poll_ended_at", "next_poll_at", "last_error", "last_error_at",
      "inputs_total",  "inputs_done",  "mails_left"};
  static constexpr std::string_view kCounts[] = {
      "mails_stored", "mails_invalid",     "aggregate_new", "aggregate_duplicate",
      "failure_new",  "failure_duplicate", "smtp_tls_new",  "smtp_tls_duplicate",
      "records",      "rejections"};
  std::string sql = fmt::format("INSERT INTO ingest_sources ({}) VALUES (", kIngestSourceColumns);
  for (int i = 1; i <= kIngestSourceFields + kIngestSourceCounts; ++i) {
    sql += fmt::format("{}{}{}", i > 1 ? ", " : "", mark, i);
  }
  sql += ") ON CONFLICT (name) DO UPDATE SET ";
  for (std::size_t i = 0; i < std::size(kFields); ++i) {
    sql += fmt::format("{}{} = excluded.{}", i ? ", " : "", kFields[i], kFields[i]);
  }
  for (const auto c : kCounts) {
    sql += fmt::format(", {} = ingest_sources.{} + excluded.{}", c, c, c);
  }
  return sql;
}

Result<bool> ReportStore::RecordSourceState(const SourceState&, const SourceCounts&) {
  return MakeError(ErrorKind::kUnsupported, Describe() + ": keeps no ingest status");
}

Result<IngestStatus> ReportStore::QueryIngestStatus(std::size_t) {
  return MakeError(ErrorKind::kUnsupported, Describe() + ": keeps no ingest status");
}

}  // namespace dmarc::store
