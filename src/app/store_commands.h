// `dmarc-report import`, `stats` and `export`: the commands that use a ReportStore (each in its
// own <name>_command.cc), and what the query commands share (store_commands.cc).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "app/parse_command.h"
#include "app/store_target.h"
#include "base/limits.h"
#include "enrich/enrich.h"
#include "store/forwarders.h"
#include "store/store.h"

namespace dmarc::app {

struct FilterOptions {
  std::string domain;
  std::string from;  // YYYY-MM-DD
  std::string to;    // YYYY-MM-DD
};

struct ImportCommandOptions {
  StoreArgs store;
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
  StoreArgs store;
  FilterOptions filter;
  bool json = false;
};

struct ExportCommandOptions {
  StoreArgs store;
  FilterOptions filter;
  OutputFormat format = OutputFormat::kJson;
  std::string type = "aggregate";
  std::string output;
  // --to NAME: queue the selected reports for the output [output.NAME] and deliver them
  // (`--to` with a date YYYY-MM-DD is the filter's last day; names start with a letter).
  std::string to_output;
  bool type_given = false;  // --type on the command line (--to NAME: all types otherwise)
};

// The filter and the store a query command (stats, export) works on.
struct QueryTarget {
  store::Filter filter;
  std::unique_ptr<store::ReportStore> store;
};

// Opens the store of `args` for reading (its read_url, if any) for the filter of `options`;
// prints why and returns nothing when either is unusable.
std::optional<QueryTarget> OpenForQuery(const StoreArgs& args, const FilterOptions& options);

int RunImport(const ImportCommandOptions& options);
int RunStats(const StatsCommandOptions& options);
int RunExport(const ExportCommandOptions& options);
// `export --to NAME` (outputs_command.cc).
int RunExportTo(const ExportCommandOptions& options);
// The bundled known forwarders and those of --forwarders-file; nullptr after saying why a file
// is unusable (exit status 2).
std::shared_ptr<const store::Forwarders> ForwardersOrSay(const std::vector<std::string>& files);
// The filter of the command line's --domain, --from and --to.
Result<store::Filter> ToFilter(const FilterOptions& f);

}  // namespace dmarc::app
