#include "http/request.h"

#include <curl/curl.h>

#include <algorithm>
#include <memory>
#include <mutex>

namespace dmarc::http {

namespace {

struct Collected {
  std::string* body;
  std::size_t max;
};

std::size_t Collect(char* data, std::size_t size, std::size_t n, void* user) {
  auto* out = static_cast<Collected*>(user);
  const std::size_t bytes = size * n;
  if (out->body->size() < out->max) {
    out->body->append(data, std::min(bytes, out->max - out->body->size()));
  }
  return bytes;
}

// Appends a line to a header list; when libcurl cannot allocate it, the list stays as it was.
void AppendHeader(std::unique_ptr<curl_slist, void (*)(curl_slist*)>& list,
                  const std::string& line) {
  if (curl_slist* head = curl_slist_append(list.get(), line.c_str())) {
    (void)list.release();  // head is the same list, or a new one when it was empty
    list.reset(head);
  }
}

}  // namespace

Result<Answer> Send(const Request& request) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  const std::unique_ptr<CURL, void (*)(CURL*)> handle(curl_easy_init(), curl_easy_cleanup);
  if (!handle) return MakeError("cannot start an HTTP request");
  CURL* curl = handle.get();
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> headers(nullptr, curl_slist_free_all);
  for (const auto& h : request.headers) AppendHeader(headers, h);
  Answer answer;
  Collected collected{&answer.body, request.max_answer_bytes};
  char error[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.c_str());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(request.body.size()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
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
  if (rc != CURLE_OK) return MakeError(error[0] ? std::string(error) : curl_easy_strerror(rc));
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &answer.status);
  return answer;
}

std::string Escape(const std::string& text) {
  const std::unique_ptr<char, void (*)(void*)> escaped(
      curl_easy_escape(nullptr, text.data(), static_cast<int>(text.size())), curl_free);
  return escaped ? std::string(escaped.get()) : text;
}

}  // namespace dmarc::http
