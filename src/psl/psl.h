// Registrable ("base") domains from the Public Suffix List, via libpsl and Debian's
// publicsuffix data (falling back to libpsl's built-in list).
//
// Thread-safety: the list is loaded once and read-only afterwards.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace dmarc::psl {

// The registrable domain of a host name, lower-cased ("mail.google.com" → "google.com"), or
// nullopt when the name is itself a public suffix, has no dot, or is not a domain name.
std::optional<std::string> RegistrableDomain(std::string_view name);

}  // namespace dmarc::psl
