// The dashboard server against hostile clients, over raw sockets (the attacks need bytes no HTTP
// client library sends): header floods, oversized chunked bodies, slow clients, too many
// connections, a sign-in flood from many addresses, DNS rebinding, TLS without forward secrecy.
// Client addresses are distinct loopback addresses (127.0.x.y). docs/security.md lists the limits.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "testing/test_util.h"
#include "web/auth.h"
#include "web/server.h"

namespace dmarc::web {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

#if defined(__SANITIZE_ADDRESS__)
constexpr long kMemorySlack = 4;  // AddressSanitizer's shadow memory and quarantine
#else
constexpr long kMemorySlack = 1;
#endif

// A TCP connection to the server from a chosen loopback address.
class Raw {
 public:
  explicit Raw(int port, const std::string& from = "127.0.0.1") {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in local{};
    local.sin_family = AF_INET;
    inet_pton(AF_INET, from.c_str(), &local.sin_addr);
    bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    timeval tv{2, 0};  // a server that stops reading fails a send after 2 s
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~Raw() {
    if (fd_ >= 0) close(fd_);
  }
  Raw(const Raw&) = delete;
  Raw& operator=(const Raw&) = delete;

  bool connected() const { return fd_ >= 0; }

  // False when the server closed the connection or stopped reading.
  bool Send(const std::string& data) {
    std::size_t done = 0;
    while (fd_ >= 0 && done < data.size()) {
      const ssize_t n = send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
      if (n <= 0) return false;
      done += static_cast<std::size_t>(n);
    }
    return fd_ >= 0;
  }

  bool Readable(milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    return fd_ >= 0 && poll(&p, 1, static_cast<int>(timeout.count())) > 0;
  }

  // The status of the answer, 0 when the connection closed (or nothing came) first.
  int ReadStatus(milliseconds timeout) {
    const auto end = Clock::now() + timeout;
    std::string got;
    while (got.find("\r\n\r\n") == std::string::npos) {
      const auto left = std::chrono::duration_cast<milliseconds>(end - Clock::now());
      if (left.count() <= 0 || !Readable(left)) return 0;
      char buf[4096];
      const ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        closed_ = true;
        break;
      }
      got.append(buf, static_cast<std::size_t>(n));
    }
    last_answer_ = got;
    if (!got.starts_with("HTTP/1.") || got.size() < 12) return 0;
    return std::atoi(got.c_str() + 9);
  }

  // True when the server closes the connection (end of stream or reset) within timeout.
  bool ClosedWithin(milliseconds timeout) {
    const auto end = Clock::now() + timeout;
    while (true) {
      const auto left = std::chrono::duration_cast<milliseconds>(end - Clock::now());
      if (left.count() < 0 || !Readable(std::max(left, milliseconds(0)))) return false;
      char buf[4096];
      if (recv(fd_, buf, sizeof buf, 0) <= 0) return true;
    }
  }

  const std::string& last_answer() const { return last_answer_; }
  bool closed() const { return closed_; }

 private:
  int fd_ = -1;
  std::string last_answer_;
  bool closed_ = false;
};

// One GET with the given Host; the status (0: no answer within 3 s).
int Get(int port, const std::string& path, const std::string& host,
        const std::string& from = "127.0.0.1") {
  Raw c(port, from);
  if (!c.Send(fmt::format("GET {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", path, host)))
    return 0;
  return c.ReadStatus(milliseconds(3000));
}

// The 95th percentile of the time /healthz takes to answer 200, over `n` requests on new
// connections; a request without an answer counts as 2 s (and ends the measurement).
double P95HealthzMs(int port, int n) {
  std::vector<double> ms;
  for (int i = 0; i < n; ++i) {
    const auto start = Clock::now();
    Raw c(port);
    const bool ok =
        c.Send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n") &&
        c.ReadStatus(milliseconds(2000)) == 200;
    ms.push_back(ok ? std::chrono::duration<double, std::milli>(Clock::now() - start).count()
                    : 2000.0);
    if (!ok) break;
  }
  std::sort(ms.begin(), ms.end());
  return ms[std::min(ms.size() - 1, static_cast<std::size_t>(0.95 * static_cast<double>(n)))];
}

long StatusKb(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with(field)) return std::atol(line.c_str() + std::string(field).size() + 1);
  }
  return 0;
}
// The peak resident size of this process (the server runs in it) since ResetPeak.
void ResetPeak() { std::ofstream("/proc/self/clear_refs") << "5"; }
long PeakKb() { return StatusKb("VmHWM"); }

class ServerLimitsTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = dmarc::testing::FreshTestDir("dmarc-limits"); }
  void TearDown() override {
    if (server_) server_->Stop();
    if (thread_.joinable()) thread_.join();
    server_.reset();
    fs::remove_all(dir_);
  }

  void Start(ServeOptions options) {
    options.db = "sqlite:" + (dir_ / "t.db").string();
    options.listen = "127.0.0.1:0";
    auto s = StartServer(options);
    ASSERT_TRUE(s.ok()) << s.error();
    server_ = std::move(s).value();
    thread_ = std::thread([this] { server_->Run(); });
    if (!options.tls_cert.empty()) return;
    for (int i = 0; i < 200 && Get(port(), "/healthz", "127.0.0.1") != 200; ++i) {
      std::this_thread::sleep_for(milliseconds(10));
    }
  }
  int port() const { return server_->port(); }

  std::string Write(const std::string& name, const std::string& text) {
    const fs::path p = dir_ / name;
    std::ofstream(p) << text;
    return p.string();
  }

  // A self-signed certificate and its key (cert, key).
  std::pair<std::string, std::string> Certificate() {
    const std::string cert = (dir_ / "cert.pem").string(), key = (dir_ / "key.pem").string();
    const std::string cmd =
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -keyout " + key +
        " -out " + cert + " 2>/dev/null";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << "openssl is needed (scripts/install-deps.sh)";
    return {cert, key};
  }

  fs::path dir_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
};

TEST_F(ServerLimitsTest, TooManyHeaderFieldsGet431) {
  Start({});
  Raw c(port());
  std::string request = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (int i = 0; i < 1000; ++i) request += fmt::format("X-H{}: v\r\n", i);  // ~12 KB
  ASSERT_TRUE(c.Send(request + "\r\n"));
  EXPECT_EQ(c.ReadStatus(milliseconds(3000)), 431) << c.last_answer();
}

