// Test helper: a real PostgreSQL server (Debian's postgresql package) in a temporary folder,
// listening on a loopback port chosen at run time and on a Unix socket in its folder. Run as the
// `postgres` user when the tests run as root (PostgreSQL refuses to run as root).
//
// Two ways to get one:
// - SharedPostgresDatabase(name): a new, empty database on the server the whole test suite
//   shares (ctest's `postgres` fixture starts it with pg_test_server before the first test that
//   needs it and stops it after the last; see src/testing/CMakeLists.txt).
// - PostgresServer: a server of the test's own, for tests that stop, kill or restart it, or that
//   need a streaming standby (StartStandby).
//
// Authentication: trust on loopback for the `postgres` superuser; the role `dmarc_pw` (made by
// AddPasswordRole) must give a password (scram-sha-256), for the tests of password files.
// Fails the test (never skips) when PostgreSQL is missing.
#pragma once

#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "testing/net.h"
#include "testing/test_util.h"

namespace dmarc::testing {

// The folder of PostgreSQL's server programs (the newest installed), or "" when none.
inline std::string PostgresBinDir() {
  namespace fs = std::filesystem;
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    if (fs::exists(e.path() / "bin" / "postgres")) found.push_back((e.path() / "bin").string());
  }
  std::sort(found.begin(), found.end(), [](const std::string& a, const std::string& b) {
    return std::atoi(fs::path(a).parent_path().filename().c_str()) <
           std::atoi(fs::path(b).parent_path().filename().c_str());
  });
  return found.empty() ? "" : found.back();
}

