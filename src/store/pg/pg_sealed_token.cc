// The PostgreSQL store's sealed refresh tokens (store/sealed_token.h): the table sealed_tokens;
// the same answers as SQLite's.
#include <string>

#include "store/pg/pg_store_impl.h"
#include "store/sealed_token.h"

namespace dmarc::store::pg_impl {

Result<bool> PgStore::SaveSealedToken(const SealedTokenRow& row) {
  if (auto ok = CheckSealedTokenRow(row); !ok) return ok;
  Params p;
  p.Add(row.kind).Add(row.identity).Add(row.nonce).Add(row.ciphertext).Add(row.saved_by);
  p.Add(row.saved_at);
  return InTransaction<bool>([&]() -> Result<bool> {
    auto r = conn_.Query(
        "INSERT INTO sealed_tokens (kind, identity, nonce, ciphertext, saved_by, saved_at)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (kind, identity) DO UPDATE SET"
        " nonce = excluded.nonce, ciphertext = excluded.ciphertext,"
        " saved_by = excluded.saved_by, saved_at = excluded.saved_at",
        p);
    if (!r) return std::move(r).error_value();
    return true;
  });
}

Result<std::optional<SealedTokenRow>> PgStore::SealedToken(const std::string& kind,
                                                           const std::string& identity) {
  return InTransaction<std::optional<SealedTokenRow>>(
      [&]() -> Result<std::optional<SealedTokenRow>> {
        auto r = conn_.Query(
            "SELECT kind, identity, nonce, ciphertext, saved_by, saved_at FROM sealed_tokens"
            " WHERE kind = $1 AND identity = $2",
            Params().Add(kind).Add(identity));
        if (!r) return std::move(r).error_value();
        if (r->size() == 0) return std::optional<SealedTokenRow>();
        return std::optional<SealedTokenRow>(SealedTokenRow{r->Text(0, 0), r->Text(0, 1),
                                                            r->Text(0, 2), r->Text(0, 3),
                                                            r->Text(0, 4), r->Int(0, 5)});
      },
      true);
}

}  // namespace dmarc::store::pg_impl
