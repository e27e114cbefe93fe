// A small streaming JSON text writer: appends to a std::string with two-space indentation (the
// layout parsedmarc prints), escaping every string. Output only — reading JSON uses
// nlohmann-json. See docs/decisions/0001-json-output-writer.md for why this is not nlohmann.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dmarc::sinks {

// What AppendJsonString does with bytes that are not valid UTF-8.
enum class InvalidUtf8 {
  kKeep,     // copied as they are: the text is valid UTF-8 by construction (parsed reports)
  kReplace,  // each such byte written as U+FFFD (text a receiver must be able to parse)
};

// Appends s as a JSON string literal (quotes included). Control characters, quote and
// backslash are escaped; everything else is kept as it is, bytes that are not valid UTF-8 as
// `invalid` says.
void AppendJsonString(std::string& out, std::string_view s,
                      InvalidUtf8 invalid = InvalidUtf8::kKeep);

class JsonText {
 public:
  // base_indent: nesting level the first value is written at.
  JsonText(std::string& out, int base_indent = 0) : out_(out), depth_(base_indent) {}

  JsonText& BeginObject(std::string_view key = {});
  JsonText& EndObject();
  JsonText& BeginArray(std::string_view key = {});
  JsonText& EndArray();

  JsonText& String(std::string_view key, std::string_view value);
  JsonText& String(std::string_view key, const std::string& value) {
    return String(key, std::string_view(value));
  }
  JsonText& String(std::string_view key, const char* value) {
    return String(key, std::string_view(value));
  }
  JsonText& String(std::string_view key, const std::optional<std::string>& value);
  JsonText& Int(std::string_view key, std::int64_t value);
  JsonText& Uint(std::string_view key, std::uint64_t value);
  JsonText& Bool(std::string_view key, bool value);
  JsonText& Null(std::string_view key);
  // An element of an array.
  JsonText& String(std::string_view value) { return String({}, value); }

 private:
  void Prefix(std::string_view key);
  void Indent();

  std::string& out_;
  int depth_;
  bool first_ = true;
};

}  // namespace dmarc::sinks
