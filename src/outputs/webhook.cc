#include "outputs/webhook.h"

#include <curl/curl.h>
#include <fmt/format.h>
#include <sodium.h>

#include <mutex>

#include "outputs/options.h"
#include "sinks/json_text.h"
#include "sinks/parsedmarc_format.h"
#include "sinks/report_json.h"

namespace dmarc::outputs {

namespace {

constexpr long kMaxAnswerBytes = 64 * 1024;

struct CurlFree {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

struct WebhookOptions {
  std::string url, secret, signature_header = "X-DMARC-Report-Signature", ca_file;
  long timeout = 30;
};

// The options of config, every key checked.
Result<WebhookOptions> ParseOptions(const OutputConfig& config) {
  OptionReader r(config, {"url", "secret_file", "signature_header", "timeout", "ca_file"});
  WebhookOptions o;
  r.Require("url");
  o.url = r.String("url");
  if (r.Has("url") && !o.url.starts_with("http://") && !o.url.starts_with("https://")) {
    r.Fail("url", "must start with http:// or https://");
  }
  r.Require("secret_file");
  o.secret = r.Secret("secret_file");
  o.signature_header = r.String("signature_header", o.signature_header);
  if (o.signature_header.empty() || o.signature_header.find_first_of(": ") != std::string::npos) {
    r.Fail("signature_header", "must be a header name");
  }
  o.timeout = static_cast<long>(r.Int("timeout", o.timeout, 1, 600));
  o.ca_file = r.ExistingFile("ca_file");
  DMARC_TRY(r.Check());
  return o;
}

std::size_t KeepAnswer(char* data, std::size_t size, std::size_t n, void* to) {
  auto* answer = static_cast<std::string*>(to);
  const std::size_t bytes = size * n;
  if (answer->size() < static_cast<std::size_t>(kMaxAnswerBytes)) {
    answer->append(data, std::min(bytes, kMaxAnswerBytes - answer->size()));
  }
  return bytes;
}

const char* KindName(ReportKind k) {
  switch (k) {
    case ReportKind::kAggregate:
      return "aggregate";
    case ReportKind::kFailure:
      return "failure";
    case ReportKind::kSmtpTls:
      return "smtp_tls";
  }
  return "aggregate";
}

// An HTTP status as an error kind: 408, 425, 429 and 5xx pass; 401/403 are credentials; any other
// 4xx means this body will never be accepted.
ErrorKind KindOfStatus(long status) {
  if (status == 401 || status == 403) return ErrorKind::kAuth;
  if (status >= 400 && status < 500 && status != 408 && status != 425 && status != 429) {
    return ErrorKind::kInvalid;
  }
  return ErrorKind::kIo;
}

class WebhookOutput final : public Output {
 public:
  WebhookOutput(std::string name, WebhookOptions options)
      : name_(std::move(name)), options_(std::move(options)) {}

  const std::string& Name() const override { return name_; }

  Status Deliver(std::span<const Item> items) override {
    for (const Item& item : items) DMARC_TRY(Post(item));
    return Ok();
  }

 private:
  Status Post(const Item& item);

  std::string name_;
  WebhookOptions options_;
  std::unique_ptr<CURL, CurlFree> curl_;
};

Status WebhookOutput::Post(const Item& item) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (!curl_) curl_.reset(curl_easy_init());
  if (!curl_) return MakeError(ErrorKind::kIo, name_ + ": cannot start an HTTP client");
  CURL* c = curl_.get();
  curl_easy_reset(c);
  const std::string body = WebhookBody(item);
  std::unique_ptr<curl_slist, CurlFree> headers;
  for (const std::string& line : {std::string("Content-Type: application/json"),
                                  fmt::format("X-DMARC-Report-Key: {}", item.key),
                                  fmt::format("X-DMARC-Report-Type: {}", KindName(item.kind)),
                                  fmt::format("{}: {}", options_.signature_header,
                                              WebhookSignature(options_.secret, body))}) {
    curl_slist* l = curl_slist_append(headers.get(), line.c_str());
    if (!l) return MakeError(ErrorKind::kIo, name_ + ": out of memory");
    (void)headers.release();
    headers.reset(l);
  }
  std::string answer;
  char error[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(c, CURLOPT_URL, options_.url.c_str());
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_TIMEOUT, options_.timeout);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, std::min(options_.timeout, 10L));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  if (!options_.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, options_.ca_file.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, KeepAnswer);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &answer);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  const CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    return MakeError(ErrorKind::kIo,
                     fmt::format("{}: {}", name_, error[0] ? error : curl_easy_strerror(rc)));
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (status >= 200 && status < 300) return Ok();
  answer.resize(std::min<std::size_t>(answer.size(), 200));
  for (char& ch : answer) {
    if (static_cast<unsigned char>(ch) < 0x20) ch = ' ';
  }
  return MakeError(KindOfStatus(status),
                   fmt::format("{}: HTTP {} for {}: {}", name_, status, item.key, answer));
}

}  // namespace

std::string WebhookSignature(std::string_view key, std::string_view body) {
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(key.data()), key.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(body.data()),
                                body.size());
  crypto_auth_hmacsha256_final(&st, mac);
  char hex[2 * sizeof mac + 1];
  sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
  return std::string("sha256=") + hex;
}

std::string WebhookBody(const Item& item) {
  std::string out = fmt::format("{{\"type\":\"{}\",\"key\":", KindName(item.kind));
  sinks::AppendJsonString(out, item.key);
  out += ",\"report\":";
  if (item.aggregate) sinks::AppendAggregateJson(*item.aggregate, out, false);
  if (item.failure) sinks::AppendFailureJson(*item.failure, out, false);
  if (item.smtp_tls) sinks::AppendSmtpTlsJson(*item.smtp_tls, out, false);
  if (!item.aggregate && !item.failure && !item.smtp_tls) out += "null";
  out += "}\n";
  return out;
}

Result<std::unique_ptr<Output>> MakeWebhookOutput(const OutputConfig& config) {
  if (sodium_init() < 0) return MakeError("libsodium failed to initialise");
  WebhookOptions options;
  DMARC_TRY_ASSIGN(options, ParseOptions(config));
  return std::unique_ptr<Output>(new WebhookOutput(config.name, std::move(options)));
}

}  // namespace dmarc::outputs
