#include "outputs/splunk_hec.h"

#include <fmt/format.h>
#include <sodium.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "outputs/http.h"
#include "outputs/options.h"

namespace dmarc::outputs {

namespace {

struct Settings {
  std::string base_url;
  HttpOptions http;
  std::string token;
  std::string channel;  // fixed by the configuration, else made when the HEC asks for one
  splunk_hec::EventOptions events;
  std::int64_t ack_timeout_ms = 60000;
  std::size_t max_bytes = 1000000;  // Splunk's max_content_length was 1 MB before 8.x
};

// HEC answer codes (Splunk's "Format events for HTTP Event Collector" / troubleshooting page).
constexpr int kDataChannelMissing = 10;
constexpr int kInvalidDataChannel = 11;

std::string NewChannel() {
  unsigned char b[16];
  randombytes_buf(b, sizeof b);
  b[6] = (b[6] & 0x0FU) | 0x40U;  // version 4
  b[8] = (b[8] & 0x3FU) | 0x80U;  // RFC 4122 variant
  char hex[33];
  sodium_bin2hex(hex, sizeof hex, b, sizeof b);
  const std::string h(hex, 32);
  return fmt::format("{}-{}-{}-{}-{}", h.substr(0, 8), h.substr(8, 4), h.substr(12, 4),
                     h.substr(16, 4), h.substr(20));
}

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0 || !name[0]) return "localhost";
  return std::string(name, strnlen(name, sizeof name));
}

ErrorKind KindOf(long status, int code) {
  if (status == 401 || status == 403) return ErrorKind::kAuth;
  if (status == 408 || status == 429 || status >= 500) return ErrorKind::kIo;
  // 5 no data, 6 invalid data format, 12 event field required, 13 event field blank: this
  // request will never be accepted.
  if (status == 400 && (code == 5 || code == 6 || code == 12 || code == 13)) {
    return ErrorKind::kInvalid;
  }
  return ErrorKind::kOther;  // e.g. 7 incorrect index: retried until the setting is fixed
}

class SplunkHecOutput : public Output {
 public:
  SplunkHecOutput(std::string name, Settings s)
      : name_(std::move(name)), s_(std::move(s)), http_(s_.http) {}
  const std::string& Name() const override { return name_; }
  Status Deliver(std::span<const Item> items) override;

 private:
  std::vector<std::string> Headers() const;
  Status Send(const std::string& body);
  Status WaitForAck(std::uint64_t ack_id);
  Error Fail(ErrorKind kind, const std::string& what) const {
    return MakeError(kind, fmt::format("splunk_hec output {}: {}", name_, what));
  }

  std::string name_;
  Settings s_;
  HttpClient http_;
};

std::vector<std::string> SplunkHecOutput::Headers() const {
  std::vector<std::string> h = {"Authorization: Splunk " + s_.token,
                                "Content-Type: application/json"};
  if (!s_.channel.empty()) h.push_back("X-Splunk-Request-Channel: " + s_.channel);
  return h;
}

Status SplunkHecOutput::Deliver(std::span<const Item> items) {
  std::string body;
  for (const auto& item : items) {
    splunk_hec::AppendEvents(item, s_.events, body);
    // Requests of whole events (each ends with a line end), at most max_bytes unless one event
    // alone is larger.
    while (body.size() > s_.max_bytes) {
      std::size_t cut = body.rfind('\n', s_.max_bytes - 1);
      if (cut == std::string::npos) cut = body.find('\n');
      const std::size_t n = cut == std::string::npos ? body.size() : cut + 1;
      DMARC_TRY(Send(body.substr(0, n)));
      body.erase(0, n);
    }
  }
  if (!body.empty()) DMARC_TRY(Send(body));
  return Ok();
}

Status SplunkHecOutput::Send(const std::string& body) {
  const std::string url = s_.base_url + "/services/collector/event";
  for (int attempt = 0;; ++attempt) {
    auto r = http_.Send("POST", url, Headers(), body);
    if (!r) return Fail(ErrorKind::kIo, r.error());
    const auto answer = nlohmann::json::parse(r->body, nullptr, false);
    const int code = answer.is_object() ? answer.value("code", -1) : -1;
    if (r->status == 400 && attempt == 0 &&
        (code == kDataChannelMissing || code == kInvalidDataChannel)) {
      s_.channel = NewChannel();  // indexer acknowledgement is on: open a channel
      continue;
    }
    if (r->status < 200 || r->status > 299 || (code != 0 && code != -1)) {
      return Fail(KindOf(r->status, code),
                  fmt::format("POST {} answered {}: {}", url, r->status, Excerpt(r->body)));
    }
    if (answer.is_object() && answer.contains("ackId") && answer["ackId"].is_number_unsigned()) {
      return WaitForAck(answer["ackId"].get<std::uint64_t>());
    }
    return Ok();
  }
}

Status SplunkHecOutput::WaitForAck(std::uint64_t ack_id) {
  const std::string url = s_.base_url + "/services/collector/ack";
  const std::string body = fmt::format(R"({{"acks":[{}]}})", ack_id);
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(s_.ack_timeout_ms);
  auto pause = std::chrono::milliseconds(50);
  while (true) {
    auto r = http_.Send("POST", url, Headers(), body);
    if (!r) return Fail(ErrorKind::kIo, r.error());
    if (r->status < 200 || r->status > 299) {
      return Fail(KindOf(r->status, -1),
                  fmt::format("POST {} answered {}: {}", url, r->status, Excerpt(r->body)));
    }
    const auto answer = nlohmann::json::parse(r->body, nullptr, false);
    const std::string id = std::to_string(ack_id);
    if (answer.is_object() && answer.contains("acks") && answer["acks"].is_object() &&
        answer["acks"].value(id, false)) {
      return Ok();
    }
    if (std::chrono::steady_clock::now() + pause > deadline) {
      return Fail(ErrorKind::kIo, fmt::format("events of ackId {} not indexed within {} s", ack_id,
                                              s_.ack_timeout_ms / 1000));
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(1000));
  }
}

Result<Settings> ReadSettings(const OutputConfig& config) {
  OptionReader o(config, WithHttpKeys({"token_file", "index", "source", "host", "channel",
                                       "ack_timeout", "smtp_tls_sourcetype", "max_batch_bytes"}));
  Settings s;
  s.http = o.Http(s.base_url);
  if (!s.http.user.empty()) o.Fail("user", "the HEC authenticates with token_file only");
  o.Require("token_file", "(the HEC token)");
  s.token = o.Secret("token_file");
  s.channel = o.String("channel");
  if (s.channel.find_first_not_of("0123456789abcdefABCDEF-") != std::string::npos) {
    o.Fail("channel", "a GUID expected (hex digits and -)");
  }
  s.events.index = o.String("index");
  s.events.source = o.String("source", "dmarc-report");
  s.events.host = o.String("host", HostName());
  s.events.smtp_tls_sourcetype = o.String("smtp_tls_sourcetype", "smtp:tls");
  s.ack_timeout_ms = o.Int("ack_timeout", 60, 1, 3600) * 1000;
  s.max_bytes = static_cast<std::size_t>(o.Int("max_batch_bytes", 1000000, 4096, 512 << 20));
  DMARC_TRY(o.Check());
  return s;
}

}  // namespace

Result<std::unique_ptr<Output>> MakeSplunkHecOutput(const OutputConfig& config) {
  auto settings = ReadSettings(config);
  if (!settings) return std::move(settings).error_value();
  return std::unique_ptr<Output>(
      std::make_unique<SplunkHecOutput>(config.name, std::move(*settings)));
}

}  // namespace dmarc::outputs
