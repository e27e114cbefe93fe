// Between the store's outbox (store::OutboxEntry) and the outputs (Item): the stable key of each
// report, which outputs use in their document ids (docs/outputs.md, "Keys").
#pragma once

#include <string>

#include "model/aggregate.h"
#include "model/failure.h"
#include "model/smtp_tls.h"
#include "outputs/output.h"
#include "store/store.h"

namespace dmarc::outputs {

// "aggregate-" + the hex SHA-256 of the report's identity in the store: org_name, report_id,
// policy domain, begin and end (each followed by a 0 byte).
std::string AggregateKey(const model::AggregateReport& r);
// "failure-" + the store's dedup key (store::FailureDedupKey).
std::string FailureKey(const model::FailureReport& r);
// "smtp_tls-" + the hex SHA-256 of organization_name, report_id, begin, end.
std::string SmtpTlsKey(const model::SmtpTlsReport& r);

// The item of an entry (pointing into it); the entry must not be purged.
Item ItemOf(const store::OutboxEntry& e);

}  // namespace dmarc::outputs
