// parsedmarc-compatible output of aggregate reports: JSON (parsedmarc's field names and
// nesting) and CSV (parsedmarc 10.x's aggregate columns, in their order). The formats and their
// versions are described in docs/schemata.md; change that file with this one.
#pragma once

#include <cstddef>
#include <string>

#include "model/aggregate.h"

namespace dmarc::sinks {

// {"aggregate_reports": [ ... ], "failure_reports": [], "smtp_tls_reports": []}
std::string JsonDocumentBegin();
std::string JsonDocumentEnd(bool any_report);
// The same document with failure and SMTP TLS reports: the aggregate array is closed, then
// the fragments written by AppendFailureJson / AppendSmtpTlsJson (sinks/report_json.h) follow,
// each list's first fragment without its leading ",".
std::string JsonAggregatesEnd(bool any_report);
std::string JsonFailuresBegin();
std::string JsonFailuresEnd(bool any_report);  // also opens smtp_tls_reports
std::string JsonSmtpTlsEnd(bool any_report);   // also closes the document
// Appends one report as an element of the aggregate_reports array; with separator, a leading
// "," so fragments produced in parallel can be concatenated (the caller drops the first one).
void AppendAggregateJson(const model::AggregateReport& report, std::string& out, bool separator);
// The same element in parts, for a report whose records come in batches (a streamed report):
// the head (everything before the records, report_metadata.errors included), then the records
// array opened, each record, and the end. AppendAggregateJson is Head, RecordsBegin, Record for
// each record (first: the first one) and End.
void AppendAggregateJsonHead(const model::AggregateReport& report, std::string& out,
                             bool separator);
void AppendAggregateJsonRecordsBegin(bool any_record, std::string& out);
void AppendAggregateJsonRecord(const model::Record& record, std::string& out, bool first);
void AppendAggregateJsonEnd(bool any_record, std::string& out);

std::string AggregateCsvHeader();
// One CSV line per record.
void AppendAggregateCsvRows(const model::AggregateReport& report, std::string& out);
// The same rows in parts, for a report whose records come in batches: a row is the report's
// columns before the dates, the record's dates, the report's columns after them
// (report_metadata.errors included) and the record's own columns (with the line end).
struct AggregateCsvReportColumns {
  std::string before_dates, after_dates;
};
AggregateCsvReportColumns AggregateCsvReportPart(const model::AggregateReport& report);
// "YYYY-MM-DD HH:MM:SS,YYYY-MM-DD HH:MM:SS"
void AppendAggregateCsvDates(const model::Record& record, std::string& out);
void AppendAggregateCsvRecordColumns(const model::Record& record, std::string& out);

}  // namespace dmarc::sinks
