#include "store/sqlite/sqlite_address_details.h"

#include <algorithm>
#include <array>
#include <optional>
#include <string_view>

#include "store/sqlite/sqlite_dashboard_sql.h"

namespace dmarc::store::sqlite {

// Two scans in address order, merged (no lookup per address).
Result<bool> AddressDetails::Load(Database& db) {
  auto version = db.QueryInt("PRAGMA data_version");
  if (!version) return MakeError(version.error());
  if (*version == version_) return true;
  addresses_.clear();
  ClearTexts();
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
    // Columns of the fields, in Field order.
    static constexpr std::array<int, kFields> kColumns = {1, 2, 3, 5, 6, 7};
    Fill(addresses_[id], d.OptInt(4), [&](Field f) -> std::optional<std::string_view> {
      if (d.IsNull(kColumns[f])) return std::nullopt;
      return d.View(kColumns[f]);
    });
  }
  version_ = *version;
  return true;
}

const AddressDetails::Address* AddressDetails::Of(std::int64_t id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= addresses_.size()) return nullptr;
  const Address& a = addresses_[static_cast<std::size_t>(id)];
  return a.known ? &a : nullptr;
}

}  // namespace dmarc::store::sqlite
