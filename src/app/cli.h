// The command line: the table of subcommands (main.cc), what each subcommand registers and runs,
// and the option groups several of them share. Each command's two functions live in its own
// <name>_command.cc (check-config in check_config_command.cc, hash-password in
// hash_password_command.cc) and keep their options in that file.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "base/limits.h"
#include "enrich/enrich.h"

namespace dmarc::app {

struct FilterOptions;

// One subcommand: add_options registers its options on the CLI11 subcommand (bound to state of
// the command's own file); run is called once the command line is parsed, and returns the exit
// status.
struct Command {
  const char* name;
  const char* description;
  void (*add_options)(CLI::App& cmd);
  int (*run)();
};

inline constexpr const char* kCsvRawHelp =
    "CSV cells as parsedmarc writes them: no leading ' before a cell starting with = + - @ "
    "(which a spreadsheet would run as a formula)";

// The "Limits" group: --max-report-bytes, --max-input-bytes, ...; with `batches` (import, fetch,
// run) also --max-batch-bytes.
void AddLimitOptions(CLI::App& cmd, Limits& limits, bool batches = true);
// --failure-sample headers|full|none into `keep`.
void AddFailureSampleOption(CLI::App& cmd, std::string& keep);
// The "Enrichment" group shared by parse, import and enrich (--no-enrich only for the first two);
// also takes $DMARC_REPORT_GEOIP_DB; see README "Source enrichment".
void AddEnrichOptions(CLI::App& cmd, enrich::Options& o, bool allow_disable);
// --domain, --from, --to.
void AddFilterOptions(CLI::App& cmd, FilterOptions& f);
// --forwarders-file FILE (repeatable): known forwarders read after the bundled list
// (store/forwarders.h), for the enforcement advisor (advise, serve, report).
void AddForwardersFileOption(CLI::App& cmd, std::vector<std::string>& files);

// The logger of a command run by hand (every command until fetch and run set up their [log]
// sinks): "LEVEL message" lines on standard error, warnings and worse unless verbose. Every
// diagnostic goes through it; a command's result and summary are its output, printed as they are.
void UseTerminalLogger(const char* name, bool verbose);

void AddParseOptions(CLI::App& cmd);
int RunParseCommand();
void AddImportOptions(CLI::App& cmd);
int RunImportCommand();
void AddEnrichCommandOptions(CLI::App& cmd);
int RunEnrichCommand();
void AddStatsOptions(CLI::App& cmd);
int RunStatsCommand();
void AddStatusOptions(CLI::App& cmd);
void AddSendersOptions(CLI::App& cmd);  // senders_command.cc
int RunSendersCommand();
void AddAdviseOptions(CLI::App& cmd);  // advise_command.cc
int RunAdviseCommand();
int RunStatusCommand();
void AddExportOptions(CLI::App& cmd);
int RunExportCommand();
void AddOutputsOptions(CLI::App& cmd);
int RunOutputsCommand();
void AddServeOptions(CLI::App& cmd);
int RunServeCommand();
void AddReportOptions(CLI::App& cmd);
int RunReportCommand();
void AddHashPasswordOptions(CLI::App& cmd);
int RunHashPasswordCommand();
void AddFetchOptions(CLI::App& cmd);
int RunFetchCommand();
void AddLoginOptions(CLI::App& cmd);  // login_command.cc
int RunLoginCommand();
void AddCheckConfigOptions(CLI::App& cmd);
int RunCheckConfigCommand();
void AddRunOptions(CLI::App& cmd);
int RunServiceCommand();
void AddVacuumOptions(CLI::App& cmd);
int RunVacuumCommand();
void AddMigrateOptions(CLI::App& cmd);
int RunMigrateCommand();

}  // namespace dmarc::app
