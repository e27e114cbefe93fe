// The dashboard API's JSON (docs/api.md) of the store's answers (store/dashboard_rows.h): the one
// place that knows the API's names, nulls and formats (times as "YYYY-MM-DD HH:MM:SS", days as
// "YYYY-MM-DD", in UTC). Objects are nlohmann::json, whose keys serialise in sorted order.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <vector>

#include "store/dashboard_rows.h"
#include "store/forwarders.h"

namespace dmarc::web {

nlohmann::json OverviewJson(const store::OverviewResult& overview);
nlohmann::json SourcesJson(const store::SourcesResult& sources);
// limit: as asked (the answer says it).
nlohmann::json RecordsJson(const std::vector<store::RecordRow>& rows, std::size_t limit);
nlohmann::json DomainsJson(const store::DomainsResult& domains);
nlohmann::json ReportersJson(const std::vector<store::ReporterRow>& rows);
nlohmann::json ReportsJson(const store::ReportsPage& page, std::size_t limit, std::size_t offset);
nlohmann::json ReportJson(const store::ReportDetail& report);
nlohmann::json RejectionsJson(const std::vector<store::RejectionRow>& rows);
// Each row as FailureListRow (failure_json.h): never the reported message (personal data; one
// report's GET /api/failure gives it when the server allows, which samples_shown says).
nlohmann::json FailuresJson(const std::vector<store::FailureRow>& rows, bool with_samples,
                            const store::Forwarders& forwarders);
nlohmann::json SmtpTlsJson(const store::SmtpTlsResult& smtp_tls);

}  // namespace dmarc::web
