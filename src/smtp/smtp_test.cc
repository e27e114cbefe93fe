// The receiver's allow-list and protocol, against the server started in the test process.
#include "smtp/smtp.h"

#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "testing/net.h"
#include "testing/test_util.h"

namespace {

using dmarc::smtp::Accepts;
using dmarc::smtp::CheckAcceptEntry;

TEST(SmtpAccept, AddressesAndDomainsCaseInsensitiveNeverRouting) {
  const std::vector<std::string> list = {"dmarc@reports.example.com", "@tls.example.org",
                                         "rua.example.net"};
  EXPECT_TRUE(Accepts(list, "DMARC@Reports.Example.COM"));
  EXPECT_FALSE(Accepts(list, "other@reports.example.com"));
  EXPECT_TRUE(Accepts(list, "anyone@tls.example.org"));
  EXPECT_TRUE(Accepts(list, "x@RUA.example.net"));
  EXPECT_FALSE(Accepts(list, "x@sub.rua.example.net"));
  EXPECT_FALSE(Accepts(list, "victim@gmail.com"));
  // The old relay tricks: a route in the local part.
  EXPECT_FALSE(Accepts(list, "victim%gmail.com@rua.example.net"));
  EXPECT_FALSE(Accepts(list, "gmail.com!victim@rua.example.net"));
  EXPECT_FALSE(Accepts(list, "victim@gmail.com@rua.example.net"));
  EXPECT_FALSE(Accepts(list, "rua.example.net"));
  EXPECT_FALSE(Accepts(list, ""));
  EXPECT_TRUE(CheckAcceptEntry("dmarc@reports.example.com"));
  EXPECT_TRUE(CheckAcceptEntry("@reports.example.com"));
  EXPECT_TRUE(CheckAcceptEntry("reports.example.com"));
  EXPECT_FALSE(CheckAcceptEntry("*"));
  EXPECT_FALSE(CheckAcceptEntry("a b@example.com"));
  EXPECT_FALSE(CheckAcceptEntry(""));
}

}  // namespace

// ---- The server in this process, a client on a socket. ----

namespace {

namespace fs = std::filesystem;
using dmarc::smtp::Server;

// A line-oriented SMTP client; TLS after StartTls().
class Client {
 public:
  explicit Client(int port) : fd_(dmarc::testing::ConnectLoopback(port)) {}
  ~Client() {
    if (ssl_) SSL_free(ssl_);
    if (ctx_) SSL_CTX_free(ctx_);
    if (fd_ >= 0) ::close(fd_);
  }
  bool connected() const { return fd_ >= 0; }

  void Send(const std::string& text) {
    if (ssl_) {
      SSL_write(ssl_, text.data(), static_cast<int>(text.size()));
    } else {
      (void)!::send(fd_, text.data(), text.size(), MSG_NOSIGNAL);
    }
  }

  // The next reply (all its lines, "250-A\n250 B"); "" when the server closed or went silent
  // for `seconds`.
  std::string Reply(int seconds = 10) {
    std::string reply;
    for (;;) {
      std::string line = Line(seconds);
      if (line.empty()) return reply;
      reply += (reply.empty() ? "" : "\n") + line;
      if (line.size() < 4 || line[3] != '-') return reply;
    }
  }

  // True when the server closed the connection within `seconds` (what it said before is read).
  bool Closed(int seconds) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (std::chrono::steady_clock::now() < until) {
      if (!Fill(1) && eof_) return true;
    }
    return false;
  }

  std::string Say(const std::string& command) {
    Send(command + "\r\n");
    return Reply();
  }

  bool StartTls() {
    ctx_ = SSL_CTX_new(TLS_client_method());
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    return SSL_connect(ssl_) == 1;
  }

  std::string buffer;

 private:
  std::string Line(int seconds) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    for (;;) {
      const std::size_t nl = buffer.find("\r\n");
      if (nl != std::string::npos) {
        std::string line = buffer.substr(0, nl);
        buffer.erase(0, nl + 2);
        return line;
      }
      if (std::chrono::steady_clock::now() >= until || (!Fill(1) && eof_)) return "";
    }
  }

  bool Fill(int seconds) {
    if (!ssl_ || SSL_pending(ssl_) == 0) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, seconds * 1000) <= 0) return false;
    }
    char chunk[4096];
    const long n = ssl_ ? SSL_read(ssl_, chunk, sizeof chunk) : ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    buffer.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  int fd_;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  bool eof_ = false;
};

int CountFiles(const fs::path& dir) {
  int n = 0;
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir, ec); it != fs::directory_iterator(); ++it) ++n;
  return n;
}

