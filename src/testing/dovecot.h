// Test helper: a real Dovecot (IMAP, IMAPS, POP3, POP3S) on loopback ports chosen at run time, in
// a temporary folder with its own configuration, a self-signed certificate for localhost and
// 127.0.0.1, and one user `dmarc` (password `s3cret`) whose Maildir the test fills directly.
// Fails the test (never skips) when dovecot or openssl is missing. With an OAuth2 introspection
// URL, the user also logs in with AUTHENTICATE XOAUTH2 and OAUTHBEARER: Dovecot's oauth2 passdb
// POSTs "token=..." to that URL, which answers {"active": true, "username": "dmarc"} for a
// valid token.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "testing/net.h"
#include "testing/test_util.h"

extern char** environ;

namespace dmarc::testing {

class Dovecot {
 public:
  static constexpr const char* kUser = "dmarc";
  static constexpr const char* kPassword = "s3cret";

  // move = false: MOVE is left out of the capabilities (clients must COPY + EXPUNGE).
  Dovecot(const std::filesystem::path& dir, bool move = true,
          const std::string& oauth2_introspection_url = "")
      : dir_(dir) {
    namespace fs = std::filesystem;
    for (const char* bin : {"/usr/sbin/dovecot", "/usr/bin/openssl"}) {
      if (!fs::exists(bin)) {
        ADD_FAILURE() << bin << " is missing: install dovecot-imapd, dovecot-pop3d, openssl";
      }
    }
    // Unix socket paths are short (108 bytes): the runtime folder gets a short name of its own.
    char run[] = "/tmp/dv-XXXXXX";
    run_ = ::mkdtemp(run) ? run : (dir_ / "run").string();
    ::chmod(run_.c_str(), 0755);
    fs::create_directories(dir_ / "state");
    fs::create_directories(Maildir() / "cur");
    fs::create_directories(Maildir() / "new");
    fs::create_directories(Maildir() / "tmp");
    const std::string cmd =
        "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost"
        " -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout '" +
        (dir_ / "key.pem").string() + "' -out '" + Cert() + "' >/dev/null 2>&1";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    std::ofstream(dir_ / "users") << kUser << ":{PLAIN}" << kPassword << "::::::\n";
    // Dovecot refuses to run mail processes as root: as root, the mail belongs to nobody.
    uid_ = ::geteuid() == 0 ? 65534 : ::geteuid();
    gid_ = ::geteuid() == 0 ? 65534 : ::getegid();
    imap = FreePort();
    imaps = FreePort();
    pop3 = FreePort();
    pop3s = FreePort();
    std::string internal_user = "dovecot", login_user = "dovenull";
    if (::geteuid() != 0) {
      if (passwd* pw = ::getpwuid(::geteuid())) internal_user = login_user = pw->pw_name;
    }
    const std::string d = dir_.string();
    std::ofstream conf(dir_ / "dovecot.conf");
    conf << "base_dir = " << run_ << "\nshutdown_clients = yes\nstate_dir = " << d << "/state\n"
         << "log_path = " << d << "/dovecot.log\n"
         << "protocols = imap pop3\nlisten = 127.0.0.1\nssl = yes\n"
         << "ssl_cert = <" << Cert() << "\nssl_key = <" << d << "/key.pem\n"
         << "disable_plaintext_auth = no\nauth_mechanisms = plain login"
         << (oauth2_introspection_url.empty() ? "" : " xoauth2 oauthbearer") << "\n"
         << "default_internal_user = " << internal_user << "\n"
         << "default_login_user = " << login_user << "\n"
         << "mail_location = maildir:" << d << "/home/%u/Maildir\n";
    if (!oauth2_introspection_url.empty()) {
      std::ofstream(dir_ / "dovecot-oauth2.conf.ext")
          << "introspection_mode = post\nintrospection_url = " << oauth2_introspection_url
          << "\nforce_introspection = yes\nusername_attribute = username\n"
          << "active_attribute = active\nactive_value = true\ntimeout_msecs = 5000\n";
      conf << "passdb {\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = " << d
           << "/dovecot-oauth2.conf.ext\n}\n";
    }
    conf << "passdb {\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u " << d
         << "/users\n}\n"
         << "userdb {\n  driver = static\n  args = uid=" << uid_ << " gid=" << gid_ << " home=" << d
         << "/home/%u\n}\n"
         << "service imap-login {\n  inet_listener imap {\n    port = " << imap
         << "\n  }\n  inet_listener imaps {\n    port = " << imaps << "\n    ssl = yes\n  }\n}\n"
         << "service pop3-login {\n  inet_listener pop3 {\n    port = " << pop3
         << "\n  }\n  inet_listener pop3s {\n    port = " << pop3s << "\n    ssl = yes\n  }\n}\n"
         << "pop3_uidl_format = %08Xu%08Xv\n";
    if (!move) {
      // Dovecot 2.3's capabilities after login, without MOVE.
      conf << "imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT "
              "SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND "
              "URL-PARTIAL CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED "
              "I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH "
              "LIST-STATUS BINARY SPECIAL-USE\n";
    }
  }

