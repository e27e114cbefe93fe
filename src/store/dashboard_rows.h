// The answers of DashboardQueries (dashboard.h) as plain values: what each back end computes,
// with no opinion on how it is shown. Times are Unix seconds (UTC); days are the midnight that
// begins them. The HTTP API's JSON is built from these in web/ (api_json.h), so a back end
// writes SQL and fills these structs, nothing more.
//
// Every text comes from reports written by strangers: consumers must render it as text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "model/aggregate.h"

namespace dmarc::store {

// Message counts of a set of records.
struct MessageSums {
  std::int64_t messages = 0;
  std::int64_t dmarc_pass = 0;
  std::int64_t spf_aligned = 0;  // messages with aligned SPF
  std::int64_t dkim_aligned = 0;
};

// What is known of a source address: as enrichment recorded it with a record, or as the store
// knows it now (beside its DNS cache). nullopt: not known.
struct SourceDetails {
  std::optional<std::string> name;  // the sending service
  std::optional<std::string> type;
  std::optional<std::string> reverse_dns;
  std::optional<std::string> country;
  std::optional<std::int64_t> asn;
  std::optional<std::string> as_name;
  std::optional<std::string> base_domain;
};

// Records grouped by one source attribute.
struct SourceRow {
  std::optional<std::string> key;  // the attribute's value (an AS number as text); nullopt: unknown
  std::int64_t ips = 0;            // distinct source addresses
  MessageSums sums;
  std::int64_t records = 0;
  // The group's descriptive attributes (one value of each within the group). nullopt only for a
  // per-address row whose address is missing from the store's list of addresses, which then
  // has no descriptive attributes at all.
  std::optional<SourceDetails> details;
};

// One page of a list: the rows asked for, and how many rows match in all (the same filter and
// search, without the page's offset and limit).
template <class Row>
struct Page {
  std::int64_t total = 0;
  std::vector<Row> rows;
};

struct SourcesResult {
  std::string group;  // as asked
  std::vector<SourceRow> rows;
  std::int64_t total = 0;  // groups matching the filter and search
};

struct Totals {
  std::int64_t records = 0;
  MessageSums sums;          // dmarc_fail is messages - dmarc_pass
  std::int64_t sources = 0;  // distinct source addresses
  std::int64_t reports = 0;
  std::int64_t reporters = 0;
};

struct DayCount {
  std::int64_t day = 0;
  std::int64_t messages = 0;
  std::int64_t dmarc_pass = 0;
};

struct OverviewResult {
  Totals totals;
  std::vector<DayCount> daily;                                       // in day order
  std::vector<std::pair<std::string, std::int64_t>> by_disposition;  // messages per disposition
  std::vector<SourceRow> top_sources;                                // by address, largest first
  std::vector<SourceRow> countries;                                  // by country, largest first
  // The same totals for the period of equal length just before from (when the filter has both
  // days), and its first and last day.
  struct Previous {
    Totals totals;
    std::int64_t from = 0;
    std::int64_t to = 0;
  };
  std::optional<Previous> previous;
};

// One row of an aggregate report, with every DKIM and SPF result and override reason.
struct RecordRow {
  std::int64_t id = 0;
  std::int64_t report = 0;  // its report's id
  std::string org_name;     // its report's (filled by Records only, not by Report)
  std::string report_id;    // likewise
  std::int64_t interval_begin = 0;
  std::int64_t interval_end = 0;
  std::string source_ip;
  std::optional<std::string> reverse_dns;
  std::optional<std::string> country;
  std::optional<std::string> name;
  std::optional<std::string> base_domain;
  std::optional<std::int64_t> asn;
  std::int64_t count = 0;
  std::string disposition;
  std::string policy_dkim;
  std::string policy_spf;
  bool dmarc_aligned = false;
  bool spf_aligned = false;
  bool dkim_aligned = false;
  std::string header_from;
  std::optional<std::string> envelope_from;
  std::optional<std::string> envelope_to;
  std::string policy_domain;
  std::vector<model::DkimAuthResult> dkim;
  std::vector<model::SpfAuthResult> spf;
  std::vector<model::PolicyOverrideReason> policy_override_reasons;
};

struct HeaderFromRow {
  std::string header_from;
  std::string policy_domain;
  MessageSums sums;
};

// One distinct published policy of a policy domain, and when reports carried it.
struct PolicyRow {
  std::string domain;
  std::string p;
  std::string sp;
  std::optional<std::string> pct;
  std::string adkim;
  std::string aspf;
  std::optional<std::string> np;
  std::optional<std::string> fo;
  std::int64_t first_seen = 0;  // the earliest begin of those reports
  std::int64_t last_seen = 0;   // the latest end
  std::int64_t reports = 0;
};

struct DomainsResult {
  std::vector<HeaderFromRow> header_from;  // most messages first
  std::vector<PolicyRow> policies;         // by domain, then first seen
};

struct ReporterRow {
  std::string org_name;
  std::string org_email;
  std::int64_t reports = 0;
  std::int64_t records = 0;
  std::int64_t first_seen = 0;
  std::int64_t last_seen = 0;
  std::int64_t domains = 0;  // distinct policy domains
  std::int64_t messages = 0;
  std::int64_t dmarc_pass = 0;
};

struct ReportRow {
  std::int64_t id = 0;
  std::string org_name;
  std::string report_id;
  std::string domain;
  std::int64_t begin = 0;
  std::int64_t end = 0;
  std::int64_t records = 0;
  std::int64_t messages = 0;
  std::int64_t dmarc_pass = 0;
  std::string p;
};

using ReportsPage = Page<ReportRow>;

struct ReportDetail {
  std::int64_t id = 0;
  std::string org_name;
  std::string org_email;
  std::optional<std::string> org_extra_contact_info;
  std::string report_id;
  std::int64_t begin = 0;
  std::int64_t end = 0;
  std::string xml_schema;
  std::optional<std::string> generator;
  // The recoveries applied while parsing, as the store keeps them: a JSON array of texts (any
  // text that is not JSON counts as none).
  std::string errors_json;
  model::PolicyPublished policy_published;
  std::string origin;
  std::int64_t imported_at = 0;
  struct RawXml {
    std::int64_t size = 0;          // the XML's length
    std::int64_t stored_bytes = 0;  // its compressed copy's
  };
  std::optional<RawXml> raw_xml;  // nullopt: the XML was not kept
  std::vector<RecordRow> records;
};

struct RejectionRow {
  std::int64_t id = 0;
  std::int64_t received_at = 0;
  std::string origin;
  std::string reason;
  std::string sha256;
  std::int64_t size = 0;          // of the whole input
  std::int64_t stored_bytes = 0;  // of the first bytes kept
};

struct FailureRow {
  std::int64_t id = 0;
  std::int64_t arrival = 0;
  std::optional<std::string> reported_domain;
  std::optional<std::string> source_ip;
  std::optional<std::string> feedback_type;
  std::string origin;
  // The whole report as the store keeps it: a JSON document (parsedmarc's shape), with the
  // message samples; whoever shows it decides whether to remove them.
  std::string data_json;
};

struct SmtpTlsResult {
  struct Day {
    std::int64_t day = 0;
    std::int64_t successful = 0;
    std::int64_t failed = 0;
  };
  struct FailureType {
    std::int64_t day = 0;
    std::string result_type;
    std::int64_t failed = 0;
  };
  struct Policy {
    std::string policy_domain;
    std::string policy_type;
    std::optional<std::string> mx_host_patterns;  // as stored: a JSON array of texts
    std::int64_t successful = 0;
    std::int64_t failed = 0;
    std::int64_t reports = 0;
    std::optional<std::string> reporters;  // the organisations, comma-separated
  };
  std::vector<Day> daily;                  // in day order
  std::vector<FailureType> failure_types;  // by day, then type
  std::vector<Policy> policies;            // most failed sessions first
};

}  // namespace dmarc::store
