// A minimal streaming JSON writer for the documents and events the HTTP outputs send (one
// allocation-free pass per document: the bulk benchmark needs >100k documents/s). Strings are
// escaped as RFC 8259 requires; bytes that are not valid UTF-8 become U+FFFD, so a receiver
// never refuses a document for its encoding.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sinks/json_text.h"

namespace dmarc::outputs {

// Appends `text` as a JSON string (quotes included), invalid UTF-8 replaced.
inline void AppendJsonString(std::string& out, std::string_view text) {
  sinks::AppendJsonString(out, text, sinks::InvalidUtf8::kReplace);
}

class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}
  void BeginObject() { Open('{'); }
  void EndObject() { Close('}'); }
  void BeginArray() { Open('['); }
  void EndArray() { Close(']'); }
  void Key(std::string_view key);
  void String(std::string_view v) {
    Separate();
    AppendJsonString(out_, v);
  }
  void OptString(const std::optional<std::string>& v) {
    if (v) {
      String(*v);
    } else {
      Null();
    }
  }
  void Null() { Raw("null"); }
  void Bool(bool v) { Raw(v ? "true" : "false"); }
  void Int(std::int64_t v);
  void UInt(std::uint64_t v);
  // A value already in JSON.
  void Raw(std::string_view json) {
    Separate();
    out_ += json;
  }
  template <class T>
  void Field(std::string_view key, const T& value) {
    Key(key);
    Value(value);
  }
  void StringArray(const std::vector<std::string>& values) {
    BeginArray();
    for (const auto& v : values) String(v);
    EndArray();
  }

 private:
  void Value(const std::string& v) { String(v); }
  void Value(std::string_view v) { String(v); }
  void Value(const char* v) { String(v); }
  void Value(const std::optional<std::string>& v) { OptString(v); }
  void Value(bool v) { Bool(v); }
  void Value(std::int64_t v) { Int(v); }
  void Value(std::uint64_t v) { UInt(v); }
  void Value(const std::vector<std::string>& v) { StringArray(v); }
  void Separate() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (!first_.empty()) {
      if (!first_.back()) out_ += ',';
      first_.back() = false;
    }
  }
  void Open(char c) {
    Separate();
    out_ += c;
    first_.push_back(true);
  }
  void Close(char c) {
    out_ += c;
    first_.pop_back();
  }
  std::string& out_;
  std::vector<bool> first_;
  bool after_key_ = false;
};

}  // namespace dmarc::outputs
