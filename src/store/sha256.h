// SHA-256 of rejected inputs (libsodium), as lower-case hex.
#pragma once

#include <string>
#include <string_view>

namespace dmarc::store {

std::string Sha256Hex(std::string_view data);

}  // namespace dmarc::store
