// dmarc-bench-corpus: writes a deterministic corpus of realistic aggregate reports for the
// benchmarks. Same arguments, same bytes.
//
//   dmarc-bench-corpus --out DIR [--reports N] [--target-bytes B] [--seed S] [--ip-pool N]
//
// Reports look like those of large receivers: 1–2,000 records (most reports small, a few
// large), sources drawn from a pool of sender IPs with a skewed (Zipf-like) distribution as in
// real traffic, IPv4 and IPv6, 0–2 DKIM results and one SPF result per record. Containers: a
// third plain XML, a third gzip, a sixth zip, a sixth report mails with a base64 gzip part.
// With --target-bytes it writes reports until that much XML has been written (e.g. 1 GB).
#include <fmt/format.h>
#include <zlib.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "testing/compress.h"

namespace {

// A one-entry zip archive (stored with deflate), written by hand: local header, data, central
// directory, end record.
std::string Zip(const std::string& name, const std::string& data) {
  z_stream zs{};
  deflateInit2(&zs, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string deflated(deflateBound(&zs, data.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(deflated.data());
  zs.avail_out = static_cast<uInt>(deflated.size());
  deflate(&zs, Z_FINISH);
  deflated.resize(zs.total_out);
  deflateEnd(&zs);
  const auto crc = static_cast<std::uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
  std::string out;
  auto u16 = [&](std::uint32_t v) {
    out += static_cast<char>(v & 0xFF);
    out += static_cast<char>((v >> 8) & 0xFF);
  };
  auto u32 = [&](std::uint32_t v) {
    u16(v & 0xFFFF);
    u16(v >> 16);
  };
  auto sizes = [&] {
    u32(crc);
    u32(static_cast<std::uint32_t>(deflated.size()));
    u32(static_cast<std::uint32_t>(data.size()));
    u16(static_cast<std::uint32_t>(name.size()));
    u16(0);
  };
  u32(0x04034b50);
  u16(20);
  u16(0);
  u16(8);
  u16(0);
  u16(0x5821);
  sizes();
  out += name;
  out += deflated;
  const auto central = static_cast<std::uint32_t>(out.size());
  u32(0x02014b50);
  u16(20);
  u16(20);
  u16(0);
  u16(8);
  u16(0);
  u16(0x5821);
  sizes();
  u16(0);
  u16(0);
  u16(0);
  u32(0);
  u32(0);
  out += name;
  const auto central_size = static_cast<std::uint32_t>(out.size()) - central;
  u32(0x06054b50);
  u16(0);
  u16(0);
  u16(1);
  u16(1);
  u32(central_size);
  u32(central);
  u16(0);
  return out;
}

std::string Base64(const std::string& in) {
  static constexpr char kTable[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t line = 0;
  for (std::size_t i = 0; i < in.size(); i += 3) {
    std::uint32_t v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    if (i + 2 < in.size()) v |= static_cast<unsigned char>(in[i + 2]);
    out += kTable[(v >> 18) & 63];
    out += kTable[(v >> 12) & 63];
    out += i + 1 < in.size() ? kTable[(v >> 6) & 63] : '=';
    out += i + 2 < in.size() ? kTable[v & 63] : '=';
    if ((line += 4) >= 76) {
      out += "\r\n";
      line = 0;
    }
  }
  return out + "\r\n";
}

struct Generator {
  std::mt19937_64 rng;
  std::vector<std::string> pool;
  std::discrete_distribution<std::size_t> pick_ip;

  Generator(std::uint64_t seed, std::size_t pool_size) : rng(seed) {
    std::vector<double> weights;
    for (std::size_t i = 0; i < pool_size; ++i) {
      if (i % 10 == 9) {
        pool.push_back(fmt::format("2001:db8:{:x}:{:x}::{:x}", rng() % 65536, rng() % 65536,
                                   rng() % 65536 + 1));
      } else {
        pool.push_back(
            fmt::format("{}.{}.{}.{}", rng() % 223 + 1, rng() % 256, rng() % 256, rng() % 254 + 1));
      }
      weights.push_back(1.0 / std::pow(static_cast<double>(i + 1), 0.8));
    }
    pick_ip = std::discrete_distribution<std::size_t>(weights.begin(), weights.end());
  }

  std::size_t Uniform(std::size_t n) { return static_cast<std::size_t>(rng() % n); }

  std::size_t RecordCount() {
    // Most reports are small; one in ten is large.
    static constexpr std::size_t kSmall[] = {1, 1, 2, 3, 5, 8, 13, 20, 40, 80};
    return Uniform(10) == 0 ? 100 + Uniform(1901) : kSmall[Uniform(10)];
  }

  std::string Report(std::size_t index) {
    static constexpr const char* kOrgs[] = {"google.com", "Outlook.com",  "Yahoo",
                                            "Mimecast",   "fastmail.com", "mail.ru"};
    static constexpr const char* kDisp[] = {"none", "none", "none", "quarantine", "reject"};
    static constexpr const char* kRes[] = {"pass", "pass", "pass", "fail"};
    const std::int64_t begin = 1700000000 + static_cast<std::int64_t>(index % 365) * 86400;
    const std::string domain = fmt::format("example{}.com", index % 7 + 1);
    std::string xml = fmt::format(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<feedback>\n  <version>1.0</version>\n"
        "  <report_metadata>\n    <org_name>{}</org_name>\n"
        "    <email>noreply-dmarc@{}.example</email>\n"
        "    <report_id>{:016x}{:08}</report_id>\n    <date_range>\n"
        "      <begin>{}</begin>\n      <end>{}</end>\n    </date_range>\n"
        "  </report_metadata>\n  <policy_published>\n    <domain>{}</domain>\n"
        "    <adkim>r</adkim>\n    <aspf>r</aspf>\n    <p>quarantine</p>\n    <sp>none</sp>\n"
        "    <pct>100</pct>\n    <fo>1</fo>\n  </policy_published>\n",
        kOrgs[index % 6], index % 6, rng(), index, begin, begin + 86399, domain);
    const std::size_t n = RecordCount();
    for (std::size_t k = 0; k < n; ++k) {
      const char* dkim = kRes[Uniform(4)];
      const char* spf = kRes[Uniform(4)];
      xml += fmt::format(
          "  <record>\n    <row>\n      <source_ip>{}</source_ip>\n      <count>{}</count>\n"
          "      <policy_evaluated>\n        <disposition>{}</disposition>\n"
          "        <dkim>{}</dkim>\n        <spf>{}</spf>\n      </policy_evaluated>\n"
          "    </row>\n    <identifiers>\n      <header_from>{}</header_from>\n"
          "      <envelope_from>bounce.{}</envelope_from>\n    </identifiers>\n"
          "    <auth_results>\n",
          pool[pick_ip(rng)], 1 + Uniform(Uniform(10) == 0 ? 5000 : 20), kDisp[Uniform(5)], dkim,
          spf, domain, domain);
      const std::size_t dkims = Uniform(3);
      for (std::size_t d = 0; d < dkims; ++d) {
        xml += fmt::format(
            "      <dkim>\n        <domain>{}</domain>\n        <selector>s{}</selector>\n"
            "        <result>{}</result>\n      </dkim>\n",
            d == 0 ? domain : "esp.example.net", Uniform(4), d == 0 ? dkim : "pass");
      }
      xml += fmt::format(
          "      <spf>\n        <domain>bounce.{}</domain>\n        <scope>mfrom</scope>\n"
          "        <result>{}</result>\n      </spf>\n    </auth_results>\n  </record>\n",
          domain, spf);
    }
    return xml + "</feedback>\n";
  }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Writes a deterministic corpus of DMARC aggregate reports for benchmarks"};
  std::string out;
  std::size_t reports = 1000, pool = 20000;
  std::uint64_t target = 0, seed = 42;
  app.add_option("--out", out, "Output folder")->required();
  app.add_option("--reports", reports, "Number of reports (ignored with --target-bytes)");
  app.add_option("--target-bytes", target, "Write reports until this much XML is written");
  app.add_option("--seed", seed, "Random seed");
  app.add_option("--ip-pool", pool, "Distinct sender IPs to draw from");
  CLI11_PARSE(app, argc, argv);

  std::filesystem::create_directories(out);
  Generator gen(seed, pool);
  std::uint64_t xml_bytes = 0, file_bytes = 0, records = 0;
  std::size_t i = 0;
  for (; target ? xml_bytes < target : i < reports; ++i) {
    std::string xml = gen.Report(i);
    xml_bytes += xml.size();
    for (std::size_t pos = 0; (pos = xml.find("<record>", pos)) != std::string::npos; ++pos) {
      ++records;
    }
    std::string name = fmt::format("{}/report-{:06}", out, i), data;
    switch (i % 6) {
      case 0:
      case 1:
        name += ".xml";
        data = std::move(xml);
        break;
      case 2:
      case 3:
        name += ".xml.gz";
        data = dmarc::testing::GzipOf(xml);
        break;
      case 4:
        name += ".zip";
        data = Zip(fmt::format("report-{:06}.xml", i), xml);
        break;
      default:
        name += ".eml";
        data = fmt::format(
            "From: noreply-dmarc@reporter.example\r\nTo: dmarc@example.com\r\n"
            "Subject: Report Domain: example.com Submitter: reporter.example Report-ID: {}\r\n"
            "Date: Tue, 14 Nov 2023 00:00:00 +0000\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=\"b{}\"\r\n\r\n--b{}\r\n"
            "Content-Type: text/plain\r\n\r\nThis is an aggregate report.\r\n--b{}\r\n"
            "Content-Type: application/gzip; name=\"report-{}.xml.gz\"\r\n"
            "Content-Transfer-Encoding: base64\r\n"
            "Content-Disposition: attachment; filename=\"report-{}.xml.gz\"\r\n\r\n{}--b{}--\r\n",
            i, i, i, i, i, i, Base64(dmarc::testing::GzipOf(xml)), i);
    }
    file_bytes += data.size();
    std::ofstream(name, std::ios::binary) << data;
  }
  fmt::print("{} files, {} reports, {} records, {:.1f} MB of XML ({:.1f} MB on disk)\n", i, i,
             records, static_cast<double>(xml_bytes) / 1e6, static_cast<double>(file_bytes) / 1e6);
  return 0;
}
