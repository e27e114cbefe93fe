// The PostgreSQL store's sender statuses (store/senders.h): the table sender_status; the same
// answers as SQLite's.
#include <string>

#include "store/pg/pg_store_impl.h"
#include "store/senders.h"

namespace dmarc::store::pg_impl {

Result<bool> PgStore::SetSenderStatus(const SenderStatusRow& row) {
  if (auto ok = CheckSenderStatusRow(row); !ok) return ok;
  Params p;
  p.Add(row.domain).Add(row.sender);
  std::string sql = "DELETE FROM sender_status WHERE domain = $1 AND sender = $2";
  if (row.status != "unknown") {
    p.Add(row.status).Add(row.changed_by).Add(row.changed_at);
    sql =
        "INSERT INTO sender_status (domain, sender, status, changed_by, changed_at)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (domain, sender) DO UPDATE SET"
        " status = excluded.status, changed_by = excluded.changed_by,"
        " changed_at = excluded.changed_at";
  }
  return InTransaction<bool>([&]() -> Result<bool> {
    auto r = conn_.Query(sql, p);
    if (!r) return std::move(r).error_value();
    return true;
  });
}

Result<std::vector<SenderStatusRow>> PgStore::SenderStatuses(const std::string& domain) {
  return InTransaction<std::vector<SenderStatusRow>>(
      [&]() -> Result<std::vector<SenderStatusRow>> {
        auto r = conn_.Query(
            "SELECT domain, sender, status, changed_by, changed_at FROM sender_status"
            " WHERE domain = $1 ORDER BY sender COLLATE \"C\"",
            Params().Add(domain));
        if (!r) return std::move(r).error_value();
        std::vector<SenderStatusRow> out;
        out.reserve(static_cast<std::size_t>(r->size()));
        for (int i = 0; i < r->size(); ++i) {
          out.push_back({r->Text(i, 0), r->Text(i, 1), r->Text(i, 2), r->Text(i, 3), r->Int(i, 4)});
        }
        return out;
      },
      true);
}

}  // namespace dmarc::store::pg_impl
