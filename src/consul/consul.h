// Registration of the service with the local Consul agent through its HTTP API:
//   PUT /v1/agent/service/register            (JSON: ID, Name, Address, Port, Check{...})
//   PUT /v1/agent/service/deregister/:service_id
// with the ACL token, when configured, in the X-Consul-Token header. The agent then checks
// GET /healthz of the dashboard itself (an HTTP check) and drops the service when it stays
// critical for deregister_after.
#pragma once

#include <string>

#include "base/result.h"
namespace dmarc::consul {

// The registration (the [consul] table of the configuration).
struct Options {
  std::string address = "http://127.0.0.1:8500";  // the agent's HTTP API
  std::string token;                              // ACL token (X-Consul-Token); a secret
  std::string service_name = "dmarc-report";
  std::string service_id;       // empty: service_name-hostname
  std::string service_address;  // empty: the agent's node address
  int service_port = 8080;
  std::string check_url;  // empty: http://{service_address or 127.0.0.1}:{service_port}/healthz
  std::string check_interval = "10s";  // Consul durations: 10s, 1m, 1h30m
  std::string check_timeout = "5s";
  std::string deregister_after = "10m";  // DeregisterCriticalServiceAfter
};

class Agent {
 public:
  explicit Agent(Options config);

  // The service registration document.
  std::string RegistrationJson() const;
  const std::string& service_id() const { return id_; }
  const std::string& check_url() const { return check_url_; }

  Result<bool> Register() const;
  Result<bool> Deregister() const;

 private:
  Result<bool> Put(const std::string& path, const std::string& body) const;

  Options config_;
  std::string id_;
  std::string check_url_;
};

}  // namespace dmarc::consul
