#include "enrich/geoip.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <maxminddb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace dmarc::enrich {

struct GeoIp::Db {
  MMDB_s mmdb{};
  ~Db() { MMDB_close(&mmdb); }
};

GeoIp::~GeoIp() = default;

Result<std::unique_ptr<GeoIp>> GeoIp::Open(const std::vector<std::string>& paths) {
  std::unique_ptr<GeoIp> g(new GeoIp());
  for (const auto& path : paths) {
    auto db = std::make_unique<Db>();
    const int rc = MMDB_open(path.c_str(), MMDB_MODE_MMAP, &db->mmdb);
    if (rc != MMDB_SUCCESS) {
      std::string why = MMDB_strerror(rc);
      if (rc == MMDB_IO_ERROR) why += fmt::format(" ({})", std::strerror(errno));
      return MakeError(fmt::format("{}: cannot open as a MaxMind DB file: {}", path, why));
    }
    g->dbs_.push_back(std::move(db));
    g->paths_.push_back(path);
  }
  return g;
}

namespace {

// A short printable string field, or nothing.
std::optional<std::string> StringAt(MMDB_entry_s* entry, const char* const* path) {
  MMDB_entry_data_s data{};
  if (MMDB_aget_value(entry, &data, path) != MMDB_SUCCESS || !data.has_data ||
      data.type != MMDB_DATA_TYPE_UTF8_STRING || data.data_size == 0 || data.data_size > 255) {
    return std::nullopt;
  }
  std::string s(data.utf8_string, data.data_size);
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20) return std::nullopt;
  }
  return s;
}

std::optional<std::int64_t> UintAt(MMDB_entry_s* entry, const char* const* path) {
  MMDB_entry_data_s data{};
  if (MMDB_aget_value(entry, &data, path) != MMDB_SUCCESS || !data.has_data) return std::nullopt;
  switch (data.type) {
    case MMDB_DATA_TYPE_UINT16:
      return data.uint16;
    case MMDB_DATA_TYPE_UINT32:
      return data.uint32;
    case MMDB_DATA_TYPE_UINT64:
      return data.uint64 > (1ull << 32) ? std::nullopt : std::optional<std::int64_t>(data.uint64);
    case MMDB_DATA_TYPE_INT32:
      return data.int32 < 0 ? std::nullopt : std::optional<std::int64_t>(data.int32);
    default:
      return std::nullopt;
  }
}

// "AS15169" or "15169" → 15169.
std::optional<std::int64_t> ParseAsn(const std::string& s) {
  std::string_view v = s;
  if (v.size() > 2 && (v[0] == 'A' || v[0] == 'a') && (v[1] == 'S' || v[1] == 's'))
    v.remove_prefix(2);
  if (v.empty() || v.size() > 10) return std::nullopt;
  std::int64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  return n;
}

}  // namespace

GeoInfo GeoIp::Lookup(const std::string& ip) const {
  GeoInfo info;
  static const char* const kCountryCode[] = {"country_code", nullptr};
  static const char* const kCountryIso[] = {"country", "iso_code", nullptr};
  static const char* const kAsNumber[] = {"autonomous_system_number", nullptr};
  static const char* const kAsOrg[] = {"autonomous_system_organization", nullptr};
  static const char* const kAsn[] = {"asn", nullptr};
  static const char* const kAsName[] = {"as_name", nullptr};
  static const char* const kAsDomain[] = {"as_domain", nullptr};
  // The address parsed once, as the DNS side does (inet_pton: dotted quads and IPv6 text only),
  // and looked up by its bytes: MMDB_lookup_string would parse it again with getaddrinfo for
  // each database, ~1,700 instructions an address.
  sockaddr_storage address{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
  if (inet_pton(AF_INET, ip.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
  } else if (inet_pton(AF_INET6, ip.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
  } else {
    return info;
  }
  for (const auto& db : dbs_) {
    int mmdb_error = 0;
    MMDB_lookup_result_s r =
        MMDB_lookup_sockaddr(&db->mmdb, reinterpret_cast<const sockaddr*>(&address), &mmdb_error);
    if (mmdb_error != MMDB_SUCCESS || !r.found_entry) continue;
    if (!info.country) {
      info.country = StringAt(&r.entry, kCountryCode);
      if (!info.country) info.country = StringAt(&r.entry, kCountryIso);
      if (info.country) {
        for (char& c : *info.country) c = static_cast<char>(std::toupper(c));
        if (info.country->size() != 2) info.country.reset();
      }
    }
    if (!info.asn) {
      info.asn = UintAt(&r.entry, kAsNumber);
      if (!info.asn) {
        if (auto s = StringAt(&r.entry, kAsn)) info.asn = ParseAsn(*s);
      }
      if (!info.asn) info.asn = UintAt(&r.entry, kAsn);
    }
    if (!info.as_name) {
      info.as_name = StringAt(&r.entry, kAsOrg);
      if (!info.as_name) info.as_name = StringAt(&r.entry, kAsName);
    }
    if (!info.as_domain) info.as_domain = StringAt(&r.entry, kAsDomain);
  }
  return info;
}

}  // namespace dmarc::enrich
