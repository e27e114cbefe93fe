// The PostgreSQL store's write path: Store (one transaction per batch, records by COPY into
// monthly partitions, rollups upserted in key order), AggregatesStored.
#include "store/pg/pg_store_impl.h"

namespace dmarc::store::pg_impl {

Result<BatchResult> PgStore::Store(const Batch& batch) {
  return InTransaction<BatchResult>([&] { return StoreOnce(batch); });
}

Result<BatchResult> PgStore::StoreOnce(const Batch&) {
  return MakeError(ErrorKind::kUnsupported, label_ + ": storing is not written yet");
}

Result<std::vector<bool>> PgStore::AggregatesStored(
    const std::vector<const model::AggregateReport*>&) {
  return MakeError(ErrorKind::kUnsupported, label_ + ": not written yet");
}

}  // namespace dmarc::store::pg_impl
