#include "store/sqlite/sqlite_address_details.h"

#include <algorithm>

#include "store/sqlite/sqlite_dashboard_sql.h"

namespace dmarc::store::sqlite {

// Two scans in address order, merged (no lookup per address).
Result<bool> AddressDetails::Load(Database& db) {
  auto pragma = db.Prepare("PRAGMA data_version");
  if (!pragma) return MakeError(pragma.error());
  std::int64_t version = -1;
  DMARC_TRY(Each(*pragma, [&](Statement& s) { version = s.Int(0); }));
  if (version == version_) return true;
  addresses_.clear();
  texts_.clear();
  version_ = -1;
  auto numbers = db.Prepare("SELECT ip, id FROM source_ips ORDER BY ip");
  if (!numbers) return MakeError(numbers.error());
  auto details = db.Prepare(
      "SELECT ip, reverse_dns, base_domain, country, asn, as_name, name, type"
      " FROM ip_info_cache ORDER BY ip");
  if (!details) return MakeError(details.error());
  bool more_details = false;
  DMARC_TRY_ASSIGN(more_details, details->Step());
  for (;;) {
    bool more = false;
    DMARC_TRY_ASSIGN(more, numbers->Step());
    if (!more) break;
    const std::string_view ip = numbers->View(0);
    while (more_details && details->View(0) < ip) {
      DMARC_TRY_ASSIGN(more_details, details->Step());
    }
    if (!more_details || details->View(0) != ip) continue;
    const Statement& d = *details;
    const auto id = static_cast<std::size_t>(std::max<std::int64_t>(numbers->Int(1), 0));
    if (id >= addresses_.size()) addresses_.resize(id + 1);
    Address& a = addresses_[id];
    a.known = true;
    a.has_asn = !d.IsNull(4);
    a.asn = d.Int(4);
    // Columns of the fields, in Field order.
    static constexpr std::array<int, kFields> kColumns = {1, 2, 3, 5, 6, 7};
    for (int f = 0; f < kFields; ++f) {
      if (d.IsNull(kColumns[f])) continue;
      const std::string_view text = d.View(kColumns[f]);
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
  if (id < 0 || static_cast<std::size_t>(id) >= addresses_.size()) return nullptr;
  const Address& a = addresses_[static_cast<std::size_t>(id)];
  return a.known ? &a : nullptr;
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

}  // namespace dmarc::store::sqlite
