// One reporter under the names it sends: reporters write their org_name as they like ("Google",
// "google.com", "GOOGLE Inc."), and the dashboard and stats count them as one. The key is stored
// beside each aggregate report (column reporter_key) and compared instead of the name.
#pragma once

#include <string>
#include <string_view>

namespace dmarc::store {

// Lower case, spaces collapsed, a trailing company form ("Inc.", "LLC", "Ltd", "GmbH", ...)
// dropped, and a domain name reduced to the label before its public suffix ("google.com",
// "mail.google.com" and "google.co.uk" → "google"). Never empty for a name with a letter or digit.
std::string ReporterKey(std::string_view org_name);

}  // namespace dmarc::store