class SmtpServer : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = dmarc::testing::FreshTestDir("dmarc-smtp");
    options_.listen = "127.0.0.1:0";
    options_.hostname = "mx.test";
    options_.accept = {"dmarc@reports.example.com", "tls.example.org"};
    options_.spool = (dir_ / "spool").string();
  }
  void TearDown() override {
    if (server_) server_->Stop();
    if (!HasFailure()) fs::remove_all(dir_);
  }

  void Start() {
    auto s = Server::Start(options_);
    ASSERT_TRUE(s) << s.error();
    server_ = std::move(s).value();
    const std::string a = server_->Address();
    port_ = std::stoi(a.substr(a.rfind(':') + 1));
  }

  std::unique_ptr<Client> Hello() {
    auto c = std::make_unique<Client>(port_);
    EXPECT_TRUE(c->connected());
    EXPECT_EQ(c->Reply().substr(0, 12), "220 mx.test ");
    EXPECT_EQ(c->Say("EHLO client.test").substr(0, 4), "250-");
    return c;
  }

  int Spooled() const { return CountFiles(dir_ / "spool" / "new"); }
  std::string SpooledMail() const {
    for (const auto& e : fs::directory_iterator(dir_ / "spool" / "new")) {
      return dmarc::testing::ReadFile(e.path().string());
    }
    return "";
  }

  fs::path dir_;
  dmarc::smtp::Options options_;
  std::unique_ptr<Server> server_;
  int port_ = 0;
};

TEST_F(SmtpServer, PipelinedMailIsSpooledWithTraceHeaderAndDotsUnstuffed) {
  Start();
  Client c(port_);
  ASSERT_TRUE(c.connected());
  EXPECT_EQ(c.Reply(), "220 mx.test ESMTP dmarc-report");
  const std::string ehlo = c.Say("EHLO client.test");
  EXPECT_NE(ehlo.find("250-SIZE 10485760"), std::string::npos) << ehlo;
  EXPECT_NE(ehlo.find("8BITMIME"), std::string::npos) << ehlo;
  EXPECT_NE(ehlo.find("PIPELINING"), std::string::npos) << ehlo;
  EXPECT_EQ(ehlo.find("STARTTLS"), std::string::npos) << ehlo;  // no certificate
  // The whole transaction in one write (PIPELINING, RFC 2920).
  c.Send(
      "MAIL FROM:<noreply@sender.example> SIZE=100 BODY=8BITMIME\r\n"
      "RCPT TO:<DMARC@reports.example.com>\r\nDATA\r\n");
  EXPECT_EQ(c.Reply(), "250 2.1.0 Ok");
  EXPECT_EQ(c.Reply(), "250 2.1.5 Ok");
  EXPECT_EQ(c.Reply().substr(0, 4), "354 ");
  c.Send("Subject: test\r\n\r\n..leading dot\r\nbody\r\n.\r\nQUIT\r\n");
  EXPECT_EQ(c.Reply().substr(0, 24), "250 2.0.0 Ok: queued as ");
  EXPECT_EQ(c.Reply().substr(0, 4), "221 ");
  ASSERT_EQ(Spooled(), 1);
  const std::string mail = SpooledMail();
  EXPECT_EQ(mail.find("Return-Path: <noreply@sender.example>\r\nReceived: from client.test "
                      "([127.0.0.1])\r\n\tby mx.test (dmarc-report) with ESMTP id "),
            0u)
      << mail;
  EXPECT_NE(mail.find("for <DMARC@reports.example.com>;"), std::string::npos) << mail;
  EXPECT_NE(mail.find("\r\nSubject: test\r\n\r\n.leading dot\r\nbody\r\n"), std::string::npos)
      << mail;
  EXPECT_EQ(mail.find("\r\n.\r\n"), std::string::npos) << mail;
  EXPECT_EQ(server_->Totals().accepted, 1u);
}

TEST_F(SmtpServer, NeverAnOpenRelay) {
  Start();
  auto c = Hello();
  EXPECT_EQ(c->Say("RCPT TO:<dmarc@reports.example.com>").substr(0, 4), "503 ");
  EXPECT_EQ(c->Say("MAIL FROM:<a@b.example>"), "250 2.1.0 Ok");
  for (const char* to :
       {"<victim@gmail.com>", "<victim%gmail.com@tls.example.org>",
        "<@tls.example.org:victim@gmail.com>", "<other@reports.example.com>", "<postmaster>"}) {
    EXPECT_EQ(c->Say(std::string("RCPT TO:") + to).substr(0, 10), "550 5.7.1 ") << to;
  }
  EXPECT_EQ(c->Say("DATA").substr(0, 4), "503 ");
  EXPECT_EQ(c->Say("RCPT TO:<anyone@TLS.example.org>"), "250 2.1.5 Ok");
  EXPECT_EQ(Spooled(), 0);
  EXPECT_GE(server_->Totals().refused, 5u);
}

