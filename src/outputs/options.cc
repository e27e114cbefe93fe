#include "outputs/options.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <utility>

namespace dmarc::outputs {

namespace {
constexpr std::size_t kMaxSecretBytes = 64 * 1024;
}  // namespace

std::set<std::string> WithHttpKeys(std::set<std::string> keys) {
  keys.insert(
      {"url", "user", "password_file", "ca_file", "skip_certificate_verification", "timeout"});
  return keys;
}

OptionReader::OptionReader(const OutputConfig& config, const std::set<std::string>& known)
    : config_(config) {
  for (const auto& [key, value] : config.options) {
    if (known.count(key) != 0) continue;
    std::string list;
    for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
    Fail(key, "unknown key for type \"" + config.type + "\" (known: " + list + ")");
  }
}

Status OptionReader::Check() const {
  if (failed_) return first_error_;
  return Ok();
}

std::string OptionReader::Name(const std::string& key) const {
  return "output." + config_.name + "." + key;
}

void OptionReader::Fail(const std::string& key, const std::string& why) {
  if (failed_) return;
  failed_ = true;
  first_error_ = MakeError(ErrorKind::kInvalid, Name(key) + ": " + why);
}

std::string OptionReader::String(const std::string& key, const std::string& fallback) {
  const auto it = config_.options.find(key);
  if (it == config_.options.end()) return fallback;
  if (it->second.size() > 4096) Fail(key, "longer than 4096 bytes");
  for (const char c : it->second) {
    if (static_cast<unsigned char>(c) < 0x20) {
      Fail(key, "control characters are not allowed");
      break;
    }
  }
  return it->second;
}

std::string OptionReader::OneOf(const std::string& key, const std::string& fallback,
                                const std::vector<std::string>& allowed) {
  std::string v = String(key, fallback);
  for (const auto& a : allowed) {
    if (a == v) return v;
  }
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  Fail(key, "\"" + v + "\" is not one of " + list);
  return fallback;
}

std::int64_t OptionReader::Int(const std::string& key, std::int64_t fallback, std::int64_t min,
                               std::int64_t max) {
  const auto it = config_.options.find(key);
  if (it == config_.options.end()) return fallback;
  std::int64_t v = 0;
  const std::string& s = it->second;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) {
    Fail(key, "\"" + s + "\" is not a whole number");
    return fallback;
  }
  if (v < min || v > max) {
    Fail(key,
         std::to_string(v) + " is outside " + std::to_string(min) + ".." + std::to_string(max));
    return fallback;
  }
  return v;
}

bool OptionReader::Bool(const std::string& key, bool fallback) {
  const auto it = config_.options.find(key);
  if (it == config_.options.end()) return fallback;
  if (it->second == "true") return true;
  if (it->second == "false") return false;
  Fail(key, "\"" + it->second + "\" is not true or false");
  return fallback;
}

std::string OptionReader::Secret(const std::string& key) {
  const std::string path = String(key, "");
  if (path.empty()) return "";
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    Fail(key, "cannot read " + path);
    return "";
  }
  std::string text(kMaxSecretBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > kMaxSecretBytes) {
    Fail(key, path + " is over 64 KiB");
    return "";
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (text.empty()) Fail(key, path + " is empty");
  if (text.find_first_of("\r\n") != std::string::npos) {
    Fail(key, path + " holds more than one line");
    return "";
  }
  return text;
}

std::string OptionReader::ExistingFile(const std::string& key) {
  std::string path = String(key, "");
  std::error_code ec;
  if (!path.empty() && !std::filesystem::is_regular_file(path, ec)) {
    Fail(key, path + " is not a readable file");
  }
  return path;
}

void OptionReader::Require(const std::string& key, const std::string& what) {
  if (!Has(key)) Fail(key, what.empty() ? "is required" : "is required " + what);
}

HttpOptions OptionReader::Http(std::string& base_url) {
  HttpOptions o;
  Require("url");
  if (Has("url")) {
    auto url = NormalizeBaseUrl(String("url"));
    if (url) {
      base_url = *url;
    } else {
      Fail("url", url.error());
    }
  }
  o.ca_file = ExistingFile("ca_file");
  o.verify_tls = !Bool("skip_certificate_verification", false);
  o.timeout_ms = static_cast<long>(Int("timeout", 60, 1, 3600) * 1000);
  o.connect_timeout_ms = std::min<long>(o.timeout_ms, 10000);
  o.user = String("user");
  o.password = Secret("password_file");
  if (o.user.empty() != o.password.empty()) {
    Fail(o.user.empty() ? "user" : "password_file",
         "user and password_file go together (basic auth)");
  }
  return o;
}

}  // namespace dmarc::outputs
