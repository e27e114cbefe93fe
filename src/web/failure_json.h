// The dashboard API's JSON of failure (forensic) reports (docs/api.md, GET /api/failures and
// GET /api/failure): the readable fields a person looks for (From, subject, SPF/DKIM/DMARC
// results, delivery result, source), taken from the stored report, beside the report itself.
// The reported message (sample, parsed_sample, sample_headers_only) is personal data: never in
// the list, and in one report's answer only when the server allows it.
#pragma once

#include <nlohmann/json.hpp>

#include "store/dashboard_rows.h"
#include "store/forwarders.h"

namespace dmarc::web {

// One row of GET /api/failures: the readable fields and `data` without the message sample.
// `forwarding`: whether its message was forwarded, by these known forwarders
// (store::ClassifyFailure).
nlohmann::json FailureListRow(const store::FailureRow& row, const store::Forwarders& forwarders);

// GET /api/failure?id=N: the list's fields, `data` (with the sample only when with_sample) and
// `sample`, the reported message as text (null unless with_sample).
nlohmann::json FailureDetailJson(const store::FailureRow& row, bool with_sample,
                                 const store::Forwarders& forwarders);

}  // namespace dmarc::web
