#include "web/failure_json.h"

#include <algorithm>
#include <array>
#include <initializer_list>
#include <string>
#include <string_view>

#include "base/time.h"

namespace dmarc::web {

namespace {

using nlohmann::json;

constexpr std::array<const char*, 3> kSampleKeys = {"sample", "parsed_sample",
                                                    "sample_headers_only"};
constexpr std::size_t kMaxResultChars = 32;

// The string at a path of object keys, or null.
json TextAt(const json& j, std::initializer_list<const char*> path) {
  const json* at = &j;
  for (const char* key : path) {
    if (!at->is_object() || !at->contains(key)) return nullptr;
    at = &(*at)[key];
  }
  return at->is_string() && !at->get_ref<const std::string&>().empty() ? *at : json(nullptr);
}

bool IsWordChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

// The result of one method ("spf", "dkim", "dmarc") in an Authentication-Results value
// ("mx.example; dkim=pass header.d=a.example; spf=fail ..."): the first, lower-cased, or empty.
std::string MethodResult(std::string_view results, std::string_view method) {
  const std::string key = std::string(method) + "=";
  for (std::size_t at = 0; (at = results.find(key, at)) != std::string_view::npos;
       at += key.size()) {
    if (at > 0 && IsWordChar(results[at - 1])) continue;  // "xspf=", "header.spf=" ...
    if (at > 0 && results[at - 1] == '.') continue;
    std::string value;
    for (std::size_t i = at + key.size(); i < results.size() && IsWordChar(results[i]); ++i) {
      if (value.size() == kMaxResultChars) break;
      value +=
          static_cast<char>(results[i] >= 'A' && results[i] <= 'Z' ? results[i] + 32 : results[i]);
    }
    if (!value.empty()) return value;
  }
  return {};
}

// spf/dkim/dmarc: from the Authentication-Results the reporter copied; else "fail" when the
// report names the method in auth_failure; else null.
json Results(const json& data) {
  const json ar = TextAt(data, {"authentication_results"});
  const std::string results = ar.is_string() ? ar.get<std::string>() : std::string();
  json out = json::object();
  for (const char* method : {"spf", "dkim", "dmarc"}) {
    std::string r = MethodResult(results, method);
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

json Fields(const store::FailureRow& row, const json& data) {
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
          {"has_sample", !sample.is_null()}};
}

}  // namespace

json FailureListRow(const store::FailureRow& row) {
  json data = ParsedData(row);
  json out = Fields(row, data);
  for (const char* key : kSampleKeys) data.erase(key);
  out["data"] = std::move(data);
  return out;
}

json FailureDetailJson(const store::FailureRow& row, bool with_sample) {
  json data = ParsedData(row);
  json out = Fields(row, data);
  out["sample"] = with_sample ? TextAt(data, {"sample"}) : json(nullptr);
  if (!with_sample) {
    for (const char* key : kSampleKeys) data.erase(key);
  }
  out["data"] = std::move(data);
  out["samples_shown"] = with_sample;
  return out;
}

}  // namespace dmarc::web
