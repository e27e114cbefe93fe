// The syslog output: RFC 5424 lines with structured data, and delivery over UDP, TCP and TLS to a
// real syslog-ng (testing/syslog_ng.h), which parses every line it receives.
// GCC 12 under -fsanitize=address reads std::regex's std::function members as maybe
// uninitialised (a false positive); the sanitizer build treats warnings as errors.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "outputs/syslog.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "outputs/streams_test_util.h"
#include "testing/dovecot.h"
#include "testing/syslog_ng.h"
#include "testing/test_util.h"

namespace dmarc::outputs {
namespace {

namespace fs = std::filesystem;
using outputs::testing::AggregateItem;
using outputs::testing::FailureItem;
using outputs::testing::SampleAggregate;
using outputs::testing::SampleFailure;
using outputs::testing::SampleSmtpTls;
using outputs::testing::SmtpTlsItem;

std::size_t Count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

OutputConfig Config(std::map<std::string, std::string> options) {
  OutputConfig c;
  c.name = "sl";
  c.type = "syslog";
  c.options = std::move(options);
  return c;
}

// A self-signed certificate for 127.0.0.1 and localhost, made with openssl.
void MakeCertificate(const fs::path& dir, const std::string& name) {
  fs::create_directories(dir);
  const std::string cmd =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost "
      "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout " +
      (dir / (name + ".key")).string() + " -out " + (dir / (name + ".pem")).string() +
      " 2>/dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

TEST(SyslogLines, Rfc5424WithTheRecordAsStructuredData) {
  const auto r = SampleAggregate("r-1", 2);
  SyslogFormat f;
  f.hostname = "mx1.example";
  const auto lines = SyslogLines(AggregateItem(r), f);
  ASSERT_EQ(lines.size(), 2U);
  // <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD-ID PARAMS] MSG; local0 = 16.
  const std::regex line(
      R"(<(\d+)>1 2023-11-14T22:13:20Z mx1\.example dmarc-report - aggregate \[dmarc@32473( [a-z_]+="[^"\\\]]*")+\] .+)");
  for (const auto& l : lines) EXPECT_TRUE(std::regex_match(l, line)) << l;
  EXPECT_EQ(lines[0].substr(0, 5), "<134>");  // local0.info: DMARC passes
  EXPECT_EQ(lines[1].substr(0, 5), "<132>");  // local0.warning: it fails
  EXPECT_NE(lines[0].find(" source_ip=\"192.0.2.1\" count=\"1\""), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find(" record=\"1\""), std::string::npos);
  EXPECT_NE(lines[1].find(" report_key=\"google.com/r-1/example.com\""), std::string::npos);
}

TEST(SyslogLines, ValuesAreEscapedAndTheLineIsBounded) {
  auto r = SampleAggregate("r-1", 1);
  r.records[0].identifiers.header_from = "a\"b]c\\d\ne";
  SyslogFormat f;
  auto lines = SyslogLines(AggregateItem(r), f);
  ASSERT_EQ(lines.size(), 1U);
  EXPECT_NE(lines[0].find(R"( header_from="a\"b\]c\\d e")"), std::string::npos) << lines[0];
  EXPECT_EQ(lines[0].find('\n'), std::string::npos);
  // A hostile report: every value huge. The line stays within the limit and well formed.
  r.report_metadata.org_name = std::string(5000, 'o');
  r.report_metadata.report_id = std::string(5000, 'i');
  r.records[0].identifiers.header_from = std::string(5000, 'h');
  f.max_bytes = 480;
  lines = SyslogLines(AggregateItem(r), f);
  ASSERT_EQ(lines.size(), 1U);
  EXPECT_LE(lines[0].size(), 480U);
  EXPECT_TRUE(
      std::regex_search(lines[0], std::regex(R"( \[dmarc@32473 report_key="[^"]*"[^\]]*\])")))
      << lines[0];
}

TEST(SyslogOptions, RefusesUnknownAndMisplacedKeysNamingThem) {
  auto r = MakeSyslogOutput(Config({{"host", "127.0.0.1"}, {"prot", "514"}}));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("output.sl.prot"), std::string::npos) << r.error();
  r = MakeSyslogOutput(Config({{"port", "514"}}));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("output.sl.host"), std::string::npos) << r.error();
  r = MakeSyslogOutput(Config({{"host", "h"}, {"transport", "udp"}, {"server_name", "x"}}));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("output.sl.server_name"), std::string::npos) << r.error();
  r = MakeSyslogOutput(Config({{"host", "h"}, {"sd_id", "dmarc"}}));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("output.sl.sd_id"), std::string::npos) << r.error();
  r = MakeSyslogOutput(Config({{"host", "h"}, {"facility", "local9"}}));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(MakeSyslogOutput(Config({{"host", "h"}, {"facility", "mail"}})).ok());
}

class SyslogNgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = dmarc::testing::FreshTestDir("syslog_output");
    MakeCertificate(dir_ / "tls", "server");
    dmarc::testing::SyslogNgOptions o;
    o.tls_cert_file = (dir_ / "tls" / "server.pem").string();
    o.tls_key_file = (dir_ / "tls" / "server.key").string();
    o.line_template =
        "${LEVEL} ${MSGID} ${.SDATA.dmarc@32473.report_key} "
        "${.SDATA.dmarc@32473.source_ip} ${.SDATA.dmarc@32473.count} ${MSG}\\\\n";
    server_ = std::make_unique<dmarc::testing::SyslogNg>(dir_ / "ng", o);
  }
  void TearDown() override {
    server_.reset();
    fs::remove_all(dir_);
  }
  // Delivers a 3-record aggregate report (id `id`), a failure report and an SMTP TLS report.
  void DeliverAll(const std::map<std::string, std::string>& options, const std::string& id) {
    auto out = MakeSyslogOutput(Config(options));
    ASSERT_TRUE(out.ok()) << out.error();
    ASSERT_TRUE((*out)->Prepare().ok());
    const auto a = SampleAggregate(id, 3);
    const auto f = SampleFailure();
    const auto t = SampleSmtpTls();
    const std::vector<Item> items = {AggregateItem(a), FailureItem(f, "fail-" + id),
                                     SmtpTlsItem(t)};
    const Status st = (*out)->Deliver(items);
    ASSERT_TRUE(st.ok()) << st.error();
  }
  void ExpectReceived(const std::string& id) {
    const std::string key = "google.com/" + id + "/example.com";
    // Parsed by syslog-ng: MSGID and the structured data's parameters, one line per record.
    const std::string got = server_->WaitFor("info aggregate " + key + " 192.0.2.3 3 ");
    EXPECT_NE(
        got.find("info aggregate " + key + " 192.0.2.1 1 DMARC pass: 1 message(s) from 192.0.2.1"),
        std::string::npos)
        << got << server_->Output();
    EXPECT_EQ(Count(got, " aggregate " + key + " "), 3U) << got;
    const std::string more = server_->WaitFor("fail-" + id);
    EXPECT_EQ(Count(more, "warning failure fail-" + id + " 198.51.100.7"), 1U) << more;
  }
  fs::path dir_;
  std::unique_ptr<dmarc::testing::SyslogNg> server_;
};

TEST_F(SyslogNgTest, UdpTcpAndTlsDeliverOneParsedLinePerRecord) {
  DeliverAll(
      {{"host", "127.0.0.1"}, {"transport", "udp"}, {"port", std::to_string(server_->udp_port())}},
      "udp");
  ExpectReceived("udp");
  DeliverAll(
      {{"host", "127.0.0.1"}, {"transport", "tcp"}, {"port", std::to_string(server_->tcp_port())}},
      "tcp");
  ExpectReceived("tcp");
  DeliverAll({{"host", "127.0.0.1"},
              {"transport", "tls"},
              {"port", std::to_string(server_->tls_port())},
              {"ca_file", (dir_ / "tls" / "server.pem").string()}},
             "tls");
  ExpectReceived("tls");
  EXPECT_EQ(Count(server_->Received(), "smtp_tls Example Inc./tls-1"), 6U);  // 2 policies × 3
}

TEST_F(SyslogNgTest, TlsRefusesACertificateTheCaFileDoesNotTrust) {
  MakeCertificate(dir_ / "other", "other");
  auto out = MakeSyslogOutput(Config({{"host", "127.0.0.1"},
                                      {"transport", "tls"},
                                      {"port", std::to_string(server_->tls_port())},
                                      {"ca_file", (dir_ / "other" / "other.pem").string()}}));
  ASSERT_TRUE(out.ok()) << out.error();
  const auto r = (*out)->Prepare();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error_kind(), ErrorKind::kInvalid);
  EXPECT_NE(r.error().find("not trusted"), std::string::npos) << r.error();
  // The name must match too: the certificate is for localhost and 127.0.0.1 only.
  out = MakeSyslogOutput(Config({{"host", "127.0.0.1"},
                                 {"transport", "tls"},
                                 {"port", std::to_string(server_->tls_port())},
                                 {"server_name", "syslog.example"},
                                 {"ca_file", (dir_ / "tls" / "server.pem").string()}}));
  ASSERT_TRUE(out.ok());
  EXPECT_FALSE((*out)->Prepare().ok());
}

// Reads what arrives on `fd` for up to 5 s, until `text` came.
std::string ReadUntil(int fd, const std::string& text) {
  std::string got;
  for (int i = 0; i < 100 && got.find(text) == std::string::npos; ++i) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) != 1) continue;
    char buf[4096];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  return got;
}

TEST(SyslogTcp, AReceiverThatIsDownIsARetryableErrorAndAClosedConnectionIsReplaced) {
  const int closed = dmarc::testing::FreePort();
  auto down = MakeSyslogOutput(Config({{"host", "127.0.0.1"}, {"port", std::to_string(closed)}}));
  ASSERT_TRUE(down.ok());
  const auto a = SampleAggregate("down", 1), b = SampleAggregate("before", 1),
             c = SampleAggregate("after", 1);
  const Status st = (*down)->Deliver(std::vector<Item>{AggregateItem(a)});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error_kind(), ErrorKind::kIo);
  EXPECT_NE(st.error().find("127.0.0.1:" + std::to_string(closed)), std::string::npos)
      << st.error();
  // A receiver that closes the connection after the first batch (a restart): the next batch
  // goes over a new connection, framed as "LEN SP MSG".
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), len), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  auto out = MakeSyslogOutput(
      Config({{"host", "127.0.0.1"}, {"port", std::to_string(ntohs(addr.sin_port))}}));
  ASSERT_TRUE(out.ok());
  ASSERT_TRUE((*out)->Deliver(std::vector<Item>{AggregateItem(b)}).ok());
  const int first = ::accept(listener, nullptr, nullptr);
  const std::string got1 = ReadUntil(first, "google.com/before/");
  EXPECT_TRUE(std::regex_search(got1, std::regex(R"(^\d+ <134>1 )"))) << got1;
  EXPECT_EQ(std::stoul(got1), got1.size() - got1.find(' ') - 1);  // the length prefix is exact
  ::close(first);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_TRUE((*out)->Deliver(std::vector<Item>{AggregateItem(c)}).ok());
  const int second = ::accept(listener, nullptr, nullptr);
  EXPECT_NE(ReadUntil(second, "google.com/after/").find("google.com/after/"), std::string::npos);
  ::close(second);
  ::close(listener);
}

}  // namespace
}  // namespace dmarc::outputs
