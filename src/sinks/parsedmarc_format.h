// parsedmarc-compatible output of aggregate reports: JSON (parsedmarc's field names and
// nesting) and CSV (parsedmarc 10.x's aggregate columns, in their order). The formats and their
// versions are described in docs/schemata.md; change that file with this one.
#pragma once

#include <string>

#include "model/aggregate.h"

namespace dmarc::sinks {

// {"aggregate_reports": [ ... ], "failure_reports": [], "smtp_tls_reports": []}
std::string JsonDocumentBegin();
std::string JsonDocumentEnd(bool any_report);
// Appends one report as an element of the aggregate_reports array; with separator, a leading
// "," so fragments produced in parallel can be concatenated (the caller drops the first one).
void AppendAggregateJson(const model::AggregateReport& report, std::string& out, bool separator);

std::string AggregateCsvHeader();
// One CSV line per record.
void AppendAggregateCsvRows(const model::AggregateReport& report, std::string& out);

}  // namespace dmarc::sinks
