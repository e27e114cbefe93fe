// Reports for the Kafka, syslog and Splunk files output tests and the benchmark.
#pragma once

#include <cstdint>
#include <string>

#include "model/aggregate.h"
#include "model/failure.h"
#include "model/smtp_tls.h"
#include "outputs/output.h"

namespace dmarc::outputs::testing {

// An aggregate report of `records` records; record i comes from 192.0.2.(i % 250 + 1) with
// count i + 1, DKIM pass for even i and SPF fail for odd i.
inline model::AggregateReport SampleAggregate(const std::string& report_id, int records,
                                              const std::string& domain = "example.com") {
  model::AggregateReport r;
  r.xml_schema = "1.0";
  r.report_metadata.org_name = "google.com";
  r.report_metadata.org_email = "noreply-dmarc-support@google.com";
  r.report_metadata.org_extra_contact_info = "https://support.google.com/a/answer/2466580";
  r.report_metadata.report_id = report_id;
  r.report_metadata.begin = 1700000000;
  r.report_metadata.end = 1700086399;
  r.policy_published.domain = domain;
  r.policy_published.p = "reject";
  r.policy_published.sp = "quarantine";
  r.policy_published.pct = "100";
  for (int i = 0; i < records; ++i) {
    model::Record rec;
    rec.interval_begin = r.report_metadata.begin;
    rec.interval_end = r.report_metadata.end;
    rec.source.ip_address = "192.0.2." + std::to_string(i % 250 + 1);
    rec.count = static_cast<std::uint64_t>(i) + 1;
    const bool dkim_pass = i % 2 == 0;
    rec.alignment = {false, dkim_pass, dkim_pass};
    rec.policy_evaluated.disposition = dkim_pass ? "none" : "reject";
    rec.policy_evaluated.dkim = dkim_pass ? "pass" : "fail";
    rec.policy_evaluated.spf = "fail";
    rec.identifiers.header_from = domain;
    rec.dkim.push_back({domain, "s1", dkim_pass ? "pass" : "fail", std::nullopt});
    rec.spf.push_back({"bounce." + domain, "mfrom", "fail", std::nullopt});
    r.records.push_back(std::move(rec));
  }
  return r;
}

inline model::FailureReport SampleFailure() {
  model::FailureReport f;
  f.feedback_type = "auth-failure";
  f.arrival_date = "Tue, 14 Nov 2023 22:13:20 +0000";
  f.arrival_ts = 1700000000;
  f.auth_failure = {"dmarc"};
  f.reported_domain = "example.com";
  f.source.ip_address = "198.51.100.7";
  f.delivery_result = "reject";
  f.sample = "From: a@example.com\r\nSubject: hi\r\n\r\n";
  return f;
}

inline model::SmtpTlsReport SampleSmtpTls() {
  model::SmtpTlsReport t;
  t.organization_name = "Example Inc.";
  t.begin = 1700000000;
  t.end = 1700086399;
  t.report_id = "tls-1";
  for (const char* d : {"example.com", "example.net"}) {
    model::SmtpTlsPolicy p;
    p.policy_domain = d;
    p.policy_type = "sts";
    p.successful_session_count = 10;
    p.failed_session_count = 2;
    p.failure_details.push_back({"certificate-expired", 2, "203.0.113.5", std::nullopt,
                                 std::string("mx.") + d, std::nullopt, std::nullopt, std::nullopt});
    t.policies.push_back(std::move(p));
  }
  return t;
}

inline Item AggregateItem(const model::AggregateReport& r) {
  Item i;
  i.kind = ReportKind::kAggregate;
  i.key = r.report_metadata.org_name + "/" + r.report_metadata.report_id + "/" +
          r.policy_published.domain;
  i.aggregate = &r;
  return i;
}

inline Item FailureItem(const model::FailureReport& f, const std::string& key) {
  Item i;
  i.kind = ReportKind::kFailure;
  i.key = key;
  i.failure = &f;
  return i;
}

inline Item SmtpTlsItem(const model::SmtpTlsReport& t) {
  Item i;
  i.kind = ReportKind::kSmtpTls;
  i.key = t.organization_name + "/" + t.report_id;
  i.smtp_tls = &t;
  return i;
}

}  // namespace dmarc::outputs::testing
