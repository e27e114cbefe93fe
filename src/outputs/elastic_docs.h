// The documents the Elasticsearch / OpenSearch / ZincSearch outputs index: parsedmarc's index
// names and document fields (one document per aggregate record, one per failure report, one per
// SMTP TLS report), their ids and the explicit mappings installed as index templates. The
// fields are the ones parsedmarc's Kibana / OpenSearch / Grafana dashboards query, with the
// types they expect (strings as text with a .keyword sub-field); see docs/outputs.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "outputs/http_json.h"
#include "outputs/output.h"

namespace dmarc::outputs::elastic {

struct IndexNaming {
  std::string prefix;         // before the name: "{prefix}dmarc_aggregate"
  std::string suffix;         // after it, with "_": "dmarc_aggregate_{suffix}"
  bool monthly = false;       // "-YYYY-MM" instead of "-YYYY-MM-DD"
  bool data_streams = false;  // one data stream per kind, no date in the name
};

// "dmarc_aggregate", "dmarc_failure", "smtp_tls" with prefix and suffix.
std::string IndexBase(ReportKind kind, const IndexNaming& naming);
// The index (or data stream) a document dated `unix_seconds` goes to.
std::string IndexName(ReportKind kind, std::int64_t unix_seconds, const IndexNaming& naming);
// A document id from the report's stable key and the document's number within the report
// (the record's position for aggregate reports, 0 otherwise): 32 hex digits (BLAKE2b-128).
std::string DocumentId(std::string_view key, std::size_t n);

// How many documents an item makes and the date each is filed under.
std::size_t DocumentCount(const Item& item);
std::int64_t DocumentTime(const Item& item, std::size_t n);
// Appends document `n` of the item as one line of JSON (no line end). With `timestamp`, an
// "@timestamp" field (data streams need one) carries the document's date.
void AppendDocument(const Item& item, std::size_t n, bool timestamp, std::string& out);

// The explicit mapping of one kind's indices ({"dynamic_templates": ..., "properties": ...}).
nlohmann::json Mappings(ReportKind kind);
// A composable index template (PUT _index_template/NAME) for one kind.
nlohmann::json IndexTemplate(ReportKind kind, const IndexNaming& naming, int shards, int replicas);

// The addresses of a failure sample's header fields named `name` (e.g. "Reply-To", any case):
// "Name <a@b>, c@d" as {display_name (or null), address}; parsedmarc lists them this way.
struct Address {
  std::optional<std::string> display_name;
  std::string address;
};
std::vector<Address> HeaderAddresses(const model::FailureSample& sample, std::string_view name);

// "2024-01-31T00:00:00Z"
std::string IsoTime(std::int64_t unix_seconds);

// parsedmarc's source_* fields of a record (source_ip_address ... source_as_domain), as both its
// Elasticsearch documents and its Splunk HEC events carry them.
void SourceFields(JsonWriter& w, const model::Source& s);

}  // namespace dmarc::outputs::elastic
