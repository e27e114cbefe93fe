#include "outputs/http_options.h"

#include <fmt/format.h>

#include <charconv>
#include <fstream>
#include <iterator>

namespace dmarc::outputs {

namespace {
constexpr std::size_t kMaxSecretBytes = 64 * 1024;
}  // namespace

OptionReader::OptionReader(const OutputConfig& config, std::set<std::string> known)
    : config_(config), known_(std::move(known)) {
  known_.insert(HttpKeys().begin(), HttpKeys().end());
}

Error OptionReader::Bad(const std::string& key, const std::string& what) const {
  return MakeError(ErrorKind::kInvalid, fmt::format("output.{}.{}: {}", config_.name, key, what));
}

Status OptionReader::CheckKeys() const {
  for (const auto& [key, value] : config_.options) {
    if (!known_.contains(key)) {
      return Bad(key, fmt::format("unknown key for an output of type \"{}\"", config_.type));
    }
  }
  return Ok();
}

bool OptionReader::Has(const std::string& key) const { return config_.options.contains(key); }

std::string OptionReader::String(const std::string& key, const std::string& fallback) const {
  const auto it = config_.options.find(key);
  return it == config_.options.end() ? fallback : it->second;
}

Result<bool> OptionReader::Bool(const std::string& key, bool fallback) const {
  if (!Has(key)) return fallback;
  const std::string v = String(key);
  if (v == "true") return true;
  if (v == "false") return false;
  return Bad(key, fmt::format("true or false expected, not \"{}\"", v));
}

Result<std::int64_t> OptionReader::Int(const std::string& key, std::int64_t fallback,
                                       std::int64_t min, std::int64_t max) const {
  if (!Has(key)) return fallback;
  const std::string v = String(key);
  std::int64_t n = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || end != v.data() + v.size() || n < min || n > max) {
    return Bad(key, fmt::format("a whole number from {} to {} expected, not \"{}\"", min, max, v));
  }
  return n;
}

Result<std::string> OptionReader::Secret(const std::string& key) const {
  if (!Has(key)) return std::string();
  const std::string path = String(key);
  std::ifstream in(path, std::ios::binary);
  if (!in) return Bad(key, fmt::format("cannot read {}", path));
  std::string text;
  text.reserve(256);
  std::istreambuf_iterator<char> it(in);
  const std::istreambuf_iterator<char> end;
  for (; it != end && text.size() <= kMaxSecretBytes; ++it) text.push_back(*it);
  if (text.size() > kMaxSecretBytes) return Bad(key, fmt::format("{} is over 64 KiB", path));
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (text.empty()) return Bad(key, fmt::format("{} is empty", path));
  if (text.find_first_of("\r\n") != std::string::npos) {
    return Bad(key, fmt::format("{} holds more than one line", path));
  }
  return text;
}

Result<HttpOptions> OptionReader::Http(std::string& base_url) const {
  if (!Has("url")) return Bad("url", "required");
  auto url = NormalizeBaseUrl(String("url"));
  if (!url) return Bad("url", url.error());
  base_url = *url;
  HttpOptions o;
  o.ca_file = String("ca_file");
  if (!o.ca_file.empty() && !std::ifstream(o.ca_file)) {
    return Bad("ca_file", fmt::format("cannot read {}", o.ca_file));
  }
  auto skip = Bool("skip_certificate_verification", false);
  if (!skip) return skip.error_value();
  o.verify_tls = !*skip;
  auto timeout = Int("timeout", 60, 1, 3600);
  if (!timeout) return timeout.error_value();
  o.timeout_ms = *timeout * 1000;
  o.connect_timeout_ms = std::min<long>(o.timeout_ms, 10000);
  o.user = String("user");
  auto password = Secret("password_file");
  if (!password) return password.error_value();
  o.password = *password;
  if (o.user.empty() != o.password.empty()) {
    return Bad(o.user.empty() ? "user" : "password_file",
               "user and password_file go together (basic auth)");
  }
  return o;
}

}  // namespace dmarc::outputs
