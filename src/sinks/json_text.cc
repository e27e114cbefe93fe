#include "sinks/json_text.h"

#include <fmt/format.h>

#include <array>
#include <cstdint>
#include <cstring>

#include "base/bytes16.h"

namespace dmarc::sinks {

namespace {

constexpr char kHex[] = "0123456789abcdef";

// The length of the valid UTF-8 sequence at s[i], or 0 when it is not one.
std::size_t Utf8Length(std::string_view s, std::size_t i) {
  const auto b = static_cast<unsigned char>(s[i]);
  std::size_t n = 0;
  unsigned min = 0;
  unsigned cp = 0;
  if (b >= 0xC2 && b <= 0xDF) {
    n = 2, cp = b & 0x1FU, min = 0x80;
  } else if (b >= 0xE0 && b <= 0xEF) {
    n = 3, cp = b & 0x0FU, min = 0x800;
  } else if (b >= 0xF0 && b <= 0xF4) {
    n = 4, cp = b & 0x07U, min = 0x10000;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    const auto c = static_cast<unsigned char>(s[i + k]);
    if ((c & 0xC0U) != 0x80U) return 0;
    cp = (cp << 6U) | (c & 0x3FU);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

// The bytes that stop the copying of a run: controls, quote and backslash, and with
// kCheckUtf8 every byte above 0x7F (checked as the start of a UTF-8 sequence).
template <bool kCheckUtf8>
constexpr std::array<bool, 256> kStop = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[c] = true;
  t['"'] = t['\\'] = true;
  for (int c = 0x80; kCheckUtf8 && c < 0x100; ++c) t[c] = true;
  return t;
}();

void AppendEscape(std::string& out, unsigned char c) {
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
      const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4U], kHex[c & 15U]};
      out.append(esc, 6);
    }
  }
}

// Whether none of the 16 bytes at p stops a run (kStop), checked at once (base/bytes16.h).
template <bool kCheckUtf8>
bool PlainBlock(const char* p) {
  const Bytes16 x = Load16(p);
  const Bytes16 low = kCheckUtf8 ? (x < 0x20) : ((x < 0x20) & (x >= 0));
  return !Any16(low | (x == '"') | (x == '\\'));
}

template <bool kCheckUtf8>
void AppendEscaped(std::string& out, std::string_view s) {
  std::size_t run = 0;  // start of the pending run of bytes that need no escape
  std::size_t i = 0;
  std::size_t bytewise_until = 0;  // after a block with a stop in it, its bytes one by one
  while (i < s.size()) {
    if (i >= bytewise_until) {
      if (i + 16 <= s.size() && PlainBlock<kCheckUtf8>(s.data() + i)) {
        i += 16;
        continue;
      }
      bytewise_until = i + 16;
    }
    const auto c = static_cast<unsigned char>(s[i]);
    if (!kStop<kCheckUtf8>[c]) {
      ++i;
      continue;
    }
    if (kCheckUtf8 && c >= 0x80) {
      if (const std::size_t n = Utf8Length(s, i)) {
        i += n;
        continue;
      }
      out.append(s.data() + run, i - run);
      out += "\\ufffd";
      run = ++i;
      continue;
    }
    out.append(s.data() + run, i - run);
    AppendEscape(out, c);
    run = ++i;
  }
  out.append(s.data() + run, s.size() - run);
}

}  // namespace

void AppendJsonString(std::string& out, std::string_view s, InvalidUtf8 invalid) {
  out += '"';
  if (invalid == InvalidUtf8::kReplace) {
    AppendEscaped<true>(out, s);
  } else {
    AppendEscaped<false>(out, s);
  }
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
