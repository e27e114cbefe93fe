// dmarc-report: the command table. Only this module reads the command line and wires concrete
// implementations together; each command registers its options and runs from its own file
// (app/cli.h).
#include <malloc.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "app/cli.h"

namespace {

using dmarc::app::Command;

// In the order `--help` lists them.
constexpr Command kCommands[] = {
    {"parse", "Parse report files, archives, mails, mboxes, Maildirs or directories",
     dmarc::app::AddParseOptions, dmarc::app::RunParseCommand},
    {"import", "Parse inputs (as for parse) and store them, skipping duplicates",
     dmarc::app::AddImportOptions, dmarc::app::RunImportCommand},
    {"enrich", "Fill in source fields of stored records never enriched, or older than the TTL",
     dmarc::app::AddEnrichCommandOptions, dmarc::app::RunEnrichCommand},
    {"stats", "Totals over the stored aggregate data", dmarc::app::AddStatsOptions,
     dmarc::app::RunStatsCommand},
    {"export", "Write stored reports as JSON or CSV (the formats of parse)",
     dmarc::app::AddExportOptions, dmarc::app::RunExportCommand},
    {"serve", "Serve the web dashboard and its JSON API (docs/api.md)", dmarc::app::AddServeOptions,
     dmarc::app::RunServeCommand},
    {"report", "Write a self-contained HTML report (overview, sources, domains)",
     dmarc::app::AddReportOptions, dmarc::app::RunReportCommand},
    {"hash-password", "Read a password (on a terminal: twice, not echoed), print a line for serve --users",
     dmarc::app::AddHashPasswordOptions, dmarc::app::RunHashPasswordCommand},
    {"fetch", "Collect reports from the mailboxes and folders of a configuration file",
     dmarc::app::AddFetchOptions, dmarc::app::RunFetchCommand},
    {"check-config", "Check a configuration file: every problem, naming the file and key",
     dmarc::app::AddCheckConfigOptions, dmarc::app::RunCheckConfigCommand},
    {"run", "Run as a service: collect from every configured source as mail arrives",
     dmarc::app::AddRunOptions, dmarc::app::RunServiceCommand},
    {"vacuum", "Purge reports older than the retention, then compact the store",
     dmarc::app::AddVacuumOptions, dmarc::app::RunVacuumCommand},
    {"migrate", "Copy a whole store into another (SQLite to PostgreSQL and back), resumable",
     dmarc::app::AddMigrateOptions, dmarc::app::RunMigrateCommand},
};

int Main(int argc, char** argv) {
  // Reports are parsed in buffers of a few hundred KiB to a few MiB. By default glibc maps each
  // such buffer fresh from the kernel and unmaps it on free, so every report pays page faults for
  // all of its memory again. Keeping buffers up to 32 MiB (glibc's maximum for this setting) in
  // the heap, and not trimming it back below 128 MiB, lets workers reuse them; the heap never
  // grows past the largest working set.
  mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 128 * 1024 * 1024);
  CLI::App app{"dmarc-report: turns DMARC aggregate, failure and SMTP TLS reports into answers"};
  app.set_version_flag("--version", std::string(DMARC_VERSION));
  app.require_subcommand(1);
  std::vector<std::pair<CLI::App*, const Command*>> added;
  for (const Command& c : kCommands) {
    CLI::App* cmd = app.add_subcommand(c.name, c.description);
    c.add_options(*cmd);
    added.emplace_back(cmd, &c);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    // Help and version are successes; every other command-line error is a usage error (2).
    return rc == 0 ? 0 : 2;
  }
  for (const auto& [cmd, c] : added) {
    if (cmd->parsed()) return c->run();
  }
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  // Expected failures are Result values; an exception here is a bug or exhausted memory. Say so
  // instead of aborting without a word.
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dmarc-report: internal error: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "dmarc-report: internal error\n");
  }
  return 2;
}
