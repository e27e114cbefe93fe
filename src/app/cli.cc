#include "app/cli.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "app/store_commands.h"
#include "base/time.h"
#include "config/config.h"

namespace dmarc::app {

void AddLimitOptions(CLI::App& cmd, dmarc::Limits& limits, bool batches) {
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
  cmd.add_option("--max-parts", limits.max_mime_parts,
                 "Most MIME parts read from one mail (more: a rejection)")
      ->capture_default_str()
      ->group("Limits");
  cmd.add_option("--max-mbox-messages", limits.max_mbox_messages,
                 "Most messages read from one mbox file")
      ->capture_default_str()
      ->group("Limits");
  cmd.add_option("--max-xml-elements", limits.max_xml_elements,
                 "Most XML tags in one report (streamed: in one record, and outside records)")
      ->capture_default_str()
      ->group("Limits");
  cmd.add_option("--stream-bytes", limits.stream_bytes,
                 "Aggregate reports larger than this (decompressed XML, bytes) are parsed as a "
                 "stream, in flat memory; 0: every report is parsed whole")
      ->capture_default_str()
      ->group("Limits");
  cmd.add_option("--max-record-bytes", limits.max_record_bytes,
                 "Bytes of one <record> of a streamed aggregate report (larger: skipped, "
                 "noted), and of everything outside its records (larger: rejected)")
      ->capture_default_str()
      ->group("Limits");
  cmd.add_option("--max-count", limits.max_count,
                 "Largest count of one record (larger ones are clamped)")
      ->capture_default_str()
      ->group("Limits");
  cmd.add_option("--max-rejections", limits.max_rejections,
                 "Most rejections kept for one input (the rest are counted in one)")
      ->capture_default_str()
      ->group("Limits");
  cmd.add_option("--max-rejected-bytes", limits.max_rejected_bytes,
                 "Bytes of rejected items kept for one input, all its rejections together")
      ->capture_default_str()
      ->group("Limits");
  if (batches) {
    cmd.add_option("--max-batch-bytes", limits.max_batch_bytes,
                   "Bytes of extracted reports held in memory (a batch is committed at half)")
        ->capture_default_str()
        ->group("Limits");
  }
}

void AddFailureSampleOption(CLI::App& cmd, std::string& keep) {
  cmd.add_option("--failure-sample", keep,
                 "What failure reports keep of the reported message: headers, full (with the "
                 "body) or none (personal data: see README)")
      ->check(CLI::IsMember({"headers", "full", "none"}))
      ->capture_default_str();
}

void AddEnrichOptions(CLI::App& cmd, enrich::Options& o, bool allow_disable) {
  o.preferred_geoip_db = config::GeoIpDbFromEnvironment(config::ProcessEnvironment());
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
  cmd.add_option("--dns-max-addresses", o.dns_max_addresses,
                 "Addresses looked up per input (parse) or batch (import); the rest get no name")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{100'000'000}))
      ->group(group);
  cmd.add_option(
         "--dns-max-seconds", o.dns_max_seconds,
         "Time for the lookups of one input (parse) or batch (import); the rest get no name")
      ->capture_default_str()
      ->check(CLI::Range(1, 86'400))
      ->group(group);
  cmd.add_option_function<std::string>(
         "--dns-cache-ttl",
         [&o](const std::string& v) {
           auto d = ParseDuration(v);
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

void AddFilterOptions(CLI::App& cmd, FilterOptions& f) {
  cmd.add_option("--domain", f.domain, "Only this policy domain");
  cmd.add_option("--from", f.from, "First day, YYYY-MM-DD (UTC)");
  cmd.add_option("--to", f.to, "Last day, YYYY-MM-DD (UTC), included");
}

void AddForwardersFileOption(CLI::App& cmd, std::vector<std::string>& files) {
  cmd.add_option("--forwarders-file", files,
                 "More known forwarders for the enforcement advisor, read after the bundled list "
                 "(KEY<TAB>NAME<TAB>KIND lines; repeatable)")
      ->type_name("FILE");
}

void UseTerminalLogger(const char* name, bool verbose) {
  spdlog::drop(name);
  auto logger = spdlog::stderr_color_mt(name);
  logger->set_pattern("%^%l%$ %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(verbose ? spdlog::level::info : spdlog::level::warn);
}

}  // namespace dmarc::app
