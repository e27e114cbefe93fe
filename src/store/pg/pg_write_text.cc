#include "store/pg/pg_write_text.h"

#include <charconv>
#include <cstring>

#include "base/text.h"
#include "sinks/json_text.h"
#include "store/auth_json.h"
#include "store/pg/pg_db.h"

namespace dmarc::store::pg_impl {

bool IsPgClean(std::string_view v) {
  return std::memchr(v.data(), '\0', v.size()) == nullptr && IsValidUtf8(v);
}

std::string Clean(std::string_view v) {
  std::string s(v);
  if (s.find('\0') != std::string::npos) std::erase(s, '\0');
  RepairUtf8(s);
  return s;
}

std::string Clean(const std::string& v) {
  if (IsPgClean(v)) return v;
  return Clean(std::string_view(v));
}

std::optional<std::string> Clean(const std::optional<std::string>& v) {
  if (!v) return std::nullopt;
  if (IsPgClean(*v)) return v;
  return Clean(std::string_view(*v));
}

const std::string& CleanRef(const std::string& v, std::string& tmp) {
  if (IsPgClean(v)) return v;
  tmp = Clean(std::string_view(v));
  return tmp;
}

void CopyText(std::string_view v, std::string& out) {
  if (IsPgClean(v)) {
    pg::CopyEscape(v, out);
  } else {
    pg::CopyEscape(Clean(v), out);
  }
}

void CopyOptText(const std::optional<std::string>& v, std::string& out) {
  if (v) {
    CopyText(*v, out);
  } else {
    pg::CopyNull(out);
  }
}

void CopyInt(std::int64_t v, std::string& out) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  out.append(buf, end);
}

void CopyOptInt(const std::optional<std::int64_t>& v, std::string& out) {
  if (v) {
    CopyInt(*v, out);
  } else {
    pg::CopyNull(out);
  }
}

namespace {

// A JSON string literal of the cleaned text (as the JSON sinks write it). JSONB refuses \u0000:
// NULs are dropped by Clean.
void JsonString(std::string_view raw, std::string& out) {
  std::string tmp;
  std::string_view v = raw;
  if (!IsPgClean(raw)) {
    tmp = Clean(raw);
    v = tmp;
  }
  sinks::AppendJsonString(out, v);
}

// Appends the JSON built by `write` in COPY text format (its backslashes escaped); NULL when it
// wrote nothing (an empty list).
template <class F>
void CopyJson(F&& write, std::string& out) {
  std::string json;
  write(json);
  if (json.empty()) return pg::CopyNull(out);
  pg::CopyEscape(json, out);
}

}  // namespace

void CopyDkimJson(const std::vector<model::DkimAuthResult>& list, std::string& out) {
  CopyJson([&](std::string& j) { AppendDkimJson(list, j, JsonString); }, out);
}

void CopySpfJson(const std::vector<model::SpfAuthResult>& list, std::string& out) {
  CopyJson([&](std::string& j) { AppendSpfJson(list, j, JsonString); }, out);
}

void CopyOverridesJson(const std::vector<model::PolicyOverrideReason>& list, std::string& out) {
  CopyJson([&](std::string& j) { AppendOverridesJson(list, j, JsonString); }, out);
}

std::vector<std::int64_t> ParseIntArray(std::string_view text) {
  std::vector<std::int64_t> out;
  if (text.size() < 2) return out;
  text = text.substr(1, text.size() - 2);  // without the braces
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    std::int64_t v = 0;
    std::from_chars(item.data(), item.data() + item.size(), v);
    out.push_back(v);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

}  // namespace dmarc::store::pg_impl