TEST_F(SmtpServer, TooLargeBySizeOrByDataIs552AndNothingSpooled) {
  options_.max_message_bytes = 2048;
  Start();
  auto c = Hello();
  EXPECT_EQ(c->Say("MAIL FROM:<a@b.example> SIZE=4096").substr(0, 10), "552 5.3.4 ");
  EXPECT_EQ(c->Say("MAIL FROM:<a@b.example> SIZE=100"), "250 2.1.0 Ok");
  EXPECT_EQ(c->Say("RCPT TO:<dmarc@reports.example.com>").substr(0, 4), "250 ");
  EXPECT_EQ(c->Say("DATA").substr(0, 4), "354 ");
  c->Send(std::string(3000, 'x') + "\r\n.\r\n");
  EXPECT_EQ(c->Reply().substr(0, 10), "552 5.3.4 ");
  EXPECT_EQ(Spooled(), 0);
  EXPECT_EQ(CountFiles(dir_ / "spool" / "tmp"), 0);
  // A line over 64 KiB: 500 at the end of the data, nothing spooled.
  EXPECT_EQ(c->Say("MAIL FROM:<a@b.example>"), "250 2.1.0 Ok");
  EXPECT_EQ(c->Say("RCPT TO:<dmarc@reports.example.com>").substr(0, 4), "250 ");
  EXPECT_EQ(c->Say("DATA").substr(0, 4), "354 ");
  c->Send("Subject: x\r\n\r\n" + std::string(70 * 1024, 'z') + "\r\n.\r\n");
  EXPECT_EQ(c->Reply().substr(0, 10), "500 5.5.2 ");
  EXPECT_EQ(Spooled(), 0);
  // The connection goes on: the next transaction is taken.
  EXPECT_EQ(c->Say("MAIL FROM:<a@b.example>"), "250 2.1.0 Ok");
  // Far too much (more than twice the limit) and the connection is closed.
  EXPECT_EQ(c->Say("RCPT TO:<dmarc@reports.example.com>").substr(0, 4), "250 ");
  EXPECT_EQ(c->Say("DATA").substr(0, 4), "354 ");
  for (int i = 0; i < 100; ++i) c->Send(std::string(1000, 'y') + "\r\n");
  EXPECT_EQ(c->Reply().substr(0, 10), "552 5.3.4 ");
  EXPECT_TRUE(c->Closed(5));
  EXPECT_EQ(Spooled(), 0);
}

TEST_F(SmtpServer, TooManyRecipientsAre452) {
  options_.max_recipients = 3;
  Start();
  auto c = Hello();
  EXPECT_EQ(c->Say("MAIL FROM:<>"), "250 2.1.0 Ok");
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(c->Say("RCPT TO:<a" + std::to_string(i) + "@tls.example.org>"), "250 2.1.5 Ok");
  EXPECT_EQ(c->Say("RCPT TO:<a9@tls.example.org>").substr(0, 10), "452 4.5.3 ");
}

