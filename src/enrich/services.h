// The sending service behind a base domain or an ASN, from services.tsv (built into the
// program; its header describes the format) and the user's files in the same format.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/result.h"

namespace dmarc::enrich {

struct Service {
  std::string name;
  std::string type;
};

class Services {
 public:
  // The built-in list only.
  static std::unique_ptr<Services> BuiltIn();
  // Adds (or overrides) entries from text in the services format; origin names it in errors,
  // which give the line number. At most 100,000 entries and 1 MiB per file.
  Result<bool> Add(std::string_view text, const std::string& origin);
  Result<bool> AddFile(const std::string& path);

  // By base domain first, then by ASN.
  const Service* Find(const std::optional<std::string>& base_domain,
                      const std::optional<std::int64_t>& asn) const;
  std::size_t size() const { return by_domain_.size() + by_asn_.size(); }

 private:
  std::unordered_map<std::string, Service> by_domain_;
  std::unordered_map<std::int64_t, Service> by_asn_;
};

// The text of the built-in services.tsv.
std::string_view BuiltInServicesText();

}  // namespace dmarc::enrich
