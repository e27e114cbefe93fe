// The PostgreSQL store's address cache and the enrichment of stored records.
#include "store/pg/pg_store_impl.h"

namespace dmarc::store::pg_impl {

Result<std::vector<IpInfoRow>> PgStore::GetIpInfo(const std::vector<std::string>&, std::int64_t) {
  return MakeError(ErrorKind::kUnsupported, label_ + ": not written yet");
}
Result<bool> PgStore::PutIpInfo(const std::vector<IpInfoRow>&) {
  return MakeError(ErrorKind::kUnsupported, label_ + ": not written yet");
}
Result<bool> PgStore::PutSourceInfo(const std::vector<model::Source>&) {
  return MakeError(ErrorKind::kUnsupported, label_ + ": not written yet");
}
Result<std::vector<std::string>> PgStore::SourceIpsToEnrich(std::int64_t) {
  return MakeError(ErrorKind::kUnsupported, label_ + ": not written yet");
}
Result<std::size_t> PgStore::UpdateSources(const std::vector<model::Source>&, std::int64_t,
                                           std::int64_t) {
  return MakeError(ErrorKind::kUnsupported, label_ + ": not written yet");
}

}  // namespace dmarc::store::pg_impl
