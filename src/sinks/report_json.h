// Failure and SMTP TLS reports as parsedmarc's JSON objects (nlohmann values) and back, and
// their CSV rows (parsedmarc's failure.csv and smtp_tls.csv columns). The store keeps failure
// reports in this JSON; the formats are described in docs/schemata.md.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "base/result.h"
#include "model/failure.h"
#include "model/smtp_tls.h"

namespace dmarc::sinks {

nlohmann::ordered_json FailureToJson(const model::FailureReport& report);
Result<model::FailureReport> FailureFromJson(const nlohmann::ordered_json& j);

nlohmann::ordered_json SmtpTlsToJson(const model::SmtpTlsReport& report);
Result<model::SmtpTlsReport> SmtpTlsFromJson(const nlohmann::ordered_json& j);

// One report as an element of the document's failure_reports / smtp_tls_reports array, in the
// layout of the aggregate ones; with separator, a leading ",".
void AppendFailureJson(const model::FailureReport& report, std::string& out, bool separator);
void AppendSmtpTlsJson(const model::SmtpTlsReport& report, std::string& out, bool separator);

std::string FailureCsvHeader();
void AppendFailureCsvRow(const model::FailureReport& report, std::string& out);

std::string SmtpTlsCsvHeader();
void AppendSmtpTlsCsvRows(const model::SmtpTlsReport& report, std::string& out);

// "2016-04-01T00:00:00Z"
std::string FormatRfc3339(std::int64_t unix_seconds);

}  // namespace dmarc::sinks
