#include "app/store_commands.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "app/cli.h"
#include "app/enrichment.h"
#include "app/progress.h"
#include "base/time.h"
#include "pipeline/enrich_batch.h"
#include "pipeline/ingest.h"
#include "pipeline/inputs.h"
#include "sinks/parsedmarc_format.h"
#include "sinks/report_json.h"
#include "store/store.h"
#include "web/api.h"

namespace dmarc::app {

namespace {

Result<store::Filter> ToFilter(const FilterOptions& f) {
  store::Filter out;
  if (!f.domain.empty()) out.domain = f.domain;
  if (!f.from.empty()) {
    out.from = ParseDate(f.from);
    if (!out.from) return MakeError(fmt::format("--from: \"{}\" is not a date YYYY-MM-DD", f.from));
  }
  if (!f.to.empty()) {
    out.to = ParseDate(f.to);
    if (!out.to) return MakeError(fmt::format("--to: \"{}\" is not a date YYYY-MM-DD", f.to));
  }
  if (out.from && out.to && *out.to < *out.from) {
    return MakeError("--to is before --from");
  }
  return out;
}

Result<std::unique_ptr<store::ReportStore>> Open(const std::string& url) {
  return store::OpenStore(url, store::OpenOptions{});
}

struct QueryTarget {
  store::Filter filter;
  std::unique_ptr<store::ReportStore> store;
};

// The filter and the store a query command works on; prints why when either is unusable.
std::optional<QueryTarget> OpenForQuery(const std::string& db, const FilterOptions& options) {
  auto filter = ToFilter(options);
  if (!filter) {
    fmt::print(stderr, "{}\n", filter.error());
    return std::nullopt;
  }
  auto st = Open(db);
  if (!st) {
    fmt::print(stderr, "{}\n", st.error());
    return std::nullopt;
  }
  return QueryTarget{*filter, std::move(st).value()};
}

}  // namespace

namespace {

// What import shows of the ingest: the progress bar, each rejection as it is found, and the
// counts for the summary.
class ImportObserver : public pipeline::IngestObserver {
 public:
  ImportObserver(std::size_t files, bool bar) : progress_(files, bar) {}

  void OnInput(const pipeline::InputResult& in) override {
    ++files_done_;
    if (!in.extracted.rejections.empty()) progress_.Finish();
    for (const auto& r : in.extracted.rejections) {
      fmt::print(stderr, "{}: {}\n", r.origin, r.reason);
      ++reasons[r.reason.substr(0, r.reason.find(':'))];
    }
    rejected += in.extracted.rejections.size();
    reports_seen_ += in.extracted.ReportCount();
    progress_.Update(files_done_, reports_seen_);
  }

  void OnBatch(const pipeline::BatchDone& b) override {
    PrintWarnings(b.enriched);
    pipeline::Accumulate(b.enriched, enriched);
    const store::BatchResult& r = b.stored;
    new_reports += r.new_reports;
    duplicates += r.duplicate_reports;
    new_records += r.new_records;
    stored_rejections += r.rejections;
    new_failures += r.new_failures;
    duplicate_failures += r.duplicate_failures;
    new_tls += r.new_smtp_tls;
    duplicate_tls += r.duplicate_smtp_tls;
  }

  void OnEnd() override { progress_.Finish(); }

  std::size_t new_reports = 0, duplicates = 0, new_records = 0, rejected = 0;
  std::size_t stored_rejections = 0;
  std::size_t new_failures = 0, duplicate_failures = 0, new_tls = 0, duplicate_tls = 0;
  std::map<std::string, std::size_t> reasons;
  enrich::LookupStats enriched;

