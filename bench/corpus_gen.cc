// dmarc-bench-corpus: writes a deterministic corpus of realistic aggregate reports for the
// benchmarks. Same arguments, same bytes (the PRNG is seeded; nothing comes from the clock).
//
//   dmarc-bench-corpus --out DIR [--reports N] [--target-bytes B] [--seed S] [--ip-pool N]
//                      [--mails] [--huge-bytes B (--huge-xml FILE | --huge-gz FILE)...]
//
// Reports look like those of large receivers (Google, Outlook, Yahoo, ...; small differences of
// their XML are kept): 1–2,000 records (most reports small, one in ten large), sources drawn
// from a pool of sender IPs with a skewed (Zipf-like) distribution as in real traffic, IPv4 and
// IPv6, 0–2 DKIM results and one SPF result per record. Containers: a third plain XML, a third
// gzip, a sixth zip (libzip), a sixth report mails with a base64 gzip or zip attachment.
// With --target-bytes it writes reports until that much XML has been written (e.g. 1 GB); with
// --mails every report is a report mail (the fetch benchmark delivers them to a Maildir).
// With --huge-bytes it also writes one report of B bytes of XML (e.g. 1 GB: ~1.4 million records,
// written a chunk at a time) as plain XML and/or gzip, to files of their own (bench/memory.sh).
// Prints one summary line: files, reports, records, bytes of decompressed XML.
#include <fmt/format.h>
#include <zlib.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "testing/base64.h"
#include "testing/compress.h"
#include "testing/zip_writer.h"

namespace {

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

  std::size_t last_records = 0;  // records of the last report

  static constexpr const char* kRes[] = {"pass", "pass", "pass", "fail"};

  // One report; the reporter (and with it small details of the XML, as real reporters differ)
  // rotates with the index.
  std::string Report(std::size_t index) {
    std::string xml = Head(index);
    const std::size_t n = RecordCount();
    last_records = n;
    for (std::size_t k = 0; k < n; ++k) xml += Record(index);
    return xml + Tail();
  }

  static std::string Domain(std::size_t index) {
    return fmt::format("example{}.com", index % 7 + 1);
  }
  static const char* Tail() { return "</feedback>\n"; }

  // The report up to its first record.
  std::string Head(std::size_t index) {
    static constexpr const char* kOrgs[] = {"google.com", "Outlook.com",  "Yahoo",
                                            "Mimecast",   "fastmail.com", "mail.ru"};
    static constexpr const char* kEmails[] = {
        "noreply-dmarc-support@google.com", "dmarcreport@microsoft.com",
        "dmarchelp@yahooinc.com",           "dmarc-reports@mimecast.org",
        "noreply-dmarc@fastmail.com",       "dmarc_support@corp.mail.ru"};
    const std::size_t reporter = index % 6;
    const std::int64_t begin = 1700000000 + static_cast<std::int64_t>(index % 365) * 86400;
    // Google and others: version 1.0 and extra_contact_info; Outlook: XML Schema namespaces on
    // <feedback> and <envelope_to>; Yahoo: no <version>.
    const char* head =
        reporter == 1
            ? "<?xml version=\"1.0\"?>\n<feedback xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" "
              "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\n  <version>1.0</version>\n"
        : reporter == 2 ? "<?xml version=\"1.0\"?>\n<feedback>\n"
                        : "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<feedback>\n"
                          "  <version>1.0</version>\n";
    return fmt::format(
        "{}  <report_metadata>\n    <org_name>{}</org_name>\n"
        "    <email>{}</email>\n{}"
        "    <report_id>{:016x}{:08}</report_id>\n    <date_range>\n"
        "      <begin>{}</begin>\n      <end>{}</end>\n    </date_range>\n"
        "  </report_metadata>\n  <policy_published>\n    <domain>{}</domain>\n"
        "    <adkim>r</adkim>\n    <aspf>r</aspf>\n    <p>quarantine</p>\n    <sp>none</sp>\n"
        "    <pct>100</pct>\n    <fo>{}</fo>\n  </policy_published>\n",
        head, kOrgs[reporter], kEmails[reporter],
        reporter == 0 ? "    <extra_contact_info>https://support.google.com/a/answer/2466580"
                        "</extra_contact_info>\n"
                      : "",
        rng(), index, begin, begin + 86399, Domain(index), reporter == 1 ? 0 : 1);
  }

  // One <record> of report `index`.
  std::string Record(std::size_t index) {
    static constexpr const char* kDisp[] = {"none", "none", "none", "quarantine", "reject"};
    const std::size_t reporter = index % 6;
    const std::string domain = Domain(index);
    const char* dkim = kRes[Uniform(4)];
    const char* spf = kRes[Uniform(4)];
    std::string xml = fmt::format(
        "  <record>\n    <row>\n      <source_ip>{}</source_ip>\n      <count>{}</count>\n"
        "      <policy_evaluated>\n        <disposition>{}</disposition>\n"
        "        <dkim>{}</dkim>\n        <spf>{}</spf>\n      </policy_evaluated>\n"
        "    </row>\n    <identifiers>\n{}      <header_from>{}</header_from>\n"
        "      <envelope_from>bounce.{}</envelope_from>\n    </identifiers>\n"
        "    <auth_results>\n",
        pool[pick_ip(rng)], 1 + Uniform(Uniform(10) == 0 ? 5000 : 20), kDisp[Uniform(5)], dkim, spf,
        reporter == 1 ? "      <envelope_to>example.com</envelope_to>\n" : "", domain, domain);
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
    return xml;
  }
};

