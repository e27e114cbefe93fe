// `dmarc-report fetch`: drains the configured mail sources into the store, filing each mail only
// after its reports are committed; with --watch, keeps doing so as mail arrives.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/limits.h"
#include "collect/source.h"
#include "config/config.h"

namespace dmarc::app {

struct FetchCommandOptions {
  std::string config;  // TOML file; empty: the environment only
  bool watch = false;
  bool quiet = false;
  bool progress = true;
  bool signal_handlers = true;  // SIGINT/SIGTERM set FetchStopFlag(); `run` installs its own
  Limits limits;
};

int RunFetch(const FetchCommandOptions& options);

// The part of RunFetch after the configuration is loaded and logging set up (for `run`, which
// calls it again after a reload). Installs SIGINT/SIGTERM handlers that set FetchStopFlag();
// returns once the flag is set (with options.watch) after finishing the batch in flight.
int RunFetchLoop(const config::Config& config, const FetchCommandOptions& options);
std::atomic<bool>& FetchStopFlag();
// For a handler of SIGINT/SIGTERM (run on the signal thread, base/signals.h; async-signal-safe all
// the same): the first signal says "stopping" on standard error, a second one (already_stopping)
// exits at once with status 128 + sig.
void SayStoppingOrExit(int sig, bool already_stopping);

// The Maildir source of the [smtp] receiver's spool (its folders made when missing).
std::unique_ptr<collect::Source> MakeSmtpSpoolSource(const config::Config& c,
                                                     std::size_t max_mail_bytes);

// The configured mail sources, in the order fetch drains them (none connected yet).
std::vector<std::unique_ptr<collect::Source>> MakeSources(const config::Config& c,
                                                          const Limits& limits);

// Loads the configuration at path (empty: default_text when given, else the environment only)
// and installs its logging; prints every problem on stderr and returns nullopt on failure.
std::optional<config::Config> LoadConfigAndLogging(const std::string& path,
                                                   const char* default_text);

}  // namespace dmarc::app
