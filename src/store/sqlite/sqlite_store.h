// The SQLite ReportStore: one file, WAL journal, durable on commit (synchronous=FULL), writers
// in several processes serialised by BEGIN IMMEDIATE and a busy timeout. Schema and the
// reasons behind it: docs/store.md.
#pragma once

#include <memory>
#include <string>

#include "store/dashboard.h"
#include "store/store.h"

namespace dmarc::store {

Result<std::unique_ptr<ReportStore>> OpenSqliteStore(const std::string& path,
                                                     const OpenOptions& options);
// The dashboard's read-only connection to the SQLite store named by url.
Result<std::unique_ptr<DashboardQueries>> OpenSqliteDashboard(const std::string& url);

}  // namespace dmarc::store