TEST_F(SmtpServer, SilentOrSlowClientsAreCutOffAtTheTimeouts) {
  options_.command_timeout = 1;
  options_.data_timeout = 2;
  Start();
  {
    Client silent(port_);
    EXPECT_EQ(silent.Reply().substr(0, 4), "220 ");
    EXPECT_EQ(silent.Reply(5).substr(0, 10), "421 4.4.2 ");
    EXPECT_TRUE(silent.Closed(2));
  }
  // A client trickling its message in: the whole DATA has a deadline.
  Client slow(port_);
  EXPECT_EQ(slow.Reply().substr(0, 4), "220 ");
  EXPECT_EQ(slow.Say("HELO slow.test").substr(0, 4), "250 ");
  EXPECT_EQ(slow.Say("MAIL FROM:<a@b.example>"), "250 2.1.0 Ok");
  EXPECT_EQ(slow.Say("RCPT TO:<dmarc@reports.example.com>").substr(0, 4), "250 ");
  EXPECT_EQ(slow.Say("DATA").substr(0, 4), "354 ");
  std::string got;
  for (int i = 0; i < 8 && got.empty(); ++i) {
    slow.Send("x\r\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    got = slow.Reply(0);
  }
  if (got.empty()) got = slow.Reply(3);
  EXPECT_EQ(got.substr(0, 10), "421 4.4.2 ") << got;
  EXPECT_TRUE(slow.Closed(2));
  EXPECT_EQ(Spooled(), 0);
  EXPECT_EQ(CountFiles(dir_ / "spool" / "tmp"), 0);
}

TEST_F(SmtpServer, DisconnectMidDataSpoolsNothing) {
  Start();
  {
    auto c = Hello();
    EXPECT_EQ(c->Say("MAIL FROM:<a@b.example>"), "250 2.1.0 Ok");
    EXPECT_EQ(c->Say("RCPT TO:<dmarc@reports.example.com>").substr(0, 4), "250 ");
    EXPECT_EQ(c->Say("DATA").substr(0, 4), "354 ");
    c->Send("Subject: cut\r\n\r\nhalf a mail\r\n");
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(Spooled(), 0);
  EXPECT_EQ(CountFiles(dir_ / "spool" / "tmp"), 0);
  // A lone "." after a bare LF does not end the message either (no SMTP smuggling).
  auto c = Hello();
  EXPECT_EQ(c->Say("MAIL FROM:<a@b.example>"), "250 2.1.0 Ok");
  EXPECT_EQ(c->Say("RCPT TO:<dmarc@reports.example.com>").substr(0, 4), "250 ");
  EXPECT_EQ(c->Say("DATA").substr(0, 4), "354 ");
  c->Send("Subject: x\r\n\r\nline\n.\nMAIL FROM:<evil@x>\r\n");
  EXPECT_EQ(c->Reply(1), "");
  c->Send(".\r\n");
  EXPECT_EQ(c->Reply().substr(0, 4), "250 ");
  EXPECT_NE(SpooledMail().find("MAIL FROM:<evil@x>"), std::string::npos);
}

TEST_F(SmtpServer, ConnectionLimitsTurnClientsAwayWith421) {
  options_.max_connections_per_client = 2;
  Start();
  auto a = Hello();
  auto b = Hello();
  Client third(port_);
  EXPECT_EQ(third.Reply().substr(0, 10), "421 4.7.0 ");
  EXPECT_TRUE(third.Closed(2));
  a->Say("QUIT");
  a.reset();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto again = Hello();  // a place is free again
}

TEST_F(SmtpServer, TooManyErrorsCloseTheConnection) {
  Start();
  auto c = Hello();
  for (int i = 0; i < 9; ++i) EXPECT_EQ(c->Say("BOGUS").substr(0, 4), "500 ");
  c->Send("BOGUS\r\n");
  EXPECT_EQ(c->Reply().substr(0, 4), "500 ");
  EXPECT_EQ(c->Reply().substr(0, 10), "421 4.7.0 ");
  EXPECT_TRUE(c->Closed(2));
}

TEST_F(SmtpServer, StartTlsDropsInjectedCommandsAndWantsEhloAgain) {
  const std::string key = (dir_ / "key.pem").string(), cert = (dir_ / "cert.pem").string();
  ASSERT_EQ(std::system(("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=mx.test "
                         "-keyout " +
                         key + " -out " + cert + " 2>/dev/null")
                            .c_str()),
            0);
  options_.tls_cert = cert;
  options_.tls_key = key;
  Start();
  Client c(port_);
  EXPECT_EQ(c.Reply().substr(0, 4), "220 ");
  EXPECT_NE(c.Say("EHLO client.test").find("250-STARTTLS"), std::string::npos);
  // A command injected in the clear behind STARTTLS (CVE-2011-0411) must not be answered.
  c.Send("STARTTLS\r\nMAIL FROM:<injected@evil.example>\r\n");
  EXPECT_EQ(c.Reply(), "220 2.0.0 Ready to start TLS");
  c.buffer.clear();
  ASSERT_TRUE(c.StartTls());
  EXPECT_EQ(c.Say("MAIL FROM:<a@b.example>").substr(0, 4), "503 ");  // EHLO first
  const std::string ehlo = c.Say("EHLO client.test");
  EXPECT_EQ(ehlo.find("STARTTLS"), std::string::npos) << ehlo;
  EXPECT_EQ(c.Say("MAIL FROM:<a@b.example>"), "250 2.1.0 Ok");
  EXPECT_EQ(c.Say("RCPT TO:<dmarc@reports.example.com>").substr(0, 4), "250 ");
  EXPECT_EQ(c.Say("DATA").substr(0, 4), "354 ");
  c.Send("Subject: tls\r\n\r\nsecret\r\n.\r\n");
  EXPECT_EQ(c.Reply().substr(0, 4), "250 ");
  EXPECT_NE(SpooledMail().find("with ESMTPS id"), std::string::npos);
}

TEST_F(SmtpServer, StopClosesSessionsAndStartRefusesBadSettings) {
  Start();
  auto c = Hello();
  server_->Stop();
  EXPECT_EQ(c->Reply().substr(0, 10), "421 4.3.2 ");
  EXPECT_TRUE(c->Closed(2));
  dmarc::smtp::Options o = options_;
  o.accept.clear();
  EXPECT_FALSE(Server::Start(o));
  o.accept = {"not an address"};
  EXPECT_FALSE(Server::Start(o));
}

}  // namespace
