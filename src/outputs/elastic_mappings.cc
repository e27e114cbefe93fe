// The explicit mappings (declared in elastic_docs.h). Strings are text with a .keyword
// sub-field, as parsedmarc's dynamically mapped indices have them and its dashboards query them;
// numbers, booleans and dates get their own types once, in every index, so no two indices
// disagree (parsedmarc issue #782).
#include "outputs/elastic_docs.h"

namespace dmarc::outputs::elastic {

namespace {

using nlohmann::json;

json Text(int ignore_above = 1024) {
  return {{"type", "text"},
          {"fields", {{"keyword", {{"type", "keyword"}, {"ignore_above", ignore_above}}}}}};
}
json Type(const char* type) { return {{"type", type}}; }
json Object(json properties) { return {{"properties", std::move(properties)}}; }

// Addresses also searchable as addresses (term and range queries on "source_ip_address.ip").
json IpText() {
  json t = Text();
  t["fields"]["ip"] = {{"type", "ip"}, {"ignore_malformed", true}};
  return t;
}

json Source() {
  return {
      {"source_ip_address", IpText()}, {"source_country", Text()}, {"source_reverse_dns", Text()},
      {"source_base_domain", Text()},  {"source_type", Text()},    {"source_name", Text()},
      {"source_asn", Type("long")},    {"source_as_name", Text()}, {"source_as_domain", Text()}};
}

json DateRange() {
  return {{"date_range", Type("date")}, {"date_begin", Type("date")}, {"date_end", Type("date")}};
}

json AggregateProperties() {
  json p = {
      {"@timestamp", Type("date")},
      {"xml_schema", Text()},
      {"xml_namespace", Text()},
      {"org_name", Text()},
      {"org_email", Text()},
      {"org_extra_contact_info", Text()},
      {"report_id", Text()},
      {"normalized_timespan", Type("boolean")},
      {"original_timespan_seconds", Type("long")},
      {"errors", Text()},
      {"published_policy", Object({{"domain", Text()},
                                   {"adkim", Text()},
                                   {"aspf", Text()},
                                   {"p", Text()},
                                   {"sp", Text()},
                                   {"pct", Type("long")},
                                   {"fo", Text()},
                                   {"np", Text()},
                                   {"testing", Text()},
                                   {"discovery_method", Text()}})},
      {"message_count", Type("long")},
      {"disposition", Text()},
      {"dkim_aligned", Type("boolean")},
      {"spf_aligned", Type("boolean")},
      {"passed_dmarc", Type("boolean")},
      {"policy_overrides", Object({{"type", Text()}, {"comment", Text()}})},
      {"header_from", Text()},
      {"envelope_from", Text()},
      {"envelope_to", Text()},
      {"dkim_results", Object({{"domain", Text()},
                               {"selector", Text()},
                               {"result", Text()},
                               {"human_result", Text()}})},
      {"spf_results",
       Object(
           {{"domain", Text()}, {"scope", Text()}, {"result", Text()}, {"human_result", Text()}})},
      {"dkim_results_combined", Text()},
      {"spf_results_combined", Text()},
      {"np", Text()},
      {"testing", Text()},
      {"discovery_method", Text()},
      {"generator", Text()}};
  p.update(DateRange());
  p.update(Source());
  return p;
}

json Addresses() { return Object({{"display_name", Text()}, {"address", Text()}}); }

json FailureProperties() {
  json sample = {{"raw", Text(256)},
                 {"headers", Type("object")},
                 {"headers_only", Type("boolean")},
                 {"to", Addresses()},
                 {"reply_to", Addresses()},
                 {"cc", Addresses()},
                 {"bcc", Addresses()},
                 {"subject", Text()},
                 {"filename_safe_subject", Text()},
                 {"date", Type("date")},
                 {"body", Text(256)},
                 {"attachments",
                  Object({{"filename", Text()}, {"content_type", Text()}, {"sha256", Text()}})}};
  json p = {{"@timestamp", Type("date")},
            {"feedback_type", Text()},
            {"user_agent", Text()},
            {"version", Text()},
            {"original_mail_from", Text()},
            {"arrival_date", Type("date")},
            {"arrival_date_utc", Type("date")},
            {"domain", Text()},
            {"original_envelope_id", Text()},
            {"authentication_results", Text()},
            {"delivery_results", Text()},
            {"authentication_mechanisms", Text()},
            {"auth_failure", Text()},
            {"dkim_domain", Text()},
            {"original_rcpt_to", Text()},
            {"sample", Object(std::move(sample))}};
  p.update(Source());
  return p;
}

json SmtpTlsProperties() {
  json details = Object({{"result_type", Text()},
                         {"ip_address", IpText()},
                         {"sending_mta_ip", IpText()},
                         {"receiving_mx_helo", Text()},
                         {"receiving_mx_hostname", Text()},
                         {"receiving_ip", IpText()},
                         {"failed_session_count", Type("long")},
                         {"additional_information_uri", Text()},
                         {"failure_reason_code", Text()}});
  json policies = Object({{"policy_domain", Text()},
                          {"policy_type", Text()},
                          {"policy_strings", Text()},
                          {"policy_string", Text()},
                          {"mx_host_patterns", Text()},
                          {"successful_session_count", Type("long")},
                          {"failed_session_count", Type("long")},
                          {"failure_details", std::move(details)}});
  json p = {{"@timestamp", Type("date")},
            {"org_name", Text()},
            {"contact_info", Text()},
            {"report_id", Text()},
            {"policies", std::move(policies)},
            {"policies_combined", Text()},
            {"failure_details_combined", Text()}};
  p.update(DateRange());
  return p;
}

}  // namespace

json Mappings(ReportKind kind) {
  // Anything not listed (a failure sample's headers, whose names vary) is mapped the same way:
  // strings as text + keyword.
  json strings = {{"strings", {{"match_mapping_type", "string"}, {"mapping", Text()}}}};
  json m = {{"dynamic", true},
            {"date_detection", false},
            {"dynamic_templates", json::array({std::move(strings)})}};
  switch (kind) {
    case ReportKind::kAggregate:
      m["properties"] = AggregateProperties();
      break;
    case ReportKind::kFailure:
      m["properties"] = FailureProperties();
      break;
    case ReportKind::kSmtpTls:
      m["properties"] = SmtpTlsProperties();
      break;
  }
  return m;
}

json IndexTemplate(ReportKind kind, const IndexNaming& naming, int shards, int replicas) {
  const std::string base = IndexBase(kind, naming);
  json t = {{"index_patterns", json::array({naming.data_streams ? base : base + "-*"})},
            {"priority", 200},
            {"_meta", {{"managed_by", "dmarc-report"}, {"schema", 1}}}};
  json settings = json::object();
  if (shards > 0) settings["number_of_shards"] = shards;
  if (replicas >= 0) settings["number_of_replicas"] = replicas;
  t["template"] = {{"mappings", Mappings(kind)}};
  if (!settings.empty()) t["template"]["settings"] = std::move(settings);
  if (naming.data_streams) t["data_stream"] = json::object();
  return t;
}

}  // namespace dmarc::outputs::elastic