TEST_F(ServerLimitsTest, AHeaderFloodIsCutOffWithMemoryBounded) {
  Start({});
  ResetPeak();
  const long before = PeakKb();
  Raw c(port());
  ASSERT_TRUE(c.Send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
  std::string block;
  for (int i = 0; i < 64; ++i) block += "X-Flood: " + std::string(1000, 'a') + "\r\n";
  std::size_t sent = 0;
  bool open = true;
  while (sent < (64u << 20) && (open = c.Send(block))) sent += block.size();
  EXPECT_FALSE(open) << "the server read " << sent << " bytes of headers";
  const int status = c.ReadStatus(milliseconds(2000));
  EXPECT_TRUE(status == 431 || status == 0) << c.last_answer();
  EXPECT_LT(PeakKb() - before, 16 * 1024 * kMemorySlack);
}

TEST_F(ServerLimitsTest, ABodyOverTheLimitIsRefusedWithoutBeingRead) {
  Start({.token_file = Write("token", "3f9c1a7e52d84b60a1e9c7d23b5f8e14\n")});
  Raw c(port());
  ASSERT_TRUE(
      c.Send("POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
             "Transfer-Encoding: chunked\r\n\r\n"));
  const std::string chunk = fmt::format("{:x}\r\n{}\r\n", 16384, std::string(16384, ' '));
  std::size_t sent = 0;
  while (sent < (64u << 20) && !c.Readable(milliseconds(0)) && c.Send(chunk)) sent += 16384;
  // libmicrohttpd cannot answer in the middle of a body: it closes the connection instead.
  const int status = c.ReadStatus(milliseconds(3000));
  EXPECT_TRUE(status == 413 || (status == 0 && c.closed())) << c.last_answer();
  EXPECT_LT(sent, 4u << 20) << "the server read the body on";
  // A declared length over the limit is refused before any of the body is sent.
  Raw d(port());
  ASSERT_TRUE(
      d.Send("POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000000\r\n\r\n"));
  EXPECT_EQ(d.ReadStatus(milliseconds(3000)), 413) << d.last_answer();
}

TEST_F(ServerLimitsTest, HealthzAnswersWithin100msWhile200ClientsStall) {
  Start({});
  std::vector<std::unique_ptr<Raw>> slow;
  for (int i = 0; i < 200; ++i) {
    slow.push_back(std::make_unique<Raw>(port(), fmt::format("127.0.1.{}", 1 + i % 20)));
    ASSERT_TRUE(slow.back()->Send("GET /healthz HT")) << i;
  }
  EXPECT_LT(P95HealthzMs(port(), 20), 100.0);
  for (auto& s : slow) EXPECT_FALSE(s->ClosedWithin(milliseconds(0)));  // within the limits
}

TEST_F(ServerLimitsTest, AnIdleClientIsDropped) {
  Start({.idle_timeout = 1});
  Raw half(port());
  ASSERT_TRUE(half.Send("GET /healthz HT"));
  EXPECT_TRUE(half.ClosedWithin(milliseconds(4000)));
  Raw body(port());
  ASSERT_TRUE(
      body.Send("POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n\r\n{"));
  EXPECT_TRUE(body.ClosedWithin(milliseconds(4000)));
}

TEST_F(ServerLimitsTest, ConnectionsAreLimitedPerClientAndInAll) {
  Start({.max_connections = 8, .max_connections_per_client = 3});
  std::vector<std::unique_ptr<Raw>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<Raw>(port(), "127.0.0.5"));
    ASSERT_TRUE(held.back()->Send("GET /healthz HT"));
  }
  Raw fourth(port(), "127.0.0.5");  // refused at once
  EXPECT_TRUE(fourth.ClosedWithin(milliseconds(2000)));
  for (auto& h : held) EXPECT_FALSE(h->ClosedWithin(milliseconds(0)));
  EXPECT_EQ(Get(port(), "/healthz", "127.0.0.1", "127.0.0.6"), 200);  // another client
  // In all: beyond the limit the server accepts no more (they wait in the kernel's backlog)
  // until a connection ends.
  for (int i = 0; i < 5; ++i) {
    held.push_back(std::make_unique<Raw>(port(), fmt::format("127.0.0.{}", 10 + i)));
    ASSERT_TRUE(held.back()->Send("GET /healthz HT"));
  }
  Raw ninth(port(), "127.0.0.20");
  ASSERT_TRUE(ninth.Send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  EXPECT_EQ(ninth.ReadStatus(milliseconds(500)), 0);
  EXPECT_FALSE(ninth.closed());
  held.pop_back();
  EXPECT_EQ(ninth.ReadStatus(milliseconds(3000)), 200);
}

TEST_F(ServerLimitsTest, ASignInFloodFromManyAddressesLeavesHealthzFast) {
  auto hash = HashPassword("correct horse");
  ASSERT_TRUE(hash.ok());
  Start({.users_file = Write("users", "ana:" + *hash + "\n")});
  std::atomic<bool> stop = false;
  std::atomic<int> answered = 0;
  std::vector<std::thread> flood;
  for (int a = 0; a < 40; ++a) {
    flood.emplace_back([&, a] {
      const std::string body = R"({"user":"ana","password":"guess"})";
      while (!stop) {
        Raw c(port(), fmt::format("127.0.2.{}", 1 + a));
        c.Send(fmt::format(
            "POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            "Content-Length: {}\r\nConnection: close\r\n\r\n{}",
            body.size(), body));
        if (c.ReadStatus(milliseconds(3000)) != 0) ++answered;
      }
    });
  }
  while (answered < 10) std::this_thread::sleep_for(milliseconds(10));  // the flood is on
  ResetPeak();
  const long before = PeakKb();
  const double p95 = P95HealthzMs(port(), 20);
  const long grown = PeakKb() - before;
  stop = true;
  for (auto& t : flood) t.join();
  EXPECT_LT(p95, 100.0);
  // Each Argon2id check holds 64 MiB: the sign-in threads bound how many run at once.
  EXPECT_LT(grown, 200 * 1024 * kMemorySlack);
  // The right password still gets in from an address that did not guess.
  Raw ok(port(), "127.0.3.1");
  const std::string body = R"({"user":"ana","password":"correct horse"})";
  ASSERT_TRUE(ok.Send(
      fmt::format("POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n\r\n{}",
                  body.size(), body)));
  EXPECT_EQ(ok.ReadStatus(milliseconds(10000)), 200) << ok.last_answer();
}

