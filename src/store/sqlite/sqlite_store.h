// The SQLite ReportStore: one file, WAL journal, durable on commit (synchronous=FULL), writers
// in several processes serialised by BEGIN IMMEDIATE and a busy timeout. Schema and the
// reasons behind it: docs/store.md.
#pragma once

#include <memory>
#include <string>

#include "store/store.h"

namespace dmarc::store {

Result<std::unique_ptr<ReportStore>> OpenSqliteStore(const std::string& path,
                                                     const OpenOptions& options);

}  // namespace dmarc::store
