// Test helper: a cpp-httplib HTTPS server on a loopback port with a self-signed certificate made
// for the test (trusted by the client through its ca_file), answering on a thread of its own from
// Start() until it is destroyed. Routes are added to `routes` before Start(). The fake Microsoft
// Graph and Gmail API of tests/graph_test.cc and tests/gmail_test.cc stand on it.
#pragma once

#include <httplib.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

namespace dmarc::testing {

class LoopbackHttpsServer {
 public:
  // The certificate and key are written into `dir` (cert.pem, key.pem).
  explicit LoopbackHttpsServer(const std::filesystem::path& dir)
      : cert_((dir / "cert.pem").string()), key_((dir / "key.pem").string()) {
    const std::string cmd =
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost"
        " -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout '" +
        key_ + "' -out '" + cert_ + "' 2>/dev/null";
    made_ = std::system(cmd.c_str()) == 0;  // NOLINT(cert-env33-c): a fixed command
    routes_ = std::make_unique<httplib::SSLServer>(cert_.c_str(), key_.c_str());
  }
  LoopbackHttpsServer(const LoopbackHttpsServer&) = delete;
  LoopbackHttpsServer& operator=(const LoopbackHttpsServer&) = delete;
  ~LoopbackHttpsServer() {
    if (!thread_.joinable()) return;
    routes_->stop();
    thread_.join();
  }

  // Returns once the server accepts connections.
  void Start() {
    port_ = routes_->bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { routes_->listen_after_bind(); });
    while (!routes_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }

  bool made() const { return made_; }  // the certificate was made
  httplib::Server& routes() { return *routes_; }
  // "https://127.0.0.1:PORT".
  std::string Base() const { return "https://127.0.0.1:" + std::to_string(port_); }
  // The certificate's PEM file, for the client's ca_file.
  const std::string& Cert() const { return cert_; }

 private:
  std::string cert_, key_;
  bool made_ = false;
  std::unique_ptr<httplib::SSLServer> routes_;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace dmarc::testing
