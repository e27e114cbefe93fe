// `dmarc-report fetch`: drains the configured mail sources into the store, filing each mail only
// after its reports are committed; with --watch, keeps doing so as mail arrives.
#pragma once

#include <string>

#include "base/limits.h"

namespace dmarc::app {

struct FetchCommandOptions {
  std::string config;  // TOML file; empty: the environment only
  bool watch = false;
  bool quiet = false;
  bool progress = true;
  Limits limits;
};

int RunFetch(const FetchCommandOptions& options);

}  // namespace dmarc::app
