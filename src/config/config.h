// The configuration file of `fetch` and `run` (TOML), with every key also settable from the
// environment. This is the only module below app/ that reads the environment; each module owns
// the options struct of its table (log::Options, consul::Options, collect::ImapOptions, ...,
// web::ServeOptions, enrich::Options), and this module maps the file and the environment onto it.
//
// A key `imap.host` is read from the table [imap] of the file, and overridden by the environment
// variable DMARC_REPORT_IMAP_HOST when that is set. Secrets (`password`) may also come from a
// file: `password_file = "/run/secrets/imap"` in the file, or DMARC_REPORT_IMAP_PASSWORD_FILE in
// the environment; the file's content without its trailing newline is the secret.
//
// Adding a key: add the field to its module's options struct (e.g. collect::ImapOptions in
// collect/source.h) and one line to its table's Bind function in config.cc; adding a table: a
// struct (in the module it configures), a Bind function, its name in kTables and one line in
// LoadConfigText. README.md lists every key.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "collect/source.h"
#include "consul/consul.h"
#include "enrich/enrich.h"
#include "log/log.h"
#include "outputs/settings.h"
#include "parse/failure.h"
#include "smtp/smtp.h"
#include "web/server.h"

namespace dmarc::config {

// [store]: what the app opens and purges.
struct StoreConfig {
  std::string url = "sqlite:data/dmarc-report.db";
  int retention_days = 0;  // reports older than this are purged; 0 keeps everything
  // Where the dashboard and `stats`/`report` read (a hot standby of a PostgreSQL primary);
  // empty: url.
  std::string read_url;
  // PostgreSQL: the password of the URL's user (key `password_file`, or `password`); empty:
  // libpq's PGPASSFILE / ~/.pgpass, or none.
  std::string password;
  bool operator==(const StoreConfig&) const = default;
};

// [fetch]: the app's collecting loop.
struct FetchConfig {
  unsigned jobs = 0;                 // parallel parsers; 0 = one per core
  std::int64_t watch_interval = 60;  // seconds between polls with --watch (when there is no IDLE)
  std::int64_t max_backoff = 300;    // longest wait between reconnection attempts
};

// [mbox] and [directory]: a local folder, an mbox file or a drop directory.
struct PathConfig {
  std::string path;
};

// [failure]: what failure reports keep of the reported message (like --failure-sample of import).
struct FailureConfig {
  parse::KeepSample keep_sample = parse::KeepSample::kHeaders;
};

// [web]: the dashboard that `run` serves beside collecting, unless `enabled` is false. `db` is
// not a key: `run` serves the store of [store].
struct WebConfig : web::ServeOptions {
  bool enabled = true;
  bool operator==(const WebConfig&) const = default;
};

// [smtp]: the built-in SMTP receiver of `run`, and what becomes of its spooled mails once their
// reports are committed (as [maildir]'s `after`). An empty spool: beside a SQLite store
// ("smtp-spool" in its folder), else data/smtp-spool.
struct SmtpConfig : smtp::Options {
  collect::After after = collect::After::kArchive;  // kArchive or kDelete
  std::string archive_folder = "Archive";
  bool operator==(const SmtpConfig&) const = default;
};

struct Config {
  std::string file;  // where it was read from (for messages)
  StoreConfig store;
  FetchConfig fetch;
  std::optional<collect::ImapOptions> imap;
  std::optional<collect::Pop3Options> pop3;
  std::optional<collect::GraphOptions> graph;
  std::optional<collect::GmailOptions> gmail;
  std::optional<collect::MaildirOptions> maildir;
  std::optional<PathConfig> mbox;
  std::optional<PathConfig> directory;
  std::optional<SmtpConfig> smtp;
  // Problems that do not stop a run, e.g. a password in a file others can read.
  std::vector<std::string> warnings;
  log::Options log;
  std::optional<consul::Options> consul;
  // [enrich]: source enrichment of fetched reports; preferred_geoip_db from GeoIpDbFromEnvironment.
  enrich::Options enrich;
  FailureConfig failure;
  WebConfig web;
  // [output.NAME] tables, in the order of their names: where fetch, run and import deliver.
  std::vector<outputs::OutputTable> outputs;
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

// Only the [store] table of the file (when path is not empty; its other tables are neither read
// nor checked) and of the environment: for the commands that just open a store. Its secrets
// (the password) are added to `secrets`, its warnings to `warnings`.
Result<StoreConfig> LoadStoreConfig(const std::string& path, const EnvLookup& env,
                                    std::vector<std::string>& secrets,
                                    std::vector<std::string>& warnings);

// Only the [output.NAME] tables of the file (none without a path), with their environment
// variables (DMARC_REPORT_OUTPUT_<NAME>_<KEY>, for the tables the file has): for the commands
// that deliver without reading mail (import, export --to, outputs).
Result<std::vector<outputs::OutputTable>> LoadOutputsConfig(const std::string& path,
                                                            const EnvLookup& env,
                                                            std::vector<std::string>& secrets,
                                                            std::vector<std::string>& warnings);

// The configuration file the Debian package installs (a conffile), read by default.
inline constexpr const char* kSystemConfigPath = "/etc/dmarc-report/dmarc-report.toml";

// The configuration file a command reads when no --config is given, in this order:
//   $DMARC_REPORT_CONFIG when set (set but empty: none, as if no file were installed);
//   `system_path` (kSystemConfigPath) when it exists;
//   none (""): `run` takes its built-in default, the store commands the DMARC_REPORT_STORE_*
//   variables.
// The working folder is never searched: a dmarc-report.toml that someone else left in the
// current folder (/tmp, a shared checkout) would choose where the process writes its store and
// logs, and which passwords it reads.
std::string DefaultConfigPath(const EnvLookup& env,
                              const std::string& system_path = kSystemConfigPath);

// $DMARC_REPORT_GEOIP_DB (empty when unset): the country database every command tries first when
// no geoip_db is given (enrich::Options::preferred_geoip_db).
std::string GeoIpDbFromEnvironment(const EnvLookup& env);

// "DMARC_REPORT_IMAP_HOST" for ("imap", "host").
std::string EnvName(const std::string& table, const std::string& key);

}  // namespace dmarc::config
