// Micro-benchmarks of the hot path on one core: aggregate XML → model → parsedmarc JSON, and
// gunzip. Throughput is bytes of XML per second.
#include <benchmark/benchmark.h>

#include <string>

#include "archive/archive.h"
#include "base/text.h"
#include "parse/aggregate.h"
#include "parse/xml_prepare.h"
#include "sinks/parsedmarc_format.h"
#include "testing/compress.h"

namespace {

std::string MakeReport(int records) {
  std::string xml =
      "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<feedback>\n  <version>1.0</version>\n"
      "  <report_metadata>\n    <org_name>google.com</org_name>\n"
      "    <email>noreply-dmarc-support@google.com</email>\n"
      "    <report_id>1234567890123456789</report_id>\n    <date_range>\n"
      "      <begin>1700000000</begin>\n      <end>1700086399</end>\n    </date_range>\n"
      "  </report_metadata>\n  <policy_published>\n    <domain>example.com</domain>\n"
      "    <adkim>r</adkim>\n    <aspf>r</aspf>\n    <p>quarantine</p>\n    <sp>none</sp>\n"
      "    <pct>100</pct>\n  </policy_published>\n";
  for (int i = 0; i < records; ++i) {
    xml += "  <record>\n    <row>\n      <source_ip>203.0." + std::to_string(i / 250 % 250) + "." +
           std::to_string(i % 250 + 1) + "</source_ip>\n      <count>" +
           std::to_string(1 + i % 17) +
           "</count>\n      <policy_evaluated>\n        <disposition>none</disposition>\n"
           "        <dkim>pass</dkim>\n        <spf>fail</spf>\n      </policy_evaluated>\n"
           "    </row>\n    <identifiers>\n      <header_from>example.com</header_from>\n"
           "      <envelope_from>bounce.example.com</envelope_from>\n    </identifiers>\n"
           "    <auth_results>\n      <dkim>\n        <domain>example.com</domain>\n"
           "        <selector>s1</selector>\n        <result>pass</result>\n      </dkim>\n"
           "      <spf>\n        <domain>bounce.example.com</domain>\n"
           "        <scope>mfrom</scope>\n        <result>fail</result>\n      </spf>\n"
           "    </auth_results>\n  </record>\n";
  }
  return xml + "</feedback>\n";
}

void BM_ParseToJson(benchmark::State& state) {
  const std::string xml = MakeReport(static_cast<int>(state.range(0)));
  dmarc::parse::AggregateOptions options;
  std::string out;
  for (auto _ : state) {
    auto report = dmarc::parse::ParseAggregateXml(xml, options);
    out.clear();
    dmarc::sinks::AppendAggregateJson(*report, out, false);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * xml.size()));
}
BENCHMARK(BM_ParseToJson)->Arg(10)->Arg(200)->Arg(2000);

void BM_ParseOnly(benchmark::State& state) {
  const std::string xml = MakeReport(static_cast<int>(state.range(0)));
  dmarc::parse::AggregateOptions options;
  for (auto _ : state) {
    auto report = dmarc::parse::ParseAggregateXml(xml, options);
    benchmark::DoNotOptimize(report.ok());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * xml.size()));
}
BENCHMARK(BM_ParseOnly)->Arg(2000);

// The JSON half alone (bytes are still those of the XML the report came from).
void BM_JsonOnly(benchmark::State& state) {
  const std::string xml = MakeReport(static_cast<int>(state.range(0)));
  auto report = dmarc::parse::ParseAggregateXml(xml, dmarc::parse::AggregateOptions{});
  std::string out;
  for (auto _ : state) {
    out.clear();
    dmarc::sinks::AppendAggregateJson(*report, out, false);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * xml.size()));
}
BENCHMARK(BM_JsonOnly)->Arg(2000);

// The checks every document passes before pugixml sees it.
void BM_CheckStructure(benchmark::State& state) {
  const std::string xml = MakeReport(2000);
  const dmarc::Limits limits;
  for (auto _ : state) {
    auto r = dmarc::parse::CheckStructure(xml, limits);
    benchmark::DoNotOptimize(r.ok());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * xml.size()));
}
BENCHMARK(BM_CheckStructure);

void BM_IsCleanXmlText(benchmark::State& state) {
  const std::string xml = MakeReport(2000);
  for (auto _ : state) benchmark::DoNotOptimize(dmarc::IsCleanXmlText(xml));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * xml.size()));
}
BENCHMARK(BM_IsCleanXmlText);

void BM_Gunzip(benchmark::State& state) {
  const std::string xml = MakeReport(2000);
  const std::string gz = dmarc::testing::GzipOf(xml);
  for (auto _ : state) {
    auto out = dmarc::archive::Gunzip(gz, dmarc::Limits{});
    benchmark::DoNotOptimize(out.ok());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * xml.size()));
}
BENCHMARK(BM_Gunzip);

}  // namespace

BENCHMARK_MAIN();
