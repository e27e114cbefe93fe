#include "log/log.h"

#include <sodium.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/dist_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "base/files.h"
#include "base/text.h"
#include "log/syslog_sink.h"

namespace dmarc::log {

namespace {

constexpr const char* kPattern = "%Y-%m-%dT%H:%M:%SZ %l %v";

// Forwards every line to its sinks with the secrets replaced and control characters escaped:
// messages carry subjects and file names from mails, and a newline or a terminal escape in one
// must not forge a log line or drive the terminal of whoever reads the log.
class RedactingSink final : public spdlog::sinks::dist_sink_mt {
 public:
  explicit RedactingSink(std::vector<std::string> secrets) : secrets_(std::move(secrets)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    const std::string_view payload(msg.payload.data(), msg.payload.size());
    std::string clean = EscapeControls(Redact(payload, secrets_));
    spdlog::details::log_msg copy = msg;
    copy.payload = clean;
    spdlog::sinks::dist_sink_mt::sink_it_(copy);
  }

 private:
  std::vector<std::string> secrets_;
};

spdlog::level::level_enum Level(const std::string& name) {
  if (name == "debug") return spdlog::level::debug;
  if (name == "warning") return spdlog::level::warn;
  if (name == "error") return spdlog::level::err;
  if (name == "critical") return spdlog::level::critical;
  return spdlog::level::info;
}

}  // namespace

std::string Redact(std::string_view text, const std::vector<std::string>& secrets) {
  std::vector<const std::string*> order;
  for (const auto& s : secrets) {
    if (!s.empty()) order.push_back(&s);
  }
  // Longest first, so a secret that contains another is replaced whole.
  std::sort(order.begin(), order.end(),
            [](const std::string* a, const std::string* b) { return a->size() > b->size(); });
  // Only whole values: an occurrence inside a longer word ("a" in "batch") is left alone, or a
  // short secret would be revealed by the holes it leaves in every line.
  const auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  std::string out(text);
  for (const std::string* s : order) {
    for (std::size_t at = out.find(*s); at != std::string::npos; at = out.find(*s, at)) {
      const std::size_t end = at + s->size();
      const bool whole = (at == 0 || !word(out[at - 1]) || !word(s->front())) &&
                         (end == out.size() || !word(out[end]) || !word(s->back()));
      if (!whole) {
        ++at;
        continue;
      }
      out.replace(at, s->size(), "[redacted]");
      at += 10;
    }
  }
  return out;
}

namespace {

std::string Base64(std::string_view bytes) {
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

}  // namespace

std::vector<std::string> EncodedSecretForms(std::string_view secret, std::string_view user) {
  std::vector<std::string> forms;
  if (secret.empty()) return forms;
  std::string quoted;  // the content of an IMAP quoted string (RFC 3501 quoted-specials)
  for (const char c : secret) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  if (quoted != secret) forms.push_back(std::move(quoted));
  forms.push_back(Base64(secret));
  const std::string u(user), s(secret);
  forms.push_back(Base64(std::string(1, '\0') + u + '\0' + s));
  if (!u.empty()) forms.push_back(Base64(u + '\0' + u + '\0' + s));
  return forms;
}

int Facility(const std::string& name) {
  static const char* const kNames[] = {"kern", "user", "mail", "daemon", "auth", "syslog"};
  for (int i = 0; i < 6; ++i) {
    if (name == kNames[i]) return i;
  }
  if (name.size() == 6 && name.starts_with("local") && name[5] >= '0' && name[5] <= '7') {
    return 16 + (name[5] - '0');
  }
  return 1;
}

int Severity(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::critical:
      return 2;
    case spdlog::level::err:
      return 3;
    case spdlog::level::warn:
      return 4;
    case spdlog::level::info:
      return 6;
    default:
      return 7;  // debug, trace
  }
}

Result<std::shared_ptr<spdlog::logger>> MakeLogger(const std::string& name, const Options& config,
                                                   const std::vector<std::string>& secrets) {
  auto guard = std::make_shared<RedactingSink>(secrets);
  if (config.to_stderr) {
    auto s = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    s->set_formatter(
        std::make_unique<spdlog::pattern_formatter>(kPattern, spdlog::pattern_time_type::utc));
    guard->add_sink(s);
  }
  if (!config.file.empty()) {
    std::shared_ptr<spdlog::sinks::sink> s;
    // Log lines name senders and subjects: the file (and a folder made for it) is private.
    Status made = CreatePrivateDirectories(std::filesystem::path(config.file).parent_path());
    if (made) made = CreatePrivateFile(config.file);
    if (!made) {
      return MakeError(fmt::format("log.file: cannot open {} ({})", config.file, made.error()));
    }
    try {
      s = std::make_shared<spdlog::sinks::basic_file_sink_mt>(config.file, false);
    } catch (const spdlog::spdlog_ex& e) {
      return MakeError(fmt::format("log.file: cannot open {}: {}", config.file, e.what()));
    }
    s->set_formatter(
        std::make_unique<spdlog::pattern_formatter>(kPattern, spdlog::pattern_time_type::utc));
    guard->add_sink(s);
  }
  if (!config.syslog_host.empty()) {
    guard->add_sink(std::make_shared<RemoteSyslogSink>(
        config.syslog_transport, config.syslog_host, config.syslog_port,
        Facility(config.syslog_facility), "dmarc-report"));
  }
  auto logger = std::make_shared<spdlog::logger>(name, guard);
  logger->set_level(Level(config.level));
  logger->flush_on(spdlog::level::trace);  // service logs are few lines: each is on disk at once
  return logger;
}

Result<bool> Setup(const Options& config, const std::vector<std::string>& secrets) {
  auto logger = MakeLogger("dmarc-report", config, secrets);
  if (!logger) return MakeError(logger.error());
  spdlog::set_default_logger(*logger);
  return true;
}

}  // namespace dmarc::log
