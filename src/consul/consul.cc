#include "consul/consul.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "http/request.h"

namespace dmarc::consul {

namespace {

constexpr long kTimeoutSeconds = 10;
constexpr std::size_t kMaxAnswerBytes = 64 * 1024;

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0 || !name[0]) return "localhost";
  return std::string(name, strnlen(name, sizeof name));
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
  return Put("/v1/agent/service/deregister/" + http::Escape(id_), "");
}

Result<bool> Agent::Put(const std::string& path, const std::string& body) const {
  std::string base = config_.address;
  while (!base.empty() && base.back() == '/') base.pop_back();
  http::Request request;
  request.method = "PUT";
  request.url = base + path;
  request.body = body;
  request.headers = {"Content-Type: application/json"};
  if (!config_.token.empty()) request.headers.push_back("X-Consul-Token: " + config_.token);
  request.timeout_seconds = kTimeoutSeconds;
  request.connect_timeout_seconds = 5;
  request.max_answer_bytes = kMaxAnswerBytes;
  auto sent = http::Send(request);
  if (!sent) {
    return MakeError(
        fmt::format("consul: PUT {} failed: {} (check consul.address)", request.url, sent.error()));
  }
  const long status = sent->status;
  std::string& answer = sent->body;
  if (status < 200 || status > 299) {
    while (!answer.empty() && (answer.back() == '\n' || answer.back() == '\r')) answer.pop_back();
    return MakeError(fmt::format("consul: PUT {} answered {}: {}{}", request.url, status,
                                 answer.substr(0, 500),
                                 status == 403 ? " (check consul.token)" : ""));
  }
  return true;
}

}  // namespace dmarc::consul
