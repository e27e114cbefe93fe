// A small HTTP client over libcurl for the outputs that speak HTTP (Elasticsearch / OpenSearch /
// ZincSearch `_bulk`, Splunk HEC): one connection kept open between requests, TLS with an
// optional CA file, basic auth, bounded answers and a whole-request timeout. Credentials never
// appear in error messages.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"

namespace dmarc::outputs {

struct HttpOptions {
  long timeout_ms = 60000;          // the whole request, answer included
  long connect_timeout_ms = 10000;  // the TCP and TLS handshake
  std::string ca_file;              // PEM bundle to verify the server with (empty: the system's)
  bool verify_tls = true;           // false: skip_certificate_verification
  std::string user, password;       // basic auth when user is set
  std::size_t max_answer_bytes = 64U << 20U;
};

struct HttpResponse {
  long status = 0;
  std::string body;  // at most max_answer_bytes
};

class HttpClient {
 public:
  explicit HttpClient(HttpOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // One request; `headers` are complete lines ("Content-Type: application/json"). An error only
  // when no answer came (refused, timeout, TLS): kind kIo, the message names the URL.
  Result<HttpResponse> Send(const std::string& method, const std::string& url,
                            const std::vector<std::string>& headers, const std::string& body);

 private:
  struct Handle;
  HttpOptions options_;
  std::unique_ptr<Handle> handle_;
};

// The URL without a trailing "/"; refuses one that is not http(s) or that carries credentials
// (they belong in user / password_file, never in a URL that ends up in messages).
Result<std::string> NormalizeBaseUrl(const std::string& url);

// The first `max` bytes of an answer, on one line, for an error message.
std::string Excerpt(const std::string& body, std::size_t max = 300);

}  // namespace dmarc::outputs
