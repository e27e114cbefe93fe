// `dmarc-report import`, `stats` and `export`: the commands that use a ReportStore.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "app/parse_command.h"
#include "base/limits.h"
#include "enrich/enrich.h"

namespace dmarc::app {

struct FilterOptions {
  std::string domain;
  std::string from;  // YYYY-MM-DD
  std::string to;    // YYYY-MM-DD
};

struct ImportCommandOptions {
  std::string db;
  std::vector<std::string> paths;
  unsigned jobs = 0;
  double timespan_threshold_hours = 24.0;
  bool quiet = false;
  bool progress = true;
  std::size_t batch_records = 50'000;                           // records per transaction
  parse::KeepSample keep_sample = parse::KeepSample::kHeaders;  // failure.keep_sample
  Limits limits;
  enrich::Options enrich;
};

struct StatsCommandOptions {
  std::string db;
  FilterOptions filter;
  bool json = false;
};

struct ExportCommandOptions {
  std::string db;
  FilterOptions filter;
  OutputFormat format = OutputFormat::kJson;
  std::string type = "aggregate";
  std::string output;
};

int RunImport(const ImportCommandOptions& options);
int RunStats(const StatsCommandOptions& options);
int RunExport(const ExportCommandOptions& options);

}  // namespace dmarc::app
