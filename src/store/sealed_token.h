// Refresh tokens of delegated sign-ins, kept in the store encrypted at rest (docs/security.md):
// AES-256-GCM under a 32-byte key read from a key file that only its owner may read, a random
// 96-bit nonce per sealing, and the row's (kind, identity) as associated data, so that a
// ciphertext copied into another row does not open. The store holds the nonce and ciphertext
// (store.h: SealedTokenRow); the key never enters it. Errors name the key file, never a token.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "base/result.h"
#include "store/store.h"

namespace dmarc::store {

// A row's kind, identity and token are at most this long (a refresh token is a few KiB).
inline constexpr std::size_t kMaxSealedTokenBytes = 16 * 1024;

using TokenKey = std::array<unsigned char, 32>;

// The key of `path`: 64 hex digits (a line end may follow), as `openssl rand -hex 32` writes. A
// file that its group or others may read is refused. With `create`, a missing file is made with
// mode 0600 and a new random key.
Result<TokenKey> ReadTokenKey(const std::string& path, bool create);

// The row that keeps `token` for (kind, identity), sealed under `key`.
Result<SealedTokenRow> SealToken(const TokenKey& key, const std::string& kind,
                                 const std::string& identity, const std::string& token,
                                 const std::string& saved_by, std::int64_t saved_at);

// The token of a row. A wrong key, a changed ciphertext or a row moved to another identity all
// give the same error (kAuth), naming `key_file`.
Result<std::string> OpenSealedToken(const TokenKey& key, const std::string& key_file,
                                    const SealedTokenRow& row);

// Checks a row before a back end stores it (kInvalid).
Result<bool> CheckSealedTokenRow(const SealedTokenRow& row);

}  // namespace dmarc::store
