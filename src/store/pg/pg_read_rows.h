// How the PostgreSQL store reads stored reports back into the model: shared by the export
// (pg_read.cc) and the copy of a whole store (pg_migrate.cc).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "model/aggregate.h"
#include "store/pg/pg_db.h"

namespace dmarc::store::pg_impl {

// The columns ReadAggregateReport reads (id first, record_count last: 24 in all).
extern const char* const kReportColumns;
// The columns ReadRecord reads (the record's report first, its JSON results last: 26 in all).
extern const char* const kRecordColumns;

// The report of row i (kReportColumns), without its records.
Result<model::AggregateReport> ReadAggregateReport(const pg::Rows& rows, int i);
// The record of row i (kRecordColumns), with its DKIM, SPF and override results.
Result<model::Record> ReadRecord(const pg::Rows& rows, int i);
// A JSON array of strings as stored for lists; empty when NULL or not an array.
std::vector<std::string> JsonStrings(const std::optional<std::string>& text);

}  // namespace dmarc::store::pg_impl
