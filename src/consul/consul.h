// Registration of the service with the local Consul agent through its HTTP API:
//   PUT /v1/agent/service/register            (JSON: ID, Name, Address, Port, Check{...})
//   PUT /v1/agent/service/deregister/:service_id
// with the ACL token, when configured, in the X-Consul-Token header. The agent then checks
// GET /healthz of the dashboard itself (an HTTP check) and drops the service when it stays
// critical for deregister_after.
#pragma once

#include <string>

#include "base/result.h"
#include "config/config.h"

namespace dmarc::consul {

class Agent {
 public:
  explicit Agent(config::ConsulConfig config);

  // The service registration document.
  std::string RegistrationJson() const;
  const std::string& service_id() const { return id_; }
  const std::string& check_url() const { return check_url_; }

  Result<bool> Register() const;
  Result<bool> Deregister() const;

 private:
  Result<bool> Put(const std::string& path, const std::string& body) const;

  config::ConsulConfig config_;
  std::string id_;
  std::string check_url_;
};

}  // namespace dmarc::consul