// Writes one report of about `bytes` bytes of XML (records until then) to a plain file and/or a
// gzip file, in chunks: a 1 GB report is never held in memory. Adds to *xml_bytes and *records.
bool WriteHugeReport(Generator& gen, std::uint64_t bytes, const std::string& xml_path,
                     const std::string& gz_path, std::uint64_t* xml_bytes, std::uint64_t* records) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> plain(
      xml_path.empty() ? nullptr : std::fopen(xml_path.c_str(), "wb"), &std::fclose);
  gzFile gz = gz_path.empty() ? nullptr : gzopen(gz_path.c_str(), "wb6");
  if ((!xml_path.empty() && !plain) || (!gz_path.empty() && !gz)) return false;
  bool ok = true;
  auto write = [&](const std::string& chunk) {
    if (plain && std::fwrite(chunk.data(), 1, chunk.size(), plain.get()) != chunk.size()) {
      ok = false;
    }
    if (gz && gzwrite(gz, chunk.data(), static_cast<unsigned>(chunk.size())) <= 0) ok = false;
    *xml_bytes += chunk.size();
  };
  constexpr std::size_t kIndex = 0;  // a Google-style report
  std::string chunk = gen.Head(kIndex);
  std::uint64_t written = 0;
  while (ok && written + chunk.size() < bytes) {
    chunk += gen.Record(kIndex);
    ++*records;
    if (chunk.size() >= (1u << 20)) {
      written += chunk.size();
      write(chunk);
      chunk.clear();
    }
  }
  chunk += Generator::Tail();
  write(chunk);
  if (gz && gzclose(gz) != Z_OK) ok = false;
  if (plain && std::fclose(plain.release()) != 0) ok = false;
  return ok;
}

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
  bool mails = false;
  app.add_flag("--mails", mails, "Write every report as a report mail (for fetch)");
  std::uint64_t huge_bytes = 0;
  std::string huge_xml, huge_gz;
  app.add_option("--huge-bytes", huge_bytes,
                 "Also write one aggregate report of this many bytes of XML (to --huge-xml and/or "
                 "--huge-gz; with --reports 0, only it)");
  app.add_option("--huge-xml", huge_xml, "File for the huge report as plain XML");
  app.add_option("--huge-gz", huge_gz, "File for the huge report gzip-compressed");
  CLI11_PARSE(app, argc, argv);
  if (huge_bytes > 0 && huge_xml.empty() && huge_gz.empty()) {
    fmt::print(stderr, "--huge-bytes needs --huge-xml or --huge-gz\n");
    return 2;
  }

  std::filesystem::create_directories(out);
  Generator gen(seed, pool);
  std::uint64_t xml_bytes = 0, file_bytes = 0, records = 0;
  std::size_t i = 0;
  for (; target ? xml_bytes < target : i < reports; ++i) {
    std::string xml = gen.Report(i);
    xml_bytes += xml.size();
    records += gen.last_records;
    std::string name = fmt::format("{}/report-{:06}", out, i), data;
    switch (mails ? 5 : i % 6) {
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
        data = dmarc::testing::ZipOf({{fmt::format("report-{:06}.xml", i), xml}});
        break;
      default: {
        // A report mail as reporters send it: a text part and the report as a base64
        // attachment, gzip (Google, Yahoo) or zip (Microsoft and many others) in turn.
        const bool zip = (i / 6) % 2 == 1;
        const std::string attachment = fmt::format("report-{:06}.xml.{}", i, zip ? "zip" : "gz");
        const std::string payload =
            zip ? dmarc::testing::ZipOf({{fmt::format("report-{:06}.xml", i), xml}})
                : dmarc::testing::GzipOf(xml);
        name += ".eml";
        data = fmt::format(
            "From: noreply-dmarc@reporter.example\r\nTo: dmarc@example.com\r\n"
            "Subject: Report Domain: example.com Submitter: reporter.example Report-ID: {}\r\n"
            "Date: Tue, 14 Nov 2023 00:00:00 +0000\r\nMessage-ID: <report-{}@reporter.example>\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=\"b{}\"\r\n\r\n--b{}\r\n"
            "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
            "This is an aggregate report from reporter.example.\r\n--b{}\r\n"
            "Content-Type: {}; name=\"{}\"\r\n"
            "Content-Transfer-Encoding: base64\r\n"
            "Content-Disposition: attachment; filename=\"{}\"\r\n\r\n{}--b{}--\r\n",
            i, i, i, i, i, zip ? "application/zip" : "application/gzip", attachment, attachment,
            dmarc::testing::Base64(payload), i);
      }
    }
    file_bytes += data.size();
    std::ofstream file(name, std::ios::binary);
    file << data;
    if (!file.flush()) {
      fmt::print(stderr, "{}: cannot write\n", name);
      return 2;
    }
  }
  std::size_t files = i, report_count = i;
  if (huge_bytes > 0) {
    // A generator of its own: the other reports are the same with or without the huge one.
    Generator huge(seed ^ 0x9e3779b97f4a7c15ull, pool);
    std::uint64_t huge_xml_bytes = 0;
    if (!WriteHugeReport(huge, huge_bytes, huge_xml, huge_gz, &huge_xml_bytes, &records)) {
      fmt::print(stderr, "{}{}: cannot write\n", huge_xml, huge_gz);
      return 2;
    }
    xml_bytes += huge_xml_bytes;  // once, whether written plain, compressed or both
    for (const std::string* path : {&huge_xml, &huge_gz}) {
      if (path->empty()) continue;
      ++files;
      file_bytes += std::filesystem::file_size(*path);
    }
    ++report_count;
  }
  // One line, stable wording: bench/run.sh reads the numbers from it.
  fmt::print(
      "{} files, {} reports, {} records, {} bytes of decompressed XML ({:.1f} MB), {} bytes "
      "on disk\n",
      files, report_count, records, xml_bytes, static_cast<double>(xml_bytes) / 1e6, file_bytes);
  return 0;
}
