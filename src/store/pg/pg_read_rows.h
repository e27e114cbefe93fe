// How the PostgreSQL store reads stored reports back into the model: shared by the export
// (pg_read.cc) and the copy of a whole store (pg_migrate.cc).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "model/aggregate.h"
#include "model/smtp_tls.h"
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
// Appends the stored failure details of these SMTP TLS policies (ids) to the policies that
// policy_of maps them to, in stored order.
Result<bool> ReadSmtpTlsFailureDetails(
    pg::Connection& conn, const std::vector<std::int64_t>& policy_ids,
    const std::unordered_map<std::int64_t, model::SmtpTlsPolicy*>& policy_of);
// A JSON array of strings as stored for lists; empty when NULL or not an array.
std::vector<std::string> JsonStrings(const std::optional<std::string>& text);

}  // namespace dmarc::store::pg_impl
