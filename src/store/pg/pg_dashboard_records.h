// Internal to the PostgreSQL DashboardQueries: aggregate records with their DKIM and SPF results
// and override reasons (JSON arrays in the record's row), as a list (Records) and as one report
// (Report).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/result.h"
#include "store/dashboard.h"
#include "store/pg/pg_db.h"

namespace dmarc::store::pg {

class RecordQueries {
 public:
  // conn outlives this object.
  explicit RecordQueries(Connection& conn) : conn_(conn) {}

  // DashboardQueries::Records and Report (run inside the caller's snapshot).
  Result<Page<RecordRow>> Records(const DashboardFilter& filter, const ListPage& page);
  Result<ReportDetail> Report(std::int64_t id);

 private:
  Connection& conn_;
};

}  // namespace dmarc::store::pg
