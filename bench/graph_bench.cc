// The Microsoft Graph source's throughput (issue #19 target: >= 200 mails/s with 50 ms of latency
// on every HTTP request): N generated aggregate report mails (each with a report ID of its own)
// in the fake Graph of testing/fake_graph.h (which checks every request against Microsoft's
// documented API, $batch included), then the real `dmarc-report fetch` of them into a SQLite
// store, archiving each. Prints mails/s, the HTTP requests made, wall and CPU time. No Microsoft
// service runs here: the latency stands for the round trip to graph.microsoft.com.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "testing/fake_graph.h"

namespace {

namespace fs = std::filesystem;
namespace graph = dmarc::testing::graph;

// An aggregate report mail with a report ID of its own (the XML attached as it is).
std::string ReportMail(int i) {
  const std::string id = "graph-bench-" + std::to_string(i);
  const long begin = 1767225600L + 86400L * (i % 300);
  const std::string xml =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feedback>\n<report_metadata>"
      "<org_name>example.net</org_name><email>noreply-dmarc@example.net</email>"
      "<report_id>" +
      id + "</report_id><date_range><begin>" + std::to_string(begin) + "</begin><end>" +
      std::to_string(begin + 86399) +
      "</end></date_range></report_metadata>\n<policy_published><domain>example.com</domain>"
      "<adkim>r</adkim><aspf>r</aspf><p>none</p><pct>100</pct></policy_published>\n<record><row>"
      "<source_ip>192.0.2." +
      std::to_string(1 + i % 250) +
      "</source_ip><count>3</count><policy_evaluated><disposition>none</disposition>"
      "<dkim>pass</dkim><spf>pass</spf></policy_evaluated></row><identifiers>"
      "<header_from>example.com</header_from></identifiers><auth_results><dkim>"
      "<domain>example.com</domain><result>pass</result></dkim><spf><domain>example.com</domain>"
      "<result>pass</result></spf></auth_results></record>\n</feedback>\n";
  const std::string name =
      "example.net!example.com!" + std::to_string(begin) + "!" + std::to_string(begin + 86399);
  return "From: noreply-dmarc@example.net\r\nTo: dmarc@example.com\r\nSubject: Report Domain: "
         "example.com Submitter: example.net Report-ID: <" +
         id + ">\r\nDate: Thu, 01 Jan 2026 00:00:00 +0000\r\nMessage-ID: <" + id +
         "@example.net>\r\nMIME-Version: 1.0\r\nContent-Type: application/xml; name=\"" + name +
         ".xml\"\r\nContent-Disposition: attachment; filename=\"" + name + ".xml\"\r\n\r\n" + xml;
}

double Seconds(const timeval& t) {
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
}

// Runs `binary args...` with its output to `log`; its exit status and user + system CPU seconds.
std::pair<int, double> Run(const std::string& binary, std::vector<std::string> args,
                           const fs::path& log) {
  args.insert(args.begin(), binary);
  const pid_t pid = fork();
  if (pid == 0) {
    std::FILE* out = std::freopen(log.c_str(), "w", stdout);
    if (out == nullptr || dup2(fileno(stdout), 2) < 0) _exit(127);
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  int status = 0;
  rusage usage{};
  wait4(pid, &status, 0, &usage);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128,
          Seconds(usage.ru_utime) + Seconds(usage.ru_stime)};
}

int Main(int argc, char** argv) {
  CLI::App app{"fetch from a local fake Microsoft Graph with added latency (issue #19)"};
  std::string binary = "build/dmarc-report", work;
  int mails = 2000, latency_ms = 50, batch_requests = 20, batch_size = 50;
  app.add_option("--binary", binary, "the dmarc-report program");
  app.add_option("--work", work, "scratch folder (default: a new one in the temp folder)");
  app.add_option("--mails", mails, "report mails in the folder")->check(CLI::Range(1, 1000000));
  app.add_option("--latency-ms", latency_ms, "added before every HTTP request is answered");
  app.add_option("--batch-requests", batch_requests, "[graph] batch_requests (1: no $batch)");
  app.add_option("--batch-size", batch_size, "[graph] batch_size");
  CLI11_PARSE(app, argc, argv);
  const fs::path dir =
      work.empty() ? fs::temp_directory_path() / ("dmarc-graph-bench-" + std::to_string(getpid()))
                   : fs::path(work);
  fs::create_directories(dir);
  fs::remove(dir / "store.db");
  graph::FakeGraph server(dir);
  if (!server.made()) {
    std::fprintf(stderr, "openssl req: no certificate in %s\n", dir.c_str());
    return 2;
  }
  server.throttle_first_values = 0;
  server.value_delay_ms = 0;
  server.page_size = 1000;
  for (int i = 0; i < mails; ++i) server.Deliver(ReportMail(i));
  server.latency_ms = latency_ms;
  std::ofstream(dir / "client-secret") << graph::kSecret << "\n";
  fs::permissions(dir / "client-secret", fs::perms::owner_read | fs::perms::owner_write);
  std::ofstream(dir / "fetch.toml")
      << "[store]\nurl = \"sqlite:" << (dir / "store.db").string()
      << "\"\n[enrich]\noffline = true\n[graph]\ntenant_id = \"" << graph::kTenant
      << "\"\nclient_id = \"" << graph::kClientId << "\"\nclient_secret_file = \""
      << (dir / "client-secret").string() << "\"\nmailbox = \"" << graph::kUpn
      << "\"\nfolder = \"Inbox/DMARC\"\ngraph_url = \"" << server.Base()
      << "/v1.0\"\nlogin_url = \"" << server.Base() << "/\"\nca_file = \"" << server.Cert()
      << "\"\nbatch_requests = " << batch_requests << "\nbatch_size = " << batch_size << "\n";

  const auto start = std::chrono::steady_clock::now();
  const auto [status, cpu] =
      Run(binary, {"fetch", "--config", (dir / "fetch.toml").string()}, dir / "fetch.log");
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const int archived = server.Count("Archive/Aggregate");
  std::printf(
      "graph: %d mails, latency %d ms, batch_requests %d, batch_size %d: %.0f mails/s, %d HTTP "
      "requests (%d $batch), wall %.2f s, fetch CPU %.2f s\n",
      mails, latency_ms, batch_requests, batch_size, mails / wall, server.HttpRequests(),
      server.Batches(), wall, cpu);
  bool ok = status == 0 && archived == mails;
  for (const auto& p : server.Problems()) {
    std::printf("problem: %s\n", p.c_str());
    ok = false;
  }
  if (!ok) {
    std::printf("FAILED: fetch exited %d, %d of %d archived; see %s\n", status, archived, mails,
                (dir / "fetch.log").c_str());
    return 1;
  }
  if (work.empty()) fs::remove_all(dir);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dmarc-bench-graph: %s\n", e.what());
    return 2;
  }
}
