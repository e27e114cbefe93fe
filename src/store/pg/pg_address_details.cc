#include "store/pg/pg_address_details.h"

namespace dmarc::store::pg {

Result<bool> AddressDetails::Load(Connection& conn, const std::string& version) {
  if (!version.empty() && version == version_) return true;
  addresses_.clear();
  texts_.clear();
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
    Address& a = addresses_[d.Int(i, 0)];
    a.has_asn = !d.IsNull(i, 4);
    a.asn = d.Int(i, 4);
    for (int f = 0; f < kFields; ++f) {
      if (d.IsNull(i, kColumns[f])) continue;
      const std::string_view text = d.View(i, kColumns[f]);
      a.present |= static_cast<std::uint8_t>(1u << f);
      a.at[f] = texts_.size();
      a.size[f] = static_cast<std::uint32_t>(text.size());
      texts_.append(text);
    }
  }
  version_ = version;
  return true;
}

const AddressDetails::Address* AddressDetails::Of(std::int64_t id) const {
  auto it = addresses_.find(id);
  return it == addresses_.end() ? nullptr : &it->second;
}

std::optional<std::string_view> AddressDetails::TextOf(const Address* a, Field f) const {
  if (!a || !(a->present & (1u << f))) return std::nullopt;
  return std::string_view(texts_).substr(a->at[f], a->size[f]);
}

std::optional<std::string> AddressDetails::GroupValue(const Address* a,
                                                      std::string_view group) const {
  if (!a) return std::nullopt;
  if (group == "asn") return a->has_asn ? std::optional(std::to_string(a->asn)) : std::nullopt;
  auto text = TextOf(a, group == "ptr"           ? kReverseDns
                        : group == "base_domain" ? kBaseDomain
                        : group == "country"     ? kCountry
                                                 : kName);
  return text ? std::optional<std::string>(*text) : std::nullopt;
}

SourceDetails AddressDetails::Describe(const Address* a) const {
  auto text = [&](Field f) -> std::optional<std::string> {
    auto t = TextOf(a, f);
    return t ? std::optional<std::string>(*t) : std::nullopt;
  };
  SourceDetails d;
  d.reverse_dns = text(kReverseDns);
  d.base_domain = text(kBaseDomain);
  d.country = text(kCountry);
  if (a && a->has_asn) d.asn = a->asn;
  d.as_name = text(kAsName);
  d.name = text(kName);
  d.type = text(kType);
  return d;
}

}  // namespace dmarc::store::pg
