#include "outputs/http.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <mutex>

namespace dmarc::outputs {

namespace {

struct CurlSlistFree {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using CurlSlist = std::unique_ptr<curl_slist, CurlSlistFree>;

struct Answer {
  std::string* body;
  std::size_t max;
};

size_t KeepAnswer(char* data, size_t size, size_t n, void* user) {
  auto* answer = static_cast<Answer*>(user);
  const std::size_t bytes = size * n;
  if (answer->body->size() < answer->max) {
    answer->body->append(data, std::min(bytes, answer->max - answer->body->size()));
  }
  return bytes;
}

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

struct HttpClient::Handle {
  CURL* curl = nullptr;
  ~Handle() {
    if (curl) curl_easy_cleanup(curl);
  }
};

HttpClient::HttpClient(HttpOptions options)
    : options_(std::move(options)), handle_(std::make_unique<Handle>()) {
  GlobalInit();
}

HttpClient::~HttpClient() = default;

Result<HttpResponse> HttpClient::Send(const std::string& method, const std::string& url,
                                      const std::vector<std::string>& headers,
                                      const std::string& body) {
  if (!handle_->curl) handle_->curl = curl_easy_init();
  CURL* curl = handle_->curl;
  if (!curl) return MakeError(ErrorKind::kIo, "cannot start an HTTP request");
  curl_easy_reset(curl);  // keeps the open connection, forgets the last request's options
  CurlSlist list;
  std::vector<std::string> lines = headers;
  lines.emplace_back("Expect:");  // no 100-continue round trip before large bodies
  for (const auto& line : lines) {
    if (curl_slist* head = curl_slist_append(list.get(), line.c_str())) {
      (void)list.release();
      list.reset(head);
    }
  }
  HttpResponse response;
  Answer answer{&response.body, options_.max_answer_bytes};
  char error[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method != "GET") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list.get());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, options_.timeout_ms);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, options_.connect_timeout_ms);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");  // gzip answers when the server offers
  if (!options_.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, options_.ca_file.c_str());
  if (!options_.verify_tls) {
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (!options_.user.empty()) {
    curl_easy_setopt(curl, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(curl, CURLOPT_USERNAME, options_.user.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, options_.password.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, KeepAnswer);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  const CURLcode rc = curl_easy_perform(curl);
  if (rc != CURLE_OK) {
    return MakeError(ErrorKind::kIo, fmt::format("{} {}: {}", method, url,
                                                 error[0] ? error : curl_easy_strerror(rc)));
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

Result<std::string> NormalizeBaseUrl(const std::string& url) {
  std::string u = url;
  while (!u.empty() && u.back() == '/') u.pop_back();
  const bool http = u.starts_with("http://") || u.starts_with("https://");
  if (!http) return MakeError(ErrorKind::kInvalid, "an http:// or https:// URL is required");
  const std::size_t start = u.find("://") + 3;
  const std::size_t host_end = u.find('/', start);
  const std::string authority = u.substr(start, host_end - start);
  if (authority.find('@') != std::string::npos) {
    return MakeError(ErrorKind::kInvalid,
                     "credentials in the URL are refused: use user and password_file");
  }
  if (authority.empty()) return MakeError(ErrorKind::kInvalid, "the URL has no host");
  if (u.find_first_of(" \t\r\n?#") != std::string::npos) {
    return MakeError(ErrorKind::kInvalid, "the URL must not contain a query, fragment or space");
  }
  return u;
}

std::string Excerpt(const std::string& body, std::size_t max) {
  std::string out = body.substr(0, max);
  std::replace_if(
      out.begin(), out.end(), [](char c) { return c == '\n' || c == '\r' || c == '\t'; }, ' ');
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (body.size() > max) out += "...";
  return out;
}

}  // namespace dmarc::outputs
