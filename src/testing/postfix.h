// Test helper: a real Postfix (Debian's package) as a private instance in a folder of its own
// (its main.cf and master.cf, queue, data folder and log file), listening on a loopback port
// chosen at run time and relaying one domain to a receiver on loopback, over TLS that must verify
// the receiver's certificate (a self-signed one is its own trust anchor). Mail for the sender's
// domain (bounces) is discarded, so a bounce is delivered at once instead of waiting in the queue
// for DNS. Nothing of the system's Postfix is used: no /etc/postfix/main.cf is needed, nothing
// listens on port 25. Fails the test (never skips) when Postfix is missing or we are not root
// (Postfix's master runs as root and its daemons as the postfix user).
#pragma once

#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "testing/net.h"
#include "testing/run_program.h"
#include "testing/test_util.h"

namespace dmarc::testing {

class Postfix {
 public:
  struct Relay {
    std::string domain;     // mail for it goes to the receiver
    int port = 0;           // the receiver's loopback port
    std::string cert;       // the receiver's certificate (PEM), trusted as is
    std::string cert_name;  // the name the certificate must carry (match=)
    std::string bounce_to;  // the senders' domain: its mail (bounces) is discarded
  };

  Postfix(const std::filesystem::path& dir, Relay relay) : dir_(dir), relay_(std::move(relay)) {
    namespace fs = std::filesystem;
    for (const char* bin : {"/usr/sbin/postfix", "/usr/sbin/postqueue", "/usr/sbin/postconf"}) {
      if (!fs::exists(bin)) ADD_FAILURE() << bin << " is missing: install postfix";
    }
    if (::geteuid() != 0)
      ADD_FAILURE() << "a Postfix instance needs root (its master runs as root)";
    const passwd* pw = ::getpwnam("postfix");
    if (pw == nullptr) ADD_FAILURE() << "no postfix user: install postfix";
    port = FreePort();
    fs::create_directories(Conf());
    // Postfix's daemons run as the postfix user: the folder and those above it must let it in,
    // whatever the umask that made them.
    for (fs::path p = dir_; p != p.root_path(); p = p.parent_path()) {
      std::error_code ec;
      fs::permissions(p, fs::perms::others_exec, fs::perm_options::add, ec);
    }
    fs::create_directories(dir_ / "queue");
    fs::create_directories(dir_ / "data");
    // The master locks data/master.lock as the postfix user; the queue's subfolders are made by
    // `postfix start` (post-install) with their owners.
    if (pw != nullptr) (void)::chown((dir_ / "data").c_str(), pw->pw_uid, pw->pw_gid);
    WriteMainCf();
    WriteMasterCf();
    for (const fs::path& p : {Conf(), dir_ / "queue", dir_ / "data"}) {
      fs::permissions(p, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                             fs::perms::others_read | fs::perms::others_exec);
    }
    for (const char* file : {"main.cf", "master.cf"}) {
      fs::permissions(Conf() / file, fs::perms::owner_read | fs::perms::owner_write |
                                         fs::perms::group_read | fs::perms::others_read);
    }
  }

  ~Postfix() { Stop(); }
  Postfix(const Postfix&) = delete;
  Postfix& operator=(const Postfix&) = delete;

