// The events of the Splunk HEC output (declared in splunk_hec.h): parsedmarc's fields.
#include <nlohmann/json.hpp>

#include "outputs/elastic_docs.h"
#include "outputs/http_json.h"
#include "outputs/splunk_hec.h"
#include "sinks/report_json.h"

namespace dmarc::outputs::splunk_hec {

namespace {

std::string Utc(std::int64_t t) {
  // "YYYY-MM-DD HH:MM:SS" from "YYYY-MM-DDTHH:MM:SSZ"
  std::string s = sinks::FormatRfc3339(t);
  if (s.size() == 20) {
    s[10] = ' ';
    s.pop_back();
  }
  return s;
}

void Envelope(JsonWriter& w, const EventOptions& o, std::int64_t time, std::string_view type) {
  w.Field("time", time);
  if (!o.host.empty()) w.Field("host", o.host);
  if (!o.source.empty()) w.Field("source", o.source);
  w.Field("sourcetype", type);
  if (!o.index.empty()) w.Field("index", o.index);
}

void Metadata(JsonWriter& w, const model::AggregateReport& a) {
  const auto& m = a.report_metadata;
  w.Field("org_name", m.org_name);
  w.Field("org_email", m.org_email);
  w.Field("org_extra_contact_info", m.org_extra_contact_info);
  w.Field("report_id", m.report_id);
  w.Field("begin_date", Utc(m.begin));
  w.Field("end_date", Utc(m.end));
  w.Field("timespan_requires_normalization", m.timespan_requires_normalization);
  w.Field("original_timespan_seconds", m.original_timespan_seconds);
  w.Field("errors", m.errors);
  w.Field("generator", m.generator);
  const auto& p = a.policy_published;
  w.Key("published_policy");
  w.BeginObject();
  w.Field("domain", p.domain);
  w.Field("adkim", p.adkim);
  w.Field("aspf", p.aspf);
  w.Field("p", p.p);
  w.Field("sp", p.sp);
  w.Field("pct", p.pct);
  w.Field("fo", p.fo);
  w.Field("np", p.np);
  w.Field("testing", p.testing);
  w.Field("discovery_method", p.discovery_method);
  w.EndObject();
}

void AuthResults(JsonWriter& w, const model::Record& r) {
  w.Key("dkim_results");
  w.BeginArray();
  for (const auto& d : r.dkim) {
    w.BeginObject();
    w.Field("domain", d.domain);
    w.Field("selector", d.selector);
    w.Field("result", d.result);
    w.Field("human_result", d.human_result);
    w.EndObject();
  }
  w.EndArray();
  w.Key("spf_results");
  w.BeginArray();
  for (const auto& s : r.spf) {
    w.BeginObject();
    w.Field("domain", s.domain);
    w.Field("scope", s.scope);
    w.Field("result", s.result);
    w.Field("human_result", s.human_result);
    w.EndObject();
  }
  w.EndArray();
}

void AggregateEvent(const model::AggregateReport& a, const model::Record& r, const EventOptions& o,
                    std::string& out) {
  JsonWriter w(out);
  w.BeginObject();
  Envelope(w, o, r.interval_begin, "dmarc:aggregate");
  w.Key("event");
  w.BeginObject();
  Metadata(w, a);
  w.Field("interval_begin", Utc(r.interval_begin));
  w.Field("interval_end", Utc(r.interval_end));
  w.Field("normalized_timespan", r.normalized_timespan);
  elastic::SourceFields(w, r.source);
  w.Field("message_count", r.count);
  w.Field("disposition", r.policy_evaluated.disposition);
  w.Field("spf_aligned", r.alignment.spf);
  w.Field("dkim_aligned", r.alignment.dkim);
  w.Field("passed_dmarc", r.alignment.dmarc);
  w.Field("header_from", r.identifiers.header_from);
  w.Field("envelope_from", r.identifiers.envelope_from);
  w.Field("envelope_to", r.identifiers.envelope_to);
  AuthResults(w, r);
  w.EndObject();
  w.EndObject();
  out += '\n';
}

void JsonEvent(const nlohmann::ordered_json& event, std::int64_t time, std::string_view type,
               const EventOptions& o, std::string& out) {
  JsonWriter w(out);
  w.BeginObject();
  Envelope(w, o, time, type);
  w.Key("event");
  w.Raw(event.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
  w.EndObject();
  out += '\n';
}

}  // namespace

void AppendEvents(const Item& item, const EventOptions& options, std::string& out) {
  switch (item.kind) {
    case ReportKind::kAggregate:
      for (const auto& r : item.aggregate->records) {
        AggregateEvent(*item.aggregate, r, options, out);
      }
      break;
    case ReportKind::kFailure: {
      auto event = sinks::FailureToJson(*item.failure);
      // parsedmarc's parsed sample lists Reply-To addresses (its dashboard shows them).
      if (item.failure->parsed_sample && !event["parsed_sample"].contains("reply_to")) {
        auto list = nlohmann::ordered_json::array();
        for (const auto& a : elastic::HeaderAddresses(*item.failure->parsed_sample, "reply-to")) {
          list.push_back({{"display_name", a.display_name ? nlohmann::ordered_json(*a.display_name)
                                                          : nlohmann::ordered_json(nullptr)},
                          {"address", a.address}});
        }
        event["parsed_sample"]["reply_to"] = std::move(list);
      }
      JsonEvent(event, item.failure->arrival_ts, "dmarc:failure", options, out);
      break;
    }
    case ReportKind::kSmtpTls:
      JsonEvent(sinks::SmtpTlsToJson(*item.smtp_tls), item.smtp_tls->begin,
                options.smtp_tls_sourcetype, options, out);
      break;
  }
}

}  // namespace dmarc::outputs::splunk_hec
