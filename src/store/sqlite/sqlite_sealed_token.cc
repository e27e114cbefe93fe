// The SQLite store's sealed refresh tokens (store/sealed_token.h): the table sealed_tokens.
#include <string>

#include "store/sealed_token.h"
#include "store/sqlite/sqlite_store_impl.h"

namespace dmarc::store::sqlite_impl {

Result<bool> SqliteStore::SaveSealedToken(const SealedTokenRow& row) {
  if (auto ok = CheckSealedTokenRow(row); !ok) return ok;
  return InWriteTransaction([&]() -> Result<bool> {
    auto s = db_.Prepare(
        "INSERT INTO sealed_tokens (kind, identity, nonce, ciphertext, saved_by, saved_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (kind, identity) DO UPDATE SET"
        " nonce = excluded.nonce, ciphertext = excluded.ciphertext,"
        " saved_by = excluded.saved_by, saved_at = excluded.saved_at");
    if (!s) return MakeError(s.error());
    s->Bind(1, row.kind).Bind(2, row.identity).Bind(3, row.nonce).Bind(4, row.ciphertext);
    s->Bind(5, row.saved_by).Bind(6, row.saved_at);
    return s->Run();
  });
}

Result<std::optional<SealedTokenRow>> SqliteStore::SealedToken(const std::string& kind,
                                                               const std::string& identity) {
  auto s = db_.Prepare(
      "SELECT kind, identity, nonce, ciphertext, saved_by, saved_at FROM sealed_tokens"
      " WHERE kind = ?1 AND identity = ?2");
  if (!s) return MakeError(s.error());
  s->Bind(1, kind).Bind(2, identity);
  auto row = s->Step();
  if (!row) return MakeError(row.error());
  if (!*row) return std::optional<SealedTokenRow>();
  return std::optional<SealedTokenRow>(
      SealedTokenRow{s->Text(0), s->Text(1), s->Text(2), s->Text(3), s->Text(4), s->Int(5)});
}

}  // namespace dmarc::store::sqlite_impl
