#include "app/delegated_tokens.h"

#include <fmt/format.h>

#include <ctime>

#include "app/store_target.h"
#include "store/sealed_token.h"
#include "store/store.h"

namespace dmarc::app {

namespace {

Result<std::unique_ptr<store::ReportStore>> OpenTokenStore(const config::StoreConfig& c) {
  return store::OpenStore(c.url, StoreOpenOptions(c));
}

Result<std::string> LoadRefreshToken(const config::StoreConfig& c, const std::string& key_file,
                                     const TokenOwner& owner) {
  auto key = store::ReadTokenKey(key_file, /*create=*/false);
  if (!key) {
    return MakeError(key.error_kind(), fmt::format("{}.{}{}", owner.kind, key.error(),
                                                   key.error_kind() == ErrorKind::kNotFound
                                                       ? " (run dmarc-report login first)"
                                                       : ""));
  }
  auto db = OpenTokenStore(c);
  if (!db) return MakeError(db.error());
  auto row = (*db)->SealedToken(owner.kind, owner.identity);
  if (!row) return MakeError(row.error());
  if (!*row) {
    return MakeError(ErrorKind::kNotFound,
                     fmt::format("[{}]: nobody signed in with a device code for {} yet; run "
                                 "dmarc-report login --source {}",
                                 owner.kind, owner.identity, owner.kind));
  }
  return store::OpenSealedToken(*key, key_file, **row);
}

}  // namespace

TokenOwner GraphTokenOwner(const collect::GraphOptions& g) {
  return {"graph", fmt::format("{} {} {}", g.tenant_id, g.client_id, g.mailbox)};
}

TokenOwner ImapTokenOwner(const collect::ImapOptions& c) {
  return {"imap", fmt::format("{} {} {}@{}", c.oauth2_token_url, c.client_id, c.user, c.host)};
}

Status SaveRefreshToken(const config::StoreConfig& c, const std::string& key_file,
                        const TokenOwner& owner, const std::string& token,
                        const std::string& saved_by, bool create_key) {
  auto key = store::ReadTokenKey(key_file, create_key);
  if (!key) return MakeError(key.error_kind(), owner.kind + "." + key.error());
  auto row = store::SealToken(*key, owner.kind, owner.identity, token, saved_by,
                              static_cast<std::int64_t>(std::time(nullptr)));
  if (!row) return MakeError(row.error());
  auto db = OpenTokenStore(c);
  if (!db) return MakeError(db.error());
  auto saved = (*db)->SaveSealedToken(*row);
  if (!saved) return MakeError(saved.error());
  return Ok();
}

collect::RefreshTokenKeeper MakeTokenKeeper(const config::StoreConfig& store,
                                            const std::string& key_file, const TokenOwner& owner) {
  return {[store, key_file, owner] { return LoadRefreshToken(store, key_file, owner); },
          [store, key_file, owner](const std::string& token) {
            return SaveRefreshToken(store, key_file, owner, token, "fetch", false);
          }};
}

}  // namespace dmarc::app
