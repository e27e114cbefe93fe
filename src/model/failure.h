// Plain values for a DMARC failure report (RFC 6591 ARF auth-failure, RFC 7489 §7.3, RFC 9991),
// shaped after parsedmarc's failure report fields. No behaviour.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "model/aggregate.h"

namespace dmarc::model {

struct EmailAddress {
  OptString display_name;
  std::string address;
  OptString local;
  OptString domain;
};

// The reported message, as much of it as failure.keep_sample allows.
struct FailureSample {
  std::vector<std::pair<std::string, std::string>> headers;  // in order, names as sent
  OptString subject;
  OptString date;  // UTC, "YYYY-MM-DD HH:MM:SS"
  OptString message_id;
  std::optional<EmailAddress> from;
  std::vector<EmailAddress> to;
  std::vector<EmailAddress> cc;
  OptString body;  // only with keep_sample = "full"
  bool has_defects = false;
};

struct FailureReport {
  OptString feedback_type;  // "auth-failure"
  OptString user_agent;
  OptString version;
  OptString original_envelope_id;
  OptString original_mail_from;
  OptString original_rcpt_to;
  std::string arrival_date;     // as sent (or the mail's Date)
  std::int64_t arrival_ts = 0;  // Unix seconds, UTC
  OptString authentication_results;
  OptString delivery_result;      // delivered/spam/policy/reject/other (parsedmarc's mapping)
  OptString delivery_result_raw;  // the value as sent, when it had to be mapped
  std::vector<std::string> auth_failure;               // e.g. ["dmarc"]
  std::vector<std::string> authentication_mechanisms;  // from Identity-Alignment
  OptString dkim_domain;
  OptString dkim_selector;
  OptString dkim_identity;
  OptString spf_dns;
  std::string reported_domain;
  Source source;  // ip_address plain; the rest is filled by enrichment
  bool sample_headers_only = true;
  std::string sample;  // the reported message (headers only unless keep_sample = "full")
  std::optional<FailureSample> parsed_sample;  // absent with keep_sample = "none"
  // Feedback fields this program does not know, lower-cased names with '-' as '_'.
  std::vector<std::pair<std::string, std::string>> other_fields;
  std::vector<std::string> errors;  // recoveries applied while parsing
};

}  // namespace dmarc::model
