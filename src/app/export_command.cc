// `dmarc-report export`: the stored reports of one type (or all, in JSON), as JSON or CSV.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "app/cli.h"
#include "app/store_commands.h"
#include "sinks/csv_text.h"
#include "sinks/parsedmarc_format.h"
#include "sinks/report_json.h"
#include "store/store.h"

namespace dmarc::app {

int RunExport(const ExportCommandOptions& options) {
  if (options.type == "all" && options.format != OutputFormat::kJson) {
    spdlog::error("--type all needs --format json: CSV has one table per report type");
    return 2;
  }
  auto target = OpenForQuery(options.store, options.filter);
  if (!target) return 2;
  FILE* out = stdout;
  if (!options.output.empty() && options.output != "-") {
    out = std::fopen(options.output.c_str(), "wb");
    if (!out) {
      spdlog::error("{}: cannot open for writing: {}", options.output, std::strerror(errno));
      return 2;
    }
  }
  const bool json = options.format == OutputFormat::kJson;
  const bool all = options.type == "all";
  const bool aggregate = all || options.type == "aggregate";
  const bool failure = all || options.type == "failure", tls = all || options.type == "smtp_tls";
  // JSON: the document parse prints, the other types' arrays empty unless --type all.
  std::string text = json      ? sinks::JsonDocumentBegin()
                     : failure ? sinks::FailureCsvHeader()
                     : tls     ? sinks::SmtpTlsCsvHeader()
                               : sinks::AggregateCsvHeader();
  std::size_t n = 0;  // reports of the type being written
  auto flush = [&]() {
    ++n;
    if (text.size() > (1 << 20)) {
      std::fwrite(text.data(), 1, text.size(), out);
      text.clear();
    }
  };
  Result<std::size_t> r = std::size_t{0};
  if (aggregate) {
    r = target->store->ForEachAggregate(target->filter, [&](model::AggregateReport&& report) {
      if (json) {
        sinks::AppendAggregateJson(report, text, n > 0);
      } else {
        sinks::AppendAggregateCsvRows(report, text);
      }
      flush();
    });
  }
  if (json) text += sinks::JsonAggregatesEnd(n > 0) + sinks::JsonFailuresBegin();
  n = 0;
  if (failure && r) {
    r = target->store->ForEachFailure(target->filter, [&](model::FailureReport&& report) {
      if (json) {
        sinks::AppendFailureJson(report, text, n > 0);
      } else {
        sinks::AppendFailureCsvRow(report, text);
      }
      flush();
    });
  }
  if (json) text += sinks::JsonFailuresEnd(n > 0);
  n = 0;
  if (tls && r) {
    r = target->store->ForEachSmtpTls(target->filter, [&](model::SmtpTlsReport&& report) {
      if (json) {
        sinks::AppendSmtpTlsJson(report, text, n > 0);
      } else {
        sinks::AppendSmtpTlsCsvRows(report, text);
      }
      flush();
    });
  }
  if (json) text += sinks::JsonSmtpTlsEnd(n > 0);
  std::fwrite(text.data(), 1, text.size(), out);
  const bool write_failed = std::fflush(out) != 0 || std::ferror(out);
  if (out != stdout) std::fclose(out);
  if (!r) {
    spdlog::error("{}: {}", target->store->Describe(), r.error());
    return 2;
  }
  if (write_failed) {
    spdlog::error("write failed: {}", std::strerror(errno));
    return 2;
  }
  return 0;
}

// ---- The command line of `export`. ----

namespace {

struct ExportCli {
  ExportCommandOptions options;
  std::string format = "json";
  bool csv_raw = false;
  std::vector<std::string> to;  // --to: a last day (YYYY-MM-DD) and/or an output's name
  CLI::Option* type = nullptr;
};

bool IsDate(const std::string& s) {
  if (s.size() != 10) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i == 4 || i == 7 ? s[i] != '-' : !std::isdigit(static_cast<unsigned char>(s[i]))) {
      return false;
    }
  }
  return true;
}

// Sorts the --to values into the filter's last day and the output's name; false when one of
// them is given twice.
bool SortTo(ExportCli& s) {
  for (const auto& v : s.to) {
    std::string& into = IsDate(v) ? s.options.filter.to : s.options.to_output;
    if (!into.empty()) {
      spdlog::error("--to: give at most one last day (YYYY-MM-DD) and one output name");
      return false;
    }
    into = v;
  }
  return true;
}

ExportCli& ExportState() {
  static ExportCli state;
  return state;
}

}  // namespace

void AddExportOptions(CLI::App& cmd) {
  ExportCli& s = ExportState();
  AddStoreOptions(cmd, s.options.store);
  cmd.add_option("-f,--format", s.format, "Output format")
      ->check(CLI::IsMember({"json", "csv"}))
      ->capture_default_str();
  s.type = cmd.add_option("--type", s.options.type, "Report type (all: every type, JSON only)")
               ->check(CLI::IsMember({"aggregate", "failure", "smtp_tls", "all"}))
               ->capture_default_str();
  cmd.add_option("-o,--output", s.options.output, "Write to FILE instead of standard output");
  cmd.add_flag("--csv-raw", s.csv_raw, kCsvRawHelp);
  cmd.add_option("--domain", s.options.filter.domain, "Only this policy domain");
  cmd.add_option("--from", s.options.filter.from, "First day, YYYY-MM-DD (UTC)");
  cmd.add_option("--to", s.to,
                 "Last day, YYYY-MM-DD (UTC), included; or NAME: deliver the reports to the "
                 "output [output.NAME] of the configuration (every type unless --type); both "
                 "may be given")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

int RunExportCommand() {
  ExportCli& s = ExportState();
  if (!SortTo(s)) return 2;
  s.options.type_given = s.type && s.type->count() > 0;
  s.options.format = s.format == "csv" ? OutputFormat::kCsv : OutputFormat::kJson;
  sinks::SetCsvRaw(s.csv_raw);
  return s.options.to_output.empty() ? RunExport(s.options) : RunExportTo(s.options);
}

}  // namespace dmarc::app
