// `dmarc-report run`: the long-running service. Watches every configured source (the fetch loop
// with --watch), purges old data on a schedule, registers with Consul, and reacts to signals:
// SIGTERM/SIGINT finish the batch in flight and exit 0; SIGHUP re-reads the configuration
// (a configuration with errors is logged and the running one kept).
//
// With [web] enabled (the default) it also serves the dashboard, with /metrics and /healthz.
#pragma once

#include <string>

#include "base/limits.h"

namespace dmarc::app {

struct RunCommandOptions {
  std::string config;  // empty: the built-in default (kDefaultConfig) plus the environment
  Limits limits;
};

// Drop folder inbox/ (looked at every 5 s) → store data/dmarc-report.db.
extern const char* const kDefaultConfig;

int RunService(const RunCommandOptions& options);

}  // namespace dmarc::app
