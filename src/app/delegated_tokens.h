// The refresh tokens of delegated sign-ins ([graph] auth = "device_code", [imap]
// oauth2_device_url): where `login` stores
// them and where a fetch reads them back, sealed in the store (store/sealed_token.h) under the
// source's token_key_file. Each load and save opens a store connection of its own: a token is
// refreshed about once an hour, from whatever thread the source runs on.
#pragma once

#include <string>

#include "collect/source.h"
#include "config/config.h"

namespace dmarc::app {

// Whose token a source keeps: the row's kind and identity in the store.
struct TokenOwner {
  std::string kind;      // "graph", "imap"
  std::string identity;  // "TENANT CLIENT_ID MAILBOX"
};

TokenOwner GraphTokenOwner(const collect::GraphOptions& g);
// [imap] with oauth2_device_url: "imap", "TOKEN_URL CLIENT_ID USER@HOST".
TokenOwner ImapTokenOwner(const collect::ImapOptions& c);

// Loads and saves the token of `owner` in the store of `store`, sealed with the key of
// `key_file`. A missing row or key says to run `dmarc-report login`.
collect::RefreshTokenKeeper MakeTokenKeeper(const config::StoreConfig& store,
                                            const std::string& key_file, const TokenOwner& owner);

// Seals and stores a token (login: the key file is made when missing; a fetch: the key must be
// there). `saved_by` is who signed in, or "fetch" for a rotated token.
Status SaveRefreshToken(const config::StoreConfig& store, const std::string& key_file,
                        const TokenOwner& owner, const std::string& token,
                        const std::string& saved_by, bool create_key);

}  // namespace dmarc::app
