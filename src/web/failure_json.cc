#include "web/failure_json.h"

#include <algorithm>
#include <array>
#include <initializer_list>
#include <string>
#include <string_view>

#include "base/time.h"
#include "store/forwarders.h"

namespace dmarc::web {

namespace {

using nlohmann::json;

constexpr std::array<const char*, 3> kSampleKeys = {"sample", "parsed_sample",
                                                    "sample_headers_only"};

// The string at a path of object keys, or null.
json TextAt(const json& j, std::initializer_list<const char*> path) {
  const json* at = &j;
  for (const char* key : path) {
    if (!at->is_object() || !at->contains(key)) return nullptr;
    at = &(*at)[key];
  }
  return at->is_string() && !at->get_ref<const std::string&>().empty() ? *at : json(nullptr);
}

// spf/dkim/dmarc: from the Authentication-Results the reporter copied; else "fail" when the
// report names the method in auth_failure; else null.
json Results(const json& data) {
  const json ar = TextAt(data, {"authentication_results"});
  const std::string results = ar.is_string() ? ar.get<std::string>() : std::string();
  json out = json::object();
  for (const char* method : {"spf", "dkim", "dmarc"}) {
    std::string r = store::AuthMethodResult(results, method);
    if (r.empty() && data.contains("auth_failure") && data["auth_failure"].is_array()) {
      const json& failed = data["auth_failure"];
      if (std::find(failed.begin(), failed.end(), json(method)) != failed.end()) r = "fail";
    }
    out[method] = r.empty() ? json(nullptr) : json(r);
  }
  return out;
}

json ParsedData(const store::FailureRow& row) {
  json data = json::parse(row.data_json, nullptr, false);
  if (data.is_discarded() || !data.is_object()) data = json::object();
  return data;
}

// Whether the reported message was forwarded (store::ClassifyFailure). The evidence comes from the
// reported message's headers: shown only with the message (null otherwise).
json ForwardingJson(const store::FailureRow& row, const store::Forwarders& forwarders,
                    bool with_evidence) {
  const store::FailureForwarding f = store::ClassifyFailureData(row.data_json, forwarders);
  auto text = [](const std::string& s) { return s.empty() ? json(nullptr) : json(s); };
  return {{"kind", text(f.kind)},
          {"reason", text(f.reason)},
          {"detail", text(f.detail)},
          {"evidence", with_evidence ? json(f.evidence) : json(nullptr)}};
}

json Fields(const store::FailureRow& row, const json& data, const store::Forwarders& forwarders,
            bool with_sample) {
  json from = TextAt(data, {"parsed_sample", "from", "address"});
  json subject = TextAt(data, {"parsed_sample", "subject"});
  if (subject.is_null()) subject = TextAt(data, {"subject"});
  const json sample = TextAt(data, {"sample"});
  return {{"id", row.id},
          {"arrival", FormatUtc(row.arrival)},
          {"reported_domain", row.reported_domain ? json(*row.reported_domain) : json(nullptr)},
          {"source_ip", row.source_ip ? json(*row.source_ip) : json(nullptr)},
          {"source_reverse_dns", TextAt(data, {"source", "reverse_dns"})},
          {"source_country", TextAt(data, {"source", "country"})},
          {"feedback_type", row.feedback_type ? json(*row.feedback_type) : json(nullptr)},
          {"origin", row.origin},
          {"from", from},
          {"from_name", TextAt(data, {"parsed_sample", "from", "display_name"})},
          {"envelope_from", TextAt(data, {"original_mail_from"})},
          {"subject", subject},
          {"results", Results(data)},
          {"delivery_result", TextAt(data, {"delivery_result"})},
          {"forwarding", ForwardingJson(row, forwarders, with_sample)},
          {"has_sample", !sample.is_null()}};
}

}  // namespace

json FailureListRow(const store::FailureRow& row, const store::Forwarders& forwarders) {
  json data = ParsedData(row);
  json out = Fields(row, data, forwarders, /*with_sample=*/false);
  for (const char* key : kSampleKeys) data.erase(key);
  out["data"] = std::move(data);
  return out;
}

json FailureDetailJson(const store::FailureRow& row, bool with_sample,
                       const store::Forwarders& forwarders) {
  json data = ParsedData(row);
  json out = Fields(row, data, forwarders, with_sample);
  out["sample"] = with_sample ? TextAt(data, {"sample"}) : json(nullptr);
  if (!with_sample) {
    for (const char* key : kSampleKeys) data.erase(key);
  }
  out["data"] = std::move(data);
  out["samples_shown"] = with_sample;
  return out;
}

}  // namespace dmarc::web
