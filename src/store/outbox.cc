// The outbox's default implementations: a back end without one says so.
#include "store/store.h"

namespace dmarc::store {

namespace {
Error NoOutbox(const ReportStore& st) {
  return MakeError(ErrorKind::kUnsupported, st.Describe() + ": has no outbox for outputs");
}
}  // namespace

Result<std::vector<OutboxEntry>> ReportStore::OutboxNext(const std::string&, std::size_t,
                                                         std::size_t) {
  return NoOutbox(*this);
}

Result<bool> ReportStore::OutboxSettle(const std::string&, const OutboxOutcome&) {
  return NoOutbox(*this);
}

Result<std::size_t> ReportStore::OutboxEnqueue(const std::string&, const Filter&,
                                               const OutboxKinds&) {
  return NoOutbox(*this);
}

Result<std::vector<OutboxState>> ReportStore::QueryOutbox() { return NoOutbox(*this); }

Result<std::size_t> ReportStore::OutboxClear(const std::string&) { return NoOutbox(*this); }

}  // namespace dmarc::store
