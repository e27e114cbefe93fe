// Test helper: a cpp-httplib server on a loopback port, answering on a thread of its own from
// Listen() until it is destroyed. Routes are added to `routes` before Listen().
#pragma once

#include <httplib.h>

#include <chrono>
#include <string>
#include <thread>

namespace dmarc::testing {

class LoopbackHttpServer {
 public:
  LoopbackHttpServer() = default;
  LoopbackHttpServer(const LoopbackHttpServer&) = delete;
  LoopbackHttpServer& operator=(const LoopbackHttpServer&) = delete;
  ~LoopbackHttpServer() {
    if (!thread_.joinable()) return;
    routes.stop();
    thread_.join();
  }

  // port 0: a free one. Returns once the server accepts connections.
  void Listen(int port = 0) {
    port_ = port ? (routes.bind_to_port("127.0.0.1", port) ? port : -1)
                 : routes.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { routes.listen_after_bind(); });
    while (!routes.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }

  int port() const { return port_; }
  // "http://127.0.0.1:PORT".
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  httplib::Server routes;

 private:
  int port_ = 0;
  std::thread thread_;
};

}  // namespace dmarc::testing
