// Plain values for an SMTP TLS report (RFC 8460), shaped after parsedmarc's SMTP TLS fields.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model/aggregate.h"

namespace dmarc::model {

struct SmtpTlsFailureDetails {
  std::string result_type;  // as sent, lower-cased
  std::uint64_t failed_session_count = 0;
  OptString sending_mta_ip;
  OptString receiving_ip;
  OptString receiving_mx_hostname;
  OptString receiving_mx_helo;
  OptString additional_info_uri;
  OptString failure_reason_code;
};

struct SmtpTlsPolicy {
  std::string policy_domain;
  std::string policy_type;  // "sts", "tlsa", "no-policy-found" (lower-cased)
  std::vector<std::string> policy_strings;
  std::vector<std::string> mx_host_patterns;
  std::uint64_t successful_session_count = 0;
  std::uint64_t failed_session_count = 0;
  std::vector<SmtpTlsFailureDetails> failure_details;
};

struct SmtpTlsReport {
  std::string organization_name;
  std::int64_t begin = 0;  // Unix seconds, UTC
  std::int64_t end = 0;
  OptString contact_info;  // null when the sender left it out
  std::string report_id;
  std::vector<SmtpTlsPolicy> policies;
  std::vector<std::string> errors;  // every leniency applied while parsing

  std::uint64_t Successful() const {
    std::uint64_t n = 0;
    for (const auto& p : policies) n += p.successful_session_count;
    return n;
  }
  std::uint64_t Failed() const {
    std::uint64_t n = 0;
    for (const auto& p : policies) n += p.failed_session_count;
    return n;
  }
};

}  // namespace dmarc::model