TEST_F(ServerLimitsTest, WithoutSignInOnlyConfiguredHostNamesAreAnswered) {
  Start({.allowed_hosts = {"dmarc.example"}});
  const std::string p = std::to_string(port());
  EXPECT_EQ(Get(port(), "/api/stats", "127.0.0.1:" + p), 200);
  EXPECT_EQ(Get(port(), "/api/stats", "localhost:" + p), 200);
  EXPECT_EQ(Get(port(), "/api/stats", "dmarc.example"), 200);
  EXPECT_EQ(Get(port(), "/api/stats", "DMARC.example:" + p), 200);
  EXPECT_EQ(Get(port(), "/api/stats", "rebind.attacker.example:" + p), 421);
  EXPECT_EQ(Get(port(), "/", "rebind.attacker.example"), 421);
  server_->Stop();
  thread_.join();
  server_.reset();
  // With sign-in, the name does not matter: the data needs a token or a session.
  Start({.token_file = Write("token", "3f9c1a7e52d84b60a1e9c7d23b5f8e14\n")});
  EXPECT_EQ(Get(port(), "/", "dashboard.example"), 200);
}

// One GET over a new TLS connection (the handshake included).
httplib::Result TlsGet(int port, const std::string& path) {
  httplib::SSLClient c("127.0.0.1", port);
  c.enable_server_certificate_verification(false);
  c.set_connection_timeout(2);
  c.set_read_timeout(2);
  return c.Get(path);
}

// The first answer of a TLS server that has just started.
httplib::Result FirstTlsGet(int port, const std::string& path) {
  httplib::Result res = TlsGet(port, path);
  for (int i = 0; i < 100 && !res; ++i) {
    std::this_thread::sleep_for(milliseconds(20));
    res = TlsGet(port, path);
  }
  return res;
}

TEST_F(ServerLimitsTest, IdleTlsSocketsDoNotHoldUpTheServer) {
  const auto [cert, key] = Certificate();
  Start({.tls_cert = cert, .tls_key = key});
  ASSERT_TRUE(FirstTlsGet(port(), "/healthz"));
  // Connections that never start their handshake.
  std::vector<std::unique_ptr<Raw>> idle;
  for (int i = 0; i < 50; ++i) {
    idle.push_back(std::make_unique<Raw>(port(), fmt::format("127.0.5.{}", 1 + i % 10)));
  }
  std::vector<double> ms;
  for (int i = 0; i < 10; ++i) {
    const auto start = Clock::now();
    auto res = TlsGet(port(), "/healthz");
    ms.push_back(res && res->status == 200
                     ? std::chrono::duration<double, std::milli>(Clock::now() - start).count()
                     : 2000.0);
  }
  std::sort(ms.begin(), ms.end());
  EXPECT_LT(ms[8], 100.0);  // the 9th of 10 (the handshake's RSA signature included)
}

TEST_F(ServerLimitsTest, TlsSendsHstsAndRefusesStaticRsaKeyExchange) {
  const auto [cert, key] = Certificate();
  Start({.tls_cert = cert, .tls_key = key});
  httplib::Result res = FirstTlsGet(port(), "/");
  ASSERT_TRUE(res);
  EXPECT_NE(res->get_header_value("Strict-Transport-Security").find("max-age="), std::string::npos);
  auto handshake = [&](const std::string& cipher) {
    const std::string cmd = fmt::format(
        "openssl s_client -connect 127.0.0.1:{} -tls1_2 -cipher {} </dev/null "
        ">/dev/null 2>&1",
        port(), cipher);
    return std::system(cmd.c_str()) == 0;
  };
  EXPECT_TRUE(handshake("ECDHE-RSA-AES128-GCM-SHA256"));
  EXPECT_FALSE(handshake("AES128-SHA256"));
  EXPECT_FALSE(handshake("AES256-GCM-SHA384"));
}

TEST_F(ServerLimitsTest, PlainHttpSendsNoHsts) {
  Start({});
  auto res = httplib::Client("127.0.0.1", port()).Get("/");
  ASSERT_TRUE(res);
  EXPECT_FALSE(res->has_header("Strict-Transport-Security"));
}

}  // namespace
}  // namespace dmarc::web
