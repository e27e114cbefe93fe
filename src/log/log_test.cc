#include "log/log.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "log/syslog_sink.h"
#include "testing/syslog_ng.h"
#include "testing/test_util.h"

namespace dmarc::log {
namespace {

namespace fs = std::filesystem;

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("dmarc-log-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST(Redact, ReplacesEverySecretLongestFirst) {
  EXPECT_EQ(Redact("user u pass abc123 and again abc123", {"abc123"}),
            "user u pass [redacted] and again [redacted]");
  EXPECT_EQ(Redact("token abcdef", {"abc", "abcdef", ""}), "token [redacted]");
  EXPECT_EQ(Redact("nothing here", {}), "nothing here");
  // A secret that reappears inside the replacement text is not looped on.
  EXPECT_EQ(Redact("x red y", {"red"}), "x [redacted] y");
}

// A one-letter (or any short) password must not punch holes into every word that contains it:
// that would reveal it. Whole values are replaced wherever they sit between non-word characters.
TEST(Redact, ReplacesWholeValuesOnly) {
  EXPECT_EQ(Redact("batch of 3 reports from example.com", {"a"}),
            "batch of 3 reports from example.com");
  EXPECT_EQ(Redact("login a failed; password=a", {"a"}),
            "login [redacted] failed; password=[redacted]");
  EXPECT_EQ(Redact("postgresql://u:pw@db/x pwd", {"pw"}), "postgresql://u:[redacted]@db/x pwd");
  EXPECT_EQ(Redact("AUTHENTICATE PLAIN AHVAcHc=", {"AHVAcHc="}), "AUTHENTICATE PLAIN [redacted]");
  // A secret whose edges are not word characters is replaced wherever it occurs.
  EXPECT_EQ(Redact("x!#!y", {"!#!"}), "x[redacted]y");
}

// A subject or file name from a mail, with a newline and a terminal escape, stays on its line.
TEST_F(LogTest, ControlCharactersFromInputsAreEscapedInEveryLine) {
  Options o;
  o.to_stderr = false;
  o.file = (dir_ / "escaped.log").string();
  auto logger = MakeLogger("escape", o, {"s3cret"});
  ASSERT_TRUE(logger) << logger.error();
  (*logger)->warn("{}: {}", "mail.eml[part 2: x\n2026-01-01T00:00:00Z info forged\x1b[31m.gz]",
                  "mail contains no DMARC report (subject \"hi\r\n\x1b]0;title\x07 s3cret\")");
  (*logger)->flush();
  const std::string text = dmarc::testing::ReadFile(o.file);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << text;
  EXPECT_EQ(text.find('\x1b'), std::string::npos) << text;
  EXPECT_NE(text.find("x\\n2026-01-01T00:00:00Z info forged\\x1b[31m.gz]"), std::string::npos)
      << text;
  EXPECT_NE(text.find("(subject \"hi\\r\\n\\x1b]0;title\\x07 [redacted]\")"), std::string::npos)
      << text;
}

TEST_F(LogTest, TheLogFileAndItsFolderArePrivateWhateverTheUmask) {
  const mode_t old_umask = ::umask(0);
  Options o;
  o.to_stderr = false;
  o.file = (dir_ / "logs" / "dmarc.log").string();
  auto logger = MakeLogger("private", o, {});
  ::umask(old_umask);
  ASSERT_TRUE(logger) << logger.error();
  (*logger)->info("a line");
  EXPECT_EQ(fs::status(o.file).permissions(), fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(fs::status(dir_ / "logs").permissions(), fs::perms::owner_all);
}

TEST(Syslog, FacilityAndSeverityFollowRfc5424) {
  EXPECT_EQ(Facility("daemon"), 3);
  EXPECT_EQ(Facility("mail"), 2);
  EXPECT_EQ(Facility("local0"), 16);
  EXPECT_EQ(Facility("local7"), 23);
  EXPECT_EQ(Severity(spdlog::level::critical), 2);
  EXPECT_EQ(Severity(spdlog::level::err), 3);
  EXPECT_EQ(Severity(spdlog::level::warn), 4);
  EXPECT_EQ(Severity(spdlog::level::info), 6);
  EXPECT_EQ(Severity(spdlog::level::debug), 7);
}

TEST(Syslog, MessageHasTheRfc5424Header) {
  RemoteSyslogSink sink(SyslogTransport::kUdp, "127.0.0.1", 9, 3, "dmarc-report");
  spdlog::details::log_msg msg("x", spdlog::level::warn, "disk almost full");
  msg.time = std::chrono::system_clock::time_point(std::chrono::seconds(1764084034)) +
             std::chrono::microseconds(1234);
  const std::string line = sink.Format(msg);
  // <3*8+4>1 TIMESTAMP HOST dmarc-report PID - - MSG
  EXPECT_TRUE(line.starts_with("<28>1 2025-11-25T15:20:34.001234Z ")) << line;
  EXPECT_NE(line.find(fmt::format(" dmarc-report {} - - disk almost full", getpid())),
            std::string::npos)
      << line;
}

TEST_F(LogTest, FileGetsLinesAtTheLevelAndNeverASecret) {
  Options c;
  c.to_stderr = false;
  c.level = "warning";
  c.file = (dir_ / "service.log").string();
  auto logger = MakeLogger("t", c, {"Pa55-w0rd!", "tok-123456"});
  ASSERT_TRUE(logger) << logger.error();
  (*logger)->info("not shown: {}", "info line");
  (*logger)->warn("login as dmarc with Pa55-w0rd! refused");
  (*logger)->error("consul said: bad token tok-123456");
  (*logger)->critical("still running");
  const std::string text = testing::ReadFile(c.file);
  EXPECT_EQ(text.find("not shown"), std::string::npos) << text;
  EXPECT_NE(text.find(" warning login as dmarc with [redacted] refused"), std::string::npos)
      << text;
  EXPECT_NE(text.find(" error consul said: bad token [redacted]"), std::string::npos) << text;
  EXPECT_NE(text.find(" critical still running"), std::string::npos) << text;
  EXPECT_EQ(text.find("Pa55"), std::string::npos) << text;
  EXPECT_EQ(text.find("tok-123456"), std::string::npos) << text;
}

TEST_F(LogTest, AFileThatCannotBeOpenedIsAnError) {
  std::ofstream(dir_ / "plain") << "a file, not a folder";
  Options c;
  c.file = (dir_ / "plain" / "x.log").string();
  auto logger = MakeLogger("t", c, {});
  ASSERT_FALSE(logger);
  EXPECT_NE(logger.error().find("log.file: cannot open " + c.file), std::string::npos)
      << logger.error();
}

TEST_F(LogTest, RemoteSyslogNgReceivesUdpAndTcpLinesWithoutSecrets) {
  testing::SyslogNg server(dir_ / "syslog");
  ASSERT_FALSE(::testing::Test::HasFailure());
  for (const auto transport : {SyslogTransport::kUdp, SyslogTransport::kTcp}) {
    const bool tcp = transport == SyslogTransport::kTcp;
    Options c;
    c.to_stderr = false;
    c.level = "debug";
    c.syslog_transport = transport;
    c.syslog_host = "127.0.0.1";
    c.syslog_port = tcp ? server.tcp_port() : server.udp_port();
    c.syslog_facility = "local4";
    auto logger = MakeLogger("t", c, {"imap-S3cret"});
    ASSERT_TRUE(logger) << logger.error();
    const std::string tag = tcp ? "over-tcp" : "over-udp";
    (*logger)->debug("{} first with password imap-S3cret", tag);
    (*logger)->error("{} second, a longer line: {}", tag, std::string(3000, 'x'));
    const std::string got = server.WaitFor(tag + " second");
    EXPECT_NE(got.find("local4 debug dmarc-report " + tag + " first with password [redacted]"),
              std::string::npos)
        << got << server.Output();
    EXPECT_NE(got.find("local4 err dmarc-report " + tag +
                       " second, a longer line: " + std::string(3000, 'x')),
              std::string::npos)
        << server.Output();
  }
  EXPECT_EQ(server.Received().find("S3cret"), std::string::npos);
}

TEST_F(LogTest, ASyslogServerThatIsDownDropsLinesWithoutStalling) {
  const int port = testing::FreePort();  // nothing listens there
  RemoteSyslogSink sink(SyslogTransport::kTcp, "127.0.0.1", port, 3, "dmarc-report");
  spdlog::details::log_msg msg("x", spdlog::level::info, "lost");
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 100; ++i) sink.log(msg);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  EXPECT_EQ(sink.dropped(), 100u);
}

}  // namespace
}  // namespace dmarc::log
