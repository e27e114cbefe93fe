#include "metrics/metrics.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

namespace dmarc::metrics {
namespace {

namespace fs = std::filesystem;

struct Checked {
  int status = -1;
  std::string output;
};

// Runs `promtool check metrics` (Debian: prometheus) on the text; fails when it is missing.
Checked Promtool(const std::string& text) {
  Checked r;
  if (!fs::exists("/usr/bin/promtool")) {
    ADD_FAILURE() << "/usr/bin/promtool is missing: install prometheus";
    return r;
  }
  const fs::path file =
      fs::temp_directory_path() / ("dmarc-metrics-" + std::to_string(getpid()) + ".prom");
  std::ofstream(file) << text;
  const std::string cmd = "/usr/bin/promtool check metrics <'" + file.string() + "' 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  for (std::size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) r.output.append(buf, n);
  const int status = pclose(p);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  fs::remove(file);
  return r;
}

TEST(Metrics, RendersTheTextFormat) {
  Registry r;
  Family& c = r.Counter("x_total", "Things seen.\nSecond line \\ here.", {"source", "type"});
  c.Add({"imap dmarc@mail:993/INBOX", "aggregate"}, 3);
  c.Add({"imap dmarc@mail:993/INBOX", "aggregate"});
  c.Add({"a \"quoted\" \\ path\nx", "failure"}, 1);
  c.Add({"only-one-label"}, 5);                           // wrong arity: ignored
  c.Add({"imap dmarc@mail:993/INBOX", "aggregate"}, -2);  // counters never go down
  Family& g = r.Gauge("y_bytes", "Size.");
  g.Set({}, 12345678901.0);
  EXPECT_EQ(r.Render(),
            "# HELP x_total Things seen.\\nSecond line \\\\ here.\n"
            "# TYPE x_total counter\n"
            "x_total{source=\"a \\\"quoted\\\" \\\\ path\\nx\",type=\"failure\"} 1\n"
            "x_total{source=\"imap dmarc@mail:993/INBOX\",type=\"aggregate\"} 4\n"
            "# HELP y_bytes Size.\n"
            "# TYPE y_bytes gauge\n"
            "y_bytes 12345678901\n");
  EXPECT_EQ(c.Get({"imap dmarc@mail:993/INBOX", "aggregate"}), 4);
  EXPECT_EQ(FormatValue(0.5), "0.5");
  EXPECT_EQ(FormatValue(1.0 / 0.0), "+Inf");
}

TEST(Metrics, SeriesPerFamilyAreBounded) {
  Registry r;
  Family& c = r.Counter("z_total", "Z.", {"k"});
  for (std::size_t i = 0; i < Family::kMaxSeries + 50; ++i) c.Add({std::to_string(i)});
  const std::string text = r.Render();
  EXPECT_EQ(static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')),
            Family::kMaxSeries + 2);
}

TEST(Metrics, UpdatesFromManyThreadsAreAllCounted) {
  Registry r;
  Family& c = r.Counter("t_total", "T.", {"k"});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) c.Add({"a"});
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.Get({"a"}), 40000);
}

TEST(Metrics, RenderRunsTheUpdatesFirst) {
  Registry r;
  Family& g = r.Gauge("size_bytes", "S.");
  int calls = 0;
  r.OnRender([&] { g.Set({}, ++calls * 100); });
  EXPECT_NE(r.Render().find("size_bytes 100\n"), std::string::npos);
  EXPECT_NE(r.Render().find("size_bytes 200\n"), std::string::npos);
}

TEST(Metrics, ThePopulatedProgramMetricsPassPromtool) {
  ProgramMetrics& m = Program();
  m.mails_fetched.Add({"imap dmarc@mail.example.com:993/INBOX"}, 12);
  m.mails_fetched.Add({"directory /var/spool/dmarc/inbox"}, 3);
  m.reports.Add({"aggregate"}, 10);
  m.reports.Add({"failure"}, 1);
  m.reports.Add({"smtp_tls"}, 1);
  m.duplicates.Add({"aggregate"}, 2);
  m.rejected.Add({"directory /var/spool/dmarc/inbox"});
  m.fetch_errors.Add({"imap dmarc@mail.example.com:993/INBOX"});
  m.dns_lookups.Add({}, 40);
  m.dns_cache_hits.Add({}, 400);
  m.output_failures.Add({"elasticsearch"});
  m.last_fetch.Set({"imap dmarc@mail.example.com:993/INBOX"}, 1764084034);
  m.store_size.Set({}, 52428800);
  m.purged_reports.Add({}, 7);
  const std::string text = RenderPrometheus();
  for (const char* name :
       {"dmarc_report_mails_fetched_total", "dmarc_report_reports_total",
        "dmarc_report_duplicate_reports_total", "dmarc_report_rejected_inputs_total",
        "dmarc_report_fetch_errors_total", "dmarc_report_dns_lookups_total",
        "dmarc_report_dns_cache_hits_total", "dmarc_report_output_failures_total",
        "dmarc_report_last_successful_fetch_timestamp_seconds", "dmarc_report_store_size_bytes",
        "dmarc_report_purged_reports_total"}) {
    EXPECT_NE(text.find(std::string("# TYPE ") + name + " "), std::string::npos) << name;
  }
  EXPECT_NE(text.find("dmarc_report_reports_total{type=\"aggregate\"} 10\n"), std::string::npos)
      << text;
  const Checked c = Promtool(text);
  EXPECT_EQ(c.status, 0) << c.output << "\n" << text;
}

TEST(Metrics, PromtoolCatchesWhatIsWrong) {
  // The check above could not fail if promtool accepted anything.
  Registry r;
  r.Counter("no_suffix", "A counter without _total.").Add({});
  const Checked c = Promtool(r.Render());
  EXPECT_NE(c.status, 0);
  EXPECT_NE(c.output.find("_total"), std::string::npos) << c.output;
}

}  // namespace
}  // namespace dmarc::metrics
