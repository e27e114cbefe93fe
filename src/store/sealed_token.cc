#include "store/sealed_token.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace dmarc::store {

namespace {

constexpr std::size_t kNonceBytes = 12;
constexpr std::size_t kTagBytes = 16;
constexpr std::size_t kMaxKeyFileBytes = 4096;  // a key file is 65 bytes

std::string Hex(const unsigned char* p, std::size_t n) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    out += kDigits[p[i] >> 4];
    out += kDigits[p[i] & 15];
  }
  return out;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The bytes of a hex string; nullopt when it is not one.
std::optional<std::string> Unhex(const std::string& hex) {
  if (hex.size() % 2) return std::nullopt;
  std::string out(hex.size() / 2, '\0');
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int hi = HexDigit(hex[2 * i]), lo = HexDigit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<char>(hi * 16 + lo);
  }
  return out;
}

// What the tag covers besides the token: the row's place, so that a ciphertext moved to another
// row fails. The kind and identity are length-prefixed: no two rows share one.
std::string AssociatedData(const std::string& kind, const std::string& identity) {
  return fmt::format("dmarc-report sealed token v1\n{}:{}\n{}:{}", kind.size(), kind,
                     identity.size(), identity);
}

struct CipherFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using Cipher = std::unique_ptr<EVP_CIPHER_CTX, CipherFree>;

const unsigned char* Bytes(const std::string& s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

Result<TokenKey> CreateTokenKey(const std::string& path) {
  TokenKey key{};
  if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1) {
    return MakeError(fmt::format("token_key_file: {}: no random bytes for a new key", path));
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return MakeError(ErrorKind::kIo, fmt::format("token_key_file: cannot create {}: {}", path,
                                                 std::strerror(errno)));
  }
  const std::string text = Hex(key.data(), key.size()) + "\n";
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const bool closed = ::close(fd) == 0;
  if (!written || !closed) {
    ::unlink(path.c_str());
    return MakeError(ErrorKind::kIo, fmt::format("token_key_file: cannot write {}", path));
  }
  return key;
}

}  // namespace

Result<TokenKey> ReadTokenKey(const std::string& path, bool create) {
  if (path.empty()) return MakeError(ErrorKind::kInvalid, "token_key_file is not set");
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT && create) return CreateTokenKey(path);
  if (fd < 0) {
    return MakeError(errno == ENOENT ? ErrorKind::kNotFound : ErrorKind::kIo,
                     fmt::format("token_key_file: cannot read {}: {}", path, std::strerror(errno)));
  }
  struct stat st {};
  std::string text(kMaxKeyFileBytes, '\0');
  const bool stated = ::fstat(fd, &st) == 0;
  const ssize_t got = ::read(fd, text.data(), text.size());
  ::close(fd);
  if (!stated || got < 0) {
    return MakeError(ErrorKind::kIo, fmt::format("token_key_file: cannot read {}", path));
  }
  // The key opens every stored refresh token: a key others can read is as good as none.
  if (st.st_mode & (S_IRWXG | S_IRWXO)) {
    return MakeError(ErrorKind::kInvalid,
                     fmt::format("token_key_file: {} may be read by others (mode {:o}); chmod "
                                 "600 {}",
                                 path, st.st_mode & 0777, path));
  }
  text.resize(static_cast<std::size_t>(got));
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  const auto bytes = Unhex(text);
  TokenKey key{};
  if (!bytes || bytes->size() != key.size()) {
    return MakeError(ErrorKind::kInvalid,
                     fmt::format("token_key_file: {} does not hold 64 hex digits (make one with "
                                 "`openssl rand -hex 32`)",
                                 path));
  }
  std::memcpy(key.data(), bytes->data(), key.size());
  return key;
}

