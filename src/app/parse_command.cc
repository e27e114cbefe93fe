#include "app/parse_command.h"

#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "app/cli.h"
#include "app/enrichment.h"
#include "app/progress.h"
#include "base/spool.h"
#include "base/text.h"
#include "pipeline/enrich_batch.h"
#include "pipeline/extract.h"
#include "pipeline/ingest.h"
#include "pipeline/inputs.h"
#include "pipeline/ordered_parallel.h"
#include "pipeline/record_spool.h"
#include "sinks/csv_text.h"
#include "sinks/parsedmarc_format.h"
#include "sinks/report_json.h"

namespace dmarc::app {

namespace {

constexpr unsigned kDnsWorkers = 16;

// Closes the output file (never standard output), and owns the stdio buffer given to it: the
// buffer outlives the file, freed after the close.
struct FileCloser {
  void operator()(FILE* f) const {
    if (f && f != stdout) std::fclose(f);
  }
  std::unique_ptr<char[]> buffer;
};

// A streamed aggregate report (pipeline::ExtractOptions::stream_sink): each batch of records is
// enriched as it comes and spooled in the records' compact binary form (pipeline::RecordSpool:
// about a fifth of their JSON, so a fifth of the temporary file's writes and reads); when the
// report is written, its header, known whole at OnEnd (the report's errors), goes first and the
// records are read back and formatted batch by batch. Same bytes and log lines as a report
// formatted whole.
class StreamedOutput : public parse::AggregateSink {
 public:
  StreamedOutput(std::string origin, const ParseCommandOptions& options, enrich::Enricher* enricher)
      : origin_(std::move(origin)), options_(options), enricher_(enricher) {}

  Status OnHeader(const model::AggregateReport& header) override {
    header_ = header;
    header_.records.clear();
    return Ok();
  }
  Status OnRecords(std::vector<model::Record>& records) override;
  Status OnEnd(const std::vector<std::string>& errors) override;
  // Writes the report: its JSON element (first: the document's first, without the leading ",")
  // or its CSV rows. False when the spool could not be read back.
  bool WriteTo(FILE* out, bool first);
  // Bytes it holds in memory while it waits to be written.
  std::size_t HeldBytes() const { return spool_.MemoryBytes(); }
  // Sets those bytes aside in the spool's temporary file (false: they stay in memory).
  bool MoveToFile() { return spool_.MoveToFile(); }

  static constexpr std::size_t kRecordsPerRead = 1024;

  std::vector<std::string> log;  // with --verbose, as for a report parsed whole
  enrich::LookupStats enrichment;

 private:
  bool Json() const { return options_.format == OutputFormat::kJson; }
  // Reads the records back a batch at a time, formatted by `format` into text that is written.
  bool WriteRecords(
      FILE* out,
      const std::function<void(const model::Record&, std::uint64_t, std::string&)>& format);

