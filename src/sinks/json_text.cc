#include "sinks/json_text.h"

#include <fmt/format.h>

#include <array>

namespace dmarc::sinks {

void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  static constexpr auto kEscape = [] {
    std::array<bool, 256> t{};
    for (int c = 0; c < 0x20; ++c) t[c] = true;
    t['"'] = t['\\'] = true;
    return t;
  }();
  out += '"';
  std::size_t run = 0;  // start of the pending run of bytes that need no escape
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (!kEscape[c]) continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default: {
        const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        out.append(esc, 6);
      }
    }
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

void JsonText::Indent() {
  static constexpr char kSpaces[] = "\n                                                        ";
  const std::size_t n = static_cast<std::size_t>(depth_) * 2 + 1;
  if (n <= sizeof kSpaces - 1) {
    out_.append(kSpaces, n);
  } else {
    out_ += '\n';
    out_.append(n - 1, ' ');
  }
}

void JsonText::Prefix(std::string_view key) {
  if (!first_) out_ += ',';
  first_ = false;
  Indent();
  if (!key.empty()) {
    // Keys are the program's own constants: plain ASCII that needs no escaping.
    out_ += '"';
    out_ += key;
    out_ += "\": ";
  }
}

JsonText& JsonText::BeginObject(std::string_view key) {
  if (depth_ > 0 || !first_ || !key.empty()) {
    Prefix(key);
  } else {
    first_ = false;
  }
  out_ += '{';
  ++depth_;
  first_ = true;
  return *this;
}

JsonText& JsonText::EndObject() {
  --depth_;
  if (!first_) Indent();
  out_ += '}';
  first_ = false;
  return *this;
}

JsonText& JsonText::BeginArray(std::string_view key) {
  Prefix(key);
  out_ += '[';
  ++depth_;
  first_ = true;
  return *this;
}

JsonText& JsonText::EndArray() {
  --depth_;
  if (!first_) Indent();
  out_ += ']';
  first_ = false;
  return *this;
}

JsonText& JsonText::String(std::string_view key, std::string_view value) {
  Prefix(key);
  AppendJsonString(out_, value);
  return *this;
}

JsonText& JsonText::String(std::string_view key, const std::optional<std::string>& value) {
  return value ? String(key, std::string_view(*value)) : Null(key);
}

JsonText& JsonText::Int(std::string_view key, std::int64_t value) {
  Prefix(key);
  const fmt::format_int digits(value);
  out_.append(digits.data(), digits.size());
  return *this;
}

JsonText& JsonText::Uint(std::string_view key, std::uint64_t value) {
  Prefix(key);
  const fmt::format_int digits(value);
  out_.append(digits.data(), digits.size());
  return *this;
}

JsonText& JsonText::Bool(std::string_view key, bool value) {
  Prefix(key);
  out_ += value ? "true" : "false";
  return *this;
}

JsonText& JsonText::Null(std::string_view key) {
  Prefix(key);
  out_ += "null";
  return *this;
}

}  // namespace dmarc::sinks
