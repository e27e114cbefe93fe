// Test helpers: reports to deliver, with every field parsedmarc's documents and events carry set.
#pragma once

#include <string>

#include "model/aggregate.h"
#include "model/failure.h"
#include "model/smtp_tls.h"
#include "outputs/output.h"

namespace dmarc::outputs::testing {

constexpr std::int64_t kMay1 = 1714521600;  // 2024-05-01T00:00:00Z

inline model::Record SampleRecord(int i) {
  model::Record r;
  r.interval_begin = kMay1 + i * 86400LL;
  r.interval_end = r.interval_begin + 86399;
  r.source.ip_address = "192.0.2." + std::to_string(i % 250 + 1);
  r.source.country = "US";
  r.source.reverse_dns = "mail" + std::to_string(i) + ".example.net";
  r.source.base_domain = "example.net";
  r.source.name = "Example Mail";
  r.source.type = "Email Provider";
  r.source.asn = 64500 + i;
  r.source.as_name = "EXAMPLE-AS";
  r.source.as_domain = "example.net";
  r.count = 3 + i;
  r.alignment = {true, i % 2 == 0, true};
  r.policy_evaluated = {"none",
                        i % 2 == 0 ? "pass" : "fail",
                        "pass",
                        {{std::string("local_policy"), std::string("forwarded")}}};
  r.identifiers = {"example.com", std::string("bounce.example.com"), std::nullopt};
  r.dkim = {{"example.com", "s1", "pass", std::nullopt}};
  r.spf = {{"bounce.example.com", "mfrom", "pass", std::nullopt}};
  return r;
}

inline model::AggregateReport SampleAggregate(int records, const std::string& report_id = "r-1") {
  model::AggregateReport a;
  a.xml_schema = "1.0";
  a.xml_namespace = "urn:ietf:params:xml:ns:dmarc-2.0";
  auto& m = a.report_metadata;
  m.org_name = "google.com";
  m.org_email = "noreply-dmarc-support@google.com";
  m.report_id = report_id;
  m.begin = kMay1;
  m.end = kMay1 + 86399;
  m.org_extra_contact_info = "https://support.google.com/a/answer/2466580";
  m.generator = "gen/1.0";
  m.errors = {"a recovered error"};
  auto& p = a.policy_published;
  p.domain = "example.com";
  p.p = "reject";
  p.sp = "quarantine";
  p.pct = "100";
  p.fo = "1";
  p.np = "reject";
  p.testing = "n";
  p.discovery_method = "treewalk";
  for (int i = 0; i < records; ++i) a.records.push_back(SampleRecord(i));
  return a;
}

inline model::FailureReport SampleFailure() {
  model::FailureReport f;
  f.feedback_type = "auth-failure";
  f.user_agent = "Lua/1.0";
  f.version = "1.0";
  f.original_mail_from = "bounce@example.com";
  f.original_rcpt_to = "user@example.org";
  f.arrival_date = "Wed, 01 May 2024 10:00:00 +0000";
  f.arrival_ts = kMay1 + 36000;
  f.authentication_results = "dmarc=fail (p=reject) header.from=example.com";
  f.delivery_result = "reject";
  f.auth_failure = {"dmarc"};
  f.authentication_mechanisms = {"dkim"};
  f.dkim_domain = "example.com";
  f.reported_domain = "example.com";
  f.source.ip_address = "198.51.100.7";
  f.source.country = "DE";
  f.source.reverse_dns = "spam.example.net";
  f.source.base_domain = "example.net";
  f.sample = "From: Boss <boss@example.com>\r\nSubject: Pay now\r\n\r\n";
  model::FailureSample s;
  s.headers = {{"From", "Boss <boss@example.com>"},
               {"To", "user@example.org"},
               {"Reply-To", "\"The Thief\" <thief@example.net>"},
               {"Subject", "Pay: now?"},
               {"Received", "from a"},
               {"Received", "from b"}};
  s.subject = "Pay: now?";
  s.date = "2024-05-01 09:59:00";
  s.from = model::EmailAddress{std::string("Boss"), "boss@example.com", std::string("boss"),
                               std::string("example.com")};
  s.to = {{std::nullopt, "user@example.org", std::string("user"), std::string("example.org")}};
  f.parsed_sample = s;
  return f;
}

inline model::SmtpTlsReport SampleSmtpTls() {
  model::SmtpTlsReport t;
  t.organization_name = "Google Inc.";
  t.begin = kMay1;
  t.end = kMay1 + 86399;
  t.contact_info = "smtp-tls-reporting@google.com";
  t.report_id = "2024-05-01T00:00:00Z_example.com";
  model::SmtpTlsPolicy p;
  p.policy_domain = "example.com";
  p.policy_type = "sts";
  p.policy_strings = {"version: STSv1", "mode: enforce"};
  p.mx_host_patterns = {"mx.example.com"};
  p.successful_session_count = 100;
  p.failed_session_count = 2;
  model::SmtpTlsFailureDetails d;
  d.result_type = "certificate-expired";
  d.failed_session_count = 2;
  d.sending_mta_ip = "203.0.113.9";
  d.receiving_ip = "192.0.2.25";
  d.receiving_mx_hostname = "mx.example.com";
  p.failure_details = {d};
  t.policies = {p};
  return t;
}

inline Item AggregateItem(const model::AggregateReport& a) {
  Item item;
  item.kind = ReportKind::kAggregate;
  item.key = a.report_metadata.org_name + "\n" + a.report_metadata.report_id + "\n" +
             a.policy_published.domain;
  item.aggregate = &a;
  return item;
}
inline Item FailureItem(const model::FailureReport& f, const std::string& key = "failure-1") {
  Item item;
  item.kind = ReportKind::kFailure;
  item.key = key;
  item.failure = &f;
  return item;
}
inline Item SmtpTlsItem(const model::SmtpTlsReport& t) {
  Item item;
  item.kind = ReportKind::kSmtpTls;
  item.key = t.organization_name + "\n" + t.report_id;
  item.smtp_tls = &t;
  return item;
}

}  // namespace dmarc::outputs::testing
