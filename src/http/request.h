// One HTTP request with libcurl (http:// and https:// only, no signals, the answer's body kept up
// to a bound), for the modules that make a few requests of their own: consul's registration and
// the IMAP source's OAuth2 token requests. The outputs have their own client (outputs/http.h).
#pragma once

#include <cstddef>
#include <string>
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
};

struct Answer {
  long status = 0;
  std::string body;  // at most max_answer_bytes
};

// The answer, whatever its status; an error (libcurl's words) when none came.
Result<Answer> Send(const Request& request);

// `text` percent-encoded for a URL path or a form value.
std::string Escape(const std::string& text);

}  // namespace dmarc::http
