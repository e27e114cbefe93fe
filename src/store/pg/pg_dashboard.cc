// The PostgreSQL DashboardQueries: the same questions as the SQLite ones (dashboard.h), the same
// answers (the API golden tests run on both).
#include "store/pg/pg_store.h"
#include "store/pg/pg_store_impl.h"

namespace dmarc::store {

Result<std::unique_ptr<DashboardQueries>> OpenPgDashboard(const std::string& url,
                                                          const OpenOptions&) {
  return MakeError(ErrorKind::kUnsupported,
                   url + ": the dashboard on PostgreSQL is not written yet");
}

}  // namespace dmarc::store
