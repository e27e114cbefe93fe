// `dmarc-report import`: reads report files into a store.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <optional>
#include <thread>

#include "app/cli.h"
#include "app/enrichment.h"
#include "app/output_delivery.h"
#include "app/progress.h"
#include "app/store_commands.h"
#include "base/text.h"
#include "pipeline/enrich_batch.h"
#include "pipeline/ingest.h"
#include "pipeline/inputs.h"
#include "store/store.h"

namespace dmarc::app {

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
      // Origins and reasons hold file names and subjects from the input: escaped, one line each.
      spdlog::warn("{}: {}", EscapeControls(r.origin), EscapeControls(r.reason));
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

// The outputs of the configuration, if any (null: none); nullopt when one cannot be made.
std::optional<std::unique_ptr<OutputDelivery>> StartImportOutputs(const StoreArgs& args,
                                                                  const StoreTarget& target,
                                                                  store::ReportStore& st) {
  auto tables = ResolveOutputs(args);
  if (!tables) {
    spdlog::error("{}", tables.error());
    return std::nullopt;
  }
  if (tables->empty()) return std::unique_ptr<OutputDelivery>();
  auto d = OutputDelivery::Start(*tables, target, false);
  if (!d) {
    spdlog::error("{}", d.error());
    return std::nullopt;
  }
  st.SetOutboxOutputs((*d)->Names());
  return std::move(d).value();
}

}  // namespace

int RunImport(const ImportCommandOptions& options) {
  // Before the store is opened: a store's password replaces this by a logger that redacts it.
  UseTerminalLogger("import", false);
  StoreTarget target;
  auto db = OpenStoreOrSay(options.store, Access::kImport, &target);
  if (!db) return 2;
  store::ReportStore& st = *db;
  // [output.NAME] of --config: each new report queued for them, delivered at the end.
  auto delivery = StartImportOutputs(options.store, target, st);
  if (!delivery) return 2;
  const pipeline::InputList inputs = pipeline::ExpandInputs(options.paths);
  for (const auto& e : inputs.errors) spdlog::error("{}", EscapeControls(e));

  bool enrich_failed = false;
  const auto enricher = MakeEnricher(options.enrich, &enrich_failed);
  if (enrich_failed) return 2;

  pipeline::IngestOptions ingest_options;
  ingest_options.extract.aggregate.limits = options.limits;
  ingest_options.extract.stream_bytes = options.limits.stream_bytes;
  ingest_options.extract.aggregate.timespan_threshold_hours = options.timespan_threshold_hours;
  ingest_options.extract.keep_sample = options.keep_sample;
  ingest_options.extract.named_inputs = inputs.named;
  ingest_options.jobs =
      options.jobs ? options.jobs : std::max(1u, std::thread::hardware_concurrency());
  ingest_options.enricher = enricher.get();
  ingest_options.batch_records = options.batch_records;

  const auto start = std::chrono::steady_clock::now();
  ImportObserver seen(inputs.files.size(), options.progress && !options.quiet);
  seen.rejected = inputs.errors.size();
  Status ingested = pipeline::Ingest(st, ingest_options, seen).Files(inputs.files);
  if (!ingested) {
    spdlog::error("{}: store failed, the last batch was not saved: {}", st.Describe(),
                  ingested.error());
    return 2;
  }
  bool undelivered = false;
  if (*delivery && !(*delivery)->Finish(std::atomic<bool>{false})) {
    spdlog::warn("outputs: reports are still waiting to be delivered (dmarc-report outputs)");
    undelivered = true;
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
      fmt::print(stderr, "  rejected {}: {}\n", n, EscapeControls(reason));
    }
    if (enricher && !enricher->options().offline) {
      fmt::print(stderr, "  source addresses: {} from the DNS cache, {} looked up\n",
                 seen.enriched.cache_hits, seen.enriched.queried);
    }
  }
  // 3: everything is stored, but a script should know that an output has not got it yet.
  return seen.rejected > 0 ? 1 : undelivered ? 3 : 0;
}

// ---- The command line of `import`. ----

namespace {

struct ImportCli {
  ImportCommandOptions options;
  std::string keep = "headers";
};

ImportCli& ImportState() {
  static ImportCli state;
  return state;
}

}  // namespace

void AddImportOptions(CLI::App& cmd) {
  ImportCommandOptions& import = ImportState().options;
  AddStoreOptions(cmd, import.store);
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

}  // namespace dmarc::app
