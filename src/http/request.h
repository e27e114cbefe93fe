// One HTTP request with libcurl (http:// and https:// only, no signals, the answer's body kept up
// to a bound), for the modules that make requests of their own: consul's registration, the IMAP
// source's OAuth2 token requests and the Microsoft Graph source. The outputs have their own
// client (outputs/http.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"

namespace dmarc::http {

struct Request {
  std::string method = "POST";
  std::string url;
  std::string body;
  std::vector<std::string> headers;  // "Name: value"
  long timeout_seconds = 10;
  long connect_timeout_seconds = 0;  // 0: within timeout_seconds
  std::size_t max_answer_bytes = 64 * 1024;
  // A body longer than max_answer_bytes ends the transfer (Answer::truncated) instead of being
  // read to its end and cut.
  bool stop_when_over = false;
  std::string ca_file;  // empty: the system's trusted certificates
};

struct Answer {
  long status = 0;
  std::string body;        // at most max_answer_bytes
  bool truncated = false;  // the body was longer than max_answer_bytes
  std::vector<std::pair<std::string, std::string>> headers;  // of the final answer, in order
  // The first header of that name (any case), or "".
  std::string Header(std::string_view name) const;
};

// The answer, whatever its status; an error (libcurl's words) when none came.
Result<Answer> Send(const Request& request);

// Requests one after the other on one libcurl handle, which keeps its connections open between
// them (no new TCP and TLS handshake for each). Not thread-safe: one thread at a time.
class Session {
 public:
  Session();
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  Result<Answer> Send(const Request& request);

 private:
  struct Handle;
  std::unique_ptr<Handle> handle_;
};

// `text` percent-encoded for a URL path or a form value.
std::string Escape(const std::string& text);

// A Retry-After value (RFC 9110 §10.2.3) as seconds to wait from `now` (Unix seconds): its
// delay-seconds, or the time to its HTTP-date (0 when that is past); nullopt when it is neither.
std::optional<std::int64_t> RetryAfterSeconds(std::string_view value, std::int64_t now);

}  // namespace dmarc::http
