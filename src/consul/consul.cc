#include "consul/consul.h"

#include <curl/curl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>

namespace dmarc::consul {

namespace {

constexpr long kTimeoutSeconds = 10;
constexpr std::size_t kMaxAnswerBytes = 64 * 1024;

// Owners of libcurl's handles, so every return path (and an exception) frees them.
struct CurlEasyCleanup {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct CurlSlistFree {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
struct CurlFree {
  void operator()(char* text) const { curl_free(text); }
};
using CurlEasy = std::unique_ptr<CURL, CurlEasyCleanup>;
using CurlSlist = std::unique_ptr<curl_slist, CurlSlistFree>;

// Appends a line to a header list; when libcurl cannot allocate it, the list stays as it was.
void AppendHeader(CurlSlist& list, const std::string& line) {
  if (curl_slist* head = curl_slist_append(list.get(), line.c_str())) {
    (void)list.release();  // head is the same list, or a new one when it was empty
    list.reset(head);
  }
}

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0 || !name[0]) return "localhost";
  return std::string(name, strnlen(name, sizeof name));
}

size_t KeepAnswer(char* data, size_t size, size_t n, void* user) {
  auto* out = static_cast<std::string*>(user);
  const std::size_t bytes = size * n;
  if (out->size() < kMaxAnswerBytes) out->append(data, std::min(bytes, kMaxAnswerBytes));
  return bytes;
}

}  // namespace

Agent::Agent(Options config) : config_(std::move(config)) {
  id_ = config_.service_id.empty() ? config_.service_name + "-" + HostName() : config_.service_id;
  check_url_ = config_.check_url;
  if (check_url_.empty()) {
    std::string host = config_.service_address.empty() ? "127.0.0.1" : config_.service_address;
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    check_url_ = fmt::format("http://{}:{}/healthz", host, config_.service_port);
  }
}

std::string Agent::RegistrationJson() const {
  nlohmann::json doc = {
      {"ID", id_},
      {"Name", config_.service_name},
      {"Port", config_.service_port},
      {"Check",
       {{"Name", config_.service_name + " /healthz"},
        {"HTTP", check_url_},
        {"Method", "GET"},
        {"Interval", config_.check_interval},
        {"Timeout", config_.check_timeout},
        {"DeregisterCriticalServiceAfter", config_.deregister_after}}},
  };
  if (!config_.service_address.empty()) doc["Address"] = config_.service_address;
  return doc.dump();
}

Result<bool> Agent::Register() const {
  return Put("/v1/agent/service/register", RegistrationJson());
}

Result<bool> Agent::Deregister() const {
  const std::unique_ptr<char, CurlFree> escaped(
      curl_easy_escape(nullptr, id_.data(), static_cast<int>(id_.size())));
  const std::string id = escaped ? escaped.get() : id_;
  return Put("/v1/agent/service/deregister/" + id, "");
}

Result<bool> Agent::Put(const std::string& path, const std::string& body) const {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  std::string base = config_.address;
  while (!base.empty() && base.back() == '/') base.pop_back();
  const std::string url = base + path;
  const CurlEasy handle(curl_easy_init());
  if (!handle) return MakeError("consul: cannot start an HTTP request");
  CURL* curl = handle.get();
  CurlSlist headers;
  AppendHeader(headers, "Content-Type: application/json");
  if (!config_.token.empty()) AppendHeader(headers, "X-Consul-Token: " + config_.token);
  std::string answer;
  char error[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "PUT");
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, kTimeoutSeconds);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 5L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, KeepAnswer);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  const CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  if (rc != CURLE_OK) {
    return MakeError(fmt::format("consul: PUT {} failed: {} (check consul.address)", url,
                                 error[0] ? error : curl_easy_strerror(rc)));
  }
  if (status < 200 || status > 299) {
    while (!answer.empty() && (answer.back() == '\n' || answer.back() == '\r')) answer.pop_back();
    return MakeError(fmt::format("consul: PUT {} answered {}: {}{}", url, status,
                                 answer.substr(0, 500),
                                 status == 403 ? " (check consul.token)" : ""));
  }
  return true;
}

}  // namespace dmarc::consul