  ~Dovecot() {
    Stop();
    std::error_code ec;
    std::filesystem::remove_all(run_, ec);
  }

  void Start() {
    Chown();
    const std::string bin = "/usr/sbin/dovecot", conf = (dir_ / "dovecot.conf").string();
    std::vector<char*> argv = {const_cast<char*>(bin.c_str()), const_cast<char*>("-F"),
                               const_cast<char*>("-c"), const_cast<char*>(conf.c_str()), nullptr};
    ASSERT_EQ(posix_spawn(&pid_, bin.c_str(), nullptr, nullptr, argv.data(), environ), 0);
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!(CanConnect(imaps) && CanConnect(imap) && CanConnect(pop3) && CanConnect(pop3s))) {
      int status = 0;
      ASSERT_EQ(waitpid(pid_, &status, WNOHANG), 0) << "dovecot exited:\n" << Log();
      ASSERT_LT(std::chrono::steady_clock::now(), until) << "dovecot did not start:\n" << Log();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  // Stops the server and drops every connection, as a crash or restart of the machine does
  // (Dovecot alone lets running sessions finish).
  void Stop() {
    if (pid_ <= 0) return;
    namespace fs = std::filesystem;
    std::error_code ec;
    for (fs::directory_iterator it("/proc", ec), end; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      std::ifstream stat(it->path() / "stat");
      std::string line;
      std::getline(stat, line);
      // pid (comm) state ppid ...
      const auto close = line.rfind(')');
      if (close == std::string::npos) continue;
      std::istringstream rest(line.substr(close + 2));
      std::string state;
      pid_t ppid = 0;
      rest >> state >> ppid;
      if (ppid == pid_) ::kill(std::stoi(name), SIGKILL);
    }
    ::kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    // Children (imap, auth ...) leave once the master is gone; wait for the ports to close.
    for (int i = 0; i < 100 && CanConnect(imaps); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  std::filesystem::path Maildir() const { return dir_ / "home" / kUser / "Maildir"; }
  std::string Cert() const { return (dir_ / "cert.pem").string(); }
  std::string Log() const {
    try {
      return ReadFile((dir_ / "dovecot.log").string());
    } catch (...) {
      return "(no log)";
    }
  }

  // Delivers a mail into the INBOX the way an MTA does: written to tmp/, renamed into new/.
  void Deliver(const std::string& name, const std::string& text) {
    const auto tmp = Maildir() / "tmp" / name;
    std::ofstream(tmp, std::ios::binary) << text;
    std::filesystem::rename(tmp, Maildir() / "new" / name);
    if (::geteuid() == 0) ::chown((Maildir() / "new" / name).c_str(), uid_, gid_);
  }

  // Mails in a folder: "" is the INBOX, "Archive/Aggregate" a subfolder.
  std::size_t Count(const std::string& folder) const {
    namespace fs = std::filesystem;
    std::string name = folder;
    for (char& c : name) c = c == '/' ? '.' : c;
    const fs::path base = folder.empty() ? Maildir() : Maildir() / ("." + name);
    std::size_t n = 0;
    for (const char* sub : {"cur", "new"}) {
      std::error_code ec;
      for (fs::directory_iterator it(base / sub, ec), end; !ec && it != end; it.increment(ec)) {
        ++n;
      }
    }
    return n;
  }

  int imap = 0, imaps = 0, pop3 = 0, pop3s = 0;

 private:
  void Chown() {
    if (::geteuid() != 0) return;
    namespace fs = std::filesystem;
    const fs::path home = dir_ / "home";
    ::chown(home.c_str(), uid_, gid_);
    for (const auto& e : fs::recursive_directory_iterator(home)) {
      ::lchown(e.path().c_str(), uid_, gid_);
    }
  }

  std::filesystem::path dir_;
  std::string run_;
  pid_t pid_ = -1;
  uid_t uid_;
  gid_t gid_;
};

}  // namespace dmarc::testing
