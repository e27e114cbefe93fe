// How the SQLite store reads stored reports back into the model: shared by the export
// (sqlite_read.cc) and the copy of a whole store (sqlite_migrate.cc).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/aggregate.h"
#include "model/smtp_tls.h"
#include "store/sqlite/sqlite_db.h"
#include "store/store.h"

namespace dmarc::store::sqlite_impl {

// The statements of an aggregate export: reports, then the rows of each by id range.
struct AggregateQueries {
  sqlite::Statement reports, records;
};

// Prepares them; `reports` selects the reports whose begin is in [?1, ?2) (and domain ?3 when the
// filter has one), in the order stored. Its columns 23 and 24 are first_record and record_count.
// With `where` (e.g. " WHERE id = ?1"), that condition instead of the filter's.
Result<AggregateQueries> PrepareAggregateQueries(sqlite::Database& db, const Filter& filter,
                                                 std::string_view where = {});
// The report of the current row of AggregateQueries::reports, without its records.
model::AggregateReport ReadAggregateReport(sqlite::Statement& reports);
// Reads the records of the current report row of q.reports into r.
Result<bool> ReadAggregateRecords(AggregateQueries& q, model::AggregateReport& r);
// A JSON array of strings as stored for SMTP TLS lists; empty when NULL or not an array.
std::vector<std::string> JsonStrings(const std::optional<std::string>& text);
// Adds the policies (with their failure details) of the report row report_id to r.
Result<bool> ReadSmtpTlsPolicies(sqlite::Statement& policies, sqlite::Statement& details,
                                 std::int64_t report_id, model::SmtpTlsReport& r);

}  // namespace dmarc::store::sqlite_impl