  std::string origin_;
  const ParseCommandOptions& options_;
  enrich::Enricher* enricher_;
  model::AggregateReport header_;  // without records
  std::uint64_t records_ = 0;
  pipeline::RecordSpool spool_;  // the records, enriched
};

Status StreamedOutput::OnRecords(std::vector<model::Record>& records) {
  if (!options_.Writes(ReportType::kAggregate)) {  // counted only
    records_ += records.size();
    return Ok();
  }
  if (enricher_) {
    header_.records.swap(records);
    const enrich::LookupStats stats = enricher_->EnrichReports(
        {&header_}, nullptr, static_cast<std::int64_t>(std::time(nullptr)));
    header_.records.swap(records);
    pipeline::Accumulate(stats, enrichment);
  }
  records_ += records.size();
  return spool_.Add(records);
}

Status StreamedOutput::OnEnd(const std::vector<std::string>& errors) {
  header_.report_metadata.errors = errors;
  if (options_.verbose) {
    const auto& m = header_.report_metadata;
    log.push_back(fmt::format("{}: report {} from {} ({} records)", origin_, m.report_id,
                              m.org_name, records_));
    for (const auto& e : m.errors) log.push_back(fmt::format("{}: {}", origin_, e));
  }
  return Ok();
}

bool StreamedOutput::WriteTo(FILE* out, bool first) {
  if (!options_.Writes(ReportType::kAggregate)) return true;
  if (!spool_.Rewind()) return false;
  if (!Json()) {
    const sinks::AggregateCsvReportColumns columns = sinks::AggregateCsvReportPart(header_);
    return WriteRecords(out, [&](const model::Record& r, std::uint64_t, std::string& text) {
      text += columns.before_dates;
      sinks::AppendAggregateCsvDates(r, text);
      text += columns.after_dates;
      sinks::AppendAggregateCsvRecordColumns(r, text);
    });
  }
  std::string text;
  sinks::AppendAggregateJsonHead(header_, text, !first);
  sinks::AppendAggregateJsonRecordsBegin(records_ > 0, text);
  std::fwrite(text.data(), 1, text.size(), out);
  if (!WriteRecords(out, [](const model::Record& r, std::uint64_t i, std::string& t) {
        sinks::AppendAggregateJsonRecord(r, t, i == 0);
      })) {
    return false;
  }
  text.clear();
  sinks::AppendAggregateJsonEnd(records_ > 0, text);
  std::fwrite(text.data(), 1, text.size(), out);
  return true;
}

bool StreamedOutput::WriteRecords(
    FILE* out,
    const std::function<void(const model::Record&, std::uint64_t, std::string&)>& format) {
  std::vector<model::Record> batch;
  std::string text;
  std::uint64_t written = 0;
  for (;;) {
    if (!spool_.Next(batch, kRecordsPerRead)) return false;
    if (batch.empty()) break;
    text.clear();
    for (const auto& r : batch) format(r, written++, text);
    std::fwrite(text.data(), 1, text.size(), out);
  }
  return written == records_;
}

using Spilled = std::optional<SpillFile::Piece>;

// What a worker hands back for one input: text ready to write, and the rejections. A text
// waiting beyond the output budget is set aside in the run's spill file (its Spilled piece).
struct Processed {
  // The aggregate reports in input order: text of those parsed whole, and streamed ones.
  struct Aggregates {
    std::string text;
    std::unique_ptr<StreamedOutput> streamed;
    Spilled text_spilled;
  };
  std::vector<Aggregates> aggregates;
  std::string text;                          // CSV rows of failure or SMTP TLS reports
  std::string failures_json, smtp_tls_json;  // JSON fragments of the later arrays
  Spilled text_spilled, failures_spilled, smtp_tls_spilled;
  std::size_t reports = 0;
  std::size_t failures = 0, smtp_tls = 0;
  std::vector<std::string> log;  // with --verbose: what was found and repaired
  std::vector<pipeline::Rejection> rejections;
  enrich::LookupStats enrichment;
};

// The bytes a Processed holds while it waits to be written in order (RunOrdered's weight).
std::size_t HeldBytes(const Processed& p) {
  std::size_t n = p.text.size() + p.failures_json.size() + p.smtp_tls_json.size();
  for (const auto& a : p.aggregates)
    n += a.text.size() + (a.streamed ? a.streamed->HeldBytes() : 0);
  for (const auto& line : p.log) n += line.size();
  for (const auto& r : p.rejections) n += r.raw.size() + r.origin.size() + r.reason.size();
  return n;
}

void Spill(std::string& text, Spilled& piece, SpillFile& file) {
  if (text.empty() || piece) return;
  piece = file.Add(text);
  if (piece) std::string().swap(text);
}

// RunOrdered's spill: a result that would wait beyond the output budget leaves its texts in the
// spill file and its streamed reports' records in their spools' files (what cannot be set aside
// stays in memory).
void SpillProcessed(Processed& p, SpillFile& file) {
  for (auto& a : p.aggregates) {
    Spill(a.text, a.text_spilled, file);
    if (a.streamed) a.streamed->MoveToFile();
  }
  Spill(p.text, p.text_spilled, file);
  Spill(p.failures_json, p.failures_spilled, file);
  Spill(p.smtp_tls_json, p.smtp_tls_spilled, file);
}

// Gives a text to `use`, from memory or read back from the spill file; false when it could not
// be read back.
bool UseText(const std::string& text, const Spilled& piece, SpillFile& file,
             const std::function<void(std::string_view)>& use) {
  if (piece) return file.TakeBack(*piece, use);
  if (!text.empty()) use(text);
  return true;
}

}  // namespace

namespace {

// The output file of --output, or standard output; nullptr (and why, printed) when it cannot be
// opened.
std::unique_ptr<FILE, FileCloser> OpenOutput(const std::string& path) {
  std::unique_ptr<FILE, FileCloser> out;
  if (path.empty() || path == "-") {
    out.reset(stdout);
    return out;
  }
  out.reset(std::fopen(path.c_str(), "wb"));
  if (!out) {
    spdlog::error("{}: cannot open for writing: {}", path, std::strerror(errno));
    return out;
  }
  // stdio's buffer is the file's block size (4 KiB): a system call every 4 KiB of small reports'
  // output. 64 KiB gathers those, while a text of 64 KiB or more still goes to the file without
  // a copy into the buffer (1 MiB copied nearly every text: +15 % CPU writing to a file).
  constexpr std::size_t kBufferBytes = 64u << 10;
  out.get_deleter().buffer = std::make_unique<char[]>(kBufferBytes);
  std::setvbuf(out.get(), out.get_deleter().buffer.get(), _IOFBF, kBufferBytes);
  return out;
}

// Each worker resolves its input's distinct addresses at once; answers are shared between
// workers through the enricher's memory.
enrich::LookupStats EnrichInput(pipeline::Extracted& extracted, enrich::Enricher& enricher) {
  std::vector<model::AggregateReport*> found_reports;
  std::vector<model::FailureReport*> found_failures;
  for (auto& found : extracted.reports) found_reports.push_back(&found.aggregate);
  for (auto& found : extracted.failures) found_failures.push_back(&found.report);
  return enricher.EnrichReports(found_reports, nullptr,
                                static_cast<std::int64_t>(std::time(nullptr)), found_failures);
}

void LogWhole(const pipeline::FoundReport& found, std::vector<std::string>& lines) {
  const auto& m = found.aggregate.report_metadata;
  lines.push_back(fmt::format("{}: report {} from {} ({} records)", found.origin, m.report_id,
                              m.org_name, found.aggregate.records.size()));
  for (const auto& e : m.errors) lines.push_back(fmt::format("{}: {}", found.origin, e));
}

// The aggregate reports in input order: those parsed whole formatted here, the streamed ones
// (formatted as they were parsed) between them where they were found.
void FormatAggregates(pipeline::Extracted& extracted, const ParseCommandOptions& options,
                      Processed& p) {
  const bool json = options.format == OutputFormat::kJson;
  // About 1.2 KB of JSON (0.4 KB of CSV) per record: one allocation instead of a dozen
  // doublings, each copying everything written so far.
  std::size_t records = 0;
  for (const auto& found : extracted.reports) records += found.aggregate.records.size();
  std::size_t next = 0;  // the next streamed report
  auto streamed_before = [&](std::size_t position) {
    for (; next < extracted.streamed.size() && extracted.streamed[next].position <= position;
         ++next) {
      std::unique_ptr<StreamedOutput> out(
          dynamic_cast<StreamedOutput*>(extracted.streamed[next].sink.release()));
      if (!out) continue;  // not made by this command: cannot happen
      p.log.insert(p.log.end(), out->log.begin(), out->log.end());
      pipeline::Accumulate(out->enrichment, p.enrichment);
      p.aggregates.push_back({{}, std::move(out)});
    }
  };
  for (std::size_t i = 0; i < extracted.reports.size(); ++i) {
    streamed_before(i);
    const auto& found = extracted.reports[i];
    if (p.aggregates.empty() || p.aggregates.back().streamed) {
      p.aggregates.emplace_back();
      p.aggregates.back().text.reserve(records * (json ? 1300 : 450) + 4096);
      records = 0;  // reserved once
    }
    std::string& text = p.aggregates.back().text;
    if (options.verbose) LogWhole(found, p.log);
    if (!options.Writes(ReportType::kAggregate)) {
      continue;
    } else if (json) {
      sinks::AppendAggregateJson(found.aggregate, text, /*separator=*/true);
    } else {
      sinks::AppendAggregateCsvRows(found.aggregate, text);
    }
  }
  streamed_before(SIZE_MAX);
}

void FormatFailures(const pipeline::Extracted& extracted, const ParseCommandOptions& options,
                    Processed& p) {
  for (const auto& found : extracted.failures) {
    if (options.verbose) {
      p.log.push_back(fmt::format("{}: failure report for {} from {}", found.origin,
                                  found.report.reported_domain, found.report.source.ip_address));
      for (const auto& e : found.report.errors) {
        p.log.push_back(fmt::format("{}: {}", found.origin, e));
      }
    }
    if (!options.Writes(ReportType::kFailure)) {
      continue;
    } else if (options.format == OutputFormat::kJson) {
      sinks::AppendFailureJson(found.report, p.failures_json, /*separator=*/true);
    } else {
      sinks::AppendFailureCsvRow(found.report, p.text);
    }
  }
}

void FormatSmtpTls(const pipeline::Extracted& extracted, const ParseCommandOptions& options,
                   Processed& p) {
  for (const auto& found : extracted.smtp_tls) {
    if (options.verbose) {
      p.log.push_back(fmt::format("{}: SMTP TLS report {} from {} ({} policies)", found.origin,
                                  found.report.report_id, found.report.organization_name,
                                  found.report.policies.size()));
      for (const auto& e : found.report.errors) {
        p.log.push_back(fmt::format("{}: {}", found.origin, e));
      }
    }
    if (!options.Writes(ReportType::kSmtpTls)) {
      continue;
    } else if (options.format == OutputFormat::kJson) {
      sinks::AppendSmtpTlsJson(found.report, p.smtp_tls_json, /*separator=*/true);
    } else {
      sinks::AppendSmtpTlsCsvRows(found.report, p.text);
    }
  }
}

// A worker's step: one extracted input, enriched and formatted.
Processed ProcessInput(pipeline::InputResult input, enrich::Enricher* enricher,
                       const ParseCommandOptions& options) {
  Processed p;
  pipeline::Extracted& extracted = input.extracted;
  p.rejections = std::move(extracted.rejections);
  p.reports = extracted.reports.size() + extracted.streamed.size();
  p.failures = extracted.failures.size();
  p.smtp_tls = extracted.smtp_tls.size();
  if (enricher) p.enrichment = EnrichInput(extracted, *enricher);
  FormatAggregates(extracted, options, p);
  FormatFailures(extracted, options, p);
  FormatSmtpTls(extracted, options, p);
  return p;
}

// The writing side, in input order: the aggregate text goes out at once, the failure and SMTP
// TLS fragments wait in their spools for the end of the aggregate array.
class ParseOutput {
 public:
  ParseOutput(FILE* out, const ParseCommandOptions& options, SpillFile& spill)
      : out_(out),
        json_(options.format == OutputFormat::kJson),
        csv_type_(options.csv_type),
        options_(options),
        spill_(spill) {}

