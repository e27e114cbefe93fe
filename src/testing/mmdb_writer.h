// Test helper: writes a small IPv4 MaxMind DB file (format 2.0, 24-bit records) mapping
// prefixes to maps of strings and unsigned integers, following the published specification
// (https://maxmind.github.io/MaxMind-DB/). For tests of ASN and other fields that the bundled
// country database does not have; the product only reads such files (libmaxminddb).
#pragma once

#include <arpa/inet.h>

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace dmarc::testing {

// A value: a string, an unsigned integer, or a map of strings (e.g. country → iso_code).
using MmdbStringMap = std::vector<std::pair<std::string, std::string>>;
using MmdbValue = std::variant<std::string, std::uint32_t, MmdbStringMap>;

struct MmdbEntry {
  std::string network;  // IPv4 address of the prefix
  int prefix_len = 24;
  std::vector<std::pair<std::string, MmdbValue>> fields;
};

namespace mmdb_detail {

inline void Control(std::string& out, int type, std::size_t size) {
  const bool extended = type > 7;
  const int head = extended ? 0 : type;
  if (size < 29) {
    out += static_cast<char>((head << 5) | static_cast<int>(size));
  } else {  // strings of 29..284 bytes are all this helper needs
    out += static_cast<char>((head << 5) | 29);
  }
  if (extended) out += static_cast<char>(type - 7);
  if (size >= 29) out += static_cast<char>(size - 29);
}

inline void String(std::string& out, const std::string& s) {
  Control(out, 2, s.size());
  out += s;
}

inline void Uint(std::string& out, int type, std::uint64_t v, int max_bytes) {
  std::string bytes;
  for (int i = max_bytes - 1; i >= 0; --i) {
    const auto b = static_cast<char>((v >> (8 * i)) & 0xff);
    if (bytes.empty() && b == 0) continue;  // minimal big-endian
    bytes += b;
  }
  Control(out, type, bytes.size());
  out += bytes;
}

inline void Map(std::string& out, const std::vector<std::pair<std::string, MmdbValue>>& fields) {
  Control(out, 7, fields.size());
  for (const auto& [k, v] : fields) {
    String(out, k);
    if (const auto* s = std::get_if<std::string>(&v)) {
      String(out, *s);
    } else if (const auto* m = std::get_if<MmdbStringMap>(&v)) {
      Control(out, 7, m->size());
      for (const auto& [mk, mv] : *m) {
        String(out, mk);
        String(out, mv);
      }
    } else {
      Uint(out, 6, std::get<std::uint32_t>(v), 4);
    }
  }
}

}  // namespace mmdb_detail

inline std::string BuildMmdbV4(const std::vector<MmdbEntry>& entries,
                               const std::string& database_type) {
  using namespace mmdb_detail;
  constexpr std::uint32_t kEmpty = 0xffffffff;  // placeholder: "no data", fixed up below
  struct Node {
    std::uint32_t rec[2] = {kEmpty, kEmpty};
    bool data[2] = {false, false};  // rec is an offset into the data section
  };
  std::vector<Node> nodes(1);
  std::string data;
  for (const auto& e : entries) {
    in_addr a{};
    inet_pton(AF_INET, e.network.c_str(), &a);
    const std::uint32_t ip = ntohl(a.s_addr);
    const auto offset = static_cast<std::uint32_t>(data.size());
    Map(data, e.fields);
    std::uint32_t n = 0;
    for (int bit = 0; bit < e.prefix_len; ++bit) {
      const int side = (ip >> (31 - bit)) & 1;
      if (bit == e.prefix_len - 1) {
        nodes[n].rec[side] = offset;
        nodes[n].data[side] = true;
      } else {
        if (nodes[n].rec[side] == kEmpty) {
          nodes[n].rec[side] = static_cast<std::uint32_t>(nodes.size());
          nodes.emplace_back();
        }
        n = nodes[n].rec[side];
      }
    }
  }
  const auto count = static_cast<std::uint32_t>(nodes.size());
  std::string out;
  for (const auto& node : nodes) {
    for (int side = 0; side < 2; ++side) {
      std::uint32_t v = node.rec[side];
      if (v == kEmpty) {
        v = count;
      } else if (node.data[side]) {
        v = count + 16 + v;
      }
      out += static_cast<char>((v >> 16) & 0xff);
      out += static_cast<char>((v >> 8) & 0xff);
      out += static_cast<char>(v & 0xff);
    }
  }
  out += std::string(16, '\0');
  out += data;
  out += "\xAB\xCD\xEFMaxMind.com";
  std::string meta;
  Control(meta, 7, 9);
  String(meta, "node_count");
  Uint(meta, 6, count, 4);
  String(meta, "record_size");
  Uint(meta, 5, 24, 2);
  String(meta, "ip_version");
  Uint(meta, 5, 4, 2);
  String(meta, "database_type");
  String(meta, database_type);
  String(meta, "languages");
  Control(meta, 11, 0);
  String(meta, "binary_format_major_version");
  Uint(meta, 5, 2, 2);
  String(meta, "binary_format_minor_version");
  Uint(meta, 5, 0, 2);
  String(meta, "build_epoch");
  Uint(meta, 9, 1700000000, 8);
  String(meta, "description");
  Control(meta, 7, 0);
  return out + meta;
}

}  // namespace dmarc::testing
