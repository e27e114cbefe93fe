// The PostgreSQL store's reads: stats, export (ForEach*), rejections.
#include "store/pg/pg_store_impl.h"

namespace dmarc::store::pg_impl {

Result<Stats> PgStore::QueryStats(const Filter&) {
  return MakeError(ErrorKind::kUnsupported, label_ + ": not written yet");
}
Result<std::size_t> PgStore::ForEachAggregate(
    const Filter&, const std::function<void(model::AggregateReport&&)>&) {
  return MakeError(ErrorKind::kUnsupported, label_ + ": not written yet");
}
Result<std::size_t> PgStore::ForEachFailure(const Filter&,
                                            const std::function<void(model::FailureReport&&)>&) {
  return MakeError(ErrorKind::kUnsupported, label_ + ": not written yet");
}
Result<std::size_t> PgStore::ForEachSmtpTls(const Filter&,
                                            const std::function<void(model::SmtpTlsReport&&)>&) {
  return MakeError(ErrorKind::kUnsupported, label_ + ": not written yet");
}
Result<std::vector<RejectedInput>> PgStore::Rejections() {
  return MakeError(ErrorKind::kUnsupported, label_ + ": not written yet");
}

}  // namespace dmarc::store::pg_impl
