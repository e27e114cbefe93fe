// Commands for running dmarc-report as a service: `check-config` and `vacuum`.
#pragma once

#include <optional>
#include <string>

namespace dmarc::app {

// Loads FILE (with the DMARC_REPORT_* environment, as `fetch` and `run` do) and prints every
// problem, one per line naming the file, the key and what is expected; exit 0 when it is valid.
int RunCheckConfig(const std::string& file);

struct VacuumCommandOptions {
  std::string db;
  std::string config;                 // store.url and store.retention_days from here
  std::optional<int> retention_days;  // overrides the config; 0: purge nothing
  bool quiet = false;
};

// Purges reports older than the retention, then compacts the store.
int RunVacuum(const VacuumCommandOptions& options);

}  // namespace dmarc::app
