#include "store/auth_json.h"

#include <nlohmann/json.hpp>

#include "sinks/json_text.h"

namespace dmarc::store {

namespace {

void Field(std::string_view key, std::string_view value, bool first, JsonStringWriter text,
           std::string& out) {
  if (!first) out += ',';
  out += '"';
  out += key;
  out += "\":";
  text(value, out);
}

void OptField(std::string_view key, const std::optional<std::string>& value, bool first,
              JsonStringWriter text, std::string& out) {
  if (value) {
    Field(key, *value, first, text, out);
    return;
  }
  if (!first) out += ',';
  out += '"';
  out += key;
  out += "\":null";
}

// "[" + each element's object + "]", nothing for an empty list.
template <class List, class Object>
void AppendArray(const List& list, std::string& out, Object object) {
  if (list.empty()) return;
  out += '[';
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (i) out += ',';
    out += '{';
    object(list[i]);
    out += '}';
  }
  out += ']';
}

std::string Key(const nlohmann::json& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::optional<std::string> OptKey(const nlohmann::json& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

// Calls add for each object of the JSON array `text` (none when text is empty).
template <class Add>
Result<bool> ForEachObject(std::string_view text, Add add) {
  if (text.empty()) return true;
  const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) {
    return MakeError(ErrorKind::kIo, "a record's results are not a JSON array");
  }
  for (const auto& e : j) {
    if (e.is_object()) add(e);
  }
  return true;
}

}  // namespace

void AppendJsonText(std::string_view value, std::string& out) {
  sinks::AppendJsonString(out, value, sinks::InvalidUtf8::kReplace);
}

void AppendDkimJson(const std::vector<model::DkimAuthResult>& list, std::string& out,
                    JsonStringWriter text) {
  AppendArray(list, out, [&](const model::DkimAuthResult& d) {
    Field("domain", d.domain, true, text, out);
    Field("selector", d.selector, false, text, out);
    Field("result", d.result, false, text, out);
    if (d.human_result) Field("human_result", *d.human_result, false, text, out);
  });
}

void AppendSpfJson(const std::vector<model::SpfAuthResult>& list, std::string& out,
                   JsonStringWriter text) {
  AppendArray(list, out, [&](const model::SpfAuthResult& s) {
    Field("domain", s.domain, true, text, out);
    Field("scope", s.scope, false, text, out);
    Field("result", s.result, false, text, out);
    if (s.human_result) Field("human_result", *s.human_result, false, text, out);
  });
}

void AppendOverridesJson(const std::vector<model::PolicyOverrideReason>& list, std::string& out,
                         JsonStringWriter text) {
  AppendArray(list, out, [&](const model::PolicyOverrideReason& o) {
    OptField("type", o.type, true, text, out);
    OptField("comment", o.comment, false, text, out);
  });
}

Result<bool> ReadDkimJson(std::string_view text, std::vector<model::DkimAuthResult>& out) {
  return ForEachObject(text, [&](const nlohmann::json& d) {
    out.push_back(
        {Key(d, "domain"), Key(d, "selector"), Key(d, "result"), OptKey(d, "human_result")});
  });
}

Result<bool> ReadSpfJson(std::string_view text, std::vector<model::SpfAuthResult>& out) {
  return ForEachObject(text, [&](const nlohmann::json& d) {
    out.push_back({Key(d, "domain"), Key(d, "scope"), Key(d, "result"), OptKey(d, "human_result")});
  });
}

Result<bool> ReadOverridesJson(std::string_view text,
                               std::vector<model::PolicyOverrideReason>& out) {
  return ForEachObject(text, [&](const nlohmann::json& o) {
    out.push_back({OptKey(o, "type"), OptKey(o, "comment")});
  });
}

}  // namespace dmarc::store