  void WriteHead() {
    const std::string head = json_                               ? sinks::JsonDocumentBegin()
                             : csv_type_ == ReportType::kFailure ? sinks::FailureCsvHeader()
                             : csv_type_ == ReportType::kSmtpTls ? sinks::SmtpTlsCsvHeader()
                                                                 : sinks::AggregateCsvHeader();
    std::fwrite(head.data(), 1, head.size(), out_);
  }

  void Add(Processed&& p) {
    for (const auto& line : p.log) spdlog::info("{}", EscapeControls(line));
    PrintWarnings(p.enrichment);
    // Origins and reasons hold file names and subjects from the input: escaped, one line each.
    for (const auto& r : p.rejections) {
      spdlog::warn("{}: {}", EscapeControls(r.origin), EscapeControls(r.reason));
    }
    rejected += p.rejections.size();
    reports += p.reports;
    failures += p.failures;
    smtp_tls += p.smtp_tls;
    not_written += (options_.Writes(ReportType::kAggregate) ? 0 : p.reports) +
                   (options_.Writes(ReportType::kFailure) ? 0 : p.failures) +
                   (options_.Writes(ReportType::kSmtpTls) ? 0 : p.smtp_tls);
    Use(p.failures_json, p.failures_spilled, [&](std::string_view text) {
      if (!failure_spool_.Add(text)) spool_failed = true;
    });
    Use(p.smtp_tls_json, p.smtp_tls_spilled, [&](std::string_view text) {
      if (!smtp_tls_spool_.Add(text)) spool_failed = true;
    });
    for (auto& part : p.aggregates) {
      Write(part.text, part.text_spilled, /*aggregate=*/true);
      if (!part.streamed || !options_.Writes(ReportType::kAggregate)) continue;
      if (!part.streamed->WriteTo(out_, json_ && first_report_)) spool_failed = true;
      first_report_ = false;
    }
    Write(p.text, p.text_spilled, /*aggregate=*/false);
  }

