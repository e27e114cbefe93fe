// `dmarc-report check-config FILE`: loads a configuration and prints what it sets up.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "app/cli.h"
#include "app/fetch_command.h"
#include "app/parsedmarc_ini.h"
#include "app/service_commands.h"
#include "app/smtp_receiver.h"
#include "config/config.h"
#include "outputs/registry.h"
#include "store/pg/pg_store.h"
#include "store/store.h"

namespace dmarc::app {

namespace {

std::string DescribeSources(const config::Config& c) {
  std::string out;
  auto add = [&](const std::string& s) { out += (out.empty() ? "" : ", ") + s; };
  if (c.imap)
    add(fmt::format("imap {}@{}:{}/{}", c.imap->user, c.imap->host, c.imap->port, c.imap->folder));
  if (c.pop3) add(fmt::format("pop3 {}@{}:{}", c.pop3->user, c.pop3->host, c.pop3->port));
  if (c.graph) add(fmt::format("graph {}/{}", c.graph->mailbox, c.graph->folder));
  if (c.gmail) {
    add(fmt::format("gmail {} (label {}{})", c.gmail->user,
                    c.gmail->label.empty() ? "none" : c.gmail->label,
                    c.gmail->query.empty() ? "" : ", query " + c.gmail->query));
  }
  if (c.maildir) add("maildir " + c.maildir->path);
  if (c.mbox) add("mbox " + c.mbox->path);
  if (c.directory) add("directory " + c.directory->path);
  if (c.smtp) {
    add(fmt::format(
        "smtp on {} for {} (spool {}{}; at most {} bytes a mail, {} recipients, {} "
        "connections, {} per client; timeouts {} s a command, {} s a message)",
        c.smtp->listen, fmt::join(c.smtp->accept, ", "), SmtpSpoolOf(c),
        c.smtp->tls_cert.empty() ? "" : ", STARTTLS", c.smtp->max_message_bytes,
        c.smtp->max_recipients, c.smtp->max_connections, c.smtp->max_connections_per_client,
        c.smtp->command_timeout, c.smtp->data_timeout));
  }
  return out;
}

// The store's URL as it may be shown (checked: a known back end, no password in it), what reads
// go where, and where the password comes from; an error for an unusable URL.
Result<std::string> DescribeStore(const config::StoreConfig& s) {
  std::string out;
  for (const std::string* url : {&s.url, &s.read_url}) {
    if (url->empty()) continue;
    Result<std::string> shown =
        store::IsPostgresUrl(*url) ? store::PostgresLabel(*url) : store::SqlitePathFromUrl(*url);
    if (!shown) {
      return MakeError(
          fmt::format("store.{}: {}", url == &s.url ? "url" : "read_url", shown.error()));
    }
    out += url == &s.url ? *url : fmt::format(", reads from {}", *url);
  }
  if (!s.password.empty()) out += ", password from store.password_file";
  out += s.retention_days ? fmt::format(" (reports kept {} days)", s.retention_days)
                          : std::string(" (reports kept forever)");
  return out;
}

// --connect: each source signs in and lists its mails, as fetch's first step does; nothing is
// read, moved or deleted. One line per source; false when one failed.
bool ConnectToSources(const config::Config& c) {
  bool ok = true;
  for (auto& source : MakeSources(c, Limits{})) {
    const std::string name = source->Describe();
    if (Status checked = source->CheckPath(); !checked) {
      fmt::print("  connect {}: FAILED: {}\n", name, checked.error());
      ok = false;
    } else if (Result<std::size_t> listed = source->Open(); !listed) {
      fmt::print("  connect {}: FAILED: {}\n", name, listed.error());
      ok = false;
    } else {
      fmt::print("  connect {}: ok, {} mail{} waiting\n", name, *listed, *listed == 1 ? "" : "s");
    }
    source->Close();
  }
  return ok;
}

}  // namespace

int RunCheckConfig(const std::string& file, bool connect) {
  auto config = config::LoadConfig(file, config::ProcessEnvironment());
  if (!config) {
    fmt::print(stderr, "{}\n", config.error());
    return 1;
  }
  const config::Config& c = *config;
  auto store = DescribeStore(c.store);
  if (!store) {
    fmt::print(stderr, "{}: {}\n", c.file, store.error());
    return 1;
  }
  // What `run` refuses before it starts the dashboard, refused here by the same check.
  if (auto web = CheckDashboardConfig(c); !web) {
    fmt::print(stderr, "{}: {}\n", c.file, web.error());
    return 1;
  }
  if (auto sources = CheckSourcesConfig(c); !sources) {
    fmt::print(stderr, "{}: {}\n", c.file, sources.error());
    return 1;
  }
  // Each output made as `run` makes it: its type's factory checks its keys and secret files.
  std::string outputs;
  for (const auto& t : c.outputs) {
    if (auto made = outputs::MakeOutput(t.output); !made) {
      fmt::print(stderr, "{}: {}\n", c.file, made.error());
      return 1;
    }
    outputs += fmt::format("{}{} ({}{})", outputs.empty() ? "" : ", ", t.output.name, t.output.type,
                           t.output.required ? ", required" : "");
  }
  fmt::print("{}: ok\n", c.file);
  for (const auto& w : c.warnings) fmt::print("  warning: {}\n", w);
  fmt::print("  sources: {}\n", DescribeSources(c));
  fmt::print("  store: {}\n", *store);
  std::string log = "level " + c.log.level;
  if (c.log.to_stderr) log += ", stderr";
  if (!c.log.file.empty()) log += ", file " + c.log.file;
  if (!c.log.syslog.empty()) {
    log += fmt::format(", syslog {}://{}:{}",
                       c.log.syslog_transport == log::SyslogTransport::kTcp ? "tcp" : "udp",
                       c.log.syslog_host, c.log.syslog_port);
  }
  fmt::print("  log: {}\n", log);
  const auto& e = c.enrich;
  fmt::print("  enrichment: {}; failure samples: {}\n",
             !e.enabled  ? std::string("off")
             : e.offline ? std::string("offline (no DNS)")
                         : fmt::format("DNS via {}",
                                       e.nameservers.empty()
                                           ? std::string("the system's resolvers")
                                           : fmt::format("{}", fmt::join(e.nameservers, ", "))),
             c.failure.keep_sample == parse::KeepSample::kFull   ? "full"
             : c.failure.keep_sample == parse::KeepSample::kNone ? "none"
                                                                 : "headers");
  if (c.consul) fmt::print("  consul: {} as {}\n", c.consul->address, c.consul->service_name);
  fmt::print("  outputs: {}\n", outputs.empty() ? std::string("none") : outputs);
  if (c.web.enabled) {
    std::string web = (c.web.tls_cert.empty() ? "http://" : "https://") + c.web.listen;
    if (!c.web.token_file.empty()) web += ", token " + c.web.token_file;
    if (!c.web.users_file.empty()) web += ", users " + c.web.users_file;
    if (c.web.token_file.empty() && c.web.users_file.empty()) web += ", no sign-in";
    fmt::print("  web: {}\n", web);
  } else {
    fmt::print("  web: off\n");
  }
  if (connect && !ConnectToSources(c)) return 1;
  return 0;
}

// ---- The command line of `check-config`. ----

namespace {

std::string& CheckConfigFile() {
  static std::string file;
  return file;
}

// --from-parsedmarc: convert a parsedmarc INI file instead (app/parsedmarc_ini.h).
struct FromParsedmarc {
  std::string ini;
  ConvertOptions options;
};

FromParsedmarc& FromParsedmarcOptions() {
  static FromParsedmarc o;
  return o;
}

bool& ConnectOption() {
  static bool connect = false;
  return connect;
}

}  // namespace

void AddCheckConfigOptions(CLI::App& cmd) {
  auto* file = cmd.add_option("FILE", CheckConfigFile(),
                              "TOML configuration (default: $DMARC_REPORT_CONFIG, else "
                              "/etc/dmarc-report/dmarc-report.toml)");
  cmd.add_flag("--connect", ConnectOption(),
               "Also sign in to each mail source and list its mails (nothing is read, moved or "
               "deleted); exit 1 naming what is wrong");
  auto& p = FromParsedmarcOptions();
  cmd.add_option("--from-parsedmarc", p.ini,
                 "Print the TOML equivalent of a parsedmarc INI file instead (warnings about "
                 "options without equivalent on standard error); see "
                 "docs/migrating-from-parsedmarc.md")
      ->excludes(file);
  cmd.add_option("--secrets-dir", p.options.secrets_dir,
                 "With --from-parsedmarc: where the TOML expects its password files")
      ->capture_default_str();
}

int RunCheckConfigCommand() {
  const auto& p = FromParsedmarcOptions();
  if (!p.ini.empty()) return RunFromParsedmarc(p.ini, p.options);
  // Without FILE: the configuration run and fetch would read ($DMARC_REPORT_CONFIG, then
  // /etc/dmarc-report/dmarc-report.toml).
  std::string file = CheckConfigFile();
  if (file.empty()) file = config::DefaultConfigPath(config::ProcessEnvironment());
  if (file.empty()) {
    spdlog::error(
        "check-config: FILE is required (no $DMARC_REPORT_CONFIG, no {}; or --from-parsedmarc INI)",
        config::kSystemConfigPath);
    return 2;
  }
  return RunCheckConfig(file, ConnectOption());
}

}  // namespace dmarc::app
