// dmarc-report: the command table. Only this module reads the command line and wires concrete
// implementations together.
#include <fmt/format.h>
#include <malloc.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <map>
#include <optional>

#include "app/enrichment.h"
#include "app/fetch_command.h"
#include "app/parse_command.h"
#include "app/run_command.h"
#include "app/service_commands.h"
#include "app/store_commands.h"
#include "base/time.h"
#include "config/config.h"
#include "web/html_report.h"
#include "web/server.h"

namespace {

void AddLimitOptions(CLI::App& cmd, dmarc::Limits& limits) {
  cmd.add_option("--max-report-bytes", limits.max_decompressed_bytes,
                 "Largest decompressed report or mail, in bytes")
      ->capture_default_str()
      ->group("Limits");
  cmd.add_option("--max-input-bytes", limits.max_input_bytes, "Largest input file, in bytes")
      ->capture_default_str()
      ->group("Limits");
  cmd.add_option("--max-ratio", limits.max_compression_ratio,
                 "Largest decompressed:compressed ratio (checked past 1 MiB)")
      ->capture_default_str()
      ->group("Limits");
  cmd.add_option("--max-zip-entries", limits.max_zip_entries, "Most entries read from one zip")
      ->capture_default_str()
      ->group("Limits");
  cmd.add_option("--max-xml-depth", limits.max_xml_depth, "Deepest XML element nesting")
      ->capture_default_str()
      ->group("Limits");
  cmd.add_option("--max-records", limits.max_records, "Most records in one report")
      ->capture_default_str()
      ->group("Limits");
  cmd.add_option("--max-field-bytes", limits.max_field_bytes,
                 "Longest text field kept (longer ones are truncated)")
      ->capture_default_str()
      ->group("Limits");
  cmd.add_option("--max-tls-entries", limits.max_tls_entries,
                 "Most policies and failure details read from one SMTP TLS report")
      ->capture_default_str()
      ->group("Limits");
  cmd.add_option("--max-headers", limits.max_headers,
                 "Most feedback fields and sample headers kept from one failure report")
      ->capture_default_str()
      ->group("Limits");
  cmd.add_option("--max-nesting", limits.max_nesting,
                 "Deepest nesting of containers (zip in gzip in mail ...)")
      ->capture_default_str()
      ->group("Limits");
}

void AddFailureSampleOption(CLI::App& cmd, std::string& keep) {
  cmd.add_option("--failure-sample", keep,
                 "What failure reports keep of the reported message: headers, full (with the "
                 "body) or none (personal data: see README)")
      ->check(CLI::IsMember({"headers", "full", "none"}))
      ->capture_default_str();
}

// The enrichment options shared by parse, import and enrich (--no-enrich only for the first
// two); see README "Source enrichment".
void AddEnrichOptions(CLI::App& cmd, dmarc::enrich::Options& o, bool allow_disable) {
  o.preferred_geoip_db = dmarc::config::GeoIpDbFromEnvironment(dmarc::config::ProcessEnvironment());
  const char* group = "Enrichment";
  if (allow_disable) {
    cmd.add_flag_callback(
           "--no-enrich", [&o] { o.enabled = false; },
           "Leave source fields empty: no DNS, no geolocation, no services")
        ->group(group);
  }
  cmd.add_flag("--offline", o.offline,
               "No DNS queries at all (geolocation and services by ASN still work)")
      ->group(group);
  cmd.add_option("--nameserver", o.nameservers,
                 "DNS server IP[:PORT] for reverse lookups, repeatable (default: the system's "
                 "from /etc/resolv.conf)")
      ->group(group);
  cmd.add_option("--dns-concurrency", o.dns_concurrency, "Reverse lookups in flight at once")
      ->capture_default_str()
      ->check(CLI::Range(1u, 10000u))
      ->group(group);
  cmd.add_option("--dns-timeout-ms", o.dns_timeout_ms,
                 "Timeout of a lookup's first try; doubled on each retry")
      ->capture_default_str()
      ->check(CLI::Range(1, 60000))
      ->group(group);
  cmd.add_option("--dns-retries", o.dns_retries, "Tries after the first")
      ->capture_default_str()
      ->check(CLI::Range(0, 10))
      ->group(group);
  cmd.add_option_function<std::string>(
         "--dns-cache-ttl",
         [&o](const std::string& v) {
           auto d = dmarc::ParseDuration(v);
           if (!d)
             throw CLI::ValidationError("--dns-cache-ttl", "expected e.g. 3600, 90m, 12h, 7d");
           o.dns_cache_ttl_seconds = *d;
         },
         "How long reverse-DNS answers stay cached (default 7d)")
      ->group(group);
  cmd.add_option("--geoip-db", o.geoip_dbs,
                 "MaxMind DB file (country and/or ASN), repeatable (default: the bundled "
                 "country database)")
      ->group(group);
  cmd.add_option("--services-file", o.services_files,
                 "More sending services (KEY<TAB>NAME<TAB>TYPE), repeatable")
      ->group(group);
}

}  // namespace

