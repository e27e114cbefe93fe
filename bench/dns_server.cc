// dmarc-bench-dns: the loopback DNS setup of the enrichment benchmark. Starts dnsmasq serving
// PTR records for N distinct addresses behind a proxy that delays every answer, writes two
// aggregate reports whose records come from those addresses (a.xml and b.xml: different report
// ids, the same addresses), prints the proxy's address on standard output and runs until
// SIGTERM/SIGINT. bench/run.sh times `import --nameserver ADDRESS` on the two reports.
#include <fmt/format.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <thread>

#include "testing/dns_servers.h"

namespace {

volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

std::string Address(int i) {
  return fmt::format("10.{}.{}.{}", i / 62500, i / 250 % 250, i % 250 + 1);
}

void WriteReport(const std::string& path, const std::string& id, int n) {
  std::ofstream out(path);
  out << "<?xml version=\"1.0\"?><feedback><report_metadata><org_name>bench.example</org_name>"
         "<email>r@bench.example</email><report_id>"
      << id
      << "</report_id><date_range><begin>1700000000</begin><end>1700086399</end></date_range>"
         "</report_metadata><policy_published><domain>example.com</domain><p>none</p>"
         "</policy_published>";
  for (int i = 0; i < n; ++i) {
    out << "<record><row><source_ip>" << Address(i)
        << "</source_ip><count>1</count><policy_evaluated><disposition>none</disposition>"
           "<dkim>pass</dkim><spf>pass</spf></policy_evaluated></row><identifiers><header_from>"
           "example.com</header_from></identifiers><auth_results><spf><domain>example.com"
           "</domain><result>pass</result></spf></auth_results></record>";
  }
  out << "</feedback>\n";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Loopback DNS for the enrichment benchmark"};
  int addresses = 10000, delay_ms = 50;
  std::string out_dir = ".";
  app.add_option("--addresses", addresses, "Distinct addresses")->capture_default_str();
  app.add_option("--delay-ms", delay_ms, "Delay of every answer")->capture_default_str();
  app.add_option("--out", out_dir, "Where a.xml and b.xml go")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  std::vector<std::string> hosts;
  hosts.reserve(static_cast<std::size_t>(addresses));
  for (int i = 0; i < addresses; ++i) {
    const std::string ip = Address(i);
    std::string name = ip;
    for (char& c : name) c = c == '.' ? '-' : c;
    hosts.push_back(ip + " host-" + name + ".bench.example");
  }
  WriteReport(out_dir + "/a.xml", "bench-a", addresses);
  WriteReport(out_dir + "/b.xml", "bench-b", addresses);
  dmarc::testing::Dnsmasq dns(hosts);
  if (!dns.error().empty()) {
    fmt::print(stderr, "{}\n", dns.error());
    return 1;
  }
  dmarc::testing::DelayProxy proxy(dns.port(), std::chrono::milliseconds(delay_ms));
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  fmt::print("{}\n", proxy.address());
  std::fflush(stdout);
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  fmt::print(stderr, "dmarc-bench-dns: {} queries, at most {} in flight\n", proxy.queries(),
             proxy.max_in_flight());
  return 0;
}
