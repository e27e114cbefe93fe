// Test helper: a real syslog-ng receiving RFC 5424 messages on loopback ports chosen at run time
// (one UDP, one TCP with octet-counting framing) and writing "FACILITY LEVEL PROGRAM MSG" lines
// to a file. Fails the test (never skips) when syslog-ng is missing (Debian: syslog-ng-core).
// With SyslogNgOptions: also a TLS source (RFC 5425) with the given certificate, and another
// line template (e.g. with ${MSGID} and ${SDATA}).
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "testing/dovecot.h"  // FreePort, CanConnect
#include "testing/test_util.h"

namespace dmarc::testing {

struct SyslogNgOptions {
  std::string tls_cert_file, tls_key_file;  // both set: a TLS source on tls_port()
  std::string line_template = "${FACILITY} ${LEVEL} ${PROGRAM} ${MSG}\\n";
};

class SyslogNg {
 public:
  explicit SyslogNg(const std::filesystem::path& dir, const SyslogNgOptions& options = {})
      : dir_(dir) {
    namespace fs = std::filesystem;
    const std::string bin = "/usr/sbin/syslog-ng";
    if (!fs::exists(bin)) {
      ADD_FAILURE() << bin << " is missing: install syslog-ng-core";
      return;
    }
    fs::create_directories(dir);
    udp_port_ = FreePort();
    tcp_port_ = FreePort();
    out_ = dir / "received.log";
    const fs::path conf = dir / "syslog-ng.conf";
    std::ofstream(conf) << "@version: 3.38\n"
                        << "options { keep_hostname(yes); stats_freq(0); };\n"
                        << "source s_net {\n"
                        << "  syslog(ip(\"127.0.0.1\") port(" << udp_port_
                        << ") transport(\"udp\"));\n"
                        << "  syslog(ip(\"127.0.0.1\") port(" << tcp_port_
                        << ") transport(\"tcp\"));\n"
                        << TlsSource(options) << "};\n"
                        << "destination d_file { file(\"" << out_.string() << "\" template(\""
                        << options.line_template << "\")); };\n"
                        << "log { source(s_net); destination(d_file); };\n";
    const std::string persist = (dir / "persist").string(), pid = (dir / "pid").string(),
                      ctl = (dir / "ctl").string(), log = (dir / "syslog-ng.out").string(),
                      cf = conf.string();
    std::vector<std::string> args = {bin,     "-F", "--no-caps", "-f", cf, "-R",
                                     persist, "-p", pid,         "-c", ctl};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    EXPECT_EQ(posix_spawn(&pid_, bin.c_str(), &actions, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    // Both sources open together: the TCP port answering means the UDP one listens too.
    int status = 0;
    for (int i = 0; i < 200 && !CanConnect(tcp_port_); ++i) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;  // exited: a configuration error, shown below
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_TRUE(CanConnect(tcp_port_)) << "syslog-ng did not start: " << Output();
  }

  ~SyslogNg() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
  }

  int udp_port() const { return udp_port_; }
  int tcp_port() const { return tcp_port_; }
  int tls_port() const { return tls_port_; }

  // Waits up to 10 s for a received line containing `text`; returns everything received.
  std::string WaitFor(const std::string& text) const {
    std::string got;
    for (int i = 0; i < 200; ++i) {
      got = Received();
      if (got.find(text) != std::string::npos) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return got;
  }

  std::string Received() const {
    return std::filesystem::exists(out_) ? ReadFile(out_.string()) : std::string();
  }
  std::string Output() const {
    const auto p = dir_ / "syslog-ng.out";
    return std::filesystem::exists(p) ? ReadFile(p.string()) : std::string();
  }

 private:
  std::filesystem::path dir_, out_;
  std::string TlsSource(const SyslogNgOptions& o) {
    if (o.tls_cert_file.empty() || o.tls_key_file.empty()) return "";
    tls_port_ = FreePort();
    return "  syslog(ip(\"127.0.0.1\") port(" + std::to_string(tls_port_) +
           ") transport(\"tls\") tls(key-file(\"" + o.tls_key_file + "\") cert-file(\"" +
           o.tls_cert_file + "\") peer-verify(optional-untrusted)));\n";
  }

  int udp_port_ = 0, tcp_port_ = 0, tls_port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace dmarc::testing