// Runs a shell command as the user that runs the server (postgres when we are root); returns
// its exit status.
inline int RunAsServerUser(const std::string& cmd) {
  std::string full = cmd;
  if (::geteuid() == 0) {
    std::string quoted = "'";
    for (char c : cmd) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    quoted += "'";
    full = "runuser -u postgres -- sh -c " + quoted;
  }
  const int rc = std::system(full.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

class PostgresServer {
 public:
  static constexpr const char* kPasswordRole = "dmarc_pw";
  static constexpr const char* kPassword = "pg-s3cret";

  // A new cluster in dir/data (initdb), not yet started.
  explicit PostgresServer(const std::filesystem::path& dir) : dir_(dir), port_(FreePort()) {
    bin_ = PostgresBinDir();
    if (bin_.empty()) {
      ADD_FAILURE() << "PostgreSQL is missing: install postgresql (scripts/install-deps.sh)";
      return;
    }
    PrepareDir();
    const int rc = RunAsServerUser(Bin("initdb") + " -D '" + Data() +
                                   "' -U postgres -A trust -E UTF8 --locale=C.UTF-8 >'" + Log() +
                                   ".initdb' 2>&1");
    if (rc != 0) {
      ADD_FAILURE() << "initdb failed: " << ReadFile(Log() + ".initdb");
      return;
    }
    WriteConfig();
  }

  // A standby of `primary` (which must be running): pg_basebackup over loopback, then started
  // in hot-standby mode, streaming from it.
  static std::unique_ptr<PostgresServer> StartStandby(const PostgresServer& primary,
                                                      const std::filesystem::path& dir) {
    auto s = std::unique_ptr<PostgresServer>(new PostgresServer(dir, 0));
    s->bin_ = primary.bin_;
    s->PrepareDir();
    const int rc = RunAsServerUser(s->Bin("pg_basebackup") + " -h 127.0.0.1 -p " +
                                   std::to_string(primary.port_) + " -U postgres -D '" + s->Data() +
                                   "' -R -X stream >'" + s->Log() + ".basebackup' 2>&1");
    if (rc != 0) {
      ADD_FAILURE() << "pg_basebackup failed: " << ReadFile(s->Log() + ".basebackup");
      return s;
    }
    s->WriteConfig();  // its own port and socket folder, after the primary's copied settings
    s->Start();
    return s;
  }

  // Leaves the server running and its folder in place when this object goes (the shared server).
  void Detach() { detached_ = true; }
  // Stops the server in dir (immediate) and removes the folder.
  static void StopAt(const std::filesystem::path& dir) {
    const std::string bin = PostgresBinDir();
    RunAsServerUser(bin + "/pg_ctl -D '" + (dir / "data").string() +
                    "' -m immediate -w stop >/dev/null 2>&1");
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  ~PostgresServer() {
    if (detached_) return;
    if (running_)
      RunAsServerUser(Bin("pg_ctl") + " -D '" + Data() + "' -m immediate stop >/dev/null 2>&1");
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  void Start() {
    const int rc = RunAsServerUser(Bin("pg_ctl") + " -D '" + Data() + "' -l '" + Log() +
                                   "' -w -t 60 start >/dev/null 2>&1");
    ASSERT_EQ(rc, 0) << "PostgreSQL did not start:\n" << ReadFile(Log());
    running_ = true;
  }
  // Stops the server: fast (clients disconnected, clean shutdown) or immediate (as a crash).
  void Stop(bool immediate = false) {
    if (!running_) return;
    RunAsServerUser(Bin("pg_ctl") + " -D '" + Data() + "' -m " +
                    (immediate ? "immediate" : "fast") + " -w stop >/dev/null 2>&1");
    running_ = false;
  }
  void Restart() {
    Stop();
    Start();
  }

  int port() const { return port_; }
  // A URL of this server for database db (superuser, no password).
  std::string Url(const std::string& db) const {
    return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + db;
  }
  // Runs SQL with psql as the superuser on database db; returns its output (unaligned, tuples
  // only), failing the test when psql fails.
  std::string Psql(const std::string& sql, const std::string& db = "postgres") const {
    return PsqlOn(port_, sql, db);
  }
  // Creates database name (dropping one of that name first); returns its URL.
  std::string CreateDatabase(const std::string& name) const {
    Psql("DROP DATABASE IF EXISTS \"" + name + "\" WITH (FORCE)");
    Psql("CREATE DATABASE \"" + name + "\"");
    return Url(name);
  }
  // Makes the role kPasswordRole (password kPassword), owner of database db.
  void AddPasswordRole(const std::string& db) const {
    Psql(std::string("DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '") +
         kPasswordRole + "') THEN CREATE ROLE " + kPasswordRole + " LOGIN PASSWORD '" + kPassword +
         "'; END IF; END$$");
    Psql("ALTER DATABASE \"" + db + "\" OWNER TO " + kPasswordRole);
    Psql(std::string("GRANT ALL ON SCHEMA public TO ") + kPasswordRole, db);
  }

  static std::string PsqlOn(int port, const std::string& sql, const std::string& db) {
    const std::filesystem::path out =
        std::filesystem::temp_directory_path() /
        ("psql-" + std::to_string(::getpid()) + "-" + std::to_string(port) + ".out");
    std::string q;
    for (char c : sql) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    const std::string cmd = "psql -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p " +
                            std::to_string(port) + " -U postgres -d '" + db + "' -c '" + q +
                            "' >'" + out.string() + "' 2>&1";
    const int rc = std::system(cmd.c_str());
    std::string text = ReadFile(out);
    std::filesystem::remove(out);
    EXPECT_EQ(rc, 0) << sql << "\n" << text;
    while (!text.empty() && text.back() == '\n') text.pop_back();
    return text;
  }

  std::string Data() const { return (dir_ / "data").string(); }
  std::string Log() const { return (dir_ / "postgres.log").string(); }

 private:
  PostgresServer(const std::filesystem::path& dir, int) : dir_(dir), port_(FreePort()) {}

  std::string Bin(const std::string& name) const { return bin_ + "/" + name; }

  void PrepareDir() {
    namespace fs = std::filesystem;
    fs::create_directories(dir_);
    ::chmod(dir_.c_str(), 0777);  // the server user writes its log and socket here
    for (fs::path p = dir_.parent_path(); p != p.root_path(); p = p.parent_path()) {
      struct stat st {};
      if (::stat(p.c_str(), &st) == 0 && !(st.st_mode & S_IXOTH))
        ::chmod(p.c_str(), st.st_mode | S_IXOTH);
    }
    fs::create_directories(Data());
    ::chmod(Data().c_str(), 0700);
    if (::geteuid() == 0) {
      if (passwd* pw = ::getpwnam("postgres")) {
        (void)::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid);
        (void)::chown(Data().c_str(), pw->pw_uid, pw->pw_gid);
      } else {
        ADD_FAILURE() << "no postgres user: install postgresql (scripts/install-deps.sh)";
      }
    }
  }

  void WriteConfig() const {
    // Appended: the last setting wins, also over what a standby copied from its primary.
    std::string conf;
    conf += "port = " + std::to_string(port_) + "\n";
    conf += "listen_addresses = '127.0.0.1'\n";
    conf += "unix_socket_directories = '" + dir_.string() + "'\n";
    // A test server: durability is not what is tested (a kill -9 of the server still loses
    // nothing committed: only an operating system crash would).
    conf += "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n";
    conf += "max_connections = 200\nshared_buffers = 64MB\nwal_level = replica\n";
    conf += "max_wal_senders = 4\nhot_standby = on\nlogging_collector = off\n";
    conf += "lc_messages = 'C'\n";
    std::ofstream(Data() + "/postgresql.conf", std::ios::app) << conf;
    std::ofstream hba(Data() + "/pg_hba.conf", std::ios::trunc);
    hba << "local all all trust\n"
        << "host all " << kPasswordRole << " 127.0.0.1/32 scram-sha-256\n"
        << "host all all 127.0.0.1/32 trust\n"
        << "host replication all 127.0.0.1/32 trust\n";
  }

  std::filesystem::path dir_;
  int port_ = 0;
  std::string bin_;
  bool running_ = false;
  bool detached_ = false;
};

// The port and database of a URL of a test server ("postgresql://user@host:port/db[?...]");
// port 0 when the URL has none.
inline std::pair<int, std::string> PostgresPortAndDb(const std::string& url) {
  const std::size_t scheme = url.find("://");
  const std::size_t start = scheme == std::string::npos ? 0 : scheme + 3;
  const std::size_t slash = url.find('/', start);
  const std::string authority =
      url.substr(start, slash == std::string::npos ? slash : slash - start);
  const std::size_t colon = authority.rfind(':');
  const int port = colon == std::string::npos ? 0 : std::atoi(authority.c_str() + colon + 1);
  std::string db = slash == std::string::npos ? "" : url.substr(slash + 1);
  db = db.substr(0, db.find('?'));
  return {port, db};
}

// Runs SQL with psql as the superuser on the database of a test server's URL (as
// PostgresServer::Psql does).
inline std::string PsqlUrl(const std::string& url, const std::string& sql) {
  const auto [port, db] = PostgresPortAndDb(url);
  return PostgresServer::PsqlOn(port, sql, db);
}

// The folder of the server the test suite shares (pg_test_server start DIR).
inline std::filesystem::path SharedPostgresDir() {
  return std::filesystem::path(DMARC_BINARY_DIR) / "pg-shared";
}

// A new, empty database on the suite's shared server; returns its URL. The name is made from
// `name` and this process, so tests running at once never share one.
inline std::string SharedPostgresDatabase(const std::string& name) {
  const std::string port_text = ReadFile(SharedPostgresDir() / "port");
  if (port_text.empty()) {
    ADD_FAILURE() << "the shared PostgreSQL server is not running: run the tests with ctest "
                     "(its `postgres` fixture starts it)";
    return "";
  }
  const int port = std::atoi(port_text.c_str());
  std::string db = "t_";
  for (char c : name)
    db += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(c)) : '_';
  db = db.substr(0, 40) + "_" + std::to_string(::getpid());
  PostgresServer::PsqlOn(port, "DROP DATABASE IF EXISTS \"" + db + "\" WITH (FORCE)", "postgres");
  PostgresServer::PsqlOn(port, "CREATE DATABASE \"" + db + "\"", "postgres");
  return "postgresql://postgres@127.0.0.1:" + std::to_string(port) + "/" + db;
}

}  // namespace dmarc::testing
