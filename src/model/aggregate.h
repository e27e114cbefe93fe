// Plain values for a DMARC aggregate report (RFC 7489 Appendix C, RFC 9990), normalised the way
// parsedmarc normalises them so that numbers agree. No behaviour beyond small derived values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dmarc::model {

using OptString = std::optional<std::string>;

struct ReportMetadata {
  std::string org_name;
  std::string org_email;
  OptString org_extra_contact_info;
  std::string report_id;
  std::int64_t begin = 0;  // Unix seconds, UTC
  std::int64_t end = 0;
  OptString generator;  // RFC 9990
  bool timespan_requires_normalization = false;
  std::int64_t original_timespan_seconds = 0;
  std::vector<std::string> errors;  // every recovery applied while parsing
};

struct PolicyPublished {
  std::string domain;
  std::string adkim = "r";
  std::string aspf = "r";
  std::string p;
  std::string sp;
  OptString pct;
  OptString fo;
  OptString np;                // RFC 9990
  OptString testing;           // RFC 9990: "y" / "n"
  OptString discovery_method;  // RFC 9990: "psl" / "treewalk"
};

struct Source {
  std::string ip_address;
  OptString country;
  OptString reverse_dns;
  OptString base_domain;
  OptString name;
  OptString type;
  std::optional<std::int64_t> asn;
  OptString as_name;
  OptString as_domain;
};

struct PolicyOverrideReason {
  OptString type;
  OptString comment;
};

struct PolicyEvaluated {
  std::string disposition;
  std::string dkim;
  std::string spf;
  std::vector<PolicyOverrideReason> policy_override_reasons;
};

struct Identifiers {
  std::string header_from;  // lower-cased; "" when the reporter left it out
  OptString envelope_from;
  OptString envelope_to;
};

struct DkimAuthResult {
  std::string domain;
  std::string selector;
  std::string result;
  OptString human_result;
};

struct SpfAuthResult {
  std::string domain;
  std::string scope;
  std::string result;
  OptString human_result;
};

struct Alignment {
  bool spf = false;
  bool dkim = false;
  bool dmarc = false;
};

struct Record {
  std::int64_t interval_begin = 0;
  std::int64_t interval_end = 0;
  bool normalized_timespan = false;
  Source source;
  std::uint64_t count = 0;
  Alignment alignment;
  PolicyEvaluated policy_evaluated;
  Identifiers identifiers;
  std::vector<DkimAuthResult> dkim;
  std::vector<SpfAuthResult> spf;
};

struct AggregateReport {
  std::string xml_schema;   // "draft", "1.0", "2.0" ...
  OptString xml_namespace;  // the first xmlns value declared, e.g. RFC 9990's
  ReportMetadata report_metadata;
  PolicyPublished policy_published;
  std::vector<Record> records;

  std::uint64_t MessageCount() const {
    std::uint64_t n = 0;
    for (const auto& r : records) n += r.count;
    return n;
  }
};

}  // namespace dmarc::model