  // Writes output text, from memory or from the spill file; a spilled piece goes from the spill
  // file to the output within the kernel where the output takes it (sendfile).
  void Write(const std::string& text, const Spilled& piece, bool aggregate) {
    // Each JSON fragment starts with ",": the document's first must not.
    const bool skip_comma = aggregate && json_ && first_report_;
    if (piece && piece->size > 0 && send_ && std::fflush(out_) == 0) {
      switch (spill_.SendTo(*piece, fileno(out_), skip_comma ? 1 : 0)) {
        case SpillFile::Sent::kDone:
          if (skip_comma) first_report_ = false;
          return;
        case SpillFile::Sent::kFailed:
          spool_failed = true;
          return;
        case SpillFile::Sent::kUnsupported:
          send_ = false;
          break;
      }
    }
    Use(text, piece, [&](std::string_view t) {
      if (aggregate) {
        WriteAggregateText(t);
      } else {
        std::fwrite(t.data(), 1, t.size(), out_);
      }
    });
  }

  void Use(const std::string& text, const Spilled& piece,
           const std::function<void(std::string_view)>& use) {
    if (!UseText(text, piece, spill_, use)) spool_failed = true;
  }

  void WriteAggregateText(std::string_view text) {
    // Each JSON fragment starts with ",": the first one of the document must not.
    if (json_ && first_report_ && !text.empty()) {
      text.remove_prefix(1);
      first_report_ = false;
    }
    std::fwrite(text.data(), 1, text.size(), out_);
  }

