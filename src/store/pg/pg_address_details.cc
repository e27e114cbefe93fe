#include "store/pg/pg_address_details.h"

#include <array>
#include <optional>
#include <string_view>

namespace dmarc::store::pg {

Result<bool> AddressDetails::Load(Connection& conn, const std::string& version) {
  if (!version.empty() && version == version_) return true;
  addresses_.clear();
  ClearTexts();
  version_.clear();
  auto rows = conn.Query(
      "SELECT s.id, c.reverse_dns, c.base_domain, c.country, c.asn, c.as_name, c.name, c.type"
      " FROM source_ips s JOIN ip_info_cache c ON c.ip = s.ip");
  if (!rows) return std::move(rows).error_value();
  const Rows& d = *rows;
  addresses_.reserve(static_cast<std::size_t>(d.size()));
  // Columns of the fields, in Field order.
  static constexpr std::array<int, kFields> kColumns = {1, 2, 3, 5, 6, 7};
  for (int i = 0; i < d.size(); ++i) {
    Fill(addresses_[d.Int(i, 0)], d.OptInt(i, 4), [&](Field f) -> std::optional<std::string_view> {
      if (d.IsNull(i, kColumns[f])) return std::nullopt;
      return d.View(i, kColumns[f]);
    });
  }
  version_ = version;
  return true;
}

const AddressDetails::Address* AddressDetails::Of(std::int64_t id) const {
  auto it = addresses_.find(id);
  return it == addresses_.end() ? nullptr : &it->second;
}

}  // namespace dmarc::store::pg