 private:
  Progress progress_;
  std::size_t files_done_ = 0, reports_seen_ = 0;
};

}  // namespace

int RunImport(const ImportCommandOptions& options) {
  auto db = Open(options.db);
  if (!db) {
    fmt::print(stderr, "{}\n", db.error());
    return 2;
  }
  store::ReportStore& st = **db;
  const pipeline::InputList inputs = pipeline::ExpandInputs(options.paths);
  for (const auto& e : inputs.errors) fmt::print(stderr, "{}\n", e);

  bool enrich_failed = false;
  const auto enricher = MakeEnricher(options.enrich, &enrich_failed);
  if (enrich_failed) return 2;

  pipeline::IngestOptions ingest_options;
  ingest_options.extract.aggregate.limits = options.limits;
  ingest_options.extract.aggregate.timespan_threshold_hours = options.timespan_threshold_hours;
  ingest_options.extract.keep_sample = options.keep_sample;
  ingest_options.jobs =
      options.jobs ? options.jobs : std::max(1u, std::thread::hardware_concurrency());
  ingest_options.enricher = enricher.get();
  ingest_options.batch_records = options.batch_records;

  const auto start = std::chrono::steady_clock::now();
  ImportObserver seen(inputs.files.size(), options.progress && !options.quiet);
  seen.rejected = inputs.errors.size();
  Status ingested = pipeline::Ingest(st, ingest_options, seen).Files(inputs.files);
  if (!ingested) {
    fmt::print(stderr, "{}: store failed, the last batch was not saved: {}\n", st.Describe(),
               ingested.error());
    return 2;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!options.quiet) {
    fmt::print(stderr,
               "{} input(s) in {}: {} new report(s) ({} records), {} duplicate(s), {} rejected "
               "({} new in the store)\n",
               inputs.files.size(), FormatDuration(seconds), seen.new_reports, seen.new_records,
               seen.duplicates, seen.rejected, seen.stored_rejections);
    if (seen.new_failures + seen.duplicate_failures + seen.new_tls + seen.duplicate_tls > 0) {
      fmt::print(stderr,
                 "  failure reports: {} new, {} duplicate(s); SMTP TLS reports: {} new, {} "
                 "duplicate(s)\n",
                 seen.new_failures, seen.duplicate_failures, seen.new_tls, seen.duplicate_tls);
    }
    for (const auto& [reason, n] : seen.reasons) {
      fmt::print(stderr, "  rejected {}: {}\n", n, reason);
    }
    if (enricher && !enricher->options().offline) {
      fmt::print(stderr, "  source addresses: {} from the DNS cache, {} looked up\n",
                 seen.enriched.cache_hits, seen.enriched.queried);
    }
  }
  return seen.rejected > 0 ? 1 : 0;
}

namespace {

std::string Percent(std::uint64_t part, std::uint64_t whole) {
  return whole ? fmt::format("{:.1f}%",
                             100.0 * static_cast<double>(part) / static_cast<double>(whole))
               : "-";
}

}  // namespace

int RunStats(const StatsCommandOptions& options) {
  auto target = OpenForQuery(options.db, options.filter);
  if (!target) return 2;
  auto stats = target->store->QueryStats(target->filter);
  if (!stats) {
    fmt::print(stderr, "{}: {}\n", target->store->Describe(), stats.error());
    return 2;
  }
  const store::Stats& s = *stats;
  if (options.json) {
    fmt::print("{}\n", web::StatsJson(s).dump(2));
    return 0;
  }
  fmt::print("{:<22}{:>14}\n", "Aggregate reports", s.reports);
  fmt::print("{:<22}{:>14}\n", "Records", s.records);
  fmt::print("{:<22}{:>14}\n", "Messages", s.messages);
  fmt::print("{:<22}{:>14}  {}\n", "DMARC pass", s.dmarc_pass, Percent(s.dmarc_pass, s.messages));
  fmt::print("{:<22}{:>14}  {}\n", "DMARC fail", s.dmarc_fail, Percent(s.dmarc_fail, s.messages));
  fmt::print("{:<22}{:>14}\n", "Source IPs", s.source_ips);
  fmt::print("{:<22}{:>14}\n", "Failure reports", s.failure_reports);
  fmt::print("{:<22}{:>14}\n", "SMTP TLS reports", s.smtp_tls_reports);
  fmt::print("{:<22}{:>14}\n", "Rejected inputs", s.rejected_inputs);
  if (!s.by_disposition.empty()) {
    fmt::print("\nDisposition           Messages\n");
    for (const auto& [k, v] : s.by_disposition) {
      fmt::print("  {:<20}{:>14}  {}\n", k, v, Percent(v, s.messages));
    }
  }
  if (!s.by_domain.empty()) {
    fmt::print("\nHeader-From domain    Messages\n");
    std::vector<std::pair<std::string, std::uint64_t>> domains(s.by_domain.begin(),
                                                               s.by_domain.end());
    std::stable_sort(domains.begin(), domains.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    for (const auto& [k, v] : domains) {
      fmt::print("  {:<20}{:>14}  {}\n", k.empty() ? "(none)" : k, v, Percent(v, s.messages));
    }
  }
  return 0;
}

int RunExport(const ExportCommandOptions& options) {
  auto target = OpenForQuery(options.db, options.filter);
  if (!target) return 2;
  FILE* out = stdout;
  if (!options.output.empty() && options.output != "-") {
    out = std::fopen(options.output.c_str(), "wb");
    if (!out) {
      fmt::print(stderr, "{}: cannot open for writing: {}\n", options.output, std::strerror(errno));
      return 2;
    }
  }
  const bool json = options.format == OutputFormat::kJson;
  const bool failure = options.type == "failure", tls = options.type == "smtp_tls";
  std::string text = json      ? sinks::JsonDocumentBegin()
                     : failure ? sinks::FailureCsvHeader()
                     : tls     ? sinks::SmtpTlsCsvHeader()
                               : sinks::AggregateCsvHeader();
  // The other types' arrays stay empty: the document has the shape parse prints.
  if (json && (failure || tls))
    text += sinks::JsonAggregatesEnd(false) + sinks::JsonFailuresBegin();
  if (json && tls) text += sinks::JsonFailuresEnd(false);
  std::size_t n = 0;
  auto flush = [&]() {
    ++n;
    if (text.size() > (1 << 20)) {
      std::fwrite(text.data(), 1, text.size(), out);
      text.clear();
    }
  };
  Result<std::size_t> r = std::size_t{0};
  if (failure) {
    r = target->store->ForEachFailure(target->filter, [&](model::FailureReport&& report) {
      if (json) {
        sinks::AppendFailureJson(report, text, n > 0);
      } else {
        sinks::AppendFailureCsvRow(report, text);
      }
      flush();
    });
  } else if (tls) {
    r = target->store->ForEachSmtpTls(target->filter, [&](model::SmtpTlsReport&& report) {
      if (json) {
        sinks::AppendSmtpTlsJson(report, text, n > 0);
      } else {
        sinks::AppendSmtpTlsCsvRows(report, text);
      }
      flush();
    });
  } else {
    r = target->store->ForEachAggregate(target->filter, [&](model::AggregateReport&& report) {
      if (json) {
        sinks::AppendAggregateJson(report, text, n > 0);
      } else {
        sinks::AppendAggregateCsvRows(report, text);
      }
      flush();
    });
  }
  if (json && failure) text += sinks::JsonFailuresEnd(n > 0) + sinks::JsonSmtpTlsEnd(false);
  if (json && tls) text += sinks::JsonSmtpTlsEnd(n > 0);
  if (json && !failure && !tls) text += sinks::JsonDocumentEnd(n > 0);
  std::fwrite(text.data(), 1, text.size(), out);
  const bool write_failed = std::fflush(out) != 0 || std::ferror(out);
  if (out != stdout) std::fclose(out);
  if (!r) {
    fmt::print(stderr, "{}: {}\n", target->store->Describe(), r.error());
    return 2;
  }
  if (write_failed) {
    fmt::print(stderr, "write failed: {}\n", std::strerror(errno));
    return 2;
  }
  return 0;
}

// ---- The command lines of `import`, `stats` and `export`. ----

namespace {

struct ImportCli {
  ImportCommandOptions options;
  std::string keep = "headers";
};

ImportCli& ImportState() {
  static ImportCli state;
  return state;
}

StatsCommandOptions& StatsState() {
  static StatsCommandOptions state;
  return state;
}

struct ExportCli {
  ExportCommandOptions options;
  std::string format = "json";
};

ExportCli& ExportState() {
  static ExportCli state;
  return state;
}

}  // namespace

void AddImportOptions(CLI::App& cmd) {
  ImportCommandOptions& import = ImportState().options;
  cmd.add_option("--db", import.db, kDbHelp)->required();
  cmd.add_option("PATH", import.paths, "Inputs; '-' reads standard input")->required();
  cmd.add_option("-j,--jobs", import.jobs, "Parallel parsers (default: one per core)");
  cmd.add_option("--batch-records", import.batch_records, "Records per transaction")
      ->capture_default_str();
  cmd.add_option("--timespan-threshold-hours", import.timespan_threshold_hours,
                 "Split reports spanning more than this many hours per UTC day")
      ->capture_default_str();
  cmd.add_flag("-q,--quiet", import.quiet, "No progress bar and no summary");
  AddFailureSampleOption(cmd, ImportState().keep);
  AddLimitOptions(cmd, import.limits);
  AddEnrichOptions(cmd, import.enrich, true);
}

int RunImportCommand() {
  ImportCli& s = ImportState();
  s.options.keep_sample = *parse::ParseKeepSample(s.keep);
  return RunImport(s.options);
}

void AddStatsOptions(CLI::App& cmd) {
  StatsCommandOptions& stats = StatsState();
  cmd.add_option("--db", stats.db, kDbHelp)->required();
  AddFilterOptions(cmd, stats.filter);
  cmd.add_flag("--json", stats.json, "Print the totals as JSON");
}

int RunStatsCommand() { return RunStats(StatsState()); }

void AddExportOptions(CLI::App& cmd) {
  ExportCli& s = ExportState();
  cmd.add_option("--db", s.options.db, kDbHelp)->required();
  cmd.add_option("-f,--format", s.format, "Output format")
      ->check(CLI::IsMember({"json", "csv"}))
      ->capture_default_str();
  cmd.add_option("--type", s.options.type, "Report type")
      ->check(CLI::IsMember({"aggregate", "failure", "smtp_tls"}))
      ->capture_default_str();
  cmd.add_option("-o,--output", s.options.output, "Write to FILE instead of standard output");
  AddFilterOptions(cmd, s.options.filter);
}

int RunExportCommand() {
  ExportCli& s = ExportState();
  s.options.format = s.format == "csv" ? OutputFormat::kCsv : OutputFormat::kJson;
  return RunExport(s.options);
}

}  // namespace dmarc::app
