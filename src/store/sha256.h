// SHA-256 of rejected inputs (libsodium), as lower-case hex.
#pragma once

#include <memory>
#include <string>
#include <string_view>

struct crypto_hash_sha256_state;  // libsodium

namespace dmarc::store {

std::string Sha256Hex(std::string_view data);

// The same digest of bytes handed over piece by piece (an item read or inflated as a stream).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  void Update(std::string_view data);
  std::string Hex();  // once, after the last Update

 private:
  std::unique_ptr<crypto_hash_sha256_state> state_;
};

}  // namespace dmarc::store
