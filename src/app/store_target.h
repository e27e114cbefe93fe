// Where a command's store is and how it is opened: the one place that turns --db, --read-db,
// --config and the DMARC_REPORT_STORE_* variables ([store] of config/config.h) into store URLs
// and store::OpenOptions (with the password of [store] password_file). Every command that opens
// a store goes through here.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "base/result.h"
#include "config/config.h"
#include "store/store.h"

namespace dmarc::app {

// The command-line side: what AddStoreOptions registers.
struct StoreArgs {
  std::string db;       // --db: the store URL; replaces [store] url and read_url
  std::string read_db;  // --read-db: where reads go (a hot standby of --db)
  std::string config;   // -c/--config: a configuration whose [store] table is used
};

// A store to open: writes go to url, reads to ReadUrl().
struct StoreTarget {
  std::string url;
  std::string read_url;  // empty: url
  int retention_days = 0;
  store::OpenOptions options;  // with the password, if any

  const std::string& ReadUrl() const { return read_url.empty() ? url : read_url; }
  // Opens url for writing (creating or migrating the store).
  Result<std::unique_ptr<store::ReportStore>> Open() const;
  // Opens ReadUrl() for reading: read-only (schema checked, never migrated) when it is not url.
  Result<std::unique_ptr<store::ReportStore>> OpenForReading() const;
  store::OpenOptions ReadOptions() const;
};

// The options a store of [store] is opened with (its password); every opener uses these.
store::OpenOptions StoreOpenOptions(const config::StoreConfig& c);
// The target of a loaded configuration's [store] table (fetch, run).
StoreTarget TargetOf(const config::StoreConfig& c);

// --db when given (with --read-db), else [store] of --config (without --db and --config: of
// config::DefaultConfigPath, $DMARC_REPORT_CONFIG or /etc/dmarc-report/dmarc-report.toml) with
// the DMARC_REPORT_STORE_* variables over it; the password from [store] password_file or
// DMARC_REPORT_STORE_PASSWORD_FILE. An error when none names a store. A password read is kept out
// of every log line.
Result<StoreTarget> ResolveStore(const StoreArgs& args);

// kImport: kWrite with a SQLite page cache of 32 MiB instead of 64: import writes far more than
// it reads back, and 32 MiB was as fast as 64 on a new store of 1.4 million records (32.5 s and
// 33.2 s) for 40 MB less resident memory (16 MiB: 9 % slower; docs/benchmarks.md).
// kUpdate: kWrite to a store that must exist already (enrich). kRead too refuses a store that does
// not exist instead of creating an empty one.
enum class Access { kWrite, kRead, kImport, kUpdate };
// ResolveStore, then Open (kWrite, kImport, kUpdate) or OpenForReading (kRead); prints why on
// standard error and returns nullptr when either fails. The target is stored in *target when given.
std::unique_ptr<store::ReportStore> OpenStoreOrSay(const StoreArgs& args, Access access,
                                                   StoreTarget* target = nullptr);

// Registers --db, -c/--config and, with read_db, --read-db on cmd.
void AddStoreOptions(CLI::App& cmd, StoreArgs& args, bool read_db = false);

}  // namespace dmarc::app
