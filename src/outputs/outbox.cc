#include "outputs/outbox.h"

#include <string_view>

#include "store/sha256.h"

namespace dmarc::outputs {

namespace {

void Field(std::string& out, std::string_view v) {
  out.append(v);
  out.push_back('\0');
}

}  // namespace

std::string AggregateKey(const model::AggregateReport& r) {
  std::string id;
  Field(id, r.report_metadata.org_name);
  Field(id, r.report_metadata.report_id);
  Field(id, r.policy_published.domain);
  Field(id, std::to_string(r.report_metadata.begin));
  Field(id, std::to_string(r.report_metadata.end));
  return "aggregate-" + store::Sha256Hex(id);
}

std::string FailureKey(const model::FailureReport& r) {
  return "failure-" + store::FailureDedupKey(r);
}

std::string SmtpTlsKey(const model::SmtpTlsReport& r) {
  std::string id;
  Field(id, r.organization_name);
  Field(id, r.report_id);
  Field(id, std::to_string(r.begin));
  Field(id, std::to_string(r.end));
  return "smtp_tls-" + store::Sha256Hex(id);
}

Item ItemOf(const store::OutboxEntry& e) {
  Item item;
  switch (e.kind) {
    case store::OutboxKind::kAggregate:
      item.kind = ReportKind::kAggregate;
      item.key = AggregateKey(e.aggregate);
      item.aggregate = &e.aggregate;
      break;
    case store::OutboxKind::kFailure:
      item.kind = ReportKind::kFailure;
      item.key = FailureKey(e.failure);
      item.failure = &e.failure;
      break;
    case store::OutboxKind::kSmtpTls:
      item.kind = ReportKind::kSmtpTls;
      item.key = SmtpTlsKey(e.smtp_tls);
      item.smtp_tls = &e.smtp_tls;
      break;
  }
  return item;
}

}  // namespace dmarc::outputs
