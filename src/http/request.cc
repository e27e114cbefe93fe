#include "http/request.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <mutex>

namespace dmarc::http {

namespace {

struct Collected {
  std::string* body;
  std::size_t max;
  bool stop_when_over;
  bool* over;
};

std::size_t Collect(char* data, std::size_t size, std::size_t n, void* user) {
  auto* out = static_cast<Collected*>(user);
  const std::size_t bytes = size * n;
  if (out->body->size() + bytes > out->max) {
    *out->over = true;
    if (out->stop_when_over) return 0;  // ends the transfer (CURLE_WRITE_ERROR)
  }
  if (out->body->size() < out->max) {
    out->body->append(data, std::min(bytes, out->max - out->body->size()));
  }
  return bytes;
}

// "Name: value\r\n" lines of the answer; a status line starts the list anew (after a 100
// Continue, only the final answer's headers are kept).
std::size_t CollectHeader(char* data, std::size_t size, std::size_t n, void* user) {
  auto* out = static_cast<std::vector<std::pair<std::string, std::string>>*>(user);
  std::string line(data, size * n);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  const auto colon = line.find(':');
  if (line.starts_with("HTTP/")) {
    out->clear();
  } else if (colon != std::string::npos && out->size() < 200) {
    const auto value = line.find_first_not_of(" \t", colon + 1);
    out->emplace_back(line.substr(0, colon),
                      value == std::string::npos ? std::string() : line.substr(value));
  }
  return size * n;
}

// Appends a line to a header list; when libcurl cannot allocate it, the list stays as it was.
void AppendHeader(std::unique_ptr<curl_slist, void (*)(curl_slist*)>& list,
                  const std::string& line) {
  if (curl_slist* head = curl_slist_append(list.get(), line.c_str())) {
    (void)list.release();  // head is the same list, or a new one when it was empty
    list.reset(head);
  }
}

using CurlPtr = std::unique_ptr<CURL, void (*)(CURL*)>;

CurlPtr NewHandle() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  return {curl_easy_init(), curl_easy_cleanup};
}

// The method and the body: GET, HEAD and DELETE without a body send none (no Content-Length).
void SetMethod(CURL* curl, const Request& request) {
  const bool bodiless =
      request.body.empty() &&
      (request.method == "GET" || request.method == "HEAD" || request.method == "DELETE");
  if (request.method == "GET" && bodiless) {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    return;
  }
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  if (request.method == "HEAD") curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  if (bodiless) return;
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.c_str());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(request.body.size()));
}

Result<Answer> Perform(CURL* curl, const Request& request) {
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> headers(nullptr, curl_slist_free_all);
  for (const auto& h : request.headers) AppendHeader(headers, h);
  Answer answer;
  Collected collected{&answer.body, request.max_answer_bytes, request.stop_when_over,
                      &answer.truncated};
  char error[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  SetMethod(curl, request);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, CollectHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &answer.headers);
  if (!request.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, request.ca_file.c_str());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, request.timeout_seconds);
  if (request.connect_timeout_seconds > 0) {
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, request.connect_timeout_seconds);
  }
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &collected);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  const CURLcode rc = curl_easy_perform(curl);
  const bool stopped = rc == CURLE_WRITE_ERROR && answer.truncated && request.stop_when_over;
  if (rc != CURLE_OK && !stopped) {
    return MakeError(error[0] ? std::string(error) : curl_easy_strerror(rc));
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &answer.status);
  return answer;
}

}  // namespace

std::string Answer::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key.size() == name.size() &&
        std::equal(key.begin(), key.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      return value;
    }
  }
  return "";
}

Result<Answer> Send(const Request& request) {
  const CurlPtr handle = NewHandle();
  if (!handle) return MakeError("cannot start an HTTP request");
  return Perform(handle.get(), request);
}

struct Session::Handle {
  CurlPtr curl = NewHandle();
};

Session::Session() : handle_(std::make_unique<Handle>()) {}
Session::~Session() = default;

Result<Answer> Session::Send(const Request& request) {
  if (!handle_->curl) return MakeError("cannot start an HTTP request");
  // The options of the last request go; its open connections stay.
  curl_easy_reset(handle_->curl.get());
  return Perform(handle_->curl.get(), request);
}

std::string Escape(const std::string& text) {
  const std::unique_ptr<char, void (*)(void*)> escaped(
      curl_easy_escape(nullptr, text.data(), static_cast<int>(text.size())), curl_free);
  return escaped ? std::string(escaped.get()) : text;
}

std::optional<std::int64_t> RetryAfterSeconds(std::string_view value, std::int64_t now) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty() || value.size() > 64) return std::nullopt;
  if (value.find_first_not_of("0123456789") == std::string_view::npos) {
    return value.size() < 10 ? std::stoll(std::string(value)) : std::int64_t{999'999'999};
  }
  const std::string text(value);
  const time_t at = curl_getdate(text.c_str(), nullptr);
  if (at < 0) return std::nullopt;
  return std::max<std::int64_t>(0, static_cast<std::int64_t>(at) - now);
}

}  // namespace dmarc::http