int main(int argc, char** argv) {
  // Reports are parsed in buffers of a few hundred KiB to a few MiB. By default glibc maps each
  // such buffer fresh from the kernel and unmaps it on free, so every report pays page faults for
  // all of its memory again. Keeping buffers up to 32 MiB (glibc's maximum for this setting) in
  // the heap, and not trimming it back below 128 MiB, lets workers reuse them; the heap never
  // grows past the largest working set.
  mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 128 * 1024 * 1024);
  CLI::App app{"dmarc-report: turns DMARC aggregate, failure and SMTP TLS reports into answers"};
  app.set_version_flag("--version", std::string(DMARC_VERSION));
  app.require_subcommand(1);

  dmarc::app::ParseCommandOptions parse;
  std::string format = "json";
  CLI::App* parse_cmd = app.add_subcommand(
      "parse", "Parse report files, archives, mails, mboxes, Maildirs or directories");
  parse_cmd->add_option("PATH", parse.paths, "Inputs; '-' reads standard input")->required();
  parse_cmd->add_option("-f,--format", format, "Output format")
      ->check(CLI::IsMember({"json", "csv"}))
      ->capture_default_str();
  parse_cmd->add_option("-o,--output", parse.output, "Write to FILE instead of standard output");
  parse_cmd->add_option("-j,--jobs", parse.jobs, "Parallel workers (default: one per core)");
  parse_cmd
      ->add_option("--timespan-threshold-hours", parse.timespan_threshold_hours,
                   "Split reports spanning more than this many hours per UTC day")
      ->capture_default_str();
  parse_cmd->add_flag("-q,--quiet", parse.quiet, "No summary line on standard error");
  parse_cmd->add_flag("-v,--verbose", parse.verbose,
                      "Log every report found and every repair made, on standard error");
  std::string parse_type = "aggregate", parse_keep = "headers";
  parse_cmd->add_option("--type", parse_type, "With --format csv: the report type written")
      ->check(CLI::IsMember({"aggregate", "failure", "smtp_tls"}))
      ->capture_default_str();
  AddFailureSampleOption(*parse_cmd, parse_keep);
  AddLimitOptions(*parse_cmd, parse.limits);
  AddEnrichOptions(*parse_cmd, parse.enrich, true);

  const std::string db_help = "Store URL: sqlite:PATH or a plain path (SQLite)";
  auto add_filters = [](CLI::App* cmd, dmarc::app::FilterOptions& f) {
    cmd->add_option("--domain", f.domain, "Only this policy domain");
    cmd->add_option("--from", f.from, "First day, YYYY-MM-DD (UTC)");
    cmd->add_option("--to", f.to, "Last day, YYYY-MM-DD (UTC), included");
  };

  dmarc::app::ImportCommandOptions import;
  CLI::App* import_cmd = app.add_subcommand(
      "import", "Parse inputs (as for parse) and store them, skipping duplicates");
  import_cmd->add_option("--db", import.db, db_help)->required();
  import_cmd->add_option("PATH", import.paths, "Inputs; '-' reads standard input")->required();
  import_cmd->add_option("-j,--jobs", import.jobs, "Parallel parsers (default: one per core)");
  import_cmd->add_option("--batch-records", import.batch_records, "Records per transaction")
      ->capture_default_str();
  import_cmd
      ->add_option("--timespan-threshold-hours", import.timespan_threshold_hours,
                   "Split reports spanning more than this many hours per UTC day")
      ->capture_default_str();
  import_cmd->add_flag("-q,--quiet", import.quiet, "No progress bar and no summary");
  std::string import_keep = "headers";
  AddFailureSampleOption(*import_cmd, import_keep);
  AddLimitOptions(*import_cmd, import.limits);
  AddEnrichOptions(*import_cmd, import.enrich, true);

  dmarc::app::EnrichCommandOptions enrich;
  CLI::App* enrich_cmd = app.add_subcommand(
      "enrich", "Fill in source fields of stored records never enriched, or older than the TTL");
  enrich_cmd->add_option("--db", enrich.db, db_help)->required();
  enrich_cmd->add_flag("-q,--quiet", enrich.quiet, "No summary");
  AddEnrichOptions(*enrich_cmd, enrich.enrich, false);

  dmarc::app::StatsCommandOptions stats;
  CLI::App* stats_cmd = app.add_subcommand("stats", "Totals over the stored aggregate data");
  stats_cmd->add_option("--db", stats.db, db_help)->required();
  add_filters(stats_cmd, stats.filter);
  stats_cmd->add_flag("--json", stats.json, "Print the totals as JSON");

  dmarc::app::ExportCommandOptions exp;
  std::string export_format = "json";
  CLI::App* export_cmd =
      app.add_subcommand("export", "Write stored reports as JSON or CSV (the formats of parse)");
  export_cmd->add_option("--db", exp.db, db_help)->required();
  export_cmd->add_option("-f,--format", export_format, "Output format")
      ->check(CLI::IsMember({"json", "csv"}))
      ->capture_default_str();
  export_cmd->add_option("--type", exp.type, "Report type")
      ->check(CLI::IsMember({"aggregate", "failure", "smtp_tls"}))
      ->capture_default_str();
  export_cmd->add_option("-o,--output", exp.output, "Write to FILE instead of standard output");
  add_filters(export_cmd, exp.filter);

  dmarc::web::ServeOptions serve;
  CLI::App* serve_cmd =
      app.add_subcommand("serve", "Serve the web dashboard and its JSON API (docs/api.md)");
  serve_cmd->add_option("--db", serve.db, db_help)->required();
  serve_cmd
      ->add_option("--listen", serve.listen,
                   "HOST:PORT to listen on; beyond loopback only with authentication")
      ->capture_default_str();
  serve_cmd->add_option("--token-file", serve.token_file,
                        "File whose first line is a bearer token (16+ characters)");
  serve_cmd->add_option("--users", serve.users_file,
                        "File of NAME:HASH lines (hashes from `dmarc-report hash-password`)");
  serve_cmd->add_option("--tls-cert", serve.tls_cert, "PEM certificate (chain): serve HTTPS");
  serve_cmd->add_option("--tls-key", serve.tls_key, "PEM private key of --tls-cert");
  serve_cmd->add_flag("--show-failure-samples", serve.show_failure_samples,
                      "Show the message samples of failure reports (personal data)");

  dmarc::web::HtmlReportOptions html;
  CLI::App* report_cmd = app.add_subcommand(
      "report", "Write a self-contained HTML report (overview, sources, domains)");
  report_cmd->add_option("--db", html.db, db_help)->required();
  report_cmd->add_option("--html", html.output, "The HTML file to write")->required();
  report_cmd->add_option("--domain", html.domain, "Only this policy domain");
  report_cmd->add_option("--from", html.from, "First day, YYYY-MM-DD (UTC)");
  report_cmd->add_option("--to", html.to, "Last day, YYYY-MM-DD (UTC), included");

  CLI::App* hash_cmd = app.add_subcommand(
      "hash-password", "Read a password on standard input, print a line for serve --users");
  std::string hash_user = "admin";
  hash_cmd->add_option("--user", hash_user, "The user name")->capture_default_str();

  dmarc::app::FetchCommandOptions fetch;
  CLI::App* fetch_cmd = app.add_subcommand(
      "fetch", "Collect reports from the mailboxes and folders of a configuration file");
  fetch_cmd->add_option("-c,--config", fetch.config,
                        "TOML configuration (keys also from DMARC_REPORT_* variables)");
  fetch_cmd->add_flag("--watch", fetch.watch, "Keep running, collecting mail as it arrives");
  fetch_cmd->add_flag("-q,--quiet", fetch.quiet, "Only warnings and errors");
  AddLimitOptions(*fetch_cmd, fetch.limits);

  std::string check_config_file;
  CLI::App* check_config_cmd = app.add_subcommand(
      "check-config", "Check a configuration file: every problem, naming the file and key");
  check_config_cmd->add_option("FILE", check_config_file, "TOML configuration")->required();

  dmarc::app::RunCommandOptions run;
  CLI::App* run_cmd = app.add_subcommand(
      "run", "Run as a service: collect from every configured source as mail arrives");
  run_cmd->add_option("-c,--config", run.config,
                      "TOML configuration (default: drop folder inbox/ into "
                      "data/dmarc-report.db); SIGHUP re-reads it");
  AddLimitOptions(*run_cmd, run.limits);

  dmarc::app::VacuumCommandOptions vacuum;
  CLI::App* vacuum_cmd = app.add_subcommand(
      "vacuum", "Purge reports older than the retention, then compact the store");
  vacuum_cmd->add_option("--db", vacuum.db, db_help);
  vacuum_cmd->add_option("-c,--config", vacuum.config,
                         "Take store.url and store.retention_days from this configuration");
  vacuum_cmd
      ->add_option("--retention-days", vacuum.retention_days,
                   "Purge what is older than this many days (0: only compact)")
      ->check(CLI::Range(0, 100000));
  vacuum_cmd->add_flag("-q,--quiet", vacuum.quiet, "No summary");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    // Help and version are successes; every other command-line error is a usage error (2).
    return rc == 0 ? 0 : 2;
  }

  if (parse_cmd->parsed()) {
    parse.format =
        format == "csv" ? dmarc::app::OutputFormat::kCsv : dmarc::app::OutputFormat::kJson;
    parse.csv_type = parse_type == "failure"    ? dmarc::app::ReportType::kFailure
                     : parse_type == "smtp_tls" ? dmarc::app::ReportType::kSmtpTls
                                                : dmarc::app::ReportType::kAggregate;
    parse.keep_sample = *dmarc::parse::ParseKeepSample(parse_keep);
    return dmarc::app::RunParse(parse);
  }
  if (import_cmd->parsed()) {
    import.keep_sample = *dmarc::parse::ParseKeepSample(import_keep);
    return dmarc::app::RunImport(import);
  }
  if (enrich_cmd->parsed()) return dmarc::app::RunEnrich(enrich);
  if (fetch_cmd->parsed()) return dmarc::app::RunFetch(fetch);
  if (check_config_cmd->parsed()) return dmarc::app::RunCheckConfig(check_config_file);
  if (run_cmd->parsed()) return dmarc::app::RunService(run);
  if (vacuum_cmd->parsed()) return dmarc::app::RunVacuum(vacuum);
  if (stats_cmd->parsed()) return dmarc::app::RunStats(stats);
  if (export_cmd->parsed()) {
    exp.format =
        export_format == "csv" ? dmarc::app::OutputFormat::kCsv : dmarc::app::OutputFormat::kJson;
    return dmarc::app::RunExport(exp);
  }
  if (serve_cmd->parsed()) return dmarc::web::RunServe(serve);
  if (report_cmd->parsed()) return dmarc::web::RunHtmlReport(html);
  if (hash_cmd->parsed()) {
    if (hash_user.empty() || hash_user.find(':') != std::string::npos) {
      fmt::print(stderr, "--user: a name without ':' is required\n");
      return 2;
    }
    std::string password;
    std::getline(std::cin, password);
    if (!password.empty() && password.back() == '\r') password.pop_back();
    auto hash = dmarc::web::HashPassword(password);
    if (!hash) {
      fmt::print(stderr, "{}\n", hash.error());
      return 2;
    }
    fmt::print("{}:{}\n", hash_user, *hash);
    return 0;
  }
  return 2;
}
