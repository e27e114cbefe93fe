// Internal to the SQLite DashboardQueries: aggregate records with their DKIM and SPF results and
// override reasons, as a list (Records) and as one report (Report).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/result.h"
#include "store/dashboard.h"
#include "store/sqlite/sqlite_db.h"

namespace dmarc::store::sqlite {

class RecordQueries {
 public:
  // db outlives this object.
  explicit RecordQueries(Database& db) : db_(db) {}

  // DashboardQueries::Records and Report (run inside the caller's read transaction).
  Result<Page<RecordRow>> Records(const DashboardFilter& filter, const ListPage& page);
  Result<ReportDetail> Report(std::int64_t id);

 private:
  Database& db_;
};

}  // namespace dmarc::store::sqlite
