// Test helper: a stand-in for the Consul agent's HTTP API on a free loopback port, recording the
// service register/deregister requests it receives and answering with a fixed status.
#pragma once

#include <httplib.h>

#include <mutex>
#include <string>
#include <vector>

#include "testing/http_server.h"

namespace dmarc::testing {

struct ConsulRequest {
  std::string method, path, token, content_type, body;
};

// A stand-in for the agent's HTTP API on a free loopback port.
class FakeConsulAgent {
 public:
  // port 0: a free one.
  explicit FakeConsulAgent(int status = 200, const std::string& answer = "", int port = 0) {
    auto record = [this, status, answer](const httplib::Request& req, httplib::Response& res) {
      {
        std::lock_guard lock(mutex_);
        requests_.push_back({req.method, req.path, req.get_header_value("X-Consul-Token"),
                             req.get_header_value("Content-Type"), req.body});
      }
      res.status = status;
      res.set_content(answer, "text/plain");
    };
    http_.routes.Put("/v1/agent/service/register", record);
    http_.routes.Put(R"(/v1/agent/service/deregister/([^/]+))", record);
    http_.Listen(port);
  }
  std::string address() const { return http_.Url(); }
  std::vector<ConsulRequest> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  std::mutex mutex_;
  std::vector<ConsulRequest> requests_;
  LoopbackHttpServer http_;  // last: stopped before the state its handlers use is destroyed
};

}  // namespace dmarc::testing
