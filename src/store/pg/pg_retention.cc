// The PostgreSQL store's retention: Purge (whole monthly partitions dropped where they can be),
// Compact, SizeOnDisk.
#include "store/pg/pg_store_impl.h"

namespace dmarc::store::pg_impl {

Result<PurgeResult> PgStore::Purge(std::int64_t) {
  return MakeError(ErrorKind::kUnsupported, label_ + ": not written yet");
}
Result<bool> PgStore::Compact() {
  return MakeError(ErrorKind::kUnsupported, label_ + ": not written yet");
}
std::uint64_t PgStore::SizeOnDisk() const { return 0; }

}  // namespace dmarc::store::pg_impl
