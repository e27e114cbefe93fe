// dmarc-report: the command table. Only this module reads the command line and wires concrete
// implementations together; each command registers its options and runs from its own file
// (app/cli.h).
#include <malloc.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "app/cli.h"
#include "base/signals.h"
#include "build_info.h"

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
    {"status", "Ingest status: each source's state and polls, enrichment backlog, rejects",
     dmarc::app::AddStatusOptions, dmarc::app::RunStatusCommand},
    {"senders", "Sender inventory of a domain, and approving or rejecting its senders",
     dmarc::app::AddSendersOptions, dmarc::app::RunSendersCommand},
    {"advise", "Enforcement advice for a domain: readiness, next policy step, what to fix",
     dmarc::app::AddAdviseOptions, dmarc::app::RunAdviseCommand},
    {"export", "Write stored reports as JSON or CSV (the formats of parse)",
     dmarc::app::AddExportOptions, dmarc::app::RunExportCommand},
    {"outputs", "Each output's backlog, last success and last error ([output.NAME])",
     dmarc::app::AddOutputsOptions, dmarc::app::RunOutputsCommand},
    {"serve", "Serve the web dashboard and its JSON API (docs/api.md)", dmarc::app::AddServeOptions,
     dmarc::app::RunServeCommand},
    {"report", "Write a self-contained HTML report (overview, sources, domains)",
     dmarc::app::AddReportOptions, dmarc::app::RunReportCommand},
    {"hash-password",
     "Read a password (on a terminal: twice, not echoed), print a line for serve --users",
     dmarc::app::AddHashPasswordOptions, dmarc::app::RunHashPasswordCommand},
    {"fetch", "Collect reports from the mailboxes and folders of a configuration file",
     dmarc::app::AddFetchOptions, dmarc::app::RunFetchCommand},
    {"login", "Sign in for a source with delegated OAuth2 (device code); keep its refresh token",
     dmarc::app::AddLoginOptions, dmarc::app::RunLoginCommand},
    {"check-config", "Check a configuration file: every problem, naming the file and key",
     dmarc::app::AddCheckConfigOptions, dmarc::app::RunCheckConfigCommand},
    {"run", "Run as a service: collect from every configured source as mail arrives",
     dmarc::app::AddRunOptions, dmarc::app::RunServiceCommand},
    {"vacuum", "Purge reports older than the retention, then compact the store",
     dmarc::app::AddVacuumOptions, dmarc::app::RunVacuumCommand},
    {"migrate", "Copy a whole store into another (SQLite to PostgreSQL and back), resumable",
     dmarc::app::AddMigrateOptions, dmarc::app::RunMigrateCommand},
};

// What --version prints: the version, the commit it was built from, and what is built in.
std::string VersionText() {
  return std::string("dmarc-report ") + DMARC_VERSION + " (commit " + DMARC_COMMIT + ")\n" +
         "stores: SQLite (embedded), PostgreSQL\n"
         "sources: IMAP(S), POP3(S), Maildir, mbox, drop folder, files\n"
         "reports: aggregate (RFC 7489, RFC 9990), failure (ARF, RFC 6591), SMTP TLS (RFC 8460)\n"
         "outputs: JSON and CSV (parsedmarc's fields), HTML report, web dashboard and API, "
         "Prometheus metrics, syslog\n"
         "enrichment: reverse DNS, country and ASN (MaxMind DB), sending services";
}

// Edits (insertions, deletions, substitutions) between two short words.
std::size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1] ? 1 : 0)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// "unknown command" with the closest command's name, when the first word is not an option and
// not a command (CLI11 would only say that a subcommand is required).
bool SaidUnknownCommand(int argc, char** argv) {
  if (argc < 2 || argv[1][0] == '-') return false;
  const std::string_view word = argv[1];
  const Command* closest = nullptr;
  std::size_t best = 3;  // at most two edits away
  std::string names;
  for (const Command& c : kCommands) {
    if (word == c.name) return false;
    names += names.empty() ? c.name : std::string(", ") + c.name;
    if (const std::size_t d = EditDistance(word, c.name); d < best) {
      best = d;
      closest = &c;
    }
  }
  std::fprintf(stderr, "dmarc-report: unknown command \"%.*s\"", static_cast<int>(word.size()),
               word.data());
  if (closest) std::fprintf(stderr, "; did you mean \"%s\"?", closest->name);
  std::fprintf(stderr, "\ncommands: %s (dmarc-report --help)\n", names.c_str());
  return true;
}

int Main(int argc, char** argv) {
  // Reports are parsed in buffers of a few hundred KiB to a few MiB. By default glibc maps each
  // such buffer fresh from the kernel and unmaps it on free, so every report pays page faults for
  // all of its memory again. Keeping buffers up to 32 MiB (glibc's maximum for this setting) in
  // the heap, and not trimming it back below 128 MiB, lets workers reuse them; the heap never
  // grows past the largest working set.
  mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 128 * 1024 * 1024);
  CLI::App app{"dmarc-report: turns DMARC aggregate, failure and SMTP TLS reports into answers"};
  app.set_version_flag("--version", VersionText());
  if (SaidUnknownCommand(argc, argv)) return 2;
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
    if (!cmd->parsed()) continue;
    // Diagnostics go through the logger: warnings and errors on standard error, "LEVEL message";
    // fetch and run replace it with the [log] table's sinks.
    dmarc::app::UseTerminalLogger("dmarc-report", false);
    return c->run();
  }
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  // Before any thread: signals are taken on a thread of their own (base/signals.h).
  dmarc::RouteStopSignalsToOneThread();
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