  void Start() {
    ASSERT_EQ(Command("postfix", "start"), 0) << Log();
    started_ = true;
    for (int i = 0; i < 100 && !CanConnect(port); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_TRUE(CanConnect(port)) << "postfix did not listen on " << port << ":\n" << Log();
  }

  // `postfix stop`: the master ends its daemons and waits for them.
  void Stop() {
    if (!started_) return;
    started_ = false;
    EXPECT_EQ(Command("postfix", "stop"), 0) << Log();
  }

  // `postqueue -p`: "Mail queue is empty", or a line per queued mail with the reason it waits.
  std::string Queue() {
    Command("postqueue", "-p");
    return Output();
  }
  bool QueueEmpty() { return Queue().find("Mail queue is empty") != std::string::npos; }

  // `postqueue -f`: every queued mail is tried again now (a destination found dead is too).
  int Flush() { return Command("postqueue", "-f"); }

  // Waits (at most `seconds`) until the log holds `needle`.
  bool WaitForLog(const std::string& needle, int seconds = 20) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (Log().find(needle) == std::string::npos) {
      if (std::chrono::steady_clock::now() > until) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return true;
  }

  std::string Log() const {
    std::error_code ec;
    if (!std::filesystem::exists(dir_ / "maillog", ec)) return "(no maillog yet)";
    return ReadFile((dir_ / "maillog").string());
  }
  std::filesystem::path Conf() const { return dir_ / "conf"; }

  int port = 0;  // Postfix's smtpd, where the test injects mail

 private:
  // Postfix's own programs log to maillog (stderr only on a terminal); their standard output and
  // error go to DIR/command.out.
  int Command(const std::string& program, const std::string& args) {
    const std::string cmd = "/usr/sbin/" + program + " -c " + ShellQuote(Conf().string()) + " " +
                            args + " > " + ShellQuote((dir_ / "command.out").string()) + " 2>&1";
    const int rc = std::system(cmd.c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  }
  std::string Output() const { return ReadFile((dir_ / "command.out").string()); }

  void WriteMainCf() const {
    const std::string d = dir_.string(), next = "[127.0.0.1]:" + std::to_string(relay_.port);
    // inline: maps (Postfix 3.0) keep the test to main.cf; a value with spaces needs { }.
    std::ofstream(Conf() / "main.cf")
        << "compatibility_level = 3.6\nqueue_directory = " << d << "/queue\ndata_directory = " << d
        << "/data\nmaillog_file = " << d << "/maillog\nmaillog_file_prefixes = " << d << "\n"
        << "myhostname = relay.test\nmydestination =\nlocal_recipient_maps =\nalias_maps =\n"
        << "alias_database =\ninet_interfaces = 127.0.0.1\ninet_protocols = ipv4\n"
        << "mynetworks = 127.0.0.0/8\nrelay_domains = " << relay_.domain << "\n"
        << "transport_maps = inline:{ " << relay_.domain << "=smtp:" << next << ", "
        << relay_.bounce_to << "=discard: }\n"
        << "smtp_tls_security_level = encrypt\nsmtp_tls_CAfile = " << relay_.cert << "\n"
        << "smtp_tls_policy_maps = inline:{ { " << next << " = secure match=" << relay_.cert_name
        << " } }\nsmtp_tls_loglevel = 1\n"
        // A TLS connection carries many mails (through tlsproxy), as README advises.
        << "smtp_tls_connection_reuse = yes\n";
  }

  // Only the services a relay needs; none chrooted (the instance has no chroot tree).
  void WriteMasterCf() const {
    std::ofstream(Conf() / "master.cf")
        << "127.0.0.1:" << port << " inet n - n - - smtpd\n"
        << "pickup unix n - n 60 1 pickup\ncleanup unix n - n - 0 cleanup\n"
        << "qmgr unix n - n 300 1 qmgr\ntlsmgr unix - - n 1000? 1 tlsmgr\n"
        << "rewrite unix - - n - - trivial-rewrite\nbounce unix - - n - 0 bounce\n"
        << "defer unix - - n - 0 bounce\ntrace unix - - n - 0 bounce\n"
        << "verify unix - - n - 1 verify\nflush unix n - n 1000? 0 flush\n"
        << "proxymap unix - - n - - proxymap\nsmtp unix - - n - - smtp\n"
        << "showq unix n - n - - showq\nerror unix - - n - - error\n"
        << "retry unix - - n - - error\ndiscard unix - - n - - discard\n"
        << "anvil unix - - n - 1 anvil\nscache unix - - n - 1 scache\n"
        << "postlog unix-dgram n - n - 1 postlogd\ntlsproxy unix - - n - 0 tlsproxy\n";
  }

  std::filesystem::path dir_;
  Relay relay_;
  bool started_ = false;
};

}  // namespace dmarc::testing