  // With JSON: the end of the aggregate array and the two later arrays.
  void WriteTail() {
    if (!json_) return;
    std::string tail = sinks::JsonAggregatesEnd(!first_report_) + sinks::JsonFailuresBegin();
    std::fwrite(tail.data(), 1, tail.size(), out_);
    if (!failure_spool_.Rewind() || !failure_spool_.CopyTo(out_, true)) spool_failed = true;
    tail = sinks::JsonFailuresEnd(failures > 0 && options_.Writes(ReportType::kFailure));
    std::fwrite(tail.data(), 1, tail.size(), out_);
    if (!smtp_tls_spool_.Rewind() || !smtp_tls_spool_.CopyTo(out_, true)) spool_failed = true;
    tail = sinks::JsonSmtpTlsEnd(smtp_tls > 0 && options_.Writes(ReportType::kSmtpTls));
    std::fwrite(tail.data(), 1, tail.size(), out_);
  }

  std::size_t reports = 0, rejected = 0;
  std::size_t failures = 0, smtp_tls = 0, not_written = 0;
  bool spool_failed = false;

 private:
  FILE* out_;
  const bool json_;
  const ReportType csv_type_;
  const ParseCommandOptions& options_;
  SpillFile& spill_;
  Spool failure_spool_, smtp_tls_spool_;
  bool first_report_ = true;
  bool send_ = true;  // false once the output refused sendfile
};

void PrintSummary(std::size_t inputs, const ParseOutput& o) {
  fmt::print(stderr, "{} input(s), {} report(s) parsed, {} rejected\n", inputs,
             o.reports + o.failures + o.smtp_tls, o.rejected);
  if (o.failures + o.smtp_tls > 0) {
    fmt::print(stderr, "  {} aggregate, {} failure, {} SMTP TLS\n", o.reports, o.failures,
               o.smtp_tls);
  }
  if (o.not_written > 0) {
    fmt::print(stderr, "  {} report(s) of other types are not in this output (see --type)\n",
               o.not_written);
  }
}

}  // namespace

int RunParse(const ParseCommandOptions& options) {
  UseTerminalLogger("parse", options.verbose);
  const pipeline::InputList inputs = pipeline::ExpandInputs(options.paths);
  for (const auto& e : inputs.errors) spdlog::error("{}", EscapeControls(e));

  const std::unique_ptr<FILE, FileCloser> out = OpenOutput(options.output);
  if (!out) return 2;

  bool enrich_failed = false;
  const auto enricher = MakeEnricher(options.enrich, &enrich_failed);
  if (enrich_failed) return 2;

  pipeline::ExtractOptions extract;
  extract.aggregate.limits = options.limits;
  extract.aggregate.timespan_threshold_hours = options.timespan_threshold_hours;
  extract.keep_sample = options.keep_sample;
  extract.named_inputs = inputs.named;
  extract.stream_bytes = options.limits.stream_bytes;
  extract.stream_sink = [&](const std::string& origin) -> std::unique_ptr<parse::AggregateSink> {
    return std::make_unique<StreamedOutput>(origin, options, enricher.get());
  };

  SpillFile spill;
  ParseOutput output(out.get(), options, spill);
  output.WriteHead();
  output.rejected = inputs.errors.size();
  unsigned jobs = options.jobs ? options.jobs : std::max(1u, std::thread::hardware_concurrency());
  // A worker waits on DNS for its input's addresses; with reverse DNS on and no -j, more workers
  // keep more inputs' lookups in flight (a 50 ms resolver: 300 small inputs in 1 s, not 8 s).
  if (!options.jobs && enricher && !options.enrich.offline) {
    jobs = std::max(jobs, kDnsWorkers);
  }
  // Workers run ahead of the output: what waits is held in memory up to output_memory_bytes
  // (RunOrdered's byte budget), and set aside in temporary files beyond (one big input among small
  // ones holds the others back neither in time nor in memory). Lookups that take a while are shown.
  std::optional<DnsStage> dns_stage(std::in_place, enricher.get(), !options.quiet);
  pipeline::RunOrdered<Processed>(
      inputs.files.size(), jobs,
      [&](std::size_t i) {
        return ProcessInput(pipeline::ExtractInput(inputs.files[i], extract), enricher.get(),
                            options);
      },
      [&](std::size_t, Processed&& p) { output.Add(std::move(p)); }, HeldBytes,
      options.output_memory_bytes, pipeline::kOrderedMaxPending,
      [&](Processed& p) { SpillProcessed(p, spill); });
  dns_stage.reset();

  output.WriteTail();
  if (output.spool_failed) {
    spdlog::error(
        "a temporary file of the output (streamed reports, failure or SMTP TLS reports, or output "
        "waiting its turn) failed: {}",
        std::strerror(errno));
    return 2;
  }
  if (std::fflush(out.get()) != 0 || std::ferror(out.get())) {
    spdlog::error("{}: write failed: {}", options.output.empty() ? "<stdout>" : options.output,
                  std::strerror(errno));
    return 2;
  }
  if (!options.quiet) PrintSummary(inputs.files.size(), output);
  return output.rejected > 0 ? 1 : 0;
}

// ---- The command line of `parse`. ----

namespace {

struct ParseCli {
  ParseCommandOptions options;
  std::string format = "json";
  std::string type;  // CSV: aggregate unless given; JSON: every type unless given
  std::string keep = "headers";
  bool csv_raw = false;
};

ParseCli& ParseState() {
  static ParseCli state;
  return state;
}

}  // namespace

void AddParseOptions(CLI::App& cmd) {
  ParseCli& s = ParseState();
  ParseCommandOptions& parse = s.options;
  cmd.add_option("PATH", parse.paths, "Inputs; '-' reads standard input")->required();
  cmd.add_option("-f,--format", s.format, "Output format")
      ->check(CLI::IsMember({"json", "csv"}))
      ->capture_default_str();
  cmd.add_option("-o,--output", parse.output, "Write to FILE instead of standard output");
  cmd.add_option("-j,--jobs", parse.jobs, "Parallel workers (default: one per core)");
  cmd.add_option("--timespan-threshold-hours", parse.timespan_threshold_hours,
                 "Split reports spanning more than this many hours per UTC day")
      ->capture_default_str();
  cmd.add_flag("-q,--quiet", parse.quiet, "No summary line on standard error");
  cmd.add_flag("-v,--verbose", parse.verbose,
               "Log every report found and every repair made, on standard error");
  cmd.add_option("--type", s.type,
                 "The report type written (CSV: one table, default aggregate; JSON: only that "
                 "type's list filled, default all)")
      ->check(CLI::IsMember({"aggregate", "failure", "smtp_tls", "all"}));
  cmd.add_flag("--csv-raw", s.csv_raw, kCsvRawHelp);
  AddFailureSampleOption(cmd, s.keep);
  cmd.add_option("--output-memory-bytes", parse.output_memory_bytes,
                 "Formatted output held in memory while it waits for its turn (output keeps the "
                 "order of the inputs); beyond it, output waits in a temporary file")
      ->capture_default_str();
  AddLimitOptions(cmd, parse.limits, /*batches=*/false);
  AddEnrichOptions(cmd, parse.enrich, true);
}

int RunParseCommand() {
  ParseCli& s = ParseState();
  s.options.format = s.format == "csv" ? OutputFormat::kCsv : OutputFormat::kJson;
  sinks::SetCsvRaw(s.csv_raw);
  if (s.type == "all" && s.options.format == OutputFormat::kCsv) {
    spdlog::error("--type all needs --format json: CSV has one table per report type");
    return 2;
  }
  s.options.csv_type = s.type == "failure"    ? ReportType::kFailure
                       : s.type == "smtp_tls" ? ReportType::kSmtpTls
                                              : ReportType::kAggregate;
  if (s.options.format == OutputFormat::kJson && !s.type.empty() && s.type != "all") {
    s.options.json_type = s.options.csv_type;
  }
  s.options.keep_sample = *parse::ParseKeepSample(s.keep);
  return RunParse(s.options);
}

}  // namespace dmarc::app
