// The PostgreSQL ReportStore: one database shared by many collectors and dashboards. Writers in
// several processes and machines commit concurrently (unique keys, ON CONFLICT, retries of
// serialization failures and lost connections); record tables are partitioned by month.
// Schema and the reasons behind it: docs/store.md ("PostgreSQL").
#pragma once

#include <memory>
#include <string>

#include "store/dashboard.h"
#include "store/store.h"

namespace dmarc::store {

// True for a postgresql:// or postgres:// URL.
bool IsPostgresUrl(const std::string& url);

// The URL as it may be shown: without a password. An error (kInvalid) when the URL carries a
// password: it belongs in a password file (OpenOptions::password), never on a command line.
Result<std::string> PostgresLabel(const std::string& url);

Result<std::unique_ptr<ReportStore>> OpenPgStore(const std::string& url,
                                                 const OpenOptions& options);
Result<std::unique_ptr<DashboardQueries>> OpenPgDashboard(const std::string& url,
                                                          const OpenOptions& options);

}  // namespace dmarc::store
