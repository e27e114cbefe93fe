// Test helper: a stand-in for the Consul agent's HTTP API on a free loopback port, recording the
// service register/deregister requests it receives and answering with a fixed status.
#pragma once

#include <httplib.h>

#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace dmarc::testing {

struct ConsulRequest {
  std::string method, path, token, content_type, body;
};

// A stand-in for the agent's HTTP API on a free loopback port.
class FakeConsulAgent {
 public:
  // port 0: a free one.
  explicit FakeConsulAgent(int status = 200, std::string answer = "", int port = 0) {
    auto record = [this, status, answer](const httplib::Request& req, httplib::Response& res) {
      {
        std::lock_guard lock(mutex_);
        requests_.push_back({req.method, req.path, req.get_header_value("X-Consul-Token"),
                             req.get_header_value("Content-Type"), req.body});
      }
      res.status = status;
      res.set_content(answer, "text/plain");
    };
    server_.Put("/v1/agent/service/register", record);
    server_.Put(R"(/v1/agent/service/deregister/([^/]+))", record);
    port_ = port ? (server_.bind_to_port("127.0.0.1", port) ? port : -1)
                 : server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~FakeConsulAgent() {
    server_.stop();
    thread_.join();
  }
  std::string address() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<ConsulRequest> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<ConsulRequest> requests_;
};

}  // namespace dmarc::testing
