// The SQLite store's sender statuses (store/senders.h): the table sender_status.
#include <string>

#include "store/senders.h"
#include "store/sqlite/sqlite_store_impl.h"

namespace dmarc::store::sqlite_impl {

Result<bool> SqliteStore::SetSenderStatus(const SenderStatusRow& row) {
  if (auto ok = CheckSenderStatusRow(row); !ok) return ok;
  return InWriteTransaction([&]() -> Result<bool> {
    if (row.status == "unknown") {
      auto s = db_.Prepare("DELETE FROM sender_status WHERE domain = ?1 AND sender = ?2");
      if (!s) return MakeError(s.error());
      s->Bind(1, row.domain).Bind(2, row.sender);
      return s->Run();
    }
    auto s = db_.Prepare(
        "INSERT INTO sender_status (domain, sender, status, changed_by, changed_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (domain, sender) DO UPDATE SET"
        " status = excluded.status, changed_by = excluded.changed_by,"
        " changed_at = excluded.changed_at");
    if (!s) return MakeError(s.error());
    s->Bind(1, row.domain).Bind(2, row.sender).Bind(3, row.status).Bind(4, row.changed_by);
    s->Bind(5, row.changed_at);
    return s->Run();
  });
}

Result<std::vector<SenderStatusRow>> SqliteStore::SenderStatuses(const std::string& domain) {
  auto s = db_.Prepare(
      "SELECT domain, sender, status, changed_by, changed_at FROM sender_status"
      " WHERE domain = ?1 ORDER BY sender");
  if (!s) return MakeError(s.error());
  s->Bind(1, domain);
  std::vector<SenderStatusRow> out;
  for (;;) {
    auto row = s->Step();
    if (!row) return MakeError(row.error());
    if (!*row) break;
    out.push_back({s->Text(0), s->Text(1), s->Text(2), s->Text(3), s->Int(4)});
  }
  return out;
}

}  // namespace dmarc::store::sqlite_impl
