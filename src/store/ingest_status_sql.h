// The SQL of the ingest status (ingest_status.h) that both back ends share: the columns of
// ingest_sources in the order both bind and read them. Internal to the store module.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "store/ingest_status.h"

namespace dmarc::store {

// name, kind, state, updated_at, poll_started_at, poll_ended_at, next_poll_at, last_error,
// last_error_at, inputs_total, inputs_done, mails_left, then the counts (SourceCounts' order).
inline constexpr std::string_view kIngestSourceColumns =
    "name, kind, state, updated_at, poll_started_at, poll_ended_at, next_poll_at, last_error,"
    " last_error_at, inputs_total, inputs_done, mails_left, mails_stored, mails_invalid,"
    " aggregate_new, aggregate_duplicate, failure_new, failure_duplicate, smtp_tls_new,"
    " smtp_tls_duplicate, records, rejections";
inline constexpr int kIngestSourceFields = 12;  // before the counts
inline constexpr int kIngestSourceCounts = 10;

// The upsert of one row, with placeholders `mark`1, `mark`2, ... ('?' for SQLite, '$' for
// PostgreSQL): every field replaced but the counts, which are added.
std::string IngestSourceUpsert(char mark);

// The counts in the columns' order, and back.
inline std::array<std::uint64_t*, kIngestSourceCounts> CountFields(SourceCounts& c) {
  return {&c.mails_stored, &c.mails_invalid,     &c.aggregate_new, &c.aggregate_duplicate,
          &c.failure_new,  &c.failure_duplicate, &c.smtp_tls_new,  &c.smtp_tls_duplicate,
          &c.records,      &c.rejections};
}

}  // namespace dmarc::store