Result<SealedTokenRow> SealToken(const TokenKey& key, const std::string& kind,
                                 const std::string& identity, const std::string& token,
                                 const std::string& saved_by, std::int64_t saved_at) {
  if (token.empty() || token.size() > kMaxSealedTokenBytes) {
    return MakeError(ErrorKind::kInvalid, "a token to seal is empty or too long");
  }
  unsigned char nonce[kNonceBytes];
  if (RAND_bytes(nonce, sizeof nonce) != 1) return MakeError("sealing a token: no random bytes");
  const std::string aad = AssociatedData(kind, identity);
  std::string out(token.size() + kTagBytes, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  Cipher c(EVP_CIPHER_CTX_new());
  int n = 0, tail = 0;
  const bool ok =
      c && EVP_EncryptInit_ex(c.get(), EVP_aes_256_gcm(), nullptr, key.data(), nonce) == 1 &&
      EVP_EncryptUpdate(c.get(), nullptr, &n, Bytes(aad), static_cast<int>(aad.size())) == 1 &&
      EVP_EncryptUpdate(c.get(), o, &n, Bytes(token), static_cast<int>(token.size())) == 1 &&
      EVP_EncryptFinal_ex(c.get(), o + n, &tail) == 1 &&
      EVP_CIPHER_CTX_ctrl(c.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, o + token.size()) == 1;
  if (!ok) return MakeError("sealing a token: AES-256-GCM failed");
  return SealedTokenRow{kind,     identity, Hex(nonce, sizeof nonce), Hex(o, out.size()),
                        saved_by, saved_at};
}

Result<std::string> OpenSealedToken(const TokenKey& key, const std::string& key_file,
                                    const SealedTokenRow& row) {
  const auto nonce = Unhex(row.nonce);
  const auto sealed = Unhex(row.ciphertext);
  const auto refused = [&] {
    return MakeError(ErrorKind::kAuth,
                     fmt::format("the stored {} token of {} does not open with the key of "
                                 "token_key_file {} (another key, or a changed row); sign in "
                                 "again with dmarc-report login",
                                 row.kind, row.identity, key_file));
  };
  if (!nonce || nonce->size() != kNonceBytes || !sealed || sealed->size() <= kTagBytes) {
    return refused();
  }
  const std::size_t size = sealed->size() - kTagBytes;
  const std::string aad = AssociatedData(row.kind, row.identity);
  std::string token(size, '\0');
  std::string tag = sealed->substr(size);
  auto* t = reinterpret_cast<unsigned char*>(token.data());
  Cipher c(EVP_CIPHER_CTX_new());
  int n = 0, tail = 0;
  const bool ok =
      c &&
      EVP_DecryptInit_ex(c.get(), EVP_aes_256_gcm(), nullptr, key.data(), Bytes(*nonce)) == 1 &&
      EVP_DecryptUpdate(c.get(), nullptr, &n, Bytes(aad), static_cast<int>(aad.size())) == 1 &&
      EVP_DecryptUpdate(c.get(), t, &n, Bytes(*sealed), static_cast<int>(size)) == 1 &&
      EVP_CIPHER_CTX_ctrl(c.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag.data()) == 1 &&
      EVP_DecryptFinal_ex(c.get(), t + n, &tail) == 1;
  if (!ok) return refused();
  return token;
}

Result<bool> CheckSealedTokenRow(const SealedTokenRow& row) {
  if (row.kind.empty() || row.identity.empty() || row.nonce.empty() || row.ciphertext.empty()) {
    return MakeError(ErrorKind::kInvalid, "a sealed token row needs a kind, identity and token");
  }
  if (row.kind.size() + row.identity.size() + row.saved_by.size() > kMaxSealedTokenBytes ||
      row.ciphertext.size() > 2 * (kMaxSealedTokenBytes + kTagBytes)) {
    return MakeError(ErrorKind::kInvalid, "a sealed token row is too long");
  }
  return true;
}

Result<bool> ReportStore::SaveSealedToken(const SealedTokenRow&) {
  return MakeError(ErrorKind::kUnsupported, Describe() + ": keeps no tokens");
}

Result<std::optional<SealedTokenRow>> ReportStore::SealedToken(const std::string&,
                                                               const std::string&) {
  return MakeError(ErrorKind::kUnsupported, Describe() + ": keeps no tokens");
}

}  // namespace dmarc::store
