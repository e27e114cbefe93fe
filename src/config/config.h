// The configuration file of `fetch` (TOML), with every key also settable from the environment.
//
// A key `imap.host` is read from the table [imap] of the file, and overridden by the environment
// variable DMARC_REPORT_IMAP_HOST when that is set. Secrets (`password`) may also come from a
// file: `password_file = "/run/secrets/imap"` in the file, or DMARC_REPORT_IMAP_PASSWORD_FILE in
// the environment; the file's content without its trailing newline is the secret.
//
// Adding a key: add the field to its struct and one line to its table's Bind function in
// config.cc; adding a table: a struct, a Bind function and one line in LoadConfig. README.md lists
// every key.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "enrich/enrich.h"
#include "parse/failure.h"

namespace dmarc::config {

struct StoreConfig {
  std::string url = "sqlite:data/dmarc-report.db";
  int retention_days = 0;  // reports older than this are purged; 0 keeps everything
};

// Where log lines go; see src/log/log.h.
enum class SyslogTransport { kUdp, kTcp };

struct LogConfig {
  std::string level = "info";  // debug, info, warning, error, critical
  bool to_stderr = true;       // key `stderr`
  std::string file;            // appended to; empty: none
  std::string syslog;          // "udp://host:port", "tcp://host:port" or "host" (UDP, 514)
  std::string syslog_facility = "daemon";
  // Parsed from `syslog` by the loader.
  SyslogTransport syslog_transport = SyslogTransport::kUdp;
  std::string syslog_host;
  int syslog_port = 514;
};

// Registration with a local Consul agent (optional: only when the table is present).
struct ConsulConfig {
  std::string address = "http://127.0.0.1:8500";  // the agent's HTTP API
  std::string token;                              // ACL token (X-Consul-Token); a secret
  std::string service_name = "dmarc-report";
  std::string service_id;       // empty: service_name-hostname
  std::string service_address;  // empty: the agent's node address
  int service_port = 8080;
  std::string check_url;  // empty: http://{service_address or 127.0.0.1}:{service_port}/healthz
  std::string check_interval = "10s";  // Consul durations: 10s, 1m, 1h30m
  std::string check_timeout = "5s";
  std::string deregister_after = "10m";  // DeregisterCriticalServiceAfter
};

// The dashboard that `run` serves beside collecting (see src/web/server.h for the meaning).
struct WebConfig {
  bool enabled = true;
  std::string listen = "127.0.0.1:8080";  // HOST:PORT, [IPv6]:PORT; port 0 picks a free one
  std::string token_file;                 // a bearer token (first line), at least 16 characters
  std::string users_file;                 // lines "name:$argon2id$..." (hash-password)
  std::string tls_cert;                   // PEM certificate chain; with tls_key: HTTPS
  std::string tls_key;
  bool show_failure_samples = false;
  bool operator==(const WebConfig&) const = default;
};

// What becomes of a mail once every report in it is committed.
enum class After { kArchive, kMove, kDelete, kKeep };

struct FetchConfig {
  unsigned jobs = 0;                 // parallel parsers; 0 = one per core
  std::int64_t watch_interval = 60;  // seconds between polls with --watch (when there is no IDLE)
  std::int64_t max_backoff = 300;    // longest wait between reconnection attempts
};

enum class TlsMode { kTls, kStartTls, kNone };

// What IMAP and POP3 share: where the server is and how to log in.
struct ServerConfig {
  std::string host;
  int port = 0;  // 0: the protocol's port for the TLS mode
  TlsMode tls = TlsMode::kTls;
  bool verify_tls = true;
  std::string ca_file;  // empty: the system's trusted certificates
  std::string user;
  std::string password;  // never logged
  int batch_size = 50;   // mails per fetch and per store transaction
  int timeout = 60;      // seconds for any one network operation
};

struct ImapConfig : ServerConfig {
  std::string auth = "login";  // "login" | "plain" (AUTHENTICATE PLAIN)
  std::string folder = "INBOX";
  After after = After::kArchive;
  std::string archive_folder = "Archive";
  std::string move_to;  // with after = move: [YEAR] [MONTH] [DAY] [WEEK] are replaced
  bool idle = true;     // use IMAP IDLE with --watch when the server offers it
};

struct Pop3Config : ServerConfig {
  After after = After::kDelete;  // kDelete or kKeep
  // UIDLs of mails kept on the server that were already read (default: beside the store).
  std::string state_file;
};

// A local folder: an mbox file or a drop directory.
struct PathConfig {
  std::string path;
};

struct MaildirConfig {
  std::string path;
  After after = After::kArchive;           // kArchive, kDelete or kKeep
  std::string archive_folder = "Archive";  // Maildir++ subfolders .Archive.Aggregate, ...
};

// What failure reports keep of the reported message (like --failure-sample of import).
struct FailureConfig {
  parse::KeepSample keep_sample = parse::KeepSample::kHeaders;
};

struct Config {
  std::string file;  // where it was read from (for messages)
  StoreConfig store;
  FetchConfig fetch;
  std::optional<ImapConfig> imap;
  std::optional<Pop3Config> pop3;
  std::optional<MaildirConfig> maildir;
  std::optional<PathConfig> mbox;
  std::optional<PathConfig> directory;
  // Problems that do not stop a run, e.g. a password in a file others can read.
  std::vector<std::string> warnings;
  LogConfig log;
  std::optional<ConsulConfig> consul;
  enrich::Options enrich;  // [enrich]: source enrichment of fetched reports
  FailureConfig failure;
  WebConfig web;
  // Every secret value read (passwords, tokens), so that logging can keep them out of its lines.
  std::vector<std::string> secrets;
};

// Returns the value of an environment variable, or nullptr.
using EnvLookup = std::function<const char*(const std::string& name)>;
EnvLookup ProcessEnvironment();

// Reads and checks the file (an empty path: only the environment). Every problem is reported,
// one per line, naming the key, e.g. "config.toml: imap.port: must be 1..65535, not 70000".
Result<Config> LoadConfig(const std::string& path, const EnvLookup& env);
// The same for TOML text already in memory (e.g. a built-in default); `name` names it in messages.
Result<Config> LoadConfigText(const std::string& text, const std::string& name,
                              const EnvLookup& env);

// "DMARC_REPORT_IMAP_HOST" for ("imap", "host").
std::string EnvName(const std::string& table, const std::string& key);

}  // namespace dmarc::config
